//! A latency histogram with fixed log-linear buckets: exact below 128 µs, within 1/64 above, bounded memory.

use std::time::Duration;

/// Sub-buckets per power of two (2^6 = 64): the relative bucket width is at most 1/64.
const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Values below this are counted exactly, one bucket each.
const EXACT_LIMIT: u64 = 2 * SUB_BUCKETS;
/// Largest recorded value's bit length; larger values (over 19 hours) are clamped.
const MAX_BITS: u32 = 36;
const MAX_VALUE_US: u64 = (1 << MAX_BITS) - 1;
const BUCKETS: usize =
    (EXACT_LIMIT + (MAX_BITS - SUB_BUCKET_BITS - 1) as u64 * SUB_BUCKETS) as usize;

/// Counts of latencies in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max_us: 0,
        }
    }
}

fn bucket_of(value_us: u64) -> usize {
    if value_us < EXACT_LIMIT {
        return value_us as usize;
    }
    let bits = u64::BITS - value_us.leading_zeros();
    let shift = bits - 1 - SUB_BUCKET_BITS;
    let sub = (value_us >> shift) - SUB_BUCKETS;
    (EXACT_LIMIT + u64::from(shift - 1) * SUB_BUCKETS + sub) as usize
}

/// The largest value that falls into `bucket`.
fn upper_bound(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT_LIMIT {
        return bucket;
    }
    let shift = (bucket - EXACT_LIMIT) / SUB_BUCKETS + 1;
    let sub = (bucket - EXACT_LIMIT) % SUB_BUCKETS;
    ((SUB_BUCKETS + sub) << shift) + (1 << shift) - 1
}

impl Histogram {
    pub fn record(&mut self, latency: Duration) {
        let value_us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_VALUE_US);
        self.counts[bucket_of(value_us)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(value_us);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> Option<Duration> {
        (self.total > 0).then(|| Duration::from_micros(self.max_us))
    }

    /// The nearest-rank `quantile` (0.5 for p50, 0.999 for p99.9), rounded up to its bucket's end.
    pub fn quantile(&self, quantile: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((quantile * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros(upper_bound(bucket).min(self.max_us)));
            }
        }
        Some(Duration::from_micros(self.max_us))
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(values: impl IntoIterator<Item = u64>) -> Histogram {
        let mut histogram = Histogram::default();
        for value in values {
            histogram.record(Duration::from_micros(value));
        }
        histogram
    }

    fn micros(histogram: &Histogram, quantile: f64) -> u64 {
        histogram.quantile(quantile).expect("not empty").as_micros() as u64
    }

    #[test]
    fn small_values_are_exact() {
        let histogram = filled(1..=100);
        assert_eq!(micros(&histogram, 0.5), 50);
        assert_eq!(micros(&histogram, 0.99), 99);
        assert_eq!(micros(&histogram, 0.999), 100);
        assert_eq!(histogram.max(), Some(Duration::from_micros(100)));
        assert_eq!(histogram.count(), 100);
    }

    #[test]
    fn large_values_are_within_a_sixty_fourth() {
        let histogram = filled((1..=100_000).map(|value| value * 10));
        for (quantile, exact) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let found = micros(&histogram, quantile) as f64;
            assert!(
                found >= exact && found <= exact * (1.0 + 1.0 / 64.0),
                "q{quantile}: {found} vs {exact}"
            );
        }
        assert_eq!(micros(&histogram, 1.0), 1_000_000);
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_contains_it() {
        for value in (0..5_000).chain([1 << 20, (1 << 20) + 12_345, MAX_VALUE_US]) {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS, "{value}");
            assert!(upper_bound(bucket) >= value, "{value}");
            assert!(bucket == 0 || upper_bound(bucket - 1) < value, "{value}");
        }
    }

    #[test]
    fn empty_merge_and_outliers() {
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut histogram = filled([1_000; 999]);
        histogram.merge(&filled([2_000_000]));
        assert_eq!(micros(&histogram, 0.5), 1_007);
        assert_eq!(micros(&histogram, 0.999), 1_007);
        assert_eq!(micros(&histogram, 0.9999), 2_000_000);
        assert_eq!(histogram.max(), Some(Duration::from_micros(2_000_000)));
    }
}
