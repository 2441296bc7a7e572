//! Live call progress: `GET /api/v1/calls/events[?call_id=ID]` is a
//! WebSocket of [`CallEvent`](crate::call::CallEvent)s as JSON text messages:
//! the prompts a caller is about to hear, the IVR trail as it is written, and
//! the end of the call (then the contact record is saved). With `call_id` (the
//! SIP Call-ID) only that call's events come; without, every call's. The first
//! message, `{"event":"subscribed"}`, says that nothing sent after it will be
//! missed: a caller subscribes before sending its INVITE and hears the first
//! prompt. For the roles that may read contact history, opened like the
//! other WebSockets ([`cti`](crate::api::cti)): `Authorization: Bearer` or a
//! one-time `ticket`, never a token in the URL, from an allowed origin.
//!
//! A subscription is network input and output like any other route, so each is
//! bounded: the credentials are checked before the upgrade, at most
//! [`MAX_LISTENERS`](crate::call::progress::MAX_LISTENERS) listen at once (503
//! beyond), a Call-ID longer than [`MAX_CALL_ID`] is refused, messages from the
//! client are capped at [`MAX_CLIENT_MESSAGE`] bytes, a listener that does not
//! take a message within [`SEND_LIMIT`] is dropped, and a subscription ends
//! after [`MAX_FOLLOW`] (a client that still wants events subscribes again).

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::{ApiError, AppState};
use crate::call::progress::Listener;

/// The longest Call-ID accepted, in bytes (SIP Call-IDs are far shorter).
pub const MAX_CALL_ID: usize = 256;
/// The largest message a client may send, in bytes: clients have nothing to
/// say but close.
pub const MAX_CLIENT_MESSAGE: usize = 1024;
/// How long one message may wait for a listener that does not read.
pub const SEND_LIMIT: Duration = Duration::from_secs(10);
/// How long one subscription lasts at most.
pub const MAX_FOLLOW: Duration = Duration::from_secs(4 * 3600);

/// The live call routes, to merge into the API router.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/calls/events", get(events_ws))
}

/// Query of `GET /api/v1/calls/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Only this call (its SIP Call-ID).
    pub call_id: Option<String>,
    /// A one-time ticket from `POST /api/v1/ws-tickets` (browsers cannot set
    /// headers on a WebSocket).
    pub ticket: Option<String>,
    /// An API token: not taken in the URL, named only to say so.
    pub token: Option<String>,
}

async fn events_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
    // Taken as a result so that a request without valid credentials hears
    // 401, whatever else is wrong with it.
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let credentials = crate::api::cti::WsQuery {
        agent: None,
        ticket: q.ticket.clone(),
        token: q.token.clone(),
    };
    crate::api::cti::ws_user(&s, &headers, &credentials, crate::auth::HISTORY_READERS)?;
    if q.call_id.as_ref().is_some_and(|c| c.len() > MAX_CALL_ID) {
        return Err(ApiError::invalid(format!(
            "call_id is longer than {MAX_CALL_ID} bytes"
        )));
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return Ok(e.into_response()),
    };
    let Some(listener) = s.call_events.subscribe() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many listeners; try again later",
        ));
    };
    Ok(crate::api::bounded_websocket(ws, MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| follow(socket, listener, q.call_id)))
}

/// Sends `text`, unless the listener does not take it within [`SEND_LIMIT`].
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_LIMIT, socket.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

async fn follow(mut socket: WebSocket, mut listener: Listener, call_id: Option<String>) {
    let hello = serde_json::json!({ "event": "subscribed", "call_id": call_id });
    if !send(&mut socket, hello.to_string()).await {
        return;
    }
    let until = tokio::time::Instant::now() + MAX_FOLLOW;
    loop {
        tokio::select! {
            // Cancel-safe: broadcast::Receiver::recv.
            ev = listener.events.recv() => match ev {
                Ok(ev) => {
                    if call_id.as_deref().is_some_and(|c| c != ev.call_id) {
                        continue;
                    }
                    let text = serde_json::to_string(&ev).unwrap_or_default();
                    if !send(&mut socket, text).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let text = serde_json::json!({ "event": "lagged", "missed": n }).to_string();
                    if !send(&mut socket, text).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            // Cancel-safe: WebSocket::recv. Anything the client sends is ignored;
            // a close, an error or an oversized message ends the subscription.
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            // Cancel-safe: a sleep.
            _ = tokio::time::sleep_until(until) => {
                let _ = tokio::time::timeout(SEND_LIMIT, socket.send(Message::Close(None))).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
