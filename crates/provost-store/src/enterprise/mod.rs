//! The enterprise app's rows: learners, groups, subsidies and their ledger, catalogs, subsidy access
//! policies, content assignments and learner credit requests. One statement text serves both
//! dialects (`$N` placeholders, integers for times, money and flags).

use sqlx::FromRow;

use crate::err::StoreError;
use crate::tx::Conn;

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// Runs one query on whichever dialect `$conn` is, with `$method` (`execute`, `fetch_optional`...).
macro_rules! run {
    // `execute` answers the rows it touched (the result types differ by dialect).
    ($conn:expr, $query:expr, execute) => {
        match $conn {
            Conn::Sqlite(c) => $query.execute(&mut *c).await?.rows_affected(),
            Conn::Postgres(c) => $query.execute(&mut *c).await?.rows_affected(),
        }
    };
    ($conn:expr, $query:expr, $method:ident) => {
        match $conn {
            Conn::Sqlite(c) => $query.$method(&mut *c).await?,
            Conn::Postgres(c) => $query.$method(&mut *c).await?,
        }
    };
}

mod assignments;
mod groups;
mod ledger;
mod neighbours;
mod policies;
mod requests;

pub use assignments::*;
pub use groups::*;
pub use ledger::*;
pub use neighbours::*;
pub use policies::*;
pub use requests::*;

/// A learner of an enterprise customer (the LMS's enterprise customer user, stood in for here).
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Learner {
    pub enterprise_uuid: String,
    pub lms_user_id: i64,
    pub username: String,
    pub email: String,
}

/// A subsidy (enterprise-subsidy's, stood in for here): its deposit and what its ledger holds.
#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Subsidy {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub title: String,
    pub starting_balance_cents: i64,
    /// The sum of the ledger's created, pending and committed transactions.
    pub spent_cents: i64,
    pub active_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Catalog {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub title: String,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct CatalogItem {
    pub content_key: String,
    pub price_cents: i64,
    pub enroll_by: Option<i64>,
    /// The stand-in LMS refuses enrollment in it (1), to rehearse failed redemptions.
    pub lms_refuses: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Policy {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub policy_type: String,
    pub display_name: String,
    pub description: String,
    pub active: i64,
    pub retired: i64,
    pub catalog_uuid: String,
    pub subsidy_uuid: String,
    pub access_method: String,
    pub spend_limit_cents: Option<i64>,
    pub per_learner_enrollment_limit: Option<i64>,
    pub per_learner_spend_limit_cents: Option<i64>,
    pub spent_cents: i64,
    pub allocated_cents: i64,
    pub created_at: i64,
    /// The enterprise groups it is for (none: all the customer's learners), ascending. Read and
    /// written with the policy by `policy`, `policies`, `insert_policy` and `update_policy`;
    /// empty where a policy is read with other rows in one statement.
    #[sqlx(skip)]
    pub group_uuids: Vec<String>,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Transaction {
    pub uuid: String,
    pub idempotency_key: String,
    pub subsidy_uuid: String,
    pub policy_uuid: String,
    pub lms_user_id: i64,
    pub content_key: String,
    pub amount_cents: i64,
    pub state: String,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Assignment {
    pub uuid: String,
    pub policy_uuid: String,
    pub learner_email: String,
    pub lms_user_id: Option<i64>,
    pub content_key: String,
    pub amount_cents: i64,
    pub state: String,
    pub allocated_at: i64,
    pub expires_at: i64,
    pub state_changed_at: i64,
    pub transaction_uuid: Option<String>,
}

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct CreditRequest {
    pub uuid: String,
    pub enterprise_uuid: String,
    pub policy_uuid: String,
    pub lms_user_id: i64,
    pub username: String,
    pub email: String,
    pub course_id: String,
    pub course_price_cents: i64,
    pub state: String,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<i64>,
    pub decline_reason: Option<String>,
    pub assignment_uuid: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// Something that hands out the same transaction's connection again and again (a `Tx`, a
/// `Reader`), for functions that run several statements.
pub trait ConnSource {
    fn conn(&mut self) -> Conn<'_>;
}

/// A connection lends itself again, for functions that run several statements on it.
impl ConnSource for Conn<'_> {
    fn conn(&mut self) -> Conn<'_> {
        self.reborrow()
    }
}

impl Conn<'_> {
    /// The same connection for a shorter while, leaving this one usable after.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// What hands out connections lends that to the functions it calls.
impl<T: ConnSource> ConnSource for &mut T {
    fn conn(&mut self) -> Conn<'_> {
        (**self).conn()
    }
}

impl ConnSource for &mut crate::tx::Tx<'_> {
    fn conn(&mut self) -> Conn<'_> {
        crate::tx::Tx::conn(self)
    }
}

impl ConnSource for &mut crate::tx::Reader {
    fn conn(&mut self) -> Conn<'_> {
        crate::tx::Reader::conn(self)
    }
}

impl ConnSource for &mut crate::tx::AppTx<'_> {
    fn conn(&mut self) -> Conn<'_> {
        crate::tx::AppTx::conn(self)
    }
}
