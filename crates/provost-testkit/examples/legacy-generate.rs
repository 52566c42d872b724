//! Prints the SQL that fills an empty copy of the platform's role tables with N generated course
//! access rows (`TestMysql::generate` runs the same): `legacy-generate 1000000 | mariadb DB`.

fn main() {
    let rows = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    for statement in provost_testkit::mysql::generator_sql(rows) {
        println!("{statement};");
    }
}
