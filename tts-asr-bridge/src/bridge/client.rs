//! Clients of the bridge that implement [`Tts`] and [`Asr`].
//!
//! Each holds one `reqwest::Client` (a connection pool) and a per-request
//! time limit. Wrap [`RemoteTts`] in a [`CachedTts`](crate::tts::CachedTts)
//! so each media server also keeps its own prompts.

use std::sync::Arc;
use std::time::Duration;

use super::wire::{ErrorBody, GRAMMAR_HEADER, TtsRequest, ascii_json};
use crate::BoxFuture;
use crate::asr::{Asr, Grammar, Recognition, SAMPLE_RATE};
use crate::audio::{Audio, decode_wav, encode_wav};
use crate::error::{Error, Result};
use crate::tts::Tts;
use crate::voice::Voice;

/// The shared part of both clients.
#[derive(Debug, Clone)]
struct Endpoint {
    http: reqwest::Client,
    base: String,
}

impl Endpoint {
    fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Remote {
                url: base_url.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Endpoint {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a 2xx answer's body, or the bridge's error.
    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<bytes::Bytes> {
        let transport = |e: reqwest::Error| Error::Remote {
            url: url.to_owned(),
            detail: e.to_string(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(body);
        }
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(error) => error.into_error(url),
            Err(_) => Error::Remote {
                url: url.to_owned(),
                detail: format!("status {status}"),
            },
        })
    }
}

/// Speech synthesis by a remote bridge.
#[derive(Debug, Clone)]
pub struct RemoteTts {
    endpoint: Endpoint,
}

impl RemoteTts {
    /// A client of the bridge at `base_url` (such as `http://speech1:8790`).
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        Ok(RemoteTts {
            endpoint: Endpoint::new(base_url, timeout)?,
        })
    }

    async fn run(&self, text: &str, voice: &Voice) -> Result<Audio> {
        let url = self.endpoint.url("/v1/tts");
        let request = TtsRequest {
            text: text.to_owned(),
            voice: voice.clone(),
        };
        let body = self
            .endpoint
            .send(&url, self.endpoint.http.post(&url).json(&request))
            .await?;
        decode_wav(&body)
    }
}

impl Tts for RemoteTts {
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>> {
        Box::pin(self.run(text, voice))
    }

    fn engine_id(&self) -> String {
        format!("bridge {}", self.endpoint.base)
    }
}

/// Speech recognition by a remote bridge.
#[derive(Debug, Clone)]
pub struct RemoteAsr {
    endpoint: Endpoint,
}

impl RemoteAsr {
    /// A client of the bridge at `base_url`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        Ok(RemoteAsr {
            endpoint: Endpoint::new(base_url, timeout)?,
        })
    }

    async fn run(&self, grammar: &Grammar, samples: &[i16]) -> Result<Recognition> {
        let url = self.endpoint.url("/v1/asr?endpoint=false");
        let header = ascii_json(grammar).map_err(|e| Error::Grammar(e.to_string()))?;
        let request = self
            .endpoint
            .http
            .post(&url)
            .header(GRAMMAR_HEADER, header)
            .header(reqwest::header::CONTENT_TYPE, "audio/wav")
            .body(encode_wav(SAMPLE_RATE, samples));
        let body = self.endpoint.send(&url, request).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Remote {
            url,
            detail: format!("unreadable answer: {e}"),
        })
    }

    async fn run_check(&self, grammar: &Grammar) -> Result<()> {
        let url = self.endpoint.url("/v1/grammar/check");
        self.endpoint
            .send(&url, self.endpoint.http.post(&url).json(grammar))
            .await?;
        Ok(())
    }
}

impl Asr for RemoteAsr {
    fn check<'a>(&'a self, grammar: &'a Grammar) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.run_check(grammar))
    }

    fn recognize(
        &self,
        grammar: Arc<Grammar>,
        samples: Vec<i16>,
    ) -> BoxFuture<'_, Result<Recognition>> {
        Box::pin(async move { self.run(&grammar, &samples).await })
    }
}
