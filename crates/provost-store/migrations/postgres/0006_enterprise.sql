-- The enterprise app: stand-ins for enterprise-access's neighbours (learners, subsidies with
-- their ledger, catalogs) and its own rows (subsidy access policies, content assignments,
-- learner credit requests). Times are Unix seconds, money is USD cents, flags are 0/1.
-- The CHECKs are the last line against overspending: a write that would pass a limit fails.

CREATE TABLE enterprise_learners (
    enterprise_uuid TEXT NOT NULL,
    lms_user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (enterprise_uuid, lms_user_id)
);
CREATE INDEX enterprise_learners_by_username ON enterprise_learners (username);

CREATE TABLE enterprise_subsidies (
    uuid TEXT PRIMARY KEY,
    enterprise_uuid TEXT NOT NULL,
    title TEXT NOT NULL,
    starting_balance_cents BIGINT NOT NULL CHECK (starting_balance_cents >= 0),
    spent_cents BIGINT NOT NULL DEFAULT 0,
    active_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CHECK (spent_cents >= 0 AND spent_cents <= starting_balance_cents)
);

CREATE TABLE enterprise_catalogs (
    uuid TEXT PRIMARY KEY,
    enterprise_uuid TEXT NOT NULL,
    title TEXT NOT NULL
);

CREATE TABLE enterprise_catalog_content (
    catalog_uuid TEXT NOT NULL REFERENCES enterprise_catalogs (uuid) ON DELETE CASCADE,
    content_key TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    enroll_by BIGINT,
    -- The stand-in LMS refuses to enroll learners in it (1): how failed redemptions are rehearsed.
    lms_refuses BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (catalog_uuid, content_key)
);

CREATE TABLE enterprise_policies (
    uuid TEXT PRIMARY KEY,
    enterprise_uuid TEXT NOT NULL,
    policy_type TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    active BIGINT NOT NULL,
    retired BIGINT NOT NULL DEFAULT 0,
    catalog_uuid TEXT NOT NULL REFERENCES enterprise_catalogs (uuid),
    subsidy_uuid TEXT NOT NULL REFERENCES enterprise_subsidies (uuid),
    access_method TEXT NOT NULL,
    spend_limit_cents BIGINT,
    per_learner_enrollment_limit BIGINT,
    per_learner_spend_limit_cents BIGINT,
    spent_cents BIGINT NOT NULL DEFAULT 0,
    allocated_cents BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CHECK (spent_cents >= 0 AND allocated_cents >= 0),
    CHECK (spend_limit_cents IS NULL OR spent_cents + allocated_cents <= spend_limit_cents)
);
CREATE INDEX enterprise_policies_by_customer ON enterprise_policies (enterprise_uuid);

-- What each learner has spent and how often they enrolled through a policy.
CREATE TABLE enterprise_policy_learners (
    policy_uuid TEXT NOT NULL REFERENCES enterprise_policies (uuid),
    lms_user_id BIGINT NOT NULL,
    spent_cents BIGINT NOT NULL,
    enrollments BIGINT NOT NULL,
    PRIMARY KEY (policy_uuid, lms_user_id),
    CHECK (spent_cents >= 0 AND enrollments >= 0)
);

-- The subsidy's ledger: created -> pending -> committed | failed; committed -> reversed.
CREATE TABLE enterprise_transactions (
    uuid TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    subsidy_uuid TEXT NOT NULL REFERENCES enterprise_subsidies (uuid),
    policy_uuid TEXT NOT NULL REFERENCES enterprise_policies (uuid),
    lms_user_id BIGINT NOT NULL,
    content_key TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    state TEXT NOT NULL,
    metadata TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX enterprise_transactions_by_learner
    ON enterprise_transactions (policy_uuid, lms_user_id, content_key);

CREATE TABLE enterprise_assignments (
    uuid TEXT PRIMARY KEY,
    policy_uuid TEXT NOT NULL REFERENCES enterprise_policies (uuid),
    learner_email TEXT NOT NULL,
    lms_user_id BIGINT,
    content_key TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    state TEXT NOT NULL,
    allocated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    transaction_uuid TEXT,
    UNIQUE (policy_uuid, learner_email, content_key)
);
CREATE INDEX enterprise_assignments_by_state ON enterprise_assignments (state, expires_at);

CREATE TABLE enterprise_credit_requests (
    uuid TEXT PRIMARY KEY,
    enterprise_uuid TEXT NOT NULL,
    policy_uuid TEXT NOT NULL REFERENCES enterprise_policies (uuid),
    lms_user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    course_id TEXT NOT NULL,
    course_price_cents BIGINT NOT NULL,
    state TEXT NOT NULL,
    reviewer TEXT,
    reviewed_at BIGINT,
    decline_reason TEXT,
    assignment_uuid TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX enterprise_credit_requests_by_learner
    ON enterprise_credit_requests (enterprise_uuid, lms_user_id, course_id);
