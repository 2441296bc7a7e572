//! Workorders beyond their own lifecycle: roles declared in the project, the
//! `on enter` triggers of a lifecycle (notify, assign, call the customer
//! through a campaign), orders as a campaign's targets, and what flows do with
//! orders (`lookup workorder`, `transition workorder`).

use std::collections::BTreeMap;

use crate::ast::*;
use crate::check::{Checker, IVR_ROLE, ItemRef, ROLES, RecordType};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::types::{RecordId, Type};

/// The name under which triggers and campaigns pass an order's number (`number`
/// is a word of the language, so a flow's parameter cannot be called so).
pub const ORDER_NUMBER_FIELD: &str = "order";

/// The fields every looked-up order has, before its lifecycle's own.
pub(crate) const ORDER_RECORD_FIELDS: &[&str] = &["number", "state", "department", "handler"];

impl Checker<'_> {
    /// `role NAME "label"`: a project role; the built-in names need no declaration.
    pub(super) fn declare_role(&mut self, d: &RoleDecl, r: ItemRef) {
        if ROLES.contains(&d.name.name.as_str()) || d.name.name == IVR_ROLE {
            self.err(
                Diagnostic::error(
                    "duplicate",
                    d.name.span,
                    format!("`{}` is a built-in role", d.name.name),
                )
                .with_hint("built-in roles need no declaration: remove this line"),
            );
            return;
        }
        if self.declare("role", &d.name) {
            self.model.roles.insert(d.name.name.clone(), r);
        }
    }

    /// Whether `name` is a built-in role, the IVR's or a declared one.
    pub(crate) fn is_role(&self, name: &str) -> bool {
        ROLES.contains(&name) || name == IVR_ROLE || self.model.roles.contains_key(name)
    }

    /// Every role name, for suggestions.
    pub(crate) fn role_names(&self) -> Vec<String> {
        ROLES
            .iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(IVR_ROLE.to_string()))
            .chain(self.model.roles.keys().cloned())
            .collect()
    }

    /// A role named in a transition's `by` list or a trigger's `assign`.
    pub(crate) fn check_role(&mut self, role: &Ident) {
        if self.is_role(&role.name) {
            return;
        }
        let names = self.role_names();
        let hint = did_you_mean(&role.name, names.iter().map(String::as_str))
            .map(|x| format!("did you mean `{x}`?"));
        self.err(
            Diagnostic::error(
                "unknown-role",
                role.span,
                format!("`{}` is not a role", role.name),
            )
            .with_hint_opt(hint)
            .with_hint(format!(
                "the roles are: {}; declare a new one with `role {} \"label\"`",
                names.join(", "),
                role.name
            )),
        );
    }

    /// The fields of a workorder type, by name, with `order` (the order's
    /// number) among them.
    fn order_fields(&self, kind: &str) -> BTreeMap<String, (Type, String)> {
        let mut out: BTreeMap<String, (Type, String)> = BTreeMap::new();
        if let Some((_, fields)) = self.model.workorders.get(kind) {
            for f in fields {
                out.insert(f.name.clone(), (f.ty, f.kind.clone()));
            }
        }
        out.insert(ORDER_NUMBER_FIELD.into(), (Type::Text, "text".into()));
        out
    }

    /// `on enter STATE -> ...` clauses of one lifecycle.
    pub(super) fn check_triggers(
        &mut self,
        d: &WorkorderDecl,
        states: &BTreeMap<String, &WorkorderState>,
    ) {
        let fields = self.order_fields(&d.name.name);
        let field_names: Vec<String> = fields.keys().cloned().collect();
        for t in &d.triggers {
            if !states.contains_key(&t.state.name) {
                let cands: Vec<String> = states.keys().cloned().collect();
                self.unknown("state", &t.state, cands.iter().map(String::as_str));
            }
            match &t.action {
                TriggerAction::Notify {
                    channel,
                    to,
                    subject,
                    body,
                } => {
                    match fields.get(&to.name) {
                        None => self.unknown("field", to, field_names.iter().map(String::as_str)),
                        Some((ty, kind)) => {
                            let ok = match channel {
                                NotifyChannel::Sms => kind == "phone" || *ty == Type::Text,
                                NotifyChannel::Email => *ty == Type::Text,
                            };
                            if !ok {
                                self.err(
                                    Diagnostic::error(
                                        "type-mismatch",
                                        to.span,
                                        format!(
                                            "`{}` is {ty}, not a number or an address to send to",
                                            to.name
                                        ),
                                    )
                                    .with_hint(
                                        "name a `phone` field for SMS, a text field for e-mail",
                                    ),
                                );
                            }
                        }
                    }
                    for text in subject.iter().chain(std::iter::once(body)) {
                        self.check_template(text, &fields);
                    }
                }
                TriggerAction::Assign(role) => self.check_role(role),
                TriggerAction::Call {
                    flow,
                    args,
                    campaign,
                } => self.check_call_trigger(d, flow, args, campaign, &fields),
            }
        }
    }

    /// A trigger's message may fill in the order's fields (`{phone}`, `{order}`) only.
    fn check_template(&mut self, text: &Text, fields: &BTreeMap<String, (Type, String)>) {
        for p in &text.parts {
            let TextPart::Expr(e) = p else { continue };
            match &e.kind {
                ExprKind::Name(n) if fields.contains_key(&n.name) => {
                    let ty = fields[&n.name].0;
                    self.model.types.insert(e.id, ty);
                }
                ExprKind::Name(n) => {
                    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                    self.unknown("field", n, names);
                }
                _ => self.err(
                    Diagnostic::error(
                        "bad-template",
                        e.span,
                        "a trigger's message can only fill in the order's fields",
                    )
                    .with_hint("write a field name in braces, such as {order} or {phone}"),
                ),
            }
        }
    }

    fn check_call_trigger(
        &mut self,
        d: &WorkorderDecl,
        flow: &Ident,
        args: &[Ident],
        campaign: &Ident,
        fields: &BTreeMap<String, (Type, String)>,
    ) {
        let field_names: Vec<String> = fields.keys().cloned().collect();
        for a in args {
            if !fields.contains_key(&a.name) {
                self.unknown("field", a, field_names.iter().map(String::as_str));
            }
        }
        match self.model.flows.get(&flow.name).cloned() {
            None => {
                let cands = self.names_of("flow");
                self.unknown("flow", flow, cands.iter().map(String::as_str));
            }
            Some(info) => {
                if info.params.len() != args.len() {
                    self.err(
                        Diagnostic::error(
                            "wrong-arguments",
                            flow.span,
                            format!(
                                "the flow `{flow}` takes {} parameter{} ({}), but {} {} given",
                                info.params.len(),
                                if info.params.len() == 1 { "" } else { "s" },
                                info.params
                                    .iter()
                                    .map(|(n, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                args.len(),
                                if args.len() == 1 { "is" } else { "are" }
                            ),
                        )
                        .with_hint("pass the order's fields in the order of the flow's parameters"),
                    );
                }
                for (a, (pn, pt)) in args.iter().zip(&info.params) {
                    if a.name != *pn {
                        self.err(
                            Diagnostic::error(
                                "wrong-arguments",
                                a.span,
                                format!(
                                    "the flow `{flow}` calls this parameter `{pn}`, and the campaign passes fields by name"
                                ),
                            )
                            .with_hint(format!(
                                "name the flow's parameter `{}`, or pass the field `{pn}`",
                                a.name
                            )),
                        );
                        continue;
                    }
                    if let Some((ft, _)) = fields.get(&a.name)
                        && ft != pt
                        && *ft != Type::Error
                    {
                        self.err(Diagnostic::error(
                            "type-mismatch",
                            a.span,
                            format!("the flow `{flow}` takes `{pn}` as {pt}, but the order's `{pn}` is {ft}"),
                        ));
                    }
                }
            }
        }
        let Some((r, _)) = self.model.campaigns.get(&campaign.name).cloned() else {
            let names: Vec<String> = self.model.campaigns.keys().cloned().collect();
            let hint = did_you_mean(&campaign.name, names.iter().map(String::as_str))
                .map(|x| format!("did you mean `{x}`?"));
            self.err(
                Diagnostic::error(
                    "unknown-name",
                    campaign.span,
                    format!("there is no campaign called `{}`", campaign.name),
                )
                .with_hint_opt(hint)
                .with_hint("the campaign gives the trunk, the call windows and the retry rules of the call"),
            );
            return;
        };
        let Item::Campaign(c) = self.project.item(r) else {
            return;
        };
        let runs = matches!(
            c.mode.as_ref().map(|m| (m.mode.name.as_str(), &m.dest)),
            Some(("ivr", Some(Destination::Flow(f)))) if f.name == flow.name
        );
        if !runs {
            self.err(
                Diagnostic::error(
                    "bad-trigger",
                    campaign.span,
                    format!(
                        "the campaign `{}` does not run the flow `{flow}` when the customer answers",
                        campaign.name
                    ),
                )
                .with_hint(format!("give the campaign `mode ivr -> flow {flow}`")),
            );
        }
        if c.orders.as_ref().map(|o| o.kind.name.as_str()) != Some(d.name.name.as_str()) {
            self.err(
                Diagnostic::error(
                    "bad-trigger",
                    campaign.span,
                    format!(
                        "the campaign `{}` does not call `{}` orders",
                        campaign.name, d.name
                    ),
                )
                .with_hint(format!(
                    "give the campaign `list from workorders {}` so that the orders become its targets",
                    d.name
                )),
            );
        }
    }

    /// `list from workorders KIND in state S` of a campaign.
    pub(super) fn check_order_source(&mut self, c: &CampaignDecl, o: &OrderSource) {
        if let Some(l) = &c.list {
            self.err(
                Diagnostic::error(
                    "duplicate",
                    o.span,
                    "a campaign takes its targets from one list",
                )
                .with_secondary(l.span, "the other list")
                .with_hint("keep either the file list or the orders"),
            );
        }
        let Some((r, fields)) = self.model.workorders.get(&o.kind.name).cloned() else {
            let cands = self.names_of("workorder type");
            self.unknown("workorder type", &o.kind, cands.iter().map(String::as_str));
            return;
        };
        if let (Some(st), Item::Workorder(d)) = (&o.state, self.project.item(r))
            && !d.states.iter().any(|s| s.name.name == st.name)
        {
            let cands: Vec<String> = d.states.iter().map(|s| s.name.name.clone()).collect();
            self.unknown("state", st, cands.iter().map(String::as_str));
        }
        if !fields.iter().any(|f| f.name == "phone") {
            self.err(
                Diagnostic::error(
                    "campaign-no-phone",
                    o.kind.span,
                    format!(
                        "`{}` orders have no `phone` field, so there is no number to dial",
                        o.kind
                    ),
                )
                .with_hint("add `field phone: phone required` to the workorder"),
            );
        }
    }

    /// The record type of `lookup workorder KIND(...)`: the order's number,
    /// state, department and handler, then its lifecycle's fields.
    pub(crate) fn workorder_record(&mut self, kind: &str) -> Option<RecordId> {
        if let Some(r) = self.model.workorder_records.get(kind) {
            return Some(*r);
        }
        let (_, fields) = self.model.workorders.get(kind)?;
        let mut out: Vec<(String, Type)> = ORDER_RECORD_FIELDS
            .iter()
            .map(|n| (n.to_string(), Type::Text))
            .collect();
        for f in fields {
            if !ORDER_RECORD_FIELDS.contains(&f.name.as_str()) && f.ty != Type::Error {
                out.push((f.name.clone(), f.ty));
            }
        }
        let id = RecordId(self.model.records.len() as u32);
        self.model.records.push(RecordType {
            name: format!("workorder {kind}"),
            fields: out,
        });
        self.model.workorder_records.insert(kind.to_string(), id);
        Some(id)
    }

    /// `transition workorder N to STATE`: some lifecycle has the state, a
    /// transition leads into it, and the IVR may take one of those; a step
    /// that needs a reason gets a comment.
    pub(super) fn check_wo_transition(&mut self, to: &Ident, has_comment: bool, span: Span) {
        let decls: Vec<&WorkorderDecl> = self
            .model
            .workorders
            .values()
            .filter_map(|(r, _)| match self.project.item(*r) {
                Item::Workorder(d) => Some(d),
                _ => None,
            })
            .collect();
        if !decls
            .iter()
            .any(|d| d.states.iter().any(|s| s.name.name == to.name))
        {
            let cands: Vec<String> = decls
                .iter()
                .flat_map(|d| d.states.iter().map(|s| s.name.name.clone()))
                .collect();
            self.unknown("state", to, cands.iter().map(String::as_str));
            return;
        }
        let into: Vec<&Transition> = decls
            .iter()
            .flat_map(|d| d.transitions.iter())
            .filter(|t| t.to.name == to.name)
            .collect();
        let Some(first) = into.first() else {
            self.err(
                Diagnostic::error(
                    "bad-transition",
                    to.span,
                    format!("no transition leads into `{}`", to.name),
                )
                .with_hint("add one to the lifecycle, with `ivr` in its `by` list"),
            );
            return;
        };
        let by_ivr: Vec<&&Transition> = into
            .iter()
            .filter(|t| t.roles.iter().any(|r| r.name == IVR_ROLE))
            .collect();
        if by_ivr.is_empty() {
            self.err(
                Diagnostic::error(
                    "role-may-not",
                    to.span,
                    format!("the IVR may take no transition into `{}`", to.name),
                )
                .with_label("flows act as the role `ivr`")
                .with_hint(format!(
                    "add `ivr` to the `by` list of `{}` ({} -> {} by {}, ivr)",
                    first.name,
                    first.from,
                    first.to,
                    first
                        .roles
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_secondary(first.span, "a transition into it"),
            );
            return;
        }
        if !has_comment && by_ivr.iter().all(|t| t.reason_required) {
            self.err(
                Diagnostic::error(
                    "reason-required",
                    span,
                    format!(
                        "`{}` needs a reason, and this step gives none",
                        by_ivr[0].name
                    ),
                )
                .with_secondary(by_ivr[0].span, "(reason required)")
                .with_hint("add `comment \"...\"` saying why, before `else`"),
            );
        }
    }
}
