-- The legacy app: its migration and rollback runs, and the course authoring flag's values.
-- A run: which way (forward/rollback), what it covered, how it went, who ran it. `scopes` is a
-- JSON array of the scope keys it covers (`*`, `org:X`, course keys), for the one-run-per-scope
-- rule; `owner` (host:pid) and `heartbeat_at` tell a run whose process died from one that runs;
-- `report` keeps the first rows' outcomes (JSON) once it ends.
CREATE TABLE legacy_runs (
    id TEXT COLLATE "C" PRIMARY KEY,
    direction TEXT NOT NULL,
    filter TEXT NOT NULL,
    scopes TEXT NOT NULL,
    source TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    counts TEXT NOT NULL,
    error TEXT,
    report TEXT,
    actor TEXT NOT NULL,
    owner TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX legacy_runs_by_status ON legacy_runs (status);
CREATE INDEX legacy_runs_by_start ON legacy_runs (started_at, id);

-- A flag's value at a scope: `*` (the instance), `org:X` or a course key.
CREATE TABLE legacy_flags (
    name TEXT COLLATE "C" NOT NULL,
    scope TEXT COLLATE "C" NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (name, scope)
);
