//! The ACD's HTTP and WebSocket API: the real-time view, statistics, agent
//! management, and CTI for agent desktops and supervisors (Q12–Q14).
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/v1/queues[?calls=true]` | agent, supervisor, quality_inspector, analyst | every queue now |
//! | `GET /api/v1/queues/{name}` | same | one queue with its waiting calls |
//! | `GET /api/v1/agents` | same | every agent now |
//! | `GET /api/v1/agents/{id}` | same | one agent |
//! | `POST /api/v1/agents` | supervisor | add or change an agent (`id`, `name`, `password`, `skills`, `auto_answer`); a `password` that breaks the rule gets 400; only its HA1 is stored |
//! | `DELETE /api/v1/agents/{id}` | supervisor | remove an agent |
//! | `POST /api/v1/agents/{id}/{op}` | the agent (user name = agent id), supervisor | a CTI operation, body = its fields |
//! | `GET/PUT/DELETE /api/v1/calls/{call}/data` | an agent on the call, supervisor | call data |
//! | `GET /api/v1/stats?from=&to=&threshold=` | supervisor, quality_inspector, analyst | statistics by queue, agent, skill, trunk |
//! | `POST /api/v1/ws-tickets` | any user | a one-time ticket that opens one WebSocket within 30 s |
//! | `GET /api/v1/cti/ws?agent=ID&ticket=T` | the agent, supervisor | WebSocket: the agent's events; send `{"op": ...}` commands |
//! | `GET /api/v1/acd/events?ticket=T` | supervisor, quality_inspector, analyst | WebSocket: every ACD event |
//!
//! `/api/v1/acd/events` streams come from one shared feed ([`feed`]): each
//! event's JSON is written once for every page and sent in batches every
//! 50 ms, still one event per message.
//!
//! WebSockets are opened with a ticket (browsers) or `Authorization: Bearer`
//! (other clients); a token in the URL is refused, since URLs end up in proxy
//! logs and browser history. A page from another origin than the API's own or
//! one of `http.allowed_origins` may not open them (403).
//!
//! Operations (`{op}`): `sign_in`, `sign_out`, `ready`, `not_ready` (`reason`),
//! `answer`, `reject`, `hang_up`, `hold`, `resume`, `consult` (`target`),
//! `consult_cancel`, `transfer` (`target`, or none to complete a consultation),
//! `conference`, `dial` (`number`, `trunk`), `set_data` (`data`), `clear_data`,
//! `get_data`, `send_dtmf` (`digits`: 1 to 32 of `0-9 * # A-D`, sent to the
//! caller of the agent's bridged call as RFC 4733 events; the agent only, or
//! an admin; other characters get 400); supervisors: `force_ready`, `force_not_ready` (`reason`),
//! `force_sign_out`, `listen`/`whisper`/`barge`/`take_over`/`stop_monitor`
//! (`phone`). Targets are `{"kind": "agent"|"queue"|"number", "to": "..."}`.
//! Supervisor operations and agent changes are written to the audit log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dialect_compiler::value::Value;
use serde::Deserialize;

pub mod feed;

use crate::acd::AcdError;
use crate::api::{ApiError, AppState, bearer, parse_time};
use crate::auth::User;
use crate::config::Role;
use crate::outbound::{AgentRequest, Origin};
use dialect_acd::AgentDef;
use dialect_acd::CallId;
use dialect_acd::TransferTarget;
use dialect_acd::core::{AgentCommand, CtiError};

const VIEW_ROLES: &[Role] = crate::auth::HISTORY_READERS;
/// The largest command a desktop may send over its WebSocket, in bytes (call
/// data included).
pub const MAX_COMMAND: usize = 64 * 1024;
/// How long a page may take to accept a batch of events before it is dropped
/// (a page that stopped reading must not hold its task and buffers forever).
pub const SEND_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Who may read statistics (the JSON report and its CSV).
pub(crate) const REPORT_ROLES: &[Role] = &[Role::Supervisor, Role::QualityInspector, Role::Analyst];

/// The ACD's routes, to merge into the API router.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/queues", get(list_queues))
        .route("/api/v1/queues/{name}", get(get_queue))
        .route("/api/v1/agents", get(list_agents).post(put_agent))
        .route("/api/v1/agents/{id}", get(get_agent).delete(delete_agent))
        .route("/api/v1/agents/{id}/{op}", post(agent_op))
        .route(
            "/api/v1/calls/{call}/data",
            get(get_data).put(put_data).delete(clear_data),
        )
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/ws-tickets", post(ws_ticket))
        .route("/api/v1/cti/ws", get(cti_ws))
        .route("/api/v1/acd/events", get(events_ws))
        // Between the runtimes of a cluster (`crate::cluster::acd`).
        .route(
            crate::cluster::acd::LINK_PATH,
            get(crate::cluster::acd::link),
        )
        .route(
            crate::cluster::acd::ASK_PATH,
            post(crate::cluster::acd::ask),
        )
}

impl From<AcdError> for ApiError {
    fn from(e: AcdError) -> ApiError {
        let code = match e {
            AcdError::Stopped => "acd_stopped",
            AcdError::Elsewhere(_) => "acd_elsewhere",
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
    }
}

fn cti_error(e: CtiError) -> ApiError {
    let (status, code) = match &e {
        CtiError::UnknownAgent(_) | CtiError::UnknownQueue(_) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        CtiError::SignedOut(_)
        | CtiError::NoCall(_)
        | CtiError::NotOffered(_)
        | CtiError::Unavailable(_)
        | CtiError::NoAgentFree(_)
        | CtiError::Invalid(_) => (StatusCode::CONFLICT, "conflict"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Query of `GET /api/v1/queues`.
#[derive(Debug, Deserialize)]
pub struct QueuesQuery {
    /// Include the waiting calls.
    #[serde(default)]
    pub calls: bool,
}

async fn list_queues(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<QueuesQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), VIEW_ROLES)?;
    Ok(Json(s.acd.queues(q.calls).await?).into_response())
}

async fn get_queue(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), VIEW_ROLES)?;
    match s.acd.queue(&name).await? {
        Some(q) => Ok(Json(q).into_response()),
        None => Err(ApiError::not_found(format!("there is no queue {name}"))),
    }
}

async fn list_agents(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), VIEW_ROLES)?;
    Ok(Json(s.acd.agents().await?).into_response())
}

async fn get_agent(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), VIEW_ROLES)?;
    match s.acd.agent(&id).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Err(ApiError::not_found(format!("there is no agent {id}"))),
    }
}

/// Body of `POST /api/v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    /// Id (the phone's SIP user name).
    pub id: String,
    /// The name people see beside the id (empty when not given).
    #[serde(default)]
    pub name: String,
    /// Phone password (kept when not given); must meet the password rule and
    /// is stored only as its HA1.
    #[serde(default)]
    pub password: Option<String>,
    /// The agent's level (1 and up) in each skill, by skill name; a queue takes
    /// agents at or above the level its `skills` rule asks.
    #[serde(default)]
    pub skills: BTreeMap<String, u32>,
    /// Answer without ringing.
    #[serde(default)]
    pub auto_answer: bool,
}

async fn put_agent(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AgentBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), &[Role::Supervisor])?;
    let Json(b) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    let valid_id = !b.id.is_empty()
        && b.id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    if !valid_id {
        return Err(ApiError::invalid(format!(
            "`{}` cannot be a phone's user name (letters, digits, - _ . +)",
            b.id
        )));
    }
    // A weak phone password falls to guessing (see dialect_sip::auth::strength).
    if let Some(p) = &b.password
        && let Err(weak) = dialect_sip::auth::check_password(&b.id, p)
    {
        return Err(ApiError::invalid(format!("password: {weak}")));
    }
    let def = AgentDef {
        id: b.id.clone(),
        name: b.name.clone(),
        skills: b.skills.into_iter().collect(),
        auto_answer: b.auto_answer,
    };
    let detail = serde_json::json!({ "skills": def.skills, "name": def.name, "auto_answer": def.auto_answer, "password_changed": b.password.is_some() });
    s.acd.upsert_agent(def, b.password).await??;
    crate::auth::audit(&s.store, &user, "agent.upsert", &b.id, detail).await;
    let view = s.acd.agent(&b.id).await?;
    Ok((StatusCode::OK, Json(view)).into_response())
}

async fn delete_agent(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), &[Role::Supervisor])?;
    if !s.acd.remove_agent(&id).await?? {
        return Err(ApiError::not_found(format!("there is no agent {id}")));
    }
    crate::auth::audit(
        &s.store,
        &user,
        "agent.remove",
        &id,
        serde_json::Value::Null,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Parses `{op}` and its body into a command.
fn parse_command(op: &str, body: &[u8]) -> Result<AgentCommand, ApiError> {
    let op = op.replace('-', "_");
    let mut obj = if body.iter().all(|b| b.is_ascii_whitespace()) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(ApiError::invalid("the body must be a JSON object")),
            Err(e) => return Err(ApiError::invalid(format!("the body is not JSON: {e}"))),
        }
    };
    obj.insert("op".into(), serde_json::Value::String(op.clone()));
    let cmd = serde_json::from_value(serde_json::Value::Object(obj))
        .map_err(|e| ApiError::invalid(format!("`{op}`: {e}")))?;
    // Keys that are not keys are the request's fault (400), not the call's.
    if let AgentCommand::SendDtmf { digits } = &cmd {
        dialect_acd::core::check_dtmf_digits(digits)
            .map_err(|e| ApiError::invalid(format!("`send_dtmf`: {e}")))?;
    }
    Ok(cmd)
}

/// May `user` run `cmd` on agent `agent`?
fn permitted(user: &User, agent: &str, cmd: &AgentCommand) -> Result<(), ApiError> {
    let ok = match cmd {
        AgentCommand::Listen { .. } | AgentCommand::StopMonitor { .. } => {
            user.has_role(&[Role::Supervisor, Role::QualityInspector])
        }
        c if c.is_supervisor() => user.has_role(&[Role::Supervisor]),
        // Keys reach the customer as if the agent pressed them: only the agent
        // on the call (or an administrator) may send them, not a supervisor.
        AgentCommand::SendDtmf { .. } => {
            user.role == Role::Admin || (user.role == Role::Agent && user.name == agent)
        }
        _ => user.has_role(&[Role::Supervisor]) || (user.role == Role::Agent && user.name == agent),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "`{}` (role {}) may not {} for agent {agent}",
                user.name,
                user.role,
                cmd.name()
            ),
        ))
    }
}

/// A command that dials a number (dial, blind transfer to a number) must be
/// allowed by the outbound-call policy for the agent it is for; a refusal is
/// answered 403 here, before the ACD acts (and is audited by the policy).
fn outbound_permitted(s: &AppState, agent: &str, cmd: &AgentCommand) -> Result<(), ApiError> {
    let (number, how) = match cmd {
        AgentCommand::Dial { number, .. } => (number, AgentRequest::Dial),
        AgentCommand::Transfer {
            target: Some(TransferTarget::Number(number)),
        } => (number, AgentRequest::Transfer),
        _ => return Ok(()),
    };
    let origin = Origin::Agent {
        id: agent.to_string(),
        how,
    };
    s.outbound.permits(&origin, number).map_err(|refusal| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "outbound_refused",
            refusal.reason.to_string(),
        )
    })
}

async fn run_command(
    s: &AppState,
    user: &User,
    agent: &str,
    cmd: AgentCommand,
) -> Result<dialect_acd::CtiReply, ApiError> {
    permitted(user, agent, &cmd)?;
    outbound_permitted(s, agent, &cmd)?;
    let supervisor = cmd.is_supervisor() || user.name != agent;
    let name = cmd.name();
    let detail = serde_json::to_value(&cmd).unwrap_or_default();
    let r = s.acd.command(agent, cmd, &user.name).await?;
    if supervisor {
        let mut detail = detail;
        if let serde_json::Value::Object(m) = &mut detail {
            m.insert("accepted".into(), serde_json::Value::Bool(r.is_ok()));
        }
        crate::auth::audit(&s.store, user, &format!("agent.{name}"), agent, detail).await;
    }
    r.map_err(cti_error)
}

async fn agent_op(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, op)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::QualityInspector],
    )?;
    let cmd = parse_command(&op, &body)?;
    let reply = run_command(&s, &user, &id, cmd).await?;
    Ok(Json(reply).into_response())
}

async fn call_access(
    s: &AppState,
    user: &User,
    call: CallId,
) -> Result<Vec<(String, Value)>, ApiError> {
    let Some((data, agents)) = s.acd.call_data(call).await? else {
        return Err(ApiError::not_found(format!("the ACD holds no call {call}")));
    };
    if user.has_role(&[Role::Supervisor])
        || (user.role == Role::Agent && agents.contains(&user.name))
    {
        Ok(data)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an agent on the call or a supervisor may use its data",
        ))
    }
}

async fn get_data(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(call): Path<CallId>,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let data = call_access(&s, &user, call).await?;
    Ok(Json(serde_json::json!({ "call": call, "data": data })).into_response())
}

/// Body of `PUT /api/v1/calls/{call}/data`.
#[derive(Debug, Deserialize)]
pub struct DataBody {
    /// Field name to value.
    pub data: BTreeMap<String, Value>,
}

async fn put_data(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(call): Path<CallId>,
    body: Result<Json<DataBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let Json(b) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    call_access(&s, &user, call).await?;
    s.acd
        .set_call_data(call, b.data.into_iter().collect(), false)
        .await?;
    let data = call_access(&s, &user, call).await?;
    Ok(Json(serde_json::json!({ "call": call, "data": data })).into_response())
}

async fn clear_data(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(call): Path<CallId>,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    call_access(&s, &user, call).await?;
    s.acd.set_call_data(call, Vec::new(), true).await?;
    Ok(Json(serde_json::json!({ "call": call, "data": [] })).into_response())
}

/// Query of `GET /api/v1/stats`.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    /// Start (Unix ms or RFC 3339; default: 24 hours ago).
    pub from: Option<String>,
    /// End (default: now).
    pub to: Option<String>,
    /// Service-level threshold for every queue (`20s`, or ms); default each queue's own.
    pub threshold: Option<String>,
}

async fn stats(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), REPORT_ROLES)?;
    Ok(Json(report(&s, &q).await?).into_response())
}

/// The Q13 report for a `GET /api/v1/stats`-style query (also the CSV's).
pub(crate) async fn report(
    s: &AppState,
    q: &StatsQuery,
) -> Result<dialect_acd::stats::Report, ApiError> {
    let now = crate::time::now_ms();
    let to = q.to.as_deref().map(parse_time).transpose()?.unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(to - 86_400_000);
    if from >= to {
        return Err(ApiError::invalid("`from` must be before `to`"));
    }
    let threshold = match q.threshold.as_deref() {
        None => None,
        Some(t) => Some(
            t.trim()
                .parse::<i64>()
                .ok()
                .or_else(|| dialect_lang::literal::parse_duration(t.trim()))
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| ApiError::invalid(format!("`{t}` is not a duration such as 20s")))?,
        ),
    };
    Ok(s.acd.report(from, to, threshold).await??)
}

/// Query of the WebSocket routes (browsers cannot set headers on a WebSocket).
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The agent whose events to follow (`/cti/ws`).
    pub agent: Option<String>,
    /// A one-time ticket from `POST /api/v1/ws-tickets`.
    pub ticket: Option<String>,
    /// An API token: no longer taken in the URL, named only to say so.
    pub token: Option<String>,
}

/// `POST /api/v1/ws-tickets`: a ticket for the caller, to open one WebSocket.
async fn ws_ticket(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let mut roles = crate::auth::STAFF.to_vec();
    roles.push(Role::Admin);
    let user = s.users.authorize(bearer(&headers), &roles)?;
    let ticket = s.access.issue_ticket(&user);
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "ticket": ticket,
            "expires_in_ms": crate::api::access::TICKET_TTL.as_millis() as u64,
        })),
    )
        .into_response())
}

/// Who opens a WebSocket: the page's origin must be allowed, and the user comes
/// from a ticket or the `Authorization` header.
pub(crate) fn ws_user(
    s: &AppState,
    headers: &HeaderMap,
    q: &WsQuery,
    roles: &[Role],
) -> Result<User, ApiError> {
    if !s.access.origin_allowed(headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "pages from this origin may not open the API's WebSockets (http.allowed_origins)",
        ));
    }
    if q.token.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "tokens are not taken in URLs: POST /api/v1/ws-tickets for a one-time `ticket`, \
             or send `Authorization: Bearer TOKEN`",
        ));
    }
    let user = match q.ticket.as_deref() {
        Some(t) => s.access.redeem(t.trim()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the ticket is unknown, used or expired; ask POST /api/v1/ws-tickets for a new one",
            )
        })?,
        None => return Ok(s.users.authorize(bearer(headers), roles)?),
    };
    if !user.has_role(roles) {
        return Err(crate::auth::AuthError::Forbidden(format!(
            "the role `{}` may not open this WebSocket",
            user.role
        ))
        .into());
    }
    Ok(user)
}

async fn cti_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let user = ws_user(&s, &headers, &q, &[Role::Agent, Role::Supervisor])?;
    let agent = q.agent.clone().unwrap_or_else(|| user.name.clone());
    if !(user.has_role(&[Role::Supervisor]) || user.name == agent) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("`{}` may not follow agent {agent}", user.name),
        ));
    }
    if s.acd.agent(&agent).await?.is_none() {
        return Err(ApiError::not_found(format!("there is no agent {agent}")));
    }
    Ok(crate::api::bounded_websocket(ws, MAX_COMMAND)
        .on_upgrade(move |socket| desktop(socket, s, user, Some(agent))))
}

async fn events_ws(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let user = ws_user(&s, &headers, &q, REPORT_ROLES)?;
    Ok(crate::api::bounded_websocket(ws, MAX_COMMAND)
        .on_upgrade(move |socket| desktop(socket, s, user, None)))
}

/// A WebSocket session: events out (one agent's, or all), commands in.
async fn desktop(socket: WebSocket, s: AppState, user: User, agent: Option<String>) {
    match agent {
        Some(agent) => agent_desktop(socket, s, user, agent).await,
        None => {
            let feed = s
                .event_feed
                .get_or_init(|| feed::EventFeed::start(&s.acd))
                .subscribe();
            wallboard(socket, s, user, feed).await;
        }
    }
}

/// One agent's events, each sent as it comes.
async fn agent_desktop(mut socket: WebSocket, s: AppState, user: User, agent: String) {
    let mut events = s.acd.subscribe();
    if let Ok(Some(view)) = s.acd.agent(&agent).await {
        let hello = serde_json::json!({ "event": "hello", "agent": view });
        if socket.send(Message::text(hello.to_string())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            // Cancel-safe: broadcast::Receiver::recv.
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if ev.agent() != Some(agent.as_str()) {
                        continue;
                    }
                    let text = serde_json::to_string(&ev).unwrap_or_default();
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let text = serde_json::json!({ "event": "lagged", "missed": n }).to_string();
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            },
            // Cancel-safe: WebSocket::recv.
            m = socket.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    let reply = ws_command(&s, &user, Some(agent.as_str()), t.as_str()).await;
                    if socket.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Every event, from the shared feed: a batch's messages go out with one write.
async fn wallboard(
    mut socket: WebSocket,
    s: AppState,
    user: User,
    mut batches: tokio::sync::broadcast::Receiver<std::sync::Arc<feed::FeedBatch>>,
) {
    loop {
        tokio::select! {
            // Cancel-safe: broadcast::Receiver::recv.
            batch = batches.recv() => {
                let sent = match batch {
                    Ok(batch) => {
                        match tokio::time::timeout(SEND_LIMIT, send_batch(&mut socket, &batch)).await {
                            Ok(sent) => sent,
                            Err(_) => return,
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        socket.send(Message::Text(feed::lagged_batches(n))).await
                    }
                    Err(_) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
            // Cancel-safe: WebSocket::recv.
            m = socket.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    let reply = ws_command(&s, &user, None, t.as_str()).await;
                    if socket.send(Message::text(reply.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Still one event per message, but one write for the batch.
async fn send_batch(socket: &mut WebSocket, batch: &feed::FeedBatch) -> Result<(), axum::Error> {
    use futures::SinkExt;
    for m in &batch.messages {
        socket.feed(Message::Text(m.clone())).await?;
    }
    socket.flush().await
}

async fn ws_command(
    s: &AppState,
    user: &User,
    agent: Option<&str>,
    text: &str,
) -> serde_json::Value {
    #[derive(Deserialize)]
    struct Envelope {
        agent: Option<String>,
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    }
    let env: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return serde_json::json!({ "error": "invalid", "message": e.to_string() }),
    };
    let Some(target) = env.agent.as_deref().or(agent) else {
        return serde_json::json!({ "error": "invalid", "message": "say which agent" });
    };
    let op = env
        .rest
        .get("op")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let body = serde_json::to_vec(&env.rest).unwrap_or_default();
    let result = match parse_command(&op, &body) {
        Ok(cmd) => run_command(s, user, target, cmd).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => serde_json::json!({ "reply": op, "agent": target, "result": r }),
        Err(e) => {
            serde_json::json!({ "reply": op, "agent": target, "error": e.code, "message": e.message })
        }
    }
}

#[cfg(test)]
mod tests;
