use std::fs::OpenOptions;
use std::io::Write;

use super::record::{Record, RecordRef};
use super::*;

fn payload(cluster: &str, event: &str) -> Vec<u8> {
    RecordRef {
        cluster,
        source: "webhook",
        received_at: 1,
        events: &[event],
        quarantined: &[],
    }
    .encode()
}

fn replayed(dir: &Path, from: u64) -> (Vec<(u64, Record)>, ReplayStats, u64) {
    let mut seen = Vec::new();
    let (writer, stats) =
        WalWriter::open(dir, from, 1 << 20, |lsn, record| seen.push((lsn, record))).unwrap();
    (seen, stats, writer.next_lsn())
}

#[test]
fn appended_records_are_replayed_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _) = WalWriter::open(dir.path(), 0, 1 << 20, |_, _| {}).unwrap();
        assert_eq!(
            writer
                .append(&[payload("a", "1"), payload("b", "2")])
                .unwrap(),
            0
        );
        assert_eq!(writer.append(&[payload("c", "3")]).unwrap(), 2);
    }
    let (seen, stats, next) = replayed(dir.path(), 1);
    assert_eq!(
        seen.iter().map(|(lsn, _)| *lsn).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(seen[1].1.cluster, "c");
    assert_eq!(stats.records, 2);
    assert_eq!(next, 3);
}

#[test]
fn a_torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _) = WalWriter::open(dir.path(), 0, 1 << 20, |_, _| {}).unwrap();
        writer.append(&[payload("a", "1")]).unwrap();
    }
    let segment = segment::list(dir.path()).unwrap().pop().unwrap();
    OpenOptions::new()
        .append(true)
        .open(&segment.path)
        .unwrap()
        .write_all(&[9, 9, 9])
        .unwrap();
    let (seen, stats, next) = replayed(dir.path(), 0);
    assert_eq!(seen.len(), 1);
    assert_eq!(stats.torn_bytes, 3);
    assert_eq!(next, 1);
    {
        let (mut writer, _) = WalWriter::open(dir.path(), 0, 1 << 20, |_, _| {}).unwrap();
        writer.append(&[payload("b", "2")]).unwrap();
    }
    let (seen, stats, _) = replayed(dir.path(), 0);
    assert_eq!(seen.len(), 2);
    assert_eq!(stats.torn_bytes, 0);
}

#[test]
fn segments_rotate_and_old_ones_are_removed_after_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = WalWriter::open(dir.path(), 0, 10, |_, _| {}).unwrap();
    for i in 0..4 {
        writer.append(&[payload("a", &i.to_string())]).unwrap();
    }
    let firsts: Vec<u64> = segment::list(dir.path())
        .unwrap()
        .iter()
        .map(|s| s.first_lsn)
        .collect();
    assert_eq!(firsts, vec![0, 1, 2, 3]);
    assert_eq!(remove_segments_before(dir.path(), 2).unwrap(), 2);
    let firsts: Vec<u64> = segment::list(dir.path())
        .unwrap()
        .iter()
        .map(|s| s.first_lsn)
        .collect();
    assert_eq!(firsts, vec![2, 3]);
    // The newest segment stays even when everything is checkpointed.
    remove_segments_before(dir.path(), 100).unwrap();
    assert_eq!(segment::list(dir.path()).unwrap().len(), 1);
    drop(writer);
    let (_, _, next) = replayed(dir.path(), 100);
    assert_eq!(
        next, 100,
        "a checkpoint past the WAL's end moves the next LSN up"
    );
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = WalWriter::open(dir.path(), 0, 1 << 20, |_, _| {}).unwrap();
    assert!(matches!(
        WalWriter::open(dir.path(), 0, 1 << 20, |_, _| {}),
        Err(WalError::Locked(_))
    ));
}

#[test]
fn damage_before_the_last_segment_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _) = WalWriter::open(dir.path(), 0, 10, |_, _| {}).unwrap();
        writer.append(&[payload("a", "1")]).unwrap();
        writer.append(&[payload("a", "2")]).unwrap();
    }
    let first = segment::list(dir.path()).unwrap().remove(0);
    OpenOptions::new()
        .append(true)
        .open(&first.path)
        .unwrap()
        .write_all(&[1])
        .unwrap();
    let error = WalWriter::open(dir.path(), 0, 10, |_, _| {}).err().unwrap();
    assert!(matches!(error, WalError::Damaged { .. }), "{error}");
}
