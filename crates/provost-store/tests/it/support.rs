//! A store on a test database of either backend (the databases come from provost-testkit).

use provost_store::Store;
use provost_testkit::{Backend, TestDatabase};

/// One database for one test, with the store connected to it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: &'static str,
    /// Dropped last: the SQLite file or PostgreSQL database goes with it.
    _db: TestDatabase,
}

impl TestDb {
    /// Another, independent handle on the same database (its own pool), as another process would have.
    pub async fn open(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("reconnect to the test database")
    }

    pub async fn finish(self) {
        self.store.close().await;
    }
}

async fn connected(db: TestDatabase) -> TestDb {
    let store = Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("open the {} test database: {e}", db.backend.as_str()));
    TestDb {
        store,
        url: db.url.clone(),
        backend: db.backend.as_str(),
        _db: db,
    }
}

pub async fn sqlite() -> TestDb {
    connected(TestDatabase::sqlite()).await
}

/// A store on a fresh PostgreSQL database, or `None` when `PROVOST_SKIP_POSTGRES=1`.
pub async fn postgres() -> Option<TestDb> {
    Some(connected(TestDatabase::create(Backend::Postgres).await?).await)
}
