//! Expressions: operator chains folded by precedence, prefix operators, postfix
//! field access and calls, and the limits on chain length and prefix runs that
//! keep the checker's recursion bounded.

use super::{Builder, MAX_OPERANDS, MAX_PREFIX, P, Rule, first};
use crate::ast::*;

impl Builder<'_> {
    pub(super) fn mk(&mut self, kind: ExprKind, span: Span) -> Expr {
        Expr {
            id: self.ids.next_id(),
            kind,
            span,
        }
    }

    pub(super) fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr => {
                let mut it = p.into_inner();
                let Some(c) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let cond = self.expr(c);
                match (it.next(), it.next(), it.next()) {
                    (Some(_q), Some(a), Some(b)) => {
                        let a = self.expr(a);
                        let b = self.expr(b);
                        self.mk(
                            ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
                            span,
                        )
                    }
                    _ => cond,
                }
            }
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let mut lhs = self.expr(f);
                let mut operands = 1;
                while let (Some(op), Some(r)) = (it.next(), it.next()) {
                    operands += 1;
                    if operands > MAX_OPERANDS {
                        self.error(
                            "too-complex",
                            span,
                            format!("this expression has more than {MAX_OPERANDS} parts; split it into named steps"),
                        );
                        break;
                    }
                    let op = match op.as_str().trim() {
                        "or" => BinaryOp::Or,
                        "and" => BinaryOp::And,
                        "+" => BinaryOp::Add,
                        "-" => BinaryOp::Sub,
                        "*" => BinaryOp::Mul,
                        _ => BinaryOp::Div,
                    };
                    let rhs = self.expr(r);
                    let s = lhs.span.to(rhs.span);
                    lhs = self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), s);
                }
                lhs
            }
            Rule::not_expr | Rule::unary_expr => {
                let parts: Vec<_> = p.into_inner().collect();
                let mut ops = Vec::new();
                let mut inner = None;
                for c in parts {
                    match c.as_rule() {
                        Rule::op_not => ops.push((UnaryOp::Not, self.span(&c))),
                        Rule::op_neg => ops.push((UnaryOp::Neg, self.span(&c))),
                        _ => inner = Some(self.expr(c)),
                    }
                }
                if ops.len() > MAX_PREFIX {
                    self.error(
                        "too-complex",
                        span,
                        format!("more than {MAX_PREFIX} `not` or `-` in a row"),
                    );
                    ops.truncate(MAX_PREFIX);
                }
                let mut e = match inner {
                    Some(e) => e,
                    None => self.mk(ExprKind::Bool(false), span),
                };
                for (op, s) in ops.into_iter().rev() {
                    let sp = s.to(e.span);
                    e = self.mk(ExprKind::Unary(op, Box::new(e)), sp);
                }
                e
            }
            Rule::cmp_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let lhs = self.expr(f);
                match (it.next(), it.next()) {
                    (Some(op), Some(rhs)) => match op.as_rule() {
                        Rule::op_in | Rule::op_not_in => {
                            let negated = op.as_rule() == Rule::op_not_in;
                            let target = self.in_target(rhs);
                            self.mk(
                                ExprKind::In {
                                    value: Box::new(lhs),
                                    target,
                                    negated,
                                },
                                span,
                            )
                        }
                        _ => {
                            let op = match op.as_str() {
                                "==" => BinaryOp::Eq,
                                "!=" => BinaryOp::Ne,
                                "<=" => BinaryOp::Le,
                                ">=" => BinaryOp::Ge,
                                "<" => BinaryOp::Lt,
                                _ => BinaryOp::Gt,
                            };
                            let rhs = self.expr(rhs);
                            self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)
                        }
                    },
                    _ => lhs,
                }
            }
            Rule::postfix_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let mut e = self.expr(f);
                for (n, field) in it.enumerate() {
                    if n >= MAX_OPERANDS {
                        self.error("too-complex", span, "this chain of fields is too long");
                        break;
                    }
                    let name = self.ident(field);
                    let s = e.span.to(name.span);
                    e = self.mk(ExprKind::Field(Box::new(e), name), s);
                }
                e
            }
            Rule::paren_expr => match first(&p) {
                Some(e) => self.expr(e),
                None => self.mk(ExprKind::Bool(false), span),
            },
            Rule::date => {
                let d = self.date(&p);
                self.mk(ExprKind::Date(d), span)
            }
            Rule::datetime => {
                let d = self.datetime(&p);
                self.mk(ExprKind::DateTime(d), span)
            }
            Rule::clock => {
                let c = self.clock(&p);
                self.mk(ExprKind::Clock(c), span)
            }
            Rule::duration | Rule::bad_duration => {
                let d = self.duration_lit(p);
                self.mk(ExprKind::Duration(d.millis), span)
            }
            Rule::percent => {
                let v = self.percent(&p);
                self.mk(ExprKind::Percent(v), span)
            }
            Rule::number => {
                let v = self.num(&p);
                self.mk(ExprKind::Number(v), span)
            }
            Rule::boolean => self.mk(ExprKind::Bool(p.as_str() == "true"), span),
            Rule::text => {
                let t = self.text(p);
                self.mk(ExprKind::Text(t), span)
            }
            Rule::func_call => {
                let mut it = p.into_inner();
                let name = it.next().map(|n| self.ident(n));
                let args = it
                    .flat_map(|a| a.into_inner())
                    .map(|a| self.expr(a))
                    .collect();
                match name {
                    Some(n) => self.mk(ExprKind::Call(n, args), span),
                    None => self.mk(ExprKind::Bool(false), span),
                }
            }
            Rule::list_literal => {
                let items = p.into_inner().map(|a| self.expr(a)).collect();
                self.mk(ExprKind::List(items), span)
            }
            Rule::data_ref => {
                let f = first(&p).map(|f| self.ident(f));
                match f {
                    Some(f) => self.mk(ExprKind::Data(f), span),
                    None => self.mk(ExprKind::Bool(false), span),
                }
            }
            Rule::name => {
                let i = self.ident(p);
                self.mk(ExprKind::Name(i), span)
            }
            _ => match first(&p) {
                Some(e) => self.expr(e),
                None => self.mk(ExprKind::Bool(false), span),
            },
        }
    }

    pub(super) fn in_target(&mut self, p: P<'_>) -> InTarget {
        let span = self.span(&p);
        let Some(inner) = first(&p) else {
            return InTarget::Values(Vec::new(), span);
        };
        match inner.as_rule() {
            Rule::list_literal => {
                let s = self.span(&inner);
                InTarget::Values(inner.into_inner().map(|a| self.expr(a)).collect(), s)
            }
            _ => {
                let mut it = inner.into_inner();
                let list = it.next().map(|l| self.ident(l)).unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                let category = it.next().map(|c| self.ident(c));
                InTarget::List { list, category }
            }
        }
    }
}
