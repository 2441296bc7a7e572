//! Recordings found and heard (requirement D3: findable by agent, date and
//! result): a search over the contact records that have recordings, and each
//! recording fetched as audio for the browser to play — permission-checked,
//! and every fetch written to the audit log.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /api/v1/recordings?from=&to=&agent=&caller=&queue=&result=&limit=` | supervisor, quality_inspector, admin; an agent sees only their own calls | newest first: `contact`, `index`, `url`, `agent`, `caller`, `called`, `queue`, `result`, `started_ms`, `talk_ms` |
//! | `GET /api/v1/recordings/{contact}/{index}` | the same | the WAV file (`audio/wav`), audited as `recording played` |
//!
//! `result` is `answered` (an agent took the call), `abandoned` (it waited in
//! a queue and no agent took it) or `ivr` (it ended in the flow).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, bearer, period};
use crate::auth::{User, audit};
use crate::config::Role;
use crate::contacts::ContactRecord;

/// Roles that may hear recordings; an agent may hear only their own calls.
const LISTENERS: &[Role] = &[Role::Supervisor, Role::QualityInspector, Role::Agent];

/// Most contact records one search looks through, newest first.
const SCAN_LIMIT: usize = 50_000;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/recordings", get(search))
        .route("/api/v1/recordings/{contact}/{index}", get(fetch))
}

/// Query of `GET /api/v1/recordings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    agent: Option<String>,
    caller: Option<String>,
    queue: Option<String>,
    result: Option<String>,
    limit: Option<usize>,
}

/// One recording found.
#[derive(Debug, Serialize)]
struct Found {
    contact: u64,
    index: usize,
    url: String,
    agent: Option<String>,
    caller: String,
    called: String,
    queue: Option<String>,
    result: &'static str,
    started_ms: i64,
    talk_ms: Option<i64>,
}

/// How a call ended, as the search names it.
fn result_of(c: &ContactRecord) -> &'static str {
    match (&c.agent, &c.queue) {
        (Some(_), _) => "answered",
        (None, Some(_)) => "abandoned",
        (None, None) => "ivr",
    }
}

/// Whether `user` may hear the recordings of call `c`.
fn may_hear(user: &User, c: &ContactRecord) -> bool {
    user.role != Role::Agent || c.agent.as_deref() == Some(user.name.as_str())
}

async fn search(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), LISTENERS)?;
    if let Some(r) = q.result.as_deref()
        && !["answered", "abandoned", "ivr"].contains(&r)
    {
        return Err(ApiError::invalid(format!(
            "`result` is answered, abandoned or ivr, not `{r}`"
        )));
    }
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let limit = q.limit.unwrap_or(100).min(1_000);
    let store = s.store.clone();
    let caller = q.caller.clone();
    let contacts = tokio::task::spawn_blocking(move || {
        crate::contacts::query(&*store, from, to, caller.as_deref(), SCAN_LIMIT)
    })
    .await
    .map_err(ApiError::internal)??;
    let mut found = Vec::new();
    for c in contacts {
        if c.recordings.is_empty()
            || !may_hear(&user, &c)
            || q.agent
                .as_ref()
                .is_some_and(|a| c.agent.as_ref() != Some(a))
            || q.queue
                .as_ref()
                .is_some_and(|w| c.queue.as_ref() != Some(w))
            || q.result.as_deref().is_some_and(|r| r != result_of(&c))
        {
            continue;
        }
        for index in 0..c.recordings.len() {
            found.push(Found {
                contact: c.id,
                index,
                url: format!("/api/v1/recordings/{}/{index}", c.id),
                agent: c.agent.clone(),
                caller: c.caller.clone(),
                called: c.called.clone(),
                queue: c.queue.clone(),
                result: result_of(&c),
                started_ms: c.started_ms,
                talk_ms: c.talk_ms,
            });
        }
        if found.len() >= limit {
            found.truncate(limit);
            break;
        }
    }
    Ok(Json(found).into_response())
}

async fn fetch(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((contact, index)): Path<(u64, usize)>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), LISTENERS)?;
    let missing = || ApiError::not_found(format!("there is no recording {contact}/{index}"));
    // Another agent's call is, to an agent, one that has no recording.
    let c = crate::contacts::get(&*s.store, contact)?
        .filter(|c| may_hear(&user, c))
        .ok_or_else(missing)?;
    // Only a path the server wrote into the record is ever read.
    let path = c.recordings.get(index).cloned().ok_or_else(missing)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(contact, %path, "a recording listed in its contact record cannot be read: {e}");
        missing()
    })?;
    audit(
        &s.store,
        &user,
        "recording played",
        &format!("{contact}/{index}"),
        serde_json::json!({ "agent": c.agent, "caller": c.caller }),
    )
    .await;
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}
