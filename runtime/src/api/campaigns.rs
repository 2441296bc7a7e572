//! HTTP routes of outbound campaigns: each deployed campaign with its state and
//! live figures; start, pause, resume and stop (stopping hangs up nothing in
//! progress); list files imported into targets (the answer is the import
//! report); why one target is or is not dialled now; every attempt as CSV.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::api::{ApiError, AppState, bearer};
use crate::config::Role;
use crate::dialer::store::{self, RunState};
use dialect_compiler::ir::CampaignIr;

/// Roles that run campaigns and import their lists.
const OPERATORS: &[Role] = &[Role::Supervisor, Role::Admin];

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/campaigns", get(all_campaigns))
        .route("/api/v1/campaigns/{name}", get(one_campaign))
        .route("/api/v1/campaigns/{name}/{action}", post(control))
        .route("/api/v1/campaigns/{name}/lists", post(import_list))
        .route("/api/v1/campaigns/{name}/targets", get(find_targets))
        .route("/api/v1/campaigns/{name}/targets/{id}", get(one_target))
        .route("/api/v1/campaigns/{name}/results.csv", get(results_csv))
        .route(
            "/api/v1/campaigns/{name}/targets/{id}/disposition",
            post(disposition),
        )
        .route(
            "/api/v1/campaigns/{name}/targets/{id}/accept",
            post(accept_preview),
        )
        .route(
            "/api/v1/campaigns/{name}/targets/{id}/skip",
            post(skip_preview),
        )
}

/// A campaign as the API shows it.
#[derive(Debug, Serialize)]
struct CampaignView {
    name: String,
    label: String,
    mode: String,
    state: &'static str,
    /// What the agent reads from.
    script: Option<String>,
    /// The codes an agent gives a call: code, label, dial again after (ms).
    dispositions: Vec<(String, String, Option<i64>)>,
    /// Targets per state (pending, completed, exhausted…).
    targets: std::collections::BTreeMap<&'static str, u64>,
    #[serde(flatten)]
    live: crate::dialer::LiveFigures,
}

fn campaign<'a>(
    ir: &'a dialect_compiler::ir::ProgramIr,
    name: &str,
) -> Result<&'a CampaignIr, ApiError> {
    ir.campaigns.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<&str> = ir.campaigns.iter().map(|c| c.name.as_str()).collect();
        ApiError::not_found(format!(
            "there is no campaign `{name}`; the campaigns are: {}",
            names.join(", ")
        ))
    })
}

async fn view(s: &AppState, c: &CampaignIr) -> Result<CampaignView, ApiError> {
    let st = s.store.clone();
    let name = c.name.clone();
    let (state, targets) = tokio::task::spawn_blocking(move || {
        let state = store::run_state(&*st, &name)?;
        let mut counts = std::collections::BTreeMap::new();
        for t in store::targets(&*st, &name)? {
            *counts.entry(t.state.name()).or_insert(0) += 1;
        }
        Ok::<_, crate::store::StoreError>((state, counts))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(CampaignView {
        name: c.name.clone(),
        label: c.label.clone(),
        mode: c.mode.clone(),
        state: state.name(),
        script: c.script.clone(),
        dispositions: c.dispositions.clone(),
        targets,
        live: s.dialer.figures(&c.name),
    })
}

async fn all_campaigns(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    let mut out = Vec::new();
    for c in &deployed.program.ir().campaigns {
        out.push(view(&s, c).await?);
    }
    Ok(Json(out).into_response())
}

async fn one_campaign(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    let c = campaign(deployed.program.ir(), &name)?;
    Ok(Json(view(&s, c).await?).into_response())
}

async fn control(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), OPERATORS)?;
    let deployed = s.program.current();
    let c = campaign(deployed.program.ir(), &name)?;
    let state = match action.as_str() {
        "start" | "resume" => RunState::Running,
        "pause" => RunState::Paused,
        "stop" => RunState::Stopped,
        other => {
            return Err(ApiError::not_found(format!(
                "`{other}` is not a campaign action: start, pause, resume or stop"
            )));
        }
    };
    let dialer = s.dialer.clone();
    let n = name.clone();
    tokio::task::spawn_blocking(move || dialer.set_run_state(&n, state))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    s.acd.publish(dialect_acd::AcdEvent::Campaign {
        campaign: name.clone(),
        what: "state".into(),
        target: None,
        phone: None,
        outcome: None,
        state: Some(state.name().into()),
        agent: None,
        at_ms: crate::time::now_ms(),
    });
    crate::auth::audit(
        &s.store,
        &user,
        &format!("campaign {action}"),
        &name,
        serde_json::Value::Null,
    )
    .await;
    Ok(Json(view(&s, c).await?).into_response())
}

async fn import_list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), OPERATORS)?;
    let deployed = s.program.current();
    campaign(deployed.program.ir(), &name)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let boundary = content_type
        .as_deref()
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let (upload, content_type, file_name) = match boundary {
        Some(boundary) => receive_multipart(&s.access, body, boundary).await?,
        None => (
            super::receive_bundle(&s.access, body).await?,
            content_type,
            None,
        ),
    };
    let Some(upload) = upload else {
        return Err(too_large(&s.access));
    };
    let store = s.store.clone();
    let rules = s.outbound.number_rules();
    let n = name.clone();
    let result = tokio::task::spawn_blocking(move || {
        let deployed = deployed;
        let c = deployed
            .program
            .ir()
            .campaigns
            .iter()
            .find(|c| c.name == n)
            .cloned();
        let Some(c) = c else {
            return Err(crate::dialer::import::ListImportError::Campaign(n));
        };
        let file = std::fs::File::open(upload.path()).map_err(|e| {
            crate::dialer::import::ListImportError::Campaign(format!("cannot read the upload: {e}"))
        })?;
        crate::dialer::import::import(
            &store,
            &deployed,
            &c,
            rules,
            std::io::BufReader::new(file),
            content_type.as_deref(),
            file_name.as_deref().map(std::path::Path::new),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    match result {
        Ok(report) => {
            s.dialer.wake();
            crate::auth::audit(
                &s.store,
                &user,
                "campaign import",
                &name,
                serde_json::json!({ "rows": report.rows, "imported": report.imported }),
            )
            .await;
            Ok(Json(report).into_response())
        }
        Err(crate::dialer::import::ListImportError::Store(e)) => Err(ApiError::internal(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_list",
            e.to_string(),
        )),
    }
}

fn too_large(access: &super::access::Access) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "a list file may have at most {} bytes (http.max_bundle_size)",
            access.max_bundle_size
        ),
    )
}

/// A spooled upload (`None` when too large), its content type and file name.
type Upload = (
    Option<tempfile::NamedTempFile>,
    Option<String>,
    Option<String>,
);

/// The list file of a multipart upload (a browser's form): the first part
/// that carries a file name, or else the part named `file`; other parts are
/// read past. That part's own content type and file name decide the format.
async fn receive_multipart(
    access: &super::access::Access,
    body: axum::body::Body,
    boundary: String,
) -> Result<Upload, ApiError> {
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(access.max_bundle_size.saturating_add(64 * 1024))
            .per_field(access.max_bundle_size.saturating_add(1)),
    );
    let mut form = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let malformed = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(access)
        }
        e => ApiError::invalid(format!("the multipart upload is malformed: {e}")),
    };
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.file_name().is_none() && field.name() != Some("file") {
            continue;
        }
        let content_type = field.content_type().map(|m| m.to_string());
        let file_name = field.file_name().map(str::to_string);
        let upload = super::spool(access, Box::pin(field)).await?;
        return Ok((upload, content_type, file_name));
    }
    Err(ApiError::invalid(
        "the multipart upload holds no file: send the list in a part named `file`",
    ))
}

/// Body of `POST …/accept` and `…/skip`: the agent (a supervisor may answer
/// for one; an agent answers for themself) and, to skip, why.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewAnswer {
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Whose preview the caller answers.
fn preview_agent(user: &crate::auth::User, body: &PreviewAnswer) -> Result<String, ApiError> {
    match &body.agent {
        Some(a) if a != &user.name && !user.has_role(&[Role::Supervisor]) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("`{}` may answer only their own previews", user.name),
        )),
        Some(a) => Ok(a.clone()),
        None => Ok(user.name.clone()),
    }
}

fn preview_body(bytes: &[u8]) -> Result<PreviewAnswer, ApiError> {
    if bytes.is_empty() {
        return Ok(PreviewAnswer::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("the body is {{\"agent\", \"reason\"}}: {e}")))
}

/// `POST …/targets/{id}/accept`: the agent takes the previewed target; the
/// dialer places the call and it goes to that agent.
async fn accept_preview(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, id)): Path<(String, u64)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::Admin],
    )?;
    let agent = preview_agent(&user, &preview_body(&body)?)?;
    s.dialer
        .accept(&name, id, &agent)
        .await
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, "conflict", m))?;
    Ok(Json(serde_json::json!({ "target": id, "agent": agent, "dialling": true })).into_response())
}

/// `POST …/targets/{id}/skip` `{"reason"}`: the agent passes on the previewed
/// target; it is handed back, nothing counted, and the reason is audited.
async fn skip_preview(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, id)): Path<(String, u64)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::Admin],
    )?;
    let answer = preview_body(&body)?;
    let agent = preview_agent(&user, &answer)?;
    let Some(reason) = answer.reason.filter(|r| !r.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "say why the target is skipped: {\"reason\": \"…\"}",
        ));
    };
    s.dialer
        .skip(&name, id, &agent, &reason)
        .await
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, "conflict", m))?;
    crate::auth::audit(
        &s.store,
        &user,
        "campaign skip",
        &name,
        serde_json::json!({ "target": id, "agent": agent, "reason": reason }),
    )
    .await;
    Ok(Json(serde_json::json!({ "target": id, "agent": agent, "skipped": true })).into_response())
}

/// Body of `POST …/targets/{id}/disposition`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    code: String,
}

/// An agent's disposition of the last call to a target: stored on that
/// attempt; the target is completed, or due again after the code's `retry in`.
async fn disposition(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, id)): Path<(String, u64)>,
    Json(body): Json<DispositionBody>,
) -> Result<Response, ApiError> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::Admin],
    )?;
    let deployed = s.program.current();
    let c = campaign(deployed.program.ir(), &name)?;
    let Some((_, _, retry_in)) = c
        .dispositions
        .iter()
        .find(|(code, _, _)| *code == body.code)
    else {
        let codes: Vec<&str> = c.dispositions.iter().map(|d| d.0.as_str()).collect();
        return Err(ApiError::invalid(format!(
            "`{}` is not a disposition of `{name}`; its codes are: {}",
            body.code,
            codes.join(", ")
        )));
    };
    let retry_in = *retry_in;
    let st = s.store.clone();
    let n = name.clone();
    let code = body.code.clone();
    let agent = user.name.clone();
    let changed = tokio::task::spawn_blocking(move || {
        let Some(before) = store::target(&*st, &n, id)? else {
            return Ok(None);
        };
        let Some(mut last) = store::attempts(&*st, &n, id)?.pop() else {
            return Ok(None);
        };
        last.disposition = Some(code);
        if last.agent.is_none() {
            last.agent = Some(agent);
        }
        let mut after = before.clone();
        if !after.state.is_final() || after.state == dialect_dialer::target::TargetState::Completed
        {
            match retry_in {
                Some(ms) => {
                    after.state = dialect_dialer::target::TargetState::Pending;
                    after.next_attempt_ms = Some(crate::time::now_ms() + ms);
                }
                None => {
                    after.state = dialect_dialer::target::TargetState::Completed;
                    after.next_attempt_ms = None;
                }
            }
        }
        let mut batch = crate::store::Batch::new();
        store::put_target(&mut batch, &n, Some(&before), &after);
        store::put_attempt(&mut batch, &n, id, &last);
        st.commit(batch)?;
        Ok::<_, crate::store::StoreError>(Some(after.state.name()))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    match changed {
        Some(state) => {
            s.dialer.wake();
            Ok(Json(serde_json::json!({ "target": id, "state": state })).into_response())
        }
        None => Err(ApiError::not_found(format!(
            "the campaign `{name}` has no call to target {id} to give a disposition"
        ))),
    }
}

/// Query of `GET …/targets`.
#[derive(Debug, serde::Deserialize)]
struct TargetQuery {
    /// Only targets in this state (`pending`, `completed`, `attempts exhausted`…).
    state: Option<String>,
    /// Only the target of this number, in any written form.
    phone: Option<String>,
    /// Most targets (default 100, at most 10,000).
    limit: Option<usize>,
}

/// A campaign's targets, by state or number: the way to a target's id and
/// its explanation.
async fn find_targets(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<TargetQuery>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    campaign(deployed.program.ir(), &name)?;
    let phone = match &q.phone {
        Some(p) => Some(
            s.outbound
                .canonical(p)
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).min(10_000);
    let st = s.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        if let Some(p) = phone {
            return Ok(store::target_by_phone(&*st, &name, &p)?
                .into_iter()
                .collect());
        }
        let mut out: Vec<dialect_dialer::target::Target> = store::targets(&*st, &name)?
            .into_iter()
            .filter(|t| q.state.as_deref().is_none_or(|w| t.state.name() == w))
            .collect();
        out.truncate(limit);
        Ok::<_, crate::store::StoreError>(out)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let out: Vec<serde_json::Value> = found
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "phone": t.phone,
                "state": t.state.name(),
                "attempts": t.attempts.total,
                "last_outcome": t.last_outcome.map(|o| o.name()),
                "next_attempt_ms": t.next_attempt_ms,
            })
        })
        .collect();
    Ok(Json(out).into_response())
}

async fn one_target(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((name, id)): Path<(String, u64)>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    let c = campaign(deployed.program.ir(), &name)?.clone();
    let st = s.store.clone();
    let n = name.clone();
    let (target, attempts) = tokio::task::spawn_blocking(move || {
        let t = store::target(&*st, &n, id)?;
        let a = store::attempts(&*st, &n, id)?;
        Ok::<_, crate::store::StoreError>((t, a))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let Some(target) = target else {
        return Err(ApiError::not_found(format!(
            "the campaign `{name}` has no target {id}"
        )));
    };
    let now = crate::time::now_ms();
    let blocked = s.dialer.explain(&c, &target, now);
    let fields: serde_json::Map<String, serde_json::Value> = c
        .fields
        .iter()
        .zip(&target.fields)
        .map(|((n, _, _), v)| (n.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect();
    Ok(Json(serde_json::json!({
        "id": target.id,
        "phone": target.phone,
        "state": target.state.name(),
        "fields": fields,
        "attempts": target.attempts.total,
        "attempts_today": target.attempts.today,
        "last_attempt_ms": target.last_attempt_ms,
        "last_outcome": target.last_outcome.map(|o| o.name()),
        "next_attempt_ms": target.next_attempt_ms,
        "dialable_now": blocked.is_empty(),
        "why_not": blocked.iter().map(|b| serde_json::json!({
            "detail": b,
            "message": b.to_string(),
        })).collect::<Vec<_>>(),
        "history": attempts,
    }))
    .into_response())
}

async fn results_csv(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let deployed = s.program.current();
    campaign(deployed.program.ir(), &name)?;
    let st = s.store.clone();
    let n = name.clone();
    let body = tokio::task::spawn_blocking(move || {
        let targets: std::collections::HashMap<u64, dialect_dialer::target::Target> =
            store::targets(&*st, &n)?
                .into_iter()
                .map(|t| (t.id, t))
                .collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "target",
            "phone",
            "attempt",
            "started",
            "ended",
            "outcome",
            "sip_code",
            "agent",
            "disposition",
            "contact",
            "target_state",
            "detail",
        ]);
        for (id, a) in store::all_attempts(&*st, &n)? {
            let t = targets.get(&id);
            let time = |ms: i64| {
                chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default()
            };
            let _ = w.write_record([
                id.to_string(),
                t.map(|t| t.phone.clone()).unwrap_or_default(),
                a.n.to_string(),
                time(a.started_ms),
                time(a.ended_ms),
                a.outcome.name().to_string(),
                a.sip_code.map(|c| c.to_string()).unwrap_or_default(),
                a.agent.clone().unwrap_or_default(),
                a.disposition.clone().unwrap_or_default(),
                a.contact.to_string(),
                t.map(|t| t.state.name().to_string()).unwrap_or_default(),
                a.detail.clone(),
            ]);
        }
        Ok::<_, crate::store::StoreError>(w.into_inner().unwrap_or_default())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}
