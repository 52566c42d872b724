-- Provost's schema, SQLite dialect. Keys compare bytewise (BINARY), like Rust strings.

-- app prefix -> scope kind of its permissions
CREATE TABLE apps (
    app  TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    pos  INTEGER NOT NULL -- revision that created the row: keeps the policy's order
);

CREATE TABLE permissions (
    name TEXT PRIMARY KEY NOT NULL,
    def  TEXT NOT NULL, -- PermissionDef as JSON
    pos  INTEGER NOT NULL
);

CREATE TABLE roles (
    name TEXT PRIMARY KEY NOT NULL,
    def  TEXT NOT NULL, -- RoleDef as JSON
    pos  INTEGER NOT NULL
);

CREATE TABLE users (
    username  TEXT PRIMARY KEY NOT NULL,
    email     TEXT,
    staff     INTEGER NOT NULL DEFAULT 0,
    superuser INTEGER NOT NULL DEFAULT 0
);

-- programs and batches, whose parents cannot be read from their keys
CREATE TABLE scopes (
    scope   TEXT PRIMARY KEY NOT NULL,
    parents TEXT NOT NULL, -- JSON array of scope keys
    pos     INTEGER NOT NULL
);

CREATE TABLE assignments (
    subject     TEXT NOT NULL,
    role        TEXT NOT NULL REFERENCES roles (name),
    scope       TEXT NOT NULL,
    valid_from  INTEGER, -- unix seconds, inclusive
    valid_until INTEGER, -- unix seconds, exclusive
    PRIMARY KEY (subject, role, scope)
);
CREATE INDEX assignments_by_role ON assignments (role, subject, scope);
CREATE INDEX assignments_by_scope ON assignments (scope, subject, role);

-- the audit log, which is also the change feed: one row per revision, gap-free
CREATE TABLE audit (
    revision INTEGER PRIMARY KEY NOT NULL,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    op       TEXT NOT NULL,
    subject  TEXT,
    scope    TEXT,
    change   TEXT NOT NULL, -- the Change as JSON
    before   TEXT           -- what it replaced or removed, as JSON
);
CREATE INDEX audit_by_subject ON audit (subject, revision);
CREATE INDEX audit_by_scope ON audit (scope, revision);
