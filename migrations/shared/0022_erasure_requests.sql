-- A member's request to be erased (PDPA), made on the member page and open until staff
-- erase the member; at most one open request per member.
CREATE TABLE erasure_requests (
    tenant_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    closed_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX erasure_requests_open ON erasure_requests (tenant_id, member_id)
    WHERE closed_at IS NULL;
