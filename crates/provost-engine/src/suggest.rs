//! "Did you mean ...": the known names closest to a mistyped one.

/// Up to `max` names from `known` close to `wanted`, closest first: a name whose part after the
/// app prefix is `wanted` (`delete_library` → `content_libraries.delete_library`) comes first,
/// then names within a small edit distance (about a third of the name's length); only those at
/// the smallest distance found.
pub fn closest<'a>(
    wanted: &str,
    known: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<String> {
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|name| *name != wanted)
        .filter_map(|name| {
            let short = name.rsplit_once('.').map_or(name, |(_, s)| s);
            if short == wanted {
                return Some((0, name));
            }
            let d = distance(wanted, name).min(distance(wanted, short) + 1);
            (d <= limit).then_some((d, name))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup();
    // Only the closest: a near miss hides the far ones.
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .take_while(|(d, _)| *d == best)
        .take(max)
        .map(|(_, n)| n.to_owned())
        .collect()
}

/// Levenshtein distance by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(here).min(row[j])
            };
            prev = here;
        }
    }
    row[b.len()]
}

/// "`a`, `b` or `c`".
pub fn one_of(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_bare_names_find_the_known_name() {
        let known = [
            "courses.view_course",
            "courses.edit_course_content",
            "content_libraries.delete_library",
        ];
        assert_eq!(
            closest("courses.veiw_course", known, 3),
            ["courses.view_course"]
        );
        assert_eq!(
            closest("delete_library", known, 3),
            ["content_libraries.delete_library"]
        );
        assert!(closest("fly", known, 3).is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
