//! Live call progress: `GET /api/v1/calls/events[?call_id=ID]&token=T` is a
//! WebSocket of [`CallEvent`](crate::call::CallEvent)s as JSON text messages:
//! the prompts a caller is about to hear, the IVR trail as it is written, and
//! the end of the call (then the contact record is saved). With `call_id` (the
//! SIP Call-ID) only that call's events come; without, every call's. The first
//! message, `{"event":"subscribed"}`, says that nothing sent after it will be
//! missed: a caller subscribes before sending its INVITE and hears the first
//! prompt. For the roles that may read contact history.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::{ApiError, AppState, bearer};

/// The live call routes, to merge into the API router.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/calls/events", get(events_ws))
}

/// Query of `GET /api/v1/calls/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Only this call (its SIP Call-ID).
    pub call_id: Option<String>,
    /// The API token (browsers cannot set headers on a WebSocket).
    pub token: Option<String>,
}

async fn events_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let token = q
        .token
        .as_deref()
        .map(str::trim)
        .or_else(|| bearer(&headers));
    s.users.authorize(token, crate::auth::HISTORY_READERS)?;
    let events = s.call_events.subscribe();
    Ok(ws.on_upgrade(move |socket| follow(socket, events, q.call_id)))
}

async fn follow(
    mut socket: WebSocket,
    mut events: tokio::sync::broadcast::Receiver<crate::call::CallEvent>,
    call_id: Option<String>,
) {
    let hello = serde_json::json!({ "event": "subscribed", "call_id": call_id });
    if socket.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            // Cancel-safe: broadcast::Receiver::recv.
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if call_id.as_deref().is_some_and(|c| c != ev.call_id) {
                        continue;
                    }
                    let text = serde_json::to_string(&ev).unwrap_or_default();
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let text = serde_json::json!({ "event": "lagged", "missed": n }).to_string();
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            // Cancel-safe: WebSocket::recv. Anything the client sends is ignored;
            // a close or an error ends the subscription.
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
