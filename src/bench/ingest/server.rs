//! The server under test as a child process: `auditlens serve` on a free port, stopped with SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// How long the server may take to answer `/livez` after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);
/// How long the server may take to flush and exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(300);
const EXIT_POLL: Duration = Duration::from_millis(5);
/// Lines of the server's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 30;

/// A running `auditlens serve`; dropping it kills the server and removes a temporary data dir.
pub struct ServerProcess {
    child: Child,
    port: u16,
    data_dir: PathBuf,
    remove_data_dir: bool,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts this executable's `serve` on a free loopback port, with `data_dir` or a fresh temp dir.
    pub fn start(data_dir: Option<&Path>, extra_args: &[String]) -> anyhow::Result<Self> {
        let (data_dir, remove_data_dir) = match data_dir {
            Some(dir) => (dir.to_path_buf(), false),
            None => (fresh_temp_dir()?, true),
        };
        let port = free_port()?;
        let exe = std::env::current_exe().context("locating the auditlens executable")?;
        let mut child = Command::new(&exe)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--log-format", "text"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting `{} serve`", exe.display()))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            // Drains the pipe so the server never blocks on logging; keeps the last lines.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let Ok(mut tail) = tail.lock() else { return };
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        Ok(ServerProcess {
            child,
            port,
            data_dir,
            remove_data_dir,
            stderr_tail,
        })
    }

    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/audit", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn is_temporary(&self) -> bool {
        self.remove_data_dir
    }

    /// The server's last stderr lines, for error messages.
    pub fn stderr_tail(&self) -> String {
        match self.stderr_tail.lock() {
            Ok(tail) => tail.iter().cloned().collect::<Vec<_>>().join("\n"),
            Err(_) => String::new(),
        }
    }

    /// Fails if the server has exited, with its stderr tail.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self
            .child
            .try_wait()
            .context("checking the server process")?
        {
            // Give the reader thread a moment to collect the last lines.
            std::thread::sleep(Duration::from_millis(100));
            bail!(
                "the server exited ({status}); its last stderr lines:\n{}",
                self.stderr_tail()
            );
        }
        Ok(())
    }

    /// Waits until `GET /livez` answers 200.
    pub async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/livez", self.port);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .context("building the HTTP client")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.check_running()?;
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == reqwest::StatusCode::OK {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "the server did not answer 200 on {url} within {}s; its last stderr lines:\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// How many detection rules the server runs (`GET /v1/rules`, state `ok`; the route is not
    /// there when detection is off); `None` when it could not be asked.
    pub async fn rules_running(&self) -> Option<u64> {
        let url = format!("http://127.0.0.1:{}/v1/rules", self.port);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let response = client.get(&url).send().await.ok()?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Some(0);
        }
        if !response.status().is_success() {
            return None;
        }
        let body: serde_json::Value = response.json().await.ok()?;
        let rules = body.get("rules")?.as_array()?;
        Some(
            rules
                .iter()
                .filter(|rule| rule.get("state").and_then(|s| s.as_str()) == Some("ok"))
                .count() as u64,
        )
    }

    /// Peak resident memory (`VmHWM`) so far, in bytes.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading `{path}`"))?;
        parse_vm_hwm(&status).with_context(|| format!("no `VmHWM` line in `{path}`"))
    }

    /// A count the server logged as `key=N` on its last line (`stopped`), once that line is
    /// read; `None` if it never came.
    pub fn logged_count(&self, key: &str) -> Option<u64> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            let found = self.stderr_tail.lock().ok().and_then(|tail| {
                let line = tail.iter().rev().find(|line| line.contains("stopped"))?;
                let (_, after) = line.split_once(&format!("{key}="))?;
                let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            });
            if found.is_some() {
                return found;
            }
            std::thread::sleep(EXIT_POLL);
        }
        None
    }

    /// Sends SIGTERM and waits for the exit; returns how long the shutdown flush took.
    pub fn stop(&mut self) -> anyhow::Result<Duration> {
        self.check_running()?;
        let asked = Instant::now();
        send_sigterm(self.child.id())?;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .context("waiting for the server to exit")?
            {
                let took = asked.elapsed();
                if !status.success() {
                    bail!(
                        "the server exited with {status} after SIGTERM; its last stderr lines:\n{}",
                        self.stderr_tail()
                    );
                }
                return Ok(took);
            }
            if asked.elapsed() > SHUTDOWN_TIMEOUT {
                bail!(
                    "the server did not exit within {}s of SIGTERM",
                    SHUTDOWN_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(EXIT_POLL);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // Error path only: `stop` has already waited for a clean exit otherwise.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if self.remove_data_dir {
            if let Err(error) = std::fs::remove_dir_all(&self.data_dir) {
                tracing::warn!(dir = %self.data_dir.display(), %error, "could not remove the benchmark data dir");
            }
        }
    }
}

#[allow(unsafe_code)]
fn send_sigterm(pid: u32) -> anyhow::Result<()> {
    let pid = libc::pid_t::try_from(pid).context("the server's pid does not fit pid_t")?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; `pid` is our own child,
    // which has not been reaped yet (we reap it only through `Child::try_wait`/`wait`).
    let result = unsafe { libc::kill(pid, libc::SIGTERM) };
    if result != 0 {
        return Err(std::io::Error::last_os_error()).context("sending SIGTERM to the server");
    }
    Ok(())
}

/// Binds port 0 on loopback and releases it (the server binds it right after).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the free port")?
        .port())
}

fn fresh_temp_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("auditlens-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
    Ok(dir)
}

/// `VmHWM:   123456 kB` → bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Total size of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => total += dir_bytes(&entry.path()),
            Ok(_) => total += entry.metadata().map(|meta| meta.len()).unwrap_or(0),
            Err(_) => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        let status =
            "Name:\tauditlens\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(123_456 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn sums_a_directory_tree() {
        let dir = fresh_temp_dir().expect("a temp dir");
        std::fs::create_dir(dir.join("sub")).expect("a subdir");
        std::fs::write(dir.join("a"), [0u8; 10]).expect("a file");
        std::fs::write(dir.join("sub").join("b"), [0u8; 5]).expect("a file");
        assert_eq!(dir_bytes(&dir), 15);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
