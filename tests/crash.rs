//! Crash test: batches are sent while the server is killed with SIGKILL at random moments and
//! restarted. Every event that got a 200 must be stored exactly once; nothing is stored twice.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{event_list, http, query, Server};

const ROUNDS: usize = 8;
const CLIENTS: usize = 4;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_sigkill_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let acked = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let sent = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for round in 0..ROUNDS {
        // Small flush limits so kills land in every phase: WAL appends, flushes, checkpoints.
        let max_rows = (rng.usize(1..6) * 100).to_string();
        let max_age = rng.u64(20..400).to_string();
        let server = Server::start(
            data.path(),
            &[
                "--flush-max-rows",
                &max_rows,
                "--flush-max-age-ms",
                &max_age,
            ],
        );
        let url = server.url("/v1/audit?cluster=crash");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (url, acked, sent, stop) = (url.clone(), acked.clone(), sent.clone(), stop.clone());
            clients.push(tokio::spawn(async move {
                let http = http();
                let mut seq = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let prefix = format!("r{round}-c{client}-b{seq}");
                    seq += 1;
                    sent.lock().unwrap().insert(prefix.clone());
                    match http
                        .post(&url)
                        .body(event_list(&prefix, BATCH))
                        .send()
                        .await
                    {
                        Ok(response) if response.status().as_u16() == 200 => {
                            acked.lock().unwrap().insert(prefix);
                        }
                        Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                        Err(_) => break,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(50..1200))).await;
        tokio::task::spawn_blocking(move || server.kill())
            .await
            .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for client in clients {
            client.await.unwrap();
        }
    }
    // A last clean start replays the WAL; SIGTERM flushes everything.
    let server = Server::start(data.path(), &[]);
    tokio::task::spawn_blocking(move || server.terminate_cleanly())
        .await
        .unwrap();

    let rows = query(
        data.path(),
        "SELECT audit_id, count(*) AS n FROM events WHERE cluster = 'crash' GROUP BY audit_id",
    );
    let mut stored = BTreeMap::new();
    for row in rows {
        stored.insert(
            row["audit_id"].as_str().unwrap().to_string(),
            row["n"].as_u64().unwrap(),
        );
    }
    let acked = acked.lock().unwrap();
    let sent = sent.lock().unwrap();
    assert!(
        acked.len() > ROUNDS,
        "the test must get acknowledgements, got {}",
        acked.len()
    );
    for prefix in acked.iter() {
        for i in 0..BATCH {
            let id = format!("{prefix}-{i}");
            assert_eq!(
                stored.get(&id),
                Some(&1),
                "acknowledged event {id} must be stored exactly once"
            );
        }
    }
    for (id, count) in &stored {
        assert_eq!(*count, 1, "event {id} stored {count} times");
        let prefix = id.rsplit_once('-').unwrap().0;
        assert!(sent.contains(prefix), "stored event {id} was never sent");
    }
    let unacked_stored = stored.len() - acked.len() * BATCH;
    println!("{} batches acknowledged, {} sent, {unacked_stored} events stored without an acknowledgement (durable before the answer was lost)", acked.len(), sent.len());
}
