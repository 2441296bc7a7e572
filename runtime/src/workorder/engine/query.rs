//! The engine's reads: the query and count types, and the functions that
//! answer them from the in-memory indexes of open orders or from the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::store::{Store, StoreError, get_json};
use crate::workorder::WoError;
use crate::workorder::model::*;

/// A query over orders. Each filter given must equal the order's field of
/// that name (`customer`: its `customer_id`); empty filters match everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[allow(missing_docs, reason = "the plain filters are described on the type")]
pub struct Query {
    pub kind: Option<String>,
    pub state: Option<String>,
    pub department: Option<String>,
    pub handler: Option<String>,
    pub customer: Option<String>,
    /// Only open orders (not in a final state).
    pub open: bool,
    /// Only orders past their state's time limit.
    pub overdue: bool,
    /// Created at or after (Unix ms).
    pub created_from: Option<i64>,
    /// Created before (Unix ms).
    pub created_to: Option<i64>,
    /// Updated at or after.
    pub updated_from: Option<i64>,
    /// Updated before (Unix ms).
    pub updated_to: Option<i64>,
    /// Skip this many matches.
    pub offset: usize,
    /// At most this many (default 50, at most 1000).
    pub limit: usize,
}

/// One page of a query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    /// The orders (overdue queries: most overdue first; others: newest first).
    pub items: Vec<Workorder>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<usize>,
    /// All matches (when known without a full scan: open-order queries).
    pub total: Option<usize>,
}

/// Open orders counted by lifecycle (`kind`), state and department (W5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct CountRow {
    pub kind: String,
    pub state: String,
    /// Department (empty when not dispatched).
    pub department: String,
    /// Open orders.
    pub count: u64,
}

/// Overdue orders by department.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OverdueRow {
    /// Department (empty when not dispatched).
    pub department: String,
    /// Orders past their limit.
    pub count: u64,
}

/// W5 monitoring figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Open orders by lifecycle, state and department.
    pub open: Vec<CountRow>,
    /// Overdue orders by department.
    pub overdue: Vec<OverdueRow>,
    /// All open orders.
    pub total_open: u64,
    /// All overdue orders.
    pub total_overdue: u64,
}

/// A query over tasks, newest first. Each filter given must equal the task's
/// field of that name (`customer`: its `customer_id`).
#[derive(Debug, Clone, Default)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct TaskQuery {
    pub campaign: Option<String>,
    pub customer: Option<String>,
    pub status: Option<String>,
    pub handler: Option<String>,
    /// At most (default 100).
    pub limit: usize,
}

/// Reads an order.
pub(crate) fn load_order(store: &dyn Store, number: &str) -> Result<Workorder, WoError> {
    get_json::<Workorder>(store, ORDERS, number.as_bytes())?
        .ok_or_else(|| WoError::NotFound(crate::workorder::no_such_order(number)))
}

/// Reads an order's history.
pub(crate) fn read_history(store: &dyn Store, number: &str) -> Result<Vec<HistoryEntry>, WoError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(HISTORY, &history_prefix(number))? {
        out.push(
            serde_json::from_slice(&v)
                .map_err(|e| StoreError::Corrupt(format!("history of {number}: {e}")))?,
        );
    }
    Ok(out)
}

pub(crate) fn read_notifications(
    store: &dyn Store,
    to: &[String],
    since: i64,
    limit: usize,
) -> Result<Vec<Notification>, WoError> {
    let limit = limit.clamp(1, 1000);
    let mut out: Vec<Notification> = Vec::new();
    for t in to {
        let mut lo = t.as_bytes().to_vec();
        lo.push(0);
        let mut hi = lo.clone();
        lo.extend_from_slice(&time_key(since));
        hi.push(0xff);
        for (k, _) in store.range(NOTIFY_TO, &lo, &hi, limit, true)? {
            let id = &k[k.len().saturating_sub(8)..];
            if let Some(n) = get_json::<Notification>(store, NOTIFICATIONS, id)? {
                out.push(n);
            }
        }
    }
    out.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(b.id.cmp(&a.id)));
    out.dedup_by_key(|n| n.id);
    out.truncate(limit);
    Ok(out)
}

fn matches(o: &Workorder, q: &Query, now: i64, final_state: bool) -> bool {
    let eq = |want: &Option<String>, have: Option<&str>| match want {
        Some(w) => have == Some(w.as_str()),
        None => true,
    };
    let within = |from: Option<i64>, to: Option<i64>, t: i64| {
        from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e)
    };
    eq(&q.kind, Some(&o.kind))
        && eq(&q.state, Some(&o.state))
        && eq(&q.department, o.department.as_deref())
        && eq(&q.handler, o.handler.as_deref())
        && eq(&q.customer, Some(&o.customer_id))
        && (!q.open || !final_state)
        && (!q.overdue || (!final_state && o.deadline_ms.is_some_and(|d| d < now)))
        && within(q.created_from, q.created_to, o.created_ms)
        && within(q.updated_from, q.updated_to, o.updated_ms)
}

/// Answers a query from the store's indexes: picks the narrowest index, walks it
/// newest first and filters.
pub(crate) fn query_store(store: &dyn Store, q: &Query, now: i64) -> Result<Page, WoError> {
    let (tree, prefix, lo_t, hi_t): (&str, Vec<u8>, i64, i64) = {
        let part = |parts: &[&str]| {
            let mut p = Vec::new();
            for s in parts {
                p.extend_from_slice(s.as_bytes());
                p.push(0);
            }
            p
        };
        let created = (
            q.created_from.unwrap_or(i64::MIN / 2),
            q.created_to.unwrap_or(i64::MAX / 2),
        );
        if let Some(c) = &q.customer {
            (IDX_CUSTOMER, part(&[c]), created.0, created.1)
        } else if let Some(h) = &q.handler {
            (IDX_HANDLER, part(&[h]), created.0, created.1)
        } else if let (Some(k), Some(s)) = (&q.kind, &q.state) {
            (IDX_STATE, part(&[k, s]), created.0, created.1)
        } else if let Some(d) = &q.department {
            (IDX_DEPARTMENT, part(&[d]), created.0, created.1)
        } else if q.created_from.is_none()
            && q.created_to.is_none()
            && (q.updated_from.is_some() || q.updated_to.is_some())
        {
            (
                IDX_UPDATED,
                Vec::new(),
                q.updated_from.unwrap_or(i64::MIN / 2),
                q.updated_to.unwrap_or(i64::MAX / 2),
            )
        } else {
            (IDX_CREATED, Vec::new(), created.0, created.1)
        }
    };
    let mut lo = prefix.clone();
    lo.extend_from_slice(&time_key(lo_t));
    let mut hi = prefix.clone();
    hi.extend_from_slice(&time_key(hi_t));
    let skip = prefix.len() + 8;
    let mut items = Vec::new();
    let mut matched = 0usize;
    const CHUNK: usize = 2000;
    const MAX_SCAN: usize = 500_000;
    let mut scanned = 0usize;
    let mut upper = hi;
    'scan: loop {
        let chunk = store.range(tree, &lo, &upper, CHUNK, true)?;
        let n = chunk.len();
        for (k, _) in &chunk {
            scanned += 1;
            let number = String::from_utf8_lossy(k.get(skip..).unwrap_or_default()).to_string();
            let Some(o) = get_json::<Workorder>(store, ORDERS, number.as_bytes())? else {
                continue;
            };
            if !matches(&o, q, now, o.closed_ms.is_some()) {
                continue;
            }
            matched += 1;
            if matched <= q.offset {
                continue;
            }
            if items.len() == q.limit {
                return Ok(Page {
                    items,
                    next_offset: Some(q.offset + q.limit),
                    total: None,
                });
            }
            items.push(o);
        }
        if n < CHUNK || scanned >= MAX_SCAN {
            break 'scan;
        }
        if let Some((k, _)) = chunk.last() {
            upper = k.clone();
        }
    }
    Ok(Page {
        items,
        next_offset: None,
        total: Some(matched),
    })
}

pub(crate) fn query_tasks(store: &dyn Store, q: &TaskQuery) -> Result<Vec<Task>, WoError> {
    let limit = if q.limit == 0 { 100 } else { q.limit.min(1000) };
    let ids: Vec<Vec<u8>> = if let Some(c) = &q.campaign {
        let mut p = c.as_bytes().to_vec();
        p.push(0);
        store
            .scan_prefix(TASKS_BY_CAMPAIGN, &p)?
            .into_iter()
            .rev()
            .map(|(k, _)| k[k.len() - 8..].to_vec())
            .collect()
    } else if let Some(c) = &q.customer {
        let mut p = c.as_bytes().to_vec();
        p.push(0);
        store
            .scan_prefix(TASKS_BY_CUSTOMER, &p)?
            .into_iter()
            .rev()
            .map(|(k, _)| k[k.len() - 8..].to_vec())
            .collect()
    } else {
        store
            .range(TASKS, &[], &[0xff; 9], 100_000, true)?
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    let mut out = Vec::new();
    for id in ids {
        let Some(t) = get_json::<Task>(store, TASKS, &id)? else {
            continue;
        };
        if q.status.as_ref().is_some_and(|s| *s != t.status)
            || q.handler
                .as_ref()
                .is_some_and(|h| t.handler.as_ref() != Some(h))
            || q.customer.as_ref().is_some_and(|c| *c != t.customer_id)
        {
            continue;
        }
        out.push(t);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

impl Engine {
    pub(super) fn query_mem(&self, q: &Query) -> Result<Page, WoError> {
        let now = self.clock.now_ms();
        let m = &self.mem;
        let id = |s: &Option<String>| -> Result<Option<u32>, ()> {
            match s {
                None => Ok(None),
                Some(s) => m.names.get(s).map(Some).ok_or(()),
            }
        };
        let empty = Page {
            items: Vec::new(),
            next_offset: None,
            total: Some(0),
        };
        let (Ok(kind), Ok(state), Ok(dept), Ok(handler)) =
            (id(&q.kind), id(&q.state), id(&q.department), id(&q.handler))
        else {
            return Ok(empty);
        };
        let ok = |o: &crate::workorder::mem::Open| {
            kind.is_none_or(|k| o.kind == k)
                && state.is_none_or(|s| o.state == s)
                && dept.is_none_or(|d| o.department == d)
                && handler.is_none_or(|h| o.handler == h)
                && (!q.overdue || o.deadline < now)
                && q.created_from.is_none_or(|f| o.created >= f)
                && q.created_to.is_none_or(|t| o.created < t)
                && q.updated_from.is_none_or(|f| o.updated >= f)
                && q.updated_to.is_none_or(|t| o.updated < t)
        };
        let mut hits: Vec<(i64, u64)> = Vec::new();
        if q.overdue {
            let mut take = |d: u32| {
                for &(_, deadline, num) in m.by_deadline.range((d, i64::MIN, 0)..(d, now, 0)) {
                    if let Some(o) = m.open.get(&num)
                        && ok(o)
                    {
                        hits.push((deadline, num));
                    }
                }
            };
            match dept {
                Some(d) => take(d),
                None => {
                    let depts: std::collections::BTreeSet<u32> =
                        m.by_deadline.iter().map(|k| k.0).collect();
                    for d in depts {
                        take(d);
                    }
                    hits.sort_unstable();
                }
            }
        } else {
            for (&num, o) in &m.open {
                if ok(o) {
                    hits.push((o.created, num));
                }
            }
            hits.sort_unstable_by(|a, b| b.cmp(a));
        }
        let total = hits.len();
        let mut items = Vec::new();
        for &(_, num) in hits.iter().skip(q.offset).take(q.limit) {
            if let Ok(o) = self.load(&num.to_string()) {
                items.push(o);
            }
        }
        let next = q.offset + q.limit;
        Ok(Page {
            items,
            next_offset: (next < total).then_some(next),
            total: Some(total),
        })
    }

    pub(super) fn counts(&self) -> Counts {
        let now = self.clock.now_ms();
        let m = &self.mem;
        let mut open: Vec<CountRow> = m
            .counts
            .iter()
            .map(|(&(k, s, d), &c)| CountRow {
                kind: m.names.name(k).to_string(),
                state: m.names.name(s).to_string(),
                department: m.names.name(d).to_string(),
                count: c,
            })
            .collect();
        open.sort_by(|a, b| {
            (&a.kind, &a.state, &a.department).cmp(&(&b.kind, &b.state, &b.department))
        });
        let mut overdue: BTreeMap<u32, u64> = BTreeMap::new();
        let mut cursor: Option<u32> = None;
        loop {
            let start = match cursor {
                None => (0u32, i64::MIN, 0u64),
                Some(d) => match d.checked_add(1) {
                    Some(n) => (n, i64::MIN, 0),
                    None => break,
                },
            };
            let Some(&(d, _, _)) = m.by_deadline.range(start..).next() else {
                break;
            };
            let c = m.by_deadline.range((d, i64::MIN, 0)..(d, now, 0)).count() as u64;
            if c > 0 {
                overdue.insert(d, c);
            }
            cursor = Some(d);
        }
        let total_overdue = overdue.values().sum();
        Counts {
            open,
            overdue: overdue
                .into_iter()
                .map(|(d, count)| OverdueRow {
                    department: m.names.name(d).to_string(),
                    count,
                })
                .collect(),
            total_open: m.open.len() as u64,
            total_overdue,
        }
    }
}
