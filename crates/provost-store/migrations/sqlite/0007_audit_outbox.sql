-- App-only writes (`Store::app_write`, e.g. a redemption) commit without the store's write lock,
-- so they cannot take a revision: the audit log's revisions are handed out under that lock, in
-- commit order, and nodes follow it by revision. Their audit rows wait here instead, committed
-- in the same transaction as the app's rows, until a holder of the write lock moves them into
-- the audit log at its next revisions (lowest id first). Same columns as `audit`, `id` for
-- `revision`. (SQLite has one writer: an app-only write moves its rows before it commits.)
CREATE TABLE audit_outbox (
    id      INTEGER PRIMARY KEY NOT NULL,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    app     TEXT NOT NULL,
    op      TEXT NOT NULL,
    subject TEXT,
    scope   TEXT,
    change  TEXT NOT NULL,
    before  TEXT
);
