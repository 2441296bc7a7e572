//! Whole-program rules that look across declarations: queue overflow cycles,
//! queue timing, skills held by agents, and the outbound-calling rules that
//! protect the people being called (calling hours, abandon rate, dropped-call
//! message). Each message says why the rule exists.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Offset, TimeZone};

use crate::ast::*;
use crate::check::{Checker, options_of_mode};
use crate::diagnostic::Diagnostic;
use crate::options;

/// Calls may be placed from 08:00 ...
const EARLIEST_CALL: u32 = 8 * 3600;
/// ... until 21:00 in the callee's local time (US TCPA / FTC TSR; Ofcom guidance).
const LATEST_CALL: u32 = 21 * 3600;
/// The highest abandon rate a predictive campaign may run at without a waiver.
const MAX_ABANDON: f64 = 0.03;
/// A dropped call must hear its message within this time.
const MAX_DROP_MESSAGE_MS: i64 = 2000;

impl Checker<'_> {
    pub(super) fn check_rules(&mut self) {
        let queues: Vec<&QueueDecl> = self
            .items()
            .filter_map(|(r, i)| match i {
                Item::Queue(q) if self.model.queues.get(&q.name.name) == Some(&r) => Some(q),
                _ => None,
            })
            .collect();
        self.overflow_cycles(&queues);
        for q in &queues {
            self.queue_timing(q);
            self.queue_agents(q);
        }
        let campaigns: Vec<&CampaignDecl> = self
            .items()
            .filter_map(|(_, i)| match i {
                Item::Campaign(c) => Some(c),
                _ => None,
            })
            .collect();
        for c in campaigns {
            self.campaign_compliance(c);
        }
    }

    /// Overflow rules that send calls around in a circle.
    fn overflow_cycles(&mut self, queues: &[&QueueDecl]) {
        let by_name: BTreeMap<&str, &QueueDecl> =
            queues.iter().map(|q| (q.name.name.as_str(), *q)).collect();
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for q in queues {
            for o in &q.overflows {
                if by_name.contains_key(o.target.name.as_str()) && o.target.name != q.name.name {
                    edges
                        .entry(q.name.name.as_str())
                        .or_default()
                        .push(o.target.name.as_str());
                }
            }
        }
        for scc in strongly_connected(&by_name.keys().copied().collect::<Vec<_>>(), &edges) {
            if scc.len() < 2 {
                continue;
            }
            let members: BTreeSet<&str> = scc.iter().copied().collect();
            let has_exit = scc.iter().any(|n| {
                let q = by_name[n];
                let max_wait_out = q.max_wait.as_ref().is_some_and(|(_, d, _)| match d {
                    Destination::Queue(t) => !members.contains(t.name.as_str()),
                    _ => true,
                });
                max_wait_out || !q.keys.is_empty()
            });
            let first = by_name[scc[0]];
            let span = first
                .overflows
                .iter()
                .find(|o| members.contains(o.target.name.as_str()))
                .map(|o| o.span)
                .unwrap_or(first.name.span);
            let path = scc.join(" -> ");
            let mut d = if has_exit {
                Diagnostic::warning(
                    "overflow-cycle",
                    span,
                    format!("the queues {path} overflow into each other"),
                )
                .with_hint("calls may bounce between these queues until their maximum wait; make overflow go one way (up or down)")
            } else {
                Diagnostic::error(
                    "overflow-cycle",
                    span,
                    format!("the queues {path} overflow into each other and none of them has a way out"),
                )
                .with_hint("a call could circle between these queues forever; give one of them a `max wait ... ->` to a flow or another queue")
            };
            for n in scc.iter().skip(1) {
                if let Some(o) = by_name[n]
                    .overflows
                    .iter()
                    .find(|o| members.contains(o.target.name.as_str()))
                {
                    d = d.with_secondary(o.span, "part of the cycle");
                }
            }
            self.err(d);
        }
    }

    /// The maximum wait must leave room for announcements and for ringing an agent.
    fn queue_timing(&mut self, q: &QueueDecl) {
        let Some((max_wait, _, mw_span)) = &q.max_wait else {
            if !q.overflows.is_empty() || q.hours.is_some() {
                return;
            }
            self.err(
                Diagnostic::warning(
                    "queue-no-max-wait",
                    q.name.span,
                    format!("the queue `{}` has no maximum wait", q.name),
                )
                .with_hint("callers may wait without limit; add `max wait 5m -> flow voicemail`"),
            );
            return;
        };
        if let Some(first) = q
            .announcements
            .iter()
            .min_by_key(|a| a.every.millis)
            .filter(|a| a.every.millis >= max_wait.millis)
        {
            self.err(
                Diagnostic::error(
                    "queue-timing",
                    first.every.span,
                    format!(
                        "the first announcement comes after {}, but callers leave the queue after {}",
                        self.snippet(first.every.span),
                        self.snippet(max_wait.span)
                    ),
                )
                .with_secondary(*mw_span, "the maximum wait")
                .with_hint("no caller would ever hear it; announce sooner or let callers wait longer"),
            );
        }
        if let Some(na) = &q.no_answer
            && na.timeout.millis >= max_wait.millis
        {
            self.err(
                Diagnostic::error(
                    "queue-timing",
                    na.timeout.span,
                    "an agent may ring longer than a caller may wait",
                )
                .with_secondary(*mw_span, "the maximum wait")
                .with_hint("the no-answer time must be shorter than the maximum wait, or a call offered late can never be re-offered to another agent"),
            );
        }
    }

    /// Where agents are listed, someone must be able to take each queue's calls.
    fn queue_agents(&mut self, q: &QueueDecl) {
        if self.model.agents.is_empty() || q.skills.is_empty() {
            return;
        }
        let agents: Vec<&AgentDecl> = self
            .model
            .agents
            .values()
            .filter_map(|r| match self.project.item(*r) {
                Item::Agent(a) => Some(a),
                _ => None,
            })
            .collect();
        let qualifies = |a: &AgentDecl| {
            q.skills.iter().all(|s| {
                a.skills.iter().any(|h| {
                    h.skill.name == s.skill.name
                        && h.level.map(|l| l.0).unwrap_or(1.0)
                            >= s.min_level.map(|l| l.0).unwrap_or(0.0)
                })
            })
        };
        if !agents.iter().any(|a| qualifies(a)) {
            let need = q
                .skills
                .iter()
                .map(|s| match s.min_level {
                    Some((l, _)) => format!("{} at level {l} or more", s.skill),
                    None => s.skill.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(" and ");
            self.err(
                Diagnostic::error(
                    "queue-no-agent",
                    q.skills[0].skill.span,
                    format!("no agent of the project has {need}, so calls in `{}` can never be answered", q.name),
                )
                .with_hint("give an agent the skill (agent \"...\" { skills ... }) or lower the level the queue requires"),
            );
        }
    }

    /// Calling hours, abandon rate and the dropped-call message.
    fn campaign_compliance(&mut self, c: &CampaignDecl) {
        let allowed = |rule: &str| c.allows.iter().any(|(r, _, _)| r.name == rule);
        // Calling hours, in the callee's local time.
        let cal_tz = c
            .calendar
            .as_ref()
            .and_then(|cal| self.model.calendars.get(&cal.name))
            .and_then(|r| match self.project.item(*r) {
                Item::Calendar(k) => k.timezone.as_ref().map(|t| t.plain_lossy()),
                _ => None,
            });
        let callee_tz = c.timezone.as_ref().map(|t| t.plain_lossy());
        let shift = match (&cal_tz, &callee_tz) {
            (Some(a), Some(b)) if a != b => tz_shift(a, b),
            _ => Some(0),
        };
        if !allowed("call_window")
            && let Some(shift) = shift
        {
            for w in &c.windows {
                for p in &w.periods {
                    let from = p.from as i64 + shift;
                    let to = p.to as i64 + shift;
                    if from < EARLIEST_CALL as i64 || to > LATEST_CALL as i64 {
                        let local = if shift != 0 {
                            format!(" ({}-{} for the people called)", clock(from), clock(to))
                        } else {
                            String::new()
                        };
                        self.err(
                            Diagnostic::error(
                                "call-window",
                                p.span,
                                format!("this call window{local} reaches outside 08:00-21:00 in the callee's local time"),
                            )
                            .with_hint("the US TCPA and FTC Telemarketing Sales Rule forbid calls before 8 am and after 9 pm at the called person's location, and Ofcom's guidance is the same; keep windows within 08:00-21:00")
                            .with_hint("if the list is exempt, say so: allow call_window \"reason\""),
                        );
                    }
                }
            }
        }
        let Some(mode) = &c.mode else { return };
        let opts = options_of_mode(mode);
        let abandon = options::number(opts, "abandon max");
        let abandon_span = options::find(opts, "abandon max")
            .map(|o| o.span)
            .unwrap_or(mode.span);
        if let Some(a) = abandon {
            if a > 1.0 {
                self.err(
                    Diagnostic::error(
                        "abandon-cap",
                        abandon_span,
                        format!("an abandon rate cap of {}% is above 100%", trim_num(a * 100.0)),
                    )
                    .with_hint("the cap is the share of answered calls that find no agent; it is at most 100%"),
                );
            } else if a > MAX_ABANDON && !allowed("abandon_rate") {
                self.err(
                    Diagnostic::error(
                        "abandon-cap",
                        abandon_span,
                        format!("an abandon rate cap of {}% is above 3%", trim_num(a * 100.0)),
                    )
                    .with_hint("the FTC Telemarketing Sales Rule (16 CFR 310.4(b)(4)) and Ofcom's persistent-misuse policy cap abandoned calls at 3% of answered calls")
                    .with_hint("if a higher rate is lawful for this list, say why: allow abandon_rate \"reason\""),
                );
            }
        }
        let pacing = matches!(mode.mode.name.as_str(), "predictive" | "progressive");
        if mode.mode.name == "predictive" && abandon.is_none() && !allowed("abandon_rate") {
            self.err(
                Diagnostic::error(
                    "abandon-cap",
                    mode.span,
                    "a predictive campaign needs an abandon rate cap",
                )
                .with_hint("add `(abandon max 3%)` to the mode: predictive dialling drops calls when no agent is free, and the law caps how many"),
            );
        }
        if pacing && !allowed("dropped_message") {
            match &c.dropped {
                None => self.err(
                    Diagnostic::error(
                        "dropped-message",
                        mode.span,
                        format!("a {} campaign needs a message for calls that find no agent", mode.mode.name),
                    )
                    .with_hint("add `dropped -> play \"sorry.wav\" within 2s`")
                    .with_hint("the FTC and Ofcom require that a person answering a call no agent can take hears who called within 2 seconds"),
                ),
                Some((_, Some(w), _)) if w.millis > MAX_DROP_MESSAGE_MS => self.err(
                    Diagnostic::error(
                        "dropped-message",
                        w.span,
                        "the dropped-call message must start within 2s",
                    )
                    .with_hint("the FTC and Ofcom require the message within 2 seconds of the answer"),
                ),
                _ => {}
            }
        }
    }
}

/// Tarjan's algorithm: the strongly connected components, each in discovery order.
fn strongly_connected<'a>(
    nodes: &[&'a str],
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Vec<Vec<&'a str>> {
    struct St<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(n: &'a str, edges: &BTreeMap<&'a str, Vec<&'a str>>, st: &mut St<'a>) {
        st.index.insert(n, st.next);
        st.low.insert(n, st.next);
        st.next += 1;
        st.stack.push(n);
        st.on.insert(n);
        for &m in edges.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            if !st.index.contains_key(m) {
                visit(m, edges, st);
                let lm = st.low[m];
                let ln = st.low[n];
                st.low.insert(n, ln.min(lm));
            } else if st.on.contains(m) {
                let im = st.index[m];
                let ln = st.low[n];
                st.low.insert(n, ln.min(im));
            }
        }
        if st.low[n] == st.index[n] {
            let mut comp = Vec::new();
            while let Some(m) = st.stack.pop() {
                st.on.remove(m);
                comp.push(m);
                if m == n {
                    break;
                }
            }
            comp.reverse();
            st.out.push(comp);
        }
    }
    let mut st = St {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for &n in nodes {
        if !st.index.contains_key(n) {
            visit(n, edges, &mut st);
        }
    }
    st.out
}

/// Seconds to add to a clock time in `from` to get the same instant in `to` (at a
/// winter and a summer date; `None` when either zone is unknown).
fn tz_shift(from: &str, to: &str) -> Option<i64> {
    let a: chrono_tz::Tz = from.parse().ok()?;
    let b: chrono_tz::Tz = to.parse().ok()?;
    let mut worst: Option<i64> = None;
    for (m, d) in [(1, 15), (7, 15)] {
        let day = NaiveDate::from_ymd_opt(2026, m, d)?.and_hms_opt(12, 0, 0)?;
        let off_a = a.offset_from_utc_datetime(&day).fix().local_minus_utc() as i64;
        let off_b = b.offset_from_utc_datetime(&day).fix().local_minus_utc() as i64;
        let s = off_b - off_a;
        worst = Some(match worst {
            Some(w) if w.abs() >= s.abs() => w,
            _ => s,
        });
    }
    worst
}

fn clock(secs: i64) -> String {
    let s = secs.rem_euclid(86_400 + 1);
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
