//! Stand-ins for enterprise-access's neighbours (the LMS's customer learners and groups, enterprise-subsidy,
//! enterprise-catalog): one trait per neighbour, read by the rules, and `StandIn`, which keeps
//! them in Provost's own tables and loads them through the import endpoints. A real client
//! implements the same trait later.

use provost_store::enterprise::{self as rows, Catalog, CatalogItem, Group, Learner, Subsidy};
use provost_store::BoxFuture;
use provost_store::{Conn, StoreError};

type Found<'a, T> = BoxFuture<'a, Result<Option<T>, StoreError>>;

/// The LMS's enterprise customer users: who belongs to a customer.
pub trait Learners: Sync {
    fn by_id<'a>(&'a self, c: Conn<'a>, customer: &'a str, lms_user_id: i64) -> Found<'a, Learner>;
    fn by_username<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        name: &'a str,
    ) -> Found<'a, Learner>;
    fn by_email<'a>(&'a self, c: Conn<'a>, customer: &'a str, email: &'a str)
        -> Found<'a, Learner>;
}

/// The LMS's enterprise groups: subsets of a customer's learners a policy can be for.
pub trait Groups: Sync {
    fn group<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Group>;
    /// The groups of `customer` the learner is in (the LMS's learner record lists them).
    fn groups_of<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        lms_user_id: i64,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
}

/// enterprise-subsidy: a subsidy's deposit, window and balance.
pub trait Subsidies: Sync {
    fn subsidy<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Subsidy>;
}

/// enterprise-catalog: what a catalog holds, at which price, until when.
pub trait Catalogs: Sync {
    fn catalog<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Catalog>;
    fn content<'a>(&'a self, c: Conn<'a>, catalog: &'a str, key: &'a str)
        -> Found<'a, CatalogItem>;
}

/// The LMS: enrolls a learner in content (`item`, as the catalog lists it) once a redemption
/// reserved its price. `Err(why)` is a refusal: the redemption fails. It is called with no
/// database transaction open, and must be idempotent by `transaction` (the ledger entry's
/// uuid): a second call for the same transaction enrolls nobody again and answers whether the
/// learner is enrolled for it, which is how the sweep settles a redemption whose writer died
/// between the LMS call and recording its outcome (`redeem::settle_stale`).
pub trait Lms: Sync {
    fn enroll<'a>(
        &'a self,
        item: &'a CatalogItem,
        lms_user_id: i64,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<Result<(), String>, StoreError>>;
}

/// What a redemption asks every neighbour at once: the learner `lms_user_id` at `customer`, the
/// subsidy, and `content_key` as the catalog lists it. The stand-ins answer in one query; a
/// client of the real services would ask them side by side.
pub trait RedeemFacts: Sync {
    fn redeem_facts<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        lms_user_id: i64,
        subsidy: &'a str,
        catalog: &'a str,
        content_key: &'a str,
    ) -> BoxFuture<'a, Result<NeighbourFacts, StoreError>>;
}

/// The neighbours' answers to `RedeemFacts::redeem_facts`: each None when it does not know the thing.
pub type NeighbourFacts = (Option<Learner>, Option<Subsidy>, Option<CatalogItem>);

/// The neighbours kept in Provost's tables (`provost_store::enterprise`).
pub struct StandIn;

/// The neighbours the rules talk to.
pub static NEIGHBOURS: StandIn = StandIn;

impl Learners for StandIn {
    fn by_id<'a>(&'a self, c: Conn<'a>, customer: &'a str, id: i64) -> Found<'a, Learner> {
        Box::pin(rows::learner_by_id(c, customer, id))
    }
    fn by_username<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        name: &'a str,
    ) -> Found<'a, Learner> {
        Box::pin(rows::learner_by_username(c, customer, name))
    }
    fn by_email<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        email: &'a str,
    ) -> Found<'a, Learner> {
        Box::pin(rows::learner_by_email(c, customer, email))
    }
}

impl Groups for StandIn {
    fn group<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Group> {
        Box::pin(rows::group(c, uuid))
    }
    fn groups_of<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        lms_user_id: i64,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(rows::learner_groups(c, customer, lms_user_id))
    }
}

impl Subsidies for StandIn {
    fn subsidy<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Subsidy> {
        Box::pin(rows::subsidy(c, uuid))
    }
}

impl Catalogs for StandIn {
    fn catalog<'a>(&'a self, c: Conn<'a>, uuid: &'a str) -> Found<'a, Catalog> {
        Box::pin(rows::catalog(c, uuid))
    }
    fn content<'a>(
        &'a self,
        c: Conn<'a>,
        catalog: &'a str,
        key: &'a str,
    ) -> Found<'a, CatalogItem> {
        Box::pin(rows::catalog_item(c, catalog, key))
    }
}

impl RedeemFacts for StandIn {
    fn redeem_facts<'a>(
        &'a self,
        c: Conn<'a>,
        customer: &'a str,
        lms_user_id: i64,
        subsidy: &'a str,
        catalog: &'a str,
        content_key: &'a str,
    ) -> BoxFuture<'a, Result<NeighbourFacts, StoreError>> {
        Box::pin(rows::redeem_facts(
            c,
            customer,
            lms_user_id,
            subsidy,
            catalog,
            content_key,
        ))
    }
}

/// The stand-in enrolls at once, except in content its catalog entry marks as refused
/// (`lms_refuses_enrollment`), so failed redemptions can be rehearsed. Its answer depends on
/// the content alone, so asking again for the same transaction answers the same: idempotent.
impl Lms for StandIn {
    fn enroll<'a>(
        &'a self,
        item: &'a CatalogItem,
        _lms_user_id: i64,
        _transaction: &'a str,
    ) -> BoxFuture<'a, Result<Result<(), String>, StoreError>> {
        Box::pin(async move {
            Ok(if item.lms_refuses == 0 {
                Ok(())
            } else {
                Err(format!(
                    "the LMS refused to enroll in `{}`",
                    item.content_key
                ))
            })
        })
    }
}
