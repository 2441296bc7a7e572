//! The bridge's HTTP server (axum).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::wire::{ErrorBody, GRAMMAR_HEADER, TtsRequest};
use crate::asr::endpoint::{Endpoint, EndpointConfig, SAMPLE_RATE, endpoint_recording};
use crate::asr::{Asr, Grammar, Recognition};
use crate::audio::decode_wav;
use crate::error::Error;
use crate::tts::Tts;

/// Largest request body: a minute of 48 kHz stereo WAV.
const BODY_LIMIT: usize = 12 << 20;

/// The engines a bridge serves.
#[derive(Clone)]
pub struct BridgeState {
    /// Speech synthesis (usually a cached espeak-ng).
    pub tts: Arc<dyn Tts>,
    /// Speech recognition (usually pooled pocketsphinx).
    pub asr: Arc<dyn Asr>,
    /// End-pointing of uploaded recordings.
    pub endpoint: EndpointConfig,
}

impl std::fmt::Debug for BridgeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeState")
            .field("tts", &self.tts.engine_id())
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The bridge's routes over these engines.
pub fn router(state: BridgeState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/tts", post(tts))
        .route("/v1/asr", post(asr))
        .route("/v1/grammar/check", post(check))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves the bridge on `listener` until `shutdown` completes; requests in
/// progress are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: BridgeState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// An error answer.
struct Failure(Error);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (body, client_fault) = ErrorBody::from_error(&self.0);
        let status = match &self.0 {
            Error::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            _ if client_fault => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_GATEWAY,
        };
        if client_fault {
            tracing::debug!(error = %self.0, "bridge request refused");
        } else {
            tracing::warn!(error = %self.0, "bridge request failed");
        }
        (status, axum::Json(body)).into_response()
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(e)
    }
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn tts(State(state): State<BridgeState>, body: Bytes) -> Result<Response, Failure> {
    let request: TtsRequest = serde_json::from_slice(&body)
        .map_err(|e| Error::InvalidText(format!("the request is not TTS JSON: {e}")))?;
    let audio = state.tts.synthesize(&request.text, &request.voice).await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], audio.to_wav()).into_response())
}

#[derive(Debug, Deserialize)]
struct AsrQuery {
    endpoint: Option<bool>,
}

async fn asr(
    State(state): State<BridgeState>,
    Query(query): Query<AsrQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Recognition>, Failure> {
    let grammar = headers
        .get(GRAMMAR_HEADER)
        .ok_or_else(|| Error::Grammar(format!("the `{GRAMMAR_HEADER}` header is missing")))?;
    let grammar: Grammar = serde_json::from_slice(grammar.as_bytes()).map_err(|e| {
        Error::Grammar(format!(
            "the `{GRAMMAR_HEADER}` header is not a grammar: {e}"
        ))
    })?;
    let audio = decode_wav(&body)?;
    // Resampling a long upload is CPU work: keep it off the executor.
    let samples = tokio::task::spawn_blocking(move || audio.resampled(SAMPLE_RATE))
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
        .samples
        .to_vec();
    let samples = if query.endpoint.unwrap_or(true) {
        match endpoint_recording(&samples, state.endpoint) {
            Endpoint::NoInput => return Ok(axum::Json(Recognition::NoInput)),
            Endpoint::Speech { samples, .. } => samples,
        }
    } else {
        samples
    };
    let result = state.asr.recognize(Arc::new(grammar), samples).await?;
    Ok(axum::Json(result))
}

async fn check(State(state): State<BridgeState>, body: Bytes) -> Result<StatusCode, Failure> {
    let grammar: Grammar = serde_json::from_slice(&body)
        .map_err(|e| Error::Grammar(format!("the request is not a grammar: {e}")))?;
    state.asr.check(&grammar).await?;
    Ok(StatusCode::NO_CONTENT)
}
