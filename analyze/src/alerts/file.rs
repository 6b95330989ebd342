//! The file sink: alerts as JSON Lines, rotated by size (`alerts.jsonl`, `alerts.jsonl.1`, …),
//! keeping a set number of old files.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use schemas::Alert;

use super::sink::{Sink, SinkError};

/// Rotate once the file holds this many bytes, unless configured otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Old files kept, unless configured otherwise.
pub const DEFAULT_KEEP: usize = 5;

pub struct FileSink {
    pub path: PathBuf,
    pub max_bytes: u64,
    pub keep: usize,
}

impl FileSink {
    fn rotated(&self, index: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{index}"));
        PathBuf::from(name)
    }

    fn rotate(&self) -> std::io::Result<()> {
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        for index in (1..self.keep).rev() {
            let from = self.rotated(index);
            if from.exists() {
                std::fs::rename(&from, self.rotated(index + 1))?;
            }
        }
        std::fs::rename(&self.path, self.rotated(1))
    }

    fn write(&self, alerts: &[Alert]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size > 0 && size >= self.max_bytes {
            self.rotate()?;
        }
        let mut text = Vec::new();
        for alert in alerts {
            serde_json::to_writer(&mut text, alert)?;
            text.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&text)?;
        file.sync_data()
    }
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        "file"
    }

    async fn deliver(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        let path = self.path.display().to_string();
        tokio::task::block_in_place(|| self.write(alerts))
            .map_err(|e| SinkError::Transient(format!("cannot write {path}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn files_rotate_and_old_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let mut sink = FileSink {
            path: path.clone(),
            max_bytes: 10,
            keep: 2,
        };
        let alert = crate::alerts::log::tests_support::alert(1);
        for _ in 0..5 {
            sink.deliver(std::slice::from_ref(&alert)).await.unwrap();
        }
        assert!(path.exists());
        assert!(dir.path().join("alerts.jsonl.1").exists());
        assert!(dir.path().join("alerts.jsonl.2").exists());
        assert!(!dir.path().join("alerts.jsonl.3").exists());
        let line = std::fs::read_to_string(&path).unwrap();
        let back: Alert = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(back, alert);
    }
}
