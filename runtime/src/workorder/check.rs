//! A consistency check of the stored workorders: every order has its complete
//! history (versions 1..=version, each transition starting where the previous one
//! ended, the last one ending in the order's state), exactly the index entries its
//! current form needs, and an open record exactly when it is open. The crash tests
//! run it after killing the runtime; an operator can run it on a copy of the data.

use std::collections::HashSet;

use super::model::*;
use crate::store::Store;

/// What the check found: how many orders, open orders and history entries it
/// read, and the problems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct CheckReport {
    pub orders: usize,
    pub open: usize,
    pub history: usize,
    /// Problems, one sentence each (empty when consistent).
    pub problems: Vec<String>,
}

/// Checks every stored order.
pub fn check_store(store: &dyn Store) -> Result<CheckReport, crate::store::StoreError> {
    let mut r = CheckReport::default();
    let mut expected: HashSet<(&'static str, Vec<u8>)> = HashSet::new();
    let mut numbers: HashSet<String> = HashSet::new();
    for (k, v) in store.scan_prefix(ORDERS, b"")? {
        let number = String::from_utf8_lossy(&k).to_string();
        let o: Workorder = match serde_json::from_slice(&v) {
            Ok(o) => o,
            Err(e) => {
                r.problems.push(format!("{number}: unreadable order: {e}"));
                continue;
            }
        };
        r.orders += 1;
        numbers.insert(number.clone());
        if o.number != number {
            r.problems.push(format!(
                "{number}: stored under the wrong key ({})",
                o.number
            ));
        }
        // History.
        let hist = store.scan_prefix(HISTORY, &history_prefix(&number))?;
        r.history += hist.len();
        if hist.len() != o.version as usize {
            r.problems.push(format!(
                "{number}: version {} but {} history entries",
                o.version,
                hist.len()
            ));
        }
        let mut state: Option<String> = None;
        for (i, (_, hv)) in hist.iter().enumerate() {
            let e: HistoryEntry = match serde_json::from_slice(hv) {
                Ok(e) => e,
                Err(err) => {
                    r.problems
                        .push(format!("{number}: unreadable history entry: {err}"));
                    continue;
                }
            };
            if e.version as usize != i + 1 {
                r.problems.push(format!(
                    "{number}: history entry {} has version {}",
                    i + 1,
                    e.version
                ));
            }
            if e.action == "transition" && e.from != state {
                r.problems.push(format!(
                    "{number}: version {} goes from {:?} but the order was in {:?}",
                    e.version, e.from, state
                ));
            }
            if let Some(to) = e.to {
                state = Some(to);
            }
        }
        if state.as_deref() != Some(o.state.as_str()) {
            r.problems.push(format!(
                "{number}: state {} but the history ends in {:?}",
                o.state, state
            ));
        }
        // Open record.
        let open = store.get(OPEN, number.as_bytes())?;
        match (o.closed_ms.is_none(), open) {
            (true, Some(b)) => {
                r.open += 1;
                match postcard::from_bytes::<OpenRecord>(&b) {
                    Ok(rec) if rec == OpenRecord::of(&o) => {}
                    Ok(_) => r
                        .problems
                        .push(format!("{number}: open record differs from the order")),
                    Err(e) => r
                        .problems
                        .push(format!("{number}: unreadable open record: {e}")),
                }
            }
            (true, None) => r
                .problems
                .push(format!("{number}: open but without an open record")),
            (false, Some(_)) => r
                .problems
                .push(format!("{number}: closed but with an open record")),
            (false, None) => {}
        }
        for (t, key) in index_entries(&o) {
            expected.insert((t, key));
        }
    }
    for tree in [
        IDX_CREATED,
        IDX_UPDATED,
        IDX_CUSTOMER,
        IDX_DEPARTMENT,
        IDX_HANDLER,
        IDX_STATE,
        IDX_EVENT,
    ] {
        let mut found = 0usize;
        for (k, _) in store.scan_prefix(tree, b"")? {
            found += 1;
            if !expected.contains(&(tree, k.clone())) {
                r.problems.push(format!(
                    "{tree}: stale entry {}",
                    String::from_utf8_lossy(&k).escape_debug()
                ));
            }
        }
        let want = expected.iter().filter(|(t, _)| *t == tree).count();
        if found < want {
            r.problems
                .push(format!("{tree}: {} entries missing", want - found));
        }
    }
    for (k, _) in store.scan_prefix(OPEN, b"")? {
        let n = String::from_utf8_lossy(&k).to_string();
        if !numbers.contains(&n) {
            r.problems
                .push(format!("{n}: open record without an order"));
        }
    }
    for (k, _) in store.scan_prefix(HISTORY, b"")? {
        let n = k
            .split(|b| *b == 0)
            .next()
            .map(|b| String::from_utf8_lossy(b).to_string())
            .unwrap_or_default();
        if !numbers.contains(&n) {
            r.problems.push(format!("{n}: history without an order"));
        }
    }
    Ok(r)
}
