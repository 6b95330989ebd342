//! What `bench ingest` prints: the machine, the parameters and the figures, as text or one JSON object.

use std::time::Duration;

use serde_json::json;

use super::load::LoadStats;

/// The host the benchmark ran on.
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_bytes: Option<u64>,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|line| {
                line.starts_with("model name")
                    || line.starts_with("Model")
                    || line.starts_with("Hardware")
            })
            .and_then(|line| line.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024);
        Machine {
            cpu_model,
            cores,
            memory_bytes,
        }
    }
}

/// The run's settings as reported.
pub struct Parameters {
    pub url: String,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub batch_size: usize,
    pub bodies: usize,
    pub mean_body_bytes: u64,
    pub seed: u64,
    /// Offered events per second (`--rate`); `None` when sending as fast as answered.
    pub rate: Option<u64>,
}

/// Figures about the server process, when the benchmark started it.
pub struct ServerFigures {
    pub data_dir: String,
    /// The data dir was created for this run and removed after it.
    pub temporary: bool,
    pub peak_rss_bytes: u64,
    pub shutdown_flush: Duration,
    pub store_bytes: u64,
    /// Events the server stored but could not run the rules on (its detection was behind).
    pub detect_skipped: Option<u64>,
    /// Detection rules the server ran (0: detection off, e.g. no rules directory where it
    /// started); `None` when it did not say.
    pub rules_running: Option<u64>,
}

pub struct Report {
    pub machine: Machine,
    pub parameters: Parameters,
    pub load: LoadStats,
    pub server: Option<ServerFigures>,
    /// Alert latency, when probes ran.
    pub probes: Option<super::probes::ProbeStats>,
}

fn ms(duration: Option<Duration>) -> Option<f64> {
    duration.map(|d| (d.as_secs_f64() * 1_000_000.0).round() / 1_000.0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn show_ms(duration: Option<Duration>) -> String {
    ms(duration).map_or_else(|| "n/a".to_owned(), |value| format!("{value:.1} ms"))
}

impl Report {
    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.parameters.duration.as_secs_f64()
    }

    fn mean_event_bytes(&self) -> f64 {
        self.parameters.mean_body_bytes as f64 / self.parameters.batch_size.max(1) as f64
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (load, p) = (&self.load, &self.parameters);
        let latency = &load.latency;
        let server = self.server.as_ref().map(|server| {
            json!({
                "data_dir": server.data_dir,
                "data_dir_removed": server.temporary,
                "peak_rss_bytes": server.peak_rss_bytes,
                "shutdown_flush_secs": server.shutdown_flush.as_secs_f64(),
                "store_bytes": server.store_bytes,
                "detect_events_skipped": server.detect_skipped,
                "rules_running": server.rules_running,
            })
        });
        json!({
            "machine": {
                "cpu_model": self.machine.cpu_model,
                "cores": self.machine.cores,
                "memory_bytes": self.machine.memory_bytes,
            },
            "parameters": {
                "url": p.url,
                "connections": p.connections,
                "duration_secs": p.duration.as_secs_f64(),
                "warmup_secs": p.warmup.as_secs_f64(),
                "batch_size": p.batch_size,
                "bodies": p.bodies,
                "mean_body_bytes": p.mean_body_bytes,
                "seed": p.seed,
                "rate": p.rate,
            },
            "results": {
                "events_per_sec": self.per_second(load.accepted_events),
                "requests_per_sec": self.per_second(load.ok_requests),
                "mib_per_sec": (mib((self.per_second(load.accepted_events) * self.mean_event_bytes()) as u64) * 10.0).round() / 10.0,
                "accepted_events": load.accepted_events,
                "quarantined_events": load.quarantined_events,
                "ok_requests": load.ok_requests,
                "latency_ms": {
                    "p50": ms(latency.quantile(0.5)),
                    "p99": ms(latency.quantile(0.99)),
                    "p99_9": ms(latency.quantile(0.999)),
                    "max": ms(latency.max()),
                },
                "status_429": load.status_429,
                "errors": load.errors,
                "first_error": load.first_error,
            },
            "server": server,
            "alert_latency": self.probes.as_ref().map(|probes| json!({
                "probes_acknowledged": probes.sent,
                "alerts_received": probes.received,
                "p50_ms": ms(probes.latency.quantile(0.5)),
                "p99_ms": ms(probes.latency.quantile(0.99)),
                "max_ms": ms(probes.latency.max()),
            })),
        })
    }

    pub fn to_text(&self) -> String {
        let (load, p, machine) = (&self.load, &self.parameters, &self.machine);
        let memory = machine.memory_bytes.map_or_else(
            || "unknown".to_owned(),
            |bytes| format!("{:.1} GiB", mib(bytes) / 1024.0),
        );
        let events_per_sec = self.per_second(load.accepted_events);
        let mut lines = vec![
            format!("machine:     {}, {} cores, {memory} RAM", machine.cpu_model, machine.cores),
            format!("target:      {}", p.url),
            format!(
                "parameters:  {} connections, {} events/batch ({} distinct bodies, mean {:.0} KiB), {} s warm-up, {} s measured, seed {}",
                p.connections,
                p.batch_size,
                p.bodies,
                p.mean_body_bytes as f64 / 1024.0,
                p.warmup.as_secs_f64(),
                p.duration.as_secs_f64(),
                p.seed
            ) + &p
                .rate
                .map(|rate| format!(", offered {rate} events/s"))
                .unwrap_or_default(),
            format!(
                "throughput:  {events_per_sec:.0} events/s accepted ({:.1} MiB/s), {:.1} requests/s; {} events accepted, {} quarantined",
                mib((events_per_sec * self.mean_event_bytes()) as u64),
                self.per_second(load.ok_requests),
                load.accepted_events,
                load.quarantined_events
            ),
            format!(
                "latency:     p50 {}, p99 {}, p99.9 {}, max {} (successful requests)",
                show_ms(load.latency.quantile(0.5)),
                show_ms(load.latency.quantile(0.99)),
                show_ms(load.latency.quantile(0.999)),
                show_ms(load.latency.max())
            ),
            format!("rejections:  {} answers 429, {} errors", load.status_429, load.errors),
        ];
        if let Some(error) = &load.first_error {
            lines.push(format!("first error: {error}"));
        }
        if let Some(server) = &self.server {
            lines.push(format!(
                "server:      peak RSS {:.1} MiB, shutdown flush {:.2} s, {:.1} MiB on disk after shutdown ({})",
                mib(server.peak_rss_bytes),
                server.shutdown_flush.as_secs_f64(),
                mib(server.store_bytes),
                if server.temporary { "temporary dir, removed" } else { &server.data_dir }
            ));
            if server.rules_running == Some(0) {
                lines.push("detection:   off (the server ran no rules: --no-rules, or no rules directory where it started)".to_string());
            } else {
                let mut parts = Vec::new();
                if let Some(rules) = server.rules_running {
                    parts.push(format!("{rules} rules running"));
                }
                if let Some(skipped) = server.detect_skipped {
                    parts.push(format!("{skipped} events stored without running the rules on them (detection behind)"));
                }
                if !parts.is_empty() {
                    lines.push(format!("detection:   {}", parts.join("; ")));
                }
            }
        }
        if let Some(probes) = &self.probes {
            lines.push(format!(
                "alerts:      {} of {} probe alerts reached the sink; webhook 200 to sink p50 {}, p99 {}, max {}",
                probes.received,
                probes.sent,
                show_ms(probes.latency.quantile(0.5)),
                show_ms(probes.latency.quantile(0.99)),
                show_ms(probes.latency.max())
            ));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_report_has_the_figures() {
        let mut load = LoadStats {
            ok_requests: 10,
            accepted_events: 4_000,
            ..LoadStats::default()
        };
        load.latency.record(Duration::from_millis(5));
        let report = Report {
            machine: Machine {
                cpu_model: "cpu".to_owned(),
                cores: 2,
                memory_bytes: Some(1 << 30),
            },
            parameters: Parameters {
                url: "http://127.0.0.1:1/v1/audit".to_owned(),
                connections: 8,
                duration: Duration::from_secs(2),
                warmup: Duration::from_secs(1),
                batch_size: 400,
                bodies: 64,
                mean_body_bytes: 520_000,
                seed: 1,
                rate: None,
            },
            load,
            server: None,
            probes: None,
        };
        let json = report.to_json();
        assert_eq!(json["results"]["events_per_sec"], 2_000.0);
        assert_eq!(json["results"]["requests_per_sec"], 5.0);
        assert_eq!(json["results"]["latency_ms"]["max"], 5.0);
        assert!(json["server"].is_null());
        assert!(report.to_text().contains("2000 events/s"));

        // The text says whether the measured server ran the rules.
        let server = |rules_running| ServerFigures {
            data_dir: "/tmp/x".to_owned(),
            temporary: true,
            peak_rss_bytes: 1 << 20,
            shutdown_flush: Duration::from_millis(10),
            store_bytes: 0,
            detect_skipped: Some(3),
            rules_running,
        };
        let mut report = report;
        report.server = Some(server(Some(0)));
        assert!(report.to_text().contains("detection:   off"));
        report.server = Some(server(Some(118)));
        let text = report.to_text();
        assert!(text.contains("detection:   118 rules running; 3 events stored without"));
        assert_eq!(report.to_json()["server"]["rules_running"], 118);
    }
}
