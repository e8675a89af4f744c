-- The public signup form, its versioned legal texts, and consent records.
CREATE TABLE signup_forms (
    tenant_id  BIGINT NOT NULL PRIMARY KEY REFERENCES tenants(id),
    channels   TEXT    NOT NULL,
    questions  TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each change of the terms or privacy notice is a new version; old ones are kept,
-- because consents point at the version the member saw.
CREATE TABLE legal_texts (
    tenant_id  BIGINT NOT NULL,
    kind       TEXT    NOT NULL,
    version    BIGINT NOT NULL,
    body       TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, version)
);

-- Append-only: the current state of a purpose is its latest record.
CREATE TABLE consents (
    tenant_id BIGINT NOT NULL,
    id        BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    purpose   TEXT    NOT NULL,
    granted   BOOLEAN NOT NULL,
    version   BIGINT,
    channel   TEXT    NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX consents_member ON consents (tenant_id, member_id, purpose, id);
