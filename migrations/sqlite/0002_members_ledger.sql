-- Members (the part the ledger needs) and the points ledger.

CREATE TABLE members (
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    id             INTEGER NOT NULL,
    phone          TEXT    NOT NULL,
    first_name     TEXT    NOT NULL DEFAULT '',
    last_name      TEXT    NOT NULL DEFAULT '',
    email          TEXT,
    status         TEXT    NOT NULL DEFAULT 'active',
    join_branch_id INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, phone)
);

-- Per-tenant earning and expiry rules; absent row = defaults.
CREATE TABLE ledger_settings (
    tenant_id         INTEGER NOT NULL PRIMARY KEY REFERENCES tenants(id),
    earn_spend_satang INTEGER NOT NULL,
    earn_points       INTEGER NOT NULL,
    earn_rounding     TEXT    NOT NULL,
    min_spend_satang  INTEGER NOT NULL,
    expiry_mode       TEXT    NOT NULL,
    expiry_months     INTEGER NOT NULL,
    expiry_round_up   TEXT    NOT NULL,
    pending_days      INTEGER NOT NULL,
    refund_policy     TEXT    NOT NULL,
    welcome_points    INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- One row per movement (earn, redeem, expiry, ...). `amount` is the change to the
-- member's balance actually applied. `idem_key` makes every write idempotent.
CREATE TABLE ledger_txns (
    tenant_id    INTEGER NOT NULL,
    id           INTEGER NOT NULL,
    member_id    INTEGER NOT NULL,
    currency     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    amount       INTEGER NOT NULL,
    uncollected  INTEGER NOT NULL DEFAULT 0,
    idem_key     TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    receipt      TEXT,
    branch_id    INTEGER,
    bill_satang  INTEGER,
    reverses_id  INTEGER,
    lot_id       INTEGER,
    reason       TEXT,
    actor_kind   TEXT    NOT NULL,
    actor_id     INTEGER,
    occurred_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    details      TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idem_key)
);
CREATE INDEX ledger_txns_member ON ledger_txns (tenant_id, member_id, id);
CREATE INDEX ledger_txns_reverses ON ledger_txns (tenant_id, reverses_id);

-- Double entry: every transaction's entries sum to zero per currency. Accounts are
-- `member` (with member_id) and the system accounts earned, bonus, opening,
-- adjustment, redeemed, expired.
CREATE TABLE ledger_entries (
    tenant_id  INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    txn_id     INTEGER NOT NULL,
    account    TEXT    NOT NULL,
    member_id  INTEGER,
    currency   TEXT    NOT NULL,
    amount     INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ledger_entries_txn ON ledger_entries (tenant_id, txn_id);
CREATE INDEX ledger_entries_account ON ledger_entries (tenant_id, account, currency, at);

-- Credits are lots; debits are allocations against lots.
CREATE TABLE lots (
    tenant_id     INTEGER NOT NULL,
    id            INTEGER NOT NULL,
    member_id     INTEGER NOT NULL,
    currency      TEXT    NOT NULL,
    txn_id        INTEGER NOT NULL,
    original      INTEGER NOT NULL,
    remaining     INTEGER NOT NULL,
    earned_at     INTEGER NOT NULL,
    pending_until INTEGER NOT NULL,
    expires_at    INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX lots_member_open ON lots (tenant_id, member_id, currency) WHERE remaining > 0;
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE allocations (
    tenant_id INTEGER NOT NULL,
    txn_id    INTEGER NOT NULL,
    lot_id    INTEGER NOT NULL,
    amount    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, txn_id, lot_id)
);
CREATE INDEX allocations_lot ON allocations (tenant_id, lot_id);

-- The balance projection, rebuilt from entries by `loyal verify`. `debt` is what
-- refunds took beyond the member's lots (balance = open lots - debt).
CREATE TABLE balances (
    tenant_id  INTEGER NOT NULL,
    member_id  INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    balance    INTEGER NOT NULL,
    debt       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, member_id, currency)
);
