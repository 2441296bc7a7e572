//! Checking the declarations other than flows: call data, agents, lists,
//! calendars, services, queues, campaigns and workorder lifecycles.
//!
//! Why this file stays long: one short checker per kind of declaration, each
//! with the analyst's wording of its errors; they share the helpers at the end
//! and divide no further without scattering them.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::ast::*;
use crate::check::expr::{Scope, ScopeKind};
use crate::check::{
    ALLOWABLE_RULES, Checker, ItemRef, MODES, STRATEGIES, WorkorderFieldInfo, is_dtmf_key,
};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::options;
use crate::types::Type;

/// Workorder field types an analyst may write.
const WORKORDER_FIELD_TYPES: &[&str] = &[
    "text",
    "number",
    "money",
    "bool",
    "date",
    "phone",
    "customer",
    "recording",
    "enum",
];

impl Checker<'_> {
    pub(super) fn check_decls(&mut self) {
        let items: Vec<(ItemRef, &Item)> = self.items().collect();
        // Workorder fields first: flows that create orders need them, and so do
        // campaigns whose targets are orders.
        for (r, item) in &items {
            if let Item::Workorder(d) = item
                && self.model.workorders.get(&d.name.name).map(|w| w.0) == Some(*r)
            {
                let fields = self.workorder_fields(d);
                if let Some(w) = self.model.workorders.get_mut(&d.name.name) {
                    w.1 = fields;
                }
            }
        }
        for (r, item) in &items {
            if let Item::Campaign(d) = item
                && self.model.campaigns.get(&d.name.name).map(|c| c.0) == Some(*r)
            {
                let fields = self.campaign_fields(d);
                if let Some(c) = self.model.campaigns.get_mut(&d.name.name) {
                    c.1 = fields;
                }
            }
        }
        for (r, item) in items {
            match item {
                Item::CallData(d) if self.model.calldata_item == Some(r) => self.check_calldata(d),
                Item::Agent(d) => self.check_agent(d),
                Item::List(d) => self.check_list(d),
                Item::Calendar(d) => self.check_calendar(d),
                Item::Service(d) => self.check_service(d),
                Item::Queue(d) if self.model.queues.get(&d.name.name) == Some(&r) => {
                    self.check_queue(d)
                }
                Item::Campaign(d) => self.check_campaign(d),
                Item::Workorder(d) => self.check_workorder(d),
                _ => {}
            }
        }
    }

    fn check_calldata(&mut self, d: &CallDataDecl) {
        for f in &d.fields {
            let Some((_, t)) = self.model.calldata_field(&f.name.name) else {
                continue;
            };
            if let Some(def) = &f.default {
                let mut scope = Scope::new(ScopeKind::CallData, BTreeMap::new());
                self.expect_type(
                    def,
                    t,
                    &mut scope,
                    &format!("the default of data.{}", f.name),
                );
            }
        }
    }

    fn check_agent(&mut self, d: &AgentDecl) {
        let id = d.id.plain_lossy();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.err(
                Diagnostic::error(
                    "bad-agent",
                    d.id.span,
                    format!("`{id}` is not a usable agent id"),
                )
                .with_hint(
                    "agent ids are the phones' user names: letters and digits, such as \"1001\"",
                ),
            );
        }
        let mut seen: HashMap<String, Span> = HashMap::new();
        for s in &d.skills {
            if let Some(&first) = seen.get(&s.skill.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        s.skill.span,
                        format!("the skill `{}` is listed twice", s.skill),
                    )
                    .with_secondary(first, "first listed here"),
                );
            }
            seen.insert(s.skill.name.clone(), s.skill.span);
            match self.model.skills.get(&s.skill.name).copied() {
                None => {
                    let c = self.names_of("skill");
                    self.unknown("skill", &s.skill, c.iter().map(String::as_str));
                }
                Some((lo, hi)) => {
                    if let Some((lvl, span)) = s.level
                        && (lvl < lo as f64 || lvl > hi as f64 || lvl.fract() != 0.0)
                    {
                        self.err(Diagnostic::error(
                            "bad-level",
                            span,
                            format!("the skill `{}` has levels {lo} to {hi}", s.skill),
                        ));
                    }
                }
            }
        }
    }

    fn check_list(&mut self, d: &ListDecl) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut check_entries = |cx: &mut Self, entries: &[Text]| {
            for e in entries {
                let v = e.plain_lossy();
                let body = v.strip_prefix('+').unwrap_or(&v);
                let body = body.strip_suffix('*').unwrap_or(body);
                if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
                    cx.err(
                        Diagnostic::error(
                            "bad-number",
                            e.span,
                            format!("`{v}` is not a telephone number or prefix"),
                        )
                        .with_hint("write digits, optionally starting with + or ending with * for a prefix such as \"0755*\""),
                    );
                } else if let Some(&first) = seen.get(&v) {
                    cx.err(
                        Diagnostic::warning("duplicate", e.span, format!("{v} is listed twice"))
                            .with_secondary(first, "first listed here"),
                    );
                } else {
                    seen.insert(v, e.span);
                }
            }
        };
        check_entries(self, &d.entries);
        let mut cats: HashMap<String, Span> = HashMap::new();
        for c in &d.categories {
            if let Some(&first) = cats.get(&c.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        c.name.span,
                        format!(
                            "the list `{}` has two categories called `{}`",
                            d.name, c.name
                        ),
                    )
                    .with_secondary(first, "first defined here"),
                );
            }
            cats.insert(c.name.name.clone(), c.name.span);
            self.check_options(&c.options, options::LIST_CATEGORY, "a list category");
            check_entries(self, &c.entries);
        }
    }

    fn check_calendar(&mut self, d: &CalendarDecl) {
        match &d.timezone {
            Some(tz) => {
                let name = tz.plain_lossy();
                if name.parse::<chrono_tz::Tz>().is_err() {
                    self.err(
                        Diagnostic::error(
                            "bad-timezone",
                            tz.span,
                            format!("`{name}` is not a time zone I know"),
                        )
                        .with_hint(
                            "use an IANA name such as \"Asia/Shanghai\" or \"Europe/London\"",
                        ),
                    );
                }
            }
            None => self.err(
                Diagnostic::warning(
                    "no-timezone",
                    d.name.span,
                    format!(
                        "the calendar `{}` has no time zone; the server's will be used",
                        d.name
                    ),
                )
                .with_hint(
                    "add `timezone \"Asia/Shanghai\"` so opening hours do not move with the server",
                ),
            ),
        }
        let mut day_hours: [Option<Span>; 7] = [None; 7];
        for h in &d.hours {
            for r in &h.days {
                if r.from > r.to {
                    self.err(
                        Diagnostic::error(
                            "malformed-date",
                            r.span,
                            "this range of days runs backwards",
                        )
                        .with_hint("write the days in week order: mon-fri"),
                    );
                    continue;
                }
                for day in r.from..=r.to {
                    if let Some(first) = day_hours[day as usize] {
                        self.err(
                            Diagnostic::error(
                                "duplicate",
                                r.span,
                                format!("the hours of {} are given twice", weekday_name(day)),
                            )
                            .with_secondary(first, "first given here")
                            .with_hint("give all periods of a day on one line: hours mon 08:00-12:00, 14:00-18:00"),
                        );
                    } else {
                        day_hours[day as usize] = Some(r.span);
                    }
                }
            }
            self.check_periods(&h.periods);
        }
        let mut dates: BTreeMap<chrono::NaiveDate, Span> = BTreeMap::new();
        for sd in d.holidays.iter().chain(&d.workdays) {
            if let Some(h) = &sd.hours {
                self.check_periods(h);
            }
            for ds in &sd.dates {
                let mut day = ds.from;
                let mut n = 0;
                while day <= ds.to && n < 366 {
                    if let Some(&first) = dates.get(&day) {
                        self.err(
                            Diagnostic::error(
                                "duplicate",
                                ds.span,
                                format!("{day} is listed twice in the calendar `{}`", d.name),
                            )
                            .with_secondary(first, "first listed here")
                            .with_hint("a day is either a holiday or a special working day, once"),
                        );
                        break;
                    }
                    dates.insert(day, ds.span);
                    day = day.succ_opt().unwrap_or(day);
                    n += 1;
                }
                if n >= 366 {
                    self.err(Diagnostic::error(
                        "malformed-date",
                        ds.span,
                        "a date range may span at most a year",
                    ));
                }
            }
        }
    }

    fn check_periods(&mut self, periods: &[TimeRange]) {
        for (i, p) in periods.iter().enumerate() {
            if p.from >= p.to {
                self.err(
                    Diagnostic::error(
                        "malformed-time",
                        p.span,
                        "this opening period ends before it starts",
                    )
                    .with_hint("a period runs within a day, such as 08:00-20:00; write 22:00-24:00 and 00:00-06:00 for nights"),
                );
            }
            for q in &periods[..i] {
                if p.from < q.to && q.from < p.to {
                    self.err(
                        Diagnostic::error(
                            "overlap",
                            p.span,
                            "this period overlaps another one on the same day",
                        )
                        .with_secondary(q.span, "overlaps this"),
                    );
                }
            }
        }
    }

    fn check_service(&mut self, d: &ServiceDecl) {
        match &d.url {
            Some(u) => {
                let url = u.plain_lossy();
                if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                    self.err(
                        Diagnostic::error(
                            "bad-url",
                            u.span,
                            format!("`{url}` is not an http:// or https:// address"),
                        )
                        .with_hint("for example url \"http://crm.internal:8080/api\""),
                    );
                }
            }
            None => self.err(
                Diagnostic::error(
                    "bad-url",
                    d.name.span,
                    format!("the service `{}` has no url", d.name),
                )
                .with_hint("add `url \"http://...\"`"),
            ),
        }
        if let Some(t) = &d.timeout {
            self.check_duration(t, "the service's timeout");
        }
        for op in &d.operations {
            let params: BTreeMap<String, Type> = op
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.name.clone(),
                        Type::from_name(&p.ty_name()).unwrap_or(Type::Error),
                    )
                })
                .collect();
            for part in &op.path.parts {
                if let TextPart::Expr(e) = part {
                    match &e.kind {
                        ExprKind::Name(n) if params.contains_key(&n.name) => {}
                        _ => {
                            let hint = match &e.kind {
                                ExprKind::Name(n) => {
                                    did_you_mean(&n.name, params.keys().map(String::as_str))
                                        .map(|s| format!("did you mean `{{{s}}}`?"))
                                }
                                _ => None,
                            };
                            self.err(
                                Diagnostic::error(
                                    "unknown-name",
                                    e.span,
                                    format!(
                                        "`{}` is not a parameter of {}",
                                        self.snippet(e.span),
                                        op.name
                                    ),
                                )
                                .with_hint_opt(hint)
                                .with_hint(
                                    "the path may only use the operation's parameters in { }",
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    fn check_queue(&mut self, q: &QueueDecl) {
        let mut scope = Scope::new(ScopeKind::Queue, BTreeMap::new());
        let mut seen: HashMap<String, Span> = HashMap::new();
        for s in &q.skills {
            if let Some(&first) = seen.get(&s.skill.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        s.skill.span,
                        format!("the skill `{}` is required twice", s.skill),
                    )
                    .with_secondary(first, "first required here"),
                );
            }
            seen.insert(s.skill.name.clone(), s.skill.span);
            match self.model.skills.get(&s.skill.name).copied() {
                None => {
                    let c = self.names_of("skill");
                    self.unknown("skill", &s.skill, c.iter().map(String::as_str));
                    if let Some(d) = self.diags.last_mut() {
                        d.hints.push("every skill a queue requires must be declared with `skill NAME`, so agents and queues agree on the names".into());
                    }
                }
                Some((lo, hi)) => {
                    if let Some((lvl, span)) = s.min_level
                        && (lvl < lo as f64 || lvl > hi as f64)
                    {
                        self.err(Diagnostic::error(
                            "bad-level",
                            span,
                            format!("the skill `{}` has levels {lo} to {hi}", s.skill),
                        ));
                    }
                }
            }
        }
        if q.skills.is_empty() {
            self.err(
                Diagnostic::error(
                    "queue-no-skill",
                    q.name.span,
                    format!(
                        "the queue `{}` requires no skill, so no agent would be chosen for it",
                        q.name
                    ),
                )
                .with_hint("add `skills NAME` (for example `skills general >= 1`)"),
            );
        }
        match &q.strategy {
            Some(s) if !STRATEGIES.contains(&s.name.as_str()) => {
                let hint = did_you_mean(&s.name, STRATEGIES.iter().copied())
                    .map(|x| format!("did you mean `{x}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-strategy",
                        s.span,
                        format!("`{}` is not an agent-selection strategy", s.name),
                    )
                    .with_hint_opt(hint)
                    .with_hint(format!("the strategies are: {}", STRATEGIES.join(", "))),
                );
            }
            _ => {}
        }
        if let Some(p) = &q.priority {
            self.expect_type(p, Type::Number, &mut scope, "a queue priority");
        }
        if let Some(m) = &q.music {
            self.check_prompt(m, &mut scope);
        }
        for a in &q.announcements {
            self.check_duration(&a.every, "an announcement interval");
            match &a.what {
                AnnounceWhat::Prompt(p) => self.check_prompt(p, &mut scope),
                AnnounceWhat::Position => self.check_announcement_prompts(
                    a.span,
                    "position",
                    crate::announce::position_prompts(),
                ),
                AnnounceWhat::Wait => {
                    self.check_announcement_prompts(a.span, "wait", crate::announce::wait_prompts())
                }
            }
            if let Some(w) = &a.when {
                self.expect_type(w, Type::Bool, &mut scope, "an announcement condition");
            }
        }
        if let Some((d, dest, _)) = &q.max_wait {
            self.check_duration(d, "the maximum wait");
            self.check_destination(dest, &mut scope);
            if matches!(dest, Destination::Queue(t) if t.name == q.name.name) {
                self.err(Diagnostic::error(
                    "bad-destination",
                    dest.span(),
                    "a queue's maximum wait cannot send calls back into the same queue",
                ));
            }
        }
        for o in &q.overflows {
            if self.resolve_queue(&o.target) && o.target.name == q.name.name {
                self.err(Diagnostic::error(
                    "bad-destination",
                    o.target.span,
                    "a queue cannot overflow into itself",
                ));
            }
            self.expect_type(&o.when, Type::Bool, &mut scope, "an overflow condition");
        }
        let mut keys: HashMap<String, Span> = HashMap::new();
        for qk in &q.keys {
            let (k, span, dest) = (&qk.key, &qk.key_span, &qk.dest);
            if let Some(w) = &qk.when {
                self.expect_type(w, Type::Bool, &mut scope, "a key's condition");
            }
            if let Some(o) = &qk.offer {
                self.check_prompt(&o.prompt, &mut scope);
                self.check_duration(&o.every, "a key's offer interval");
            }
            if k.chars().count() != 1 || !k.chars().all(is_dtmf_key) {
                self.err(
                    Diagnostic::error("not-a-key", *span, format!("`{k}` is not a DTMF key"))
                        .with_hint("a cancel key is one key: 0-9, * or #"),
                );
            } else if let Some(&first) = keys.get(k) {
                self.err(
                    Diagnostic::error(
                        "duplicate-key",
                        *span,
                        format!("the key {k} is used twice in the queue `{}`", q.name),
                    )
                    .with_secondary(first, "first use"),
                );
            }
            keys.insert(k.clone(), *span);
            self.check_destination(dest, &mut scope);
        }
        if let Some(na) = &q.no_answer {
            self.check_duration(&na.timeout, "the agent no-answer time");
        }
        self.check_options(&q.agent_policy, options::AGENT_POLICY, "an agent policy");
        if let Some(w) = &q.wrap_up {
            self.check_duration(w, "the wrap-up time");
        }
        if let Some((cal, dest, _)) = &q.hours {
            self.resolve_calendar(cal);
            self.check_destination(dest, &mut scope);
        }
        if let Some((pct, d, span)) = &q.service_level {
            self.check_duration(d, "the service-level time");
            if *pct <= 0.0 || *pct > 1.0 {
                self.err(Diagnostic::error(
                    "option-out-of-range",
                    *span,
                    "a service level is a percentage above 0% and at most 100%",
                ));
            }
        }
    }

    fn campaign_fields(&mut self, c: &CampaignDecl) -> Vec<(String, Type)> {
        let mut out: Vec<(String, Type)> = Vec::new();
        if let Some(o) = &c.orders
            && let Some((_, fields)) = self.model.workorders.get(&o.kind.name)
        {
            out.push((
                crate::check::orders::ORDER_NUMBER_FIELD.to_string(),
                Type::Text,
            ));
            for f in fields {
                if f.name != crate::check::orders::ORDER_NUMBER_FIELD && f.ty != Type::Error {
                    out.push((f.name.clone(), f.ty));
                }
            }
        }
        if let Some(l) = &c.list {
            for (f, col) in &l.fields {
                if out.iter().any(|(n, _)| *n == f.name.name) {
                    self.err(Diagnostic::error(
                        "duplicate",
                        f.name.span,
                        format!("the field `{}` is mapped twice", f.name),
                    ));
                    continue;
                }
                if col.plain_lossy().trim().is_empty() {
                    self.err(Diagnostic::error(
                        "bad-field",
                        col.span,
                        "the column name is empty",
                    ));
                }
                let t = self.type_expr_scalar(&f.ty);
                if t == Type::Recording {
                    self.err(Diagnostic::error(
                        "bad-field",
                        f.ty.span(),
                        "a list cannot hold recordings",
                    ));
                }
                out.push((f.name.name.clone(), t));
            }
        }
        out
    }

    fn check_campaign(&mut self, c: &CampaignDecl) {
        let fields: BTreeMap<String, Type> = self
            .model
            .campaigns
            .get(&c.name.name)
            .map(|x| x.1.iter().cloned().collect())
            .unwrap_or_default();
        let mut scope = Scope::new(ScopeKind::Campaign, fields.clone());
        if let Some(o) = &c.orders {
            self.check_order_source(c, o);
        }
        match &c.list {
            None if c.orders.is_some() => {}
            None => self.err(
                Diagnostic::error(
                    "campaign-no-list",
                    c.name.span,
                    format!("the campaign `{}` has no list of numbers to call", c.name),
                )
                .with_hint("add `list NAME from \"file.csv\" { phone: text <- \"column\" }`"),
            ),
            Some(l) => {
                let src = l.source.plain_lossy().to_lowercase();
                if ![".csv", ".txt", ".xlsx", ".xls", ".ods"]
                    .iter()
                    .any(|x| src.ends_with(x))
                {
                    self.err(Diagnostic::error(
                        "bad-list-source",
                        l.source.span,
                        "a list is read from a .csv, .txt, .xlsx, .xls or .ods file",
                    ));
                }
                // The file is looked for only when the project was read from a
                // folder that exists; text checked on its own has no folder to
                // look in.
                let source = l.source.plain_lossy();
                if !matches!(self.project.prompts, crate::check::PromptIndex::Unchecked)
                    && self.project.root.is_dir()
                    && !self.project.root.join(&source).is_file()
                {
                    self.err(
                        Diagnostic::warning(
                            "missing-list-file",
                            l.source.span,
                            format!(
                                "the list file `{source}` is not in the project folder"
                            ),
                        )
                        .with_hint("the path is relative to the project folder, e.g. \"lists/arrears.csv\"; lists can also be imported later by the API or `dialect campaign import`, then point this at a sample file"),
                    );
                }
                if !fields.contains_key("phone") {
                    self.err(
                        Diagnostic::error(
                            "campaign-no-phone",
                            l.name.span,
                            "the list has no `phone` field, so there is no number to dial",
                        )
                        .with_hint("map the number column: phone: text <- \"手机号码\""),
                    );
                }
            }
        }
        for f in &c.filters {
            self.expect_type(f, Type::Bool, &mut scope, "a filter");
        }
        if let Some(cal) = &c.calendar {
            self.resolve_calendar(cal);
        }
        let mut day_types: HashMap<DayType, Span> = HashMap::new();
        for w in &c.windows {
            if let Some(&first) = day_types.get(&w.day_type) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        w.span,
                        "this day type already has a call window",
                    )
                    .with_secondary(first, "first given here"),
                );
            }
            day_types.insert(w.day_type, w.span);
            self.check_periods(&w.periods);
        }
        if c.windows.is_empty() {
            self.err(
                Diagnostic::error(
                    "campaign-no-window",
                    c.name.span,
                    format!("the campaign `{}` has no call windows", c.name),
                )
                .with_hint("add `window workday 09:00-12:00, 14:00-20:00` (and weekend / holiday)"),
            );
        } else if c.calendar.is_none() {
            self.err(
                Diagnostic::error(
                    "campaign-no-calendar",
                    c.name.span,
                    "call windows are given per day type, so the campaign needs a calendar",
                )
                .with_hint("add `calendar NAME` to tell workdays from weekends and holidays"),
            );
        }
        let mut outcomes: HashMap<Outcome, Span> = HashMap::new();
        for r in &c.retries {
            if let Some(&first) = outcomes.get(&r.outcome) {
                self.err(
                    Diagnostic::error("duplicate", r.span, "this outcome already has a retry rule")
                        .with_secondary(first, "first given here"),
                );
            }
            outcomes.insert(r.outcome, r.span);
            if let Some((d, max)) = &r.every {
                self.check_duration(d, "a retry interval");
                if *max == 0 || *max > 20 {
                    self.err(
                        Diagnostic::error(
                            "option-out-of-range",
                            r.span,
                            "the retry maximum must be from 1 to 20",
                        )
                        .with_hint("write `never` for no retry"),
                    );
                }
            }
        }
        if let Some(m) = &c.mode {
            if !MODES.contains(&m.mode.name.as_str()) {
                let hint = did_you_mean(&m.mode.name, MODES.iter().copied())
                    .map(|x| format!("did you mean `{x}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-mode",
                        m.mode.span,
                        format!("`{}` is not a dialing mode", m.mode.name),
                    )
                    .with_hint_opt(hint)
                    .with_hint(format!("the modes are: {}", MODES.join(", "))),
                );
            }
            self.check_options(&m.options, options::CAMPAIGN_MODE, "a campaign mode");
            if let (Some(lo), Some(hi)) = (
                options::number(&m.options, "min ratio"),
                options::number(&m.options, "max ratio"),
            ) && lo > hi
                && let Some(o) = options::find(&m.options, "min ratio")
            {
                self.err(Diagnostic::error(
                    "option-out-of-range",
                    o.span,
                    "the minimum ratio is above the maximum",
                ));
            }
            match (&m.dest, m.mode.name.as_str()) {
                (None, "manual") => {}
                (None, _) => self.err(
                    Diagnostic::error(
                        "campaign-no-destination",
                        m.span,
                        "what should an answered call do?",
                    )
                    .with_hint("add `-> flow NAME` (ivr mode) or `-> queue NAME` (agent modes)"),
                ),
                (Some(Destination::Flow(f)), _) => {
                    // A campaign flow may take the record's fields as arguments, by name.
                    match self.model.flows.get(&f.name).cloned() {
                        None => {
                            let cands = self.names_of("flow");
                            self.unknown("flow", f, cands.iter().map(String::as_str));
                        }
                        Some(info) => {
                            for (pn, pt) in &info.params {
                                match fields.get(pn) {
                                    Some(ft) if ft == pt => {}
                                    Some(ft) => self.err(Diagnostic::error(
                                        "type-mismatch",
                                        f.span,
                                        format!("the flow `{f}` takes `{pn}` as {pt}, but the list's `{pn}` is {ft}"),
                                    )),
                                    None => self.err(
                                        Diagnostic::error(
                                            "wrong-arguments",
                                            f.span,
                                            format!("the flow `{f}` needs `{pn}`, which is not a field of the list"),
                                        )
                                        .with_hint("a campaign passes the list's fields to the flow's parameters of the same name"),
                                    ),
                                }
                            }
                        }
                    }
                }
                (Some(d), _) => self.check_destination(d, &mut scope),
            }
        } else {
            self.err(
                Diagnostic::error(
                    "campaign-no-mode",
                    c.name.span,
                    format!("the campaign `{}` has no dialing mode", c.name),
                )
                .with_hint("add `mode ivr -> flow NAME` or `mode predictive (...) -> queue NAME`"),
            );
        }
        if let Some(media) = &c.media
            && !["voice", "sms", "email", "fax"].contains(&media.name.as_str())
        {
            self.err(
                Diagnostic::error(
                    "unknown-media",
                    media.span,
                    format!("`{}` is not a media type", media.name),
                )
                .with_hint("the media types are: voice, sms, email, fax"),
            );
        }
        for (n, span) in [c.max_attempts, c.max_attempts_per_day]
            .into_iter()
            .flatten()
        {
            if n == 0 {
                self.err(
                    Diagnostic::error("bad-number", span, "a target needs at least one attempt")
                        .with_hint("write `max attempts 1` or more"),
                );
            }
        }
        if let (Some((total, _)), Some((per_day, span))) = (c.max_attempts, c.max_attempts_per_day)
            && per_day > total
        {
            self.err(
                Diagnostic::warning(
                    "unreachable-limit",
                    span,
                    format!("at most {total} attempts in all, so {per_day} a day is never reached"),
                )
                .with_hint(format!("write `max attempts per day {total}` or fewer")),
            );
        }
        if let Some((Some(settings), _)) = &c.machine_detection {
            self.check_options(settings, options::MACHINE_DETECTION, "machine detection");
        }
        let mut codes: HashMap<&str, Span> = HashMap::new();
        for d in &c.dispositions {
            if let Some(first) = codes.insert(d.name.name.as_str(), d.name.span) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        d.name.span,
                        format!("the disposition `{}` is declared twice", d.name),
                    )
                    .with_secondary(first, "first declared here"),
                );
            }
            if let Some(r) = &d.retry_in {
                self.check_duration(r, "the time before the target is dialled again");
            }
        }
        if let Some((p, within, _)) = &c.dropped {
            let mut s = Scope::new(ScopeKind::Flow, BTreeMap::new());
            self.check_prompt(p, &mut s);
            if let Some(w) = within {
                self.check_duration(w, "the time before the dropped-call message");
            }
        }
        for (rule, reason, _) in &c.allows {
            if !ALLOWABLE_RULES.contains(&rule.name.as_str()) {
                let hint = did_you_mean(&rule.name, ALLOWABLE_RULES.iter().copied())
                    .map(|x| format!("did you mean `{x}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-rule",
                        rule.span,
                        format!("`{}` is not a rule that can be waived", rule.name),
                    )
                    .with_hint_opt(hint)
                    .with_hint(format!("the rules are: {}", ALLOWABLE_RULES.join(", "))),
                );
            }
            if reason.plain_lossy().trim().chars().count() < 10 {
                self.err(
                    Diagnostic::error(
                        "allow-needs-reason",
                        reason.span,
                        "waiving a rule needs a reason someone can check later",
                    )
                    .with_hint(
                        "say why the rule does not apply, e.g. the regulator's exemption number",
                    ),
                );
            }
        }
        if let Some(tz) = &c.timezone
            && tz.plain_lossy().parse::<chrono_tz::Tz>().is_err()
        {
            self.err(
                Diagnostic::error(
                    "bad-timezone",
                    tz.span,
                    format!("`{}` is not a time zone I know", tz.plain_lossy()),
                )
                .with_hint("use an IANA name such as \"Asia/Shanghai\""),
            );
        }
    }

    fn workorder_fields(&mut self, d: &WorkorderDecl) -> Vec<WorkorderFieldInfo> {
        let mut out: Vec<WorkorderFieldInfo> = Vec::new();
        for f in &d.fields {
            if let Some(first) = out.iter().position(|x| x.name == f.name.name) {
                let first_span = d.fields[first].name.span;
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        f.name.span,
                        format!("the field `{}` is declared twice", f.name),
                    )
                    .with_secondary(first_span, "first declared here"),
                );
                continue;
            }
            let (ty, kind, values) = match &f.ty {
                TypeExpr::Enum(vals, span) => {
                    let mut vs: Vec<String> = Vec::new();
                    for v in vals {
                        if vs.contains(&v.name) {
                            self.err(Diagnostic::error(
                                "duplicate",
                                v.span,
                                format!("the value `{}` is listed twice", v.name),
                            ));
                        } else {
                            vs.push(v.name.clone());
                        }
                    }
                    if vs.is_empty() {
                        self.err(Diagnostic::error(
                            "bad-field",
                            *span,
                            "an enum needs values",
                        ));
                    }
                    (Type::Text, "enum".to_string(), vs)
                }
                TypeExpr::Named(n) => {
                    if !WORKORDER_FIELD_TYPES.contains(&n.name.as_str()) {
                        let hint = did_you_mean(&n.name, WORKORDER_FIELD_TYPES.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"));
                        self.err(
                            Diagnostic::error(
                                "unknown-type",
                                n.span,
                                format!("`{}` is not a workorder field type", n.name),
                            )
                            .with_hint_opt(hint)
                            .with_hint(format!(
                                "the field types are: {}, enum(a, b, ...)",
                                WORKORDER_FIELD_TYPES[..8].join(", ")
                            )),
                        );
                        (Type::Error, n.name.clone(), Vec::new())
                    } else {
                        (
                            Type::from_name(&n.name).unwrap_or(Type::Error),
                            n.name.clone(),
                            Vec::new(),
                        )
                    }
                }
            };
            out.push(WorkorderFieldInfo {
                name: f.name.name.clone(),
                ty,
                kind,
                values,
                required: f.required,
                sensitive: f.sensitive,
            });
        }
        out
    }

    fn check_workorder(&mut self, d: &WorkorderDecl) {
        let fields: BTreeMap<String, Type> = self
            .model
            .workorders
            .get(&d.name.name)
            .map(|w| w.1.iter().map(|f| (f.name.clone(), f.ty)).collect())
            .unwrap_or_default();
        let mut scope = Scope::new(ScopeKind::Workorder, fields);
        if let Some(c) = &d.calendar {
            self.resolve_calendar(c);
        }
        let mut states: BTreeMap<String, &WorkorderState> = BTreeMap::new();
        for s in &d.states {
            if let Some(first) = states.get(&s.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        s.name.span,
                        format!("the state `{}` is declared twice", s.name),
                    )
                    .with_secondary(first.name.span, "first declared here"),
                );
                continue;
            }
            states.insert(s.name.name.clone(), s);
            if s.initial && s.is_final {
                self.err(Diagnostic::error(
                    "bad-state",
                    s.name.span,
                    "a state cannot be both initial and final",
                ));
            }
            if let Some(l) = &s.limit {
                self.check_duration(&l.duration, "a time limit");
                if l.business && d.calendar.is_none() {
                    self.err(
                        Diagnostic::error(
                            "no-calendar",
                            l.duration.span,
                            "a limit in business hours needs the workorder's calendar",
                        )
                        .with_hint("add `calendar NAME` to the workorder"),
                    );
                }
                for r in &s.reminders {
                    match &r.when {
                        RemindWhen::Before(b) => {
                            self.check_duration(b, "a reminder time");
                            if b.millis >= l.duration.millis && !l.duration.unitless {
                                self.err(
                                    Diagnostic::error(
                                        "bad-reminder",
                                        b.span,
                                        "this reminder would come before the order even reaches the state",
                                    )
                                    .with_hint("a reminder `before` the limit must be shorter than the limit"),
                                );
                            }
                        }
                        RemindWhen::Fraction(f, span) => {
                            if *f <= 0.0 || *f > 1.0 {
                                self.err(Diagnostic::error(
                                    "bad-reminder",
                                    *span,
                                    "a reminder comes between 0% and 100% of the limit",
                                ));
                            }
                        }
                        RemindWhen::AtLimit => {}
                    }
                    self.check_targets(&r.to);
                }
                for e in &s.escalations {
                    if let Some(a) = &e.after {
                        self.check_duration(a, "an escalation delay");
                    }
                    self.check_targets(&e.to);
                }
            } else if !s.reminders.is_empty() || !s.escalations.is_empty() {
                let span = s
                    .reminders
                    .first()
                    .map(|r| r.span)
                    .or(s.escalations.first().map(|e| e.span))
                    .unwrap_or(s.span);
                self.err(
                    Diagnostic::error(
                        "bad-reminder",
                        span,
                        "reminders and escalations count from the state's time limit, and this state has none",
                    )
                    .with_hint("add `limit 4h` (or `limit 4h business`) to the state"),
                );
            }
            if s.is_final && s.limit.is_some() {
                self.err(Diagnostic::warning(
                    "bad-state",
                    s.name.span,
                    "a final state's time limit never matters",
                ));
            }
        }
        let initials: Vec<&WorkorderState> = d.states.iter().filter(|s| s.initial).collect();
        if initials.is_empty() && !d.states.is_empty() {
            self.err(
                Diagnostic::error(
                    "no-initial-state",
                    d.name.span,
                    format!("the workorder `{}` has no initial state", d.name),
                )
                .with_hint("mark the state new orders start in: state new initial"),
            );
        }
        for extra in initials.iter().skip(1) {
            self.err(
                Diagnostic::error(
                    "bad-state",
                    extra.name.span,
                    "only one state can be initial",
                )
                .with_secondary(initials[0].name.span, "the first initial state"),
            );
        }
        if !d.states.iter().any(|s| s.is_final) {
            self.err(
                Diagnostic::error(
                    "no-final-state",
                    d.name.span,
                    format!(
                        "the workorder `{}` has no final state, so no order can ever be finished",
                        d.name
                    ),
                )
                .with_hint("mark the end state: state closed final"),
            );
        }
        let mut names: HashMap<String, Span> = HashMap::new();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for t in &d.transitions {
            if let Some(&first) = names.get(&t.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        t.name.span,
                        format!("there are two transitions called `{}`", t.name),
                    )
                    .with_secondary(first, "first defined here"),
                );
            }
            names.insert(t.name.name.clone(), t.name.span);
            let mut ok = true;
            for s in [&t.from, &t.to] {
                if !states.contains_key(&s.name) {
                    let cands: Vec<String> = states.keys().cloned().collect();
                    self.unknown("state", s, cands.iter().map(String::as_str));
                    ok = false;
                }
            }
            if ok {
                edges
                    .entry(t.from.name.clone())
                    .or_default()
                    .insert(t.to.name.clone());
            }
            for role in &t.roles {
                self.check_role(role);
            }
            if let Some(g) = &t.guard {
                self.expect_type(g, Type::Bool, &mut scope, "a transition guard");
            }
            let is_final = |n: &str| states.get(n).is_some_and(|s| s.is_final);
            match t.kind {
                Some(TransitionKind::Close) if ok && !is_final(&t.to.name) => self.err(
                    Diagnostic::error(
                        "bad-transition",
                        t.to.span,
                        format!("a `close` transition must end in a final state, and `{}` is not final", t.to),
                    )
                    .with_hint("mark the closed state `final`, or drop `close` from the transition"),
                ),
                Some(TransitionKind::Reopen) if ok && !is_final(&t.from.name) => self.err(
                    Diagnostic::error(
                        "bad-transition",
                        t.from.span,
                        format!("a `reopen` transition must start from a final state, and `{}` is not final", t.from),
                    )
                    .with_hint("`reopen` brings a finished order back; use another kind for other transitions"),
                ),
                _ => {}
            }
        }
        let mut links: HashMap<String, Span> = HashMap::new();
        for l in &d.links {
            if let Some(&first) = links.get(&l.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        l.span,
                        format!("the link kind `{}` is listed twice", l.name),
                    )
                    .with_secondary(first, "first listed here"),
                );
            }
            links.insert(l.name.clone(), l.span);
        }
        self.check_triggers(d, &states);
        for sl in &d.span_limits {
            for s in [&sl.target, &sl.from] {
                if !states.contains_key(&s.name) {
                    let cands: Vec<String> = states.keys().cloned().collect();
                    self.unknown("state", s, cands.iter().map(String::as_str));
                }
            }
            if sl.target.name == sl.from.name {
                self.err(
                    Diagnostic::error(
                        "bad-limit",
                        sl.from.span,
                        "a limit from a state to the same state is the state's own limit",
                    )
                    .with_hint(format!(
                        "write `limit ...` on the state `{}` instead",
                        sl.from
                    )),
                );
            }
            self.check_duration(&sl.duration, "a time limit");
            if sl.business && d.calendar.is_none() {
                self.err(
                    Diagnostic::error(
                        "no-calendar",
                        sl.duration.span,
                        "a limit in business hours needs the workorder's calendar",
                    )
                    .with_hint("add `calendar NAME` to the workorder"),
                );
            }
            for r in &sl.reminders {
                if let RemindWhen::Before(b) = &r.when {
                    self.check_duration(b, "a reminder time");
                }
                self.check_targets(&r.to);
            }
            for e in &sl.escalations {
                if let Some(a) = &e.after {
                    self.check_duration(a, "an escalation delay");
                }
                self.check_targets(&e.to);
            }
        }
        // Reachability from the initial state, and states that cannot be left
        // (skipped when a transition names an unknown state: that error comes first).
        let all_known = d
            .transitions
            .iter()
            .all(|t| states.contains_key(&t.from.name) && states.contains_key(&t.to.name));
        if !all_known {
            return;
        }
        if let Some(init) = initials.first() {
            let mut reach: BTreeSet<String> = BTreeSet::new();
            let mut queue = VecDeque::from([init.name.name.clone()]);
            while let Some(s) = queue.pop_front() {
                if reach.insert(s.clone())
                    && let Some(next) = edges.get(&s)
                {
                    queue.extend(next.iter().cloned());
                }
            }
            for s in &d.states {
                if !reach.contains(&s.name.name) {
                    self.err(
                        Diagnostic::error(
                            "unreachable-state",
                            s.name.span,
                            format!("no order can ever reach the state `{}`", s.name),
                        )
                        .with_hint(format!(
                            "add a transition into it, for example `transition NAME: {} -> {} by handler`",
                            init.name, s.name
                        )),
                    );
                }
            }
        }
        for s in &d.states {
            if !s.is_final && edges.get(&s.name.name).is_none_or(|e| e.is_empty()) {
                self.err(
                    Diagnostic::error(
                        "dead-end-state",
                        s.name.span,
                        format!("an order in the state `{}` can never leave it", s.name),
                    )
                    .with_hint("add a transition out of it, or mark it `final`"),
                );
            }
        }
    }

    /// Reminder and escalation targets are roles or departments.
    fn check_targets(&mut self, targets: &[Ident]) {
        for t in targets {
            if !self.is_role(&t.name) && !self.model.departments.contains_key(&t.name) {
                let mut cands = self.role_names();
                cands.extend(self.model.departments.keys().cloned());
                let hint = did_you_mean(&t.name, cands.iter().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-role",
                        t.span,
                        format!("`{}` is neither a role nor a department", t.name),
                    )
                    .with_hint_opt(hint)
                    .with_hint("reminders and escalations go to a role (handler, supervisor, ...), a role declared with `role NAME`, or a declared department"),
                );
            }
        }
    }
}

trait TypeName {
    fn ty_name(&self) -> String;
}

impl TypeName for TypedField {
    fn ty_name(&self) -> String {
        match &self.ty {
            TypeExpr::Named(n) => n.name.clone(),
            TypeExpr::Enum(..) => "text".to_string(),
        }
    }
}

fn weekday_name(d: u8) -> &'static str {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .get(d as usize)
    .copied()
    .unwrap_or("?")
}

impl Checker<'_> {
    /// `announce position` and `announce wait` are made of numbered prompts
    /// (see [`crate::announce`]): reports the ones the project lacks.
    fn check_announcement_prompts(&mut self, span: Span, what: &str, names: Vec<String>) {
        if matches!(self.project.prompts, crate::check::PromptIndex::Unchecked) {
            return;
        }
        let langs = self.model.languages.clone();
        let missing: Vec<String> = names
            .into_iter()
            .filter(|n| {
                !(self.project.prompts.has(n, None)
                    || langs.iter().any(|l| self.project.prompts.has(n, Some(l))))
            })
            .collect();
        let Some(first) = missing.first() else {
            return;
        };
        let list = if missing.len() > 3 {
            format!("{}, ... ({} files)", missing[..3].join(", "), missing.len())
        } else {
            missing.join(", ")
        };
        let example = if what == "position" {
            "queue_position_1.wav (\"you are number 1 in the queue\") to queue_position_20.wav, and queue_position_more.wav for more than 20"
        } else {
            "queue_wait_1m.wav (\"about one minute\") to queue_wait_30m.wav, and queue_wait_more.wav for more than 30 minutes"
        };
        self.err(
            Diagnostic::error(
                "missing-prompt",
                span,
                format!(
                    "announcing the {what} needs the prompt {first}, which is not under prompts/"
                ),
            )
            .with_label(format!("missing: {list}"))
            .with_hint(format!("record {example}")),
        );
    }
}
