-- Provost's schema, PostgreSQL dialect. Keys use the "C" collation so that they sort bytewise,
-- like Rust strings, whatever the database's locale: keyset pagination depends on it.

-- app prefix -> scope kind of its permissions
CREATE TABLE apps (
    app  TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    pos  BIGINT NOT NULL -- revision that created the row: keeps the policy's order
);

CREATE TABLE permissions (
    name TEXT COLLATE "C" PRIMARY KEY,
    def  JSONB NOT NULL,
    pos  BIGINT NOT NULL
);

CREATE TABLE roles (
    name TEXT COLLATE "C" PRIMARY KEY,
    def  JSONB NOT NULL,
    pos  BIGINT NOT NULL
);

CREATE TABLE users (
    username  TEXT COLLATE "C" PRIMARY KEY,
    email     TEXT,
    staff     BOOLEAN NOT NULL DEFAULT FALSE,
    superuser BOOLEAN NOT NULL DEFAULT FALSE
);

-- programs and batches, whose parents cannot be read from their keys
CREATE TABLE scopes (
    scope   TEXT COLLATE "C" PRIMARY KEY,
    parents JSONB NOT NULL,
    pos     BIGINT NOT NULL
);

CREATE TABLE assignments (
    subject     TEXT COLLATE "C" NOT NULL,
    role        TEXT COLLATE "C" NOT NULL REFERENCES roles (name),
    scope       TEXT COLLATE "C" NOT NULL,
    valid_from  BIGINT, -- unix seconds, inclusive
    valid_until BIGINT, -- unix seconds, exclusive
    PRIMARY KEY (subject, role, scope)
);
CREATE INDEX assignments_by_role ON assignments (role, subject, scope);
CREATE INDEX assignments_by_scope ON assignments (scope, subject, role);

-- the audit log, which is also the change feed: one row per revision, gap-free
CREATE TABLE audit (
    revision BIGINT PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL,
    actor    TEXT NOT NULL,
    op       TEXT NOT NULL,
    subject  TEXT COLLATE "C",
    scope    TEXT COLLATE "C",
    change   JSONB NOT NULL,
    before   JSONB
);
CREATE INDEX audit_by_subject ON audit (subject, revision);
CREATE INDEX audit_by_scope ON audit (scope, revision);
