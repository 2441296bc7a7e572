//! What an order entering a state sets off: the lifecycle's `on enter`
//! triggers (an SMS or e-mail through the outbox, a role's people told by
//! e-mail, SMS and notice that the order is theirs, a call to the customer through an IVR campaign) and the
//! campaigns whose targets are orders entering that state (`list from
//! workorders KIND in state S`).
//!
//! Their work is staged in the SAME batch as the step that entered the state:
//! an outbox entry, a notification, a campaign target. The step and its
//! triggers are therefore stored together or not at all, so a crash can
//! neither lose a trigger nor run it twice; the outbox worker and the dialer
//! pick the work up from the store.

use dialect_compiler::Program;
use dialect_compiler::ir::{TriggerActionIr, WorkorderIr};
use dialect_compiler::value::Value;
use dialect_dialer::target::{Attempts, Target, TargetState};
use dialect_lang::types::Type;

use super::Engine;
use crate::store::Batch;
use crate::workorder::WoError;
use crate::workorder::model::*;

/// Fills `{field}` holes of a trigger's message from the order (`{order}` is
/// its number); `{{` and `}}` stand for braces.
pub(crate) fn render(template: &str, o: &Workorder) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('{')
            && let Some(end) = tail.find('}')
        {
            out.push_str(&field_text(o, &tail[1..end]));
            rest = &tail[end + 1..];
            continue;
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// A field as text (`order` is the order's number, `state` its state).
fn field_text(o: &Workorder, name: &str) -> String {
    match name {
        dialect_lang::check::orders::ORDER_NUMBER_FIELD | "number" => o.number.clone(),
        "state" => o.state.clone(),
        _ => match o.fields.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        },
    }
}

/// A field as the typed value a flow or a campaign target holds.
pub(crate) fn field_value(o: &Workorder, name: &str, ty: Type) -> Value {
    let text = || Value::Text(field_text(o, name));
    match (name, o.fields.get(name), ty) {
        (dialect_lang::check::orders::ORDER_NUMBER_FIELD | "number" | "state", _, _) => text(),
        (_, Some(serde_json::Value::Number(n)), Type::Number) => {
            Value::Number(n.as_f64().unwrap_or(0.0))
        }
        (_, Some(serde_json::Value::Bool(b)), Type::Bool) => Value::Bool(*b),
        (_, Some(serde_json::Value::String(s)), Type::Date) => {
            match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => Value::Date(d),
                Err(_) => text(),
            }
        }
        (_, Some(serde_json::Value::String(s)), Type::DateTime) => {
            match dialect_lang::literal::parse_datetime(s) {
                Some(d) => Value::DateTime(d),
                None => text(),
            }
        }
        (_, None, Type::Number) => Value::Number(0.0),
        (_, None, Type::Bool) => Value::Bool(false),
        _ => text(),
    }
}

/// The order's number, state, department, handler and fields, typed by the
/// lifecycle: what `lookup workorder` gives a flow.
pub(crate) fn order_record(ir: &WorkorderIr, o: &Workorder) -> Vec<(String, Value)> {
    let mut out = vec![
        ("number".to_string(), Value::Text(o.number.clone())),
        ("state".to_string(), Value::Text(o.state.clone())),
        (
            "department".to_string(),
            Value::Text(o.department.clone().unwrap_or_default()),
        ),
        (
            "handler".to_string(),
            Value::Text(o.handler.clone().unwrap_or_default()),
        ),
    ];
    for f in &ir.fields {
        if !["number", "state", "department", "handler"].contains(&f.name.as_str()) {
            out.push((f.name.clone(), field_value(o, &f.name, f.ty)));
        }
    }
    out
}

impl Engine {
    /// Stages the work of `o` entering its current state (index `state`) into
    /// `batch`; returns one line per piece of work, for the order's history.
    pub(super) fn stage_entry(
        &mut self,
        program: &Program,
        ir: &WorkorderIr,
        o: &Workorder,
        state: u32,
        now: i64,
        batch: &mut Batch,
    ) -> Result<Vec<String>, WoError> {
        let mut done = Vec::new();
        let mut campaigns: Vec<String> = Vec::new();
        for t in ir.triggers.iter().filter(|t| t.state == state) {
            match &t.action {
                TriggerActionIr::Notify {
                    channel,
                    to_field,
                    subject,
                    body,
                } => {
                    let to = field_text(o, to_field);
                    if to.trim().is_empty() {
                        done.push(format!("no {to_field} to notify"));
                        continue;
                    }
                    let subject = subject.as_ref().map(|s| render(s, o));
                    let body = render(body, o);
                    crate::notify::stage(
                        &*self.store,
                        batch,
                        &crate::notify::NewEntry {
                            contact: o.contact_id.unwrap_or(0),
                            channel: *channel,
                            to: &to,
                            subject: subject.as_deref(),
                            body: &body,
                            queued_ms: now,
                            workorder: Some(&o.number),
                            attachments: &[],
                        },
                    )?;
                    let ch = crate::notify::channel_name(*channel);
                    done.push(format!("notify {ch} to {to}"));
                }
                TriggerActionIr::Assign(role) => {
                    let by = format!("on enter {}", o.state);
                    done.push(self.stage_assigned(o, role, &by, "", now, batch)?);
                }
                TriggerActionIr::Call { campaign, .. } => {
                    if !campaigns.contains(campaign) {
                        campaigns.push(campaign.clone());
                    }
                }
            }
        }
        // Campaigns that draw orders entering this state.
        for c in &program.ir().campaigns {
            if let Some(src) = &c.orders
                && src.kind == o.kind
                && src.state.as_deref() == Some(o.state.as_str())
                && !campaigns.contains(&c.name)
            {
                campaigns.push(c.name.clone());
            }
        }
        for name in campaigns {
            match self.stage_target(program, &name, o, now, batch)? {
                Some(id) => done.push(format!("call through campaign {name} (target {id})")),
                None => done.push(format!("no phone to call through campaign {name}")),
            }
        }
        Ok(done)
    }

    /// Makes the order a pending target of campaign `name` (its number's
    /// target again, with fresh attempts, when the number already is one).
    fn stage_target(
        &mut self,
        program: &Program,
        name: &str,
        o: &Workorder,
        now: i64,
        batch: &mut Batch,
    ) -> Result<Option<u64>, WoError> {
        let Some(c) = program.ir().campaigns.iter().find(|c| c.name == name) else {
            return Ok(None);
        };
        let raw = field_text(o, "phone");
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let phone = dialect_numbers::canonical(&raw, &dialect_numbers::NumberRules::default())
            .unwrap_or_else(|_| raw.trim().to_string());
        let fields: Vec<Value> = c
            .fields
            .iter()
            .map(|(n, ty, _)| field_value(o, n, *ty))
            .collect();
        // The dialer's store is read: the group so far must be in it.
        self.write_pending()?;
        let before = crate::dialer::store::target_by_phone(&*self.store, name, &phone)?;
        let t = match &before {
            Some(b) => {
                let mut t = b.clone();
                t.fields = fields;
                t.state = TargetState::Pending;
                t.attempts = Attempts::default();
                t.next_attempt_ms = None;
                t.last_outcome = None;
                t.imported_ms = Some(now);
                t
            }
            None => {
                let id = self.store.next_id(crate::dialer::store::TARGET_COUNTER)?;
                let mut t = Target::new(id, phone, fields);
                t.imported_ms = Some(now);
                t
            }
        };
        crate::dialer::store::put_target(batch, name, before.as_ref(), &t);
        Ok(Some(t.id))
    }

    /// A notification and its recipient index entry.
    pub(super) fn stage_notification(&self, batch: &mut Batch, n: &Notification) {
        batch.put_json(NOTIFICATIONS, id_key(n.id).to_vec(), n);
        let mut k = n.to.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&time_key(n.at_ms));
        k.extend_from_slice(&id_key(n.id));
        batch.put(NOTIFY_TO, k, Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Workorder {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("phone".to_string(), serde_json::json!("13800000001"));
        fields.insert("cause".to_string(), serde_json::json!("cable cut"));
        fields.insert("count".to_string(), serde_json::json!(3));
        Workorder {
            number: "2026120700001".into(),
            kind: "fault_repair".into(),
            state: "repaired".into(),
            fields,
            customer_id: String::new(),
            event_id: None,
            contact_id: None,
            department: None,
            handler: None,
            dispatcher: None,
            created_by: "ivr".into(),
            created_ms: 0,
            updated_ms: 0,
            state_entered_ms: 0,
            dispatched_ms: None,
            closed_ms: None,
            deadline_ms: None,
            timers: Vec::new(),
            feedback: None,
            links: Vec::new(),
            assignments: Vec::new(),
            entered_ms: Default::default(),
            version: 1,
        }
    }

    #[test]
    fn messages_fill_in_the_fields_and_keep_doubled_braces() {
        let o = order();
        assert_eq!(
            render("工单{order}已修复：{cause}，共{count}次 {{ok}}", &o),
            "工单2026120700001已修复：cable cut，共3次 {ok}"
        );
        assert_eq!(render("{missing}!", &o), "!");
        assert_eq!(render("open { brace", &o), "open { brace");
    }

    #[test]
    fn values_take_the_declared_type() {
        let o = order();
        assert_eq!(field_value(&o, "count", Type::Number), Value::Number(3.0));
        assert_eq!(
            field_value(&o, "order", Type::Text),
            Value::Text("2026120700001".into())
        );
        assert_eq!(field_value(&o, "absent", Type::Bool), Value::Bool(false));
    }
}
