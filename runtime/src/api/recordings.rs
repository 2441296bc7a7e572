//! Recordings found and heard (requirement D3: findable by agent, date and
//! result): a search over the contact records that have recordings, and each
//! recording fetched as audio for the browser to play — permission-checked,
//! and every fetch written to the audit log.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /api/v1/recordings?from=&to=&agent=&caller=&queue=&result=&limit=` | supervisor, quality_inspector, admin; an agent sees only their own calls | newest first: `contact`, `index`, `url`, `agent`, `caller`, `called`, `queue`, `result`, `started_ms`, `talk_ms` |
//! | `GET /api/v1/recordings/{contact}/{index}` | the same | the WAV file (`audio/wav`), audited as `recording played`; one `Range: bytes=` range is answered 206 (the browser's `<audio>` asks so to seek) |
//!
//! Both take the API's token or a signed-in page's session cookie, so the
//! recordings page (`/recordings`) plays a file with a plain `<audio src>`.
//! Every fetch is audited, a range included: a listener who skips the start
//! is still heard of.
//!
//! `result` is `answered` (an agent took the call), `abandoned` (it waited in
//! a queue and no agent took it) or `ivr` (it ended in the flow).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    let total = bytes.len() as u64;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(asked) => match byte_range(asked, total) {
            Some(r) => Some(r),
            None => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
        },
    };
    audit(
        &s.store,
        &user,
        "recording played",
        &format!("{contact}/{index}"),
        serde_json::json!({
            "agent": c.agent,
            "caller": c.caller,
            "range": range.map(|(from, to)| format!("{from}-{to}")),
        }),
    )
    .await;
    let mut r = match range {
        Some((from, to)) => {
            let part = bytes
                .get(from as usize..=to as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            let mut r = (StatusCode::PARTIAL_CONTENT, part).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {from}-{to}/{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        None => bytes.into_response(),
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}

/// The one range of a `Range: bytes=…` header that this route answers
/// (`a-b`, `a-`, `-n`), clipped to the file, as first and last byte; `None`
/// when it is not satisfiable or not one we read (several ranges, other
/// units), which the caller answers 416.
fn byte_range(asked: &str, total: u64) -> Option<(u64, u64)> {
    let spec = asked.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || total == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let (from, to) = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        if n == 0 {
            return None;
        }
        (total.saturating_sub(n), total - 1)
    } else {
        let from: u64 = first.parse().ok()?;
        let to = if last.is_empty() {
            total - 1
        } else {
            last.parse::<u64>().ok()?.min(total - 1)
        };
        (from, to)
    };
    (from <= to && from < total).then_some((from, to))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn one_byte_range_is_read_and_clipped_to_the_file() {
        assert_eq!(byte_range("bytes=0-", 100), Some((0, 99)));
        assert_eq!(byte_range("bytes=10-19", 100), Some((10, 19)));
        assert_eq!(byte_range("bytes=90-500", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-500", 100), Some((0, 99)));
        assert_eq!(byte_range(" bytes= 5 - 6 ", 100), Some((5, 6)));
    }

    #[test]
    fn ranges_outside_the_file_or_of_other_shapes_are_refused() {
        for bad in [
            "bytes=100-",
            "bytes=20-10",
            "bytes=-0",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-1",
            "bytes=",
            "0-1",
        ] {
            assert_eq!(byte_range(bad, 100), None, "{bad}");
        }
        assert_eq!(
            byte_range("bytes=0-", 0),
            None,
            "an empty file has no bytes"
        );
    }

    proptest::proptest! {
        /// Whatever a client sends, a range that comes back lies inside the
        /// file (the handler slices the file with it), and nothing panics.
        #[test]
        fn any_header_gives_a_range_inside_the_file_or_none(
            asked in "(bytes=)?[ 0-9,-]{0,24}|\\PC{0,40}",
            total in 0u64..5_000,
        ) {
            if let Some((from, to)) = byte_range(&asked, total) {
                proptest::prop_assert!(from <= to && to < total, "{asked}: {from}-{to} of {total}");
            }
        }
    }
}
