-- App-only writes (`Store::app_write`, e.g. a redemption) commit without the store's write lock,
-- so they cannot take a revision: the audit log's revisions are handed out under that lock, in
-- commit order, and nodes follow it by revision. Their audit rows wait here instead, committed
-- in the same transaction as the app's rows, until a holder of the write lock moves them into
-- the audit log at its next revisions (lowest id first). Same columns as `audit`, `id` for
-- `revision`.
CREATE TABLE audit_outbox (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    app     TEXT COLLATE "C" NOT NULL,
    op      TEXT NOT NULL,
    subject TEXT COLLATE "C",
    scope   TEXT COLLATE "C",
    change  JSONB NOT NULL,
    before  JSONB
);
