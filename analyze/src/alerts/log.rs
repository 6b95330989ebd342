//! The alert log: every alert, appended and fsynced before any sink sees it. It is both the
//! outbox (each sink keeps a cursor into it and moves it only after delivery) and the store the
//! `alerts` table reads. Segments are JSON Lines files under `DATA_DIR/alerts/log/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use schemas::Alert;

/// A segment is closed once it holds this many bytes.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

const SEGMENT_SUFFIX: &str = ".jsonl";

/// A place in the log: a segment and a byte offset in it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// Why the alert log failed.
#[derive(Debug, thiserror::Error)]
#[error("alert log {path}: {source}")]
pub struct LogError {
    pub path: PathBuf,
    pub source: io::Error,
}

fn log_error(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError {
        path: path.to_path_buf(),
        source,
    }
}

/// `DATA_DIR/alerts/log`.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts").join("log")
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}{SEGMENT_SUFFIX}"))
}

/// Segment numbers present in `dir`, ascending.
pub fn segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(log_error(dir)(error)),
    };
    for entry in entries {
        let name = entry.map_err(log_error(dir))?.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push(number);
    }
    found.sort_unstable();
    Ok(found)
}

/// Appends alerts.
pub struct AlertLog {
    dir: PathBuf,
    segment: u64,
    file: File,
    len: u64,
    segment_bytes: u64,
}

impl AlertLog {
    /// Opens the log for appending, cutting a last line that a crash left unfinished.
    pub fn open(data_dir: &Path, segment_bytes: u64) -> Result<AlertLog, LogError> {
        let dir = log_dir(data_dir);
        fs::create_dir_all(&dir).map_err(log_error(&dir))?;
        let segment = segments(&dir)?.last().copied().unwrap_or(0);
        let path = segment_path(&dir, segment);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(log_error(&path))?;
        let len = complete_length(&mut file).map_err(log_error(&path))?;
        file.set_len(len).map_err(log_error(&path))?;
        Ok(AlertLog {
            dir,
            segment,
            file,
            len,
            segment_bytes: segment_bytes.max(1),
        })
    }

    /// Appends `alerts` and fsyncs; they are durable when this returns.
    pub fn append(&mut self, alerts: &[Alert]) -> Result<Position, LogError> {
        if self.len >= self.segment_bytes {
            self.roll()?;
        }
        let mut text = Vec::with_capacity(alerts.len() * 1024);
        for alert in alerts {
            // An `Alert` is plain data with string keys: it always serializes.
            serde_json::to_writer(&mut text, alert).expect("an alert serializes");
            text.push(b'\n');
        }
        let path = segment_path(&self.dir, self.segment);
        self.file.write_all(&text).map_err(log_error(&path))?;
        self.file.sync_data().map_err(log_error(&path))?;
        self.len += text.len() as u64;
        Ok(self.end())
    }

    /// Where the next alert will go.
    pub fn end(&self) -> Position {
        Position {
            segment: self.segment,
            offset: self.len,
        }
    }

    fn roll(&mut self) -> Result<(), LogError> {
        self.segment += 1;
        let path = segment_path(&self.dir, self.segment);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(log_error(&path))?;
        // The new file's directory entry must survive a crash too.
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(log_error(&self.dir))?;
        self.len = 0;
        Ok(())
    }
}

/// Length of the file up to and including its last newline.
fn complete_length(file: &mut File) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&mut *file);
    let (mut complete, mut line) = (0u64, Vec::new());
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(complete);
        }
        complete += read as u64;
    }
}

/// Reads alerts from a position onwards.
pub struct LogReader {
    dir: PathBuf,
}

impl LogReader {
    pub fn new(data_dir: &Path) -> LogReader {
        LogReader {
            dir: log_dir(data_dir),
        }
    }

    /// Up to `max` alerts after `from`, each with the position after it. Unreadable lines are
    /// skipped with a warning (a newer version's alert, a damaged disk); nothing blocks.
    pub fn read(&self, from: Position, max: usize) -> Result<Vec<(Alert, Position)>, LogError> {
        let mut found = Vec::new();
        for segment in segments(&self.dir)? {
            if segment < from.segment {
                continue;
            }
            let path = segment_path(&self.dir, segment);
            let mut file = File::open(&path).map_err(log_error(&path))?;
            let mut offset = if segment == from.segment {
                from.offset
            } else {
                0
            };
            file.seek(SeekFrom::Start(offset))
                .map_err(log_error(&path))?;
            let mut reader = BufReader::new(file);
            let mut line = Vec::new();
            while found.len() < max {
                line.clear();
                let read = reader
                    .read_until(b'\n', &mut line)
                    .map_err(log_error(&path))?;
                if read == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                offset += read as u64;
                let position = Position { segment, offset };
                match serde_json::from_slice::<Alert>(&line) {
                    Ok(alert) => found.push((alert, position)),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), offset, %error, "unreadable alert in the log; skipped")
                    }
                }
            }
            if found.len() >= max {
                break;
            }
        }
        Ok(found)
    }

    /// Every alert in the log.
    pub fn read_all(&self) -> Result<Vec<Alert>, LogError> {
        Ok(self
            .read(Position::default(), usize::MAX)?
            .into_iter()
            .map(|(alert, _)| alert)
            .collect())
    }
}

/// Where each sink is in the log: `DATA_DIR/alerts/cursors/<sink>.json`.
pub struct Cursor {
    path: PathBuf,
}

impl Cursor {
    pub fn new(data_dir: &Path, sink: &str) -> Cursor {
        Cursor {
            path: data_dir
                .join("alerts")
                .join("cursors")
                .join(format!("{sink}.json")),
        }
    }

    /// The saved position, or `None` for a sink that never delivered.
    pub fn load(&self) -> Result<Option<Position>, LogError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| log_error(&self.path)(io::Error::new(io::ErrorKind::InvalidData, e))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(log_error(&self.path)(error)),
        }
    }

    /// Saves `position` durably (write, fsync, rename).
    pub fn save(&self, position: Position) -> Result<(), LogError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(log_error(dir))?;
        let temp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec(&position).expect("a position serializes");
        let mut file = File::create(&temp).map_err(log_error(&temp))?;
        file.write_all(&text).map_err(log_error(&temp))?;
        file.sync_data().map_err(log_error(&temp))?;
        fs::rename(&temp, &self.path).map_err(log_error(&self.path))?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use schemas::{Alert, Priority, ALERT_SOURCE};

    pub fn alert(n: usize) -> Alert {
        Alert {
            uuid: format!("u{n}"),
            time: "2026-11-30T10:00:00.000000Z".into(),
            rule: "Rule".into(),
            priority: Priority::Warning,
            output: format!("alert {n}"),
            output_fields: Default::default(),
            source: ALERT_SOURCE.into(),
            tags: vec![],
            hostname: "h".into(),
            rule_id: "rule".into(),
            cluster: "c".into(),
            audit_ids: vec![format!("a{n}")],
            mitre: vec![],
            severity: Priority::Warning.severity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::alert;
    use super::*;

    #[test]
    fn appended_alerts_are_read_from_a_cursor_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AlertLog::open(dir.path(), 300).unwrap();
        for n in 0..5 {
            log.append(&[alert(n)]).unwrap();
        }
        let reader = LogReader::new(dir.path());
        let first = reader.read(Position::default(), 2).unwrap();
        assert_eq!(first.len(), 2);
        let rest = reader.read(first[1].1, 10).unwrap();
        let outputs: Vec<_> = rest.iter().map(|(a, _)| a.output.clone()).collect();
        assert_eq!(outputs, ["alert 2", "alert 3", "alert 4"]);
        assert!(segments(&log_dir(dir.path())).unwrap().len() > 1);

        let cursor = Cursor::new(dir.path(), "stdout");
        assert_eq!(cursor.load().unwrap(), None);
        cursor.save(first[1].1).unwrap();
        assert_eq!(cursor.load().unwrap(), Some(first[1].1));
    }

    #[test]
    fn a_torn_last_line_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AlertLog::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        log.append(&[alert(0)]).unwrap();
        drop(log);
        let path = segment_path(&log_dir(dir.path()), 0);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"uuid\":\"half").unwrap();
        let mut log = AlertLog::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        log.append(&[alert(1)]).unwrap();
        let all = LogReader::new(dir.path()).read_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].output, "alert 1");
    }
}
