//! Scope keys: parsing, validation, canonical text and the kinds they belong to.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::err::KeyError;

/// Longest scope key accepted, in bytes; longer input is refused before parsing.
pub const MAX_KEY_LEN: usize = 255;

/// The kind of a scope, and of the permissions granted on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Instance,
    Org,
    Course,
    Library,
    Program,
    Batch,
    Enterprise,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Instance,
        Kind::Org,
        Kind::Course,
        Kind::Library,
        Kind::Program,
        Kind::Batch,
        Kind::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Org => "org",
            Kind::Course => "course",
            Kind::Library => "library",
            Kind::Program => "program",
            Kind::Batch => "batch",
            Kind::Enterprise => "enterprise",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether scopes of kind `inner` can sit below a scope of this kind.
    /// Used to read an ancestor as a request scope ("every course of this org").
    pub fn can_contain(self, inner: Kind) -> bool {
        match self {
            Kind::Instance => inner != Kind::Instance,
            Kind::Org => matches!(
                inner,
                Kind::Course | Kind::Library | Kind::Program | Kind::Batch
            ),
            Kind::Course => inner == Kind::Batch,
            Kind::Library | Kind::Program | Kind::Batch | Kind::Enterprise => false,
        }
    }

    /// Whether every scope of kind `self` necessarily lies at or below a scope of kind `outer`
    /// (a batch always belongs to a course).
    pub fn always_below(self, outer: Kind) -> bool {
        self == outer || (self == Kind::Batch && outer == Kind::Course)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed scope key, borrowing from the text it came from.
///
/// Globs (`course-v1:MITx+*`, `lib:*`) are regions: "every course (library) of this org
/// (of the instance)". Everything else names one concrete scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope<'a> {
    Instance,
    Org(&'a str),
    Course {
        key: &'a str,
        org: &'a str,
    },
    Library {
        key: &'a str,
        org: &'a str,
    },
    Program(&'a str),
    Batch(&'a str),
    Enterprise(Cow<'a, str>),
    /// `course-v1:ORG+*` (Some) or `course-v1:*` (None).
    CourseGlob(Option<&'a str>),
    /// `lib:ORG:*` (Some) or `lib:*` (None).
    LibraryGlob(Option<&'a str>),
}

/// `split_once` on an ASCII byte: a plain loop, quicker than the general searcher on keys of a
/// few dozen bytes (every check parses one).
fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == byte)?;
    Some((&text[..at], &text[at + 1..]))
}

/// The first four `+`-separated parts of `text`, as `text.split('+')` yields them; a plain loop,
/// as `split_at_byte` (the general iterator was a tenth of a check).
fn plus_parts(text: &str) -> [Option<&str>; 4] {
    let mut parts = [None; 4];
    let mut rest = Some(text);
    for part in &mut parts {
        let Some(left) = rest else { break };
        (*part, rest) = match split_at_byte(left, b'+') {
            Some((head, tail)) => (Some(head), Some(tail)),
            None => (Some(left), None),
        };
    }
    parts
}

/// Bytes an org (and a library slug, program or batch id) may hold: letters, digits, `.`, `_`, `-`.
const ORG_BYTE: u8 = 1;
/// Bytes a course or run may hold: an org's, and `~`.
const PART_BYTE: u8 = 2;

/// Each byte's classes: one lookup a byte, where the tests it replaces were several.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-' {
            table[b] = ORG_BYTE | PART_BYTE;
        } else if c == b'~' {
            table[b] = PART_BYTE;
        }
        b += 1;
    }
    table
};

fn all_of(text: &str, class: u8) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| BYTE_CLASS[usize::from(b)] & class != 0)
}

fn valid_org(org: &str) -> bool {
    all_of(org, ORG_BYTE)
}

fn valid_part(part: &str) -> bool {
    all_of(part, PART_BYTE)
}

fn valid_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl<'a> Scope<'a> {
    /// Parses and validates a scope key; see DESIGN.md §2 for the accepted forms.
    pub fn parse(text: &'a str) -> Result<Scope<'a>, KeyError> {
        let bad = |reason: String| KeyError::new(text, reason);
        if text.is_empty() {
            return Err(bad("a scope key cannot be empty".into()));
        }
        if text.len() > MAX_KEY_LEN {
            return Err(bad(format!("a scope key is at most {MAX_KEY_LEN} bytes")));
        }
        if text == "*" {
            return Ok(Scope::Instance);
        }
        let Some((namespace, rest)) = split_at_byte(text, b':') else {
            return Err(bad(
                "expected `<namespace>:<id>` (org:, course-v1:, lib:, program:, batch:, enterprise:) or `*`"
                    .into(),
            ));
        };
        match namespace {
            "org" => {
                if !valid_org(rest) {
                    return Err(bad(org_error(rest)));
                }
                Ok(Scope::Org(rest))
            }
            "course-v1" => parse_course(text, rest),
            "lib" => parse_library(text, rest),
            "program" => {
                if !valid_org(rest) {
                    return Err(bad(format!(
                        "program key `{rest}` must be non-empty and use only letters, digits, `.`, `_` and `-`"
                    )));
                }
                Ok(Scope::Program(rest))
            }
            "batch" => {
                if !valid_org(rest) {
                    return Err(bad(format!(
                        "batch id `{rest}` must be non-empty and use only letters, digits, `.`, `_` and `-`"
                    )));
                }
                Ok(Scope::Batch(rest))
            }
            "enterprise" => {
                if !valid_uuid(rest) {
                    return Err(bad(format!(
                        "enterprise id `{rest}` must be a hyphenated uuid like `3f2c9a1e-0b4d-4c8e-9f00-1a2b3c4d5e6f`"
                    )));
                }
                if rest.bytes().any(|b| b.is_ascii_uppercase()) {
                    Ok(Scope::Enterprise(Cow::Owned(format!("enterprise:{}", rest.to_ascii_lowercase()))))
                } else {
                    Ok(Scope::Enterprise(Cow::Borrowed(text)))
                }
            }
            other if other.contains('*') => Err(bad(
                "`*` is only allowed alone (the instance) or right after `course-v1:`, `lib:`, a course org's `+` or a library org's `:`".into(),
            )),
            other => Err(bad(format!(
                "unknown scope namespace `{other}` (expected org, course-v1, lib, program, batch or enterprise)"
            ))),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Scope::Instance => Kind::Instance,
            Scope::Org(_) => Kind::Org,
            Scope::Course { .. } | Scope::CourseGlob(_) => Kind::Course,
            Scope::Library { .. } | Scope::LibraryGlob(_) => Kind::Library,
            Scope::Program(_) => Kind::Program,
            Scope::Batch(_) => Kind::Batch,
            Scope::Enterprise(_) => Kind::Enterprise,
        }
    }

    pub fn is_glob(&self) -> bool {
        matches!(self, Scope::CourseGlob(_) | Scope::LibraryGlob(_))
    }

    /// Whether the key names a region that can contain other keys' scopes: the instance, an
    /// org or a glob.
    pub fn is_region(&self) -> bool {
        matches!(self, Scope::Instance | Scope::Org(_)) || self.is_glob()
    }

    /// The org named by the key itself (courses, libraries, orgs and org globs).
    pub fn org(&self) -> Option<&'a str> {
        match self {
            Scope::Org(org) => Some(org),
            Scope::Course { org, .. } | Scope::Library { org, .. } => Some(org),
            Scope::CourseGlob(org) | Scope::LibraryGlob(org) => *org,
            _ => None,
        }
    }

    /// The canonical text of the key. Allocates only for globs, orgs and re-cased uuids.
    pub fn canonical(&self) -> Cow<'a, str> {
        match self {
            Scope::Instance => Cow::Borrowed("*"),
            Scope::Org(org) => Cow::Owned(format!("org:{org}")),
            Scope::Course { key, .. } | Scope::Library { key, .. } => Cow::Borrowed(key),
            Scope::Program(p) => Cow::Owned(format!("program:{p}")),
            Scope::Batch(b) => Cow::Owned(format!("batch:{b}")),
            Scope::Enterprise(text) => text.clone(),
            Scope::CourseGlob(Some(org)) => Cow::Owned(format!("course-v1:{org}+*")),
            Scope::CourseGlob(None) => Cow::Borrowed("course-v1:*"),
            Scope::LibraryGlob(Some(org)) => Cow::Owned(format!("lib:{org}:*")),
            Scope::LibraryGlob(None) => Cow::Borrowed("lib:*"),
        }
    }
}

fn org_error(org: &str) -> String {
    if org.contains('*') {
        format!("org `{org}` cannot hold a glob: use `course-v1:{}+*` or `lib:{}:*` for every course or library of an org", org.trim_end_matches('*'), org.trim_end_matches('*'))
    } else if org.is_empty() {
        "the org name is empty".into()
    } else {
        format!("org `{org}` may only use letters, digits, `.`, `_` and `-`")
    }
}

/// A well-formed course key (`org+course+run`, no glob) in one pass over its bytes, or None for
/// anything else, which `parse_course` then reads part by part to say what is wrong. Every check
/// parses a key, mostly a course's: this is most of a check's parsing.
fn plain_course(rest: &str) -> Option<&str> {
    let mut pluses = [0usize; 2];
    let mut found = 0;
    // Each byte's classes, and-ed: the org's, then the course's and run's.
    let (mut org, mut parts) = (ORG_BYTE, PART_BYTE);
    for (i, b) in rest.bytes().enumerate() {
        if b == b'+' {
            *pluses.get_mut(found)? = i;
            found += 1;
        } else if found == 0 {
            org &= BYTE_CLASS[usize::from(b)];
        } else {
            parts &= BYTE_CLASS[usize::from(b)];
        }
    }
    let [first, second] = pluses;
    let filled = found == 2 && first > 0 && second > first + 1 && second + 1 < rest.len();
    (filled && org != 0 && parts != 0).then(|| &rest[..first])
}

fn parse_course<'a>(text: &'a str, rest: &'a str) -> Result<Scope<'a>, KeyError> {
    if let Some(org) = plain_course(rest) {
        return Ok(Scope::Course { key: text, org });
    }
    let bad = |reason: String| KeyError::new(text, reason);
    if rest == "*" {
        return Ok(Scope::CourseGlob(None));
    }
    let [first, second, third, fourth] = plus_parts(rest);
    match (first, second, third, fourth) {
        (Some(org), Some("*"), None, _) => {
            if !valid_org(org) {
                return Err(bad(org_error(org)));
            }
            Ok(Scope::CourseGlob(Some(org)))
        }
        (Some(org), Some(course), Some(run), None) => {
            if !valid_org(org) {
                return Err(bad(org_error(org)));
            }
            for (name, part) in [("course", &course), ("run", &run)] {
                if valid_part(part) {
                    continue;
                }
                // `valid_part` refuses `*` too; it only gets its own message.
                return Err(bad(if part.contains('*') {
                    format!(
                        "a glob may only stand right after the org (`course-v1:{org}+*`), not in the {name}"
                    )
                } else {
                    format!(
                        "the {name} `{part}` must be non-empty and use only letters, digits, `.`, `_`, `-` and `~`"
                    )
                }));
            }
            Ok(Scope::Course { key: text, org })
        }
        _ => {
            if rest.contains('*') {
                Err(bad(format!(
                    "a course glob is `course-v1:*` or `course-v1:<org>+*`; `{rest}` is neither"
                )))
            } else {
                Err(bad(
                    "a course key is `course-v1:<org>+<course>+<run>`".into()
                ))
            }
        }
    }
}

fn parse_library<'a>(text: &'a str, rest: &'a str) -> Result<Scope<'a>, KeyError> {
    let bad = |reason: String| KeyError::new(text, reason);
    if rest == "*" {
        return Ok(Scope::LibraryGlob(None));
    }
    let Some((org, slug)) = split_at_byte(rest, b':') else {
        return Err(bad("a library key is `lib:<org>:<slug>`".into()));
    };
    if !valid_org(org) {
        return Err(bad(org_error(org)));
    }
    if slug == "*" {
        return Ok(Scope::LibraryGlob(Some(org)));
    }
    if valid_org(slug) {
        return Ok(Scope::Library { key: text, org });
    }
    // `valid_org` refuses `*` too; it only gets its own message.
    Err(bad(if slug.contains('*') {
        format!(
            "a glob may only stand alone after the org (`lib:{org}:*`), not inside the slug `{slug}`"
        )
    } else {
        format!(
            "the library slug `{slug}` must be non-empty and use only letters, digits, `.`, `_` and `-`"
        )
    }))
}

/// Validates a key and returns its canonical text.
pub fn canonical_scope(text: &str) -> Result<String, KeyError> {
    Ok(Scope::parse(text)?.canonical().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hand-written splitter and byte table say what the library's `split` and the
        /// character tests they replace say, on keys made of the bytes that matter.
        #[test]
        fn quick_parsing_agrees_with_the_plain_one(text in "([a-zA-Z0-9._~*:é -]{0,3}[+]?){0,4}") {
            let parts = plus_parts(&text);
            let course = matches!(parts, [Some(org), Some(course), Some(run), None]
                if valid_org(org) && valid_part(course) && valid_part(run));
            proptest::prop_assert_eq!(plain_course(&text).is_some(), course);
            if let Some(org) = plain_course(&text) {
                proptest::prop_assert_eq!(Some(org), parts[0]);
            }
            let mut split = text.split('+');
            let plain = [split.next(), split.next(), split.next(), split.next()];
            proptest::prop_assert_eq!(plus_parts(&text), plain);
            let org = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            let part = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'));
            proptest::prop_assert_eq!(valid_org(&text), org);
            proptest::prop_assert_eq!(valid_part(&text), part);
        }
    }

    #[test]
    fn accepts_every_documented_form() {
        let cases = [
            ("*", Kind::Instance, false),
            ("org:MITx", Kind::Org, false),
            ("org:edX.org_1-a", Kind::Org, false),
            ("course-v1:MITx+6.00x+2024T1", Kind::Course, false),
            ("course-v1:edX+DemoX+Demo_Course", Kind::Course, false),
            ("lib:MITx:python-basics", Kind::Library, false),
            ("program:masters-in-cs", Kind::Program, false),
            ("batch:0130123", Kind::Batch, false),
            (
                "enterprise:3f2c9a1e-0b4d-4c8e-9f00-1a2b3c4d5e6f",
                Kind::Enterprise,
                false,
            ),
            ("course-v1:MITx+*", Kind::Course, true),
            ("course-v1:*", Kind::Course, true),
            ("lib:MITx:*", Kind::Library, true),
            ("lib:*", Kind::Library, true),
        ];
        for (text, kind, glob) in cases {
            let scope = Scope::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(scope.kind(), kind, "{text}");
            assert_eq!(scope.is_glob(), glob, "{text}");
            assert_eq!(scope.canonical(), text, "{text} is already canonical");
        }
    }

    #[test]
    fn orgs_come_from_the_key() {
        assert_eq!(
            Scope::parse("course-v1:MITx+6.00x+2024T1").unwrap().org(),
            Some("MITx")
        );
        assert_eq!(
            Scope::parse("lib:HarvardX:py").unwrap().org(),
            Some("HarvardX")
        );
        assert_eq!(
            Scope::parse("course-v1:MITx+*").unwrap().org(),
            Some("MITx")
        );
        assert_eq!(Scope::parse("lib:*").unwrap().org(), None);
        assert_eq!(Scope::parse("program:p").unwrap().org(), None);
    }

    #[test]
    fn rejects_misplaced_globs_and_malformed_keys() {
        let rejected = [
            ("", "empty"),
            ("course-v1:MITx*", "course glob"),
            ("course-v1:MITx+6.00x+*", "right after the org"),
            ("course-v1:MITx+*+2024", "right after the org"),
            ("course-v1:*+6.00x+2024", "glob"),
            ("course-v1:MIT*+6.00x+2024", "cannot hold a glob"),
            ("lib:MITx:py*", "not inside the slug"),
            ("lib:MIT*:py", "cannot hold a glob"),
            ("lib:MITx", "lib:<org>:<slug>"),
            ("*:*", "`*` is only allowed"),
            ("**", "expected"),
            ("org:MIT*", "cannot hold a glob"),
            ("org:*", "cannot hold a glob"),
            ("org:", "empty"),
            ("org:MIT x", "letters"),
            ("course-v1:MITx+6.00x", "course-v1:<org>+<course>+<run>"),
            (
                "course-v1:MITx+6.00x+2024+extra",
                "course-v1:<org>+<course>+<run>",
            ),
            ("course-v1:MITx++2024", "non-empty"),
            ("course-v1:MI/Tx+a+b", "letters"),
            ("program:", "non-empty"),
            ("batch:a b", "non-empty"),
            ("enterprise:not-a-uuid", "uuid"),
            ("enterprise:*", "uuid"),
            ("school:MITx", "unknown scope namespace `school`"),
            ("MITx", "expected"),
        ];
        for (text, needle) in rejected {
            let err = Scope::parse(text).expect_err(text);
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        let long = format!("org:{}", "a".repeat(300));
        assert!(Scope::parse(&long).is_err());
    }

    #[test]
    fn enterprise_uuids_are_lowercased() {
        let scope = Scope::parse("enterprise:3F2C9A1E-0B4D-4C8E-9F00-1A2B3C4D5E6F").unwrap();
        assert_eq!(
            scope.canonical(),
            "enterprise:3f2c9a1e-0b4d-4c8e-9f00-1a2b3c4d5e6f"
        );
    }

    #[test]
    fn containment_between_kinds() {
        assert!(Kind::Org.can_contain(Kind::Course));
        assert!(Kind::Course.can_contain(Kind::Batch));
        assert!(!Kind::Org.can_contain(Kind::Enterprise));
        assert!(!Kind::Library.can_contain(Kind::Course));
        assert!(Kind::Batch.always_below(Kind::Course));
        assert!(!Kind::Course.always_below(Kind::Library));
    }
}
