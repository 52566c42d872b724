//! A fresh MariaDB/MySQL database per test with the Open edX platform's role tables (the real DDL,
//! `fixtures/openedx-legacy-roles.sql`), a loader for their rows, and readers for what a test
//! checks there.
//!
//! The server is `PROVOST_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/mysql`);
//! `scripts/ensure-mariadb.sh` (run by `scripts/test.sh`) starts it. An unreachable server fails
//! the test: it is never skipped.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::mysql::MySqlConnection;
use sqlx::{Connection, Row};

use crate::db::with_database;

/// The server tests create their databases on, unless `PROVOST_TEST_MYSQL_URL` says.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

/// The platform's DDL for `auth_user`, `student_courseaccessrole` and the two forum role tables.
pub const LEGACY_DDL: &str = include_str!("../fixtures/openedx-legacy-roles.sql");

/// A fresh database holding the platform's role tables (empty until `load`); dropped with the guard.
pub struct TestMysql {
    /// The database's URL, as `provost legacy migrate --from` takes it.
    pub url: String,
    admin: String,
    name: String,
}

/// A user row of `auth_user`.
#[derive(Clone, Debug)]
pub struct LegacyUser {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub staff: bool,
    pub superuser: bool,
    pub active: bool,
}

/// Rows to load: users, course access roles `(user_id, org, course_id, role)` and forum roles
/// `(user_id, role name, course_id)`.
#[derive(Clone, Debug, Default)]
pub struct LegacyFixture {
    pub users: Vec<LegacyUser>,
    pub course_roles: Vec<(i64, String, String, String)>,
    pub forum_roles: Vec<(i64, String, String)>,
}

impl LegacyFixture {
    /// An active user `id` named `username`, email `username@example.com`.
    pub fn user(mut self, id: i64, username: &str) -> Self {
        self.users.push(LegacyUser {
            id,
            username: username.into(),
            email: format!("{username}@example.com"),
            staff: false,
            superuser: false,
            active: true,
        });
        self
    }

    /// Like `user`, with the flags set.
    pub fn user_with(
        mut self,
        id: i64,
        username: &str,
        staff: bool,
        superuser: bool,
        active: bool,
    ) -> Self {
        self = self.user(id, username);
        if let Some(user) = self.users.last_mut() {
            (user.staff, user.superuser, user.active) = (staff, superuser, active);
        }
        self
    }

    /// A `student_courseaccessrole` row.
    pub fn role(mut self, user_id: i64, org: &str, course_id: &str, role: &str) -> Self {
        self.course_roles
            .push((user_id, org.into(), course_id.into(), role.into()));
        self
    }

    /// A forum role membership (the role row is made once per name and course).
    pub fn forum(mut self, user_id: i64, name: &str, course_id: &str) -> Self {
        self.forum_roles
            .push((user_id, name.into(), course_id.into()));
        self
    }
}

/// The legacy course roles with a Provost equivalent, and those without.
pub const MAPPED_ROLES: [&str; 6] = [
    "instructor",
    "staff",
    "limited_staff",
    "data_researcher",
    "beta_testers",
    "ccx_coach",
];
pub const UNMAPPED_ROLES: [&str; 6] = [
    "finance_admin",
    "sales_admin",
    "library_user",
    "org_course_creator_group",
    "course_creator_group",
    "support",
];
/// The forum role names of the platform.
pub const FORUM_ROLES: [&str; 5] = [
    "Administrator",
    "Moderator",
    "Group Moderator",
    "Community TA",
    "Student",
];

/// The course every-role fixture's course rows are at, and another org's.
pub const LEGACY_COURSE: &str = "course-v1:MITx+6.00x+2024T1";
pub const OTHER_COURSE: &str = "course-v1:HarvardX+CS50+2024";

impl LegacyFixture {
    /// Every legacy course role at course, org and global level, every forum role, and the rows a
    /// migration must refuse (unknown and inactive users, old and CCX keys, an unknown role):
    /// - ada (1): each course role at `LEGACY_COURSE`, each forum role there;
    /// - bob (2): each course role org-wide in MITx; a forum `Moderator` on an old-style key;
    /// - cyd (3, inactive): `staff` at `LEGACY_COURSE`;
    /// - dee (4, staff): each course role as a global row;
    /// - eve (5, superuser): `instructor` at `OTHER_COURSE`, `Student` in its forum;
    /// - user 99 (not in `auth_user`): `staff` at `LEGACY_COURSE`;
    /// - ada: `staff` on an old `MITx/6.002x/2012_Fall` key, `ccx_coach` on a CCX key, `wizard`.
    pub fn every_role() -> LegacyFixture {
        let mut f = LegacyFixture::default()
            .user(1, "ada")
            .user(2, "bob")
            .user_with(3, "cyd", false, false, false)
            .user_with(4, "dee", true, false, true)
            .user_with(5, "eve", false, true, true);
        for role in MAPPED_ROLES.iter().chain(&UNMAPPED_ROLES) {
            f = f
                .role(1, "MITx", LEGACY_COURSE, role)
                .role(2, "MITx", "", role)
                .role(4, "", "", role);
        }
        for name in FORUM_ROLES {
            f = f.forum(1, name, LEGACY_COURSE);
        }
        f.role(3, "MITx", LEGACY_COURSE, "staff")
            .role(5, "HarvardX", OTHER_COURSE, "instructor")
            .role(99, "MITx", LEGACY_COURSE, "staff")
            .role(1, "MITx", "MITx/6.002x/2012_Fall", "staff")
            .role(1, "MITx", "ccx-v1:MITx+6.00x+2024T1+ccx@3", "ccx_coach")
            .role(1, "MITx", LEGACY_COURSE, "wizard")
            .forum(5, "Student", OTHER_COURSE)
            .forum(2, "Moderator", "MITx/6.002x/2012_Fall")
    }
}

impl TestMysql {
    /// A fresh database with the platform's role tables, empty. Panics when the server is unreachable.
    pub async fn create() -> TestMysql {
        let admin = admin_url();
        let name = format!("provost_legacy_{}", unique_suffix());
        let mut conn = MySqlConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("MariaDB/MySQL is unreachable at {admin} ({e}); start it (scripts/ensure-mariadb.sh does) or set PROVOST_TEST_MYSQL_URL")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
            .execute(&mut conn)
            .await
            .expect("create the legacy test database");
        conn.close().await.ok();
        let db = TestMysql {
            url: with_database(&admin, &name),
            admin,
            name,
        };
        let mut conn = db.connect().await;
        for statement in LEGACY_DDL
            .split(';')
            .map(strip_comments)
            .filter(|s| !s.is_empty())
        {
            sqlx::raw_sql(&statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("legacy DDL failed: {e}\n{statement}"));
        }
        conn.close().await.ok();
        db
    }

    /// A connection to this database.
    pub async fn connect(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.url)
            .await
            .expect("connect to the legacy test database")
    }

    /// Loads `fixture`. Rows naming users that do not exist are loaded too (with foreign key
    /// checks off), as a platform that hard-deleted users has them.
    pub async fn load(&self, fixture: &LegacyFixture) {
        let mut conn = self.connect().await;
        sqlx::raw_sql("SET FOREIGN_KEY_CHECKS = 0")
            .execute(&mut conn)
            .await
            .expect("fk off");
        for u in &fixture.users {
            sqlx::query(
                "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, \
                 is_staff, is_active, date_joined) VALUES (?, '!', ?, ?, '', '', ?, ?, ?, NOW(6))",
            )
            .bind(u.id)
            .bind(u.superuser)
            .bind(&u.username)
            .bind(&u.email)
            .bind(u.staff)
            .bind(u.active)
            .execute(&mut conn)
            .await
            .expect("insert user");
        }
        for (user_id, org, course_id, role) in &fixture.course_roles {
            sqlx::query(
                "INSERT INTO student_courseaccessrole (user_id, org, course_id, role) VALUES (?, ?, ?, ?)",
            )
            .bind(user_id)
            .bind(org)
            .bind(course_id)
            .bind(role)
            .execute(&mut conn)
            .await
            .expect("insert course access role");
        }
        for (user_id, name, course_id) in &fixture.forum_roles {
            let role_id = forum_role_id(&mut conn, name, course_id).await;
            sqlx::query(
                "INSERT INTO django_comment_client_role_users (role_id, user_id) VALUES (?, ?)",
            )
            .bind(role_id)
            .bind(user_id)
            .execute(&mut conn)
            .await
            .expect("insert forum role user");
        }
        conn.close().await.ok();
    }

    /// Generates `rows` course access rows (users `u1`.. with about ten rows each, the mapped
    /// roles in turn, courses of twenty orgs) in SQL on the server: fast enough for a million.
    pub async fn generate(&self, rows: u64) {
        let mut conn = self.connect().await;
        for sql in generator_sql(rows) {
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("generating rows failed: {e}\n{sql}"));
        }
        conn.close().await.ok();
    }

    /// Every `student_courseaccessrole` row as `(username or #id, org, course_id, role)`, sorted.
    pub async fn course_access_roles(&self) -> Vec<(String, String, String, String)> {
        let mut conn = self.connect().await;
        let rows = sqlx::query(
            "SELECT COALESCE(u.username, CONCAT('#', r.user_id)) AS who, r.org, r.course_id, r.role \
             FROM student_courseaccessrole r LEFT JOIN auth_user u ON u.id = r.user_id",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read course access roles");
        let mut out: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.get("who"),
                    r.get("org"),
                    r.get("course_id"),
                    r.get("role"),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Every forum role membership as `(username or #id, role name, course_id)`, sorted.
    pub async fn forum_roles(&self) -> Vec<(String, String, String)> {
        let mut conn = self.connect().await;
        let rows = sqlx::query(
            "SELECT COALESCE(u.username, CONCAT('#', m.user_id)) AS who, r.name, r.course_id \
             FROM django_comment_client_role_users m JOIN django_comment_client_role r ON r.id = m.role_id \
             LEFT JOIN auth_user u ON u.id = m.user_id",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read forum roles");
        let mut out: Vec<_> = rows
            .iter()
            .map(|r| (r.get("who"), r.get("name"), r.get("course_id")))
            .collect();
        out.sort();
        out
    }

    /// Writes the four tables as CSV files (`<table>.csv`, a header row, every column) into `dir`,
    /// as an operator's export for `provost legacy migrate --from DIR` would look.
    pub async fn export_csv(&self, dir: &Path) {
        let mut conn = self.connect().await;
        let tables = [
            (
                "auth_user",
                "id, username, email, is_staff, is_superuser, is_active",
            ),
            (
                "student_courseaccessrole",
                "id, user_id, org, course_id, role",
            ),
            ("django_comment_client_role", "id, name, course_id"),
            ("django_comment_client_role_users", "id, role_id, user_id"),
        ];
        for (table, columns) in tables {
            let sql = format!("SELECT {columns} FROM {table} ORDER BY id");
            let rows = sqlx::query(&sql)
                .fetch_all(&mut conn)
                .await
                .expect("export");
            let mut writer =
                csv::Writer::from_path(dir.join(format!("{table}.csv"))).expect("csv file");
            let names: Vec<&str> = columns.split(", ").collect();
            writer.write_record(&names).expect("header");
            for row in &rows {
                let record: Vec<String> = (0..names.len()).map(|i| cell(row, i)).collect();
                writer.write_record(&record).expect("row");
            }
            writer.flush().expect("flush");
        }
        conn.close().await.ok();
    }
}

/// The statements `generate` runs (also what `scripts/legacy-bench.sh` runs, through
/// `provost-testkit`'s `legacy-generate` example): row `k` goes to user `k % users + 1` at course
/// `c = (k / users) * 1000 + k % 1000`, so the unique key holds.
pub fn generator_sql(rows: u64) -> Vec<String> {
    let users = (rows / 10).max(1);
    let digits = rows.max(2).ilog10() as usize + 1;
    let from = (0..digits)
        .map(|i| format!("provost_digits d{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let k = (0..digits)
        .map(|i| format!("d{i}.i * {}", 10u64.pow(i as u32)))
        .collect::<Vec<_>>()
        .join(" + ");
    let roles = MAPPED_ROLES
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        "CREATE TEMPORARY TABLE provost_digits (i INT NOT NULL)".into(),
        "INSERT INTO provost_digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)".into(),
        "CREATE TEMPORARY TABLE provost_numbers (k BIGINT NOT NULL PRIMARY KEY)".into(),
        format!("INSERT INTO provost_numbers SELECT {k} AS k FROM {from} HAVING k < {rows}"),
        format!(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, \
             is_staff, is_active, date_joined) SELECT k + 1, '!', 0, CONCAT('u', k + 1), '', '', \
             CONCAT('u', k + 1, '@example.com'), 0, 1, NOW(6) FROM provost_numbers WHERE k < {users}"
        ),
        format!(
            "INSERT INTO student_courseaccessrole (user_id, org, course_id, role) SELECT \
             k % {users} + 1, CONCAT('Org', (k DIV {users} * 1000 + k % 1000) % 20), \
             CONCAT('course-v1:Org', (k DIV {users} * 1000 + k % 1000) % 20, '+C', k DIV {users} * 1000 + k % 1000, '+R1'), \
             ELT(k % 6 + 1, {roles}) FROM provost_numbers ORDER BY k"
        ),
    ]
}

/// A column as text, whatever its MySQL type.
fn cell(row: &sqlx::mysql::MySqlRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<i64, _>(i) {
        return v.to_string();
    }
    if let Ok(v) = row.try_get::<bool, _>(i) {
        return u8::from(v).to_string();
    }
    row.try_get::<String, _>(i).unwrap_or_default()
}

async fn forum_role_id(conn: &mut MySqlConnection, name: &str, course_id: &str) -> i64 {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT id FROM django_comment_client_role WHERE name = ? AND course_id = ? LIMIT 1",
    )
    .bind(name)
    .bind(course_id)
    .fetch_optional(&mut *conn)
    .await
    .expect("find forum role");
    if let Some(id) = found {
        return i64::from(id);
    }
    let done =
        sqlx::query("INSERT INTO django_comment_client_role (name, course_id) VALUES (?, ?)")
            .bind(name)
            .bind(course_id)
            .execute(&mut *conn)
            .await
            .expect("insert forum role");
    i64::try_from(done.last_insert_id()).expect("id")
}

fn strip_comments(statement: &str) -> String {
    statement
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{n}_{nanos}", std::process::id())
}

/// The server tests create legacy databases on (`PROVOST_TEST_MYSQL_URL`).
pub fn admin_url() -> String {
    std::env::var("PROVOST_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

impl Drop for TestMysql {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside the test's runtime, which cannot block on async work.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = MySqlConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                    if let Err(e) = sqlx::raw_sql(&sql).execute(&mut conn).await {
                        eprintln!("could not drop legacy test database {name}: {e}");
                    }
                    conn.close().await.ok();
                }
            });
        });
        dropper.join().ok();
    }
}
