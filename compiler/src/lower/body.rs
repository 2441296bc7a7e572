//! Building one function body (a flow's or a predicate's): blocks with their
//! source locations, typed registers, slots, resume points, labels, the
//! predicate's environment; and the pass that drops blocks nothing reaches.

use std::collections::HashMap;

use dialect_lang::types::Type;

use crate::ir::*;

/// Where a name in an expression is read from while lowering.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    /// Inside a flow: slots, call data, builtins.
    Flow,
    /// Inside a predicate: the environment vector.
    Pred,
}

/// Builds one function body.
pub(super) struct Fb {
    pub(super) body: Body,
    pub(super) terminated: Vec<bool>,
    pub(super) cur: BlockId,
    pub(super) cur_loc: LocId,
    pub(super) slots: Vec<(String, Type)>,
    slot_ids: HashMap<String, SlotId>,
    pub(super) resumes: Vec<BlockId>,
    pub(super) labels: HashMap<String, BlockId>,
    /// Where `repeat` goes, innermost last.
    pub(super) repeat: Vec<BlockId>,
    pub(super) env: Vec<(EnvVar, Type)>,
    pub(super) ctx: Ctx,
    /// Campaign or workorder field names, for `NameRef::Field`.
    pub(super) fields: Vec<String>,
}

impl Fb {
    pub(super) fn new(ctx: Ctx, loc: LocId) -> Fb {
        let mut fb = Fb {
            body: Body::default(),
            terminated: Vec::new(),
            cur: 0,
            cur_loc: loc,
            slots: Vec::new(),
            slot_ids: HashMap::new(),
            resumes: Vec::new(),
            labels: HashMap::new(),
            repeat: Vec::new(),
            env: Vec::new(),
            ctx,
            fields: Vec::new(),
        };
        fb.cur = fb.block(loc);
        fb.body.entry = fb.cur;
        fb
    }

    pub(super) fn block(&mut self, loc: LocId) -> BlockId {
        self.body.blocks.push(BlockIr {
            insts: Vec::new(),
            term: Term::Fail {
                message: "internal error: unterminated block".into(),
                loc,
            },
            loc,
        });
        self.terminated.push(false);
        (self.body.blocks.len() - 1) as BlockId
    }

    pub(super) fn reg(&mut self, ty: Type) -> Reg {
        let ty = match ty {
            Type::Error | Type::Void | Type::List => Type::Duration,
            t => t,
        };
        self.body.regs.push(ty);
        (self.body.regs.len() - 1) as Reg
    }

    pub(super) fn emit(&mut self, inst: Inst) {
        self.body.blocks[self.cur as usize].insts.push(inst);
    }

    /// Ends the current block; code after it goes into a fresh (unreachable) block.
    pub(super) fn term(&mut self, t: Term) {
        let c = self.cur as usize;
        if !self.terminated[c] {
            self.body.blocks[c].term = t;
            self.terminated[c] = true;
        }
        let loc = self.cur_loc;
        self.cur = self.block(loc);
    }

    /// Continues in block `b` (falling through into it from the current block).
    pub(super) fn switch_to(&mut self, b: BlockId) {
        let c = self.cur as usize;
        if !self.terminated[c] {
            self.body.blocks[c].term = Term::Jump(b);
            self.terminated[c] = true;
        }
        self.cur = b;
    }

    pub(super) fn konst(&mut self, ty: Type, value: Const) -> Reg {
        let r = self.reg(ty);
        self.emit(Inst::Const { dst: r, value });
        r
    }

    pub(super) fn int(&mut self, v: i64) -> Reg {
        self.konst(Type::Duration, Const::Int(v))
    }

    pub(super) fn slot(&mut self, name: &str, ty: Type) -> SlotId {
        if let Some(&s) = self.slot_ids.get(name) {
            return s;
        }
        let id = self.slots.len() as SlotId;
        self.slots.push((name.to_string(), ty));
        self.slot_ids.insert(name.to_string(), id);
        id
    }

    /// The type of a named slot already made (a flow's variables all are).
    pub(super) fn slot_type(&self, name: &str) -> Option<Type> {
        self.slot_ids
            .get(name)
            .and_then(|&s| self.slots.get(s as usize))
            .map(|(_, t)| *t)
    }

    pub(super) fn hidden_slot(&mut self, prefix: &str, ty: Type) -> SlotId {
        let name = format!("%{prefix}{}", self.slots.len());
        self.slot(&name, ty)
    }

    pub(super) fn resume_point(&mut self, loc: LocId) -> (u32, BlockId) {
        let b = self.block(loc);
        self.resumes.push(b);
        ((self.resumes.len() - 1) as u32, b)
    }

    pub(super) fn env_index(&mut self, var: EnvVar, ty: Type) -> u32 {
        if let Some(i) = self.env.iter().position(|(v, _)| *v == var) {
            return i as u32;
        }
        self.env.push((var, ty));
        (self.env.len() - 1) as u32
    }
}

/// Drops the blocks nothing reaches (from the entry or the extra `roots`) and
/// renumbers the rest, updating the roots in place.
pub(super) fn prune(body: &mut Body, roots: Vec<&mut BlockId>) {
    let n = body.blocks.len();
    let mut reached = vec![false; n];
    let mut stack: Vec<BlockId> = vec![body.entry];
    stack.extend(roots.iter().map(|r| **r));
    while let Some(b) = stack.pop() {
        let Some(seen) = reached.get_mut(b as usize) else {
            continue;
        };
        if *seen {
            continue;
        }
        *seen = true;
        match &body.blocks[b as usize].term {
            Term::Jump(t) => stack.push(*t),
            Term::Branch {
                then, otherwise, ..
            } => stack.extend([*then, *otherwise]),
            Term::Switch { cases, default, .. } => {
                stack.extend(cases.iter().map(|(_, t)| *t));
                stack.push(*default);
            }
            _ => {}
        }
    }
    let mut map = vec![0 as BlockId; n];
    let mut next = 0;
    for (i, r) in reached.iter().enumerate() {
        if *r {
            map[i] = next;
            next += 1;
        }
    }
    let old = std::mem::take(&mut body.blocks);
    for (i, mut b) in old.into_iter().enumerate() {
        if !reached[i] {
            continue;
        }
        match &mut b.term {
            Term::Jump(t) => *t = map[*t as usize],
            Term::Branch {
                then, otherwise, ..
            } => {
                *then = map[*then as usize];
                *otherwise = map[*otherwise as usize];
            }
            Term::Switch { cases, default, .. } => {
                for (_, t) in cases.iter_mut() {
                    *t = map[*t as usize];
                }
                *default = map[*default as usize];
            }
            _ => {}
        }
        body.blocks.push(b);
    }
    body.entry = map[body.entry as usize];
    for r in roots {
        *r = map[*r as usize];
    }
}

pub(super) fn zero_reg(fb: &mut Fb, t: Type) -> Reg {
    match t {
        Type::Number => fb.konst(t, Const::Num(0.0)),
        Type::Text | Type::Recording => fb.konst(t, Const::Text(0)),
        _ => fb.konst(t, Const::Int(0)),
    }
}
