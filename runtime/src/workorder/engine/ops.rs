//! The engine's changes: create and import orders, transitions, comments,
//! links, timers that fire, and outbound tasks. Each stages one batch in the
//! open group (see the parent module).

use std::collections::BTreeMap;

use dialect_compiler::Program;
use dialect_compiler::ir::TransitionKind;

use super::query::load_order;
use super::{Engine, Group, system_user};
use crate::auth::{AuditEntry, User, audit_into};
use crate::config::Role;
use crate::store::{Batch, get_json};
use crate::workorder::WoError;
use crate::workorder::lifecycle::{self, TransitionCheck};
use crate::workorder::model::*;
use crate::workorder::requests::{
    CreateRequest, ImportOrder, TaskRequest, TaskUpdate, TransitionRequest,
};

impl Engine {
    /// The next order number for `now` (a local date of the project's time zone).
    pub(super) fn next_number(
        &mut self,
        program: &Program,
        at_ms: i64,
        batch: &mut Batch,
    ) -> Result<String, WoError> {
        let tz = program.shared().tz;
        let date = chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive();
        let key = format!("day:{}", date.format("%Y%m%d"));
        let seq = match self.seqs.get(&date) {
            Some(s) => *s,
            None => self
                .store
                .get(META, key.as_bytes())?
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
        } + 1;
        // Trimmed between groups only: while a group is open, its day counters
        // are known here and not yet in the store.
        self.seqs.insert(date, seq);
        batch.put(META, key.into_bytes(), seq.to_be_bytes().to_vec());
        Ok(lifecycle::order_number(date, seq))
    }

    pub(super) fn check_department(program: &Program, d: &str) -> Result<(), WoError> {
        if program.ir().departments.iter().any(|(n, _)| n == d) {
            Ok(())
        } else {
            let known: Vec<&str> = program
                .ir()
                .departments
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            Err(WoError::invalid(
                "department",
                format!(
                    "there is no department `{d}`; the departments are: {}",
                    known.join(", ")
                ),
            ))
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn build_new(
        &mut self,
        program: &Program,
        kind: &str,
        state: Option<&str>,
        fields: &serde_json::Map<String, serde_json::Value>,
        department: Option<String>,
        handler: Option<String>,
        at_ms: i64,
        user: &User,
        batch: &mut Batch,
    ) -> Result<(Workorder, HistoryEntry, bool), WoError> {
        let ir = lifecycle::lifecycle(program, kind)?;
        let fields = lifecycle::validate_new(ir, fields)?;
        if let Some(d) = &department {
            Self::check_department(program, d)?;
        }
        let st = match state {
            Some(s) => lifecycle::state(ir, s).ok_or_else(|| {
                WoError::invalid("state", format!("a `{kind}` workorder has no state `{s}`"))
            })?,
            None => ir.states.iter().find(|s| s.initial).ok_or_else(|| {
                WoError::invalid("kind", format!("`{kind}` has no initial state"))
            })?,
        };
        let number = self.next_number(program, at_ms, batch)?;
        let customer_id = ir
            .fields
            .iter()
            .find(|f| f.kind == "customer")
            .and_then(|f| fields.get(&f.name))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let cal = ir
            .calendar
            .and_then(|c| program.shared().calendars.get(c as usize));
        let (deadline_ms, mut timers) = lifecycle::state_timers(st, at_ms, cal);
        let entered_ms: BTreeMap<String, i64> = [(st.name.clone(), at_ms)].into_iter().collect();
        timers.extend(lifecycle::span_timers(ir, &st.name, &entered_ms, &[], cal));
        let o = Workorder {
            number,
            kind: kind.to_string(),
            state: st.name.clone(),
            fields: fields.clone(),
            customer_id,
            event_id: None,
            contact_id: None,
            department: department.clone(),
            handler: handler.clone(),
            dispatcher: department.as_ref().map(|_| user.name.clone()),
            created_by: user.name.clone(),
            created_ms: at_ms,
            updated_ms: at_ms,
            state_entered_ms: at_ms,
            dispatched_ms: department.as_ref().map(|_| at_ms),
            closed_ms: st.is_final.then_some(at_ms),
            deadline_ms,
            timers,
            feedback: None,
            links: Vec::new(),
            assignments: vec![Assignment {
                state: st.name.clone(),
                department,
                handler,
            }],
            entered_ms,
            version: 1,
        };
        let entry = HistoryEntry {
            version: 1,
            at_ms,
            user: user.name.clone(),
            role: user.role.to_string(),
            action: "create".into(),
            transition: None,
            from: None,
            to: Some(o.state.clone()),
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields,
            comment: None,
        };
        Ok((o, entry, st.is_final))
    }

    pub(super) fn create(&mut self, req: CreateRequest, user: &User) -> Result<Workorder, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let now = self.clock.now_ms();
        let mut event = None;
        if let Some(id) = req.event_id {
            self.write_pending()?;
            event = Some(
                crate::interactions::get_event(&*self.store, id)?.ok_or_else(|| {
                    WoError::invalid("event_id", format!("there is no interaction event {id}"))
                })?,
            );
        }
        let mut batch = Batch::new();
        let (mut o, mut entry, fin) = self.build_new(
            program,
            &req.kind,
            None,
            &req.fields,
            req.department,
            None,
            now,
            user,
            &mut batch,
        )?;
        o.event_id = req.event_id;
        o.contact_id = req.contact_id;
        if o.customer_id.is_empty()
            && let Some(e) = &event
        {
            o.customer_id = e.customer_id.clone();
        }
        entry.comment = req.comment;
        if let Ok(ir) = lifecycle::lifecycle(program, &o.kind)
            && let Some(si) = ir.states.iter().position(|s| s.name == o.state)
        {
            let mut set_off = self.stage_entry(program, ir, &o, si as u32, now, &mut batch)?;
            if super::assigned::newly_assigned(None, &o, &user.name) {
                set_off.push(
                    self.stage_assigned(&o, "handler", &user.name, &user.name, now, &mut batch)?,
                );
            }
            if !set_off.is_empty() {
                let line = set_off.join("; ");
                entry.comment = Some(match entry.comment.take() {
                    Some(c) => format!("{c}\n{line}"),
                    None => line,
                });
            }
        }
        let mut updates = Vec::new();
        self.stage(
            &mut batch,
            &mut updates,
            None,
            &o,
            &[entry],
            fin,
            user,
            "workorder.create",
        )?;
        self.apply(batch, updates)?;
        Ok(o)
    }

    pub(super) fn import(
        &mut self,
        orders: Vec<ImportOrder>,
        user: &User,
    ) -> Result<Vec<String>, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let now = self.clock.now_ms();
        let mut batch = Batch::new();
        let mut updates = Vec::new();
        let mut numbers = Vec::with_capacity(orders.len());
        let saved = self.seqs.clone();
        for (i, io) in orders.into_iter().enumerate() {
            let at = io.created_ms.unwrap_or(now);
            let r = self.build_new(
                program,
                &io.kind,
                io.state.as_deref(),
                &io.fields,
                io.department,
                io.handler,
                at,
                user,
                &mut batch,
            );
            let (o, entry, fin) = match r {
                Ok(x) => x,
                Err(e) => {
                    self.seqs = saved;
                    return Err(e.within(&format!("orders[{i}]")));
                }
            };
            self.stage(
                &mut batch,
                &mut updates,
                None,
                &o,
                &[entry],
                fin,
                user,
                "workorder.import",
            )?;
            numbers.push(o.number);
        }
        if let Err(e) = self.apply(batch, updates) {
            self.seqs = saved;
            return Err(e);
        }
        Ok(numbers)
    }

    pub(super) fn load(&self, number: &str) -> Result<Workorder, WoError> {
        match self.cache.get(number) {
            Some(o) => Ok(o.clone()),
            None => load_order(&*self.store, number),
        }
    }

    pub(super) fn transition(
        &mut self,
        number: &str,
        req: TransitionRequest,
        user: &User,
    ) -> Result<Workorder, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let old = self.load(number)?;
        // Before anything that tells about the order (its state in a 409).
        Self::may_touch(user, &old)?;
        let ir = lifecycle::lifecycle(program, &old.kind)?;
        if let Some(from) = &req.from
            && *from != old.state
        {
            return Err(WoError::Conflict {
                state: old.state.clone(),
                message: format!("workorder {number} is in `{}` now, not `{from}`", old.state),
            });
        }
        let t = match lifecycle::find_transition(ir, &req.transition, &old.state) {
            TransitionCheck::Ok(t) => t,
            TransitionCheck::Unknown => {
                let names: Vec<&str> = ir.transitions.iter().map(|t| t.name.as_str()).collect();
                return Err(WoError::invalid(
                    "transition",
                    format!(
                        "a `{}` workorder has no transition `{}`; its transitions are: {}",
                        ir.name,
                        req.transition,
                        names.join(", ")
                    ),
                ));
            }
            TransitionCheck::NotFromHere => {
                return Err(WoError::Conflict {
                    state: old.state.clone(),
                    message: format!(
                        "`{}` cannot be taken from `{}`, the state workorder {number} is in; from here: {}",
                        req.transition,
                        old.state,
                        lifecycle::transitions_from(ir, &old.state).join(", ")
                    ),
                });
            }
        };
        let acting = self.acting_roles(user);
        if !(user.role == Role::Admin || t.roles.iter().any(|r| acting.contains(r))) {
            return Err(WoError::Forbidden(format!(
                "the role `{}` may not take `{}`; it is for: {}",
                acting.join("`, `"),
                t.name,
                t.roles.join(", ")
            )));
        }
        if t.reason_required && req.comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(WoError::invalid(
                "comment",
                format!("`{}` needs a reason: give it as the `comment`", t.name),
            ));
        }
        let updates = lifecycle::validate_update(ir, &req.fields)?;
        let now = self.clock.now_ms();
        let mut o = old.clone();
        for (k, v) in &updates {
            if v.is_null() {
                o.fields.remove(k);
            } else {
                o.fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(g) = t.guard {
            let version = deployed.info.version;
            let age = now - o.created_ms;
            let fields = o.fields.clone();
            let ev = self.evaluator(version, program);
            let ok = lifecycle::guard_holds(program, ev, ir, g, &fields, age, now)
                .map_err(|e| WoError::Rule(format!("the condition of `{}` failed: {e}", t.name)))?;
            if !ok {
                return Err(WoError::Rule(format!(
                    "the condition of `{}` does not hold for workorder {number}; set the fields it needs",
                    t.name
                )));
            }
        }
        let to = ir
            .states
            .get(t.to as usize)
            .ok_or_else(|| WoError::Rule(format!("`{}` leads to an unknown state", t.name)))?;
        if let Some(d) = &req.department {
            Self::check_department(program, d)?;
        }
        match t.kind {
            Some(TransitionKind::Forward) => {
                let d = req.department.clone().ok_or_else(|| {
                    WoError::invalid(
                        "department",
                        format!(
                            "`{}` forwards the order: give the `department` to send it to",
                            t.name
                        ),
                    )
                })?;
                if o.department.as_deref() == Some(d.as_str()) {
                    return Err(WoError::invalid(
                        "department",
                        format!("workorder {number} is already with `{d}`"),
                    ));
                }
                o.department = Some(d);
                o.handler = req.handler.clone();
                o.dispatcher = Some(user.name.clone());
                o.dispatched_ms = Some(now);
            }
            Some(TransitionKind::Return) => {
                let back = o.assignments.iter().find(|a| a.state == to.name).cloned();
                match back {
                    Some(a) => {
                        o.department = a.department;
                        o.handler = a.handler;
                    }
                    None => o.handler = None,
                }
            }
            _ => {
                if let Some(d) = &req.department
                    && o.department.as_ref() != Some(d)
                {
                    o.department = Some(d.clone());
                    o.dispatcher = Some(user.name.clone());
                    o.dispatched_ms = Some(now);
                    o.handler = None;
                }
                if let Some(h) = &req.handler {
                    o.handler = Some(h.clone());
                } else if user.role == Role::Handler {
                    o.handler = Some(user.name.clone());
                }
            }
        }
        let to_index = t.to;
        let handlers_act_next = ir
            .transitions
            .iter()
            .any(|x| x.from == to_index && x.roles.iter().any(|r| r == "handler"));
        if handlers_act_next && o.department.is_none() && !to.is_final {
            return Err(WoError::invalid(
                "department",
                format!(
                    "in `{}` the order is with a department's handlers: give the `department`",
                    to.name
                ),
            ));
        }
        if t.kind == Some(TransitionKind::Reply)
            && let Some(c) = &req.comment
        {
            o.feedback = Some(c.clone());
        }
        o.closed_ms = if to.is_final { Some(now) } else { None };
        o.state = to.name.clone();
        o.state_entered_ms = now;
        let cal = ir
            .calendar
            .and_then(|c| program.shared().calendars.get(c as usize));
        let (deadline, mut timers) = lifecycle::state_timers(to, now, cal);
        o.entered_ms.insert(to.name.clone(), now);
        timers.extend(lifecycle::span_timers(
            ir,
            &to.name,
            &o.entered_ms,
            &old.timers,
            cal,
        ));
        o.deadline_ms = deadline;
        o.timers = timers;
        o.assignments.retain(|a| a.state != to.name);
        o.assignments.push(Assignment {
            state: to.name.clone(),
            department: o.department.clone(),
            handler: o.handler.clone(),
        });
        o.updated_ms = now;
        o.version += 1;
        let mut batch = Batch::new();
        let mut set_off = self.stage_entry(program, ir, &o, to_index, now, &mut batch)?;
        if !to.is_final && super::assigned::newly_assigned(Some(&old), &o, &user.name) {
            set_off
                .push(self.stage_assigned(&o, "handler", &user.name, &user.name, now, &mut batch)?);
        }
        let comment = match (req.comment, set_off.is_empty()) {
            (c, true) => c,
            (Some(c), false) => Some(format!("{c}\n{}", set_off.join("; "))),
            (None, false) => Some(set_off.join("; ")),
        };
        let entry = HistoryEntry {
            version: o.version,
            at_ms: now,
            user: user.name.clone(),
            role: user.role.to_string(),
            action: "transition".into(),
            transition: Some(t.name.clone()),
            from: Some(old.state.clone()),
            to: Some(o.state.clone()),
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields: updates,
            comment,
        };
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &[entry],
            to.is_final,
            user,
            "workorder.transition",
        )?;
        self.apply(batch, ups)?;
        Ok(o)
    }

    /// Handlers see only their department's orders; any other order is, to
    /// them, one that does not exist (the same error, word for word), so that
    /// they learn nothing of other departments' orders, not even their numbers.
    pub(super) fn may_touch(user: &User, o: &Workorder) -> Result<(), WoError> {
        if !crate::workorder::visible_to(user, o) {
            return Err(WoError::NotFound(crate::workorder::no_such_order(
                &o.number,
            )));
        }
        Ok(())
    }

    pub(super) fn is_final_now(&self, o: &Workorder) -> bool {
        let deployed = self.program.current();
        match lifecycle::lifecycle(&deployed.program, &o.kind) {
            Ok(ir) => lifecycle::is_final(ir, &o.state),
            Err(_) => o.closed_ms.is_some(),
        }
    }

    pub(super) fn comment(
        &mut self,
        number: &str,
        text: &str,
        user: &User,
    ) -> Result<Workorder, WoError> {
        if text.trim().is_empty() {
            return Err(WoError::invalid("text", "the comment is empty"));
        }
        let old = self.load(number)?;
        Self::may_touch(user, &old)?;
        let now = self.clock.now_ms();
        let mut o = old.clone();
        o.version += 1;
        o.updated_ms = now;
        let entry = self.plain_entry(&o, user, "comment", Some(text.to_string()));
        let fin = self.is_final_now(&o);
        let mut batch = Batch::new();
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &[entry],
            fin,
            user,
            "workorder.comment",
        )?;
        self.apply(batch, ups)?;
        Ok(o)
    }

    pub(super) fn plain_entry(
        &self,
        o: &Workorder,
        user: &User,
        action: &str,
        comment: Option<String>,
    ) -> HistoryEntry {
        HistoryEntry {
            version: o.version,
            at_ms: o.updated_ms,
            user: user.name.clone(),
            role: user.role.to_string(),
            action: action.into(),
            transition: None,
            from: None,
            to: None,
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields: BTreeMap::new(),
            comment,
        }
    }

    pub(super) fn link(
        &mut self,
        number: &str,
        kind: &str,
        to: &str,
        user: &User,
    ) -> Result<(Workorder, Workorder), WoError> {
        if number == to {
            return Err(WoError::invalid(
                "to",
                "an order cannot be linked to itself",
            ));
        }
        let a_old = self.load(number)?;
        Self::may_touch(user, &a_old)?;
        // The other end too: an order the user may not see is one that does not exist.
        let b_old = match self
            .load(to)
            .and_then(|b| Self::may_touch(user, &b).map(|()| b))
        {
            Ok(b) => b,
            Err(WoError::NotFound(m)) => return Err(WoError::invalid("to", m)),
            Err(e) => return Err(e),
        };
        let deployed = self.program.current();
        let ir = lifecycle::lifecycle(&deployed.program, &a_old.kind)?;
        if !ir.links.iter().any(|l| l == kind) {
            return Err(WoError::invalid(
                "kind",
                format!(
                    "a `{}` workorder has no link kind `{kind}`; its kinds are: {}",
                    ir.name,
                    ir.links.join(", ")
                ),
            ));
        }
        if a_old.links.iter().any(|l| l.kind == kind && l.number == to) {
            return Err(WoError::Conflict {
                state: a_old.state.clone(),
                message: format!("{number} is already linked to {to} as `{kind}`"),
            });
        }
        let now = self.clock.now_ms();
        let mut a = a_old.clone();
        let mut b = b_old.clone();
        a.links.push(Link {
            kind: kind.into(),
            number: to.into(),
            direction: "to".into(),
        });
        b.links.push(Link {
            kind: kind.into(),
            number: number.into(),
            direction: "from".into(),
        });
        for o in [&mut a, &mut b] {
            o.version += 1;
            o.updated_ms = now;
        }
        let ea = self.plain_entry(&a, user, "link", Some(format!("{kind} -> {to}")));
        let eb = self.plain_entry(&b, user, "link", Some(format!("{kind} <- {number}")));
        let (fa, fb) = (self.is_final_now(&a), self.is_final_now(&b));
        let mut batch = Batch::new();
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&a_old),
            &a,
            &[ea],
            fa,
            user,
            "workorder.link",
        )?;
        self.stage(
            &mut batch,
            &mut ups,
            Some(&b_old),
            &b,
            &[eb],
            fb,
            user,
            "workorder.link",
        )?;
        self.apply(batch, ups)?;
        Ok((a, b))
    }

    /// Fires the timers that are due (at most `max` orders per round).
    pub(super) fn fire_due(&mut self, g: &mut Group, max: usize) {
        let now = self.clock.now_ms();
        for _ in 0..max {
            let Some(&(due, num)) = self.mem.timers.first() else {
                break;
            };
            if due > now {
                break;
            }
            match self.fire(num, now) {
                Ok(()) => g.dirty = true,
                Err(e) => {
                    tracing::error!("timer of workorder {num} could not fire: {e}");
                    self.mem.postpone(num, now + 60_000);
                }
            }
        }
    }

    pub(super) fn fire(&mut self, num: u64, now: i64) -> Result<(), WoError> {
        let number = num.to_string();
        let old = match self.load(&number) {
            Ok(o) => o,
            Err(WoError::NotFound(_)) => {
                self.mem.remove(num);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut o = old.clone();
        let user = system_user();
        let mut batch = Batch::new();
        let mut entries = Vec::new();
        let deployed = self.program.current();
        let tz = deployed.program.shared().tz;
        let label = lifecycle::lifecycle(&deployed.program, &o.kind)
            .ok()
            .and_then(|ir| lifecycle::state(ir, &o.state))
            .map(|s| s.label.clone())
            .unwrap_or_default();
        for i in 0..o.timers.len() {
            if o.timers[i].fired || o.timers[i].due_ms > now {
                continue;
            }
            o.timers[i].fired = true;
            let t = o.timers[i].clone();
            let text = super::alerts::alert_text(&o, &t, &label, tz);
            let line = self.stage_alert(&o, &t, &text, now, &mut batch)?;
            o.version += 1;
            o.updated_ms = now;
            entries.push(self.plain_entry(&o, &user, &t.action, Some(line)));
        }
        if entries.is_empty() {
            // Memory was ahead of the order (already fired): re-arm from the order.
            self.mem.set(num, &OpenRecord::of(&o));
            return Ok(());
        }
        let action = if entries.iter().any(|e| e.action == "escalate") {
            "workorder.escalate"
        } else {
            "workorder.remind"
        };
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &entries,
            false,
            &user,
            action,
        )?;
        self.apply(batch, ups)
    }

    pub(super) fn create_task(&mut self, req: TaskRequest, user: &User) -> Result<Task, WoError> {
        for (name, v) in [
            ("campaign", &req.campaign),
            ("task_type", &req.task_type),
            ("customer_id", &req.customer_id),
        ] {
            if v.trim().is_empty() {
                return Err(WoError::invalid(name, format!("a task needs `{name}`")));
            }
        }
        if !req.phone.is_empty() && !lifecycle::is_phone(&req.phone) {
            return Err(WoError::invalid(
                "phone",
                format!("`{}` is not a telephone number", req.phone),
            ));
        }
        let now = self.clock.now_ms();
        let id = self.store.next_id("task")?;
        let dispatched = req.handler.is_some();
        let t = Task {
            id,
            campaign: req.campaign,
            task_type: req.task_type,
            customer_id: req.customer_id,
            phone: req.phone,
            description: req.description,
            deadline_ms: req.deadline_ms,
            status: if dispatched { "dispatched" } else { "pending" }.into(),
            dispatcher: dispatched.then(|| user.name.clone()),
            handler: req.handler,
            created_ms: now,
            updated_ms: now,
            dispatched_ms: dispatched.then_some(now),
            started_ms: None,
            ended_ms: None,
            result: None,
            memo: req.memo,
        };
        let mut batch = Batch::new();
        batch.put_json(TASKS, id_key(id).to_vec(), &t);
        let mut k = t.campaign.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&id_key(id));
        batch.put(TASKS_BY_CAMPAIGN, k, Vec::new());
        let mut k = t.customer_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&id_key(id));
        batch.put(TASKS_BY_CUSTOMER, k, Vec::new());
        self.audit_task(&mut batch, user, "task.create", &t)?;
        self.pending.append(batch);
        Ok(t)
    }

    pub(super) fn audit_task(
        &self,
        batch: &mut Batch,
        user: &User,
        action: &str,
        t: &Task,
    ) -> Result<(), WoError> {
        let aid = self.store.next_id("audit")?;
        audit_into(
            batch,
            aid,
            &AuditEntry {
                at_ms: t.updated_ms,
                user: user.name.clone(),
                role: user.role.to_string(),
                action: action.into(),
                target: format!("task:{}", t.id),
                detail: serde_json::json!({ "status": t.status, "handler": t.handler }),
            },
        );
        Ok(())
    }

    pub(super) fn update_task(
        &mut self,
        id: u64,
        up: TaskUpdate,
        user: &User,
    ) -> Result<Task, WoError> {
        self.write_pending()?;
        let mut t: Task = get_json(&*self.store, TASKS, &id_key(id))?
            .ok_or_else(|| WoError::NotFound(format!("there is no task {id}")))?;
        if TASK_FINAL.contains(&t.status.as_str()) {
            return Err(WoError::Conflict {
                state: t.status.clone(),
                message: format!("task {id} is {} and cannot change", t.status),
            });
        }
        if user.role == Role::Agent {
            let theirs = |h: &String| *h == user.name;
            // Another agent's task is, to an agent, one that does not exist.
            if !t.handler.as_ref().is_none_or(theirs) {
                return Err(WoError::NotFound(format!("there is no task {id}")));
            }
            if !up.handler.as_ref().is_none_or(theirs) {
                return Err(WoError::Forbidden(format!(
                    "task {id} is not yours; agents work on the tasks dispatched to them"
                )));
            }
        }
        let now = self.clock.now_ms();
        if let Some(h) = up.handler
            && t.handler.as_ref() != Some(&h)
        {
            t.handler = Some(h);
            t.dispatcher = Some(user.name.clone());
            t.dispatched_ms = Some(now);
            if t.status == "pending" {
                t.status = "dispatched".into();
            }
        }
        if let Some(s) = up.status {
            if !TASK_STATUSES.contains(&s.as_str()) {
                return Err(WoError::invalid(
                    "status",
                    format!(
                        "`{s}` is not a task status; use one of: {}",
                        TASK_STATUSES.join(", ")
                    ),
                ));
            }
            if s == "in_progress" && t.started_ms.is_none() {
                t.started_ms = Some(now);
            }
            if matches!(s.as_str(), "done" | "failed" | "cancelled") {
                t.ended_ms = Some(now);
            }
            t.status = s;
        }
        if let Some(r) = up.result {
            t.result = Some(r);
        }
        if let Some(m) = up.memo {
            t.memo = m;
        }
        t.updated_ms = now;
        let mut batch = Batch::new();
        batch.put_json(TASKS, id_key(id).to_vec(), &t);
        self.audit_task(&mut batch, user, "task.update", &t)?;
        self.pending.append(batch);
        Ok(t)
    }
}
