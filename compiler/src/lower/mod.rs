//! Lowering: a checked project (AST + [`Model`]) becomes a [`ProgramIr`].
//!
//! Flows become state machines: every statement that needs the outside world
//! (play, say, menu, collect, lookup, record, create workorder, notify, transfer,
//! pause, sub-flow call) ends its block with a suspension and continues in a
//! resume block that reads the result. Menus and collects keep their attempt
//! counter in a hidden slot and pick the no-input / no-match handler for each
//! attempt at compile time. `and`/`or`/`?:` short-circuit with branches.
//! Constants are inlined where they are used. Queue, campaign and workorder
//! expressions become predicates over an environment vector.
//!
//! This file holds the entry points ([`lower`], [`compile_paths`]), the `Lowerer`
//! that walks the whole program, and the order declarations are lowered in. The
//! `Lowerer`'s methods are spread by what they lower:
//! - `body`: the builder of one function body (blocks, registers, slots) it uses.
//! - `decls`: calendars, lists, services, call data, constants.
//! - `expr`: expressions.
//! - `flow`: flows, statements and prompts.
//! - `input`: menus, digit collection and lookups, with their handlers per attempt.
//! - `predicates`: queues, campaigns and workorders.

mod body;
mod decls;
mod expr;
mod flow;
mod input;
mod predicates;

use std::collections::HashMap;

use dialect_lang::ast::*;
use dialect_lang::check::{Checked, ItemRef, Model};
use dialect_lang::types::Type;

use crate::error::CompileError;
use crate::ir::*;

/// Default time for the first key of a menu or collect.
const DEFAULT_TIMEOUT_MS: i64 = 5000;
/// Default time between keys.
const DEFAULT_DIGIT_TIMEOUT_MS: i64 = 3000;
/// Default attempts of a menu or collect.
const DEFAULT_RETRIES: u32 = 3;
/// Default lookup time-out when neither the lookup nor the service gives one.
const DEFAULT_LOOKUP_TIMEOUT_MS: i64 = 3000;

/// Lowers a checked project; refuses one with errors.
pub fn lower(checked: &Checked) -> Result<ProgramIr, CompileError> {
    let (errors, _) = checked.counts();
    if errors > 0 {
        return Err(CompileError::Check(errors));
    }
    let mut l = Lowerer {
        checked,
        model: &checked.model,
        ir: ProgramIr::default(),
        syms: HashMap::new(),
        locs: HashMap::new(),
        files: HashMap::new(),
    };
    l.intern("");
    l.program()?;
    Ok(l.ir)
}

struct Lowerer<'a> {
    checked: &'a Checked,
    model: &'a Model,
    ir: ProgramIr,
    syms: HashMap<String, Sym>,
    locs: HashMap<(u32, u32), LocId>,
    files: HashMap<u32, u32>,
}

impl<'a> Lowerer<'a> {
    fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.syms.get(s) {
            return id;
        }
        let id = self.ir.texts.len() as Sym;
        self.ir.texts.push(s.to_string());
        self.syms.insert(s.to_string(), id);
        id
    }

    fn loc(&mut self, span: Span) -> LocId {
        if let Some(&l) = self.locs.get(&(span.file.0, span.start)) {
            return l;
        }
        let Some(f) = self.checked.project.sources.get(span.file) else {
            return 0;
        };
        let file = match self.files.get(&span.file.0) {
            Some(&i) => i,
            None => {
                let i = self.ir.files.len() as u32;
                let root = &self.checked.project.root;
                let rel = f.path.strip_prefix(root).unwrap_or(&f.path);
                self.ir.files.push(rel.display().to_string());
                self.files.insert(span.file.0, i);
                i
            }
        };
        let (line, col) = f.line_col(span.start as usize);
        let id = self.ir.locations.len() as LocId;
        self.ir.locations.push(SourceLoc {
            file,
            line: line as u32,
            col: col as u32,
        });
        self.locs.insert((span.file.0, span.start), id);
        id
    }

    fn item(&self, r: ItemRef) -> &'a Item {
        &self.checked.project.modules[r.module].items[r.item]
    }

    fn ty(&self, e: &Expr) -> Type {
        self.model.type_of(e)
    }

    fn program(&mut self) -> Result<(), CompileError> {
        self.ir.languages = self.model.languages.clone();
        for (name, (lo, hi)) in &self.model.skills {
            self.ir.skills.push((name.clone(), *lo, *hi));
        }
        for (name, r) in &self.model.departments {
            if let Item::Department(d) = self.item(*r) {
                let label = d
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default();
                self.ir.departments.push((name.clone(), label));
            }
        }
        for r in self.model.agents.values() {
            if let Item::Agent(a) = self.item(*r) {
                self.ir.agents.push(AgentIr {
                    id: a.id.plain_lossy(),
                    name: a
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default(),
                    skills: a
                        .skills
                        .iter()
                        .map(|s| {
                            (
                                s.skill.name.clone(),
                                s.level.map(|l| l.0 as u32).unwrap_or(1),
                            )
                        })
                        .collect(),
                });
            }
        }
        // Records (service answers) in model order.
        for rt in &self.model.records {
            self.ir.records.push(RecordTypeIr {
                name: rt.name.clone(),
                fields: rt.fields.clone(),
            });
        }
        self.calendars();
        self.lists();
        self.services();
        self.calldata();
        // Flows get their ids first so calls and numbers can refer to them.
        let flow_names: Vec<String> = self.model.flows.keys().cloned().collect();
        for name in &flow_names {
            let info = &self.model.flows[name];
            self.ir.flows.push(FlowIr {
                name: name.clone(),
                params: info.params.clone(),
                returns: info.returns,
                slots: Vec::new(),
                body: Body::default(),
                resumes: Vec::new(),
                on_error: None,
            });
        }
        for (number, flow) in &self.model.numbers {
            if let Some(id) = self.ir.flow_id(flow) {
                self.ir.numbers.push((number.clone(), id));
            }
        }
        self.workorders();
        for (i, name) in flow_names.iter().enumerate() {
            let r = self.model.flows[name].item;
            if let Item::Flow(d) = self.item(r) {
                let f = self.flow(d);
                self.ir.flows[i] = f;
            }
        }
        self.queues();
        self.campaigns();
        Ok(())
    }
}

/// Checks and lowers a project folder (or files) in one go.
pub fn compile_paths(paths: &[std::path::PathBuf]) -> Result<(Checked, ProgramIr), CompileError> {
    let project = dialect_lang::load_project(paths)?;
    let checked = dialect_lang::check_project(project);
    let ir = lower(&checked)?;
    Ok((checked, ir))
}
