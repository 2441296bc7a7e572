//! SMS through an HTTP gateway, for providers that sell an HTTP API rather
//! than an SMPP account: each message is one `POST` of JSON
//! `{"to": …, "text": …, "id": …}` to the configured URL, with an optional
//! bearer token; a 2xx answer means accepted. The `id` is ours (the outbox
//! entry's), so a gateway that deduplicates by it turns a retry after a lost
//! answer into no second SMS. A `message_id` or `id` in the answer's JSON is
//! kept as the gateway's id.

use std::time::Duration;

/// Where the gateway is.
#[derive(Debug, Clone)]
pub struct HttpSmsConfig {
    /// The URL messages are posted to.
    pub url: String,
    /// Sent as `Authorization: Bearer TOKEN` when given.
    pub token: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

/// Why the gateway did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSmsError {
    /// The client could not be built (a TLS backend missing).
    #[error("HTTP gateway configuration: {0}")]
    Config(String),
    /// No answer: unreachable, timed out.
    #[error("the SMS gateway did not answer: {0}")]
    Unreachable(String),
    /// An answer other than 2xx.
    #[error("the SMS gateway answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}

impl HttpSmsError {
    /// Whether trying again cannot help: the gateway refused the request as
    /// malformed (4xx other than 408 and 429).
    pub fn is_permanent(&self) -> bool {
        matches!(self, HttpSmsError::Refused { status, .. }
            if (400..500).contains(status) && *status != 408 && *status != 429)
    }
}

/// Most bytes of an answer read (its id, or the start of an error).
const MAX_ANSWER: usize = 16 * 1024;

/// An HTTP SMS gateway.
#[derive(Debug, Clone)]
pub struct HttpSms {
    client: reqwest::Client,
    config: HttpSmsConfig,
}

impl HttpSms {
    /// A gateway client (connections are pooled).
    pub fn new(config: HttpSmsConfig) -> Result<HttpSms, HttpSmsError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| HttpSmsError::Config(e.to_string()))?;
        Ok(HttpSms { client, config })
    }

    /// Posts one message; returns the gateway's id when it gives one.
    pub async fn send(
        &self,
        id: &str,
        to: &str,
        text: &str,
    ) -> Result<Option<String>, HttpSmsError> {
        let mut request = self
            .client
            .post(&self.config.url)
            .json(&serde_json::json!({ "to": to, "text": text, "id": id }));
        if let Some(token) = &self.config.token {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| HttpSmsError::Unreachable(e.to_string()))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = MAX_ANSWER - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_ANSWER {
                break;
            }
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(HttpSmsError::Refused {
                status: status.as_u16(),
                body: text.chars().take(200).collect(),
            });
        }
        let gateway_id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                ["message_id", "id"].iter().find_map(|k| match v.get(k)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            });
        Ok(gateway_id)
    }
}
