//! Window functions: `f(...) OVER (PARTITION BY ... ORDER BY ... frame)`.
//!
//! Binding (`bind_window`) collects each call while a SELECT's list and
//! ORDER BY are bound and stands a placeholder column in for its value;
//! the SELECT moves the placeholders to the columns after its aggregates
//! once it knows how many there are. `compute` then runs after grouping
//! and HAVING, before the projection: per call it partitions the rows,
//! orders each partition, and appends the function's value to every row.
//!
//! Frames: ROWS with any bounds; RANGE with UNBOUNDED / CURRENT ROW (peer
//! groups) and numeric offsets over a single numeric ORDER BY key. Without
//! ORDER BY the frame is the whole partition; with it and no frame clause,
//! RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (the SQL default).

use std::cmp::Ordering;
use std::collections::HashMap;

use sqlparser::ast;
use trireme_storage::collation::Collation;
use trireme_storage::keycode;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::{compare, sort_cmp_collated, Value};

use crate::bind::{AggCall, AggFunc, BindEnv};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::select::{accumulate_agg, finish_agg, new_agg_state};
use crate::{collate, Exec, OutCol};

/// Placeholder column positions of window values while binding.
pub const WINDOW_BASE: usize = 1 << 40;

#[derive(Clone, Debug)]
pub enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    Agg(AggCall),
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    Unbounded,
    Offset(i64),
    Current,
}

#[derive(Clone, Debug)]
struct Frame {
    rows: bool,
    start: (Bound, bool),
    end: (Bound, bool),
}

/// One window function call.
#[derive(Clone, Debug)]
pub struct WindowCall {
    pub func: WinFunc,
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<(Expr, bool)>,
    frame: Option<Frame>,
}

/// What a SELECT collects while binding its list and ORDER BY.
#[derive(Default)]
pub struct Collector {
    pub calls: Vec<WindowCall>,
    pub named: Vec<(String, ast::WindowSpec)>,
}

impl Exec<'_> {
    /// Binds `f(...) OVER ...`; the value is a placeholder column.
    pub(crate) fn bind_window(&mut self, f: &ast::Function, env: &mut BindEnv) -> SqlResult<Expr> {
        let Some(over) = &f.over else {
            return Err(SqlError::internal("not a window function"));
        };
        if self.windows.is_none() {
            return Err(SqlError::new(
                4015,
                "HY000",
                "Window function is allowed only in SELECT list and ORDER BY clause",
            ));
        }
        let spec = match over {
            ast::WindowType::WindowSpec(s) => s.clone(),
            ast::WindowType::NamedWindow(n) => self.named_window(&n.value)?,
        };
        let spec = match &spec.window_name {
            // `OVER (w ORDER BY ...)`: the named window, refined.
            Some(base) => {
                let mut b = self.named_window(&base.value)?;
                if !spec.order_by.is_empty() {
                    b.order_by = spec.order_by.clone();
                }
                if spec.window_frame.is_some() {
                    b.window_frame = spec.window_frame.clone();
                }
                b
            }
            None => spec,
        };
        let name = f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_ascii_uppercase())
            .unwrap_or_default();
        let (arg_list, distinct) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false),
            ast::FunctionArguments::List(l) => (
                l.args.clone(),
                matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                ),
            ),
            ast::FunctionArguments::Subquery(_) => {
                return Err(SqlError::unsupported(
                    "subquery as window function argument",
                ))
            }
        };
        let star = matches!(
            arg_list.first(),
            Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard))
        );
        let mut args = Vec::new();
        for a in &arg_list {
            if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a {
                args.push(self.bind(e, env)?);
            }
        }
        let argc = args.len();
        let want = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(SqlError::wrong_arg_count(&name))
            }
        };
        let agg = |func: AggFunc, args: &[Expr]| AggCall {
            func,
            args: args.to_vec(),
            distinct,
            separator: ",".into(),
            order: Vec::new(),
            order_colls: Vec::new(),
            limit: None,
            raw_json: Vec::new(),
        };
        let func = match name.as_str() {
            "ROW_NUMBER" => want(argc == 0).map(|_| WinFunc::RowNumber)?,
            "RANK" => want(argc == 0).map(|_| WinFunc::Rank)?,
            "DENSE_RANK" => want(argc == 0).map(|_| WinFunc::DenseRank)?,
            "PERCENT_RANK" => want(argc == 0).map(|_| WinFunc::PercentRank)?,
            "CUME_DIST" => want(argc == 0).map(|_| WinFunc::CumeDist)?,
            "NTILE" => want(argc == 1).map(|_| WinFunc::Ntile)?,
            "LAG" => want((1..=3).contains(&argc)).map(|_| WinFunc::Lag)?,
            "LEAD" => want((1..=3).contains(&argc)).map(|_| WinFunc::Lead)?,
            "FIRST_VALUE" => want(argc == 1).map(|_| WinFunc::FirstValue)?,
            "LAST_VALUE" => want(argc == 1).map(|_| WinFunc::LastValue)?,
            "NTH_VALUE" => want(argc == 2).map(|_| WinFunc::NthValue)?,
            "COUNT" if star => WinFunc::Agg(agg(AggFunc::CountStar, &[])),
            "COUNT" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::Count, &args)))?,
            "SUM" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::Sum, &args)))?,
            "AVG" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::Avg, &args)))?,
            "MIN" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::Min, &args)))?,
            "MAX" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::Max, &args)))?,
            "BIT_AND" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::BitAnd, &args)))?,
            "BIT_OR" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::BitOr, &args)))?,
            "BIT_XOR" => want(argc == 1).map(|_| WinFunc::Agg(agg(AggFunc::BitXor, &args)))?,
            other => match AggFunc::variance(other) {
                Some(f) => want(argc == 1).map(|_| WinFunc::Agg(agg(f, &args)))?,
                None => return Err(SqlError::unsupported(format!("window function {other}"))),
            },
        };
        let mut partition = Vec::new();
        for p in &spec.partition_by {
            partition.push(self.bind(p, env)?);
        }
        let mut order = Vec::new();
        for ob in &spec.order_by {
            let desc = matches!(ob.options.sort, Some(ast::OrderBySort::Desc));
            order.push((self.bind(&ob.expr, env)?, desc));
        }
        let frame = match &spec.window_frame {
            None => None,
            Some(fr) => Some(self.frame(fr, &order)?),
        };
        let collector = self
            .windows
            .as_mut()
            .ok_or_else(|| SqlError::internal("window collector gone"))?;
        collector.calls.push(WindowCall {
            func,
            args,
            partition,
            order,
            frame,
        });
        Ok(Expr::Col(WINDOW_BASE + collector.calls.len() - 1))
    }

    fn named_window(&self, name: &str) -> SqlResult<ast::WindowSpec> {
        self.windows
            .as_ref()
            .and_then(|c| c.named.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, s)| s.clone())
            .ok_or_else(|| {
                SqlError::new(
                    4009,
                    "HY000",
                    format!("Window specification with name '{name}' is not defined"),
                )
            })
    }

    fn frame(&mut self, fr: &ast::WindowFrame, order: &[(Expr, bool)]) -> SqlResult<Frame> {
        let rows = match fr.units {
            ast::WindowFrameUnits::Rows => true,
            ast::WindowFrameUnits::Range => false,
            ast::WindowFrameUnits::Groups => {
                return Err(SqlError::unsupported("GROUPS frames"));
            }
        };
        let mut bound = |b: &ast::WindowFrameBound| -> SqlResult<(Bound, bool)> {
            let offset = |e: &ast::Expr, this: &mut Self| -> SqlResult<i64> {
                let scope = crate::bind::Scope::default();
                let v = this
                    .bind(e, &mut BindEnv::new(&scope, "window frame"))?
                    .eval(&[])?;
                v.to_i64().filter(|n| *n >= 0).ok_or_else(|| {
                    SqlError::new(4023, "HY000", "Frame bound must be a non-negative number")
                })
            };
            Ok(match b {
                ast::WindowFrameBound::CurrentRow => (Bound::Current, false),
                ast::WindowFrameBound::Preceding(None) => (Bound::Unbounded, true),
                ast::WindowFrameBound::Following(None) => (Bound::Unbounded, false),
                ast::WindowFrameBound::Preceding(Some(e)) => {
                    (Bound::Offset(offset(e, self)?), true)
                }
                ast::WindowFrameBound::Following(Some(e)) => {
                    (Bound::Offset(offset(e, self)?), false)
                }
            })
        };
        let start = bound(&fr.start_bound)?;
        let end = match &fr.end_bound {
            Some(b) => bound(b)?,
            None => (Bound::Current, false),
        };
        if !rows
            && (matches!(start.0, Bound::Offset(_)) || matches!(end.0, Bound::Offset(_)))
            && order.len() != 1
        {
            return Err(SqlError::new(
                4019,
                "HY000",
                "RANGE-type frame requires ORDER BY clause with single sort key",
            ));
        }
        Ok(Frame { rows, start, end })
    }
}

/// The result type of a window call over the pre-window `layout`.
pub fn out_col(call: &WindowCall, layout: &[OutCol]) -> OutCol {
    let big = Some(SqlType::Int {
        width: IntWidth::Big,
        unsigned: false,
    });
    let (ty, nullable) = match &call.func {
        WinFunc::RowNumber | WinFunc::Rank | WinFunc::DenseRank | WinFunc::Ntile => (big, false),
        WinFunc::PercentRank | WinFunc::CumeDist => (Some(SqlType::Double), false),
        WinFunc::Agg(a) => crate::bind::agg_type(a, layout),
        _ => {
            let (ty, _) = call
                .args
                .first()
                .map_or((None, true), |a| crate::bind::infer(a, layout));
            (ty, true)
        }
    };
    OutCol::expr("window", ty, nullable)
}

/// Appends each call's value to every row (`layout` describes the rows).
pub fn compute(
    rows: &mut [Vec<Value>],
    calls: &[WindowCall],
    layout: &mut Vec<OutCol>,
    conn: Collation,
) -> SqlResult<()> {
    for call in calls {
        let coll_of = |e: &Expr| collate::derive(e, layout, conn).map(|d| d.collation);
        let part_colls: Vec<Option<Collation>> = call.partition.iter().map(coll_of).collect();
        let order_colls: Vec<Option<Collation>> =
            call.order.iter().map(|(e, _)| coll_of(e)).collect();
        let agg_coll = call.args.first().and_then(coll_of);
        // Partition, keeping first-appearance order.
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut parts: Vec<Vec<usize>> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let mut key = Vec::new();
            for (p, c) in call.partition.iter().zip(&part_colls) {
                keycode::encode_collated(&mut key, &p.eval(r)?, *c);
            }
            let slot = *index.entry(key).or_insert_with(|| {
                parts.push(Vec::new());
                parts.len() - 1
            });
            parts[slot].push(i);
        }
        let mut out: Vec<Value> = vec![Value::Null; rows.len()];
        for part in parts {
            let keys: Vec<Vec<Value>> = part
                .iter()
                .map(|&i| call.order.iter().map(|(e, _)| e.eval(&rows[i])).collect())
                .collect::<SqlResult<_>>()?;
            let cmp = |a: &[Value], b: &[Value]| {
                for (j, (_, desc)) in call.order.iter().enumerate() {
                    let o = sort_cmp_collated(&a[j], &b[j], order_colls[j]);
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            };
            let mut pos: Vec<usize> = (0..part.len()).collect();
            pos.sort_by(|&a, &b| cmp(&keys[a], &keys[b]));
            let sorted: Vec<usize> = pos.iter().map(|&p| part[p]).collect();
            let sorted_keys: Vec<&Vec<Value>> = pos.iter().map(|&p| &keys[p]).collect();
            let n = sorted.len();
            // Peer groups: [start, end) of the rows equal on the ORDER BY.
            let mut peer = vec![(0usize, 0usize); n];
            let mut s = 0;
            while s < n {
                let mut e = s + 1;
                while e < n && cmp(sorted_keys[s], sorted_keys[e]) == Ordering::Equal {
                    e += 1;
                }
                for p in peer.iter_mut().take(e).skip(s) {
                    *p = (s, e);
                }
                s = e;
            }
            let mut dense = 0i64;
            for k in 0..n {
                let row = &rows[sorted[k]];
                let (ps, pe) = peer[k];
                if ps == k {
                    dense += 1;
                }
                let frame = frame_range(call, k, n, &peer, &sorted_keys)?;
                let arg = |i: usize| -> SqlResult<Value> {
                    call.args.get(i).map_or(Ok(Value::Null), |a| a.eval(row))
                };
                let v = match &call.func {
                    WinFunc::RowNumber => Value::Int(k as i64 + 1),
                    WinFunc::Rank => Value::Int(ps as i64 + 1),
                    WinFunc::DenseRank => Value::Int(dense),
                    WinFunc::PercentRank => Value::Double(if n > 1 {
                        ps as f64 / (n - 1) as f64
                    } else {
                        0.0
                    }),
                    WinFunc::CumeDist => Value::Double(pe as f64 / n as f64),
                    WinFunc::Ntile => {
                        let b = arg(0)?.to_i64().filter(|b| *b > 0).ok_or_else(|| {
                            SqlError::new(4024, "HY000", "Argument of NTILE must be greater than 0")
                        })? as usize;
                        let (size, extra) = (n / b, n % b);
                        // The first `extra` buckets hold one row more.
                        let big = extra * (size + 1);
                        let bucket = if k < big {
                            k / (size + 1)
                        } else {
                            extra + (k - big) / size.max(1)
                        };
                        Value::Int(bucket as i64 + 1)
                    }
                    WinFunc::Lag | WinFunc::Lead => {
                        let off = match call.args.get(1) {
                            Some(e) => e.eval(row)?.to_i64().unwrap_or(1),
                            None => 1,
                        };
                        let target = if matches!(call.func, WinFunc::Lag) {
                            k as i64 - off
                        } else {
                            k as i64 + off
                        };
                        if target >= 0 && (target as usize) < n {
                            call.args[0].eval(&rows[sorted[target as usize]])?
                        } else {
                            arg(2)?
                        }
                    }
                    WinFunc::FirstValue => match frame {
                        Some((a, _)) => call.args[0].eval(&rows[sorted[a]])?,
                        None => Value::Null,
                    },
                    WinFunc::LastValue => match frame {
                        Some((_, b)) => call.args[0].eval(&rows[sorted[b - 1]])?,
                        None => Value::Null,
                    },
                    WinFunc::NthValue => {
                        let nth = arg(1)?.to_i64().filter(|x| *x >= 1).ok_or_else(|| {
                            SqlError::new(1210, "HY000", "Incorrect arguments to NTH_VALUE")
                        })? as usize;
                        match frame {
                            Some((a, b)) if a + nth - 1 < b => {
                                call.args[0].eval(&rows[sorted[a + nth - 1]])?
                            }
                            _ => Value::Null,
                        }
                    }
                    WinFunc::Agg(a) => {
                        let mut st = new_agg_state(a);
                        let mut seen = std::collections::HashSet::new();
                        if let Some((fa, fb)) = frame {
                            for &i in &sorted[fa..fb] {
                                if a.distinct {
                                    let v = a.args[0].eval(&rows[i])?;
                                    let mut key = Vec::new();
                                    keycode::encode_collated(&mut key, &v, agg_coll);
                                    if !seen.insert(key) {
                                        continue;
                                    }
                                }
                                accumulate_agg(a, &mut st, &rows[i], agg_coll)?;
                            }
                        }
                        finish_agg(a, st)
                    }
                };
                out[sorted[k]] = v;
            }
        }
        let meta = out_col(call, layout);
        for (r, v) in rows.iter_mut().zip(out) {
            r.push(v);
        }
        layout.push(meta);
    }
    Ok(())
}

/// The frame of row `k` (sorted position) as [start, end), None if empty.
fn frame_range(
    call: &WindowCall,
    k: usize,
    n: usize,
    peer: &[(usize, usize)],
    keys: &[&Vec<Value>],
) -> SqlResult<Option<(usize, usize)>> {
    let Some(fr) = &call.frame else {
        return Ok(Some(if call.order.is_empty() {
            (0, n)
        } else {
            (0, peer[k].1)
        }));
    };
    let start = |b: (Bound, bool)| -> SqlResult<i64> { edge(fr, call, b, k, n, peer, keys, true) };
    let end = |b: (Bound, bool)| -> SqlResult<i64> { edge(fr, call, b, k, n, peer, keys, false) };
    let (a, b) = (start(fr.start)?.max(0), end(fr.end)?.min(n as i64));
    Ok((a < b).then_some((a as usize, b as usize)))
}

/// One edge of a frame: the first row in it (`is_start`) or one past the
/// last.
#[allow(clippy::too_many_arguments)]
fn edge(
    fr: &Frame,
    call: &WindowCall,
    (bound, preceding): (Bound, bool),
    k: usize,
    n: usize,
    peer: &[(usize, usize)],
    keys: &[&Vec<Value>],
    is_start: bool,
) -> SqlResult<i64> {
    let k = k as i64;
    Ok(match bound {
        Bound::Unbounded if preceding => 0,
        Bound::Unbounded => n as i64,
        Bound::Current if fr.rows => {
            if is_start {
                k
            } else {
                k + 1
            }
        }
        Bound::Current => {
            let (s, e) = peer[k as usize];
            if is_start {
                s as i64
            } else {
                e as i64
            }
        }
        Bound::Offset(o) if fr.rows => {
            let at = if preceding { k - o } else { k + o };
            if is_start {
                at
            } else {
                at + 1
            }
        }
        Bound::Offset(o) => {
            // RANGE: by value of the single ORDER BY key. PRECEDING means
            // smaller values in ascending order, larger in descending.
            let desc = call.order.first().is_some_and(|(_, d)| *d);
            let Some(x) = keys[k as usize][0].to_f64() else {
                return Err(SqlError::new(
                    4020,
                    "HY000",
                    "Numeric datatype is required for RANGE-type frame",
                ));
            };
            let o = o as f64;
            let target = Value::Double(if preceding != desc { x - o } else { x + o });
            let at_or_past = |i: usize, start: bool| {
                let v = &keys[i][0];
                if v.is_null() {
                    return false;
                }
                match (compare(v, &target), start != desc) {
                    (Some(c), true) => c != Ordering::Less,
                    (Some(c), false) => c != Ordering::Greater,
                    (None, _) => false,
                }
            };
            if is_start {
                (0..n).find(|&i| at_or_past(i, true)).unwrap_or(n) as i64
            } else {
                (0..n)
                    .rev()
                    .find(|&i| at_or_past(i, false))
                    .map_or(0, |i| i + 1) as i64
            }
        }
    })
}
