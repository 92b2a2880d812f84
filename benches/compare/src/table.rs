//! What every table-printing bench shares: its settings from the
//! environment, the names of sizes, and medians of rounds.

use std::str::FromStr;

/// A comma-separated list from the environment variable `name`, or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .split(',')
            .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{name}: {v}")))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// A number from the environment variable `name`, or `default`.
pub fn env_number<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name).map_or(default, |v| {
        v.parse().unwrap_or_else(|_| panic!("{name}: {v}"))
    })
}

/// `16 B`, `1 KiB`, `64 KiB`.
pub fn size_name(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The median, NaN for no values.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median over rounds of `ours[i] / base[i]`.
pub fn ratio(ours: &[f64], base: &[f64]) -> f64 {
    median(ours.iter().zip(base).map(|(o, b)| o / b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        assert_eq!(ratio(&[2.0, 9.0, 4.0], &[1.0, 3.0, 1.0]), 3.0);
        assert_eq!(size_name(65536), "64 KiB");
        assert_eq!(size_name(70000), "70000 B");
    }
}
