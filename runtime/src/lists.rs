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

use serde::{Deserialize, Serialize};

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
