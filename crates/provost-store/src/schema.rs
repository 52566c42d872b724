//! The schema check of a read-only store: it cannot migrate, so every migration must be there.

use sqlx::migrate::Migrator;

use crate::err::StoreError;

/// Passes when `applied` (the successful versions in `_sqlx_migrations`, `None` when there is no
/// such table) holds every migration of `migrator`.
pub(crate) fn require(migrator: &Migrator, applied: Option<Vec<i64>>) -> Result<(), StoreError> {
    let Some(applied) = applied else {
        return Err(StoreError::Schema(
            "the database has no provost schema: start a writable node on it first".into(),
        ));
    };
    match migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .find(|m| !applied.contains(&m.version))
    {
        Some(missing) => Err(StoreError::Schema(format!(
            "the database schema is older than this provost (migration {} `{}` is missing): \
             start a writable node of this version on it first",
            missing.version, missing.description
        ))),
        None => Ok(()),
    }
}
