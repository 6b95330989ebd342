//! The store on S3-compatible object storage, for `serve --role writer`: the same
//! `events/` and `quarantine/` tables under `cluster=…/date=…/hour=…` below a bucket prefix.
//! Each file is encoded in memory (a flush is bounded by the batch limits) and uploaded with one
//! PUT, which makes it visible whole or not at all; a retried upload under the same name
//! replaces the object.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{parquet, FileOptions, Flush, FlushStats, PartitionKey, StoreError};

/// Where and how files are uploaded.
#[derive(Debug, Clone)]
pub struct ObjectTarget {
    store: Arc<dyn ObjectStore>,
    url: String,
    prefix: ObjectPath,
    options: FileOptions,
}

fn object_error(location: &str) -> impl FnOnce(object_store::Error) -> StoreError + '_ {
    move |error| StoreError::Object {
        location: location.to_string(),
        message: error.to_string(),
    }
}

impl ObjectTarget {
    /// The target for `url` (`s3://BUCKET[/PREFIX]`). Credentials, region and endpoint come from
    /// the standard `AWS_*` environment variables; `settings` (`aws_endpoint=…`,
    /// `aws_allow_http=true`, `aws_region=…`, …) override them.
    pub fn s3(
        url: &str,
        settings: &[(String, String)],
        options: FileOptions,
    ) -> Result<ObjectTarget, StoreError> {
        let invalid = |message: String| StoreError::Object {
            location: url.to_string(),
            message,
        };
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| invalid("the URL must start with s3:// (s3://BUCKET/PREFIX)".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("the URL names no bucket".into()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in settings {
            let key: AmazonS3ConfigKey = key.parse().map_err(|_| {
                invalid(format!(
                    "unknown storage setting {key:?} (expected an object_store S3 key such as aws_endpoint, aws_region, aws_allow_http)"
                ))
            })?;
            builder = builder.with_config(key, value);
        }
        let store = builder.build().map_err(|e| invalid(e.to_string()))?;
        let prefix = ObjectPath::parse(prefix.trim_end_matches('/'))
            .map_err(|e| invalid(format!("invalid prefix: {e}")))?;
        Ok(ObjectTarget {
            store: Arc::new(store),
            url: url.trim_end_matches('/').to_string(),
            prefix,
            options,
        })
    }

    /// A target on any object store (tests, other back ends).
    pub fn new(store: Arc<dyn ObjectStore>, url: &str, prefix: ObjectPath) -> ObjectTarget {
        ObjectTarget {
            store,
            url: url.to_string(),
            prefix,
            options: FileOptions::default(),
        }
    }

    /// The URL files go under, for logs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Lists the prefix once, so wrong credentials, a missing bucket or an unreachable
    /// endpoint are reported at start rather than at the first flush.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map(|_| ())
            .map_err(object_error(&self.url))
    }

    fn location(&self, table: &str, key: &PartitionKey, name: &str) -> ObjectPath {
        let mut path = self.prefix.clone().join(table);
        for part in key.parts() {
            path = path.join(part.as_str());
        }
        path.join(name)
    }

    /// Uploads every partition of `flush` as one object named `STEM.parquet`.
    pub async fn write(&self, flush: &Flush, stem: &str) -> Result<FlushStats, StoreError> {
        let name = format!("{stem}.parquet");
        let mut stats = FlushStats::default();
        for (key, batches) in &flush.events {
            let location = self.location("events", key, &name);
            let bytes = self
                .encode(batches, |batches, options| {
                    parquet::encode_event_batches(Vec::new(), batches, options)
                })
                .await?;
            stats.bytes += self.put(&location, bytes).await?;
            stats.events += super::rows_of(batches);
            stats.files += 1;
        }
        for (key, rows) in &flush.quarantine {
            let location = self.location("quarantine", key, &name);
            let bytes = self
                .encode(rows, |rows, options| {
                    parquet::encode_quarantine(Vec::new(), rows, options)
                })
                .await?;
            stats.bytes += self.put(&location, bytes).await?;
            stats.quarantined += rows.len() as u64;
            stats.files += 1;
        }
        Ok(stats)
    }

    /// Runs `encode` over a copy of `rows` on a blocking thread (compression is CPU work); the
    /// rows stay in the flush whatever happens, for a retry.
    async fn encode<T: Clone + Send + 'static>(
        &self,
        rows: &[T],
        encode: fn(&mut Vec<T>, &FileOptions) -> Result<Vec<u8>, StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        let mut rows = rows.to_vec();
        let options = self.options.clone();
        tokio::task::spawn_blocking(move || encode(&mut rows, &options))
            .await
            .map_err(|e| StoreError::Encode(e.to_string()))?
    }

    /// A small state object under `PREFIX/_state/`; `None` when it does not exist.
    pub async fn read_state(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let location = self.prefix.clone().join("_state").join(name);
        match self.store.get(&location).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|bytes| Some(bytes.to_vec()))
                .map_err(object_error(location.as_ref())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(object_error(location.as_ref())(error)),
        }
    }

    /// Writes (or, with `None`, deletes) a state object under `PREFIX/_state/`.
    pub async fn write_state(&self, name: &str, bytes: Option<Vec<u8>>) -> Result<(), StoreError> {
        let location = self.prefix.clone().join("_state").join(name);
        match bytes {
            Some(bytes) => self.put(&location, bytes).await.map(|_| ()),
            None => match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(object_error(location.as_ref())(error)),
            },
        }
    }

    async fn put(&self, location: &ObjectPath, bytes: Vec<u8>) -> Result<u64, StoreError> {
        let size = bytes.len() as u64;
        self.store
            .put(location, PutPayload::from(bytes))
            .await
            .map_err(object_error(location.as_ref()))?;
        Ok(size)
    }
}
