//! Top-level declarations: the one-line ones (import, const, languages, call
//! data, skills, departments, agents, lists) and the block ones (calendar,
//! service, queue, campaign, workorder). Flows are in `flow`.

use super::{Builder, P, Rule, first};
use crate::ast::*;
use crate::diagnostic::Diagnostic;

impl Builder<'_> {
    pub(super) fn item(&mut self, p: P<'_>) -> Option<Item> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::import_decl => {
                let t = self.text(first(&p)?);
                Item::Import(Import {
                    path: t.plain_lossy(),
                    path_span: t.span,
                    span,
                })
            }
            Rule::const_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                Item::Const(ConstDecl { name, value, span })
            }
            Rule::languages_decl => Item::Languages(LanguagesDecl {
                languages: p.into_inner().map(|i| self.ident(i)).collect(),
                span,
            }),
            Rule::calldata_decl => {
                let mut fields = Vec::new();
                for f in p.into_inner() {
                    let mut it = f.into_inner();
                    let name = self.ident(it.next()?);
                    let ty = self.type_expr(it.next()?);
                    let default = it.next().map(|e| self.expr(e));
                    fields.push(CallDataField { name, ty, default });
                }
                Item::CallData(CallDataDecl { fields, span })
            }
            Rule::skill_decl => {
                let mut names = Vec::new();
                let mut levels = None;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::ident => names.push(self.ident(c)),
                        Rule::skill_levels => {
                            let s = self.span(&c);
                            let mut it = c.into_inner();
                            let a = self.whole_number(it.next()?);
                            let b = self.whole_number(it.next()?);
                            levels = Some((a, b, s));
                        }
                        _ => {}
                    }
                }
                Item::Skill(SkillDecl {
                    names,
                    levels,
                    span,
                })
            }
            Rule::department_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let label = it.next().and_then(|l| first(&l)).map(|t| self.text(t));
                Item::Department(DepartmentDecl { name, label, span })
            }
            Rule::role_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let label = it.next().and_then(|l| first(&l)).map(|t| self.text(t));
                Item::Role(RoleDecl { name, label, span })
            }
            Rule::agent_decl => {
                let mut id = None;
                let mut label = None;
                let mut skills = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::text => id = Some(self.text(c)),
                        Rule::label_text => label = first(&c).map(|t| self.text(t)),
                        Rule::agent_skills => {
                            for s in c.into_inner() {
                                let mut it = s.into_inner();
                                let skill = self.ident(it.next()?);
                                let level = it.next().map(|n| (self.num(&n), self.span(&n)));
                                skills.push(AgentSkill { skill, level });
                            }
                        }
                        _ => {}
                    }
                }
                Item::Agent(AgentDecl {
                    id: id?,
                    label,
                    skills,
                    span,
                })
            }
            Rule::list_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let mut label = None;
                let mut entries = Vec::new();
                let mut categories = Vec::new();
                for c in it {
                    match c.as_rule() {
                        Rule::label_text => label = first(&c).map(|t| self.text(t)),
                        Rule::list_entry => entries.push(self.text(first(&c)?)),
                        Rule::list_category => {
                            let cspan = self.span(&c);
                            let mut ci = c.into_inner();
                            let cname = self.ident(ci.next()?);
                            let mut clabel = None;
                            let mut options = Vec::new();
                            let mut centries = Vec::new();
                            for x in ci {
                                match x.as_rule() {
                                    Rule::label_text => clabel = first(&x).map(|t| self.text(t)),
                                    Rule::options => options = self.options(x),
                                    Rule::list_entry => centries.push(self.text(first(&x)?)),
                                    _ => {}
                                }
                            }
                            categories.push(ListCategory {
                                name: cname,
                                label: clabel,
                                options,
                                entries: centries,
                                span: cspan,
                            });
                        }
                        _ => {}
                    }
                }
                Item::List(ListDecl {
                    name,
                    label,
                    entries,
                    categories,
                    span,
                })
            }
            Rule::calendar_decl => Item::Calendar(self.calendar(p)?),
            Rule::service_decl => Item::Service(self.service(p)?),
            Rule::flow_decl => Item::Flow(self.flow(p)?),
            Rule::queue_decl => Item::Queue(self.queue(p)?),
            Rule::campaign_decl => Item::Campaign(self.campaign(p)?),
            Rule::workorder_decl => Item::Workorder(self.workorder(p)?),
            _ => return None,
        })
    }

    pub(super) fn calendar(&mut self, p: P<'_>) -> Option<CalendarDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut cal = CalendarDecl {
            name,
            label: None,
            timezone: None,
            hours: Vec::new(),
            holidays: Vec::new(),
            workdays: Vec::new(),
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => cal.label = first(&c).map(|t| self.text(t)),
                Rule::cal_timezone => cal.timezone = first(&c).map(|t| self.text(t)),
                Rule::cal_hours => {
                    let mut ci = c.into_inner();
                    let days = self.weekdays(ci.next()?);
                    let periods = self.time_ranges(ci.next()?);
                    cal.hours.push(WeeklyHours {
                        days,
                        periods,
                        span: cspan,
                    });
                }
                Rule::cal_holiday | Rule::cal_workday => {
                    let is_holiday = c.as_rule() == Rule::cal_holiday;
                    let mut sd = SpecialDays {
                        dates: Vec::new(),
                        label: None,
                        hours: None,
                        span: cspan,
                    };
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::date_spans => sd.dates = self.date_spans(x),
                            Rule::label_text => sd.label = first(&x).map(|t| self.text(t)),
                            Rule::cal_special_hours => {
                                sd.hours = Some(first(&x).map(|r| self.time_ranges(r))?)
                            }
                            _ => {}
                        }
                    }
                    if is_holiday {
                        cal.holidays.push(sd)
                    } else {
                        cal.workdays.push(sd)
                    }
                }
                _ => {}
            }
        }
        Some(cal)
    }

    pub(super) fn weekdays(&mut self, p: P<'_>) -> Vec<DayRange> {
        let mut out = Vec::new();
        for c in p.into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::every_day => out.push(DayRange {
                    from: 0,
                    to: 6,
                    span,
                }),
                Rule::weekday_range => {
                    let days: Vec<u8> = c.into_inner().map(|d| weekday_index(d.as_str())).collect();
                    let from = days.first().copied().unwrap_or(0);
                    let to = days.get(1).copied().unwrap_or(from);
                    out.push(DayRange { from, to, span });
                }
                _ => {}
            }
        }
        out
    }

    pub(super) fn service(&mut self, p: P<'_>) -> Option<ServiceDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut svc = ServiceDecl {
            name,
            label: None,
            url: None,
            timeout: None,
            not_found: None,
            operations: Vec::new(),
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => svc.label = first(&c).map(|t| self.text(t)),
                Rule::svc_url => svc.url = first(&c).map(|t| self.text(t)),
                Rule::svc_timeout => svc.timeout = first(&c).map(|d| self.duration_lit(d)),
                Rule::svc_not_found => {
                    let meaning = match first(&c).map(|a| a.as_str()) {
                        Some("answer") => NotFound::Answer,
                        _ => NotFound::Else,
                    };
                    svc.not_found = Some((meaning, cspan));
                }
                Rule::svc_operation => {
                    let mut ci = c.into_inner();
                    let method = if ci.next()?.as_str() == "post" {
                        HttpMethod::Post
                    } else {
                        HttpMethod::Get
                    };
                    let name = self.ident(ci.next()?);
                    let path = self.text(ci.next()?);
                    let mut params = Vec::new();
                    let mut fields = Vec::new();
                    let mut list = false;
                    for x in ci {
                        match x.as_rule() {
                            Rule::answer_list => list = true,
                            Rule::typed_field => params.extend(self.typed_field(x)),
                            Rule::field_list => {
                                for f in x.into_inner() {
                                    fields.extend(self.typed_field(f));
                                }
                            }
                            _ => {}
                        }
                    }
                    svc.operations.push(ServiceOperation {
                        method,
                        name,
                        path,
                        params,
                        fields,
                        list,
                        span: cspan,
                    });
                }
                _ => {}
            }
        }
        Some(svc)
    }

    pub(super) fn queue(&mut self, p: P<'_>) -> Option<QueueDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut q = QueueDecl {
            name,
            label: None,
            skills: Vec::new(),
            strategy: None,
            priority: None,
            music: None,
            announcements: Vec::new(),
            max_wait: None,
            overflows: Vec::new(),
            keys: Vec::new(),
            no_answer: None,
            agent_policy: Vec::new(),
            wrap_up: None,
            hours: None,
            service_level: None,
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => q.label = first(&c).map(|t| self.text(t)),
                Rule::q_skills => {
                    for s in c.into_inner() {
                        let mut si = s.into_inner();
                        let skill = self.ident(si.next()?);
                        let min_level = si.next().map(|n| (self.num(&n), self.span(&n)));
                        q.skills.push(QueueSkill { skill, min_level });
                    }
                }
                Rule::q_strategy => q.strategy = first(&c).map(|i| self.ident(i)),
                Rule::q_priority => q.priority = first(&c).map(|e| self.expr(e)),
                Rule::q_music => q.music = first(&c).map(|e| self.expr(e)),
                Rule::q_announce => {
                    let mut ci = c.into_inner();
                    let what_p = first(&ci.next()?)?;
                    let what = match what_p.as_rule() {
                        Rule::announce_position => AnnounceWhat::Position,
                        Rule::announce_wait => AnnounceWhat::Wait,
                        _ => AnnounceWhat::Prompt(self.expr(what_p)),
                    };
                    let every = self.duration_lit(ci.next()?);
                    let when = ci.next().map(|e| self.expr(e));
                    q.announcements.push(Announcement {
                        what,
                        every,
                        when,
                        span: cspan,
                    });
                }
                Rule::q_max_wait => {
                    let mut ci = c.into_inner();
                    let d = self.duration_lit(ci.next()?);
                    let dest = self.destination(ci.next()?)?;
                    q.max_wait = Some((d, dest, cspan));
                }
                Rule::q_overflow => {
                    let mut ci = c.into_inner();
                    let direction = if ci.next()?.as_str() == "up" {
                        OverflowDirection::Up
                    } else {
                        OverflowDirection::Down
                    };
                    let target = self.ident(ci.next()?);
                    let when = self.expr(ci.next()?);
                    q.overflows.push(Overflow {
                        direction,
                        target,
                        when,
                        span: cspan,
                    });
                }
                Rule::q_key => {
                    let mut ci = c.into_inner();
                    let k = ci.next()?;
                    let key_span = self.span(&k);
                    let dest = self.destination(ci.next()?)?;
                    let mut offer = None;
                    let mut when = None;
                    for x in ci {
                        if x.as_rule() == Rule::key_offer {
                            let ospan = self.span(&x);
                            let mut oi = x.into_inner();
                            let prompt = self.expr(oi.next()?);
                            let every = self.duration_lit(oi.next()?);
                            offer = Some(KeyOffer {
                                prompt,
                                every,
                                span: ospan,
                            });
                        } else {
                            when = Some(self.expr(x));
                        }
                    }
                    q.keys.push(QueueKey {
                        key: k.as_str().to_string(),
                        key_span,
                        dest,
                        offer,
                        when,
                        span: cspan,
                    });
                }
                Rule::q_no_answer => {
                    let mut ci = c.into_inner();
                    let timeout = self.duration_lit(ci.next()?);
                    let action = match ci.next()?.as_str() {
                        "requeue first" => NoAnswerAction::RequeueFirst,
                        "requeue" => NoAnswerAction::Requeue,
                        _ => NoAnswerAction::NextAgent,
                    };
                    q.no_answer = Some(NoAnswer {
                        timeout,
                        action,
                        span: cspan,
                    });
                }
                Rule::q_agent_policy => q.agent_policy = first(&c).map(|o| self.options(o))?,
                Rule::q_wrap_up => q.wrap_up = first(&c).map(|d| self.duration_lit(d)),
                Rule::q_hours => {
                    let mut ci = c.into_inner();
                    let cal = self.ident(ci.next()?);
                    let dest = self.destination(ci.next()?)?;
                    q.hours = Some((cal, dest, cspan));
                }
                Rule::q_service_level => {
                    let mut ci = c.into_inner();
                    let pct = self.percent(&ci.next()?);
                    let d = self.duration_lit(ci.next()?);
                    q.service_level = Some((pct, d, cspan));
                }
                _ => {}
            }
        }
        Some(q)
    }

    pub(super) fn campaign(&mut self, p: P<'_>) -> Option<CampaignDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut c = CampaignDecl {
            name,
            label: None,
            list: None,
            orders: None,
            filters: Vec::new(),
            mode: None,
            calendar: None,
            windows: Vec::new(),
            retries: Vec::new(),
            trunk: None,
            caller_id: None,
            media: None,
            dropped: None,
            allows: Vec::new(),
            timezone: None,
            max_attempts: None,
            max_attempts_per_day: None,
            dispositions: Vec::new(),
            script: None,
            machine_detection: None,
            span,
        };
        for x in it {
            let xspan = self.span(&x);
            match x.as_rule() {
                Rule::label_text => c.label = first(&x).map(|t| self.text(t)),
                Rule::c_list => {
                    let mut xi = x.into_inner();
                    let lname = self.ident(xi.next()?);
                    let source = self.text(xi.next()?);
                    let mut fields = Vec::new();
                    for f in xi {
                        let mut fi = f.into_inner();
                        let name = self.ident(fi.next()?);
                        let ty = self.type_expr(fi.next()?);
                        let col = self.text(fi.next()?);
                        fields.push((TypedField { name, ty }, col));
                    }
                    c.list = Some(CampaignList {
                        name: lname,
                        source,
                        fields,
                        span: xspan,
                    });
                }
                Rule::c_list_orders => {
                    let mut xi = x.into_inner();
                    let kind = self.ident(xi.next()?);
                    let state = xi.next().map(|s| self.ident(s));
                    c.orders = Some(OrderSource {
                        kind,
                        state,
                        span: xspan,
                    });
                }
                Rule::c_filter => c.filters.extend(first(&x).map(|e| self.expr(e))),
                Rule::c_mode => {
                    let mut xi = x.into_inner();
                    let mode = self.ident(xi.next()?);
                    let mut options = Vec::new();
                    let mut dest = None;
                    for y in xi {
                        match y.as_rule() {
                            Rule::options => options = self.options(y),
                            Rule::destination => dest = self.destination(y),
                            _ => {}
                        }
                    }
                    c.mode = Some(CampaignMode {
                        mode,
                        options,
                        dest,
                        span: xspan,
                    });
                }
                Rule::c_calendar => c.calendar = first(&x).map(|i| self.ident(i)),
                Rule::c_window => {
                    let mut xi = x.into_inner();
                    let day_type = match xi.next()?.as_str() {
                        "workday" => DayType::Workday,
                        "weekend" => DayType::Weekend,
                        _ => DayType::Holiday,
                    };
                    let periods = self.time_ranges(xi.next()?);
                    c.windows.push(CallWindow {
                        day_type,
                        periods,
                        span: xspan,
                    });
                }
                Rule::c_retry => {
                    let mut xi = x.into_inner();
                    let outcome = match xi.next()?.as_str() {
                        "busy" => Outcome::Busy,
                        "fax" => Outcome::Fax,
                        "invalid" => Outcome::Invalid,
                        "machine" => Outcome::Machine,
                        "rejected" => Outcome::Rejected,
                        _ => Outcome::NoAnswer,
                    };
                    let rule = xi.next()?;
                    let mut ri = rule.into_inner();
                    let every = match ri.next() {
                        Some(r) if r.as_rule() == Rule::retry_never => None,
                        Some(d) => {
                            let d = self.duration_lit(d);
                            let max = ri.next().map(|m| self.whole_number(m)).unwrap_or(0);
                            Some((d, max))
                        }
                        None => None,
                    };
                    c.retries.push(RetryRule {
                        outcome,
                        every,
                        span: xspan,
                    });
                }
                Rule::c_trunk => c.trunk = first(&x).map(|t| self.text(t)),
                Rule::c_caller_id => c.caller_id = first(&x).map(|t| self.text(t)),
                Rule::c_media => c.media = first(&x).map(|i| self.ident(i)),
                Rule::c_dropped => {
                    let mut xi = x.into_inner();
                    let m = xi.next()?;
                    let prompt = if m.as_rule() == Rule::dropped_say {
                        let said = self.span(&m);
                        let word = Span {
                            end: said.start + 3,
                            ..said
                        };
                        self.diags.push(
                            Diagnostic::error(
                                "syntax",
                                word,
                                "the message for dropped calls is a recording: write `dropped -> play \"file.wav\"`",
                            )
                            .with_label("`say` is not possible here")
                            .with_hint("the message must start within 2 seconds of the answer, so it is a recorded prompt, played at once"),
                        );
                        self.recovered.push(said);
                        let e = first(&m)?;
                        self.expr(e)
                    } else {
                        self.expr(m)
                    };
                    let within = xi.next().map(|d| self.duration_lit(d));
                    c.dropped = Some((prompt, within, xspan));
                }
                Rule::c_allow => {
                    let mut xi = x.into_inner();
                    let rule = self.ident(xi.next()?);
                    let reason = self.text(xi.next()?);
                    c.allows.push((rule, reason, xspan));
                }
                Rule::c_timezone => c.timezone = first(&x).map(|t| self.text(t)),
                Rule::c_max_attempts => {
                    let mut per_day = false;
                    let mut n = None;
                    for y in x.into_inner() {
                        match y.as_rule() {
                            Rule::per_day => per_day = true,
                            _ => n = Some(self.whole_number(y)),
                        }
                    }
                    let slot = if per_day {
                        &mut c.max_attempts_per_day
                    } else {
                        &mut c.max_attempts
                    };
                    *slot = n.map(|n| (n, xspan));
                }
                Rule::c_disposition => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let label = self.text(xi.next()?);
                    let retry_in = xi
                        .next()
                        .and_then(|r| r.into_inner().next())
                        .map(|d| self.duration_lit(d));
                    c.dispositions.push(Disposition {
                        name,
                        label,
                        retry_in,
                        span: xspan,
                    });
                }
                Rule::c_script => c.script = first(&x).map(|t| self.text(t)),
                Rule::c_amd => {
                    let settings = match first(&x) {
                        Some(o) if o.as_rule() == Rule::options => Some(self.options(o)),
                        _ => None,
                    };
                    c.machine_detection = Some((settings, xspan));
                }
                _ => {}
            }
        }
        Some(c)
    }

    pub(super) fn workorder(&mut self, p: P<'_>) -> Option<WorkorderDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut w = WorkorderDecl {
            name,
            label: None,
            calendar: None,
            fields: Vec::new(),
            states: Vec::new(),
            transitions: Vec::new(),
            links: Vec::new(),
            triggers: Vec::new(),
            span_limits: Vec::new(),
            span,
        };
        for x in it {
            let xspan = self.span(&x);
            match x.as_rule() {
                Rule::label_text => w.label = first(&x).map(|t| self.text(t)),
                Rule::w_calendar => w.calendar = first(&x).map(|i| self.ident(i)),
                Rule::w_links => w.links = x.into_inner().map(|i| self.ident(i)).collect(),
                Rule::w_field => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let ty = self.type_expr(xi.next()?);
                    let mut required = false;
                    let mut sensitive = false;
                    for f in xi {
                        match f.as_str() {
                            "required" => required = true,
                            _ => sensitive = true,
                        }
                    }
                    w.fields.push(WorkorderField {
                        name,
                        ty,
                        required,
                        sensitive,
                        span: xspan,
                    });
                }
                Rule::w_state => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let mut st = WorkorderState {
                        name,
                        label: None,
                        initial: false,
                        is_final: false,
                        limit: None,
                        reminders: Vec::new(),
                        escalations: Vec::new(),
                        span: xspan,
                    };
                    for y in xi {
                        let yspan = self.span(&y);
                        match y.as_rule() {
                            Rule::label_text => st.label = first(&y).map(|t| self.text(t)),
                            Rule::state_flag => match y.as_str() {
                                "initial" => st.initial = true,
                                _ => st.is_final = true,
                            },
                            Rule::state_limit => {
                                let mut yi = y.into_inner();
                                let duration = self.duration_lit(yi.next()?);
                                let business = yi.next().is_some_and(|b| b.as_str() == "business");
                                st.limit = Some(StateLimit { duration, business });
                            }
                            Rule::w_remind => {
                                if let Some(r) = self.reminder(y, yspan) {
                                    st.reminders.push(r);
                                }
                            }
                            Rule::w_escalate => st.escalations.push(self.escalation(y, yspan)),
                            _ => {}
                        }
                    }
                    w.states.push(st);
                }
                Rule::w_transition => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let from = self.ident(xi.next()?);
                    let to = self.ident(xi.next()?);
                    let mut roles = Vec::new();
                    let mut kind = None;
                    let mut guard = None;
                    let mut reason_required = false;
                    for y in xi {
                        match y.as_rule() {
                            Rule::word => roles.push(self.ident(y)),
                            Rule::reason_required => reason_required = true,
                            Rule::transition_kind => {
                                kind = Some(match y.as_str() {
                                    "forward" => TransitionKind::Forward,
                                    "return" => TransitionKind::Return,
                                    "reply" => TransitionKind::Reply,
                                    "close" => TransitionKind::Close,
                                    _ => TransitionKind::Reopen,
                                })
                            }
                            _ => guard = Some(self.expr(y)),
                        }
                    }
                    w.transitions.push(Transition {
                        name,
                        from,
                        to,
                        roles,
                        kind,
                        guard,
                        reason_required,
                        span: xspan,
                    });
                }
                Rule::w_trigger => {
                    let mut xi = x.into_inner();
                    let state = self.ident(xi.next()?);
                    let a = xi.next()?;
                    let action = match a.as_rule() {
                        Rule::t_notify => {
                            let mut ai = a.into_inner();
                            let channel = if ai.next()?.as_str() == "sms" {
                                NotifyChannel::Sms
                            } else {
                                NotifyChannel::Email
                            };
                            let to = self.ident(ai.next()?);
                            let mut subject = None;
                            let mut body = None;
                            for c in ai {
                                match c.as_rule() {
                                    Rule::t_subject => subject = first(&c).map(|t| self.text(t)),
                                    _ => body = Some(self.text(c)),
                                }
                            }
                            TriggerAction::Notify {
                                channel,
                                to,
                                subject,
                                body: body?,
                            }
                        }
                        Rule::t_assign => TriggerAction::Assign(self.ident(first(&a)?)),
                        _ => {
                            let parts: Vec<Ident> = a.into_inner().map(|i| self.ident(i)).collect();
                            let (flow, rest) = parts.split_first()?;
                            let (campaign, args) = rest.split_last()?;
                            TriggerAction::Call {
                                flow: flow.clone(),
                                args: args.to_vec(),
                                campaign: campaign.clone(),
                            }
                        }
                    };
                    w.triggers.push(Trigger {
                        state,
                        action,
                        span: xspan,
                    });
                }
                Rule::w_span_limit => {
                    let mut xi = x.into_inner();
                    let target = self.ident(xi.next()?);
                    let duration = self.duration_lit(xi.next()?);
                    let from = self.ident(xi.next()?);
                    let mut sl = SpanLimit {
                        target,
                        duration,
                        from,
                        business: false,
                        escalations: Vec::new(),
                        reminders: Vec::new(),
                        span: xspan,
                    };
                    for y in xi {
                        let yspan = self.span(&y);
                        match y.as_rule() {
                            Rule::limit_clock => sl.business = y.as_str() == "business",
                            Rule::w_remind => {
                                if let Some(r) = self.reminder(y, yspan) {
                                    sl.reminders.push(r);
                                }
                            }
                            Rule::w_escalate => sl.escalations.push(self.escalation(y, yspan)),
                            _ => {}
                        }
                    }
                    w.span_limits.push(sl);
                }
                _ => {}
            }
        }
        Some(w)
    }
}

impl Builder<'_> {
    fn reminder(&mut self, y: P<'_>, span: Span) -> Option<Reminder> {
        let mut yi = y.into_inner();
        let when_p = yi.next()?;
        let when = match first(&when_p) {
            Some(d) if matches!(d.as_rule(), Rule::duration | Rule::bad_duration) => {
                RemindWhen::Before(self.duration_lit(d))
            }
            Some(pc) if pc.as_rule() == Rule::percent => {
                let s = self.span(&pc);
                RemindWhen::Fraction(self.percent(&pc), s)
            }
            _ => RemindWhen::AtLimit,
        };
        let to = yi.map(|i| self.ident(i)).collect();
        Some(Reminder { when, to, span })
    }

    fn escalation(&mut self, y: P<'_>, span: Span) -> Escalation {
        let mut after = None;
        let mut to = Vec::new();
        for z in y.into_inner() {
            match z.as_rule() {
                Rule::duration | Rule::bad_duration => after = Some(self.duration_lit(z)),
                _ => to.push(self.ident(z)),
            }
        }
        Escalation { after, to, span }
    }
}

fn weekday_index(s: &str) -> u8 {
    match s {
        "mon" => 0,
        "tue" => 1,
        "wed" => 2,
        "thu" => 3,
        "fri" => 4,
        "sat" => 5,
        _ => 6,
    }
}
