//! Suppression of repeated alerts: per rule and dedup key, an alert within the rule's
//! suppression period of the last one admitted (by alert time) is dropped and counted.

use std::collections::HashMap;
use std::time::Duration;

/// Keys remembered at most; beyond it the oldest half is forgotten.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;

#[derive(Debug, Default)]
pub struct Dedup {
    last: HashMap<(String, String), i64>,
    max_keys: usize,
}

impl Dedup {
    pub fn new(max_keys: usize) -> Self {
        Dedup {
            last: HashMap::new(),
            max_keys: max_keys.max(2),
        }
    }

    /// True when an alert of `rule` with `key` at `time` (µs) may go out; it then becomes the
    /// last one of its key.
    pub fn admit(&mut self, rule: &str, key: &str, time: i64, suppress: Duration) -> bool {
        let suppress = i64::try_from(suppress.as_micros()).unwrap_or(i64::MAX);
        let slot = (rule.to_string(), key.to_string());
        if let Some(last) = self.last.get(&slot) {
            if time.abs_diff(*last) <= suppress.unsigned_abs() {
                return false;
            }
        }
        if self.last.len() >= self.max_keys {
            self.forget_oldest_half();
        }
        self.last.insert(slot, time);
        true
    }

    /// Remembers an alert that went out before (e.g. read back from the alert log at start).
    pub fn remember(&mut self, rule: &str, key: &str, time: i64) {
        let slot = (rule.to_string(), key.to_string());
        let entry = self.last.entry(slot).or_insert(time);
        *entry = (*entry).max(time);
    }

    /// Forgets keys last seen before `before` (µs).
    pub fn prune(&mut self, before: i64) {
        self.last.retain(|_, time| *time >= before);
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    fn forget_oldest_half(&mut self) {
        let mut times: Vec<i64> = self.last.values().copied().collect();
        let middle = times.len() / 2;
        let (_, median, _) = times.select_nth_unstable(middle);
        let median = *median;
        self.prune(median);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_period_are_suppressed() {
        let mut dedup = Dedup::new(10);
        let ten_minutes = Duration::from_secs(600);
        let minute = 60_000_000;
        assert!(dedup.admit("r", "alice", 0, ten_minutes));
        assert!(!dedup.admit("r", "alice", 5 * minute, ten_minutes));
        assert!(dedup.admit("r", "bob", 5 * minute, ten_minutes));
        assert!(dedup.admit("other", "alice", 5 * minute, ten_minutes));
        assert!(dedup.admit("r", "alice", 11 * minute, ten_minutes));
        // `0s` keeps out exact repeats only.
        assert!(dedup.admit("z", "k", 1, Duration::ZERO));
        assert!(!dedup.admit("z", "k", 1, Duration::ZERO));
        assert!(dedup.admit("z", "k", 2, Duration::ZERO));
    }

    #[test]
    fn memory_is_bounded() {
        let mut dedup = Dedup::new(100);
        for i in 0..1000 {
            dedup.admit("r", &i.to_string(), i, Duration::from_secs(1));
        }
        assert!(dedup.len() <= 100);
    }
}
