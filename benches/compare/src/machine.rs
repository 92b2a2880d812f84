//! The machine a bench ran on, printed above every table: the date (UTC),
//! the CPU (model name, family and model), its vector extensions, the
//! number of cores and the rustc that built the bench.
//!
//! Call [`print`] before a table, or [`Machine::markdown`] to embed the
//! block in a file.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The rustc that compiled this package (`rustc -V`, captured by build.rs).
pub const RUSTC: &str = env!("COMPARE_RUSTC_VERSION");

/// What a reader needs to place a table: when, on what, built by what.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `/proc/cpuinfo`'s `model name`, or the architecture elsewhere.
    pub cpu: String,
    /// `family F model M` (x86), or empty.
    pub family: String,
    /// The vector extensions present, in the order of width: on x86_64
    /// SSE2 … AVX2, AVX-512 and its subsets; on aarch64 NEON, SVE.
    pub vector: Vec<&'static str>,
    /// Logical cores this process may use.
    pub cores: usize,
    /// `rustc -V` of the build.
    pub rustc: &'static str,
}

impl Machine {
    /// Reads the machine now.
    pub fn detect() -> Self {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find(|line| line.split(':').next().map(str::trim) == Some(name))
                .and_then(|line| line.split_once(':'))
                .map(|(_, value)| value.trim().to_string())
        };
        let cpu = field("model name")
            .or_else(|| field("Model"))
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let family = match (field("cpu family"), field("model")) {
            (Some(family), Some(model)) => format!("family {family} model {model}"),
            _ => String::new(),
        };
        Machine {
            date: utc_now(),
            cpu,
            family,
            vector: vector_extensions(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rustc: RUSTC,
        }
    }

    /// The block as Markdown lines, for a results file.
    pub fn markdown(&self) -> String {
        self.to_string()
    }

    /// The block as `(key, value)` pairs, for a machine-readable file.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("date", self.date.clone()),
            ("cpu", self.cpu.clone()),
            ("family", self.family.clone()),
            ("vector", self.vector.join(" ")),
            ("cores", self.cores.to_string()),
            ("rustc", self.rustc.to_string()),
        ]
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "- date: {}", self.date)?;
        if self.family.is_empty() {
            writeln!(f, "- CPU: `{}`", self.cpu)?;
        } else {
            writeln!(f, "- CPU: `{}`, {}", self.cpu, self.family)?;
        }
        let vector = if self.vector.is_empty() {
            "none detected".to_string()
        } else {
            self.vector.join(", ")
        };
        writeln!(f, "- vector extensions: {vector}")?;
        writeln!(f, "- cores: {}", self.cores)?;
        writeln!(f, "- rustc: {}", self.rustc)
    }
}

/// Prints the machine block, then a blank line.
pub fn print() -> Machine {
    let machine = Machine::detect();
    println!("{machine}");
    machine
}

/// The vector extensions this CPU has, by run-time detection.
#[allow(unused_mut)]
fn vector_extensions() -> Vec<&'static str> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let checks: [(bool, &'static str); 14] = [
            (has!("sse2"), "SSE2"),
            (has!("ssse3"), "SSSE3"),
            (has!("sse4.1"), "SSE4.1"),
            (has!("sse4.2"), "SSE4.2"),
            (has!("avx"), "AVX"),
            (has!("avx2"), "AVX2"),
            (has!("avx512f"), "AVX-512F"),
            (has!("avx512bw"), "AVX-512BW"),
            (has!("avx512vl"), "AVX-512VL"),
            (has!("avx512dq"), "AVX-512DQ"),
            (has!("avx512cd"), "AVX-512CD"),
            (has!("avx512vbmi"), "AVX-512VBMI"),
            (has!("avx512vbmi2"), "AVX-512VBMI2"),
            (has!("avx512bitalg"), "AVX-512BITALG"),
        ];
        found.extend(checks.iter().filter(|(on, _)| *on).map(|&(_, name)| name));
    }
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::is_aarch64_feature_detected as has;
        if has!("neon") {
            found.push("NEON");
        }
        if has!("sve") {
            found.push("SVE");
        }
        if has!("sve2") {
            found.push("SVE2");
        }
    }
    found
}

/// The current time as `YYYY-MM-DD HH:MM UTC`, from the system clock.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Year, month, day of a count of days since 1970-01-01 (the proleptic
/// Gregorian calendar; eras of 400 years, March-based years).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{Machine, civil_from_days};

    #[test]
    fn block_names_the_machine() {
        let machine = Machine::detect();
        println!("{machine}");
        assert!(machine.rustc.starts_with("rustc "), "{}", machine.rustc);
        assert!(machine.cores >= 1);
        assert!(machine.date.ends_with(" UTC"));
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert!(machine.vector.contains(&"SSE2"), "x86_64 always has SSE2");
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
