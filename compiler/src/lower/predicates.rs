//! Queues, campaigns and workorders: their expressions (priorities,
//! announcement and overflow conditions, filters, guards) become predicates over
//! an environment vector, and their rules become IR tables.

use dialect_lang::ast::*;
use dialect_lang::check::ItemRef;
use dialect_lang::options;
use dialect_lang::types::Type;

use super::Lowerer;
use super::body::{Ctx, Fb, prune};
use crate::ir::*;

impl<'a> Lowerer<'a> {
    pub(super) fn predicate(
        &mut self,
        kind: PredKind,
        e: &Expr,
        fields: Vec<String>,
        preset: Vec<(EnvVar, Type)>,
    ) -> PredId {
        let loc = self.loc(e.span);
        let mut fb = Fb::new(Ctx::Pred, loc);
        fb.fields = fields;
        fb.env = preset;
        let r = self.expr(&mut fb, e);
        fb.term(Term::Return(Some(r)));
        let result = self.ty(e);
        let mut body = fb.body;
        prune(&mut body, Vec::new());
        self.ir.predicates.push(PredicateIr {
            kind,
            vars: fb.env,
            result,
            body,
        });
        (self.ir.predicates.len() - 1) as PredId
    }

    /// All filters of a campaign as one predicate (`and` of them, short-circuit).
    pub(super) fn filters(
        &mut self,
        kind: PredKind,
        filters: &[Expr],
        fields: Vec<String>,
    ) -> Option<PredId> {
        let first = filters.first()?;
        let loc = self.loc(first.span);
        let mut fb = Fb::new(Ctx::Pred, loc);
        fb.fields = fields;
        let result = fb.reg(Type::Bool);
        let zero = fb.int(0);
        fb.emit(Inst::Copy {
            dst: result,
            src: zero,
        });
        let done = fb.block(loc);
        // A run of cheap filters is combined without branches; one branch
        // leaves after the run, and before any filter that is not cheap.
        let mut run: Vec<&Expr> = Vec::new();
        for f in filters {
            if self.cheap(f) {
                run.push(f);
                continue;
            }
            if !run.is_empty() {
                let r = self.run_of_filters(&mut fb, &std::mem::take(&mut run), loc);
                let next = fb.block(loc);
                self.branch(&mut fb, r, next, done);
                fb.cur = next;
            }
            let r = self.expr(&mut fb, f);
            let next = fb.block(loc);
            self.branch(&mut fb, r, next, done);
            fb.cur = next;
        }
        let answer = if run.is_empty() {
            fb.int(1)
        } else {
            // The last run is the answer: no branch at all.
            self.run_of_filters(&mut fb, &run, loc)
        };
        fb.emit(Inst::Copy {
            dst: result,
            src: answer,
        });
        fb.switch_to(done);
        fb.term(Term::Return(Some(result)));
        let mut body = fb.body;
        prune(&mut body, Vec::new());
        self.ir.predicates.push(PredicateIr {
            kind,
            vars: fb.env,
            result: Type::Bool,
            body,
        });
        Some((self.ir.predicates.len() - 1) as PredId)
    }

    pub(super) fn dest(&self, d: &Destination) -> DestIr {
        let text = |e: &Expr| match &e.kind {
            ExprKind::Text(t) => t.plain_lossy(),
            _ => self.snippet(e.span),
        };
        match d {
            Destination::Queue(q) => DestIr::Queue(q.name.clone()),
            Destination::Flow(f) => DestIr::Flow(f.name.clone()),
            Destination::Agent(e) => DestIr::Agent(text(e)),
            Destination::Number(e) => DestIr::Number(text(e)),
            Destination::Callback(_) => DestIr::Callback,
            Destination::Hangup(_) => DestIr::Hangup,
        }
    }

    pub(super) fn queues(&mut self) {
        let queues: Vec<(String, ItemRef)> = self
            .model
            .queues
            .iter()
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        for (qi, (name, r)) in queues.iter().enumerate() {
            let Item::Queue(q) = self.item(*r) else {
                continue;
            };
            let qi = qi as u32;
            let priority = q
                .priority
                .as_ref()
                .map(|p| self.predicate(PredKind::QueuePriority(qi), p, Vec::new(), Vec::new()));
            let mut announcements = Vec::new();
            for (ai, a) in q.announcements.iter().enumerate() {
                let what = match &a.what {
                    AnnounceWhat::Position => AnnounceIr::Position,
                    AnnounceWhat::Wait => AnnounceIr::Wait,
                    AnnounceWhat::Prompt(e) => AnnounceIr::Prompt(match &e.kind {
                        ExprKind::Text(t) => t.plain_lossy(),
                        _ => self.snippet(e.span),
                    }),
                };
                let cond = a.when.as_ref().map(|w| {
                    self.predicate(
                        PredKind::Announcement(qi, ai as u32),
                        w,
                        Vec::new(),
                        Vec::new(),
                    )
                });
                announcements.push((what, a.every.millis, cond));
            }
            let mut overflows = Vec::new();
            for (oi, o) in q.overflows.iter().enumerate() {
                let p = self.predicate(
                    PredKind::Overflow(qi, oi as u32),
                    &o.when,
                    Vec::new(),
                    Vec::new(),
                );
                overflows.push((o.direction, o.target.name.clone(), p));
            }
            let mut keys = Vec::new();
            let mut key_offers = Vec::new();
            for (ki, k) in q.keys.iter().enumerate() {
                let Some(c) = k.key.chars().next() else {
                    continue;
                };
                let when = k.when.as_ref().map(|w| {
                    self.predicate(PredKind::Key(qi, ki as u32), w, Vec::new(), Vec::new())
                });
                if let Some(o) = &k.offer {
                    key_offers.push(KeyOfferIr {
                        key: c,
                        prompt: match &o.prompt.kind {
                            ExprKind::Text(t) => t.plain_lossy(),
                            _ => self.snippet(o.prompt.span),
                        },
                        every_ms: o.every.millis,
                        when,
                    });
                }
                keys.push((c, self.dest(&k.dest), when));
            }
            let music = q.music.as_ref().map(|e| match &e.kind {
                ExprKind::Text(t) => t.plain_lossy(),
                _ => self.snippet(e.span),
            });
            let ir = QueueIr {
                name: name.clone(),
                label: q
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                skills: q
                    .skills
                    .iter()
                    .map(|s| {
                        (
                            s.skill.name.clone(),
                            s.min_level.map(|l| l.0 as u32).unwrap_or(1),
                        )
                    })
                    .collect(),
                strategy: q
                    .strategy
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| "longest_idle".to_string()),
                priority,
                music,
                announcements,
                max_wait: q
                    .max_wait
                    .as_ref()
                    .map(|(d, dest, _)| (d.millis, self.dest(dest))),
                overflows,
                keys,
                key_offers,
                no_answer: q.no_answer.as_ref().map(|n| (n.timeout.millis, n.action)),
                max_missed: options::number(&q.agent_policy, "max missed").map(|n| n as u32),
                reject_delay_ms: options::duration_ms(&q.agent_policy, "reject delay"),
                busy_delay_ms: options::duration_ms(&q.agent_policy, "busy delay"),
                unregistered_delay_ms: options::duration_ms(&q.agent_policy, "unregistered delay"),
                wrap_up_ms: q.wrap_up.map(|d| d.millis).unwrap_or(0),
                hours: q.hours.as_ref().and_then(|(cal, dest, _)| {
                    self.calendar_index(&cal.name).map(|i| (i, self.dest(dest)))
                }),
                service_level: q
                    .service_level
                    .as_ref()
                    .map(|(p, d, _)| (*p, d.millis))
                    .unwrap_or((0.8, 20_000)),
            };
            self.ir.queues.push(ir);
        }
    }

    pub(super) fn campaigns(&mut self) {
        /// A campaign's name, declaration and list-record fields.
        type CampaignEntry = (String, ItemRef, Vec<(String, Type)>);
        let campaigns: Vec<CampaignEntry> = self
            .model
            .campaigns
            .iter()
            .map(|(n, (r, f))| (n.clone(), *r, f.clone()))
            .collect();
        for (ci, (name, r, fields)) in campaigns.into_iter().enumerate() {
            let Item::Campaign(c) = self.item(r) else {
                continue;
            };
            let field_names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            let filter = self.filters(
                PredKind::CampaignFilter(ci as u32),
                &c.filters,
                field_names.clone(),
            );
            let filter_parts = c
                .filters
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let kind = PredKind::CampaignFilterPart(ci as u32, i as u32);
                    let pred = self.predicate(kind, f, field_names.clone(), Vec::new());
                    (self.snippet(f.span), pred)
                })
                .collect();
            let mode_opts: &[Opt] = c.mode.as_ref().map(|m| m.options.as_slice()).unwrap_or(&[]);
            let list = c.list.as_ref();
            let ir = CampaignIr {
                name,
                label: c
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                list: match (list, &c.orders) {
                    (Some(l), _) => l.name.name.clone(),
                    (None, Some(o)) => format!("workorders {}", o.kind.name),
                    (None, None) => String::new(),
                },
                source: list.map(|l| l.source.plain_lossy()).unwrap_or_default(),
                fields: match (list, &c.orders) {
                    (Some(l), _) => l
                        .fields
                        .iter()
                        .zip(&fields)
                        .map(|((_, col), (n, t))| (n.clone(), *t, col.plain_lossy()))
                        .collect(),
                    // Orders' fields come by name.
                    (None, Some(_)) => fields
                        .iter()
                        .map(|(n, t)| (n.clone(), *t, n.clone()))
                        .collect(),
                    (None, None) => Vec::new(),
                },
                orders: c.orders.as_ref().map(|o| OrderSourceIr {
                    kind: o.kind.name.clone(),
                    state: o.state.as_ref().map(|s| s.name.clone()),
                }),
                filter,
                filter_parts,
                max_attempts: c.max_attempts.map(|(n, _)| n),
                max_attempts_per_day: c.max_attempts_per_day.map(|(n, _)| n),
                dispositions: c
                    .dispositions
                    .iter()
                    .map(|d| {
                        (
                            d.name.name.clone(),
                            d.label.plain_lossy(),
                            d.retry_in.map(|r| r.millis),
                        )
                    })
                    .collect(),
                script: c.script.as_ref().map(|t| t.plain_lossy()),
                machine_detection: match &c.machine_detection {
                    None => Some(Vec::new()),
                    Some((None, _)) => None,
                    Some((Some(settings), _)) => Some(
                        settings
                            .iter()
                            .filter_map(|o| {
                                let v = match o.value.as_ref()? {
                                    OptValue::Duration(d) => d.millis as f64,
                                    OptValue::Number(n, _) => *n,
                                    _ => return None,
                                };
                                Some((o.name.clone(), v))
                            })
                            .collect(),
                    ),
                },
                mode: c
                    .mode
                    .as_ref()
                    .map(|m| m.mode.name.clone())
                    .unwrap_or_else(|| "manual".into()),
                ratio: (
                    options::number(mode_opts, "min ratio").unwrap_or(1.0),
                    options::number(mode_opts, "max ratio").unwrap_or(2.0),
                ),
                abandon_max: options::number(mode_opts, "abandon max").unwrap_or(0.03),
                preview_ms: options::duration_ms(mode_opts, "preview time"),
                preview_auto_dial: options::flag(mode_opts, "auto dial"),
                ring_ms: options::duration_ms(mode_opts, "ring time").unwrap_or(30_000),
                max_channels: options::number(mode_opts, "max channels").map(|n| n as u32),
                dest: c
                    .mode
                    .as_ref()
                    .and_then(|m| m.dest.as_ref())
                    .map(|d| self.dest(d)),
                calendar: c
                    .calendar
                    .as_ref()
                    .and_then(|k| self.calendar_index(&k.name)),
                windows: c
                    .windows
                    .iter()
                    .map(|w| {
                        (
                            w.day_type,
                            w.periods.iter().map(|p| (p.from, p.to)).collect(),
                        )
                    })
                    .collect(),
                retries: c
                    .retries
                    .iter()
                    .map(|r| (r.outcome, r.every.as_ref().map(|(d, m)| (d.millis, *m))))
                    .collect(),
                trunk: c.trunk.as_ref().map(|t| t.plain_lossy()),
                caller_id: c.caller_id.as_ref().map(|t| t.plain_lossy()),
                media: c
                    .media
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_else(|| "voice".into()),
                dropped: c.dropped.as_ref().map(|(p, w, _)| {
                    let prompt = match &p.kind {
                        ExprKind::Text(t) => t.plain_lossy(),
                        _ => self.snippet(p.span),
                    };
                    (prompt, w.map(|d| d.millis).unwrap_or(2000))
                }),
                timezone: c.timezone.as_ref().map(|t| t.plain_lossy()),
            };
            self.ir.campaigns.push(ir);
        }
    }

    /// A trigger's message with its `{field}` holes kept as they are written
    /// (the checker allowed field names only); `{` and `}` written as text are
    /// doubled.
    fn template(&self, t: &Text) -> String {
        let mut out = String::new();
        for p in &t.parts {
            match p {
                TextPart::Lit(s) => out.push_str(&s.replace('{', "{{").replace('}', "}}")),
                TextPart::Expr(e) => {
                    if let ExprKind::Name(n) = &e.kind {
                        out.push('{');
                        out.push_str(&n.name);
                        out.push('}');
                    }
                }
            }
        }
        out
    }

    pub(super) fn workorders(&mut self) {
        let wos: Vec<(
            String,
            ItemRef,
            Vec<dialect_lang::check::WorkorderFieldInfo>,
        )> = self
            .model
            .workorders
            .iter()
            .map(|(n, (r, f))| (n.clone(), *r, f.clone()))
            .collect();
        for (wi, (name, r, fields)) in wos.into_iter().enumerate() {
            let Item::Workorder(w) = self.item(r) else {
                continue;
            };
            let field_names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let states: Vec<WorkorderStateIr> = w
                .states
                .iter()
                .map(|s| WorkorderStateIr {
                    name: s.name.name.clone(),
                    label: s
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default(),
                    initial: s.initial,
                    is_final: s.is_final,
                    limit: s.limit.as_ref().map(|l| (l.duration.millis, l.business)),
                    reminders: s
                        .reminders
                        .iter()
                        .map(|r| {
                            (
                                match &r.when {
                                    RemindWhen::Before(d) => RemindIr::Before(d.millis),
                                    RemindWhen::AtLimit => RemindIr::AtLimit,
                                    RemindWhen::Fraction(f, _) => RemindIr::Fraction(*f),
                                },
                                r.to.iter().map(|i| i.name.clone()).collect(),
                            )
                        })
                        .collect(),
                    escalations: s
                        .escalations
                        .iter()
                        .map(|e| {
                            (
                                e.after.map(|d| d.millis).unwrap_or(0),
                                e.to.iter().map(|i| i.name.clone()).collect(),
                            )
                        })
                        .collect(),
                })
                .collect();
            let mut transitions = Vec::new();
            for (ti, t) in w.transitions.iter().enumerate() {
                let idx = |n: &str| states.iter().position(|s| s.name == n).unwrap_or(0) as u32;
                let guard = t.guard.as_ref().map(|g| {
                    self.predicate(
                        PredKind::Guard(wi as u32, ti as u32),
                        g,
                        field_names.clone(),
                        Vec::new(),
                    )
                });
                transitions.push(TransitionIr {
                    name: t.name.name.clone(),
                    from: idx(&t.from.name),
                    to: idx(&t.to.name),
                    roles: t.roles.iter().map(|r| r.name.clone()).collect(),
                    kind: t.kind,
                    guard,
                    reason_required: t.reason_required,
                });
            }
            let idx = |n: &str| states.iter().position(|s| s.name == n).map(|i| i as u32);
            let triggers = w
                .triggers
                .iter()
                .filter_map(|t| {
                    let action = match &t.action {
                        TriggerAction::Notify {
                            channel,
                            to,
                            subject,
                            body,
                        } => TriggerActionIr::Notify {
                            channel: *channel,
                            to_field: to.name.clone(),
                            subject: subject.as_ref().map(|s| self.template(s)),
                            body: self.template(body),
                        },
                        TriggerAction::Assign(r) => TriggerActionIr::Assign(r.name.clone()),
                        TriggerAction::Call {
                            flow,
                            args,
                            campaign,
                        } => TriggerActionIr::Call {
                            flow: flow.name.clone(),
                            args: args.iter().map(|a| a.name.clone()).collect(),
                            campaign: campaign.name.clone(),
                        },
                    };
                    Some(TriggerIr {
                        state: idx(&t.state.name)?,
                        action,
                    })
                })
                .collect();
            let span_limits = w
                .span_limits
                .iter()
                .filter_map(|l| {
                    Some(SpanLimitIr {
                        target: idx(&l.target.name)?,
                        from: idx(&l.from.name)?,
                        limit: (l.duration.millis, l.business),
                        reminders: l
                            .reminders
                            .iter()
                            .map(|r| {
                                (
                                    match &r.when {
                                        RemindWhen::Before(d) => RemindIr::Before(d.millis),
                                        RemindWhen::AtLimit => RemindIr::AtLimit,
                                        RemindWhen::Fraction(f, _) => RemindIr::Fraction(*f),
                                    },
                                    r.to.iter().map(|i| i.name.clone()).collect(),
                                )
                            })
                            .collect(),
                        escalations: l
                            .escalations
                            .iter()
                            .map(|e| {
                                (
                                    e.after.map(|d| d.millis).unwrap_or(0),
                                    e.to.iter().map(|i| i.name.clone()).collect(),
                                )
                            })
                            .collect(),
                    })
                })
                .collect();
            self.ir.workorders.push(WorkorderIr {
                name,
                label: w
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                calendar: w
                    .calendar
                    .as_ref()
                    .and_then(|c| self.calendar_index(&c.name)),
                fields: fields
                    .iter()
                    .map(|f| WorkorderFieldIr {
                        name: f.name.clone(),
                        ty: f.ty,
                        kind: f.kind.clone(),
                        values: f.values.clone(),
                        required: f.required,
                        sensitive: f.sensitive,
                    })
                    .collect(),
                states,
                transitions,
                links: w.links.iter().map(|l| l.name.clone()).collect(),
                triggers,
                span_limits,
            });
        }
    }
}
