//! HTTP routes of workorders, notifications, interaction events, event types,
//! customer history, outbound tasks and the audit log (documented in
//! `docs/openapi.yaml`, served at `/api/v1/openapi.json` and `.yaml`).
//!
//! Every route checks the caller's role; handlers see and act on their
//! department's orders only; sensitive fields are masked for roles that may not
//! see them ([`crate::auth::sees_sensitive`]).

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{ApiError, AppState, bearer, parse_time};
use crate::auth::{User, mask, sees_sensitive};
use crate::config::Role;
use crate::interactions::{self, EventType, NewEvent};
use crate::workorder::model::{HistoryEntry, Workorder};
use crate::workorder::{
    CreateRequest, ImportOrder, Query, TaskQuery, TaskRequest, TaskUpdate, TransitionRequest,
};
use crate::workorder::{WoError, lifecycle};

/// Roles that read orders.
const READERS: &[Role] = crate::auth::STAFF;
/// Roles that change orders (the lifecycle says which steps each may take).
const WRITERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::QualityInspector,
    Role::Handler,
];

/// The OpenAPI document.
pub const OPENAPI_YAML: &str = include_str!("../../../../docs/openapi.yaml");

/// The routes; merge them into the API router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workorders", get(query_orders).post(create_order))
        .route("/api/v1/workorders/counts", get(counts))
        .route("/api/v1/workorders/import", post(import_orders))
        .route("/api/v1/workorders/{number}", get(get_order))
        .route("/api/v1/workorders/{number}/transitions", post(transition))
        .route("/api/v1/workorders/{number}/comments", post(comment))
        .route("/api/v1/workorders/{number}/links", post(link))
        .route("/api/v1/workorders/{number}/history", get(history))
        .route("/api/v1/workorders/{number}/summary", get(summary))
        .route("/api/v1/workorder-types", get(workorder_types))
        .route("/api/v1/notifications", get(notifications))
        .route(
            "/api/v1/event-types",
            get(list_event_types).post(put_event_type),
        )
        .route("/api/v1/interactions", get(query_events).post(create_event))
        .route("/api/v1/interactions/{id}", get(get_event))
        .route(
            "/api/v1/interactions/{id}/workorders",
            post(create_from_event),
        )
        .route("/api/v1/customers/{id}/history", get(customer_history))
        .route("/api/v1/tasks", get(query_tasks).post(create_task))
        .route("/api/v1/tasks/{id}", get(get_task).patch(update_task))
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/openapi.yaml", get(openapi_yaml))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route(
            crate::workorder::shared::PATH,
            post(crate::workorder::shared::internal)
                .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
}

/// An error from either layer.
enum Error {
    Api(ApiError),
    Wo(WoError),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(e)
    }
}

impl From<crate::auth::AuthError> for Error {
    fn from(e: crate::auth::AuthError) -> Error {
        Error::Api(e.into())
    }
}

impl From<WoError> for Error {
    fn from(e: WoError) -> Error {
        Error::Wo(e)
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Error {
        Error::Wo(e.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Api(e) => e.into_response(),
            Error::Wo(e) => e.into_response(),
        }
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// A JSON body, with a 400 that says what is wrong with it.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => {
                let field = body_field(&e.body_text());
                Err(Error::Wo(WoError::Invalid {
                    field,
                    message: e.body_text(),
                }))
            }
        }
    }
}

/// The field named in a serde message (`unknown field `x``, `missing field `y``).
fn body_field(msg: &str) -> String {
    for pat in ["unknown field `", "missing field `"] {
        if let Some(i) = msg.find(pat) {
            let rest = &msg[i + pat.len()..];
            if let Some(j) = rest.find('`') {
                return rest[..j].to_string();
            }
        }
    }
    "body".into()
}

fn sensitive_fields(s: &AppState, kind: &str) -> Vec<String> {
    let d = s.program.current();
    d.program
        .ir()
        .workorders
        .iter()
        .find(|w| w.name == kind)
        .map(|w| {
            w.fields
                .iter()
                .filter(|f| f.sensitive)
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn mask_fields(
    fields: &mut std::collections::BTreeMap<String, serde_json::Value>,
    sensitive: &[String],
) {
    for name in sensitive {
        if let Some(v) = fields.get_mut(name)
            && let Some(t) = v.as_str()
        {
            *v = serde_json::Value::String(mask(t));
        }
    }
}

/// An order as a user sees it: the order's fields and `overdue`, written straight
/// into the response (no intermediate JSON tree).
#[derive(serde::Serialize)]
struct Presented {
    #[serde(flatten)]
    order: Workorder,
    overdue: bool,
    /// The order's progress summary, readable without a token (signed).
    summary_link: String,
    /// The SMS and e-mails queued for the order (its triggers, its reminders
    /// and escalations) and where each is; in the view of one order only.
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<DeliveryView>>,
}

/// Most deliveries shown with an order.
const DELIVERIES_SHOWN: usize = 200;

/// A notification queued for an order, as the order's view shows it: where
/// it went and how far it got, without its text.
#[derive(serde::Serialize)]
struct DeliveryView {
    /// The outbox entry (`GET /api/v1/outbox`).
    id: u64,
    channel: String,
    /// Masked for roles that do not see sensitive fields.
    to: String,
    subject: Option<String>,
    status: &'static str,
    attempts: u32,
    last_error: Option<String>,
    queued_ms: i64,
    sent_ms: Option<i64>,
    done_ms: Option<i64>,
}

impl DeliveryView {
    fn of(e: crate::notify::OutboxEntry, user: &User) -> DeliveryView {
        DeliveryView {
            id: e.id,
            channel: e.channel,
            to: if sees_sensitive(user) {
                e.to
            } else {
                mask(&e.to)
            },
            subject: e.subject,
            status: e.status.as_str(),
            attempts: e.attempts,
            last_error: e.last_error,
            queued_ms: e.queued_ms,
            sent_ms: e.sent_ms,
            done_ms: e.done_ms,
        }
    }
}

/// An order as a user may see it: sensitive fields masked, `overdue` added.
fn present(s: &AppState, user: &User, mut o: Workorder) -> Presented {
    if !sees_sensitive(user) {
        mask_fields(&mut o.fields, &sensitive_fields(s, &o.kind));
    }
    let now = s.workorders.clock().now_ms();
    let overdue = o.closed_ms.is_none() && o.deadline_ms.is_some_and(|d| d < now);
    let summary_link = summary_link(s, &o.number);
    Presented {
        order: o,
        overdue,
        summary_link,
        deliveries: None,
    }
}

/// The signed link to an order's summary, to hand to a customer (an SMS, a web
/// page): it opens that order's summary only.
fn summary_link(s: &AppState, number: &str) -> String {
    format!(
        "/api/v1/workorders/{number}/summary?sig={}",
        s.access.sign_summary(number)
    )
}

fn present_history(
    s: &AppState,
    user: &User,
    kind: &str,
    mut h: Vec<HistoryEntry>,
) -> Vec<HistoryEntry> {
    if !sees_sensitive(user) {
        let sens = sensitive_fields(s, kind);
        for e in &mut h {
            mask_fields(&mut e.fields, &sens);
        }
    }
    h
}

/// Handlers may only see their department's orders: any other is answered
/// exactly like an order that does not exist.
fn visible(user: &User, o: &Workorder) -> Result<()> {
    if !crate::workorder::visible_to(user, o) {
        return Err(WoError::NotFound(crate::workorder::no_such_order(&o.number)).into());
    }
    Ok(())
}

async fn create_order(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(req): Body<CreateRequest>,
) -> Result<Response> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::Handler],
    )?;
    let o = s.workorders.create(req, &user).await?;
    Ok((StatusCode::CREATED, Json(present(&s, &user, o))).into_response())
}

async fn import_orders(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(orders): Body<Vec<ImportOrder>>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), &[Role::Admin])?;
    if orders.len() > 100_000 {
        return Err(WoError::invalid("body", "import at most 100000 orders at a time").into());
    }
    let numbers = s.workorders.import(orders, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "numbers": numbers })),
    )
        .into_response())
}

async fn get_order(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), READERS)?;
    let o = s.workorders.get(&number).await?;
    visible(&user, &o)?;
    let store = s.store.clone();
    let entries = tokio::task::spawn_blocking(move || {
        crate::notify::of_workorder(&*store, &number, DELIVERIES_SHOWN)
    })
    .await
    .map_err(ApiError::internal)??;
    let mut view = present(&s, &user, o);
    view.deliveries = Some(
        entries
            .into_iter()
            .map(|e| DeliveryView::of(e, &user))
            .collect(),
    );
    Ok(Json(view).into_response())
}

/// Query string of `GET /api/v1/workorders`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OrderParams {
    kind: Option<String>,
    state: Option<String>,
    department: Option<String>,
    handler: Option<String>,
    customer: Option<String>,
    open: Option<bool>,
    overdue: Option<bool>,
    created_from: Option<String>,
    created_to: Option<String>,
    updated_from: Option<String>,
    updated_to: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

fn time(p: &Option<String>) -> Result<Option<i64>> {
    Ok(p.as_deref().map(parse_time).transpose()?)
}

async fn query_orders(
    State(s): State<AppState>,
    headers: HeaderMap,
    params: std::result::Result<QueryParams<OrderParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), READERS)?;
    let QueryParams(p) = params.map_err(|e| {
        let t = e.body_text();
        WoError::Invalid {
            field: body_field(&t),
            message: t,
        }
    })?;
    let mut department = p.department.clone();
    if user.role == Role::Handler {
        match (&department, &user.department) {
            (Some(d), Some(mine)) if d != mine => {
                return Err(WoError::Forbidden(format!(
                    "handlers see their own department's orders ({mine})"
                ))
                .into());
            }
            (_, Some(mine)) => department = Some(mine.clone()),
            (_, None) => {
                return Err(WoError::Forbidden("this handler has no department".into()).into());
            }
        }
    }
    let q = Query {
        kind: p.kind,
        state: p.state,
        department,
        handler: p.handler,
        customer: p.customer,
        open: p.open.unwrap_or(false),
        overdue: p.overdue.unwrap_or(false),
        created_from: time(&p.created_from)?,
        created_to: time(&p.created_to)?,
        updated_from: time(&p.updated_from)?,
        updated_to: time(&p.updated_to)?,
        offset: p.offset.unwrap_or(0),
        limit: p.limit.unwrap_or(50),
    };
    let page = s.workorders.query(q).await?;
    let items: Vec<Presented> = page
        .items
        .into_iter()
        .map(|o| present(&s, &user, o))
        .collect();
    Ok(Json(serde_json::json!({
        "items": items,
        "next_offset": page.next_offset,
        "total": page.total,
    }))
    .into_response())
}

async fn transition(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Body(req): Body<TransitionRequest>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), WRITERS)?;
    let o = s.workorders.transition(&number, req, &user).await?;
    Ok(Json(present(&s, &user, o)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
}

async fn comment(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Body(b): Body<CommentBody>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), WRITERS)?;
    let o = s.workorders.comment(&number, &b.text, &user).await?;
    Ok((StatusCode::CREATED, Json(present(&s, &user, o))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    kind: String,
    to: String,
}

async fn link(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Body(b): Body<LinkBody>,
) -> Result<Response> {
    let user = s.users.authorize(
        bearer(&headers),
        &[Role::Agent, Role::Supervisor, Role::Handler],
    )?;
    let (a, _) = s.workorders.link(&number, &b.kind, &b.to, &user).await?;
    Ok((StatusCode::CREATED, Json(present(&s, &user, a))).into_response())
}

async fn history(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), READERS)?;
    let o = s.workorders.get(&number).await?;
    visible(&user, &o)?;
    let h = s.workorders.history(&number).await?;
    Ok(Json(present_history(&s, &user, &o.kind, h)).into_response())
}

/// Query of the summary: the signature of a summary link.
#[derive(Debug, Deserialize, Default)]
struct SummaryParams {
    sig: Option<String>,
}

/// The state of an order for the IVR's progress inquiry (`service orders` in the
/// project) and for customers' links: state, its label and the date of the last
/// change, nothing personal. Order numbers are sequential, so the summary needs a
/// token (the IVR's lookups carry the runtime's own) or a signed link; a wrong
/// signature is answered like an order that does not exist.
async fn summary(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    QueryParams(p): QueryParams<SummaryParams>,
) -> Result<Response> {
    // Who asks is settled before anything is said about the number.
    let user = match &p.sig {
        Some(sig) => {
            if !s.access.check_summary(&number, sig) {
                return Err(WoError::NotFound(crate::workorder::no_such_order(&number)).into());
            }
            None
        }
        None => {
            let mut roles = READERS.to_vec();
            roles.push(Role::System);
            Some(s.users.authorize(bearer(&headers), &roles)?)
        }
    };
    if crate::workorder::mem::number_key(&number).is_none() {
        return Err(WoError::invalid("number", "an order number is digits").into());
    }
    let o = s.workorders.get(&number).await?;
    if let Some(user) = &user {
        visible(user, &o)?;
    }
    let d = s.program.current();
    let label = lifecycle::lifecycle(&d.program, &o.kind)
        .ok()
        .and_then(|ir| lifecycle::state(ir, &o.state))
        .map(|st| st.label.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| o.state.clone());
    let updated = chrono::DateTime::from_timestamp_millis(o.updated_ms)
        .unwrap_or_default()
        .with_timezone(&d.program.shared().tz)
        .format("%Y-%m-%d")
        .to_string();
    Ok(Json(serde_json::json!({
        "number": o.number,
        "kind": o.kind,
        "state": o.state,
        "state_label": label,
        "updated": updated,
    }))
    .into_response())
}

async fn counts(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let user = s.users.authorize(
        bearer(&headers),
        &[
            Role::Supervisor,
            Role::QualityInspector,
            Role::Analyst,
            Role::Handler,
        ],
    )?;
    let mut c = s.workorders.counts().await?;
    if user.role == Role::Handler {
        let mine = user.department.clone().unwrap_or_default();
        c.open.retain(|r| r.department == mine);
        c.overdue.retain(|r| r.department == mine);
        c.total_open = c.open.iter().map(|r| r.count).sum();
        c.total_overdue = c.overdue.iter().map(|r| r.count).sum();
    }
    Ok(Json(c).into_response())
}

async fn workorder_types(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    s.users.authorize(bearer(&headers), READERS)?;
    let d = s.program.current();
    let ir = d.program.ir();
    let types: Vec<serde_json::Value> = ir
        .workorders
        .iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "label": w.label,
                "fields": w.fields.iter().map(|f| serde_json::json!({
                    "name": f.name, "type": f.kind, "values": f.values,
                    "required": f.required, "sensitive": f.sensitive,
                })).collect::<Vec<_>>(),
                "states": w.states.iter().map(|st| serde_json::json!({
                    "name": st.name, "label": st.label, "initial": st.initial,
                    "final": st.is_final,
                    "limit_ms": st.limit.map(|l| l.0),
                    "business_hours": st.limit.map(|l| l.1),
                })).collect::<Vec<_>>(),
                "transitions": w.transitions.iter().map(|t| serde_json::json!({
                    "name": t.name,
                    "from": w.states.get(t.from as usize).map(|x| &x.name),
                    "to": w.states.get(t.to as usize).map(|x| &x.name),
                    "roles": t.roles,
                    "kind": t.kind.map(|k| format!("{k:?}").to_lowercase()),
                    "guarded": t.guard.is_some(),
                })).collect::<Vec<_>>(),
                "links": w.links,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "types": types,
        "departments": ir.departments.iter().map(|(n, l)| serde_json::json!({"name": n, "label": l})).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NotifyParams {
    to: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
}

async fn notifications(
    State(s): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<NotifyParams>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let mut own = vec![user.role.to_string(), user.name.clone()];
    if let Some(d) = &user.department {
        own.push(d.clone());
    }
    let everyone = matches!(user.role, Role::Supervisor | Role::Admin);
    let to: Vec<String> = match &p.to {
        Some(t) => t
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        None => own.clone(),
    };
    if !everyone && let Some(other) = to.iter().find(|t| !own.contains(t)) {
        return Err(WoError::Forbidden(format!(
            "the role `{}` may not read notifications for `{other}`",
            user.role
        ))
        .into());
    }
    let since = time(&p.since)?.unwrap_or(0);
    let list = s
        .workorders
        .notifications(to, since, p.limit.unwrap_or(100))
        .await?;
    Ok(Json(list).into_response())
}

async fn list_event_types(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    let store = s.store.clone();
    let list = tokio::task::spawn_blocking(move || interactions::event_types(&*store))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(list).into_response())
}

async fn put_event_type(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(t): Body<EventType>,
) -> Result<Response> {
    let user = s.users.authorize(bearer(&headers), &[Role::Supervisor])?;
    if t.id.trim().is_empty() || !t.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(WoError::invalid("id", "an event type id is letters, digits and _").into());
    }
    if t.name.trim().is_empty() {
        return Err(WoError::invalid("name", "an event type needs a name").into());
    }
    interactions::put_event_type(&s.store, &t).await?;
    crate::auth::audit(
        &s.store,
        &user,
        "event_type.put",
        &t.id,
        serde_json::json!({ "name": t.name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn create_event(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(new): Body<NewEvent>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let now = s.workorders.clock().now_ms();
    match interactions::create_event(&s.store, new, &user, now).await {
        Ok(e) => Ok((StatusCode::CREATED, Json(e)).into_response()),
        Err(interactions::EventError::Invalid(f, m)) => Err(WoError::invalid(f, m).into()),
        Err(interactions::EventError::Store(m)) => Err(WoError::Store(m).into()),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RangeParams {
    customer: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

async fn query_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<RangeParams>,
) -> Result<Response> {
    s.users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let from = time(&p.from)?.unwrap_or(0);
    let to = time(&p.to)?.unwrap_or(i64::MAX / 2);
    let limit = p.limit.unwrap_or(100).min(10_000);
    let store = s.store.clone();
    let list = tokio::task::spawn_blocking(move || {
        interactions::query_events(&*store, p.customer.as_deref(), from, to, limit)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(list).into_response())
}

async fn get_event(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response> {
    s.users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let store = s.store.clone();
    let (e, orders) =
        tokio::task::spawn_blocking(move || -> Result<_, crate::store::StoreError> {
            Ok((
                interactions::get_event(&*store, id)?,
                interactions::workorders_of_event(&*store, id)?,
            ))
        })
        .await
        .map_err(ApiError::internal)??;
    let e = e.ok_or_else(|| WoError::NotFound(format!("there is no interaction event {id}")))?;
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["workorders"] = orders.into();
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FromEvent {
    kind: String,
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

async fn create_from_event(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Body(b): Body<FromEvent>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    let req = CreateRequest {
        kind: b.kind,
        fields: b.fields,
        department: b.department,
        event_id: Some(id),
        contact_id: None,
        comment: b.comment,
    };
    let o = match s.workorders.create(req, &user).await {
        Err(WoError::Invalid { field, message }) if field == "event_id" => {
            return Err(WoError::NotFound(message).into());
        }
        r => r?,
    };
    Ok((StatusCode::CREATED, Json(present(&s, &user, o))).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CustomerParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
}

async fn customer_history(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(customer): Path<String>,
    QueryParams(p): QueryParams<CustomerParams>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let from = time(&p.from)?.unwrap_or(0);
    let to = time(&p.to)?.unwrap_or(i64::MAX / 2);
    let limit = p.limit.unwrap_or(100).min(1000);
    let store = s.store.clone();
    let c = customer.clone();
    let (contacts, events) =
        tokio::task::spawn_blocking(move || -> Result<_, crate::store::StoreError> {
            Ok((
                crate::contacts::query_by_customer(&*store, &c, from, to, limit)?,
                interactions::query_events(&*store, Some(&c), from, to, limit)?,
            ))
        })
        .await
        .map_err(ApiError::internal)??;
    let page = s
        .workorders
        .query(Query {
            customer: Some(customer.clone()),
            created_from: Some(from),
            created_to: Some(to),
            limit,
            ..Query::default()
        })
        .await?;
    let orders: Vec<Presented> = page
        .items
        .into_iter()
        .map(|o| present(&s, &user, o))
        .collect();
    Ok(Json(serde_json::json!({
        "customer_id": customer,
        "contacts": contacts,
        "interactions": events,
        "workorders": orders,
    }))
    .into_response())
}

async fn create_task(
    State(s): State<AppState>,
    headers: HeaderMap,
    Body(req): Body<TaskRequest>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Supervisor, Role::Analyst])?;
    let t = s.workorders.create_task(req, &user).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TaskParams {
    campaign: Option<String>,
    customer: Option<String>,
    status: Option<String>,
    handler: Option<String>,
    limit: Option<usize>,
}

async fn query_tasks(
    State(s): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<TaskParams>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    // Agents see the tasks dispatched to them and no others.
    let handler = if user.role == Role::Agent {
        if p.handler.as_ref().is_some_and(|h| *h != user.name) {
            return Ok(Json(Vec::<crate::workorder::Task>::new()).into_response());
        }
        Some(user.name.clone())
    } else {
        p.handler
    };
    // A dialer campaign's targets are its tasks.
    let deployed = s.program.current();
    let dialer_campaign = p
        .campaign
        .as_deref()
        .and_then(|n| deployed.program.ir().campaigns.iter().find(|c| c.name == n))
        .cloned();
    if let Some(c) = dialer_campaign {
        let filter = crate::dialer::tasks::TaskFilter {
            status: p.status,
            customer: p.customer,
            handler,
            limit: p.limit.unwrap_or(100).min(10_000),
        };
        let store = s.store.clone();
        let list =
            tokio::task::spawn_blocking(move || crate::dialer::tasks::tasks(&*store, &c, &filter))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        return Ok(Json(list).into_response());
    }
    let list = s
        .workorders
        .query_tasks(TaskQuery {
            campaign: p.campaign,
            customer: p.customer,
            status: p.status,
            handler,
            limit: p.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(list).into_response())
}

async fn get_task(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let task = s.workorders.get_task(id).await?;
    // Another agent's task is, to an agent, one that does not exist.
    if user.role == Role::Agent && task.handler.as_deref() != Some(user.name.as_str()) {
        return Err(WoError::NotFound(format!("there is no task {id}")).into());
    }
    Ok(Json(task).into_response())
}

async fn update_task(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Body(up): Body<TaskUpdate>,
) -> Result<Response> {
    let user = s
        .users
        .authorize(bearer(&headers), &[Role::Agent, Role::Supervisor])?;
    Ok(Json(s.workorders.update_task(id, up, &user).await?).into_response())
}

async fn audit_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    QueryParams(p): QueryParams<RangeParams>,
) -> Result<Response> {
    s.users.authorize(bearer(&headers), &[Role::Admin])?;
    if p.customer.is_some() {
        return Err(WoError::invalid("customer", "the audit log is queried by time").into());
    }
    let from = time(&p.from)?.unwrap_or(0);
    let to = time(&p.to)?.unwrap_or(i64::MAX / 2);
    let limit = p.limit.unwrap_or(100).min(10_000);
    let store = s.store.clone();
    let list =
        tokio::task::spawn_blocking(move || crate::auth::audit_entries(&*store, from, to, limit))
            .await
            .map_err(ApiError::internal)??;
    Ok(Json(list).into_response())
}

async fn openapi_yaml() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/yaml")],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn openapi_json() -> Response {
    match serde_yaml::from_str::<serde_json::Value>(OPENAPI_YAML) {
        Ok(v) => Json(v).into_response(),
        Err(e) => ApiError::internal(format!("openapi.yaml: {e}")).into_response(),
    }
}

/// The HTTP status of a workorder error.
pub(crate) fn status_of(e: &WoError) -> StatusCode {
    match e {
        WoError::Invalid { .. } => StatusCode::BAD_REQUEST,
        WoError::NotFound(_) => StatusCode::NOT_FOUND,
        WoError::Forbidden(_) => StatusCode::FORBIDDEN,
        WoError::Conflict { .. } => StatusCode::CONFLICT,
        WoError::Rule(_) => StatusCode::UNPROCESSABLE_ENTITY,
        WoError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        WoError::Unavailable | WoError::Elsewhere(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for WoError {
    fn into_response(self) -> Response {
        let code = match &self {
            WoError::Invalid { .. } => "invalid",
            WoError::NotFound(_) => "not_found",
            WoError::Forbidden(_) => "forbidden",
            WoError::Conflict { .. } => "conflict",
            WoError::Rule(_) => "rule",
            WoError::Store(_) => "internal",
            WoError::Unavailable | WoError::Elsewhere(_) => "unavailable",
        };
        let mut body = serde_json::json!({ "error": code, "message": self.to_string() });
        match &self {
            WoError::Invalid { field, .. } => body["field"] = field.clone().into(),
            WoError::Conflict { state, .. } => body["state"] = state.clone().into(),
            _ => {}
        }
        (status_of(&self), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests;
