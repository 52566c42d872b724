//! Program reports: listing from a local directory and from a real S3-compatible server (moto),
//! who may list them (org-level and program-level access), and the signed download links.

use std::path::Path;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use provost_server::apps::programs::reports::ReportSettings;
use provost_server::{Node, ServerConfig};
use provost_testkit::TestDatabase;
use serde_json::json;

use crate::programs::grant;
use crate::support::{serve_node, test_config, Answer, TestServer};

const P1_UUID: &str = "11111111-2222-3333-4444-555555555555";
const P1_DIR: &str = "MITx/11111111222233334444555555555555";

/// A test server whose reports are where `settings` say; the database goes with it.
async fn server_with(settings: ReportSettings) -> (TestServer, TestDatabase) {
    let database = TestDatabase::from_env().await;
    let node = Node::open(&database.url).await.expect("node");
    let config = ServerConfig {
        reports: settings,
        ..test_config()
    };
    let dir = tempfile::tempdir().expect("dir");
    let server = serve_node(node, config, database.url.clone(), dir).await;
    (server, database)
}

fn local(root: &Path) -> ReportSettings {
    ReportSettings {
        url: format!("file://{}", root.display()),
        ..ReportSettings::default()
    }
}

async fn create(server: &TestServer, key: &str, org: &str, uuid: Option<&str>) {
    let mut body = json!({ "key": key, "title": key, "type": "masters", "orgs": [org] });
    if let Some(uuid) = uuid {
        body["uuid"] = json!(uuid);
    }
    server
        .as_admin()
        .post("/api/v1/programs", body)
        .await
        .expect_status(201);
}

fn put(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(path, text).expect("write");
}

fn names(answer: &Answer) -> Vec<String> {
    answer
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The files a pipeline left for program p1 (and some it should not have).
const P1_FILES: [&str; 6] = [
    "enrollments__2024-05-01.csv",
    "progress__2024-06-15.csv",
    "summary__2024-06-15",
    "notes.txt",
    "broken__2024-02-30.csv",
    "sub/deep__2024-07-01.csv",
];

async fn download(server: &TestServer, url: &str) -> Answer {
    // The link is the right: no token.
    server.anonymous().get(url).await
}

#[tokio::test]
async fn local_reports_are_listed_newest_first_and_filtered() {
    let root = tempfile::tempdir().expect("dir");
    let (server, _db) = server_with(local(root.path())).await;
    create(&server, "p1", "MITx", Some(P1_UUID)).await;
    for file in P1_FILES {
        put(root.path(), &format!("{P1_DIR}/{file}"), file);
    }
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    let rita = server.as_user("rita");

    let all = rita.get("/api/v1/programs/p1/reports").await.ok();
    assert_eq!(
        names(&all),
        vec![
            "summary__2024-06-15",
            "progress__2024-06-15.csv",
            "enrollments__2024-05-01.csv"
        ]
    );
    assert_eq!(all.body[2]["created_date"], "2024-05-01");
    let recent = rita
        .get("/api/v1/programs/p1/reports/?min_created_date=2024-06-15")
        .await
        .ok();
    assert_eq!(
        names(&recent),
        vec!["summary__2024-06-15", "progress__2024-06-15.csv"]
    );
    let later = rita
        .get("/api/v1/programs/p1/reports?min_created_date=2024-06-16")
        .await
        .ok();
    assert_eq!(names(&later), Vec::<String>::new());
    for bad in ["2024-13-01", "2024-02-30", "yesterday", "2024-6-1"] {
        rita.get(&format!(
            "/api/v1/programs/p1/reports?min_created_date={bad}"
        ))
        .await
        .expect(400, "invalid_date");
    }
    // The link downloads the file, without a token.
    let url = all.body[1]["download_url"].as_str().expect("url");
    let file = download(&server, url).await.ok();
    assert_eq!(file.text, "progress__2024-06-15.csv");

    // With the service's public URL set, links are absolute.
    let (public, _db2) = server_with(ReportSettings {
        public_url: Some("https://provost.example.org".into()),
        ..local(root.path())
    })
    .await;
    create(&public, "p1", "MITx", Some(P1_UUID)).await;
    let listed = public
        .as_admin()
        .get("/api/v1/programs/p1/reports")
        .await
        .ok();
    let url = listed.body[0]["download_url"].as_str().expect("url");
    assert!(
        url.starts_with("https://provost.example.org/api/v1/programs/p1/reports/download?"),
        "{url}"
    );
}

#[tokio::test]
async fn org_report_access_reaches_its_programs_and_no_others() {
    let root = tempfile::tempdir().expect("dir");
    let (server, _db) = server_with(local(root.path())).await;
    create(&server, "p1", "MITx", Some(P1_UUID)).await;
    create(&server, "p2", "MITx", None).await;
    create(&server, "h1", "HarvardX", None).await;
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    grant(&server, "pia", "program_read_reports", "program:p1").await;
    for (user, program, status) in [
        ("rita", "p1", 200),
        ("rita", "p2", 200),
        ("rita", "h1", 403),
        ("pia", "p1", 200),
        ("pia", "p2", 403),
        ("pia", "h1", 403),
        ("eve", "p1", 403),
    ] {
        let answer = server
            .as_user(user)
            .get(&format!("/api/v1/programs/{program}/reports"))
            .await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{user} on {program}: {}",
            answer.text
        );
    }
    server
        .as_user("rita")
        .get("/api/v1/programs/nothing/reports")
        .await
        .expect(404, "unknown_program");
    // The listing names exactly the programs each may read reports of.
    let listed = server
        .as_user("pia")
        .get("/api/v1/programs?user_has_perm=read_reports")
        .await
        .ok();
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

/// `url` with one query parameter replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').expect("query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == name => format!("{key}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[tokio::test]
async fn tampered_replayed_and_expired_links_are_refused() {
    let root = tempfile::tempdir().expect("dir");
    let (server, _db) = server_with(local(root.path())).await;
    create(&server, "p1", "MITx", Some(P1_UUID)).await;
    put(
        root.path(),
        &format!("{P1_DIR}/a__2024-01-01.csv"),
        "secret a",
    );
    put(
        root.path(),
        &format!("{P1_DIR}/b__2024-01-02.csv"),
        "secret b",
    );
    let listed = server
        .as_admin()
        .get("/api/v1/programs/p1/reports")
        .await
        .ok();
    let url = listed.body[1]["download_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(url.contains("a__2024-01-01.csv"), "{url}");
    assert_eq!(download(&server, &url).await.ok().text, "secret a");

    let tampered = with_param(&url, "signature", &"0".repeat(64));
    download(&server, &tampered)
        .await
        .expect(403, "invalid_report_link");
    let other_file = with_param(
        &url,
        "file",
        &format!("{P1_DIR}/b__2024-01-02.csv").replace('/', "%2F"),
    );
    download(&server, &other_file)
        .await
        .expect(403, "invalid_report_link");
    let later = with_param(&url, "expires", "99999999999");
    download(&server, &later)
        .await
        .expect(403, "invalid_report_link");
    // The same link under another program's path.
    create(&server, "p2", "MITx", None).await;
    download(&server, &url.replace("/programs/p1/", "/programs/p2/"))
        .await
        .expect(403, "invalid_report_link");

    // Links of a server whose links live 0 s have expired when they arrive.
    let (short, _db2) = server_with(ReportSettings {
        link_ttl: Duration::ZERO,
        ..local(root.path())
    })
    .await;
    create(&short, "p1", "MITx", Some(P1_UUID)).await;
    let listed = short
        .as_admin()
        .get("/api/v1/programs/p1/reports")
        .await
        .ok();
    let url = listed.body[0]["download_url"].as_str().expect("url");
    download(&short, url)
        .await
        .expect(403, "report_link_expired");
}

/// A moto S3 server on a free port, stopped when dropped.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let found = std::process::Command::new(root.join("scripts/ensure-moto.sh"))
        .output()
        .expect("scripts/ensure-moto.sh runs");
    assert!(
        found.status.success(),
        "ensure-moto failed: {}",
        String::from_utf8_lossy(&found.stderr)
    );
    let binary = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = std::process::Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let moto = Moto { child, endpoint };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&moto.endpoint).send().await.is_ok() {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not answer on {}", moto.endpoint);
}

fn s3_options(endpoint: &str) -> Vec<(String, String)> {
    [
        ("aws_endpoint", endpoint),
        ("aws_allow_http", "true"),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "testing"),
        ("aws_secret_access_key", "testing"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

#[tokio::test]
async fn s3_reports_are_listed_and_downloaded_through_presigned_urls() {
    let moto = moto().await;
    let client = reqwest::Client::new();
    let created = client
        .put(format!("{}/reports", moto.endpoint))
        .send()
        .await
        .expect("bucket");
    assert!(created.status().is_success(), "{:?}", created.text().await);
    let mut bucket = AmazonS3Builder::new().with_bucket_name("reports");
    for (k, v) in s3_options(&moto.endpoint) {
        bucket = bucket.with_config(k.parse().expect("key"), v);
    }
    let bucket = bucket.build().expect("s3 client");
    for file in P1_FILES {
        let path = StorePath::from(format!("pipeline/{P1_DIR}/{file}"));
        bucket
            .put(&path, file.as_bytes().to_vec().into())
            .await
            .expect("put");
    }
    let (server, _db) = server_with(ReportSettings {
        url: "s3://reports/pipeline".into(),
        s3_options: s3_options(&moto.endpoint),
        ..ReportSettings::default()
    })
    .await;
    create(&server, "p1", "MITx", Some(P1_UUID)).await;
    grant(&server, "rita", "program_read_reports", "org:MITx").await;
    let listed = server
        .as_user("rita")
        .get("/api/v1/programs/p1/reports/")
        .await
        .ok();
    assert_eq!(
        names(&listed),
        vec![
            "summary__2024-06-15",
            "progress__2024-06-15.csv",
            "enrollments__2024-05-01.csv"
        ]
    );
    let recent = server
        .as_user("rita")
        .get("/api/v1/programs/p1/reports?min_created_date=2024-06-01")
        .await
        .ok();
    assert_eq!(recent.body.as_array().map(Vec::len), Some(2));
    let url = listed.body[2]["download_url"].as_str().expect("url");
    assert!(
        url.starts_with(&moto.endpoint) && url.contains("X-Amz-Signature"),
        "{url}"
    );
    let fetched = client.get(url).send().await.expect("download");
    assert!(fetched.status().is_success());
    assert_eq!(
        fetched.text().await.expect("body"),
        "enrollments__2024-05-01.csv"
    );
    // Someone without report access gets no links at all.
    server
        .as_user("eve")
        .get("/api/v1/programs/p1/reports")
        .await
        .expect(403, "forbidden");
}
