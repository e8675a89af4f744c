-- Member import jobs started over the API, and their per-row error reports.
CREATE TABLE member_imports (
    tenant_id   BIGINT NOT NULL,
    id          BIGINT NOT NULL,
    file_name   TEXT    NOT NULL,
    branch_id   BIGINT,
    status      TEXT    NOT NULL,
    counts      TEXT    NOT NULL DEFAULT '{}',
    error       TEXT,
    bytes       BIGINT NOT NULL,
    created_by  BIGINT,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE member_import_errors (
    tenant_id   BIGINT NOT NULL,
    import_id   BIGINT NOT NULL,
    row_no      BIGINT NOT NULL,
    column_name TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);
CREATE INDEX member_import_errors_job ON member_import_errors (tenant_id, import_id, row_no);
