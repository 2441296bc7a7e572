//! Event types (事件类型, spec 000 §4.2.1) and customer interaction events (客户交互
//! 事件, §4.2.3; REQUIREMENTS D2): what happened with a customer (a complaint, a
//! fault report, an inquiry, a proactive call), linked to the contacts it came up
//! in and to the workorders it raised (one event may raise several, W4). Stored
//! durably and queried by customer and time.

use serde::{Deserialize, Serialize};

use crate::store::{Batch, SharedStore, Store, StoreError, get_json};

/// Event types by id.
pub const EVENT_TYPES: &str = "event_types";
/// Interaction events by id.
pub const EVENTS: &str = "interactions";
/// Index: customer, 0, start time (8), id (8).
pub const BY_CUSTOMER: &str = "interactions_by_customer";
/// Index: start time (8), id (8).
pub const BY_TIME: &str = "interactions_by_time";
/// Index: contact id (8), event id (8).
pub const BY_CONTACT: &str = "interactions_by_contact";

/// Channels an interaction can come through (spec 000 §4.2.2 Channel_ID).
pub const CHANNELS: &[&str] = &[
    "agent", "ivr", "web", "email", "fax", "sms", "manager", "outbound",
];

/// A type of interaction event. The store starts with
/// [`default_event_types`]; the API adds and renames types.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventType {
    /// Stable key of the type (`complaint`), which events store.
    pub id: String,
    /// Name shown to people (`投诉`); renaming leaves the events alone.
    pub name: String,
}

/// The event types every store starts with.
pub fn default_event_types() -> Vec<EventType> {
    [
        ("complaint", "投诉"),
        ("fault_report", "故障申告"),
        ("inquiry", "咨询查询"),
        ("business", "业务办理"),
        ("proactive", "主动服务"),
        ("care", "客户关怀"),
        ("payment_reminder", "客户催缴"),
        ("survey", "客户调查"),
        ("callback", "客户回访"),
        ("retention", "客户挽留"),
    ]
    .into_iter()
    .map(|(id, name)| EventType {
        id: id.into(),
        name: name.into(),
    })
    .collect()
}

/// Stores the default event types that are missing.
pub fn seed_event_types(store: &dyn Store) -> Result<(), StoreError> {
    let mut b = Batch::new();
    for t in default_event_types() {
        if store.get(EVENT_TYPES, t.id.as_bytes())?.is_none() {
            b.put_json(EVENT_TYPES, t.id.as_bytes().to_vec(), &t);
        }
    }
    if !b.is_empty() {
        store.commit(b)?;
    }
    Ok(())
}

/// Every event type, ordered by id.
pub fn event_types(store: &dyn Store) -> Result<Vec<EventType>, StoreError> {
    store
        .scan_prefix(EVENT_TYPES, b"")?
        .into_iter()
        .map(|(_, v)| {
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(format!("event type: {e}")))
        })
        .collect()
}

/// Adds or renames an event type (durably).
pub async fn put_event_type(store: &SharedStore, t: &EventType) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.put_json(EVENT_TYPES, t.id.as_bytes().to_vec(), t);
    crate::store::commit_async(store.clone(), b).await
}

/// A customer interaction event as stored and returned by the API; only
/// [`create_event`] makes one, after checking every id it refers to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct InteractionEvent {
    /// From the store's durable `interaction` counter: unique and increasing.
    pub id: u64,
    /// Id of an [`EventType`] that existed when the event was created.
    pub event_type: String,
    /// The customer's id (never blank): the event is indexed by it.
    pub customer_id: String,
    /// Channel (one of [`CHANNELS`]).
    pub channel: String,
    /// Start, Unix ms.
    pub started_ms: i64,
    /// End, Unix ms; never before the start.
    pub ended_ms: i64,
    /// Free text from whoever recorded the event; may be empty.
    #[serde(default)]
    pub description: String,
    /// The employee who handled it (agent id; `ivr` for self-service).
    pub employee: String,
    /// The contacts it came up in.
    #[serde(default)]
    pub contacts: Vec<u64>,
    /// Ids of other interaction events it relates to, each existing when it was
    /// created.
    #[serde(default)]
    pub related: Vec<u64>,
}

/// A new interaction event as the API takes it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Id of an existing event type (see [`event_types`]).
    pub event_type: String,
    /// The customer's id; must not be blank.
    pub customer_id: String,
    /// One of [`CHANNELS`].
    pub channel: String,
    /// Start (Unix ms); now when absent.
    #[serde(default)]
    pub started_ms: Option<i64>,
    /// End; the start when absent.
    #[serde(default)]
    pub ended_ms: Option<i64>,
    /// Free text; empty when absent.
    #[serde(default)]
    pub description: String,
    /// Employee; the API user when absent.
    #[serde(default)]
    pub employee: Option<String>,
    /// Ids of existing contacts the event came up in.
    #[serde(default)]
    pub contacts: Vec<u64>,
    /// Ids of existing interaction events it relates to.
    #[serde(default)]
    pub related: Vec<u64>,
}

/// Why an event was refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// A field is wrong.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// The store could not check the ids or save the event.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

fn key(prefix: &[u8], ms: i64, id: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&crate::workorder::model::time_key(ms));
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Validates and stores an event with its indexes (durably); returns it.
pub async fn create_event(
    store: &SharedStore,
    new: NewEvent,
    user: &crate::auth::User,
    now_ms: i64,
) -> Result<InteractionEvent, EventError> {
    let s = store.clone();
    let u = user.clone();
    let (ev, batch) = tokio::task::spawn_blocking(move || build_event(&*s, new, &u, now_ms))
        .await
        .map_err(StoreError::from)??;
    crate::store::commit_async(store.clone(), batch).await?;
    Ok(ev)
}

fn build_event(
    store: &dyn Store,
    new: NewEvent,
    user: &crate::auth::User,
    now_ms: i64,
) -> Result<(InteractionEvent, Batch), EventError> {
    if store.get(EVENT_TYPES, new.event_type.as_bytes())?.is_none() {
        let known: Vec<String> = event_types(store)?.into_iter().map(|t| t.id).collect();
        return Err(EventError::Invalid(
            "event_type",
            format!(
                "there is no event type `{}`; the types are: {}",
                new.event_type,
                known.join(", ")
            ),
        ));
    }
    if new.customer_id.trim().is_empty() {
        return Err(EventError::Invalid(
            "customer_id",
            "an interaction event needs `customer_id`".into(),
        ));
    }
    if !CHANNELS.contains(&new.channel.as_str()) {
        return Err(EventError::Invalid(
            "channel",
            format!(
                "`{}` is not a channel; use one of: {}",
                new.channel,
                CHANNELS.join(", ")
            ),
        ));
    }
    for c in &new.contacts {
        if crate::contacts::get(store, *c)?.is_none() {
            return Err(EventError::Invalid(
                "contacts",
                format!("there is no contact {c}"),
            ));
        }
    }
    for r in &new.related {
        if get_event(store, *r)?.is_none() {
            return Err(EventError::Invalid(
                "related",
                format!("there is no interaction event {r}"),
            ));
        }
    }
    let started = new.started_ms.unwrap_or(now_ms);
    let ended = new.ended_ms.unwrap_or(started);
    if ended < started {
        return Err(EventError::Invalid(
            "ended_ms",
            "the event ends before it starts".into(),
        ));
    }
    let id = store.next_id("interaction")?;
    let ev = InteractionEvent {
        id,
        event_type: new.event_type,
        customer_id: new.customer_id,
        channel: new.channel,
        started_ms: started,
        ended_ms: ended,
        description: new.description,
        employee: new.employee.unwrap_or_else(|| user.name.clone()),
        contacts: new.contacts,
        related: new.related,
    };
    let mut b = Batch::new();
    b.put_json(EVENTS, id.to_be_bytes().to_vec(), &ev);
    let mut p = ev.customer_id.as_bytes().to_vec();
    p.push(0);
    b.put(BY_CUSTOMER, key(&p, started, id), Vec::new());
    b.put(BY_TIME, key(&[], started, id), Vec::new());
    for c in &ev.contacts {
        let mut k = c.to_be_bytes().to_vec();
        k.extend_from_slice(&id.to_be_bytes());
        b.put(BY_CONTACT, k, Vec::new());
    }
    let aid = store.next_id("audit")?;
    crate::auth::audit_into(
        &mut b,
        aid,
        &crate::auth::AuditEntry {
            at_ms: now_ms,
            user: user.name.clone(),
            role: user.role.to_string(),
            action: "interaction.create".into(),
            target: format!("interaction:{id}"),
            detail: serde_json::json!({ "event_type": ev.event_type, "customer_id": ev.customer_id }),
        },
    );
    Ok((ev, b))
}

/// One event by id; `None` when there is none.
pub fn get_event(store: &dyn Store, id: u64) -> Result<Option<InteractionEvent>, StoreError> {
    get_json(store, EVENTS, &id.to_be_bytes())
}

/// Events started in `from..to`, of one customer or all, newest first.
pub fn query_events(
    store: &dyn Store,
    customer: Option<&str>,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<InteractionEvent>, StoreError> {
    let (tree, prefix) = match customer {
        Some(c) => {
            let mut p = c.as_bytes().to_vec();
            p.push(0);
            (BY_CUSTOMER, p)
        }
        None => (BY_TIME, Vec::new()),
    };
    let lo = key(&prefix, from_ms, 0);
    let hi = key(&prefix, to_ms, 0);
    let mut out = Vec::new();
    for (k, _) in store.range(tree, &lo, &hi, limit, true)? {
        let id = &k[k.len().saturating_sub(8)..];
        if let Some(e) = get_json::<InteractionEvent>(store, EVENTS, id)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Events that came up in a contact.
pub fn events_of_contact(
    store: &dyn Store,
    contact: u64,
) -> Result<Vec<InteractionEvent>, StoreError> {
    let mut out = Vec::new();
    for (k, _) in store.scan_prefix(BY_CONTACT, &contact.to_be_bytes())? {
        if let Some(e) = get_json::<InteractionEvent>(store, EVENTS, &k[8..])? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Numbers of the workorders an event raised.
pub fn workorders_of_event(store: &dyn Store, id: u64) -> Result<Vec<String>, StoreError> {
    Ok(store
        .scan_prefix(crate::workorder::model::IDX_EVENT, &id.to_be_bytes())?
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k[8..]).to_string())
        .collect())
}
