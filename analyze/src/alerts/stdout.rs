//! The stdout sink: one alert JSON object per line.

use async_trait::async_trait;
use schemas::Alert;
use tokio::io::AsyncWriteExt;

use super::sink::{Sink, SinkError};

pub struct StdoutSink;

#[async_trait]
impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    async fn deliver(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        let mut text = Vec::new();
        for alert in alerts {
            serde_json::to_writer(&mut text, alert)
                .map_err(|e| SinkError::Permanent(e.to_string()))?;
            text.push(b'\n');
        }
        let mut stdout = tokio::io::stdout();
        stdout
            .write_all(&text)
            .await
            .map_err(|e| SinkError::Transient(format!("cannot write to stdout: {e}")))?;
        stdout
            .flush()
            .await
            .map_err(|e| SinkError::Transient(format!("cannot write to stdout: {e}")))
    }
}
