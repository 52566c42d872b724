//! Batch days: `yyyy-MM-dd` dates, today in the batch time zone, and the status they give.
//!
//! A day ends at 23:59:59 in the configured zone (`PROVOST_BATCH_TIMEZONE`, default UTC): a batch
//! ending on 2026-03-10 in Asia/Kolkata is open until 2026-03-10T18:29:59Z, closed a second later.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::err::{Error, ErrorCode, Result};

/// The environment variable naming the zone batch days are counted in.
pub const TIMEZONE_VAR: &str = "PROVOST_BATCH_TIMEZONE";

/// The zone batch days are counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub zone: Tz,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar { zone: Tz::UTC }
    }
}

impl Calendar {
    /// The zone `PROVOST_BATCH_TIMEZONE` names (an IANA name like `Asia/Kolkata`), UTC when unset.
    pub fn from_env() -> crate::Result<Calendar> {
        match std::env::var(TIMEZONE_VAR) {
            Ok(name) if !name.trim().is_empty() => Calendar::named(name.trim())
                .map_err(|message| crate::Error::new(crate::ErrorCode::Usage, message)),
            _ => Ok(Calendar::default()),
        }
    }

    /// The zone of an IANA name.
    pub fn named(name: &str) -> std::result::Result<Calendar, String> {
        name.parse::<Tz>()
            .map(|zone| Calendar { zone })
            .map_err(|_| {
                format!("{TIMEZONE_VAR} `{name}` is not an IANA time zone (e.g. `Asia/Kolkata`)")
            })
    }

    /// The date it is in the zone at `instant`.
    pub fn date_at(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }

    /// Today's date in the zone.
    pub fn today(&self) -> NaiveDate {
        self.date_at(Utc::now())
    }
}

/// Where a batch is in its life: 0 upcoming, 1 in progress, 2 completed (Sunbird's numbers).
pub fn status(today: NaiveDate, start: NaiveDate, end: Option<NaiveDate>) -> u8 {
    if today < start {
        0
    } else if is_over(today, end) {
        2
    } else {
        1
    }
}

/// Whether a period ending on `last_day` (inclusive; none = never) is over `today`.
pub fn is_over(today: NaiveDate, last_day: Option<NaiveDate>) -> bool {
    last_day.is_some_and(|day| today > day)
}

/// Parses a `yyyy-MM-dd` date of field `field`; anything else is `DATE_FORMAT_ERRROR`.
pub fn parse(field: &str, text: &str) -> Result<NaiveDate> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten();
    date.ok_or_else(|| {
        Error::new(
            ErrorCode::BatchDateFormat,
            format!(
                "Date format error: `{field}` must be a date as yyyy-MM-dd, not `{}`",
                crate::access::truncate(text)
            ),
        )
    })
}

/// A stored date (written by `format`); a malformed one is a bug.
pub fn stored(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::internal(format!("stored batch date `{text}` is not yyyy-MM-dd")))
}

/// The `yyyy-MM-dd` text of a date.
pub fn format(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse("d", text).expect("date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    /// The end day in Asia/Kolkata (+05:30) lasts until 23:59:59 there, 18:29:59 UTC.
    #[test]
    fn a_day_ends_at_midnight_in_the_batch_zone() {
        let kolkata = Calendar::named("Asia/Kolkata").expect("zone");
        let end = Some(day("2026-03-10"));
        let last_second = kolkata.date_at(at("2026-03-10T18:29:59Z"));
        let next_second = kolkata.date_at(at("2026-03-10T18:30:00Z"));
        assert_eq!(status(last_second, day("2026-03-01"), end), 1);
        assert_eq!(status(next_second, day("2026-03-01"), end), 2);
        // In UTC the same instant is still the 10th.
        let utc = Calendar::default();
        assert_eq!(
            status(
                utc.date_at(at("2026-03-10T18:30:00Z")),
                day("2026-03-01"),
                end
            ),
            1
        );
        // And a batch starting on the 11th there has started at 18:30 UTC on the 10th.
        assert_eq!(status(next_second, day("2026-03-11"), None), 1);
        assert_eq!(status(last_second, day("2026-03-11"), None), 0);
    }

    #[test]
    fn only_yyyy_mm_dd_dates_parse() {
        assert_eq!(format(day("2026-02-28")), "2026-02-28");
        for bad in [
            "2026-2-28",
            "2026-02-30",
            "28-02-2026",
            "2026/02/28",
            "2026-02-28T00:00",
            "",
        ] {
            let e = parse("startDate", bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::BatchDateFormat, "{bad}");
        }
        assert!(Calendar::named("Mars/Olympus").is_err());
    }
}
