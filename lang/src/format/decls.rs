//! Printing top-level declarations: the one-line ones, lists, calendars,
//! services, flows' headers, queues, campaigns and workorders, each clause on its
//! own line in the order it was written.

use super::expr::*;
use super::{Part, Printer};
use crate::ast::*;
use crate::literal::duration_to_string;

impl<'a> Printer<'a> {
    pub(super) fn module(&mut self, m: &'a Module) {
        let mut prev_multi = false;
        for (i, item) in m.items.iter().enumerate() {
            let first = self.lines.len();
            self.item(item);
            if self.lines.len() == first {
                continue;
            }
            let multi = self.lines.len() - first > 1;
            let lo = self.lines[first].lo;
            self.lines[first].blank = self.blank_before(lo);
            self.lines[first].sep = i > 0 && (multi || prev_multi);
            prev_multi = multi;
        }
    }

    pub(super) fn label(label: &Option<Text>) -> String {
        label
            .as_ref()
            .map(|t| format!(" {}", text_to_string(t)))
            .unwrap_or_default()
    }

    pub(super) fn item(&mut self, item: &'a Item) {
        match item {
            Item::Import(d) => {
                let path = &self.src[d.path_span.range()];
                self.push(format!("import {path}"), d.span.start, d.span.end);
            }
            Item::Const(d) => {
                let t = format!("const {} = {}", d.name.name, expr_to_string(&d.value));
                self.push(t, d.span.start, d.span.end);
            }
            Item::Languages(d) => {
                let t = format!("languages {}", idents(&d.languages));
                self.push(t, d.span.start, d.span.end);
            }
            Item::CallData(d) => {
                let open = self.find(d.span.start, b'{');
                let close = d.span.end - 1;
                self.braced(
                    "calldata".into(),
                    d.span.start,
                    open,
                    close,
                    d.fields.is_empty(),
                    |p| {
                        let parts = d
                            .fields
                            .iter()
                            .map(|f| {
                                let mut t = format!("{}: {}", f.name.name, type_to_string(&f.ty));
                                let mut hi = f.ty.span().end;
                                if let Some(e) = &f.default {
                                    t.push_str(&format!(" = {}", expr_to_string(e)));
                                    hi = e.span.end;
                                }
                                (f.name.span.start, Part::Line(t, f.name.span.start, hi))
                            })
                            .collect();
                        p.parts(parts);
                    },
                );
            }
            Item::Skill(d) => {
                let mut t = format!("skill {}", idents(&d.names));
                if let Some((a, b, _)) = d.levels {
                    t.push_str(&format!(" levels {a}..{b}"));
                }
                self.push(t, d.span.start, d.span.end);
            }
            Item::Department(d) => {
                let t = format!("department {}{}", d.name.name, Self::label(&d.label));
                self.push(t, d.span.start, d.span.end);
            }
            Item::Role(d) => {
                let t = format!("role {}{}", d.name.name, Self::label(&d.label));
                self.push(t, d.span.start, d.span.end);
            }
            Item::Agent(d) => {
                let skills = d
                    .skills
                    .iter()
                    .map(|s| match s.level {
                        Some((l, _)) => format!("{} {}", s.skill.name, number_to_string(l)),
                        None => s.skill.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let body = if skills.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ skills {skills} }}")
                };
                let t = format!(
                    "agent {}{} {body}",
                    text_to_string(&d.id),
                    Self::label(&d.label)
                );
                self.push(t, d.span.start, d.span.end);
            }
            Item::List(d) => self.list(d),
            Item::Calendar(d) => self.calendar(d),
            Item::Service(d) => self.service(d),
            Item::Flow(d) => self.flow(d),
            Item::Queue(d) => self.queue(d),
            Item::Campaign(d) => self.campaign(d),
            Item::Workorder(d) => self.workorder(d),
        }
    }

    /// The end of a header made of a name and an optional label.
    pub(super) fn header_end(name: &Ident, label: &Option<Text>) -> u32 {
        label.as_ref().map_or(name.span.end, |l| l.span.end)
    }

    pub(super) fn list(&mut self, d: &'a ListDecl) {
        let header = format!("list {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let empty = d.entries.is_empty() && d.categories.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            let mut parts = Vec::new();
            for c in &d.categories {
                parts.push((c.span.start, Part::Category(c)));
            }
            // Entries between two categories print as one filled run.
            let mut runs: Vec<(u32, Vec<&Text>)> = Vec::new();
            for e in &d.entries {
                let after_category = d
                    .categories
                    .iter()
                    .filter(|c| c.span.start < e.span.start)
                    .count();
                match runs.last_mut() {
                    Some((_, run))
                        if d.categories
                            .iter()
                            .filter(|c| run[0].span.start > c.span.start)
                            .count()
                            == after_category
                            && !p.blank_before(e.span.start) =>
                    {
                        run.push(e)
                    }
                    _ => runs.push((e.span.start, vec![e])),
                }
            }
            for (pos, run) in runs {
                parts.push((pos, Part::Entries(run)));
            }
            p.parts(parts);
        });
    }

    pub(super) fn category(&mut self, c: &'a ListCategory) {
        let mut header = format!("category {}{}", c.name.name, Self::label(&c.label));
        let mut end = Self::header_end(&c.name, &c.label);
        if !c.options.is_empty() {
            header.push(' ');
            header.push_str(&options_to_string(&c.options));
            end = c.options.last().map_or(end, |o| o.span.end);
        }
        let open = self.find(end, b'{');
        self.braced(
            header,
            c.span.start,
            open,
            c.span.end - 1,
            c.entries.is_empty(),
            |p| {
                let entries: Vec<&Text> = c.entries.iter().collect();
                if !entries.is_empty() {
                    p.parts(vec![(entries[0].span.start, Part::Entries(entries))]);
                }
            },
        );
    }

    pub(super) fn calendar(&mut self, d: &'a CalendarDecl) {
        let header = format!("calendar {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let mut parts = Vec::new();
        if let Some(tz) = &d.timezone {
            let lo = self.back_over(tz.span.start, &["timezone"]);
            let t = format!("timezone {}", text_to_string(tz));
            parts.push((lo, Part::Line(t, lo, tz.span.end)));
        }
        for h in &d.hours {
            let t = format!(
                "hours {} {}",
                days_to_string(&h.days),
                periods_to_string(&h.periods, "closed")
            );
            parts.push((h.span.start, Part::Line(t, h.span.start, h.span.end)));
        }
        for (word, days) in [("holiday", &d.holidays), ("workday", &d.workdays)] {
            for s in days {
                let mut t = format!("{word} {}{}", date_spans_to_string(&s.dates), {
                    Self::label(&s.label)
                });
                if let Some(h) = &s.hours {
                    t.push_str(&format!(" hours {}", periods_to_string(h, "closed")));
                }
                parts.push((s.span.start, Part::Line(t, s.span.start, s.span.end)));
            }
        }
        let empty = parts.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    pub(super) fn service(&mut self, d: &'a ServiceDecl) {
        let header = format!("service {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let mut parts = Vec::new();
        if let Some(u) = &d.url {
            let lo = self.back_over(u.span.start, &["url"]);
            parts.push((
                lo,
                Part::Line(format!("url {}", text_to_string(u)), lo, u.span.end),
            ));
        }
        if let Some(t) = &d.timeout {
            let lo = self.back_over(t.span.start, &["timeout"]);
            let s = format!("timeout {}", self.duration_lit(t));
            parts.push((lo, Part::Line(s, lo, t.span.end)));
        }
        if let Some((meaning, span)) = &d.not_found {
            let word = match meaning {
                NotFound::Answer => "answer",
                NotFound::Else => "else",
            };
            parts.push((
                span.start,
                Part::Line(format!("not found -> {word}"), span.start, span.end),
            ));
        }
        for o in &d.operations {
            parts.push((o.span.start, Part::Operation(o)));
        }
        let empty = parts.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    pub(super) fn operation(&mut self, o: &'a ServiceOperation) {
        let method = match o.method {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
        };
        let header = format!(
            "{method} {} {} ({}) ->{}",
            o.name.name,
            text_to_string(&o.path),
            typed_fields(&o.params),
            if o.list { " list of" } else { "" }
        );
        let after = o.params.last().map_or(o.path.span.end, |f| f.ty.span().end);
        let open = self.find(self.find(after, b'>'), b'{');
        self.braced(
            header,
            o.span.start,
            open,
            o.span.end - 1,
            o.fields.is_empty(),
            |p| p.fill_fields(&o.fields),
        );
    }

    /// A duration literal; a bare number (no unit) is printed back as a bare number.
    pub(super) fn duration_lit(&self, d: &DurationLit) -> String {
        if !d.unitless {
            return duration_to_string(d.millis);
        }
        let written = self.src.get(d.span.range()).unwrap_or("").trim();
        match written.parse::<f64>() {
            Ok(v) if (v * 1000.0) as i64 == d.millis => number_to_string(v),
            _ => written.to_string(),
        }
    }

    pub(super) fn flow(&mut self, f: &'a FlowDecl) {
        let mut header = format!("flow {}", f.name.name);
        if !f.params.is_empty() {
            header.push_str(&format!("({})", typed_fields(&f.params)));
        }
        if let Some(r) = &f.returns {
            header.push_str(&format!(" -> {}", type_to_string(r)));
        }
        header.push_str(&Self::label(&f.label));
        if !f.numbers.is_empty() {
            let n = f
                .numbers
                .iter()
                .map(text_to_string)
                .collect::<Vec<_>>()
                .join(", ");
            header.push_str(&format!(" on {n}"));
        }
        self.block_after(header, f.span.start, &f.body);
    }

    /// `header {` statements `}` for a block whose braces are in the source.
    pub(super) fn block_after(&mut self, header: String, lo: u32, b: &'a Block) {
        self.braced(
            header,
            lo,
            b.span.start,
            b.span.end.saturating_sub(1),
            b.stmts.is_empty(),
            |p| p.stmts(&b.stmts),
        );
    }

    pub(super) fn stmts(&mut self, stmts: &'a [Stmt]) {
        let parts = stmts
            .iter()
            .map(|s| (s.span.start, Part::Stmt(s)))
            .collect();
        self.parts(parts);
    }

    pub(super) fn queue(&mut self, q: &'a QueueDecl) {
        let header = format!("queue {}{}", q.name.name, Self::label(&q.label));
        let open = self.find(Self::header_end(&q.name, &q.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        let mut add = |lo: u32, text: String, hi: u32| parts.push((lo, Part::Line(text, lo, hi)));
        if let Some(first) = q.skills.first() {
            let lo = self.back_over(first.skill.span.start, &["skills"]);
            let s = q
                .skills
                .iter()
                .map(|s| match s.min_level {
                    Some((l, _)) => format!("{} >= {}", s.skill.name, number_to_string(l)),
                    None => s.skill.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let hi = q.skills.last().map_or(0, |s| {
                s.min_level.map_or(s.skill.span.end, |(_, sp)| sp.end)
            });
            add(lo, format!("skills {s}"), hi);
        }
        if let Some(s) = &q.strategy {
            let lo = self.back_over(s.span.start, &["strategy"]);
            add(lo, format!("strategy {}", s.name), s.span.end);
        }
        if let Some(e) = &q.priority {
            let lo = self.back_over(e.span.start, &["priority"]);
            add(lo, format!("priority {}", expr_to_string(e)), e.span.end);
        }
        if let Some(e) = &q.music {
            let lo = self.back_over(e.span.start, &["music"]);
            add(lo, format!("music {}", expr_to_string(e)), e.span.end);
        }
        for a in &q.announcements {
            let what = match &a.what {
                AnnounceWhat::Position => "position".to_string(),
                AnnounceWhat::Wait => "wait".to_string(),
                AnnounceWhat::Prompt(e) => expr_to_string(e),
            };
            let mut t = format!("announce {what} every {}", self.duration_lit(&a.every));
            if let Some(w) = &a.when {
                t.push_str(&format!(" when {}", expr_to_string(w)));
            }
            add(a.span.start, t, a.span.end);
        }
        if let Some((d, dest, span)) = &q.max_wait {
            let t = format!(
                "max wait {} -> {}",
                self.duration_lit(d),
                dest_to_string(dest)
            );
            add(span.start, t, span.end);
        }
        for o in &q.overflows {
            let dir = match o.direction {
                OverflowDirection::Up => "up",
                OverflowDirection::Down => "down",
            };
            let t = format!(
                "overflow {dir} to {} when {}",
                o.target.name,
                expr_to_string(&o.when)
            );
            add(o.span.start, t, o.span.end);
        }
        for k in &q.keys {
            let lo = self.back_over(k.key_span.start, &["key"]);
            let when = k
                .when
                .as_ref()
                .map(|w| format!(" when {}", expr_to_string(w)))
                .unwrap_or_default();
            let offer = k
                .offer
                .as_ref()
                .map(|o| {
                    format!(
                        " offer {} every {}",
                        expr_to_string(&o.prompt),
                        self.duration_lit(&o.every)
                    )
                })
                .unwrap_or_default();
            let end = k
                .when
                .as_ref()
                .map(|w| w.span.end)
                .or(k.offer.as_ref().map(|o| o.span.end))
                .unwrap_or(k.dest.span().end);
            add(
                lo,
                format!("key {} -> {}{offer}{when}", k.key, dest_to_string(&k.dest)),
                end,
            );
        }
        if let Some(n) = &q.no_answer {
            let action = match n.action {
                NoAnswerAction::RequeueFirst => "requeue first",
                NoAnswerAction::Requeue => "requeue",
                NoAnswerAction::NextAgent => "next agent",
            };
            let t = format!("no answer {} -> {action}", self.duration_lit(&n.timeout));
            add(n.span.start, t, n.span.end);
        }
        if let Some(first) = q.agent_policy.first() {
            let lo = self.back_over(first.span.start, &["agent", "policy", "("]);
            let hi = q.agent_policy.last().map_or(0, |o| o.span.end);
            let t = format!("agent policy {}", options_to_string(&q.agent_policy));
            add(lo, t, hi);
        }
        if let Some(d) = &q.wrap_up {
            let lo = self.back_over(d.span.start, &["wrap", "up"]);
            add(lo, format!("wrap up {}", self.duration_lit(d)), d.span.end);
        }
        if let Some((cal, dest, span)) = &q.hours {
            let t = format!("hours {} closed -> {}", cal.name, dest_to_string(dest));
            add(span.start, t, span.end);
        }
        if let Some((pct, d, span)) = &q.service_level {
            let t = format!(
                "service level {} within {}",
                percent_to_string(*pct),
                self.duration_lit(d)
            );
            add(span.start, t, span.end);
        }
        let empty = parts.is_empty();
        self.braced(header, q.span.start, open, q.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    pub(super) fn campaign(&mut self, c: &'a CampaignDecl) {
        let header = format!("campaign {}{}", c.name.name, Self::label(&c.label));
        let open = self.find(Self::header_end(&c.name, &c.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        let mut add = |lo: u32, text: String, hi: u32| parts.push((lo, Part::Line(text, lo, hi)));
        for f in &c.filters {
            let lo = self.back_over(f.span.start, &["filter"]);
            add(lo, format!("filter {}", expr_to_string(f)), f.span.end);
        }
        if let Some(m) = &c.mode {
            let mut t = format!("mode {}", m.mode.name);
            if !m.options.is_empty() {
                t.push(' ');
                t.push_str(&options_to_string(&m.options));
            }
            if let Some(d) = &m.dest {
                t.push_str(&format!(" -> {}", dest_to_string(d)));
            }
            add(m.span.start, t, m.span.end);
        }
        if let Some(cal) = &c.calendar {
            let lo = self.back_over(cal.span.start, &["calendar"]);
            add(lo, format!("calendar {}", cal.name), cal.span.end);
        }
        for w in &c.windows {
            let day = match w.day_type {
                DayType::Workday => "workday",
                DayType::Weekend => "weekend",
                DayType::Holiday => "holiday",
            };
            let t = format!("window {day} {}", periods_to_string(&w.periods, "none"));
            add(w.span.start, t, w.span.end);
        }
        for r in &c.retries {
            let outcome = match r.outcome {
                Outcome::Busy => "busy",
                Outcome::NoAnswer => "no answer",
                Outcome::Fax => "fax",
                Outcome::Invalid => "invalid",
                Outcome::Machine => "machine",
                Outcome::Rejected => "rejected",
            };
            let rule = match &r.every {
                Some((d, max)) => format!("every {} max {max}", self.duration_lit(d)),
                None => "never".to_string(),
            };
            add(r.span.start, format!("retry {outcome} {rule}"), r.span.end);
        }
        if let Some(t) = &c.trunk {
            let lo = self.back_over(t.span.start, &["trunk"]);
            add(lo, format!("trunk {}", text_to_string(t)), t.span.end);
        }
        if let Some(t) = &c.caller_id {
            let lo = self.back_over(t.span.start, &["caller", "id"]);
            add(lo, format!("caller id {}", text_to_string(t)), t.span.end);
        }
        if let Some(m) = &c.media {
            let lo = self.back_over(m.span.start, &["media"]);
            add(lo, format!("media {}", m.name), m.span.end);
        }
        if let Some((e, within, span)) = &c.dropped {
            let mut t = format!("dropped -> play {}", expr_to_string(e));
            if let Some(w) = within {
                t.push_str(&format!(" within {}", self.duration_lit(w)));
            }
            add(span.start, t, span.end);
        }
        for (rule, reason, span) in &c.allows {
            let t = format!("allow {} {}", rule.name, text_to_string(reason));
            add(span.start, t, span.end);
        }
        if let Some(t) = &c.timezone {
            let lo = self.back_over(t.span.start, &["timezone"]);
            add(lo, format!("timezone {}", text_to_string(t)), t.span.end);
        }
        if let Some((n, span)) = c.max_attempts {
            add(span.start, format!("max attempts {n}"), span.end);
        }
        if let Some((n, span)) = c.max_attempts_per_day {
            add(span.start, format!("max attempts per day {n}"), span.end);
        }
        for d in &c.dispositions {
            let mut t = format!("disposition {} {}", d.name.name, text_to_string(&d.label));
            if let Some(r) = &d.retry_in {
                t.push_str(&format!(" -> retry in {}", self.duration_lit(r)));
            }
            add(d.span.start, t, d.span.end);
        }
        if let Some((settings, span)) = &c.machine_detection {
            let t = match settings {
                Some(o) => format!("machine detection {}", options_to_string(o)),
                None => "machine detection off".to_string(),
            };
            add(span.start, t, span.end);
        }
        if let Some(t) = &c.script {
            let lo = self.back_over(t.span.start, &["script"]);
            add(lo, format!("script {}", text_to_string(t)), t.span.end);
        }
        if let Some(l) = &c.list {
            parts.push((l.span.start, Part::CampaignList(l)));
        }
        if let Some(o) = &c.orders {
            let mut t = format!("list from workorders {}", o.kind.name);
            if let Some(st) = &o.state {
                t.push_str(&format!(" in state {}", st.name));
            }
            parts.push((o.span.start, Part::Line(t, o.span.start, o.span.end)));
        }
        let empty = parts.is_empty();
        self.braced(header, c.span.start, open, c.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    pub(super) fn campaign_list(&mut self, l: &'a CampaignList) {
        let header = format!("list {} from {}", l.name.name, text_to_string(&l.source));
        let open = self.find(l.source.span.end, b'{');
        self.braced(
            header,
            l.span.start,
            open,
            l.span.end - 1,
            l.fields.is_empty(),
            |p| {
                let parts = l
                    .fields
                    .iter()
                    .map(|(f, col)| {
                        let t = format!(
                            "{}: {} <- {}",
                            f.name.name,
                            type_to_string(&f.ty),
                            text_to_string(col)
                        );
                        let lo = f.name.span.start;
                        (lo, Part::Line(t, lo, col.span.end))
                    })
                    .collect();
                p.parts(parts);
            },
        );
    }

    pub(super) fn workorder(&mut self, w: &'a WorkorderDecl) {
        let header = format!("workorder {}{}", w.name.name, Self::label(&w.label));
        let open = self.find(Self::header_end(&w.name, &w.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        if let Some(cal) = &w.calendar {
            let lo = self.back_over(cal.span.start, &["calendar"]);
            let t = format!("calendar {}", cal.name);
            parts.push((lo, Part::Line(t, lo, cal.span.end)));
        }
        for f in &w.fields {
            let mut t = format!("field {}: {}", f.name.name, type_to_string(&f.ty));
            if f.required {
                t.push_str(" required");
            }
            if f.sensitive {
                t.push_str(" sensitive");
            }
            parts.push((f.span.start, Part::Line(t, f.span.start, f.span.end)));
        }
        for s in &w.states {
            parts.push((s.span.start, Part::State(s)));
        }
        for t in &w.transitions {
            let mut s = format!(
                "transition {}: {} -> {} by {}",
                t.name.name,
                t.from.name,
                t.to.name,
                idents(&t.roles)
            );
            if let Some(k) = t.kind {
                s.push_str(match k {
                    TransitionKind::Forward => " forward",
                    TransitionKind::Return => " return",
                    TransitionKind::Reply => " reply",
                    TransitionKind::Close => " close",
                    TransitionKind::Reopen => " reopen",
                });
            }
            if t.reason_required {
                s.push_str(" (reason required)");
            }
            if let Some(g) = &t.guard {
                s.push_str(&format!(" when {}", expr_to_string(g)));
            }
            parts.push((t.span.start, Part::Line(s, t.span.start, t.span.end)));
        }
        for tr in &w.triggers {
            let action = match &tr.action {
                TriggerAction::Notify {
                    channel,
                    to,
                    subject,
                    body,
                } => {
                    let ch = match channel {
                        NotifyChannel::Sms => "sms",
                        NotifyChannel::Email => "email",
                    };
                    let subject = subject
                        .as_ref()
                        .map(|s| format!(" subject {}", text_to_string(s)))
                        .unwrap_or_default();
                    format!(
                        "notify {ch} to {}{subject} {}",
                        to.name,
                        text_to_string(body)
                    )
                }
                TriggerAction::Assign(r) => format!("assign {}", r.name),
                TriggerAction::Call {
                    flow,
                    args,
                    campaign,
                } => format!(
                    "call {}({}) via campaign {}",
                    flow.name,
                    idents(args),
                    campaign.name
                ),
            };
            let t = format!("on enter {} -> {action}", tr.state.name);
            parts.push((tr.span.start, Part::Line(t, tr.span.start, tr.span.end)));
        }
        for sl in &w.span_limits {
            let clock = if sl.business { " business" } else { "" };
            let mut t = format!(
                "{} within {} from {}{clock}",
                sl.target.name,
                self.duration_lit(&sl.duration),
                sl.from.name
            );
            let mut rules: Vec<String> = Vec::new();
            for r in &sl.reminders {
                let when = match &r.when {
                    RemindWhen::Before(d) => format!("{} before", self.duration_lit(d)),
                    RemindWhen::AtLimit => "at limit".to_string(),
                    RemindWhen::Fraction(f, _) => format!("{} of limit", percent_to_string(*f)),
                };
                rules.push(format!("remind {when} -> {}", idents(&r.to)));
            }
            for e in &sl.escalations {
                let after = e
                    .after
                    .as_ref()
                    .map(|d| format!(" {} after", self.duration_lit(d)))
                    .unwrap_or_default();
                rules.push(format!("escalate{after} -> {}", idents(&e.to)));
            }
            if !rules.is_empty() {
                t.push_str(&format!(" {{ {} }}", rules.join("; ")));
            }
            parts.push((sl.span.start, Part::Line(t, sl.span.start, sl.span.end)));
        }
        if let Some(first) = w.links.first() {
            let lo = self.back_over(first.span.start, &["links"]);
            let hi = w.links.last().map_or(0, |l| l.span.end);
            parts.push((
                lo,
                Part::Line(format!("links {}", idents(&w.links)), lo, hi),
            ));
        }
        let empty = parts.is_empty();
        self.braced(header, w.span.start, open, w.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    pub(super) fn state(&mut self, s: &'a WorkorderState) {
        let mut header = format!("state {}{}", s.name.name, Self::label(&s.label));
        let mut end = Self::header_end(&s.name, &s.label);
        if s.initial {
            header.push_str(" initial");
        }
        if s.is_final {
            header.push_str(" final");
        }
        if let Some(l) = &s.limit {
            let clock = if l.business { "business" } else { "wall" };
            header.push_str(&format!(
                " limit {} {clock}",
                self.duration_lit(&l.duration)
            ));
            end = l.duration.span.end;
        }
        let mut parts: Vec<(u32, Part)> = Vec::new();
        for r in &s.reminders {
            let when = match &r.when {
                RemindWhen::Before(d) => format!("{} before", self.duration_lit(d)),
                RemindWhen::AtLimit => "at limit".to_string(),
                RemindWhen::Fraction(f, _) => format!("{} of limit", percent_to_string(*f)),
            };
            let t = format!("remind {when} -> {}", idents(&r.to));
            parts.push((r.span.start, Part::Line(t, r.span.start, r.span.end)));
        }
        for e in &s.escalations {
            let after = e
                .after
                .as_ref()
                .map(|d| format!(" {} after", self.duration_lit(d)))
                .unwrap_or_default();
            let t = format!("escalate{after} -> {}", idents(&e.to));
            parts.push((e.span.start, Part::Line(t, e.span.start, e.span.end)));
        }
        let state_end = self.trim_end(s.span.end);
        let has_braces = self.src.as_bytes().get(state_end as usize - 1) == Some(&b'}');
        if parts.is_empty() && !(has_braces && self.has_comment_in(end, state_end)) {
            self.push(header, s.span.start, state_end);
            return;
        }
        let open = self.find(end, b'{');
        self.open(format!("{header} {{"), s.span.start, open);
        self.parts(parts);
        self.close(state_end - 1);
    }
}
