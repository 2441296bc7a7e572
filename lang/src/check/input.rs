//! Menus and digit collection: their prompts, choices and keys, and the
//! no-input / no-match handlers per attempt (a retry that can never end, a
//! `final` handler that repeats, keys used twice).

use std::collections::HashMap;

use crate::ast::*;
use crate::check::expr::Scope;
use crate::check::flow::FlowCx;
use crate::check::{Checker, is_dtmf_key};
use crate::diagnostic::Diagnostic;
use crate::options;
use crate::types::Type;

impl Checker<'_> {
    fn check_input_prompts(&mut self, prompts: &[Stmt], scope: &mut Scope, cx: &mut FlowCx) {
        for p in prompts {
            self.check_stmt(p, scope, cx);
        }
    }

    /// Handlers shared by menus and collects: duplicates, counts beyond the retries,
    /// a missing no-input handler, and `repeat` in final handlers.
    fn check_handlers(
        &mut self,
        handlers: &[InputHandler],
        retries: u32,
        what: &str,
        at: Span,
        scope: &mut Scope,
        cx: &mut FlowCx,
    ) {
        let mut seen: HashMap<(InputEvent, HandlerCount), Span> = HashMap::new();
        for h in handlers {
            if let Some(&first) = seen.get(&(h.event, h.count)) {
                self.err(
                    Diagnostic::error("duplicate", h.span, "this handler is written twice")
                        .with_secondary(first, "first one here"),
                );
            }
            seen.insert((h.event, h.count), h.span);
            if let HandlerCount::Nth(n) = h.count {
                if n == 0 {
                    self.err(Diagnostic::error(
                        "bad-handler",
                        h.span,
                        "attempts are counted from 1",
                    ));
                } else if n >= retries {
                    self.err(
                        Diagnostic::warning(
                            "unreachable",
                            h.span,
                            format!("this handler never runs: after attempt {n} the {what} has used its {retries} retries"),
                        )
                        .with_hint("attempt number `retries` runs the `final` handler; raise `retries` or use `final`"),
                    );
                }
            }
            cx.input_depth += 1;
            let was_final = cx.in_final;
            cx.in_final = h.count == HandlerCount::Final;
            self.nested(&h.action, scope, cx);
            cx.in_final = was_final;
            cx.input_depth -= 1;
        }
        if !handlers.iter().any(|h| h.event == InputEvent::NoInput) {
            self.err(
                Diagnostic::warning(
                    "no-input-handler",
                    at,
                    format!("this {what} has no `no input` handler"),
                )
                .with_hint("callers who say nothing hear the prompt again without help; add `no input -> play \"...\"`"),
            );
        }
    }

    pub(super) fn check_menu(&mut self, m: &Menu, scope: &mut Scope, cx: &mut FlowCx) {
        if let Some(&first) = cx.menus.get(&m.name.name) {
            self.err(
                Diagnostic::error(
                    "duplicate",
                    m.name.span,
                    format!("there are two menus called `{}` in this flow", m.name),
                )
                .with_secondary(first, "first one here")
                .with_hint(
                    "menu names are the steps of the IVR trail and reports; give each its own",
                ),
            );
        }
        cx.menus.insert(m.name.name.clone(), m.name.span);
        self.check_options(&m.options, options::MENU, "menu");
        self.check_input_prompts(&m.prompts, scope, cx);
        if m.prompts.is_empty() {
            self.err(
                Diagnostic::warning(
                    "menu-no-prompt",
                    m.name.span,
                    format!("the menu `{}` has no prompt", m.name),
                )
                .with_hint("start the menu with `play \"...\"` or `say \"...\"` so callers know the choices"),
            );
        }
        if m.choices.is_empty() {
            self.err(
                Diagnostic::error(
                    "menu-no-choice",
                    m.name.span,
                    format!("the menu `{}` has no choices", m.name),
                )
                .with_hint("add choices such as `1 -> transfer queue general`"),
            );
        }
        let mut keys: Vec<(String, Span)> = Vec::new();
        let mut phrases: HashMap<String, Span> = HashMap::new();
        for c in &m.choices {
            for p in &c.patterns {
                match p {
                    ChoicePattern::Keys(k, span) => {
                        if let Some(bad) = k.chars().find(|c| !is_dtmf_key(*c)) {
                            self.err(
                                Diagnostic::error(
                                    "not-a-key",
                                    *span,
                                    format!("`{k}` is not a DTMF key"),
                                )
                                .with_label(format!("`{bad}` is not on a phone keypad"))
                                .with_hint("keys are 0-9, * and #, and A-D on some phones; write spoken choices in quotes"),
                            );
                            continue;
                        }
                        if let Some((_, first)) = keys.iter().find(|(x, _)| x == k) {
                            self.err(
                                Diagnostic::error(
                                    "duplicate-key",
                                    *span,
                                    format!("the key {k} is used twice in the menu `{}`", m.name),
                                )
                                .with_label("second use")
                                .with_secondary(*first, "first use")
                                .with_hint("only the first choice would ever run; give each choice its own key"),
                            );
                            continue;
                        }
                        if let Some((other, first)) = keys
                            .iter()
                            .find(|(x, _)| x.starts_with(k.as_str()) || k.starts_with(x.as_str()))
                        {
                            self.err(
                                Diagnostic::error(
                                    "key-overlap",
                                    *span,
                                    format!("the keys {k} and {other} overlap in the menu `{}`", m.name),
                                )
                                .with_secondary(*first, format!("{other} is here"))
                                .with_hint("after the shorter key the menu cannot tell whether more keys are coming; make no choice the beginning of another"),
                            );
                        }
                        keys.push((k.clone(), *span));
                    }
                    ChoicePattern::Phrase(t) => {
                        match t.as_plain() {
                            Some(ph) if !ph.trim().is_empty() => {
                                let norm = ph.trim().to_lowercase();
                                if let Some(&first) = phrases.get(&norm) {
                                    self.err(
                                    Diagnostic::error(
                                        "duplicate-key",
                                        t.span,
                                        format!("the phrase \"{ph}\" is used twice in the menu `{}`", m.name),
                                    )
                                    .with_secondary(first, "first use"),
                                );
                                }
                                phrases.insert(norm, t.span);
                            }
                            _ => self.err(
                                Diagnostic::error(
                                    "bad-phrase",
                                    t.span,
                                    "a spoken choice must be plain words",
                                )
                                .with_hint("write what the caller says, without {...}"),
                            ),
                        }
                    }
                }
            }
            cx.input_depth += 1;
            self.nested(&c.action, scope, cx);
            cx.input_depth -= 1;
        }
        let retries = options::number(&m.options, "retries").unwrap_or(3.0) as u32;
        self.check_handlers(&m.handlers, retries.max(1), "menu", m.name.span, scope, cx);
    }

    pub(super) fn check_collect(
        &mut self,
        target: &Ident,
        c: &Collect,
        scope: &mut Scope,
        cx: &mut FlowCx,
    ) {
        self.check_options(&c.options, options::COLLECT, "collect");
        let min = options::number(&c.options, "min").unwrap_or(1.0);
        let max = options::number(&c.options, "max").unwrap_or(16.0);
        if min > max
            && let Some(o) = options::find(&c.options, "min")
        {
            self.err(
                Diagnostic::error(
                    "option-out-of-range",
                    o.span,
                    format!("`min {min}` is more than `max {max}`: no entry could be valid"),
                )
                .with_hint("min is the fewest digits, max the most"),
            );
        }
        self.check_input_prompts(&c.prompts, scope, cx);
        for v in &c.valid {
            self.expect_type(v, Type::Bool, scope, "a validity condition");
        }
        let retries = options::number(&c.options, "retries").unwrap_or(3.0) as u32;
        self.check_handlers(
            &c.handlers,
            retries.max(1),
            "collect",
            target.span,
            scope,
            cx,
        );
        for ev in [InputEvent::NoInput, InputEvent::NoMatch] {
            if !c
                .handlers
                .iter()
                .any(|h| h.event == ev && h.count == HandlerCount::Final)
            {
                let what = if ev == InputEvent::NoInput {
                    "no input final"
                } else {
                    "no match final"
                };
                self.err(
                    Diagnostic::warning(
                        "input-no-exit",
                        target.span,
                        format!("this collect has no `{what}` handler, so the flow goes on with an empty `{}`", target),
                    )
                    .with_hint(format!("add `{what} -> ...` to say what happens when the caller does not manage"))
                    .with_hint("every input step needs an exit that is not the success path, so the flow never works on a missing value by accident"),
                );
            }
        }
    }
}
