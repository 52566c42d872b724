-- App audit entries share the audit log and its one revision sequence. `app` names the app that
-- wrote the row (NULL for the engine's own changes); `op` is then the app's operation and `change`
-- what it wrote, as JSON. The engine feed skips rows with an app.
ALTER TABLE audit ADD COLUMN app TEXT;
CREATE INDEX audit_by_app ON audit (app, revision);
