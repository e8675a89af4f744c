-- Each process writing to the database holds one id node (ids::next_id's node part)
-- by a lease it renews; a node whose lease ran out may be taken by another process.
-- Not per shop: a process's ids serve every shop it writes for.
CREATE TABLE id_nodes (
    node BIGINT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL
);
