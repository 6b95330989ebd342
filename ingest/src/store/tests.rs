use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::TimestampMicrosecondType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use schemas::EventRow;

fn row(id: &str, stage_at: Option<i64>) -> EventRow {
    EventRow {
        source: "test".into(),
        audit_id: Some(id.to_string().into()),
        stage: Some("ResponseComplete".into()),
        verb: Some("get".into()),
        stage_at,
        ..EventRow::default()
    }
}

/// Each row as a batch of its own, in its partition.
fn flush_of(rows: Vec<EventRow>) -> Flush {
    let mut flush = Flush::default();
    for row in rows {
        let key = PartitionKey::new("prod", row.partition_time());
        let batch = schemas::batch::events_batch([&row]).unwrap();
        flush.events.entry(key).or_default().push(batch);
    }
    flush
}

/// The audit IDs of a file's rows, in file order.
fn audit_ids(reader: ParquetRecordBatchReaderBuilder<fs::File>) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let column = batch.column_by_name("audit_id").unwrap().as_string::<i32>();
        ids.extend(column.iter().map(|id| id.unwrap().to_string()));
    }
    ids
}

fn store_with_row_groups_of_two(dir: &Path) -> Store {
    let options = FileOptions {
        row_group_rows: 2,
        zstd_level: 3,
    };
    Store::open(dir, options).unwrap()
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn files_land_in_hive_partitions_sorted_by_stage_at() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_row_groups_of_two(dir.path());
    let hour = 3_600_000_000;
    let flush = flush_of(vec![
        row("c", Some(30)),
        row("a", Some(10)),
        row("x", Some(hour + 1)),
        row("b", Some(20)),
        row("n", None),
    ]);
    let stats = store.write(&flush, "w-1", Some(1)).unwrap();
    assert_eq!(stats.events, 5);
    let files = parquet_files(&dir.path().join("events"));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "events/cluster=prod/date=1970-01-01/hour=00/w-1.parquet",
            "events/cluster=prod/date=1970-01-01/hour=01/w-1.parquet"
        ]
    );
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&files[0]).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 2);
    let mut times = Vec::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let column = batch
            .column_by_name("stage_at")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        times.extend(column.iter());
    }
    // The row without stageTimestamp falls into received_at's partition (0) and sorts first.
    assert_eq!(times, vec![None, Some(10), Some(20), Some(30)]);
    assert_eq!(store.recover().unwrap(), 1, "the checkpoint advanced");
}

#[test]
fn an_interrupted_flush_is_undone_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), FileOptions::default()).unwrap();
    store
        .write(&flush_of(vec![row("a", Some(1))]), "w-1", Some(1))
        .unwrap();
    // A flush that wrote its intent and a file, then crashed before the checkpoint.
    let second = flush_of(vec![row("b", Some(2))]);
    let planned = store.planned_files(&second, "w-2");
    write_state(
        &store.intent_path(),
        &serde_json::to_vec(&Intent {
            lsn_end: 2,
            files: planned.clone(),
        })
        .unwrap(),
    )
    .unwrap();
    parquet::write_event_batches(
        &planned[0],
        second.events.values().next().unwrap(),
        &FileOptions::default(),
    )
    .unwrap();
    assert!(planned[0].exists());

    assert_eq!(store.recover().unwrap(), 1);
    assert!(!planned[0].exists(), "the interrupted flush's file is gone");
    assert!(!store.intent_path().exists());
    assert_eq!(parquet_files(&dir.path().join("events")).len(), 1);
}

#[test]
fn a_finished_flush_whose_intent_remained_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), FileOptions::default()).unwrap();
    let flush = flush_of(vec![row("a", Some(1))]);
    let planned = store.planned_files(&flush, "w-5");
    store.write(&flush, "w-5", Some(5)).unwrap();
    write_state(
        &store.intent_path(),
        &serde_json::to_vec(&Intent {
            lsn_end: 5,
            files: planned.clone(),
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(store.recover().unwrap(), 5);
    assert!(planned[0].exists());
}

#[test]
fn flushes_are_sorted_by_stage_at_keeping_the_order_of_equal_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_row_groups_of_two(dir.path());
    let batch = |rows: Vec<EventRow>| schemas::batch::events_batch(&rows).unwrap();
    let key = PartitionKey::new("prod", 0);
    let mut flush = Flush::default();
    flush.events.insert(
        key.clone(),
        vec![
            batch(vec![row("c", Some(30)), row("b1", Some(20))]),
            batch(vec![
                row("n", None),
                row("b2", Some(20)),
                row("a", Some(10)),
            ]),
        ],
    );
    flush.quarantine.insert(
        key,
        vec![QuarantineRow {
            source: "file".into(),
            received_at: 0,
            location: "input:3".into(),
            reason: "event is not valid JSON".into(),
            raw: "{".into(),
        }],
    );
    let stats = store.write(&flush, "i-1", None).unwrap();
    assert_eq!((stats.events, stats.quarantined, stats.files), (5, 1, 2));
    let file = dir
        .path()
        .join("events/cluster=prod/date=1970-01-01/hour=00/i-1.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&file).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 3);
    let ids = audit_ids(reader);
    assert_eq!(ids, ["n", "a", "b1", "b2", "c"]);
    assert!(dir
        .path()
        .join("quarantine/cluster=prod/date=1970-01-01/hour=00/i-1.parquet")
        .exists());
}

#[test]
fn batches_already_in_order_are_written_in_full_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_row_groups_of_two(dir.path());
    let batch = |rows: Vec<EventRow>| schemas::batch::events_batch(&rows).unwrap();
    let mut flush = Flush::default();
    flush.events.insert(
        PartitionKey::new("prod", 0),
        vec![
            batch(vec![row("n", None), row("a", Some(10)), row("b", Some(20))]),
            batch(vec![row("c", Some(20))]),
            batch(vec![row("d", Some(30))]),
        ],
    );
    let stats = store.write(&flush, "i-1", None).unwrap();
    assert_eq!(stats.events, 5);
    let file = dir
        .path()
        .join("events/cluster=prod/date=1970-01-01/hour=00/i-1.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&file).unwrap()).unwrap();
    let groups: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|group| group.num_rows())
        .collect();
    assert_eq!(groups, [2, 2, 1]);
    let ids = audit_ids(reader);
    assert_eq!(ids, ["n", "a", "b", "c", "d"]);
}
