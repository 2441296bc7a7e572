//! The outbox worker: SMS and e-mail notifications that flows, workorder
//! triggers and workorder reminders and escalations queue (the `outbox`
//! tree, written through [`stage`]) leave through the configured gateways
//! (`dialect-notify`), durably.
//!
//! Each entry moves `queued → sending → sent → delivered | undeliverable`,
//! or to `failed` after `notify.retry.attempts` attempts or an error that no
//! retry can mend. Every change is committed through the [`Store`] before the
//! next step: `sending` (with the attempt counted) before the gateway is
//! asked, the outcome after. A notification is therefore never lost to a
//! crash, and a crash between the gateway taking it and the `sent` commit
//! leaves it `sending`, which the next start puts back in the queue: it may
//! then leave once more (at most one duplicate per crash). Failed attempts
//! wait `retry.first`, doubling up to `retry.max`. SMPP delivery receipts
//! find their entry through the `outbox_ids` tree (gateway message id →
//! entry) and mark it delivered (every part delivered) or undeliverable. A
//! channel with no gateway keeps its notifications `queued`, with
//! `last_error` saying so, looked at again every `retry.max`.
//!
//! Entries keep the fields the writer gave them (id, contact, channel, to,
//! subject, body, queued_ms, and an optional `attachments` list of files on
//! this server) and gain the worker's: status, attempts, next_try_ms,
//! last_error, message_ids, receipts, sent_ms, done_ms, updated_ms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use dialect_notify::smpp::pdu::MessageState;
use dialect_notify::smtp::{Attachment, Email};
use dialect_notify::{DeliveryReport, Gateways, Outgoing, SendError, SmsGateway};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use dialect_compiler::ir::NotifyChannel;

use crate::config::{EmailTls, NotifyConfig};
use crate::store::{Batch, SharedStore, Store, StoreError};

/// The tree the flows write notifications to.
pub const OUTBOX: &str = "outbox";
/// Gateway message id → outbox id (8 bytes, big-endian), for receipts.
pub const OUTBOX_IDS: &str = "outbox_ids";
/// Workorder number, 0, outbox id (8 bytes, big-endian) → nothing: the
/// notifications queued for an order (its triggers, its reminders and
/// escalations), so that the order's view shows their delivery.
pub const OUTBOX_BY_ORDER: &str = "outbox_by_order";

/// Largest file attached to a mail; a bigger one fails the notification.
const MAX_ATTACHMENT: u64 = 20 * 1024 * 1024;
/// Receipts that came before their `sent` commit, kept this long at most.
const EARLY_RECEIPT_TTL_MS: i64 = 10 * 60 * 1000;
/// Most such receipts kept.
const MAX_EARLY_RECEIPTS: usize = 10_000;
/// How long one send may take, whatever the gateway's own limits.
const SEND_LIMIT: Duration = Duration::from_secs(120);
/// Ids behind the highest seen that each look reads again: writers take ids
/// in order but may commit out of order, so an entry can appear behind one
/// already seen.
const LOOKBACK: u64 = 1024;
/// How long a shutdown waits for sends in progress.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Where a notification is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its (next) attempt.
    #[default]
    Queued,
    /// Handed to the gateway; the outcome is not stored yet.
    Sending,
    /// The gateway took it (final for e-mail and HTTP SMS).
    Sent,
    /// The SMSC reports every part delivered.
    Delivered,
    /// The SMSC reports it cannot be delivered (or expired, was rejected).
    Undeliverable,
    /// Given up: attempts spent or an error no retry can mend.
    Failed,
}

impl Status {
    /// The word in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Undeliverable => "undeliverable",
            Status::Failed => "failed",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            format!(
                "`{s}` is not a status: queued, sending, sent, delivered, undeliverable or failed"
            )
        })
    }
}

/// One notification in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Its key in the outbox.
    pub id: u64,
    /// The contact (call) that queued it.
    #[serde(default)]
    pub contact: u64,
    /// `sms` or `email`.
    pub channel: String,
    /// A number or an address.
    #[serde(default)]
    pub to: String,
    /// The mail's subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// The text.
    #[serde(default)]
    pub body: String,
    /// When the flow queued it (Unix ms).
    #[serde(default)]
    pub queued_ms: i64,
    /// Files on this server to attach to a mail (a recording).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Where it is.
    #[serde(default)]
    pub status: Status,
    /// Attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt is due (Unix ms; 0: at once).
    #[serde(default)]
    pub next_try_ms: i64,
    /// Why the last attempt failed, or why it waits.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The gateway's ids: one per SMS part with SMPP, the mail's Message-ID.
    #[serde(default)]
    pub message_ids: Vec<String>,
    /// Receipts so far, by message id: the SMSC's state word (`DELIVRD`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub receipts: BTreeMap<String, String>,
    /// When the gateway took it.
    #[serde(default)]
    pub sent_ms: Option<i64>,
    /// When it reached a final state.
    #[serde(default)]
    pub done_ms: Option<i64>,
    /// When the worker last changed it.
    #[serde(default)]
    pub updated_ms: Option<i64>,
    /// Fields other writers add, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// A notification to queue: what its writer decides; the worker adds the
/// rest (status, attempts...).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry<'a> {
    /// The contact (call) it belongs to, 0 for none.
    pub contact: u64,
    /// Which gateway it leaves through.
    pub channel: NotifyChannel,
    /// A number (SMS) or an address (e-mail).
    pub to: &'a str,
    /// The mail's subject (e-mail only).
    pub subject: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// When it was queued (Unix ms).
    pub queued_ms: i64,
    /// The workorder it is about: the order's view lists it.
    pub workorder: Option<&'a str>,
    /// Files on this server sent with an e-mail (a finished recording).
    pub attachments: &'a [String],
}

/// The word a channel has in the outbox.
pub fn channel_name(channel: NotifyChannel) -> &'static str {
    match channel {
        NotifyChannel::Sms => "sms",
        NotifyChannel::Email => "email",
    }
}

/// Queues a notification in `batch`, beside whatever else the batch writes:
/// the writer's change and its notifications are stored together or not at
/// all, so a crash neither loses one nor queues it twice. Every writer of the
/// outbox goes through here. Returns the entry's id.
pub fn stage(store: &dyn Store, batch: &mut Batch, e: &NewEntry<'_>) -> Result<u64, StoreError> {
    let id = store.next_id("outbox")?;
    let mut record = serde_json::json!({
        "id": id,
        "contact": e.contact,
        "channel": channel_name(e.channel),
        "to": e.to,
        "subject": e.subject,
        "body": e.body,
        "queued_ms": e.queued_ms,
    });
    if !e.attachments.is_empty() {
        record["attachments"] = serde_json::json!(e.attachments);
    }
    if let Some(number) = e.workorder {
        record["workorder"] = serde_json::Value::String(number.to_string());
        batch.put(OUTBOX_BY_ORDER, order_key(number, id), Vec::new());
    }
    batch.put_json(OUTBOX, key(id).to_vec(), &record);
    Ok(id)
}

fn order_key(number: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(number.len() + 9);
    k.extend_from_slice(number.as_bytes());
    k.push(0);
    k.extend_from_slice(&key(id));
    k
}

/// The notifications queued for workorder `number`, oldest first, at most
/// `limit`.
pub fn of_workorder(
    store: &dyn Store,
    number: &str,
    limit: usize,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut lo = number.as_bytes().to_vec();
    let mut hi = lo.clone();
    lo.push(0);
    hi.push(1);
    let mut out = Vec::new();
    for (k, _) in store.range(OUTBOX_BY_ORDER, &lo, &hi, limit, false)? {
        let Some(id) = k
            .get(k.len().saturating_sub(8)..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
        else {
            continue;
        };
        if let Some(e) = get(store, id)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Reads one entry.
pub fn get(store: &dyn Store, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
    crate::store::get_json(store, OUTBOX, &key(id))
}

/// Notifications, newest first, of one contact and/or in one status; at most
/// `limit`, looking through the newest `scan` entries.
pub fn query(
    store: &dyn Store,
    contact: Option<u64>,
    status: Option<Status>,
    limit: usize,
    scan: usize,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let entries = store.range(OUTBOX, &[], &[0xFF; 9], scan, true)?;
    let mut out = Vec::new();
    for (_, v) in entries {
        let Ok(e) = serde_json::from_slice::<OutboxEntry>(&v) else {
            continue;
        };
        if contact.is_some_and(|c| e.contact != c) || status.is_some_and(|s| e.status != s) {
            continue;
        }
        out.push(e);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Retry and pacing settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The wait after the first failure.
    pub retry_first: Duration,
    /// The longest wait.
    pub retry_max: Duration,
    /// Attempts before failing.
    pub attempts: u32,
    /// How often the outbox is looked at.
    pub poll: Duration,
    /// Sends at once.
    pub concurrency: usize,
}

impl Settings {
    /// From the `notify` section.
    pub fn from_config(c: &NotifyConfig) -> Settings {
        Settings {
            retry_first: c.retry.first.0,
            retry_max: c.retry.max.0,
            attempts: c.retry.attempts.max(1),
            poll: c.poll.0,
            concurrency: c.concurrency.max(1),
        }
    }

    /// The wait after `attempts` failed attempts: first, doubled each time,
    /// at most max.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.retry_first
            .saturating_mul(1u32 << doublings)
            .min(self.retry_max)
    }
}

/// The gateways the configuration names, and the SMPP receipts' channel
/// when SMS go over SMPP. Needs a tokio runtime (the SMPP link starts).
pub fn gateways(
    c: &NotifyConfig,
) -> Result<(Gateways, Option<mpsc::Receiver<DeliveryReport>>), String> {
    let mut gateways = Gateways::default();
    let mut reports = None;
    if let Some(e) = &c.email {
        let mailer = dialect_notify::smtp::SmtpMailer::new(dialect_notify::smtp::SmtpConfig {
            host: e.host.clone(),
            port: e.port,
            tls: match e.tls {
                EmailTls::None => dialect_notify::smtp::TlsMode::None,
                EmailTls::Starttls => dialect_notify::smtp::TlsMode::StartTls,
                EmailTls::Tls => dialect_notify::smtp::TlsMode::Tls,
            },
            user: e.user.clone(),
            password: e.password.clone(),
            from: e.from.clone(),
            timeout: e.timeout.0,
        })
        .map_err(|e| e.to_string())?;
        gateways.email = Some(mailer);
    }
    if let Some(sms) = &c.sms {
        if let Some(s) = &sms.smpp {
            let digits = !s.source_addr.is_empty()
                && s.source_addr
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '+');
            let mut config =
                dialect_notify::SmppConfig::new(&s.host, s.port, &s.system_id, &s.password);
            config.system_type = s.system_type.clone();
            config.source_addr = s.source_addr.trim_start_matches('+').to_string();
            config.source_addr_ton = s.source_ton.unwrap_or(if digits { 0 } else { 5 });
            config.source_addr_npi = s.source_npi.unwrap_or(u8::from(digits));
            config.enquire_link = s.enquire_link.0;
            config.response_timeout = s.response_timeout.0;
            config.window = s.window;
            let (client, receipts) = dialect_notify::SmppClient::start(config);
            gateways.sms = Some(SmsGateway::Smpp(client));
            reports = Some(receipts);
        } else if let Some(h) = &sms.http {
            let gateway = dialect_notify::http::HttpSms::new(dialect_notify::http::HttpSmsConfig {
                url: h.url.clone(),
                token: h.token.clone(),
                timeout: h.timeout.0,
            })
            .map_err(|e| e.to_string())?;
            gateways.sms = Some(SmsGateway::Http(gateway));
        }
    }
    Ok((gateways, reports))
}

/// Starts the outbox worker from the configuration; it stops when `shutdown`
/// is cancelled. A gateway that cannot be built is logged and left out (its
/// notifications wait, saying why).
pub fn spawn(
    store: SharedStore,
    config: &NotifyConfig,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (gateways, reports) = match gateways(config) {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("notify: {e}; notifications stay queued");
            (Gateways::default(), None)
        }
    };
    let worker = OutboxWorker::new(store, gateways, reports, Settings::from_config(config));
    tokio::spawn(worker.run(shutdown))
}

/// What a send came back with.
struct Outcome {
    id: u64,
    result: Result<Vec<String>, SendError>,
}

/// The worker: owns the queue of due entries, the sends in flight, and the
/// receipts not yet matched.
pub struct OutboxWorker {
    store: SharedStore,
    gateways: Arc<Gateways>,
    reports: Option<mpsc::Receiver<DeliveryReport>>,
    settings: Settings,
    /// Entries waiting: (next_try_ms, id).
    due: BTreeSet<(i64, u64)>,
    /// The ids in `due` and in flight, so that a second look skips them.
    known: std::collections::HashSet<u64>,
    /// Highest outbox id seen; newer entries are read from after it.
    seen: u64,
    in_flight: JoinSet<Outcome>,
    /// Receipts whose entry is not known yet: message id → (receipt, when).
    early: HashMap<String, (DeliveryReport, i64)>,
}

impl OutboxWorker {
    /// A worker over `store` sending through `gateways`, hearing `reports`.
    pub fn new(
        store: SharedStore,
        gateways: Gateways,
        reports: Option<mpsc::Receiver<DeliveryReport>>,
        settings: Settings,
    ) -> OutboxWorker {
        OutboxWorker {
            store,
            gateways: Arc::new(gateways),
            reports,
            settings,
            due: BTreeSet::new(),
            known: std::collections::HashSet::new(),
            seen: 0,
            in_flight: JoinSet::new(),
            early: HashMap::new(),
        }
    }

    /// Runs until `shutdown`: then sends in progress may finish (a while),
    /// and the gateways close.
    pub async fn run(mut self, shutdown: CancellationToken) {
        if let Err(e) = self.recover().await {
            tracing::error!("notify: cannot read the outbox: {e}");
        }
        let mut ticker = tokio::time::interval(self.settings.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Each branch is cancel-safe: a tick, an mpsc receive, a JoinSet
            // join, a cancellation.
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    if let Err(e) = self.pick_up().await {
                        tracing::error!("notify: cannot read the outbox: {e}");
                    }
                }
                Some(report) = recv(&mut self.reports) => self.on_report(report).await,
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok(outcome) = done {
                        self.on_outcome(outcome).await;
                    }
                    if let Err(e) = self.launch_due().await {
                        tracing::error!("notify: {e}");
                    }
                }
            }
        }
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, async {
            while let Some(done) = self.in_flight.join_next().await {
                if let Ok(outcome) = done {
                    self.on_outcome(outcome).await;
                }
            }
        })
        .await;
        self.gateways.close().await;
    }

    /// At start: entries left `sending` by a stop in the middle of a send go
    /// back to the queue (they may have left: at most one duplicate), and
    /// every waiting entry is queued in memory.
    async fn recover(&mut self) -> Result<(), StoreError> {
        let store = self.store.clone();
        let all = tokio::task::spawn_blocking(move || {
            store.range(OUTBOX, &[], &[0xFF; 9], usize::MAX, false)
        })
        .await??;
        let now = crate::time::now_ms();
        let mut batch = Batch::new();
        for (_, v) in all {
            let Ok(mut e) = serde_json::from_slice::<OutboxEntry>(&v) else {
                continue;
            };
            self.seen = self.seen.max(e.id);
            if e.status == Status::Sending {
                e.status = Status::Queued;
                e.last_error = Some(
                    "the server stopped during the send; sending again (it may arrive twice)"
                        .into(),
                );
                e.next_try_ms = now;
                e.updated_ms = Some(now);
                batch.put_json(OUTBOX, key(e.id), &e);
            }
            if e.status == Status::Queued {
                self.queue(e.next_try_ms, e.id);
            }
        }
        if !batch.is_empty() {
            tracing::warn!(
                entries = batch.len(),
                "notify: notifications interrupted by a stop are queued again"
            );
            crate::store::commit_async(self.store.clone(), batch).await?;
        }
        self.launch_due().await
    }

    /// Reads entries added since the last look, and sends what is due.
    async fn pick_up(&mut self) -> Result<(), StoreError> {
        let store = self.store.clone();
        let from = key(self.seen.saturating_sub(LOOKBACK));
        let new = tokio::task::spawn_blocking(move || {
            store.range(OUTBOX, &from, &[0xFF; 9], 10_000, false)
        })
        .await??;
        for (k, v) in new {
            let id = <[u8; 8]>::try_from(k.as_slice()).map_or(0, u64::from_be_bytes);
            self.seen = self.seen.max(id);
            match serde_json::from_slice::<OutboxEntry>(&v) {
                Ok(e) if e.status == Status::Queued && !self.known.contains(&e.id) => {
                    self.queue(e.next_try_ms, e.id);
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(id, "notify: an outbox entry cannot be read: {err}"),
            }
        }
        self.forget_old_receipts();
        self.launch_due().await
    }

    /// Puts an entry in the queue for its time.
    fn queue(&mut self, at: i64, id: u64) {
        self.due.insert((at, id));
        self.known.insert(id);
    }

    /// Starts sends for due entries while there is room.
    async fn launch_due(&mut self) -> Result<(), StoreError> {
        let now = crate::time::now_ms();
        while self.in_flight.len() < self.settings.concurrency {
            let Some(&(at, id)) = self.due.first() else {
                break;
            };
            if at > now {
                break;
            }
            self.due.remove(&(at, id));
            self.known.remove(&id);
            self.launch(id, now).await?;
        }
        Ok(())
    }

    async fn launch(&mut self, id: u64, now: i64) -> Result<(), StoreError> {
        let Some(mut e) = get(&*self.store, id)? else {
            return Ok(());
        };
        if e.status != Status::Queued {
            return Ok(());
        }
        let outgoing = match outgoing(&e).await {
            Ok(o) => o,
            Err(reason) => {
                e.status = Status::Failed;
                e.last_error = Some(reason);
                e.done_ms = Some(now);
                e.updated_ms = Some(now);
                return self.save(&e, Batch::new()).await;
            }
        };
        if !self.gateways.can_send(&outgoing) {
            let why = match outgoing {
                Outgoing::Sms { .. } => dialect_notify::NO_SMS_GATEWAY,
                Outgoing::Email(_) => dialect_notify::NO_EMAIL_GATEWAY,
            };
            let later = now.saturating_add(self.settings.retry_max.as_millis() as i64);
            self.queue(later, id);
            if e.last_error.as_deref() != Some(why) {
                e.last_error = Some(why.to_string());
                e.next_try_ms = later;
                e.updated_ms = Some(now);
                self.save(&e, Batch::new()).await?;
            }
            return Ok(());
        }
        e.status = Status::Sending;
        e.attempts += 1;
        e.updated_ms = Some(now);
        // Durable before the gateway sees it: a crash from here on finds it
        // `sending` and sends it again.
        self.save(&e, Batch::new()).await?;
        self.known.insert(id);
        let gateways = self.gateways.clone();
        self.in_flight.spawn(async move {
            let result = match tokio::time::timeout(SEND_LIMIT, gateways.send(&outgoing)).await {
                Ok(r) => r,
                Err(_) => Err(SendError {
                    message: format!("the gateway took longer than {SEND_LIMIT:?}"),
                    permanent: false,
                }),
            };
            Outcome { id, result }
        });
        Ok(())
    }

    async fn save(&self, e: &OutboxEntry, mut batch: Batch) -> Result<(), StoreError> {
        batch.put_json(OUTBOX, key(e.id), e);
        crate::store::commit_async(self.store.clone(), batch).await
    }

    async fn on_outcome(&mut self, outcome: Outcome) {
        if let Err(err) = self.record_outcome(outcome).await {
            tracing::error!("notify: cannot store a send's outcome: {err}");
        }
    }

    async fn record_outcome(&mut self, Outcome { id, result }: Outcome) -> Result<(), StoreError> {
        self.known.remove(&id);
        let Some(mut e) = get(&*self.store, id)? else {
            return Ok(());
        };
        let now = crate::time::now_ms();
        e.updated_ms = Some(now);
        let mut batch = Batch::new();
        match result {
            Ok(ids) => {
                e.status = Status::Sent;
                e.sent_ms = Some(now);
                e.last_error = None;
                for m in &ids {
                    batch.put(OUTBOX_IDS, m.as_bytes().to_vec(), key(id).to_vec());
                }
                e.message_ids = ids;
                tracing::info!(id, channel = %e.channel, attempts = e.attempts, "notification sent");
            }
            Err(err) if err.permanent || e.attempts >= self.settings.attempts => {
                e.status = Status::Failed;
                e.done_ms = Some(now);
                tracing::warn!(id, channel = %e.channel, attempts = e.attempts, "notification failed: {}", err.message);
                e.last_error = Some(err.message);
            }
            Err(err) => {
                let wait = self.settings.backoff(e.attempts);
                e.status = Status::Queued;
                e.next_try_ms = now.saturating_add(wait.as_millis() as i64);
                tracing::info!(
                    id,
                    attempts = e.attempts,
                    "notification will be tried again in {wait:?}: {}",
                    err.message
                );
                e.last_error = Some(err.message);
                self.queue(e.next_try_ms, id);
            }
        }
        self.save(&e, batch).await?;
        // Receipts that came before this commit.
        let early: Vec<DeliveryReport> = e
            .message_ids
            .iter()
            .filter_map(|m| self.early.remove(m).map(|(r, _)| r))
            .collect();
        for r in early {
            self.on_report(r).await;
        }
        Ok(())
    }

    async fn on_report(&mut self, report: DeliveryReport) {
        if let Err(err) = self.apply_report(report).await {
            tracing::error!("notify: cannot store a delivery receipt: {err}");
        }
    }

    async fn apply_report(&mut self, report: DeliveryReport) -> Result<(), StoreError> {
        let Some(owner) = self.store.get(OUTBOX_IDS, report.message_id.as_bytes())? else {
            // Its `sent` commit may still be on its way.
            if self.early.len() < MAX_EARLY_RECEIPTS {
                self.early
                    .insert(report.message_id.clone(), (report, crate::time::now_ms()));
            }
            return Ok(());
        };
        let id = <[u8; 8]>::try_from(owner.as_slice()).map_or(0, u64::from_be_bytes);
        let Some(mut e) = get(&*self.store, id)? else {
            return Ok(());
        };
        let now = crate::time::now_ms();
        e.receipts
            .insert(report.message_id.clone(), report.state.stat().to_string());
        let states: Vec<Option<MessageState>> = e
            .message_ids
            .iter()
            .map(|m| e.receipts.get(m).and_then(|w| MessageState::from_stat(w)))
            .collect();
        let failed = |s: &Option<MessageState>| {
            s.is_some_and(|s| s.is_final() && s != MessageState::Delivered)
        };
        if states.iter().any(failed) {
            e.status = Status::Undeliverable;
            e.done_ms = Some(now);
            e.last_error = Some(format!(
                "the SMSC reports {} for message {}{}",
                report.state.stat(),
                report.message_id,
                report
                    .error
                    .as_deref()
                    .map(|c| format!(" (error {c})"))
                    .unwrap_or_default()
            ));
        } else if !states.is_empty() && states.iter().all(|s| *s == Some(MessageState::Delivered)) {
            e.status = Status::Delivered;
            e.done_ms = Some(now);
        }
        e.updated_ms = Some(now);
        self.save(&e, Batch::new()).await
    }

    fn forget_old_receipts(&mut self) {
        let now = crate::time::now_ms();
        self.early
            .retain(|_, (_, at)| now.saturating_sub(*at) < EARLY_RECEIPT_TTL_MS);
    }
}

/// Receives from an optional channel; pending forever when there is none.
async fn recv(reports: &mut Option<mpsc::Receiver<DeliveryReport>>) -> Option<DeliveryReport> {
    match reports {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// What to hand the gateway for an entry; an error fails it for good.
async fn outgoing(e: &OutboxEntry) -> Result<Outgoing, String> {
    match e.channel.as_str() {
        "sms" => Ok(Outgoing::Sms {
            id: format!("outbox-{}", e.id),
            to: e.to.clone(),
            text: e.body.clone(),
        }),
        "email" => {
            let mut attachments = Vec::new();
            for path in &e.attachments {
                attachments.push(attachment(path).await?);
            }
            Ok(Outgoing::Email(Email {
                to: e.to.clone(),
                subject: e.subject.clone().unwrap_or_default(),
                body: e.body.clone(),
                attachments,
            }))
        }
        other => Err(format!(
            "`{other}` is not a notification channel (sms, email)"
        )),
    }
}

/// A file to attach, read whole (bounded).
async fn attachment(path: &str) -> Result<Attachment, String> {
    let p = std::path::Path::new(path);
    let size = tokio::fs::metadata(p)
        .await
        .map_err(|e| format!("cannot attach {path}: {e}"))?
        .len();
    if size > MAX_ATTACHMENT {
        return Err(format!(
            "cannot attach {path}: {size} bytes is more than {MAX_ATTACHMENT}"
        ));
    }
    let bytes = tokio::fs::read(p)
        .await
        .map_err(|e| format!("cannot attach {path}: {e}"))?;
    let filename = p.file_name().map_or_else(
        || "attachment".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let content_type = match p.extension().and_then(|x| x.to_str()) {
        Some(x) if x.eq_ignore_ascii_case("wav") => "audio/wav",
        Some(x) if x.eq_ignore_ascii_case("txt") => "text/plain",
        Some(x) if x.eq_ignore_ascii_case("pdf") => "application/pdf",
        _ => "application/octet-stream",
    };
    Ok(Attachment {
        filename,
        content_type: content_type.to_string(),
        bytes,
    })
}

#[cfg(test)]
mod tests;
