//! What a fired reminder (催办) or escalation (督办) says and to whom it goes:
//! a notification row for each role, department or user it names (the
//! in-app notices and the event stream), and an e-mail and an SMS in the
//! outbox for each person behind them ([`crate::workorder::people`]), all
//! staged in the batch that marks the timer fired. The timer, its notices and
//! its messages are therefore stored together or not at all: a crash neither
//! loses an escalation nor sends it twice. A person who cannot be reached (no
//! address, no such user) is written on the notification row, never skipped.

use std::collections::BTreeSet;

use dialect_compiler::ir::NotifyChannel;

use super::Engine;
use crate::notify::{self, NewEntry};
use crate::store::Batch;
use crate::workorder::WoError;
use crate::workorder::model::{Delivery, Notification, Timer, Workorder};

/// The texts of one fired timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlertText {
    /// One sentence: the notification row, the event stream.
    pub message: String,
    /// The e-mail's subject.
    pub subject: String,
    /// The e-mail's body.
    pub body: String,
    /// The SMS.
    pub sms: String,
}

/// `24h`, `1h30m`, `45s`: a limit as the lifecycle writes one.
pub(crate) fn span_text(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// An instant in the project's time zone, to the second.
pub(crate) fn time_text(ms: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// The texts of timer `t` of order `o`, whose state reads `label` to people.
pub(crate) fn alert_text(o: &Workorder, t: &Timer, label: &str, tz: chrono_tz::Tz) -> AlertText {
    let (what, what_zh) = if t.action == "remind" {
        ("reminder", "催办")
    } else {
        ("escalation", "督办")
    };
    let state = if label.is_empty() || label == o.state {
        o.state.clone()
    } else {
        format!("{label} ({})", o.state)
    };
    let since = time_text(o.state_entered_ms, tz);
    let hours = |business: bool| if business { " business hours" } else { "" };
    let limit = match &t.limit {
        Some(l) => match &l.from {
            Some(from) => format!(
                "limit: {} within {}{} from {from}, due {}",
                l.target,
                span_text(l.limit_ms),
                hours(l.business),
                time_text(l.deadline_ms, tz)
            ),
            None => format!(
                "limit: {}{} in {}, due {}",
                span_text(l.limit_ms),
                hours(l.business),
                l.target,
                time_text(l.deadline_ms, tz)
            ),
        },
        None => match o.deadline_ms {
            Some(d) => format!("limit: due {}", time_text(d, tz)),
            None => "limit: -".to_string(),
        },
    };
    let message = format!(
        "{what_zh} {what}: workorder {} ({}) is in {state} since {since}; {limit}",
        o.number, o.kind
    );
    let subject = format!(
        "{what_zh} {what}: workorder {} ({}) in {state}",
        o.number, o.kind
    );
    let mut body = format!(
        "{what_zh} {what}\n\nworkorder: {}\nkind: {}\nstate: {state}, since {since}\n{limit}\n",
        o.number, o.kind
    );
    if let Some(d) = &o.department {
        body.push_str(&format!("department: {d}\n"));
    }
    if let Some(h) = &o.handler {
        body.push_str(&format!("handler: {h}\n"));
    }
    let sms = format!("{what_zh}：工单{}（{}）{state}，{limit}", o.number, o.kind);
    AlertText {
        message,
        subject,
        body,
        sms,
    }
}

/// What the order's history says of each delivery: `email to wang (outbox
/// 12)`, or why someone could not be reached.
pub(crate) fn delivery_lines(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter_map(|d| match (&d.outbox, &d.problem, &d.channel) {
            (Some(id), _, Some(ch)) => Some(format!("{ch} to {} (outbox {id})", d.user)),
            (_, Some(problem), _) => Some(problem.clone()),
            _ => None,
        })
        .collect()
}

/// A history line followed by what was said of the deliveries, if anything:
/// `assigned to li; email to li (outbox 12)`.
pub(crate) fn with_deliveries(mut line: String, said: &[String]) -> String {
    if !said.is_empty() {
        line.push_str("; ");
        line.push_str(&said.join("; "));
    }
    line
}

impl Engine {
    /// Stages an e-mail and an SMS with `text` for every person behind
    /// `recipient` (a role, department, user or `handler`) not in `told`
    /// yet, and returns who was reached through which outbox entry and who
    /// could not be (no address, nobody behind the name).
    pub(super) fn stage_messages(
        &mut self,
        recipient: &str,
        o: &Workorder,
        text: &AlertText,
        now: i64,
        batch: &mut Batch,
        told: &mut BTreeSet<String>,
    ) -> Result<Vec<Delivery>, WoError> {
        let reached = self.people.reach(recipient, o);
        let mut deliveries: Vec<Delivery> = reached
            .problems
            .into_iter()
            .map(|problem| Delivery {
                user: recipient.to_string(),
                channel: None,
                outbox: None,
                problem: Some(problem),
            })
            .collect();
        for p in reached.people {
            if !told.insert(p.name.clone()) {
                continue;
            }
            let channels = [
                (NotifyChannel::Email, p.email.as_deref(), "e-mail address"),
                (NotifyChannel::Sms, p.phone.as_deref(), "phone"),
            ];
            for (channel, address, missing) in channels {
                let name = notify::channel_name(channel).to_string();
                match address {
                    Some(to) => {
                        let email = channel == NotifyChannel::Email;
                        let id = notify::stage(
                            &*self.store,
                            batch,
                            &NewEntry {
                                contact: 0,
                                channel,
                                to,
                                subject: email.then_some(text.subject.as_str()),
                                body: if email { &text.body } else { &text.sms },
                                queued_ms: now,
                                workorder: Some(&o.number),
                                attachments: &[],
                            },
                        )?;
                        deliveries.push(Delivery {
                            user: p.name.clone(),
                            channel: Some(name),
                            outbox: Some(id),
                            problem: None,
                        });
                    }
                    // A phone is a second way; its absence is told only
                    // when there is no e-mail address either.
                    None if channel == NotifyChannel::Email || p.email.is_none() => {
                        deliveries.push(Delivery {
                            user: p.name.clone(),
                            channel: Some(name),
                            outbox: None,
                            problem: Some(format!("no {missing} for user {}", p.name)),
                        });
                    }
                    None => {}
                }
            }
        }
        Ok(deliveries)
    }

    /// Stages the notices and the messages of timer `t` of order `o` in
    /// `batch`; returns what the order's history says of them.
    pub(super) fn stage_alert(
        &mut self,
        o: &Workorder,
        t: &Timer,
        text: &AlertText,
        now: i64,
        batch: &mut Batch,
    ) -> Result<String, WoError> {
        // The rows: each name the lifecycle gives (`handler`: the order's
        // department, or `handler`, and its handler), with the people reached
        // through it.
        let mut rows: Vec<(String, Vec<Delivery>)> = Vec::new();
        let mut told: BTreeSet<String> = BTreeSet::new();
        for r in &t.to {
            let deliveries = self.stage_messages(r, o, text, now, batch, &mut told)?;
            if r == "handler" {
                rows.push((
                    o.department.clone().unwrap_or_else(|| "handler".into()),
                    deliveries,
                ));
                if let Some(h) = &o.handler {
                    rows.push((h.clone(), Vec::new()));
                }
            } else {
                rows.push((r.clone(), deliveries));
            }
        }
        let mut merged: Vec<(String, Vec<Delivery>)> = Vec::new();
        for (to, deliveries) in rows {
            match merged.iter_mut().find(|(m, _)| *m == to) {
                Some((_, d)) => d.extend(deliveries),
                None => merged.push((to, deliveries)),
            }
        }
        let mut said: Vec<String> = Vec::new();
        for (to, deliveries) in &merged {
            let id = self.store.next_id("notification")?;
            self.stage_notification(
                batch,
                &Notification {
                    id,
                    at_ms: now,
                    to: to.clone(),
                    action: t.action.clone(),
                    number: o.number.clone(),
                    kind: o.kind.clone(),
                    state: o.state.clone(),
                    department: o.department.clone(),
                    handler: o.handler.clone(),
                    due_ms: t.due_ms,
                    deadline_ms: t.limit.as_ref().map(|l| l.deadline_ms).or(o.deadline_ms),
                    message: text.message.clone(),
                    deliveries: deliveries.clone(),
                },
            );
            said.extend(delivery_lines(deliveries));
        }
        let names: Vec<&str> = merged.iter().map(|(to, _)| to.as_str()).collect();
        Ok(with_deliveries(
            format!("{} -> {}", t.action, names.join(", ")),
            &said,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workorder::model::TimerLimit;

    fn order() -> Workorder {
        serde_json::from_value(serde_json::json!({
            "number": "2026120700001", "kind": "fault_repair", "state": "repairing",
            "fields": {}, "department": "network_ops", "handler": "li", "created_by": "ivr",
            "created_ms": 0, "updated_ms": 0, "state_entered_ms": 1_796_601_600_000i64,
            "deadline_ms": 1_796_616_000_000i64, "version": 1,
        }))
        .expect("an order")
    }

    #[test]
    fn spans_read_as_the_lifecycle_writes_them() {
        assert_eq!(span_text(24 * 3_600_000), "24h");
        assert_eq!(span_text(5_400_000), "1h30m");
        assert_eq!(span_text(45_000), "45s");
        assert_eq!(span_text(0), "0ms");
    }

    #[test]
    fn a_limit_spanning_states_says_so() {
        let o = order();
        let t = Timer {
            due_ms: 1_796_688_000_000,
            action: "escalate".into(),
            to: vec!["dispatcher".into()],
            fired: true,
            limit: Some(TimerLimit {
                target: "repaired".into(),
                from: Some("dispatched".into()),
                limit_ms: 24 * 3_600_000,
                business: false,
                deadline_ms: 1_796_688_000_000,
            }),
        };
        let text = alert_text(&o, &t, "处理中", chrono_tz::Asia::Shanghai);
        assert_eq!(
            text.subject,
            "督办 escalation: workorder 2026120700001 (fault_repair) in 处理中 (repairing)"
        );
        assert!(
            text.body.contains(
                "limit: repaired within 24h from dispatched, due 2026-12-08 08:00:00 CST"
            ),
            "{}",
            text.body
        );
        assert!(
            text.body
                .contains("state: 处理中 (repairing), since 2026-12-07 08:00:00 CST"),
            "{}",
            text.body
        );
        assert!(text.body.contains("handler: li"), "{}", text.body);
        assert!(
            text.sms.starts_with("督办：工单2026120700001"),
            "{}",
            text.sms
        );
        assert!(
            text.message
                .contains("limit: repaired within 24h from dispatched")
        );
    }

    #[test]
    fn a_states_own_limit_and_a_reminder() {
        let o = order();
        let t = Timer {
            due_ms: 1_796_612_400_000,
            action: "remind".into(),
            to: vec!["handler".into()],
            fired: true,
            limit: Some(TimerLimit {
                target: "repairing".into(),
                from: None,
                limit_ms: 4 * 3_600_000,
                business: true,
                deadline_ms: 1_796_616_000_000,
            }),
        };
        let text = alert_text(&o, &t, "repairing", chrono_tz::UTC);
        assert_eq!(
            text.subject,
            "催办 reminder: workorder 2026120700001 (fault_repair) in repairing"
        );
        assert!(
            text.body
                .contains("limit: 4h business hours in repairing, due 2026-12-07 04:00:00 UTC"),
            "{}",
            text.body
        );
    }
}
