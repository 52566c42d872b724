-- The batches app: Sunbird course batches. Who runs, mentors and attends a batch is not here:
-- those are role assignments at `batch:<id>` (batch_admin, batch_mentor, batch_participant).
-- Dates are `yyyy-MM-dd` text, so they compare as they sort; a day ends at 23:59:59 in the
-- server's batch time zone, which the app applies (status is computed, never stored).
CREATE TABLE batches (
    id                  TEXT PRIMARY KEY NOT NULL,
    course_id           TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    enrollment_type     TEXT NOT NULL, -- `open` or `invite-only`
    start_date          TEXT NOT NULL,
    end_date            TEXT,
    enrollment_end_date TEXT,
    created_for         TEXT NOT NULL, -- JSON array of org ids
    created_by          TEXT NOT NULL,
    created_date        TEXT NOT NULL, -- RFC 3339, UTC
    updated_date        TEXT
);
CREATE INDEX batches_by_course ON batches (course_id, id);
