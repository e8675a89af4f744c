-- Member import jobs started over the API, and their per-row error reports.
CREATE TABLE member_imports (
    tenant_id   INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    file_name   TEXT    NOT NULL,
    branch_id   INTEGER,
    status      TEXT    NOT NULL,
    counts      TEXT    NOT NULL DEFAULT '{}',
    error       TEXT,
    bytes       INTEGER NOT NULL,
    created_by  INTEGER,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE member_import_errors (
    tenant_id   INTEGER NOT NULL,
    import_id   INTEGER NOT NULL,
    row_no      INTEGER NOT NULL,
    column_name TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);
CREATE INDEX member_import_errors_job ON member_import_errors (tenant_id, import_id, row_no);
