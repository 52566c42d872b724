//! Program reports: CSV files a reporting pipeline leaves under `<org>/<program uuid hex>/` in
//! the report store (a local directory, or an S3-compatible bucket), listed for who holds
//! `programs.read_reports`, and downloaded through a signed link that expires.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use object_store::ObjectStore;
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use super::service;
use crate::access::{now, truncate, Actor};
use crate::err::{Error, ErrorCode, Result};
use crate::node::Node;

/// Where reports are and how long their links live; from `PROVOST_REPORTS_URL`,
/// `PROVOST_REPORT_LINK_TTL` (seconds) and `PROVOST_REPORT_LINK_SECRET`.
#[derive(Clone)]
pub struct ReportSettings {
    /// `file:///abs/path`, a plain path, or `s3://bucket/prefix`.
    pub url: String,
    pub link_ttl: Duration,
    /// Signs local download links; random per process when unset (then links made by one
    /// node, or by the CLI, do not work on another).
    pub link_secret: Option<String>,
    /// S3 settings beside the standard AWS environment (endpoint, region, ...), by their
    /// `object_store` names (`aws_endpoint`, `aws_allow_http`).
    pub s3_options: Vec<(String, String)>,
    /// Where clients reach this service (`https://provost.example.org`): local download links
    /// start with it. Unset, they are paths on this server.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for ReportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportSettings")
            .field("url", &self.url)
            .field("link_ttl", &self.link_ttl)
            .field(
                "link_secret",
                &self.link_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "s3_options",
                &self.s3_options.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            url: "./reports".into(),
            link_ttl: Duration::from_secs(3600),
            link_secret: None,
            s3_options: Vec::new(),
            public_url: None,
        }
    }
}

impl ReportSettings {
    /// The settings the environment gives, checked.
    pub fn from_env() -> Result<ReportSettings> {
        let mut settings = ReportSettings::default();
        if let Ok(url) = std::env::var("PROVOST_REPORTS_URL") {
            if !url.is_empty() {
                settings.url = url;
            }
        }
        if let Ok(ttl) = std::env::var("PROVOST_REPORT_LINK_TTL") {
            let seconds: u64 = ttl.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidReportsUrl,
                    format!(
                        "PROVOST_REPORT_LINK_TTL `{}` is not a number of seconds",
                        truncate(&ttl)
                    ),
                )
            })?;
            settings.link_ttl = Duration::from_secs(seconds);
        }
        settings.link_secret = std::env::var("PROVOST_REPORT_LINK_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        if let Ok(base) = std::env::var("PROVOST_PUBLIC_URL") {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Error::new(
                    ErrorCode::InvalidReportsUrl,
                    format!(
                        "PROVOST_PUBLIC_URL `{}` must start with http:// or https://",
                        truncate(&base)
                    ),
                ));
            }
            settings.public_url = Some(base.trim_end_matches('/').to_owned());
        }
        Location::parse(&settings.url)?;
        Ok(settings)
    }
}

/// What `PROVOST_REPORTS_URL` names.
enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    fn parse(url: &str) -> Result<Location> {
        let bad = |why: &str| {
            Error::new(
                ErrorCode::InvalidReportsUrl,
                format!("reports url `{}` {why}", truncate(url)),
            )
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("names no bucket"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("must be an absolute path (`file:///abs/path`)"));
            }
            return Ok(Location::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(bad("must be `file:///abs/path` or `s3://bucket/prefix`"));
        }
        Ok(Location::Local(PathBuf::from(url)))
    }
}

#[derive(Clone)]
enum Backend {
    /// A directory; opened per call, so that one made after the start counts (and none is
    /// made for a server that never sees a report).
    Local(PathBuf),
    S3 {
        store: Arc<AmazonS3>,
        prefix: String,
    },
    /// The store could not be opened: every call answers 503 with why.
    Broken(Arc<str>),
}

/// The report store with the key that signs its download links; cheap to clone.
#[derive(Clone)]
pub struct ReportStore {
    backend: Backend,
    ttl: Duration,
    key: Arc<[u8]>,
    /// What local links start with (`PROVOST_PUBLIC_URL`), or nothing.
    base: Arc<str>,
}

/// One report as listed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Report {
    pub name: String,
    /// From the name (`..__YYYY-MM-DD`).
    #[schema(value_type = String, format = Date)]
    pub created_date: NaiveDate,
    /// A presigned S3 URL, or Provost's own signed link for local files (from
    /// `PROVOST_PUBLIC_URL`, else a path on this server).
    pub download_url: String,
}

type HmacSha256 = Hmac<Sha256>;

impl ReportStore {
    /// Opens the store the settings name; a store that cannot be opened answers 503 later.
    pub fn open(settings: &ReportSettings) -> ReportStore {
        let key: Arc<[u8]> = match &settings.link_secret {
            Some(secret) => secret.as_bytes().into(),
            None => {
                let mut bytes = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
                bytes.to_vec().into()
            }
        };
        let backend = match Self::backend(settings) {
            Ok(backend) => backend,
            Err(e) => {
                tracing::warn!(error = %e, "the report store cannot be opened");
                Backend::Broken(e.message.into())
            }
        };
        ReportStore {
            backend,
            ttl: settings.link_ttl,
            key,
            base: settings.public_url.as_deref().unwrap_or_default().into(),
        }
    }

    fn backend(settings: &ReportSettings) -> Result<Backend> {
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::new(
                ErrorCode::ReportStoreUnavailable,
                format!("the report store cannot be opened: {e}"),
            )
        };
        match Location::parse(&settings.url)? {
            Location::Local(path) => Ok(Backend::Local(path)),
            Location::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                for (name, value) in &settings.s3_options {
                    let key: AmazonS3ConfigKey = name.parse().map_err(|e| unavailable(&e))?;
                    builder = builder.with_config(key, value);
                }
                let store = builder.build().map_err(|e| unavailable(&e))?;
                Ok(Backend::S3 {
                    store: Arc::new(store),
                    prefix,
                })
            }
        }
    }

    /// The store and the prefix inside it; `None` for a local directory that does not exist
    /// (yet): no reports.
    fn store(&self) -> Result<Option<(Arc<dyn ObjectStore>, &str)>> {
        match &self.backend {
            Backend::Local(root) => {
                if !root.is_dir() {
                    return Ok(None);
                }
                let fs = LocalFileSystem::new_with_prefix(root).map_err(failed)?;
                Ok(Some((Arc::new(fs), "")))
            }
            Backend::S3 { store, prefix } => Ok(Some((store.clone(), prefix.as_str()))),
            Backend::Broken(why) => Err(Error::new(
                ErrorCode::ReportStoreUnavailable,
                why.to_string(),
            )),
        }
    }

    /// The reports of the program `key` from `min` on, newest first.
    pub async fn list(&self, key: &str, dir: &str, min: Option<NaiveDate>) -> Result<Vec<Report>> {
        let Some((store, prefix)) = self.store()? else {
            return Ok(Vec::new());
        };
        let path = StorePath::from(join(prefix, dir));
        let listed = store
            .list_with_delimiter(Some(&path))
            .await
            .map_err(failed)?;
        let mut reports = Vec::new();
        for object in listed.objects {
            let Some(name) = object.location.filename().map(str::to_owned) else {
                continue;
            };
            let Some(created_date) = report_date(&name) else {
                tracing::warn!(program = key, file = %object.location, "skipping a report whose name is not `<name>__YYYY-MM-DD[.ext]`");
                continue;
            };
            if min.is_some_and(|min| created_date < min) {
                continue;
            }
            let download_url = self.download_url(key, dir, &name, &object.location).await?;
            reports.push(Report {
                name,
                created_date,
                download_url,
            });
        }
        reports.sort_by(|a, b| (b.created_date, &b.name).cmp(&(a.created_date, &a.name)));
        Ok(reports)
    }

    async fn download_url(
        &self,
        key: &str,
        dir: &str,
        name: &str,
        location: &StorePath,
    ) -> Result<String> {
        match &self.backend {
            Backend::S3 { store, .. } => store
                .signed_url(axum::http::Method::GET, location, self.ttl)
                .await
                .map(|u| u.to_string())
                .map_err(failed),
            _ => {
                let file = format!("{dir}/{name}");
                let expires = now() + self.ttl.as_secs() as i64;
                let signature = self.sign(key, &file, expires);
                Ok(format!(
                    "{}/api/v1/programs/{key}/reports/download?file={}&expires={expires}&signature={signature}",
                    self.base,
                    encode(&file)
                ))
            }
        }
    }

    /// HMAC-SHA256 over the program, the file and the expiry, so a link opens one file of one
    /// program until it expires.
    fn sign(&self, key: &str, file: &str, expires: i64) -> String {
        hex::encode(self.mac(key, file, expires).finalize().into_bytes())
    }

    fn mac(&self, key: &str, file: &str, expires: i64) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("hmac takes keys of any length");
        mac.update(format!("{key}\n{file}\n{expires}").as_bytes());
        mac
    }

    /// The bytes of a local report, if the link is this server's, unexpired and for this file
    /// of this program.
    pub async fn download(&self, link: &Link, dirs: &[String]) -> Result<Vec<u8>> {
        let signature = hex::decode(&link.signature).unwrap_or_default();
        if self
            .mac(&link.program, &link.file, link.expires)
            .verify_slice(&signature)
            .is_err()
        {
            return Err(Error::new(
                ErrorCode::ReportLinkInvalid,
                "this download link is not valid for this file",
            ));
        }
        if link.expires <= now() {
            return Err(Error::new(
                ErrorCode::ReportLinkExpired,
                "this download link has expired: list the reports again for a fresh one",
            ));
        }
        let (dir, name) = link.file.rsplit_once('/').unwrap_or(("", &link.file));
        if !dirs.iter().any(|d| d == dir) || report_date(name).is_none() {
            return Err(not_found(name));
        }
        let (Backend::Local(_), Some((fs, _))) = (&self.backend, self.store()?) else {
            return Err(not_found(name));
        };
        let location = StorePath::from(link.file.as_str());
        match fs.get(&location).await {
            Ok(found) => found.bytes().await.map(|b| b.to_vec()).map_err(failed),
            Err(object_store::Error::NotFound { .. }) => Err(not_found(name)),
            Err(e) => Err(failed(e)),
        }
    }
}

/// A signed download link's parts.
#[derive(Clone, Debug)]
pub struct Link {
    pub program: String,
    pub file: String,
    pub expires: i64,
    pub signature: String,
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorCode::ReportNotFound,
        format!("there is no report `{}`", truncate(name)),
    )
}

fn failed(e: object_store::Error) -> Error {
    Error::new(
        ErrorCode::ReportStoreUnavailable,
        format!("the report store failed: {e}"),
    )
}

fn join(prefix: &str, dir: &str) -> String {
    if prefix.is_empty() {
        dir.to_owned()
    } else {
        format!("{prefix}/{dir}")
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The date in a report's name, `<anything>__YYYY-MM-DD[.ext]`, if it is a real one.
pub fn report_date(name: &str) -> Option<NaiveDate> {
    let (_, tail) = name.rsplit_once("__")?;
    let (date, ext) = match tail.split_once('.') {
        Some((date, ext)) => (date, Some(ext)),
        None => (tail, None),
    };
    if ext.is_some_and(str::is_empty) {
        return None;
    }
    parse_date(date)
}

/// A strict `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Reads `min_created_date` (400 `invalid_date` when it is not a real `YYYY-MM-DD`).
pub fn min_date(text: Option<&str>) -> Result<Option<NaiveDate>> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            parse_date(t).ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidDate,
                    format!("`{}` is not a date like 2024-05-31", truncate(t)),
                )
            })
        })
        .transpose()
}

/// The directories a program's reports are in: `<org>/<uuid hex>` for each of its orgs.
pub fn dirs_of(program: &provost_store::programs::ProgramRecord) -> Vec<String> {
    let hex = program.uuid.replace('-', "");
    program
        .orgs
        .iter()
        .map(|org| format!("{org}/{hex}"))
        .collect()
}

/// The program's reports from `min` on, newest first, for who holds `programs.read_reports`.
pub async fn list(
    node: &Node,
    index: &provost_engine::Index,
    reports: &ReportStore,
    actor: &Actor,
    key: &str,
    min: Option<NaiveDate>,
) -> Result<Vec<Report>> {
    let program = service::load(node, key).await?;
    service::require(index, actor, key, "read_reports")?;
    let mut all = Vec::new();
    for dir in dirs_of(&program) {
        all.extend(reports.list(key, &dir, min).await?);
    }
    all.sort_by(|a, b| (b.created_date, &b.name).cmp(&(a.created_date, &a.name)));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_real_date() {
        let day = |s: &str| report_date(s).map(|d| d.to_string());
        assert_eq!(
            day("enrollments__2024-05-31.csv").as_deref(),
            Some("2024-05-31")
        );
        assert_eq!(day("a__b__2024-01-02").as_deref(), Some("2024-01-02"));
        assert_eq!(day("x__2024-02-30.csv"), None);
        assert_eq!(day("x__2024-2-3.csv"), None);
        assert_eq!(day("x_2024-02-03.csv"), None);
        assert_eq!(day("x__2024-02-03."), None);
        assert_eq!(day("notes.csv"), None);
    }

    #[test]
    fn links_open_one_file_until_they_expire() {
        let store = ReportStore::open(&ReportSettings {
            url: "s3://nowhere".into(),
            ..ReportSettings::default()
        });
        let a = store.sign("p1", "MITx/ab/r__2024-01-01.csv", 100);
        assert_ne!(a, store.sign("p1", "MITx/ab/s__2024-01-01.csv", 100));
        assert_ne!(a, store.sign("p2", "MITx/ab/r__2024-01-01.csv", 100));
        assert_ne!(a, store.sign("p1", "MITx/ab/r__2024-01-01.csv", 101));
    }
}
