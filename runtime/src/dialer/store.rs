//! Campaign state on the [`Store`]: targets, the index of targets by the time
//! they are next due, attempts, and each campaign's control state.
//!
//! Every change is one batch, committed durably before the dialer acts on it:
//! a target is *claimed* (its state set to `dialling` and its attempt number
//! taken, and its due-index entry removed) before the call is placed, and its
//! result is stored with the target in one batch. After a kill, the claims
//! found at start are targets whose call may or may not have been placed; they
//! are released with no attempt counted and come due again after
//! [`INTERRUPTED_DELAY_MS`], so no attempt number is ever used twice and no
//! result is lost. The operations map onto SQL: a claim is `UPDATE … SET state
//! = 'dialling' WHERE id IN (SELECT … WHERE due <= now ORDER BY due FOR UPDATE
//! SKIP LOCKED LIMIT n)`.
//!
//! Keys: targets `campaign \0 id` (u64 big-endian); phones `campaign \0 phone`
//! → id (one target per number: an import's later row updates it); due
//! `campaign \0 due_ms \0 id` (due as u64 big-endian of the ms value, so keys
//! sort by time); attempts `campaign \0 id \0 n`.

use serde::{Deserialize, Serialize};

use dialect_dialer::outcome::CallOutcome;
use dialect_dialer::target::{Target, TargetState};

use crate::store::{Batch, Store, StoreError, get_json};

/// Targets by campaign and id.
pub const TARGETS: &str = "campaign_targets";
/// Target ids by campaign and canonical phone.
pub const PHONES: &str = "campaign_phones";
/// Targets that may be dialled, by the time they are next due.
pub const DUE: &str = "campaign_due";
/// Attempts by campaign, target and number.
pub const ATTEMPTS: &str = "campaign_attempts";
/// Each campaign's control state.
pub const CONTROL: &str = "campaign_control";
/// Counter of target ids (shared by all campaigns).
pub const TARGET_COUNTER: &str = "campaign_target";

/// How long a target whose call was interrupted by a kill waits before it is
/// due again: long enough that a person who was just hung up on is not rung
/// again at once.
pub const INTERRUPTED_DELAY_MS: i64 = 10 * 60_000;

/// One call placed to a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first call to the target.
    pub n: u32,
    /// When the call was placed (Unix ms).
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: i64,
    /// How it ended.
    pub outcome: CallOutcome,
    /// The final SIP status when the call was not answered.
    pub sip_code: Option<u16>,
    /// When the callee answered.
    pub answered_ms: Option<i64>,
    /// The agent who took the call.
    pub agent: Option<String>,
    /// The agent's disposition code.
    pub disposition: Option<String>,
    /// The contact record of the call.
    pub contact: u64,
    /// What happened, in words (`rejected 486`, `flow ended`, `dropped: no agent within 2s`).
    pub detail: String,
}

/// A campaign's control state, as operators set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Not started (or stopped): no dialling.
    #[default]
    Stopped,
    /// Dialling.
    Running,
    /// Dialling suspended; calls in progress go on.
    Paused,
}

impl RunState {
    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Stopped => "stopped",
            RunState::Running => "running",
            RunState::Paused => "paused",
        }
    }
}

fn key(campaign: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = campaign.as_bytes().to_vec();
    for p in parts {
        k.push(0);
        k.extend_from_slice(p);
    }
    k
}

/// Key of a target.
pub fn target_key(campaign: &str, id: u64) -> Vec<u8> {
    key(campaign, &[&id.to_be_bytes()])
}

/// Key of a target in the due index.
fn due_key(campaign: &str, due_ms: i64, id: u64) -> Vec<u8> {
    key(
        campaign,
        &[&(due_ms.max(0) as u64).to_be_bytes(), &id.to_be_bytes()],
    )
}

/// When a target is due: its next attempt time, or at once.
pub fn due_of(t: &Target) -> i64 {
    t.next_attempt_ms.unwrap_or(0)
}

/// A target.
pub fn target(store: &dyn Store, campaign: &str, id: u64) -> Result<Option<Target>, StoreError> {
    get_json(store, TARGETS, &target_key(campaign, id))
}

/// The target holding `phone`, if any.
pub fn target_by_phone(
    store: &dyn Store,
    campaign: &str,
    phone: &str,
) -> Result<Option<Target>, StoreError> {
    match store.get(PHONES, &key(campaign, &[phone.as_bytes()]))? {
        Some(v) if v.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v);
            target(store, campaign, u64::from_be_bytes(b))
        }
        _ => Ok(None),
    }
}

/// Puts `t` (new or changed) into `batch`, with its phone and due-index entries;
/// `before` is the stored version, whose due entry goes.
pub fn put_target(batch: &mut Batch, campaign: &str, before: Option<&Target>, t: &Target) {
    if let Some(b) = before
        && waits(b)
    {
        batch.delete(DUE, due_key(campaign, due_of(b), b.id));
    }
    batch.put_json(TARGETS, target_key(campaign, t.id), t);
    batch.put(
        PHONES,
        key(campaign, &[t.phone.as_bytes()]),
        t.id.to_be_bytes().to_vec(),
    );
    if waits(t) {
        batch.put(DUE, due_key(campaign, due_of(t), t.id), Vec::new());
    }
}

/// Whether a target is in the due index: not final and not being dialled.
fn waits(t: &Target) -> bool {
    !t.state.is_final() && t.state != TargetState::Dialling
}

/// Up to `n` targets due at `now_ms`, earliest first.
pub fn due(
    store: &dyn Store,
    campaign: &str,
    now_ms: i64,
    n: usize,
) -> Result<Vec<Target>, StoreError> {
    let from = key(campaign, &[&0u64.to_be_bytes()]);
    let to = due_key(campaign, now_ms.saturating_add(1), 0);
    let mut out = Vec::new();
    for (k, _) in store.range(DUE, &from, &to, n, false)? {
        let Some(id) = k.get(k.len().saturating_sub(8)..) else {
            continue;
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(id);
        if let Some(t) = target(store, campaign, u64::from_be_bytes(b))? {
            out.push(t);
        }
    }
    Ok(out)
}

/// Every target of a campaign (for reports and restart).
pub fn targets(store: &dyn Store, campaign: &str) -> Result<Vec<Target>, StoreError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(TARGETS, &key(campaign, &[]))? {
        if let Ok(t) = serde_json::from_slice::<Target>(&v) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Puts an attempt into `batch`.
pub fn put_attempt(batch: &mut Batch, campaign: &str, target: u64, a: &Attempt) {
    batch.put_json(
        ATTEMPTS,
        key(campaign, &[&target.to_be_bytes(), &a.n.to_be_bytes()]),
        a,
    );
}

/// The attempts of a target, first first.
pub fn attempts(
    store: &dyn Store,
    campaign: &str,
    target: u64,
) -> Result<Vec<Attempt>, StoreError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(ATTEMPTS, &key(campaign, &[&target.to_be_bytes(), b""]))? {
        if let Ok(a) = serde_json::from_slice::<Attempt>(&v) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Every attempt of a campaign with its target id, in target order.
pub fn all_attempts(store: &dyn Store, campaign: &str) -> Result<Vec<(u64, Attempt)>, StoreError> {
    let prefix = key(campaign, &[]);
    let mut out = Vec::new();
    for (k, v) in store.scan_prefix(ATTEMPTS, &prefix)? {
        let Some(id) = k.get(prefix.len()..prefix.len() + 8) else {
            continue;
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(id);
        if let Ok(a) = serde_json::from_slice::<Attempt>(&v) {
            out.push((u64::from_be_bytes(b), a));
        }
    }
    Ok(out)
}

/// A campaign's control state (stopped when never set).
pub fn run_state(store: &dyn Store, campaign: &str) -> Result<RunState, StoreError> {
    Ok(get_json(store, CONTROL, campaign.as_bytes())?.unwrap_or_default())
}

/// Sets a campaign's control state, durably.
pub fn set_run_state(store: &dyn Store, campaign: &str, state: RunState) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    batch.put_json(CONTROL, campaign.as_bytes().to_vec(), &state);
    store.commit(batch)
}

/// The runtimes (by cluster URL) holding claims on the campaign's targets.
pub fn claimers(
    store: &dyn Store,
    campaign: &str,
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    Ok(targets(store, campaign)?
        .into_iter()
        .filter(|t| t.state == TargetState::Dialling)
        .filter_map(|t| t.claimed_by)
        .collect())
}

/// Releases the claims a kill left behind: each target found `dialling` goes
/// back to pending, due after [`INTERRUPTED_DELAY_MS`], with nothing counted,
/// except those `keep` says a live call still holds. Returns how many were
/// released.
pub fn release_interrupted(
    store: &dyn Store,
    campaign: &str,
    now_ms: i64,
    keep: impl Fn(&Target) -> bool,
) -> Result<usize, StoreError> {
    let mut batch = Batch::new();
    let mut n = 0;
    for t in targets(store, campaign)? {
        if t.state == TargetState::Dialling && !keep(&t) {
            let mut after = t.clone();
            after.state = TargetState::Pending;
            after.claimed_by = None;
            after.next_attempt_ms = Some(now_ms + INTERRUPTED_DELAY_MS);
            put_target(&mut batch, campaign, Some(&t), &after);
            n += 1;
        }
    }
    if n > 0 {
        store.commit(batch)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn due_targets_come_in_time_order_and_claimed_or_final_ones_leave_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut batch = Batch::new();
        let mut a = Target::new(1, "13800000001", Vec::new());
        a.next_attempt_ms = Some(5_000);
        let b = Target::new(2, "13800000002", Vec::new());
        let mut c = Target::new(3, "13800000003", Vec::new());
        c.next_attempt_ms = Some(60_000);
        for t in [&a, &b, &c] {
            put_target(&mut batch, "x", None, t);
        }
        // Another campaign's target never shows.
        put_target(&mut batch, "y", None, &Target::new(4, "1", Vec::new()));
        store.commit(batch).unwrap();
        let ids = |v: Vec<Target>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(due(&store, "x", 10_000, 10).unwrap()), vec![2, 1]);
        assert_eq!(ids(due(&store, "x", 60_000, 1).unwrap()), vec![2]);

        let mut claimed = b.clone();
        claimed.state = TargetState::Dialling;
        claimed.claimed_by = Some("http://127.0.0.12:8080".into());
        let mut batch = Batch::new();
        put_target(&mut batch, "x", Some(&b), &claimed);
        store.commit(batch).unwrap();
        assert_eq!(
            claimers(&store, "x")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["http://127.0.0.12:8080".to_string()]
        );
        assert_eq!(ids(due(&store, "x", 10_000, 10).unwrap()), vec![1]);
        assert_eq!(
            target_by_phone(&store, "x", "13800000002")
                .unwrap()
                .map(|t| t.state),
            Some(TargetState::Dialling)
        );

        // A claim whose runtime still carries the call stays.
        let alive = |t: &Target| t.claimed_by.as_deref() == Some("http://127.0.0.12:8080");
        assert_eq!(release_interrupted(&store, "x", 100_000, alive).unwrap(), 0);
        assert_eq!(ids(due(&store, "x", 10_000, 10).unwrap()), vec![1]);

        // A kill leaves the claim; the restart releases it, later, uncounted.
        assert_eq!(
            release_interrupted(&store, "x", 100_000, |_| false).unwrap(),
            1
        );
        let back = target(&store, "x", 2).unwrap().unwrap();
        assert_eq!(back.state, TargetState::Pending);
        assert_eq!(back.claimed_by, None);
        assert_eq!(back.attempts.total, 0);
        assert_eq!(
            ids(due(&store, "x", 100_000 + INTERRUPTED_DELAY_MS, 10).unwrap()),
            vec![1, 3, 2]
        );
    }
}
