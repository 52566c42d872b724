-- The programs app (Registrar's programs): program types, programs, enrollments. PostgreSQL dialect.

-- Program types are data: operators add `microbachelors` or `xseries` with an INSERT.
-- `enrollments` says whether the program's enrollment endpoints are open (Masters only, seeded).
CREATE TABLE program_types (
    name        TEXT COLLATE "C" PRIMARY KEY,
    title       TEXT NOT NULL,
    enrollments BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO program_types (name, title, enrollments) VALUES
    ('masters', 'Masters', TRUE),
    ('micromasters', 'MicroMasters', FALSE),
    ('professional_certificate', 'Professional Certificate', FALSE);

CREATE TABLE programs (
    key        TEXT COLLATE "C" PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE, -- hyphenated, lowercase
    title      TEXT NOT NULL,
    type       TEXT COLLATE "C" NOT NULL REFERENCES program_types (name),
    orgs       TEXT NOT NULL, -- JSON array of org keys, the first the managing org
    curriculum TEXT NOT NULL  -- JSON array of course run keys
);

-- The orgs of each program again, one row each, so that listings filter by org with an index.
CREATE TABLE program_orgs (
    org     TEXT COLLATE "C" NOT NULL,
    program TEXT COLLATE "C" NOT NULL REFERENCES programs (key),
    PRIMARY KEY (org, program)
);
CREATE INDEX program_orgs_by_program ON program_orgs (program, org);

CREATE TABLE program_enrollments (
    program     TEXT COLLATE "C" NOT NULL REFERENCES programs (key),
    student_key TEXT COLLATE "C" NOT NULL,
    status      TEXT NOT NULL,
    PRIMARY KEY (program, student_key)
);

CREATE TABLE program_course_enrollments (
    program     TEXT COLLATE "C" NOT NULL REFERENCES programs (key),
    course_key  TEXT COLLATE "C" NOT NULL,
    student_key TEXT COLLATE "C" NOT NULL,
    status      TEXT NOT NULL,
    PRIMARY KEY (program, course_key, student_key)
);
