//! `sqlx::migrate!` embeds the migration files at compile time, but cargo does not know they are
//! inputs: without this, a new or edited migration is left out until some Rust source changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
