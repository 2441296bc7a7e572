//! The HTTP API (axum): health, deploy, contacts, and the routes the ACD, the
//! workorder engine and live calls (`calls`) add. JSON in and out; errors are `{ "error": code, "message": ... }`
//! with a fitting status; every endpoint but health needs a token.
//!
//! - [`serve`]: the listener, with connection caps and time-outs.
//! - [`access`]: the token check before any body is read, WebSocket tickets and
//!   origins, signed summary links.
//! - [`cti`], [`workorders`]: the routes of the ACD and of workorders.
//! - [`login`]: signing in and out at a browser; [`recordings`]: finding and
//!   hearing recordings; [`reports`]: the statistics as CSV.
//! - [`web`]: the agent desk (`/`), the wallboard (`/wallboard`), the reports
//!   (`/reports`) and recordings (`/recordings`) pages, compiled into the
//!   binary, which sign in through [`login`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::{AuthError, SharedUsers};
use crate::config::Role;

pub mod access;
pub mod calls;
pub mod campaigns;
pub mod cti;
pub mod lists;
pub mod login;
pub mod notifications;
pub mod recordings;
pub mod reports;
pub mod serve;
pub mod web;
pub mod workorders;

use crate::deploy::ProgramSlot;
use crate::store::SharedStore;

/// An API error: HTTP status, a stable code, a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the response: 4xx for the client's mistakes, 5xx for ours.
    pub status: StatusCode,
    /// Stable code (`unauthorized`, `not_found`, `invalid`...).
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 400.
    pub fn invalid(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", what)
    }

    /// 500.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            what.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match e {
            AuthError::Unauthorized(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
            }
            AuthError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
        }
    }
}

/// The credential a request carries: a token in a header
/// ([`header_token`]), else the session cookie of a page signed in.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    header_token(headers).or_else(|| crate::login::cookie(headers, crate::login::SESSION_COOKIE))
}

/// The token a request carries in a header: `Authorization: Bearer TOKEN`, or
/// the `X-Dialect-Token` header for clients that cannot set `Authorization`.
pub(crate) fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .or_else(|| headers.get("x-dialect-token").and_then(|v| v.to_str().ok()))
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store, shared with the calls and the engines.
    pub store: SharedStore,
    /// API users by token; every route's role check asks them.
    pub users: SharedUsers,
    /// The running program, which `POST /api/v1/deploy` replaces.
    pub program: Arc<ProgramSlot>,
    /// Set once the server is ready to take calls.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// Live counters for metrics.
    pub stats: Arc<crate::stats::Stats>,
    /// The workorder engine, which makes every change to orders and tasks.
    pub workorders: crate::workorder::WorkorderHandle,
    /// The ACD (queues, agents, CTI); its routes are in [`cti`].
    pub acd: crate::acd::AcdHandle,
    /// Every call's live events, the same the call tasks send; its route is in
    /// [`calls`].
    pub call_events: crate::call::CallEvents,
    /// The outbound-call policy, asked before a desktop request that dials.
    pub outbound: std::sync::Arc<crate::outbound::OutboundPolicy>,
    /// WebSocket tickets and origins, summary signatures, uploads.
    pub access: Arc<access::Access>,
    /// The outbound dialer, which the campaign routes control.
    pub dialer: crate::dialer::DialerHandle,
    /// The ACD's events serialised once for every wallboard, started by the
    /// first one that opens.
    pub event_feed: Arc<std::sync::OnceLock<cti::feed::EventFeed>>,
    /// This runtime's place in a cluster (`None` alone): the health answer
    /// names the services it runs, a deploy is stored for the others, and the
    /// routes between runtimes check the cluster's secret.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// The state an API test serves: `users`, the program in `slot`, `acd`, a
/// started workorder engine, and everything else at its defaults.
#[cfg(test)]
pub(crate) async fn test_state(
    store: SharedStore,
    slot: Arc<ProgramSlot>,
    users: &[crate::config::ApiUser],
    acd: crate::acd::AcdHandle,
) -> AppState {
    AppState {
        store: store.clone(),
        users: Arc::new(crate::auth::Users::new(users)),
        program: slot.clone(),
        ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        stats: Arc::new(crate::stats::Stats::default()),
        workorders: crate::workorder::WorkorderHandle::start(
            store.clone(),
            slot.clone(),
            crate::time::PausableClock::system(),
        )
        .await
        .expect("workorders")
        .0,
        acd,
        outbound: crate::outbound::OutboundPolicy::new(
            &crate::config::Config::default(),
            Vec::new(),
            store.clone(),
            Arc::new(crate::stats::Stats::default()),
        ),
        access: Arc::new(access::Access::ephemeral()),
        dialer: crate::dialer::DialerHandle::idle(
            store,
            slot,
            Arc::new(crate::config::Config::default()),
        ),
        call_events: crate::call::CallEvents::new(4),
        event_feed: Default::default(),
        cluster: None,
    }
}

/// An API user for tests, with a token made from its name.
#[cfg(test)]
pub(crate) fn test_user(name: &str, role: &str) -> crate::config::ApiUser {
    crate::config::ApiUser {
        name: name.into(),
        token: format!("t-{name}-0123456789abcdef"),
        password: None,
        role: role.parse().expect("a role"),
        department: None,
        email: None,
        phone: None,
    }
}

/// The API's state on `store` with the hotline program (its ACD standing
/// alone, without a registrar) and `users`.
#[cfg(test)]
pub(crate) async fn hotline_state(
    store: SharedStore,
    users: &[crate::config::ApiUser],
) -> AppState {
    let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let bundle = crate::deploy::compile_project(&project).expect("the hotline compiles");
    let slot = Arc::new(
        ProgramSlot::new(
            &bundle,
            dialect_compiler::Engine::Native,
            std::collections::BTreeMap::new(),
        )
        .expect("a program"),
    );
    let (acd, _dials) = crate::acd::AcdHandle::spawn(
        dialect_acd::AcdConfig::default(),
        crate::acd::ProgramSource::Slot(slot.clone()),
        &[],
        store.clone(),
        None,
        tokio_util::sync::CancellationToken::new(),
    );
    test_state(store, slot, users, acd).await
}

/// The whole API over HTTP on a loopback port, on `store`, with the hotline
/// program and `users`; its address.
#[cfg(test)]
pub(crate) async fn serve_hotline(
    store: SharedStore,
    users: &[crate::config::ApiUser],
) -> std::net::SocketAddr {
    let state = hotline_state(store, users).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let app = router(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A WebSocket upgrade with this API's bounds: messages from the client of at
/// most `max_message` bytes, and a small read buffer. Tungstenite zeroes its
/// whole read buffer (128 KiB by default) each time a socket is polled for
/// input, which for hundreds of open wallboards was most of the server's work.
pub fn bounded_websocket(
    ws: axum::extract::ws::WebSocketUpgrade,
    max_message: usize,
) -> axum::extract::ws::WebSocketUpgrade {
    ws.read_buffer_size(4 * 1024)
        .max_message_size(max_message)
        .max_frame_size(max_message)
}

/// The API router. Every route but the open ones ([`access::require_credentials`])
/// needs a known token before its body is read.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/deploy", post(deploy))
        .route("/api/v1/program", get(program_info))
        .route("/api/v1/contacts", get(list_contacts))
        .route("/api/v1/contacts/{id}", get(get_contact))
        .route("/metrics", get(metrics))
        .merge(calls::routes())
        .merge(cti::routes())
        .merge(workorders::routes())
        .merge(lists::routes())
        .merge(campaigns::routes())
        .merge(login::routes())
        .merge(recordings::routes())
        .merge(reports::routes())
        .merge(notifications::routes())
        .merge(web::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::require_credentials,
        ))
        .with_state(state)
}

async fn health(State(s): State<AppState>) -> Response {
    if s.ready.load(std::sync::atomic::Ordering::SeqCst) {
        let mut body =
            serde_json::json!({ "status": "ok", "program_version": s.program.version() });
        // In a cluster: which runtime this is and which services it runs now.
        if let Some(c) = &s.cluster {
            body["cluster"] = serde_json::json!({ "node": c.me(), "runs": c.running() });
        }
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "starting" })),
        )
            .into_response()
    }
}

/// `POST /api/v1/deploy`: the user and role are checked before a byte of the
/// body is read; the bundle then streams into a temporary file in the data
/// folder (at most `http.max_bundle_size`), one deploy at a time, and is read
/// back only to load it.
async fn deploy(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Admin, Role::Analyst])?;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "a bundle may have at most {} bytes (http.max_bundle_size)",
                s.access.max_bundle_size
            ),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.access.max_bundle_size) {
        return Err(too_large());
    }
    let Ok(_one_at_a_time) = s.access.deploys.try_acquire() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "another deploy is in progress; try again when it is done",
        ));
    };
    let upload = receive_bundle(&s.access, body).await?;
    let Some(upload) = upload else {
        return Err(too_large());
    };
    let slot = s.program.clone();
    // In a cluster the bundle is stored for the other runtimes, which follow it.
    let shared = s.cluster.as_ref().map(|_| s.store.clone());
    let result = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(upload.path())?;
        drop(upload);
        let result = slot.deploy_bundle(&bytes);
        if let (Ok(_), Some(store)) = (&result, shared)
            && let Err(e) = crate::cluster::program::publish(&*store, &bytes)
        {
            return Err(std::io::Error::other(format!(
                "deployed on this runtime, but not stored for the others of the cluster: {e}"
            )));
        }
        Ok::<_, std::io::Error>(result)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    match result {
        Ok(info) => {
            crate::auth::audit(
                &s.store,
                &user,
                "deploy",
                &info.project,
                serde_json::to_value(&info).unwrap_or_default(),
            )
            .await;
            Ok((StatusCode::OK, Json(info)).into_response())
        }
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_bundle",
            e.to_string(),
        )),
    }
}

/// Streams a request body into a temporary file in the upload folder; `None`
/// when it grows past the bundle limit (the file is removed either way once
/// dropped).
pub(crate) async fn receive_bundle(
    access: &access::Access,
    body: axum::body::Body,
) -> Result<Option<tempfile::NamedTempFile>, ApiError> {
    spool(access, body.into_data_stream()).await
}

/// Streams chunks (a body, or one part of a multipart body) into a temporary
/// file in the upload folder; `None` past the bundle limit.
pub(crate) async fn spool<S, E>(
    access: &access::Access,
    mut stream: S,
) -> Result<Option<tempfile::NamedTempFile>, ApiError>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let dir = access.upload_dir.clone();
    let temp = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        tempfile::Builder::new()
            .prefix(".upload-")
            .suffix(".dlb")
            .tempfile_in(&dir)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
    let mut file = tokio::fs::File::from_std(
        temp.reopen()
            .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?,
    );
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the upload broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > access.max_bundle_size {
            return Ok(None);
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
    Ok(Some(temp))
}

async fn program_info(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    Ok(Json(s.program.current().info.clone()).into_response())
}

/// Query of `GET /api/v1/contacts`.
#[derive(Debug, Deserialize)]
pub struct ContactQuery {
    /// From (RFC 3339 or Unix ms).
    pub from: Option<String>,
    /// To (RFC 3339 or Unix ms).
    pub to: Option<String>,
    /// The caller's number.
    pub caller: Option<String>,
    /// The customer (contacts where the customer was identified).
    pub customer: Option<String>,
    /// Most records (default 100).
    pub limit: Option<usize>,
}

/// A period from `from` and `to` parameters (either may be left out: the
/// beginning, the end of time).
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    let from = from.map(parse_time).transpose()?.unwrap_or(0);
    let to = to.map(parse_time).transpose()?.unwrap_or(i64::MAX);
    Ok((from, to))
}

/// Reads a time parameter: Unix milliseconds or RFC 3339.
pub fn parse_time(s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::invalid(format!("`{s}` is not a time (Unix ms or RFC 3339)")))
}

async fn list_contacts(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ContactQuery>,
) -> Result<Response, ApiError> {
    s.users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let limit = q.limit.unwrap_or(100).min(10_000);
    let store = s.store.clone();
    let caller = q.caller.clone();
    let customer = q.customer.clone();
    let list = tokio::task::spawn_blocking(move || match customer {
        Some(c) => crate::contacts::query_by_customer(&*store, &c, from, to, limit),
        None => crate::contacts::query(&*store, from, to, caller.as_deref(), limit),
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(list).into_response())
}

async fn get_contact(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    s.users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    match crate::contacts::get(&*s.store, id)? {
        Some(c) => Ok(Json(c).into_response()),
        None => Err(ApiError::not_found(format!("there is no contact {id}"))),
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.stats.prometheus(),
    )
        .into_response()
}
