//! WAL segment files: frames of `[payload length u32][crc32 u32][lsn u64][payload]`, named by
//! the first LSN they hold (`00000000000000000042.wal`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const FRAME_HEADER: usize = 16;
const EXTENSION: &str = "wal";

/// A segment file and the first LSN it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub first_lsn: u64,
    pub path: PathBuf,
}

/// The segments in `dir`, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let first_lsn = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok());
        if let Some(first_lsn) = first_lsn {
            segments.push(Segment { first_lsn, path });
        }
    }
    segments.sort_by_key(|segment| segment.first_lsn);
    Ok(segments)
}

pub fn path_for(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:020}.{EXTENSION}"))
}

fn checksum(lsn: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one frame to `out`.
pub fn encode_frame(out: &mut Vec<u8>, lsn: u64, payload: &[u8]) {
    // A payload is bounded by the request body limit, far below u32::MAX.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(lsn, payload).to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The frames of a segment's bytes, and where the valid part ends.
pub struct Frames<'a> {
    pub records: Vec<(u64, &'a [u8])>,
    /// Length of the prefix made of whole, intact frames.
    pub valid_len: usize,
    /// Why reading stopped before the end, if it did.
    pub damage: Option<&'static str>,
}

pub fn read_frames(bytes: &[u8]) -> Frames<'_> {
    let mut records = Vec::new();
    let mut at = 0;
    let mut damage = None;
    while at < bytes.len() {
        if bytes.len() - at < FRAME_HEADER {
            damage = Some("incomplete frame header");
            break;
        }
        let header = &bytes[at..at + FRAME_HEADER];
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let mut lsn_bytes = [0u8; 8];
        lsn_bytes.copy_from_slice(&header[8..16]);
        let lsn = u64::from_le_bytes(lsn_bytes);
        let start = at + FRAME_HEADER;
        if bytes.len() - start < len {
            damage = Some("incomplete frame");
            break;
        }
        let payload = &bytes[start..start + len];
        if checksum(lsn, payload) != crc {
            damage = Some("checksum mismatch");
            break;
        }
        records.push((lsn, payload));
        at = start + len;
    }
    Frames {
        records,
        valid_len: at,
        damage,
    }
}

/// Opens a segment for appending, creating it (and making its name durable) if needed.
pub fn open_for_append(dir: &Path, first_lsn: u64) -> io::Result<File> {
    let path = path_for(dir, first_lsn);
    let existed = path.exists();
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    if !existed {
        file.sync_all()?;
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Makes renames and new names in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Cuts a segment back to its valid prefix (a torn write at the end).
pub fn truncate(path: &Path, len: usize) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len as u64)?;
    file.sync_all()
}

/// Writes `bytes` and waits until they are on disk.
pub fn write_durably(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_torn_tails_are_found() {
        let mut bytes = Vec::new();
        encode_frame(&mut bytes, 7, b"hello");
        encode_frame(&mut bytes, 8, b"");
        let whole = bytes.len();
        encode_frame(&mut bytes, 9, b"world");
        let frames = read_frames(&bytes);
        assert_eq!(
            frames.records,
            vec![(7, &b"hello"[..]), (8, &b""[..]), (9, &b"world"[..])]
        );
        assert_eq!(frames.damage, None);

        let torn = read_frames(&bytes[..bytes.len() - 2]);
        assert_eq!(torn.records.len(), 2);
        assert_eq!(torn.valid_len, whole);
        assert_eq!(torn.damage, Some("incomplete frame"));

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(read_frames(&flipped).damage, Some("checksum mismatch"));
    }
}
