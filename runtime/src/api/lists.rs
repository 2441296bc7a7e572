//! HTTP routes of number lists changed while running: put numbers on a
//! declared list (one, many as JSON, or a CSV file), take them off, see what
//! was added and by whom. A change is stored durably, written to the audit log,
//! and in force for the next call and the next dial before the answer is sent
//! (the running program is rebuilt with it: [`crate::lists`]).
//!
//! Agents flag a caller instead (`POST /api/v1/lists/{name}/flags`, with a
//! category and a reason); a supervisor sees the pending flags
//! (`GET /api/v1/list-flags`) and confirms — the number goes on the list and
//! is in force for the next call — or rejects each
//! (`POST /api/v1/list-flags/{id}/confirm|reject`), both audited.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::{ApiError, AppState, bearer};
use crate::config::Role;
use crate::lists::{self, DecideError, FlagState, ListEntry, ListFlag};

/// Roles that change lists: supervisors and administrators. Agents propose
/// blacklist entries through their supervisor.
const WRITERS: &[Role] = &[Role::Supervisor, Role::Admin];

/// Most entries one request may add (a larger do-not-call file is sent in parts).
const MAX_ENTRIES: usize = 100_000;

/// Longest reason or note, in characters.
const MAX_REASON: usize = 500;

/// Most flags one person may have waiting for a supervisor: past it, an
/// account (or whoever holds its session) cannot flood the supervisors' queue.
const MAX_PENDING_PER_USER: usize = 200;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lists", get(all_lists))
        .route(
            "/api/v1/lists/{name}/entries",
            get(added_entries).post(add_entries),
        )
        .route(
            "/api/v1/lists/{name}/entries/{number}",
            delete(remove_entry),
        )
        .route("/api/v1/lists/{name}/flags", post(raise_flag))
        .route("/api/v1/list-flags", get(list_flags))
        .route("/api/v1/list-flags/{id}/{decision}", post(decide_flag))
}

/// One entry of a request: the number and, optionally, the category and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEntry {
    number: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    reason: String,
}

/// A JSON body: one entry, or `{"entries": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AddBody {
    Many { entries: Vec<NewEntry> },
    One(NewEntry),
}

/// A row that could not be added, by its position (1-based; for CSV, the line
/// as a spreadsheet numbers it).
#[derive(Debug, Serialize)]
struct Rejected {
    row: usize,
    reason: String,
}

/// What `POST /api/v1/lists/{name}/entries` answers.
#[derive(Debug, Serialize)]
struct AddReport {
    added: usize,
    rejected: Vec<Rejected>,
}

async fn all_lists(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    let store = s.store.clone();
    let added = tokio::task::spawn_blocking(move || lists::load_all(&*store))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let out: Vec<serde_json::Value> = deployed
        .program
        .ir()
        .lists
        .iter()
        .map(|l| {
            let n = added.iter().filter(|e| e.list == l.name).count();
            serde_json::json!({
                "name": l.name,
                "categories": l.categories.iter().map(|c| &c.name).collect::<Vec<_>>(),
                // The program's lists already hold the added entries.
                "entries": l.entries.len() + l.categories.iter().map(|c| c.entries.len()).sum::<usize>(),
                "added_while_running": n,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

async fn added_entries(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let store = s.store.clone();
    let added = tokio::task::spawn_blocking(move || lists::load_all(&*store))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let out: Vec<ListEntry> = added.into_iter().filter(|e| e.list == name).collect();
    Ok(Json(out).into_response())
}

/// Reads a CSV body: `number[,category[,reason]]` per line; a first line whose
/// first cell is not a number is a header.
/// A row of a request: its number and the entry, or why it cannot be one.
type Row = (usize, Result<NewEntry, String>);

fn csv_entries(body: &[u8]) -> Result<Vec<Row>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("the CSV is not UTF-8 text"))?
        .trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let row = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.push((row, Err(format!("cannot read the line: {e}"))));
                continue;
            }
        };
        let number = rec.get(0).unwrap_or("").trim();
        if row == 1 && !number.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        if number.is_empty() && rec.len() <= 1 {
            continue;
        }
        let cell = |n: usize| rec.get(n).map(str::trim).filter(|c| !c.is_empty());
        out.push((
            row,
            Ok(NewEntry {
                number: number.to_string(),
                category: cell(1).map(str::to_string),
                reason: cell(2).unwrap_or("").to_string(),
            }),
        ));
    }
    Ok(out)
}

async fn add_entries(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), WRITERS)?;
    let is_csv = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/csv") || t.starts_with("text/plain"));
    let rows: Vec<Row> = if is_csv {
        csv_entries(&body)?
    } else {
        let parsed: AddBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(format!(
                "the body is {{\"number\": …, \"category\": …, \"reason\": …}} or {{\"entries\": [...]}}: {e}"
            ))
        })?;
        match parsed {
            AddBody::One(e) => vec![(1, Ok(e))],
            AddBody::Many { entries } => entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| (i + 1, Ok(e)))
                .collect(),
        }
    };
    if rows.len() > MAX_ENTRIES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {MAX_ENTRIES} entries per request; send the rest in another"),
        ));
    }
    let deployed = s.program.current();
    let ir = deployed.program.ir();
    lists::check(ir, &name, None).map_err(ApiError::not_found)?;
    let now = crate::time::now_ms();
    let mut add = Vec::new();
    let mut rejected = Vec::new();
    for (row, entry) in rows {
        let entry = match entry {
            Ok(e) => e,
            Err(reason) => {
                rejected.push(Rejected { row, reason });
                continue;
            }
        };
        let number = match entry.number.trim().strip_suffix('*') {
            // A prefix: its digits as written, without separators.
            Some(prefix) => {
                let digits: String = prefix.chars().filter(char::is_ascii_digit).collect();
                if digits.is_empty() {
                    rejected.push(Rejected {
                        row,
                        reason: format!("`{}` is not a number prefix", entry.number),
                    });
                    continue;
                }
                format!("{digits}*")
            }
            None => match s.outbound.canonical(&entry.number) {
                Ok(n) => n,
                Err(e) => {
                    rejected.push(Rejected {
                        row,
                        reason: e.to_string(),
                    });
                    continue;
                }
            },
        };
        if let Err(reason) = lists::check(ir, &name, entry.category.as_deref()) {
            rejected.push(Rejected { row, reason });
            continue;
        }
        add.push(ListEntry {
            list: name.clone(),
            number,
            category: entry.category,
            reason: entry.reason,
            added_ms: now,
            by: user.name.clone(),
        });
    }
    if !add.is_empty() {
        lists::change(&s.store, &add, &[])
            .await
            .map_err(ApiError::internal)?;
        relist(&s).await?;
        crate::auth::audit(
            &s.store,
            &user,
            "list add",
            &name,
            serde_json::json!({
                "numbers": add.iter().take(100).map(|e| &e.number).collect::<Vec<_>>(),
                "count": add.len(),
            }),
        )
        .await;
    }
    let status = if add.is_empty() && !rejected.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(AddReport {
            added: add.len(),
            rejected,
        }),
    )
        .into_response())
}

async fn remove_entry(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), WRITERS)?;
    let canonical = match number.strip_suffix('*') {
        Some(_) => number.clone(),
        None => s
            .outbound
            .canonical(&number)
            .map_err(|e| ApiError::invalid(e.to_string()))?,
    };
    let removed = lists::change(&s.store, &[], &[(name.clone(), canonical.clone())])
        .await
        .map_err(ApiError::internal)?;
    if removed == 0 {
        return Err(ApiError::not_found(format!(
            "`{canonical}` was not added to `{name}` while running (declared entries are removed in the source)"
        )));
    }
    relist(&s).await?;
    crate::auth::audit(
        &s.store,
        &user,
        "list remove",
        &name,
        serde_json::json!({ "number": canonical }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Rebuilds the running program with every stored entry, before answering, so
/// the change is in force once the client hears it is done.
async fn relist(s: &AppState) -> Result<(), ApiError> {
    let store = s.store.clone();
    let slot = s.program.clone();
    tokio::task::spawn_blocking(move || slot.relist(&*store))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Body of `POST /api/v1/lists/{name}/flags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagBody {
    number: String,
    #[serde(default)]
    category: Option<String>,
    reason: String,
    #[serde(default)]
    call: Option<u64>,
}

fn reason_text(text: &str, what: &str, required: bool) -> Result<String, ApiError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ApiError::invalid(format!("a {what} is required")));
    }
    if text.chars().count() > MAX_REASON {
        return Err(ApiError::invalid(format!(
            "the {what} is longer than {MAX_REASON} characters"
        )));
    }
    Ok(text.to_string())
}

async fn raise_flag(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<FlagBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let Json(b) = body.map_err(|e| {
        ApiError::invalid(format!(
            "the body is {{\"number\": …, \"category\": …, \"reason\": …, \"call\": …}}: {}",
            e.body_text()
        ))
    })?;
    let reason = reason_text(&b.reason, "reason", true)?;
    let number = s
        .outbound
        .canonical(&b.number)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    lists::check(
        s.program.current().program.ir(),
        &name,
        b.category.as_deref(),
    )
    .map_err(ApiError::invalid)?;
    let store = s.store.clone();
    let by = user.name.clone();
    let pending = tokio::task::spawn_blocking(move || {
        lists::flags(
            &*store,
            Some(FlagState::Pending),
            Some(&by),
            MAX_PENDING_PER_USER,
        )
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    if pending.len() >= MAX_PENDING_PER_USER {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many",
            format!("{MAX_PENDING_PER_USER} of your flags are waiting for a supervisor already"),
        ));
    }
    if let Some(same) = pending
        .iter()
        .find(|f| f.list == name && f.number == number && f.category == b.category)
    {
        return Ok((StatusCode::OK, Json(same.clone())).into_response());
    }
    let flag = lists::raise(
        &s.store,
        ListFlag {
            id: 0,
            list: name.clone(),
            number,
            category: b.category,
            reason,
            call: b.call,
            by: user.name.clone(),
            at_ms: crate::time::now_ms(),
            state: FlagState::Pending,
            decided_by: None,
            decided_ms: None,
            note: String::new(),
        },
    )
    .await
    .map_err(ApiError::internal)?;
    crate::auth::audit(
        &s.store,
        &user,
        "list flag",
        &name,
        serde_json::json!({ "flag": flag.id, "number": flag.number, "category": flag.category }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(flag)).into_response())
}

/// Query of `GET /api/v1/list-flags`.
#[derive(Debug, Deserialize)]
struct FlagsQuery {
    /// `pending` (the default), `confirmed`, `rejected` or `all`.
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn list_flags(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<FlagsQuery>,
) -> Result<Response, ApiError> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let state = match q.state.as_deref().unwrap_or("pending") {
        "pending" => Some(FlagState::Pending),
        "confirmed" => Some(FlagState::Confirmed),
        "rejected" => Some(FlagState::Rejected),
        "all" => None,
        other => {
            return Err(ApiError::invalid(format!(
                "`{other}` is not a flag state: pending, confirmed, rejected or all"
            )));
        }
    };
    // Agents see their own flags; supervisors everybody's.
    let by = (!user.has_role(WRITERS)).then(|| user.name.clone());
    let limit = q.limit.unwrap_or(100).min(1_000);
    let store = s.store.clone();
    let found =
        tokio::task::spawn_blocking(move || lists::flags(&*store, state, by.as_deref(), limit))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    Ok(Json(found).into_response())
}

/// Body of `POST /api/v1/list-flags/{id}/{decision}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    note: String,
}

async fn decide_flag(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, decision)): Path<(u64, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), WRITERS)?;
    let confirm = match decision.as_str() {
        "confirm" => true,
        "reject" => false,
        other => {
            return Err(ApiError::not_found(format!(
                "`{other}` is not a decision: confirm or reject"
            )));
        }
    };
    let b: DecisionBody = if body.is_empty() {
        DecisionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is {{\"note\": …}}: {e}")))?
    };
    let note = reason_text(&b.note, "note", false)?;
    let flag = lists::decide(
        &s.store,
        id,
        confirm,
        &user.name,
        &note,
        crate::time::now_ms(),
    )
    .await
    .map_err(|e| match e {
        DecideError::Unknown(_) => ApiError::not_found(e.to_string()),
        DecideError::Decided(..) => ApiError::new(StatusCode::CONFLICT, "decided", e.to_string()),
        DecideError::Store(e) => ApiError::internal(e),
    })?;
    if confirm {
        relist(&s).await?;
    }
    crate::auth::audit(
        &s.store,
        &user,
        if confirm {
            "list flag confirm"
        } else {
            "list flag reject"
        },
        &flag.list,
        serde_json::json!({ "flag": flag.id, "number": flag.number, "note": flag.note }),
    )
    .await;
    Ok(Json(flag).into_response())
}
