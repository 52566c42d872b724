//! Parsers under random input: never a panic; what parses is canonical and re-parses the same.

use proptest::prelude::*;
use provost_engine::{PolicyDoc, Scope};

/// Strings built from the pieces keys are made of, so many are near misses.
fn key_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "course-v1:",
        "lib:",
        "org:",
        "program:",
        "batch:",
        "enterprise:",
        "*",
        "+",
        ":",
        "MITx",
        "6.00x",
        "2024T1",
        "a b",
        "é",
        "",
        "-",
        "_",
        "~",
        "/",
        "3f2c9a1e-0b4d-4c8e-9f00-1a2b3c4d5e6f",
    ]);
    prop::collection::vec(piece, 0..8).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn scope_parsing_never_panics_and_round_trips(text in prop_oneof![key_like(), any::<String>()]) {
        if let Ok(scope) = Scope::parse(&text) {
            let canonical = scope.canonical().into_owned();
            let again = Scope::parse(&canonical).expect("canonical keys parse");
            prop_assert_eq!(again.canonical().into_owned(), canonical.clone());
            prop_assert_eq!(again.kind(), scope.kind());
            prop_assert!(!canonical.contains('*') || scope.is_glob() || canonical == "*");
        }
    }

    #[test]
    fn policy_parsing_never_panics(text in any::<String>()) {
        let _ = PolicyDoc::from_toml(&text);
    }

}

proptest! {
    // Each case compiles the whole default policy; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn policy_parsing_never_panics_on_mangled_default(cut in 0usize..4000, junk in "[\\[\\]=\"a-z._ \n]{0,20}") {
        let mut text = provost_engine::DEFAULT_POLICY.to_owned();
        let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &junk);
        let _ = PolicyDoc::from_toml(&text);
    }
}
