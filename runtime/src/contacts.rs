//! Contact records (REQUIREMENTS D1, spec 000 §4.2.2): every call leaves one, with
//! its IVR trail (the steps visited with times, prompts played, digits entered,
//! lookups and their outcomes) and how it ended. Stored durably; queried by time
//! and caller.

use serde::{Deserialize, Serialize};

pub use dialect_acd::TrailEntry;

use crate::store::{Batch, SharedStore, Store, StoreError, get_json};

/// Tree of contact records, by id.
pub const CONTACTS: &str = "contacts";
/// Index: start time + id.
pub const BY_TIME: &str = "contacts_by_time";
/// Index: caller + start time + id.
pub const BY_CALLER: &str = "contacts_by_caller";
/// Index: customer id + 0 + start time + id (contacts with a known customer).
pub const BY_CUSTOMER: &str = "contacts_by_customer";

/// A contact: one call (or, later, one SMS, e-mail or fax item).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ContactRecord {
    /// From the store's durable `contact` counter, so later calls have larger ids.
    pub id: u64,
    /// voice, sms, email, fax, web.
    pub channel: String,
    /// inbound or outbound.
    pub direction: String,
    /// For calls the ACD placed: `callback` or `outbound` (an agent's call); empty otherwise.
    #[serde(default)]
    pub kind: String,
    /// Calling number: the From header's user part for incoming calls, the caller
    /// id presented for calls the ACD placed.
    pub caller: String,
    /// Dialled number.
    pub called: String,
    /// Name of the trunk the call came in on (empty for calls matching no trunk).
    pub trunk: String,
    /// The flow that answered.
    pub flow: String,
    /// Version of the deployed program the call ran on.
    pub program_version: u64,
    /// SIP Call-ID, to find the call in SIP traces and logs.
    pub call_id: String,
    /// When the call arrived, Unix ms.
    pub started_ms: i64,
    /// When it was answered.
    pub answered_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// How it ended: `hangup by caller`, `hangup by flow`, `transfer queue billing`...
    pub end: String,
    /// The customer identified (call data `customer_id` when the project has it).
    pub customer_id: String,
    /// Language the call ended in.
    pub language: String,
    /// The IVR trail, in order: steps visited with their times, prompts played,
    /// digits entered, lookups and their outcomes.
    pub trail: Vec<TrailEntry>,
    /// Keys pressed, in order (masked entries as `*`).
    pub digits: String,
    /// Recordings made during the call.
    pub recordings: Vec<String>,
    /// Call data at the end of the IVR.
    pub data: serde_json::Map<String, serde_json::Value>,
    /// Queue the call waited in, if any.
    pub queue: Option<String>,
    /// Time waited in the queue, ms.
    pub waited_ms: Option<i64>,
    /// Agent who answered.
    pub agent: Option<String>,
    /// Talk time with the agent, ms.
    pub talk_ms: Option<i64>,
    /// Workorders created during the call.
    pub workorders: Vec<String>,
    /// Run-time errors met by the flow, with their source location.
    pub errors: Vec<String>,
}

fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Allocates a contact id.
pub fn new_id(store: &dyn Store) -> Result<u64, StoreError> {
    store.next_id("contact")
}

/// Saves a contact record with its indexes (durably).
pub async fn save(store: &SharedStore, c: &ContactRecord) -> Result<(), StoreError> {
    let mut b = Batch::new();
    b.put_json(CONTACTS, id_key(c.id).to_vec(), c);
    let mut t = c.started_ms.to_be_bytes().to_vec();
    t.extend_from_slice(&id_key(c.id));
    b.put(BY_TIME, t.clone(), id_key(c.id).to_vec());
    let mut k = c.caller.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&t);
    b.put(BY_CALLER, k, id_key(c.id).to_vec());
    if !c.customer_id.is_empty() {
        let mut k = c.customer_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&t);
        b.put(BY_CUSTOMER, k, id_key(c.id).to_vec());
    }
    crate::store::commit_async(store.clone(), b).await
}

/// Reads one contact.
pub fn get(store: &dyn Store, id: u64) -> Result<Option<ContactRecord>, StoreError> {
    get_json(store, CONTACTS, &id_key(id))
}

/// Contacts started in `from..to` (Unix ms), optionally of one caller, newest first.
pub fn query(
    store: &dyn Store,
    from_ms: i64,
    to_ms: i64,
    caller: Option<&str>,
    limit: usize,
) -> Result<Vec<ContactRecord>, StoreError> {
    let (tree, lo, hi) = match caller {
        Some(c) => {
            let mut lo = c.as_bytes().to_vec();
            lo.push(0);
            let mut hi = lo.clone();
            lo.extend_from_slice(&from_ms.to_be_bytes());
            hi.extend_from_slice(&to_ms.to_be_bytes());
            (BY_CALLER, lo, hi)
        }
        None => (
            BY_TIME,
            from_ms.to_be_bytes().to_vec(),
            to_ms.to_be_bytes().to_vec(),
        ),
    };
    let mut out = Vec::new();
    for (_, id) in store.range(tree, &lo, &hi, limit, true)? {
        if let Ok(arr) = <[u8; 8]>::try_from(id.as_slice())
            && let Some(c) = get(store, u64::from_be_bytes(arr))?
        {
            out.push(c);
        }
    }
    Ok(out)
}

/// Contacts of one customer started in `from..to` (Unix ms), newest first.
pub fn query_by_customer(
    store: &dyn Store,
    customer: &str,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<ContactRecord>, StoreError> {
    let mut lo = customer.as_bytes().to_vec();
    lo.push(0);
    let mut hi = lo.clone();
    lo.extend_from_slice(&from_ms.to_be_bytes());
    hi.extend_from_slice(&to_ms.to_be_bytes());
    let mut out = Vec::new();
    for (_, id) in store.range(BY_CUSTOMER, &lo, &hi, limit, true)? {
        if let Ok(arr) = <[u8; 8]>::try_from(id.as_slice())
            && let Some(c) = get(store, u64::from_be_bytes(arr))?
        {
            out.push(c);
        }
    }
    Ok(out)
}
