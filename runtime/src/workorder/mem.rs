//! The engine's in-memory view of the open orders: enough to answer "overdue
//! orders by department" and the W5 counts without touching the store, and the
//! timer queue (the next unfired reminder or escalation of each order). It is
//! rebuilt at start from the compact [`OpenRecord`]s.

use std::collections::{BTreeSet, HashMap};

use super::model::OpenRecord;

/// Interned names (lifecycles, states, departments, handlers); id 0 is "none".
#[derive(Debug)]
pub(crate) struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Default for Names {
    fn default() -> Names {
        Names {
            ids: HashMap::new(),
            names: vec!["".into()],
        }
    }
}

impl Names {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        if s.is_empty() {
            return Some(0);
        }
        self.ids.get(s).copied()
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map(|s| &**s).unwrap_or("")
    }
}

/// One open order in memory (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Open {
    pub(crate) kind: u32,
    pub(crate) state: u32,
    pub(crate) department: u32,
    pub(crate) handler: u32,
    pub(crate) created: i64,
    pub(crate) updated: i64,
    /// `i64::MAX` when the state has no limit.
    pub(crate) deadline: i64,
    /// `i64::MAX` when no timer is left.
    pub(crate) next_timer: i64,
}

/// The open orders.
#[derive(Debug, Default)]
pub(crate) struct Mem {
    pub(crate) names: Names,
    pub(crate) open: HashMap<u64, Open>,
    /// (department, deadline, number) of orders with a limit.
    pub(crate) by_deadline: BTreeSet<(u32, i64, u64)>,
    /// (due, number): the next timer of each order.
    pub(crate) timers: BTreeSet<(i64, u64)>,
    /// Open orders per (lifecycle, state, department).
    pub(crate) counts: HashMap<(u32, u32, u32), u64>,
}

/// The numeric form of an order number (all our numbers are digits).
pub(crate) fn number_key(number: &str) -> Option<u64> {
    if number.is_empty() || number.len() > 19 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

impl Mem {
    /// Records an order as open (replacing what was known of it).
    pub(crate) fn set(&mut self, num: u64, r: &OpenRecord) {
        self.remove(num);
        let o = Open {
            kind: self.names.intern(&r.kind),
            state: self.names.intern(&r.state),
            department: self.names.intern(r.department.as_deref().unwrap_or("")),
            handler: self.names.intern(r.handler.as_deref().unwrap_or("")),
            created: r.created_ms,
            updated: r.updated_ms,
            deadline: r.deadline_ms.unwrap_or(i64::MAX),
            next_timer: r.next_timer_ms.unwrap_or(i64::MAX),
        };
        if o.deadline != i64::MAX {
            self.by_deadline.insert((o.department, o.deadline, num));
        }
        if o.next_timer != i64::MAX {
            self.timers.insert((o.next_timer, num));
        }
        *self
            .counts
            .entry((o.kind, o.state, o.department))
            .or_default() += 1;
        self.open.insert(num, o);
    }

    /// Forgets an order (it was closed).
    pub(crate) fn remove(&mut self, num: u64) {
        if let Some(o) = self.open.remove(&num) {
            self.by_deadline.remove(&(o.department, o.deadline, num));
            self.timers.remove(&(o.next_timer, num));
            let key = (o.kind, o.state, o.department);
            if let Some(c) = self.counts.get_mut(&key) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&key);
                }
            }
        }
    }

    /// Postpones an order's next timer in memory only (after a failure to fire it).
    pub(crate) fn postpone(&mut self, num: u64, until: i64) {
        if let Some(o) = self.open.get_mut(&num) {
            self.timers.remove(&(o.next_timer, num));
            o.next_timer = until;
            self.timers.insert((until, num));
        }
    }

    /// Approximate heap bytes used (for reports).
    pub(crate) fn approx_bytes(&self) -> usize {
        self.open.capacity() * (8 + std::mem::size_of::<Open>() + 8)
            + (self.by_deadline.len() + self.timers.len()) * 40
            + self.counts.len() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(state: &str, dept: Option<&str>, deadline: Option<i64>) -> OpenRecord {
        OpenRecord {
            kind: "complaint".into(),
            state: state.into(),
            department: dept.map(String::from),
            handler: None,
            created_ms: 1,
            updated_ms: 1,
            deadline_ms: deadline,
            next_timer_ms: deadline,
        }
    }

    #[test]
    fn set_and_remove_keep_indexes_in_step() {
        let mut m = Mem::default();
        m.set(1, &rec("new", None, Some(10)));
        m.set(2, &rec("dispatched", Some("ops"), Some(20)));
        m.set(1, &rec("dispatched", Some("ops"), Some(30)));
        assert_eq!(m.open.len(), 2);
        assert_eq!(m.by_deadline.len(), 2);
        assert_eq!(m.timers.len(), 2);
        let ops = m.names.get("ops").unwrap();
        let k = m.names.get("complaint").unwrap();
        let s = m.names.get("dispatched").unwrap();
        assert_eq!(m.counts.get(&(k, s, ops)), Some(&2));
        m.remove(1);
        m.remove(2);
        assert!(m.open.is_empty() && m.by_deadline.is_empty() && m.timers.is_empty());
        assert!(m.counts.is_empty());
    }

    #[test]
    fn numbers_are_digits() {
        assert_eq!(number_key("2026112200017"), Some(2026112200017));
        assert_eq!(number_key("x1"), None);
        assert_eq!(number_key(""), None);
    }
}
