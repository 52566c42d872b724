//! The server's CPU time per check: its user and system time (`/proc/PID/stat`, in clock ticks)
//! read before and after a load run of a fixed number of requests, divided by the checks asked.
//! The load generator shares the cores, so its wall-clock throughput says little of the server's
//! own cost; the server's CPU time does.

use serde::Deserialize;

/// What run.sh recorded around one oha run (`cpu-<endpoint>-<rate>.json`).
#[derive(Clone, Debug, Deserialize)]
pub struct CpuSample {
    /// Clock ticks per second (`getconf CLK_TCK`).
    pub clk_tck: u64,
    /// The server's `/proc/PID/stat` line before the run, and after.
    pub before: String,
    pub after: String,
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks. The command name (field 2) is in
/// parentheses and may hold spaces, so fields are counted from the last `)`: after it come state
/// (field 3) … utime (14) and stime (15).
pub fn busy_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

impl CpuSample {
    /// Microseconds of server CPU per check, over `checks` checks (requests × checks each).
    pub fn us_per_check(&self, checks: u64) -> Option<f64> {
        let before = busy_ticks(&self.before)?;
        let after = busy_ticks(&self.after)?;
        if checks == 0 || self.clk_tck == 0 || after < before {
            return None;
        }
        Some((after - before) as f64 * 1e6 / self.clk_tck as f64 / checks as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line's shape, with utime 1200 and stime 300 (fields 14 and 15).
    fn stat(utime: u64, stime: u64) -> String {
        format!(
            "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 1733 0 0 0 {utime} {stime} 0 0 20 0 \
             3 0 1 123456789 2345 18446744073709551615 1 1 0 0 0 0 0 4096 17987 0 0 0 17 1 0 0"
        )
    }

    #[test]
    fn ticks_are_read_past_a_command_name_with_spaces() {
        assert_eq!(busy_ticks(&stat(1200, 300)), Some(1500));
        assert_eq!(busy_ticks("4242 (provost) S 1"), None);
    }

    #[test]
    fn cpu_per_check_is_the_ticks_spent_over_the_checks() {
        // 4 s of CPU (400 ticks at 100 Hz) over 200 000 single checks: 20 µs each.
        let single = CpuSample {
            clk_tck: 100,
            before: stat(1200, 300),
            after: stat(1500, 400),
        };
        assert_eq!(single.us_per_check(200_000), Some(20.0));
        // The same CPU over 40 000 batches of 100 checks: 1 µs per check.
        assert_eq!(single.us_per_check(40_000 * 100), Some(1.0));
        assert_eq!(single.us_per_check(0), None);
        let backwards = CpuSample {
            clk_tck: 100,
            before: stat(1500, 400),
            after: stat(1200, 300),
        };
        assert_eq!(backwards.us_per_check(10), None);
    }
}
