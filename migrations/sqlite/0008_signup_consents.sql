-- The public signup form, its versioned legal texts, and consent records.
CREATE TABLE signup_forms (
    tenant_id  INTEGER NOT NULL PRIMARY KEY REFERENCES tenants(id),
    channels   TEXT    NOT NULL,
    questions  TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Each change of the terms or privacy notice is a new version; old ones are kept,
-- because consents point at the version the member saw.
CREATE TABLE legal_texts (
    tenant_id  INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, version)
);

-- Append-only: the current state of a purpose is its latest record.
CREATE TABLE consents (
    tenant_id INTEGER NOT NULL,
    id        INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    purpose   TEXT    NOT NULL,
    granted   BOOLEAN NOT NULL,
    version   INTEGER,
    channel   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX consents_member ON consents (tenant_id, member_id, purpose, id);
