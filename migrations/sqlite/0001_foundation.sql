-- Foundation: tenants, branches, staff, invitations, sessions, API keys, audit, idempotency.
-- Time columns are microseconds since the Unix epoch (UTC). Every table leads with tenant_id.

CREATE TABLE tenants (
    id          INTEGER NOT NULL PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    language    TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE branches (
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    id          INTEGER NOT NULL,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    address     TEXT    NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE staff (
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    id            INTEGER NOT NULL,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE staff_branches (
    tenant_id   INTEGER NOT NULL,
    staff_id    INTEGER NOT NULL,
    branch_id   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, staff_id, branch_id),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff(tenant_id, id),
    FOREIGN KEY (tenant_id, branch_id) REFERENCES branches(tenant_id, id)
);

CREATE TABLE invitations (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    id           INTEGER NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    email        TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    branch_ids   TEXT    NOT NULL DEFAULT '[]',
    invited_by   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    accepted_at  INTEGER,
    staff_id     INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    staff_id     INTEGER NOT NULL,
    csrf_token   TEXT    NOT NULL,
    ip           TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_staff ON sessions (tenant_id, staff_id);

CREATE TABLE api_keys (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    id           INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_by   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);

CREATE TABLE audit_log (
    tenant_id    INTEGER NOT NULL,
    id           INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_id     INTEGER,
    actor_label  TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target_kind  TEXT    NOT NULL,
    target_id    INTEGER,
    details      TEXT    NOT NULL DEFAULT '{}',
    ip           TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_request ON audit_log (tenant_id, request_id);

CREATE TABLE idempotency_keys (
    tenant_id     INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    status_code   INTEGER,
    response_type TEXT,
    response_body BLOB,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
