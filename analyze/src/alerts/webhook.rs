//! The HTTP webhook sink: each alert POSTed as JSON. 2xx is delivered; 408, 429, 5xx and
//! connection errors are retried; any other status means the receiver refuses the alert.

use std::time::Duration;

use async_trait::async_trait;
use schemas::Alert;

use super::sink::{Sink, SinkError};

/// How long one POST may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    bearer_token: Option<String>,
}

impl WebhookSink {
    pub fn new(url: &str, bearer_token: Option<String>, timeout: Duration) -> Result<Self, String> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| format!("invalid webhook URL `{url}`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("invalid webhook URL `{url}`: use http or https"));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(WebhookSink {
            client,
            url: url.to_string(),
            bearer_token,
        })
    }
}

#[async_trait]
impl Sink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    /// One alert per POST, so that a refused alert is dead-lettered alone.
    fn batch_size(&self) -> usize {
        1
    }

    async fn deliver(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        for alert in alerts {
            let mut request = self.client.post(&self.url).json(alert);
            if let Some(token) = &self.bearer_token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .map_err(|e| SinkError::Transient(format!("POST {}: {e}", self.url)))?;
            let status = response.status();
            if status.is_success() {
                continue;
            }
            let reason = format!("POST {} answered {status}", self.url);
            let retry = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT;
            return Err(if retry {
                SinkError::Transient(reason)
            } else {
                SinkError::Permanent(reason)
            });
        }
        Ok(())
    }
}
