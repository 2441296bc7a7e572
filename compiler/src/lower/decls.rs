//! The program's data declarations: calendars, lists, services and their
//! operations, call data with their defaults, and constants folded to values.

use std::collections::HashMap;

use dialect_lang::ast::*;
use dialect_lang::check::ItemRef;
use dialect_lang::options;
use dialect_lang::types::Type;

use super::{DEFAULT_LOOKUP_TIMEOUT_MS, Lowerer};
use crate::ir::*;
use crate::value::date_to_days;

impl<'a> Lowerer<'a> {
    pub(super) fn calendar_index(&self, name: &str) -> Option<u32> {
        self.ir
            .calendars
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    pub(super) fn calendars(&mut self) {
        let cals: Vec<ItemRef> = self.model.calendars.values().copied().collect();
        for r in cals {
            let Item::Calendar(c) = self.item(r) else {
                continue;
            };
            let mut weekly = vec![Vec::new(); 7];
            for h in &c.hours {
                for d in &h.days {
                    for day in d.from..=d.to.min(6) {
                        weekly[day as usize] = h.periods.iter().map(|p| (p.from, p.to)).collect();
                    }
                }
            }
            let mut special = Vec::new();
            for (holiday, list) in [(true, &c.holidays), (false, &c.workdays)] {
                for sd in list {
                    let label = sd
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default();
                    for ds in &sd.dates {
                        let (a, b) = (date_to_days(ds.from), date_to_days(ds.to));
                        for day in a..=b.min(a + 366) {
                            special.push(SpecialDayIr {
                                day,
                                holiday,
                                hours: sd
                                    .hours
                                    .as_ref()
                                    .map(|h| h.iter().map(|p| (p.from, p.to)).collect()),
                                label: label.clone(),
                            });
                        }
                    }
                }
            }
            special.sort_by_key(|s| s.day);
            self.ir.calendars.push(CalendarIr {
                name: c.name.name.clone(),
                timezone: c
                    .timezone
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_else(|| "UTC".to_string()),
                weekly,
                special,
            });
        }
    }

    pub(super) fn lists(&mut self) {
        let lists: Vec<ItemRef> = self.model.lists.values().map(|(r, _)| *r).collect();
        for r in lists {
            let Item::List(l) = self.item(r) else {
                continue;
            };
            self.ir.lists.push(ListIr {
                name: l.name.name.clone(),
                entries: l.entries.iter().map(|t| t.plain_lossy()).collect(),
                categories: l
                    .categories
                    .iter()
                    .map(|c| ListCategoryIr {
                        name: c.name.name.clone(),
                        entries: c.entries.iter().map(|t| t.plain_lossy()).collect(),
                        max_transfers: options::number(&c.options, "max transfers")
                            .map(|n| n as u32),
                        active: options::time_range(&c.options, "active"),
                    })
                    .collect(),
            });
        }
    }

    pub(super) fn list_index(&self, name: &str) -> Option<(u32, &ListIr)> {
        self.ir
            .lists
            .iter()
            .enumerate()
            .find(|(_, l)| l.name == name)
            .map(|(i, l)| (i as u32, l))
    }

    pub(super) fn services(&mut self) {
        let svcs: Vec<(String, ItemRef)> = self
            .model
            .services
            .iter()
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        for (name, r) in svcs {
            let Item::Service(s) = self.item(r) else {
                continue;
            };
            let mut ops = Vec::new();
            for op in &s.operations {
                let Some(info) = self
                    .model
                    .operations
                    .get(&(name.clone(), op.name.name.clone()))
                else {
                    continue;
                };
                let mut path = String::new();
                for p in &op.path.parts {
                    match p {
                        TextPart::Lit(t) => path.push_str(t),
                        TextPart::Expr(e) => {
                            if let ExprKind::Name(n) = &e.kind {
                                path.push('{');
                                path.push_str(&n.name);
                                path.push('}');
                            }
                        }
                    }
                }
                ops.push(OperationIr {
                    name: op.name.name.clone(),
                    method: op.method,
                    path,
                    params: info.params.clone(),
                    record: info.record,
                    list: info.list,
                });
            }
            self.ir.services.push(ServiceIr {
                name: name.clone(),
                url: s.url.as_ref().map(|t| t.plain_lossy()).unwrap_or_default(),
                timeout_ms: s
                    .timeout
                    .map(|d| d.millis)
                    .unwrap_or(DEFAULT_LOOKUP_TIMEOUT_MS),
                not_found: s.not_found.map(|(n, _)| n).unwrap_or_default(),
                operations: ops,
            });
        }
    }

    pub(super) fn calldata(&mut self) {
        let defaults: HashMap<String, Option<&Expr>> = match self.model.calldata_item {
            Some(r) => match self.item(r) {
                Item::CallData(d) => d
                    .fields
                    .iter()
                    .map(|f| (f.name.name.clone(), f.default.as_ref()))
                    .collect(),
                _ => HashMap::new(),
            },
            None => HashMap::new(),
        };
        for (name, ty) in &self.model.calldata {
            let default = defaults
                .get(name)
                .copied()
                .flatten()
                .and_then(|e| self.const_eval(e))
                .unwrap_or_else(|| zero_const(*ty));
            self.ir.calldata.push(CallDataFieldIr {
                name: name.clone(),
                ty: *ty,
                default,
            });
        }
    }

    /// Folds a constant expression (literals, constants, arithmetic); `None` when it
    /// is not constant.
    pub(super) fn const_eval(&self, e: &Expr) -> Option<ConstValue> {
        Some(match &e.kind {
            ExprKind::Number(n) | ExprKind::Percent(n) => ConstValue::Num(*n),
            ExprKind::Bool(b) => ConstValue::Int(i64::from(*b)),
            ExprKind::Duration(ms) => ConstValue::Int(*ms),
            ExprKind::Clock(s) => ConstValue::Int(i64::from(*s)),
            ExprKind::Date(d) => ConstValue::Int(date_to_days(*d)),
            ExprKind::DateTime(d) => ConstValue::Int(crate::value::datetime_to_ms(*d)),
            ExprKind::Text(t) => ConstValue::Text(t.as_plain()?),
            ExprKind::Name(n) => {
                let (r, _) = self.model.consts.get(&n.name)?;
                match self.item(*r) {
                    Item::Const(c) => self.const_eval(&c.value)?,
                    _ => return None,
                }
            }
            ExprKind::Unary(UnaryOp::Neg, x) => match self.const_eval(x)? {
                ConstValue::Num(n) => ConstValue::Num(-n),
                ConstValue::Int(i) => ConstValue::Int(-i),
                _ => return None,
            },
            ExprKind::Binary(op, a, b) => match (self.const_eval(a)?, self.const_eval(b)?) {
                (ConstValue::Num(x), ConstValue::Num(y)) => ConstValue::Num(match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div if y != 0.0 => x / y,
                    _ => return None,
                }),
                (ConstValue::Int(x), ConstValue::Int(y)) => ConstValue::Int(match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    _ => return None,
                }),
                (ConstValue::Text(x), ConstValue::Text(y)) if *op == BinaryOp::Add => {
                    ConstValue::Text(x + &y)
                }
                _ => return None,
            },
            _ => return None,
        })
    }
}

fn zero_const(t: Type) -> ConstValue {
    match t {
        Type::Number => ConstValue::Num(0.0),
        Type::Text | Type::Recording => ConstValue::Text(String::new()),
        _ => ConstValue::Int(0),
    }
}
