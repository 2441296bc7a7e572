//! Number lists changed while the platform runs: entries put on a declared list
//! (`do_not_call`, `blacklist`, a category of one) by the API, without a
//! redeploy.
//!
//! The declared entries live in the project's source; the entries added here
//! are stored durably (tree [`LIST_ENTRIES`]) and laid over the program's lists
//! each time a program is built ([`overlay`]): the runtime rebuilds the running
//! program with the new entries when they change, so every filter, queue rule
//! and flow condition that reads a list — compiled to native code — sees the
//! change on its next evaluation, and a campaign never dials a number put on
//! `do_not_call` a moment ago. Calls in progress keep the program they started
//! on, as after a deploy.
//!
//! Numbers are stored in the canonical form of `dialect_numbers`, the form the
//! dialer gives every target's phone, so `+86 138 0013 8000` entered here
//! matches `138-0013-8000` read from a spreadsheet. Only entries added here can
//! be removed here; declared entries are removed by editing the source.
//!
//! Agents do not change lists themselves: they flag a caller ([`ListFlag`]),
//! and a supervisor confirms the flag (which puts the number on the list in the
//! same commit) or rejects it. A category's `max transfers` is enforced here
//! too ([`transfer_limit`], [`count_transfer`]): a listed caller reaches agents
//! at most that many times a day while the category is active.

use serde::{Deserialize, Serialize};

use dialect_compiler::ctx::Shared;
use dialect_compiler::ir::ProgramIr;

use crate::store::{Batch, SharedStore, Store, StoreError};

/// Tree of entries added while running: key `list \0 number`.
pub const LIST_ENTRIES: &str = "list_entries";

/// One number put on a list while running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListEntry {
    /// The declared list's name.
    pub list: String,
    /// Canonical number, or a prefix ending in `*`.
    pub number: String,
    /// The category of the list it goes in (none: the list's own entries).
    #[serde(default)]
    pub category: Option<String>,
    /// Why, as the person who added it said (kept for the audit and the
    /// explanation of a target that is not dialled).
    #[serde(default)]
    pub reason: String,
    /// When it was added, Unix ms.
    pub added_ms: i64,
    /// The API user who added it.
    pub by: String,
}

impl ListEntry {
    fn key(list: &str, number: &str) -> Vec<u8> {
        let mut k = list.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(number.as_bytes());
        k
    }
}

/// Every entry added while running, in key order (list, then number).
pub fn load_all(store: &dyn Store) -> Result<Vec<ListEntry>, StoreError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(LIST_ENTRIES, b"")? {
        match serde_json::from_slice::<ListEntry>(&v) {
            Ok(e) => out.push(e),
            Err(e) => tracing::error!("a stored list entry cannot be read: {e}"),
        }
    }
    Ok(out)
}

/// The entry for `number` on `list`, if one was added while running.
pub fn find(store: &dyn Store, list: &str, number: &str) -> Result<Option<ListEntry>, StoreError> {
    crate::store::get_json(store, LIST_ENTRIES, &ListEntry::key(list, number))
}

/// Adds `add` and removes `remove` (list, number) in one durable commit;
/// returns how many of `remove` existed.
pub async fn change(
    store: &SharedStore,
    add: &[ListEntry],
    remove: &[(String, String)],
) -> Result<usize, StoreError> {
    let mut batch = Batch::new();
    for e in add {
        batch.put_json(LIST_ENTRIES, ListEntry::key(&e.list, &e.number), e);
    }
    let mut removed = 0;
    for (list, number) in remove {
        let key = ListEntry::key(list, number);
        if store.get(LIST_ENTRIES, &key)?.is_some() {
            removed += 1;
            batch.delete(LIST_ENTRIES, key);
        }
    }
    crate::store::commit_async(store.clone(), batch).await?;
    Ok(removed)
}

/// Why an entry cannot go on a list of the running program.
pub fn check(ir: &ProgramIr, list: &str, category: Option<&str>) -> Result<(), String> {
    let Some(l) = ir.lists.iter().find(|l| l.name == list) else {
        let names: Vec<&str> = ir.lists.iter().map(|l| l.name.as_str()).collect();
        return Err(format!(
            "there is no list `{list}`; the lists are: {}",
            names.join(", ")
        ));
    };
    if let Some(c) = category
        && !l.categories.iter().any(|x| x.name == c)
    {
        let names: Vec<&str> = l.categories.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "the list `{list}` has no category `{c}`; its categories are: {}",
            names.join(", ")
        ));
    }
    Ok(())
}

/// Lays `entries` over the declared lists of `ir`; entries of lists or
/// categories the program no longer declares are kept in the store but have
/// no effect (they apply again if a later deploy declares them).
pub fn overlay(ir: &mut ProgramIr, entries: &[ListEntry]) {
    for e in entries {
        let Some(l) = ir.lists.iter_mut().find(|l| l.name == e.list) else {
            continue;
        };
        match &e.category {
            None => l.entries.push(e.number.clone()),
            Some(c) => {
                if let Some(cat) = l.categories.iter_mut().find(|x| &x.name == c) {
                    cat.entries.push(e.number.clone());
                }
            }
        }
    }
}

/// Tree of agents' flags: key the flag's id (big-endian).
pub const LIST_FLAGS: &str = "list_flags";

/// Where a flag stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagState {
    /// Waiting for a supervisor.
    Pending,
    /// A supervisor confirmed it: the number is on the list.
    Confirmed,
    /// A supervisor rejected it: nothing changed.
    Rejected,
}

/// An agent's proposal to put a caller on a list (a category of the
/// blacklist, typically), which takes effect only once a supervisor confirms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListFlag {
    /// Its number, from the `list_flags` counter.
    pub id: u64,
    /// The declared list.
    pub list: String,
    /// The caller's number, canonical.
    pub number: String,
    /// The list's category.
    #[serde(default)]
    pub category: Option<String>,
    /// Why, in the agent's words (required: the supervisor decides on it).
    pub reason: String,
    /// The call it was raised on, when the agent gave it.
    #[serde(default)]
    pub call: Option<u64>,
    /// The agent who raised it.
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Where it stands.
    pub state: FlagState,
    /// The supervisor who decided.
    #[serde(default)]
    pub decided_by: Option<String>,
    /// When they decided, Unix ms.
    #[serde(default)]
    pub decided_ms: Option<i64>,
    /// The supervisor's note.
    #[serde(default)]
    pub note: String,
}

/// Flags in `state` (all when `None`), raised by `by` (anybody when `None`),
/// newest first, at most `limit`.
pub fn flags(
    store: &dyn Store,
    state: Option<FlagState>,
    by: Option<&str>,
    limit: usize,
) -> Result<Vec<ListFlag>, StoreError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(LIST_FLAGS, b"")?.into_iter().rev() {
        if out.len() >= limit {
            break;
        }
        match serde_json::from_slice::<ListFlag>(&v) {
            Ok(f) if state.is_none_or(|s| f.state == s) && by.is_none_or(|b| f.by == b) => {
                out.push(f)
            }
            Ok(_) => {}
            Err(e) => tracing::error!("a stored list flag cannot be read: {e}"),
        }
    }
    Ok(out)
}

/// Stores a new flag, giving it its id.
pub async fn raise(store: &SharedStore, mut flag: ListFlag) -> Result<ListFlag, StoreError> {
    flag.id = store.next_id(LIST_FLAGS)?;
    let mut batch = Batch::new();
    batch.put_json(LIST_FLAGS, flag.id.to_be_bytes(), &flag);
    crate::store::commit_async(store.clone(), batch).await?;
    Ok(flag)
}

/// Why a flag cannot be decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// No flag has this id.
    #[error("there is no flag {0}")]
    Unknown(u64),
    /// It was decided already (by whom, how).
    #[error("flag {0} was already {1} by {2}")]
    Decided(u64, &'static str, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Confirms (the number goes on the list in the same commit) or rejects a
/// pending flag.
pub async fn decide(
    store: &SharedStore,
    id: u64,
    confirm: bool,
    who: &str,
    note: &str,
    now_ms: i64,
) -> Result<ListFlag, DecideError> {
    let key = id.to_be_bytes();
    let Some(mut flag) = crate::store::get_json::<ListFlag>(&**store, LIST_FLAGS, &key)? else {
        return Err(DecideError::Unknown(id));
    };
    if flag.state != FlagState::Pending {
        let how = if flag.state == FlagState::Confirmed {
            "confirmed"
        } else {
            "rejected"
        };
        return Err(DecideError::Decided(
            id,
            how,
            flag.decided_by.clone().unwrap_or_default(),
        ));
    }
    flag.state = if confirm {
        FlagState::Confirmed
    } else {
        FlagState::Rejected
    };
    flag.decided_by = Some(who.to_string());
    flag.decided_ms = Some(now_ms);
    flag.note = note.to_string();
    let mut batch = Batch::new();
    batch.put_json(LIST_FLAGS, key, &flag);
    if confirm {
        let entry = ListEntry {
            list: flag.list.clone(),
            number: flag.number.clone(),
            category: flag.category.clone(),
            reason: format!("flagged by {}: {}", flag.by, flag.reason),
            added_ms: now_ms,
            by: who.to_string(),
        };
        batch.put_json(
            LIST_ENTRIES,
            ListEntry::key(&entry.list, &entry.number),
            &entry,
        );
    }
    crate::store::commit_async(store.clone(), batch).await?;
    Ok(flag)
}

/// A category whose listed callers may reach agents only so many times a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLimit {
    /// The list.
    pub list: String,
    /// The category.
    pub category: String,
    /// Transfers to agents a day.
    pub max: u32,
}

/// The strictest `max transfers` of the categories holding `caller` that are
/// active at `now_ms` (the project's time zone), as `caller in list.category`
/// would answer in a flow at that instant.
pub fn transfer_limit(program: &Shared, caller: &str, now_ms: i64) -> Option<TransferLimit> {
    let (_, time_of_day) = dialect_compiler::calendar::local_in(program.tz, now_ms);
    let mut strictest: Option<TransferLimit> = None;
    for (list, compiled) in program.ir.lists.iter().zip(&program.lists) {
        for (i, category) in list.categories.iter().enumerate() {
            let Some(max) = category.max_transfers else {
                continue;
            };
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            if compiled.contains(caller, Some(index), time_of_day)
                && strictest.as_ref().is_none_or(|s| max < s.max)
            {
                strictest = Some(TransferLimit {
                    list: list.name.clone(),
                    category: category.name.clone(),
                    max,
                });
            }
        }
    }
    strictest
}

/// Counts one transfer of `caller` to an agent on the local day of `now_ms`;
/// whether it is within `limit` (the count is shared by every node on a
/// shared store, and survives restarts).
pub fn count_transfer(
    store: &dyn Store,
    program: &Shared,
    limit: &TransferLimit,
    caller: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let (day, _) = dialect_compiler::calendar::local_in(program.tz, now_ms);
    let n = store.next_id(&format!("agent_transfers/{day}/{caller}"))?;
    Ok(n <= u64::from(limit.max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialect_compiler::ir::{ListCategoryIr, ListIr};

    fn entry(list: &str, number: &str, category: Option<&str>) -> ListEntry {
        ListEntry {
            list: list.into(),
            number: number.into(),
            category: category.map(Into::into),
            reason: "asked not to be called".into(),
            added_ms: 1,
            by: "sup".into(),
        }
    }

    #[test]
    fn entries_go_to_their_list_or_category_and_unknown_lists_are_left_out() {
        let mut ir = ProgramIr::default();
        ir.lists.push(ListIr {
            name: "blacklist".into(),
            entries: vec!["110".into()],
            categories: vec![ListCategoryIr {
                name: "abuse".into(),
                entries: Vec::new(),
                max_transfers: None,
                active: None,
            }],
        });
        overlay(
            &mut ir,
            &[
                entry("blacklist", "13800138000", None),
                entry("blacklist", "13900139000", Some("abuse")),
                entry("gone", "1", None),
                entry("blacklist", "2", Some("gone")),
            ],
        );
        assert_eq!(ir.lists[0].entries, vec!["110", "13800138000"]);
        assert_eq!(ir.lists[0].categories[0].entries, vec!["13900139000"]);
        assert!(check(&ir, "blacklist", Some("abuse")).is_ok());
        let no_list = check(&ir, "do_not_call", None).unwrap_err();
        assert!(no_list.contains("blacklist"), "{no_list}");
        let no_cat = check(&ir, "blacklist", Some("spam")).unwrap_err();
        assert!(no_cat.contains("abuse"), "{no_cat}");
    }
}
