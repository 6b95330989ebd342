//! A real S3-protocol server for tests: moto's `moto_server` (from PyPI, `pip install
//! 'moto[server]'`) as a child process on a free loopback port, and a client that lists and
//! reads what was stored.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, StringArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// Credentials the server accepts (moto takes any).
pub const KEY_ID: &str = "auditlens-test";
pub const SECRET: &str = "auditlens-test-secret";
pub const REGION: &str = "us-east-1";

/// A running S3 server, killed on drop.
pub struct S3Server {
    child: Child,
    pub addr: SocketAddr,
}

impl S3Server {
    /// Starts `moto_server` (or `$AUDITLENS_MOTO_SERVER`) and waits until it answers.
    pub fn start() -> S3Server {
        let addr = super::free_port();
        let program = std::env::var("AUDITLENS_MOTO_SERVER").unwrap_or("moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}); install it with `pip install 'moto[server]'` \
                     or set AUDITLENS_MOTO_SERVER"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server { child, addr }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates `bucket` (S3 `CreateBucket`).
    pub async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .expect("CreateBucket");
        assert!(
            response.status().is_success(),
            "CreateBucket: {}",
            response.status()
        );
    }

    /// The `--store-option` arguments that point the writer at this server.
    pub fn store_options(&self) -> Vec<String> {
        [
            format!("aws_endpoint={}", self.endpoint()),
            "aws_allow_http=true".into(),
            format!("aws_region={REGION}"),
            format!("aws_access_key_id={KEY_ID}"),
            format!("aws_secret_access_key={SECRET}"),
        ]
        .into_iter()
        .flat_map(|option| ["--store-option".to_string(), option])
        .collect()
    }

    pub fn client(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region(REGION)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .with_bucket_name(bucket)
            .build()
            .expect("an S3 client");
        Arc::new(store)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every object under `prefix` with the `audit_id`s of the Parquet file it holds.
pub async fn parquet_objects(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
) -> Vec<(String, Vec<String>)> {
    let prefix = ObjectPath::from(prefix);
    let metas: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .expect("list the bucket");
    let mut objects = Vec::new();
    for meta in metas {
        let bytes = store
            .get(&meta.location)
            .await
            .expect("get an object")
            .bytes()
            .await
            .expect("read an object");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap_or_else(|e| panic!("{} is not Parquet: {e}", meta.location))
            .build()
            .unwrap();
        let mut ids = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            if let Some(column) = batch.column_by_name("audit_id") {
                let column = column.as_any().downcast_ref::<StringArray>().unwrap();
                ids.extend((0..column.len()).map(|i| column.value(i).to_string()));
            }
        }
        objects.push((meta.location.to_string(), ids));
    }
    objects.sort();
    objects
}
