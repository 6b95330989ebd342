//! Logging setup: JSON lines on stderr by default, text for people; `RUST_LOG` filters.
//!
//! Warnings and errors repeat when something stays broken (a sink down, a disk full): each
//! place in the code that logs them writes at most [`BURST`] lines per [`WINDOW`]; the rest
//! are dropped and counted (`auditlens_log_messages_suppressed_total` on `/metrics`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::DynFilterFn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// Lines one call site may write per [`WINDOW`] at warning level or above.
pub const BURST: u32 = 10;
/// The period [`BURST`] applies to.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Warnings and errors dropped by the rate limit, for `/metrics`.
pub static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Per call site: the start of its window and the lines written in it.
#[derive(Default)]
struct RateLimit(Mutex<HashMap<Identifier, (Instant, u32)>>);

impl RateLimit {
    fn allow(&self, metadata: &Metadata<'_>, now: Instant) -> bool {
        if !metadata.is_event() || *metadata.level() > Level::WARN {
            return true;
        }
        let mut sites = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = sites.entry(metadata.callsite()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 <= BURST {
            true
        } else {
            SUPPRESSED.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let limit = RateLimit::default();
    // Only warnings and errors are decided event by event; everything else keeps the level
    // filter's cached decision per call site.
    let rate_limit = DynFilterFn::new(move |metadata, _| limit.allow(metadata, Instant::now()))
        .with_callsite_filter(|metadata| {
            if metadata.is_event() && *metadata.level() <= Level::WARN {
                tracing::subscriber::Interest::sometimes()
            } else {
                tracing::subscriber::Interest::always()
            }
        });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(rate_limit).with_filter(filter))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_site_writes_a_burst_per_window_and_the_rest_is_counted() {
        let limit = RateLimit::default();
        let start = Instant::now();
        // One warning call site's metadata.
        let metadata = tracing::Metadata::new(
            "warn",
            "test",
            Level::WARN,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&SITE)),
            tracing::metadata::Kind::EVENT,
        );
        let before = SUPPRESSED.load(Ordering::Relaxed);
        let allowed = (0..25).filter(|_| limit.allow(&metadata, start)).count();
        assert_eq!(allowed, BURST as usize);
        assert_eq!(SUPPRESSED.load(Ordering::Relaxed) - before, 15);
        assert!(limit.allow(&metadata, start + WINDOW));
    }

    struct Site;
    static SITE: Site = Site;
    impl tracing::Callsite for Site {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unimplemented!("not registered")
        }
    }
}
