-- Tiers, the rewards catalog, redemptions with one-time codes, and lucky draws.

-- Per-tenant documents that are read whole (tier program, redemption settings).
CREATE TABLE tenant_docs (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    name       TEXT    NOT NULL,
    doc        TEXT    NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A member's tier. Members without a row hold the base level. `review_at` is when the
-- level is next reviewed (cycle end); NULL means never.
CREATE TABLE member_tiers (
    tenant_id  BIGINT NOT NULL,
    member_id  BIGINT NOT NULL,
    level      TEXT    NOT NULL,
    since      BIGINT NOT NULL,
    review_at  BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id)
);
CREATE INDEX member_tiers_review ON member_tiers (review_at);

CREATE TABLE tier_history (
    tenant_id    BIGINT NOT NULL,
    id           BIGINT NOT NULL,
    member_id    BIGINT NOT NULL,
    from_level   TEXT    NOT NULL,
    to_level     TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    metric_value BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tier_history_member ON tier_history (tenant_id, member_id, id);

-- The catalog. `spec` is the reward as the admin wrote it (JSON); `stock` is what is
-- left (NULL = unlimited) and is decremented in the redemption's transaction.
CREATE TABLE rewards (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    id         BIGINT NOT NULL,
    spec       TEXT    NOT NULL,
    stock      BIGINT,
    redeemed   BIGINT NOT NULL DEFAULT 0,
    archived   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Uploaded or generated digital codes; a code is taken by setting redemption_id.
CREATE TABLE reward_codes (
    tenant_id     BIGINT NOT NULL,
    id            BIGINT NOT NULL,
    reward_id     BIGINT NOT NULL,
    code          TEXT    NOT NULL,
    redemption_id BIGINT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, reward_id, code)
);
CREATE INDEX reward_codes_free ON reward_codes (tenant_id, reward_id) WHERE redemption_id IS NULL;

CREATE TABLE redemptions (
    tenant_id      BIGINT NOT NULL,
    id             BIGINT NOT NULL,
    member_id      BIGINT NOT NULL,
    reward_id      BIGINT NOT NULL,
    kind           TEXT    NOT NULL,
    points         BIGINT NOT NULL,
    txn_id         BIGINT NOT NULL,
    status         TEXT    NOT NULL,
    coupon_code    TEXT,
    digital_code   TEXT,
    value_satang   BIGINT,
    expires_at     BIGINT,
    used_at        BIGINT,
    used_branch_id BIGINT,
    used_by        TEXT,
    shipping       TEXT,
    carrier        TEXT,
    tracking       TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, coupon_code)
);
CREATE INDEX redemptions_member ON redemptions (tenant_id, member_id, reward_id, created_at);
CREATE INDEX redemptions_status ON redemptions (tenant_id, status, id);
CREATE INDEX redemptions_txn ON redemptions (tenant_id, txn_id);
CREATE INDEX redemptions_expiring ON redemptions (expires_at) WHERE status = 'issued';

-- One-time codes sent to a member's phone. Only a salted hash of the code is kept.
CREATE TABLE otp_challenges (
    tenant_id  BIGINT NOT NULL,
    id         BIGINT NOT NULL,
    member_id  BIGINT NOT NULL,
    code_hash  TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Messages the log SMS sender "sent" (the developer mailbox); empty with a real gateway.
CREATE TABLE sms_outbox (
    tenant_id  BIGINT NOT NULL,
    id         BIGINT NOT NULL,
    phone      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Lucky draws: the seed stays secret (only its hash is shown) until the draw.
CREATE TABLE draws (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    id         BIGINT NOT NULL,
    spec       TEXT    NOT NULL,
    seed       TEXT    NOT NULL,
    seed_hash  TEXT    NOT NULL,
    winners    TEXT,
    drawn_at   BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE draw_entries (
    tenant_id  BIGINT NOT NULL,
    id         BIGINT NOT NULL,
    draw_id    BIGINT NOT NULL,
    member_id  BIGINT NOT NULL,
    txn_id     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX draw_entries_draw ON draw_entries (tenant_id, draw_id, member_id);
