-- Enterprise groups: the LMS's groups of a customer's learners (stood in for here, loaded by
-- `PUT /api/v1/enterprise-customers/{uuid}/groups`), and the groups a subsidy access policy is
-- for (enterprise-access's PolicyGroupAssociation). A policy with groups pays only for learners
-- in one of them.

CREATE TABLE enterprise_groups (
    uuid TEXT PRIMARY KEY,
    enterprise_uuid TEXT NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE enterprise_group_members (
    group_uuid TEXT NOT NULL REFERENCES enterprise_groups (uuid) ON DELETE CASCADE,
    lms_user_id BIGINT NOT NULL,
    PRIMARY KEY (group_uuid, lms_user_id)
);
CREATE INDEX enterprise_group_members_by_learner ON enterprise_group_members (lms_user_id);

CREATE TABLE enterprise_policy_groups (
    policy_uuid TEXT NOT NULL REFERENCES enterprise_policies (uuid),
    group_uuid TEXT NOT NULL REFERENCES enterprise_groups (uuid),
    PRIMARY KEY (policy_uuid, group_uuid)
);
