//! Binding: parsed expressions become `Expr` trees over a row layout.
//!
//! A `Scope` lists the columns of the row an expression is evaluated on, in
//! order (the concatenated columns of the FROM sources). Column names resolve
//! to positions; `@@variables`, `@user_vars`, `?` parameters, session
//! functions (DATABASE(), LAST_INSERT_ID(), NOW()) and uncorrelated
//! subqueries are evaluated here, once per statement, and become literals.
//!
//! In aggregate mode the row is the group's first source row followed by one
//! slot per aggregate call, so an aggregate binds to `Col(scope.len() + k)`.

use sqlparser::ast::{self, BinaryOperator as B, UnaryOperator as U};

use crate::arith::{self, ArithOp};
use crate::correlated::SubKind;
use crate::error::{SqlError, SqlResult};
use crate::expr::{BitOp, CastTo, CmpOp, Expr, Func, IntervalUnit};
use crate::{collate, vars, Exec, OutCol};
use trireme_storage::collation::Collation;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::{self, DateTime, Value};

/// One column of a row layout.
#[derive(Clone, Debug)]
pub struct ScopeCol {
    /// The qualifier this column answers to (table alias or name).
    pub source: String,
    pub meta: OutCol,
}

#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub cols: Vec<ScopeCol>,
}

impl Scope {
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// Finds a column by optional qualifier and name.
    pub fn resolve(
        &self,
        db: Option<&str>,
        table: Option<&str>,
        name: &str,
        place: &str,
    ) -> SqlResult<usize> {
        let mut found = None;
        for (i, c) in self.cols.iter().enumerate() {
            if !c.meta.name.eq_ignore_ascii_case(name) {
                continue;
            }
            if let Some(t) = table {
                if c.source != t {
                    continue;
                }
            }
            if let Some(d) = db {
                if c.meta.db != d {
                    continue;
                }
            }
            if found.is_some() {
                return Err(SqlError::ambiguous_field(name, place));
            }
            found = Some(i);
        }
        found.ok_or_else(|| {
            let full = match table {
                Some(t) => format!("{t}.{name}"),
                None => name.to_string(),
            };
            SqlError::bad_field(&full, place)
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    GroupConcat,
    /// JSON_ARRAYAGG(v) and JSON_OBJECTAGG(k, v): NULL values are kept
    /// (as JSON null), unlike the other aggregates.
    JsonArrayAgg,
    JsonObjectAgg,
    BitAnd,
    BitOr,
    BitXor,
    /// VAR_POP / VAR_SAMP / STDDEV_POP / STDDEV_SAMP and their aliases.
    Variance {
        sample: bool,
        root: bool,
    },
}

impl AggFunc {
    /// The statistical aggregates by name (MariaDB's aliases included).
    pub fn variance(name: &str) -> Option<AggFunc> {
        let (sample, root) = match name {
            "VAR_POP" | "VARIANCE" => (false, false),
            "VAR_SAMP" => (true, false),
            "STDDEV_POP" | "STDDEV" | "STD" => (false, true),
            "STDDEV_SAMP" => (true, true),
            _ => return None,
        };
        Some(AggFunc::Variance { sample, root })
    }
}

#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub separator: String,
    /// GROUP_CONCAT(... ORDER BY ...): (expr, descending).
    pub order: Vec<(Expr, bool)>,
    /// The collation each `order` key sorts under (None: not a string).
    pub order_colls: Vec<Option<Collation>>,
    /// GROUP_CONCAT / JSON_ARRAYAGG (... LIMIT n).
    pub limit: Option<u64>,
    /// Per argument: its text is a JSON document to embed as written (a
    /// JSON column or a JSON-returning function), not a string to quote.
    pub raw_json: Vec<bool>,
}

/// Where an expression is being bound.
pub struct BindEnv<'s> {
    pub scope: &'s Scope,
    /// Some in aggregate mode: aggregate calls are collected here.
    pub aggs: Option<&'s mut Vec<AggCall>>,
    /// Select-list aliases usable here (HAVING, ORDER BY), already bound in
    /// this layout.
    pub aliases: &'s [(String, Expr)],
    /// For error messages: "field list", "where clause", ...
    pub place: &'static str,
}

impl<'s> BindEnv<'s> {
    pub fn new(scope: &'s Scope, place: &'static str) -> BindEnv<'s> {
        BindEnv {
            scope,
            aggs: None,
            aliases: &[],
            place,
        }
    }
}

/// A hex or bit literal (`0x41`, `b'101'`) where a number is wanted: its
/// bytes as a big-endian unsigned integer, as MariaDB reads it (`0x41 + 0`
/// is 65, `bits = b'101'` compares with 5). Longer literals stay strings.
pub(crate) fn hex_number(e: Expr) -> Expr {
    match e {
        Expr::Lit(Value::Bytes(b)) if b.len() <= 8 => Expr::Lit(Value::UInt(
            b.iter().fold(0u64, |n, x| n << 8 | u64::from(*x)),
        )),
        other => other,
    }
}

/// Whether `e` is a column of a numeric type (integers, BIT, YEAR,
/// DECIMAL, floating point).
fn numeric_column(e: &Expr, scope: &Scope) -> bool {
    let Expr::Col(i) = e else { return false };
    matches!(
        scope.cols.get(*i).and_then(|c| c.meta.ty.as_ref()),
        Some(
            SqlType::Int { .. }
                | SqlType::Bool
                | SqlType::Bit(_)
                | SqlType::Year
                | SqlType::Decimal { .. }
                | SqlType::Float
                | SqlType::Double
        )
    )
}

/// A two-digit number compared with a YEAR column is a two-digit year
/// (`yr = 24` finds 2024), as MariaDB converts it to the column's type.
fn year_literal(lit: Expr, other: &Expr, scope: &Scope) -> Expr {
    let Expr::Col(i) = other else { return lit };
    if !matches!(
        scope.cols.get(*i).and_then(|c| c.meta.ty.as_ref()),
        Some(SqlType::Year)
    ) {
        return lit;
    }
    let two_digit = crate::coerce::two_digit_year;
    match lit {
        Expr::Lit(Value::Int(n @ 1..=99)) => Expr::Lit(Value::Int(two_digit(n))),
        Expr::Lit(Value::UInt(n @ 1..=99)) => Expr::Lit(Value::Int(two_digit(n as i64))),
        other => other,
    }
}

/// `e` as a number when it is an ENUM or SET column (its position or bit
/// mask); anything else unchanged.
fn member_ordinal(e: Expr, scope: &Scope) -> Expr {
    let Expr::Col(i) = e else { return e };
    let (members, set) = match scope.cols.get(i).and_then(|c| c.meta.ty.as_ref()) {
        Some(SqlType::Enum(m)) => (m, false),
        Some(SqlType::Set(m)) => (m, true),
        _ => return e,
    };
    Expr::Func(
        Func::MemberOrdinal,
        vec![
            e,
            Expr::Lit(Value::Str(members.join("\0"))),
            Expr::Lit(Value::Int(i64::from(set))),
        ],
    )
}

pub fn ident_name(i: &ast::Ident) -> String {
    i.value.clone()
}

impl Exec<'_> {
    /// Whether `e`'s text is a JSON document to embed as written: a JSON
    /// column (MariaDB keeps one as LONGTEXT with a `json_valid` check) or
    /// a JSON-returning function.
    fn is_json_expr(&self, e: &Expr, scope: &Scope) -> bool {
        match e {
            Expr::Func(f, _) => crate::func::returns_json(*f),
            Expr::Col(i) => scope.cols.get(*i).is_some_and(|c| {
                let m = &c.meta;
                self.catalog.table(&m.db, &m.org_table).is_some_and(|t| {
                    t.def.columns.iter().any(|col| {
                        col.name.eq_ignore_ascii_case(&m.org_name)
                            && col.check.as_deref()
                                == Some(format!("json_valid(`{}`)", col.name).as_str())
                    })
                })
            }),
            _ => false,
        }
    }

    /// Binds a parsed expression in `env`.
    pub fn bind(&mut self, e: &ast::Expr, env: &mut BindEnv) -> SqlResult<Expr> {
        use ast::Expr as A;
        Ok(match e {
            A::Identifier(id) => self.bind_identifier(std::slice::from_ref(id), env)?,
            A::CompoundIdentifier(ids) => self.bind_identifier(ids, env)?,
            A::Value(v) => Expr::Lit(self.literal(&v.value)?),
            A::Nested(inner) => self.bind(inner, env)?,
            A::IsNull(x) => Expr::IsNull(Box::new(self.bind(x, env)?), false),
            A::IsNotNull(x) => Expr::IsNull(Box::new(self.bind(x, env)?), true),
            A::IsTrue(x) => Expr::IsBool(Box::new(self.bind(x, env)?), true, false),
            A::IsNotTrue(x) => Expr::IsBool(Box::new(self.bind(x, env)?), true, true),
            A::IsFalse(x) => Expr::IsBool(Box::new(self.bind(x, env)?), false, false),
            A::IsNotFalse(x) => Expr::IsBool(Box::new(self.bind(x, env)?), false, true),
            A::IsUnknown(x) => Expr::IsNull(Box::new(self.bind(x, env)?), false),
            A::IsNotUnknown(x) => Expr::IsNull(Box::new(self.bind(x, env)?), true),
            A::IsDistinctFrom(a, b) => {
                let (a, b) = (self.bind(a, env)?, self.bind(b, env)?);
                let coll = self.cmp_collation(&[&a, &b], env, "<=>")?;
                Expr::Not(Box::new(Expr::Cmp(
                    CmpOp::NullSafeEq,
                    Box::new(a),
                    Box::new(b),
                    coll,
                )))
            }
            A::IsNotDistinctFrom(a, b) => {
                let (a, b) = (self.bind(a, env)?, self.bind(b, env)?);
                let coll = self.cmp_collation(&[&a, &b], env, "<=>")?;
                Expr::Cmp(CmpOp::NullSafeEq, Box::new(a), Box::new(b), coll)
            }
            A::InList {
                expr,
                list,
                negated,
            } => {
                if let A::Tuple(items) = expr.as_ref() {
                    let lhs = items
                        .iter()
                        .map(|x| self.bind(x, env))
                        .collect::<SqlResult<Vec<_>>>()?;
                    let mut rows = Vec::new();
                    for l in list {
                        let A::Tuple(r) = l else {
                            return Err(SqlError::operand_columns(lhs.len()));
                        };
                        if r.len() != lhs.len() {
                            return Err(SqlError::operand_columns(lhs.len()));
                        }
                        rows.push(
                            r.iter()
                                .map(|x| self.bind(x, env))
                                .collect::<SqlResult<Vec<_>>>()?,
                        );
                    }
                    let colls = self.tuple_collations(&lhs, &rows, env)?;
                    return Ok(Expr::TupleIn(lhs, rows, *negated, colls));
                }
                let x = self.bind(expr, env)?;
                let mut l = list
                    .iter()
                    .map(|i| self.bind(i, env))
                    .collect::<SqlResult<Vec<_>>>()?;
                if numeric_column(&x, env.scope) {
                    l = l.into_iter().map(hex_number).collect();
                }
                let all: Vec<&Expr> = std::iter::once(&x).chain(l.iter()).collect();
                let coll = self.cmp_collation(&all, env, "IN")?;
                Expr::InList(Box::new(x), l, *negated, coll)
            }
            A::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                no_limit_in_quantified(subquery)?;
                if let A::Tuple(items) = expr.as_ref() {
                    let lhs = items
                        .iter()
                        .map(|x| self.bind(x, env))
                        .collect::<SqlResult<Vec<_>>>()?;
                    let rows = self.row_subquery(subquery, lhs.len(), env)?;
                    let rows: Vec<Vec<Expr>> = rows
                        .into_iter()
                        .map(|r| r.into_iter().map(Expr::Lit).collect())
                        .collect();
                    let colls = self.tuple_collations(&lhs, &rows, env)?;
                    return Ok(Expr::TupleIn(lhs, rows, *negated, colls));
                }
                let x = self.bind(expr, env)?;
                let kind = |lhs, coll| SubKind::In {
                    lhs,
                    negated: *negated,
                    coll,
                };
                match self.compared_subquery(&x, subquery, "IN", kind, env)? {
                    Compared::Values(list, coll) => Expr::InList(Box::new(x), list, *negated, coll),
                    Compared::Correlated(e) => e,
                }
            }
            A::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.bind_quantified(left, compare_op, right, false, env)?,
            A::AllOp {
                left,
                compare_op,
                right,
            } => self.bind_quantified(left, compare_op, right, true, env)?,
            A::Subquery(q) => {
                let (cols, mut rows) = match self.try_subquery(q, env.scope, || SubKind::Scalar)? {
                    Ok(r) => r,
                    Err(correlated) => return Ok(correlated),
                };
                if cols.len() != 1 {
                    return Err(SqlError::operand_columns(1));
                }
                if rows.len() > 1 {
                    return Err(SqlError::subquery_rows());
                }
                let v = rows.pop().map_or(Value::Null, |mut r| r.swap_remove(0));
                // The value keeps its column's type (COUNT(*) is a BIGINT).
                match &cols[0].ty {
                    Some(SqlType::Int {
                        width: IntWidth::Big,
                        ..
                    }) => bigint_lit(v),
                    _ => Expr::Lit(v),
                }
            }
            A::Exists { subquery, negated } => {
                let neg = *negated;
                let (_, rows) = match self
                    .try_subquery(subquery, env.scope, || SubKind::Exists { negated: neg })?
                {
                    Ok(r) => r,
                    Err(correlated) => return Ok(correlated),
                };
                Expr::Lit(Value::from_bool(rows.is_empty() == *negated))
            }
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind(expr, env)?;
                let lo = self.bind(low, env)?;
                let hi = self.bind(high, env)?;
                let coll = self.cmp_collation(&[&x, &lo, &hi], env, "between")?;
                Expr::Between(Box::new(x), Box::new(lo), Box::new(hi), *negated, coll)
            }
            A::BinaryOp { left, op, right } => self.bind_binary(left, op, right, env)?,
            A::UnaryOp { op, expr } => {
                let x = self.bind(expr, env)?;
                match op {
                    U::Not | U::BangNot => Expr::Not(Box::new(x)),
                    U::Minus => match x {
                        Expr::Lit(v) => Expr::Lit(arith::negate(&v)?),
                        other => Expr::Neg(Box::new(other)),
                    },
                    U::Plus => x,
                    U::BitwiseNot => Expr::BitOp(
                        BitOp::Xor,
                        Box::new(x),
                        Box::new(Expr::Lit(Value::UInt(u64::MAX))),
                    ),
                    other => return Err(SqlError::unsupported(format!("operator {other}"))),
                }
            }
            A::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => {
                let esc = match escape_char {
                    None => '\\',
                    Some(e) => {
                        let v = self.bind(e, env)?.eval(&[])?;
                        v.to_text_lossy().chars().next().unwrap_or('\\')
                    }
                };
                let x = self.bind(expr, env)?;
                let pat = self.bind(pattern, env)?;
                let coll = self.cmp_collation(&[&x, &pat], env, "like")?;
                Expr::Like(Box::new(x), Box::new(pat), esc, *negated, coll)
            }
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let op = match operand {
                    Some(o) => Some(Box::new(self.bind(o, env)?)),
                    None => None,
                };
                let mut whens = Vec::new();
                for w in conditions {
                    whens.push((self.bind(&w.condition, env)?, self.bind(&w.result, env)?));
                }
                let els = match else_result {
                    Some(e) => Some(Box::new(self.bind(e, env)?)),
                    None => None,
                };
                // `CASE x WHEN 'a' ...` over strings compares under their
                // collation: as `CASE WHEN x = 'a' ...` when reading x again
                // costs nothing and changes nothing (a column or literal).
                if let Some(x) = op
                    .as_deref()
                    .filter(|x| matches!(x, Expr::Col(_) | Expr::Lit(_)))
                {
                    let mut searched = Vec::with_capacity(whens.len());
                    for (w, t) in whens {
                        let coll = self.cmp_collation(&[x, &w], env, "=")?;
                        let cmp = Expr::Cmp(CmpOp::Eq, Box::new(x.clone()), Box::new(w), coll);
                        searched.push((cmp, t));
                    }
                    return Ok(Expr::Case(None, searched, els));
                }
                Expr::Case(op, whens, els)
            }
            A::Function(f) => self.bind_function(f, env)?,
            // sqlparser reads `BINARY a = b` as `BINARY (a = b)`; in MySQL
            // BINARY binds tighter than any comparison. (An explicit
            // `BINARY (a = b)` arrives as Nested and keeps its meaning.)
            A::Cast {
                expr,
                data_type: ast::DataType::Binary(None),
                ..
            } if matches!(expr.as_ref(), A::BinaryOp { op, .. } if cmp_op(op).is_some()) => {
                let A::BinaryOp { left, op, right } = expr.as_ref() else {
                    return Err(SqlError::internal("BINARY over a comparison"));
                };
                let cast = A::Cast {
                    kind: ast::CastKind::Cast,
                    expr: left.clone(),
                    data_type: ast::DataType::Binary(None),
                    format: None,
                };
                self.bind_binary(&cast, op, right, env)?
            }
            A::Cast {
                expr, data_type, ..
            } => Expr::Cast(Box::new(self.bind(expr, env)?), cast_target(data_type)?),
            A::Convert {
                expr,
                data_type,
                charset,
                ..
            } => {
                let x = self.bind(expr, env)?;
                match (data_type, charset) {
                    (Some(dt), _) => Expr::Cast(Box::new(x), cast_target(dt)?),
                    (None, _) => Expr::Cast(Box::new(x), CastTo::Char(None)),
                }
            }
            A::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                // SUBSTRING(str) alone is not MariaDB's grammar.
                let Some(from) = substring_from else {
                    return Err(SqlError::syntax(format!(
                        "check the manual that corresponds to your MariaDB server version for the right syntax to use near ')' in '{expr}'"
                    )));
                };
                let mut args = vec![self.bind(expr, env)?, self.bind(from, env)?];
                if let Some(l) = substring_for {
                    args.push(self.bind(l, env)?);
                }
                Expr::Func(Func::Substring, args)
            }
            A::Trim {
                expr,
                trim_where,
                trim_what,
                ..
            } => {
                let f = match trim_where {
                    Some(ast::TrimWhereField::Leading) => Func::LTrim,
                    Some(ast::TrimWhereField::Trailing) => Func::RTrim,
                    _ => Func::Trim,
                };
                let mut args = vec![self.bind(expr, env)?];
                if let Some(what) = trim_what {
                    args.push(self.bind(what, env)?);
                }
                Expr::Func(f, args)
            }
            A::Ceil { expr, .. } => Expr::Func(Func::Ceil, vec![self.bind(expr, env)?]),
            A::Floor { expr, .. } => Expr::Func(Func::Floor, vec![self.bind(expr, env)?]),
            A::Position { expr, r#in } => Expr::Func(
                Func::Locate,
                vec![self.bind(expr, env)?, self.bind(r#in, env)?],
            ),
            A::RLike {
                negated,
                expr,
                pattern,
                ..
            } => {
                let mut args = vec![self.bind(expr, env)?, self.bind(pattern, env)?];
                self.regexp_case(&mut args, env)?;
                let m = Expr::Func(Func::RegexpLike, args);
                if *negated {
                    Expr::Not(Box::new(m))
                } else {
                    m
                }
            }
            A::Extract { field, expr, .. } => {
                let f = match field {
                    ast::DateTimeField::Year => Func::Year,
                    ast::DateTimeField::Month => Func::Month,
                    ast::DateTimeField::Day => Func::Day,
                    ast::DateTimeField::Hour => Func::Hour,
                    ast::DateTimeField::Minute => Func::Minute,
                    ast::DateTimeField::Second => Func::Second,
                    ast::DateTimeField::Microsecond => Func::Microsecond,
                    ast::DateTimeField::Quarter => Func::Quarter,
                    ast::DateTimeField::Week(_) => Func::Week,
                    ast::DateTimeField::Custom(u)
                        if crate::dialect::COMPOUND_UNITS
                            .iter()
                            .any(|c| u.value.eq_ignore_ascii_case(c)) =>
                    {
                        return Ok(Expr::Func(
                            Func::ExtractUnits,
                            vec![
                                Expr::Lit(Value::Str(u.value.to_ascii_uppercase())),
                                self.bind(expr, env)?,
                            ],
                        ));
                    }
                    other => return Err(SqlError::unsupported(format!("EXTRACT({other})"))),
                };
                Expr::Func(f, vec![self.bind(expr, env)?])
            }
            A::Interval(iv) => {
                if let Some(ast::DateTimeField::Custom(u)) = &iv.leading_field {
                    // A compound unit: its text read now, as an amount of
                    // a simple unit.
                    let Expr::Lit(v) = self.bind(&iv.value, env)? else {
                        return Err(SqlError::unsupported(format!(
                            "INTERVAL {u} of a value that is not a constant"
                        )));
                    };
                    if v.is_null() {
                        return Ok(Expr::Interval(IntervalUnit::Second, Box::new(Expr::Lit(v))));
                    }
                    return Ok(
                        match crate::interval::compound(&u.value, &v.to_text_lossy()) {
                            Some((unit, n)) => {
                                Expr::Interval(unit, Box::new(Expr::Lit(Value::Int(n))))
                            }
                            None => Expr::Interval(
                                IntervalUnit::Second,
                                Box::new(Expr::Lit(Value::Null)),
                            ),
                        },
                    );
                }
                let unit = interval_unit(iv.leading_field.as_ref())?;
                Expr::Interval(unit, Box::new(self.bind(&iv.value, env)?))
            }
            A::TypedString(ts) => {
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                        s.clone()
                    }
                    other => other.to_string(),
                };
                // A temporal literal keeps the fractional digits it has.
                let digits = s.rsplit_once('.').map_or(0, |(_, f)| {
                    f.bytes().take_while(u8::is_ascii_digit).count().min(6) as u8
                });
                let target = match cast_target(&ts.data_type)? {
                    CastTo::Time(0) => CastTo::Time(digits),
                    CastTo::DateTime(0) => CastTo::DateTime(digits),
                    other => other,
                };
                let v = crate::expr::cast(Value::Str(s.clone()), &target)?;
                if v.is_null() {
                    return Err(SqlError::new(
                        1525,
                        "HY000",
                        format!("Incorrect {} value: '{s}'", ts.data_type),
                    ));
                }
                // Typed by its own digits (TIMESTAMP '... .5' is a
                // DATETIME(1), shown so), which a bare value does not carry.
                match target {
                    CastTo::Time(d) | CastTo::DateTime(d) if d > 0 => {
                        Expr::Cast(Box::new(Expr::Lit(v)), target)
                    }
                    _ => Expr::Lit(v),
                }
            }
            A::Collate { expr, collation } => {
                let x = self.bind(expr, env)?;
                let c = crate::ddl::collation_by_name(&collation.to_string())?;
                // COLLATE must name a collation of the operand's charset.
                let cols: Vec<OutCol> = env.scope.cols.iter().map(|c| c.meta.clone()).collect();
                if let Some(d) = collate::derive(&x, &cols, self.conn_collation()) {
                    let cs = d.collation.charset();
                    if d.collation != Collation::Binary && cs != c.charset() {
                        return Err(SqlError::collation_charset_mismatch(c.name(), cs.name()));
                    }
                }
                Expr::Collate(Box::new(x), c)
            }
            // Character-set introducers: `_binary'..'` is a byte string,
            // `_utf8mb4'..'` and friends are text.
            A::Prefixed { prefix, value } if prefix.value.starts_with('_') => {
                let v = self.bind(value, env)?;
                if prefix.value.eq_ignore_ascii_case("_binary") {
                    match v {
                        Expr::Lit(x) => Expr::Lit(match x {
                            Value::Null => Value::Null,
                            other => Value::Bytes(other.to_bytes().unwrap_or_default()),
                        }),
                        other => Expr::Cast(Box::new(other), CastTo::Binary(None)),
                    }
                } else {
                    match v {
                        Expr::Lit(Value::Bytes(b)) => match String::from_utf8(b) {
                            Ok(s) => Expr::Lit(Value::Str(s)),
                            Err(e) => Expr::Lit(Value::Bytes(e.into_bytes())),
                        },
                        other => other,
                    }
                }
            }
            A::Tuple(items) if items.len() == 1 => self.bind(&items[0], env)?,
            A::Tuple(_) => return Err(SqlError::operand_columns(1)),
            other => return Err(SqlError::unsupported(format!("expression {other}"))),
        })
    }

    /// The session's `collation_connection`: the collation of literals.
    pub fn conn_collation(&self) -> Collation {
        vars::read(self.sess, "collation_connection", false)
            .ok()
            .and_then(|v| Collation::from_name(&v.to_text_lossy()))
            .unwrap_or_default()
    }

    /// The collation `exprs` are compared under (None: not all strings).
    pub fn cmp_collation(
        &self,
        exprs: &[&Expr],
        env: &BindEnv,
        op: &str,
    ) -> SqlResult<Option<Collation>> {
        // Most comparisons are of numbers: skip the derivation for them.
        let maybe_string = |e: &Expr| match e {
            Expr::Lit(v) => v.is_stringish(),
            Expr::Col(i) => env
                .scope
                .cols
                .get(*i)
                .is_none_or(|c| c.meta.collation.is_some()),
            _ => true,
        };
        if exprs.iter().filter(|e| maybe_string(e)).count() < 2 {
            return Ok(None);
        }
        let cols: Vec<OutCol> = env.scope.cols.iter().map(|c| c.meta.clone()).collect();
        collate::for_comparison_all(exprs, &cols, self.conn_collation(), op)
    }

    /// `x op ANY (SELECT ...)` / `x op ALL (SELECT ...)`. An uncorrelated
    /// subquery runs once and becomes a balanced OR (ANY) or AND (ALL) of
    /// comparisons with its values, which is the quantifier's
    /// three-valued logic; a correlated one runs per row.
    fn bind_quantified(
        &mut self,
        left: &ast::Expr,
        op: &B,
        right: &ast::Expr,
        all: bool,
        env: &mut BindEnv,
    ) -> SqlResult<Expr> {
        let word = if all { "ALL" } else { "ANY" };
        let ast::Expr::Subquery(q) = right else {
            return Err(SqlError::syntax(format!(
                "check the manual that corresponds to your MariaDB server version for the right syntax to use near '{right}' at line 1"
            )));
        };
        let cmp = match cmp_op(op) {
            Some(c) if c != CmpOp::NullSafeEq => c,
            _ => return Err(SqlError::unsupported(format!("{op} {word} (subquery)"))),
        };
        no_limit_in_quantified(q)?;
        let x = self.bind(left, env)?;
        let kind = |lhs, coll| SubKind::Quantified {
            lhs,
            op: cmp,
            all,
            coll,
        };
        let (values, coll) = match self.compared_subquery(&x, q, &op.to_string(), kind, env)? {
            Compared::Values(values, coll) => (values, coll),
            Compared::Correlated(e) => return Ok(e),
        };
        let cmps: Vec<Expr> = values
            .into_iter()
            .map(|v| Expr::Cmp(cmp, Box::new(x.clone()), Box::new(v), coll))
            .collect();
        Ok(balanced(cmps, all))
    }

    /// Each position's comparison collation for a row compared with
    /// `rows`.
    fn tuple_collations(
        &self,
        lhs: &[Expr],
        rows: &[Vec<Expr>],
        env: &BindEnv,
    ) -> SqlResult<Vec<Option<Collation>>> {
        (0..lhs.len())
            .map(|i| {
                let column: Vec<&Expr> = std::iter::once(&lhs[i])
                    .chain(rows.iter().filter_map(|r| r.get(i)))
                    .collect();
                self.cmp_collation(&column, env, "=")
            })
            .collect()
    }

    /// NEXTVAL / LASTVAL / SETVAL (`sequence`): the first argument names a
    /// sequence, bound here with its definition version; None for other
    /// functions.
    fn sequence_call(
        &mut self,
        name: &str,
        raw_args: &[&ast::Expr],
        env: &mut BindEnv,
    ) -> SqlResult<Option<Expr>> {
        let (f, most) = match name {
            "NEXTVAL" => (Func::NextVal, 1),
            "LASTVAL" => (Func::LastVal, 1),
            "SETVAL" => (Func::SetVal, 4),
            _ => return Ok(None),
        };
        let least = if f == Func::SetVal { 2 } else { 1 };
        if raw_args.len() < least || raw_args.len() > most {
            return Err(SqlError::wrong_arg_count(name));
        }
        let object = match raw_args[0] {
            ast::Expr::Identifier(i) => ast::ObjectName::from(vec![i.clone()]),
            ast::Expr::CompoundIdentifier(p) => ast::ObjectName::from(p.clone()),
            other => {
                return Err(SqlError::syntax(format!(
                    "{name} needs a sequence name, not {other}"
                )))
            }
        };
        let (db, seq) = self.qualify(&object)?;
        let table =
            self.catalog.table(&db, &seq).cloned().ok_or_else(|| {
                SqlError::new(4091, "42S02", format!("Unknown SEQUENCE: '{seq}'"))
            })?;
        if !crate::sequence::is_sequence(&table.def) {
            return Err(crate::sequence::not_a_sequence(&db, &seq));
        }
        let mut args = vec![
            Expr::Lit(Value::Str(db)),
            Expr::Lit(Value::Str(seq)),
            Expr::Lit(Value::UInt(table.def.version)),
        ];
        for a in &raw_args[1..] {
            args.push(self.bind(a, env)?);
        }
        Ok(Some(Expr::Func(f, args)))
    }

    /// GET_LOCK and its relatives (`user_locks`), run once per statement
    /// while it is bound; their arguments must be constants. None for
    /// other functions.
    fn user_lock_call(
        &mut self,
        name: &str,
        raw_args: &[&ast::Expr],
        env: &mut BindEnv,
    ) -> SqlResult<Option<Expr>> {
        let argc = match name {
            "GET_LOCK" => 2,
            "RELEASE_LOCK" | "IS_FREE_LOCK" | "IS_USED_LOCK" => 1,
            "RELEASE_ALL_LOCKS" => 0,
            _ => return Ok(None),
        };
        if raw_args.len() != argc {
            return Err(SqlError::wrong_arg_count(name));
        }
        let mut args = Vec::with_capacity(argc);
        for a in raw_args {
            let e = self.bind(a, env)?;
            if e.max_column().is_some() || e.has_correlated() {
                return Err(SqlError::unsupported(format!("{name} over a column")));
            }
            args.push(e.eval(&[])?);
        }
        let int = |n: i64| Some(Expr::Lit(Value::Int(n)));
        // A NULL answer still has the INT type MariaDB sends: NULLIF(0, 0).
        let null = || Some(Expr::Func(Func::NullIf, vec![Expr::Lit(Value::Int(0)); 2]));
        // PREPARE binds without running: take no lock.
        if self.describe {
            return Ok(int(0));
        }
        let conn = self.sess.connection_id;
        let locks = &self.sess.vars.global.user_locks;
        if name == "RELEASE_ALL_LOCKS" {
            return Ok(int(locks.release_all(conn) as i64));
        }
        let lock = match &args[0] {
            Value::Null => return Ok(null()),
            v => v.to_text_lossy(),
        };
        Ok(match name {
            "GET_LOCK" => {
                // A negative timeout waits without limit, as in MariaDB.
                let secs = args[1].to_f64().unwrap_or(0.0);
                let timeout = (secs >= 0.0)
                    .then(|| std::time::Duration::from_secs_f64(secs.min(31_536_000.0)));
                let got = crate::func::blocking(|| locks.get(&lock, conn, timeout));
                int(i64::from(got))
            }
            "RELEASE_LOCK" => match locks.release(&lock, conn) {
                Some(released) => int(i64::from(released)),
                None => null(),
            },
            "IS_FREE_LOCK" => int(i64::from(locks.holder(&lock).is_none())),
            _ => match locks.holder(&lock) {
                Some(h) => Some(Expr::Lit(Value::UInt(u64::from(h)))),
                None => null(),
            },
        })
    }

    /// The one-column subquery `x` is compared with (IN, ANY, ALL): when
    /// uncorrelated, its values as literals and the comparison's
    /// collation (`op` names it in errors); when correlated, the
    /// expression that runs it per row, built by `kind` from the left
    /// operand and its own collation.
    fn compared_subquery(
        &mut self,
        x: &Expr,
        q: &ast::Query,
        op: &str,
        kind: impl FnOnce(Box<Expr>, Option<Collation>) -> SubKind,
        env: &mut BindEnv,
    ) -> SqlResult<Compared> {
        let own = self.own_collation(x, env);
        let (cols, rows) =
            match self.try_subquery(q, env.scope, || kind(Box::new(x.clone()), own))? {
                Ok(r) => r,
                Err(correlated) => return Ok(Compared::Correlated(correlated)),
            };
        if cols.len() != 1 {
            return Err(SqlError::operand_columns(1));
        }
        let values: Vec<Expr> = rows
            .into_iter()
            .map(|mut r| Expr::Lit(r.swap_remove(0)))
            .collect();
        let all: Vec<&Expr> = std::iter::once(x).chain(values.iter()).collect();
        let coll = self.cmp_collation(&all, env, op)?;
        Ok(Compared::Values(values, coll))
    }

    /// The rows of an uncorrelated subquery compared with a row of
    /// `width` values; a correlated one is not supported yet.
    fn row_subquery(
        &mut self,
        q: &ast::Query,
        width: usize,
        env: &mut BindEnv,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let (cols, rows) = match self.try_subquery(q, env.scope, || SubKind::Scalar)? {
            Ok(r) => r,
            Err(_) => return Err(SqlError::unsupported("correlated row subquery")),
        };
        if cols.len() != width {
            return Err(SqlError::operand_columns(width));
        }
        Ok(rows)
    }

    /// The collation of `e` alone (None when it is not a string): what a
    /// correlated IN / ANY / ALL compares the subquery's values under.
    fn own_collation(&self, e: &Expr, env: &BindEnv) -> Option<Collation> {
        let cols: Vec<OutCol> = env.scope.cols.iter().map(|c| c.meta.clone()).collect();
        collate::derive(e, &cols, self.conn_collation()).map(|d| d.collation)
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &B,
        right: &ast::Expr,
        env: &mut BindEnv,
    ) -> SqlResult<Expr> {
        // `a MOD b` (the dialect keeps the spelling for column names).
        let op = match op {
            B::Custom(s) if s.eq_ignore_ascii_case("MOD") => &B::Modulo,
            B::Custom(s) if s.eq_ignore_ascii_case("SOUNDS LIKE") => {
                let soundex = |e| Expr::Func(Func::Soundex, vec![e]);
                return Ok(Expr::Cmp(
                    CmpOp::Eq,
                    Box::new(soundex(self.bind(left, env)?)),
                    Box::new(soundex(self.bind(right, env)?)),
                    Some(Collation::Utf8mb4GeneralCi),
                ));
            }
            other => other,
        };
        // A row against a row subquery: (a, b) = (SELECT x, y ...).
        let row_and_query = match (left, right) {
            (ast::Expr::Tuple(l), ast::Expr::Subquery(q)) => Some((l, q, false)),
            (ast::Expr::Subquery(q), ast::Expr::Tuple(l)) => Some((l, q, true)),
            _ => None,
        };
        if let Some((l, q, swapped)) = row_and_query {
            let cmp = cmp_op(op).ok_or_else(|| SqlError::operand_columns(1))?;
            let l = l
                .iter()
                .map(|x| self.bind(x, env))
                .collect::<SqlResult<Vec<_>>>()?;
            let mut rows = self.row_subquery(q, l.len(), env)?;
            if rows.len() > 1 {
                return Err(SqlError::subquery_rows());
            }
            // No row: every column is NULL.
            let r: Vec<Expr> = match rows.pop() {
                Some(r) => r.into_iter().map(Expr::Lit).collect(),
                None => vec![Expr::Lit(Value::Null); l.len()],
            };
            let colls = self.tuple_collations(&l, std::slice::from_ref(&r), env)?;
            return Ok(if swapped {
                Expr::TupleCmp(cmp, r, l, colls)
            } else {
                Expr::TupleCmp(cmp, l, r, colls)
            });
        }
        // Row comparisons: (a, b) = (1, 2).
        if let (ast::Expr::Tuple(l), ast::Expr::Tuple(r)) = (left, right) {
            let cmp = cmp_op(op).ok_or_else(|| SqlError::operand_columns(1))?;
            if l.len() != r.len() {
                return Err(SqlError::operand_columns(l.len()));
            }
            let l = l
                .iter()
                .map(|x| self.bind(x, env))
                .collect::<SqlResult<Vec<_>>>()?;
            let r = r
                .iter()
                .map(|x| self.bind(x, env))
                .collect::<SqlResult<Vec<_>>>()?;
            let colls = self.tuple_collations(&l, std::slice::from_ref(&r), env)?;
            return Ok(Expr::TupleCmp(cmp, l, r, colls));
        }
        let a = self.bind(left, env)?;
        let b = self.bind(right, env)?;
        let bx = |e: Expr| Box::new(e);
        // ENUM and SET columns read as numbers in arithmetic and against
        // a number (MySQL): their position / bit mask.
        let numeric = |e: &Expr| {
            matches!(
                e,
                Expr::Lit(Value::Int(_) | Value::UInt(_) | Value::Decimal(_) | Value::Double(_))
            )
        };
        let (a, b) = if cmp_op(op).is_some() {
            let (na, nb) = (numeric(&b), numeric(&a));
            let (a, b) = (
                if na { member_ordinal(a, env.scope) } else { a },
                if nb { member_ordinal(b, env.scope) } else { b },
            );
            let (na, nb) = (
                numeric(&b) || numeric_column(&b, env.scope),
                numeric(&a) || numeric_column(&a, env.scope),
            );
            let (a, b) = (
                if na { hex_number(a) } else { a },
                if nb { hex_number(b) } else { b },
            );
            let a = year_literal(a, &b, env.scope);
            let b = year_literal(b, &a, env.scope);
            (a, b)
        } else if matches!(
            op,
            B::Plus
                | B::Minus
                | B::Multiply
                | B::Divide
                | B::Modulo
                | B::MyIntegerDivide
                | B::DuckIntegerDivide
                | B::BitwiseAnd
                | B::BitwiseOr
                | B::BitwiseXor
                | B::PGBitwiseXor
                | B::PGBitwiseShiftLeft
                | B::PGBitwiseShiftRight
        ) {
            (
                hex_number(member_ordinal(a, env.scope)),
                hex_number(member_ordinal(b, env.scope)),
            )
        } else {
            (a, b)
        };
        if let Some(c) = cmp_op(op) {
            let (a, b) = unquote_json_operand(a, b);
            let coll = self.cmp_collation(&[&a, &b], env, &op.to_string())?;
            return Ok(Expr::Cmp(c, bx(a), bx(b), coll));
        }
        // date +/- INTERVAL n unit.
        if matches!(op, B::Plus | B::Minus) {
            if let Expr::Interval(..) = &b {
                let f = if *op == B::Plus {
                    Func::DateAdd
                } else {
                    Func::DateSub
                };
                return Ok(Expr::Func(f, vec![a, b]));
            }
            if let (Expr::Interval(..), B::Plus) = (&a, op) {
                return Ok(Expr::Func(Func::DateAdd, vec![b, a]));
            }
        }
        Ok(match op {
            B::Plus => Expr::Arith(ArithOp::Add, bx(a), bx(b)),
            B::Minus => Expr::Arith(ArithOp::Sub, bx(a), bx(b)),
            B::Multiply => Expr::Arith(ArithOp::Mul, bx(a), bx(b)),
            B::Divide => Expr::Arith(ArithOp::Div, bx(a), bx(b)),
            B::Modulo => Expr::Arith(ArithOp::Mod, bx(a), bx(b)),
            B::MyIntegerDivide | B::DuckIntegerDivide => Expr::Arith(ArithOp::IntDiv, bx(a), bx(b)),
            B::And => Expr::And(bx(a), bx(b)),
            B::Or => Expr::Or(bx(a), bx(b)),
            B::Xor => Expr::Xor(bx(a), bx(b)),
            B::BitwiseAnd => Expr::BitOp(BitOp::And, bx(a), bx(b)),
            B::BitwiseOr => Expr::BitOp(BitOp::Or, bx(a), bx(b)),
            B::BitwiseXor | B::PGBitwiseXor => Expr::BitOp(BitOp::Xor, bx(a), bx(b)),
            B::PGBitwiseShiftLeft => Expr::BitOp(BitOp::Shl, bx(a), bx(b)),
            B::PGBitwiseShiftRight => Expr::BitOp(BitOp::Shr, bx(a), bx(b)),
            B::StringConcat => Expr::Or(bx(a), bx(b)),
            // MySQL's JSON operators: MariaDB 10.11 has no `->` / `->>`
            // (a syntax error there too).
            B::Arrow | B::LongArrow => {
                return Err(SqlError::syntax(format!(
                    "check the manual that corresponds to your MariaDB server version for the right syntax to use near '>{right}' at line 1"
                )))
            }
            other => return Err(SqlError::unsupported(format!("operator {other}"))),
        })
    }

    fn bind_identifier(&mut self, ids: &[ast::Ident], env: &mut BindEnv) -> SqlResult<Expr> {
        let first = &ids[0].value;
        if first.starts_with("@@") {
            let (scope, name) = match ids.len() {
                1 => (None, first.trim_start_matches("@@").to_string()),
                2 => (
                    Some(first.trim_start_matches("@@").to_ascii_lowercase()),
                    ids[1].value.clone(),
                ),
                _ => return Err(SqlError::syntax(format!("bad variable '{first}'"))),
            };
            let global = scope.as_deref() == Some("global");
            return Ok(match self.system_var(&name, global)? {
                // Only string variables can be NULL (character_set_results):
                // still typed as strings.
                Value::Null => Expr::Cast(Box::new(Expr::Lit(Value::Null)), CastTo::Char(None)),
                v => bigint_lit(v),
            });
        }
        if ids.len() == 1 && first.starts_with('@') && ids[0].quote_style.is_none() {
            let name = first.trim_start_matches('@').to_ascii_lowercase();
            return Ok(Expr::Lit(
                self.sess
                    .user_vars
                    .get(&name)
                    .cloned()
                    .unwrap_or(Value::Null),
            ));
        }
        if ids.len() == 1 {
            if let Some((_, e)) = env
                .aliases
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(first))
            {
                // A select alias only wins when no source column has the name
                // (HAVING / ORDER BY resolve like MySQL: column first when
                // unambiguous in GROUP BY context is rare; aliases are what
                // clients mean).
                return Ok(e.clone());
            }
            // A bare TRUE/FALSE sometimes arrives as an identifier.
            if first.eq_ignore_ascii_case("true")
                && ids[0].quote_style.is_none()
                && env.scope.resolve(None, None, first, env.place).is_err()
            {
                return Ok(Expr::Lit(Value::Int(1)));
            }
            if first.eq_ignore_ascii_case("false")
                && ids[0].quote_style.is_none()
                && env.scope.resolve(None, None, first, env.place).is_err()
            {
                return Ok(Expr::Lit(Value::Int(0)));
            }
            // 0b1010 is a bit-value literal (the tokenizer reads it as a
            // name because MySQL names may start with digits).
            if ids[0].quote_style.is_none() {
                if let Some(bits) = first.strip_prefix("0b") {
                    if !bits.is_empty() && bits.bytes().all(|b| b == b'0' || b == b'1') {
                        return Ok(Expr::Lit(Value::Bytes(bits_to_bytes(bits))));
                    }
                }
            }
            // MySQL accepts "double quoted" text as a string literal.
            if ids[0].quote_style == Some('"') {
                if let Err(_e) = env.scope.resolve(None, None, first, env.place) {
                    return Ok(Expr::Lit(Value::Str(first.clone())));
                }
            }
        }
        let (db, table, col) = match ids {
            [c] => (None, None, &c.value),
            [t, c] => (None, Some(t.value.as_str()), &c.value),
            [d, t, c] => (Some(d.value.as_str()), Some(t.value.as_str()), &c.value),
            _ => return Err(SqlError::syntax("too many name parts")),
        };
        match env.scope.resolve(db, table, col, env.place) {
            Ok(i) => Ok(Expr::Col(i)),
            // A name of an enclosing query (a correlated subquery).
            Err(e) => self.resolve_outer(db, table, col, env.place).ok_or(e),
        }
    }

    /// Converts a SQL literal.
    pub fn literal(&mut self, v: &ast::Value) -> SqlResult<Value> {
        use ast::Value as V;
        Ok(match v {
            V::Number(s, _) => number_literal(s)?,
            V::SingleQuotedString(s)
            | V::DoubleQuotedString(s)
            | V::NationalStringLiteral(s)
            | V::EscapedStringLiteral(s)
            | V::TripleSingleQuotedString(s)
            | V::TripleDoubleQuotedString(s) => Value::Str(s.clone()),
            V::HexStringLiteral(_) | V::SingleQuotedByteStringLiteral(_) => byte_literal(v)?,
            V::Boolean(b) => Value::from_bool(*b),
            V::Null => Value::Null,
            V::Placeholder(p) if p == "?" => {
                let i = self.next_param;
                self.next_param += 1;
                self.params.get(i).cloned().unwrap_or(Value::Null)
            }
            other => return Err(SqlError::unsupported(format!("literal {other}"))),
        })
    }

    fn bind_function(&mut self, f: &ast::Function, env: &mut BindEnv) -> SqlResult<Expr> {
        let name = f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_ascii_uppercase())
            .unwrap_or_default();
        let (arg_list, distinct, clauses) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false, Vec::new()),
            ast::FunctionArguments::List(l) => (
                l.args.clone(),
                matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                ),
                l.clauses.clone(),
            ),
            ast::FunctionArguments::Subquery(_) => {
                return Err(SqlError::unsupported("subquery as function argument"))
            }
        };
        if f.over.is_some() {
            return self.bind_window(f, env);
        }
        let star = matches!(
            arg_list.first(),
            Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard))
        );
        let raw_args: Vec<&ast::Expr> = arg_list
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                ast::FunctionArg::Named {
                    arg: ast::FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect();
        let argc = raw_args.len();

        // Aggregates.
        let agg = agg_func(&name, star);
        if let Some(func) = agg {
            if env.aggs.is_none() {
                return Err(SqlError::invalid_group());
            }
            let argc_ok = match func {
                AggFunc::CountStar => true,
                AggFunc::JsonArrayAgg => argc == 1,
                AggFunc::JsonObjectAgg => argc == 2,
                _ => argc > 0,
            };
            if !argc_ok {
                return Err(SqlError::wrong_arg_count(&name));
            }
            // Arguments of an aggregate are evaluated on source rows.
            let mut inner = BindEnv::new(env.scope, env.place);
            let mut args = Vec::new();
            for a in &raw_args {
                args.push(self.bind(a, &mut inner)?);
            }
            let mut separator = ",".to_string();
            let mut order = Vec::new();
            let mut limit = None;
            for c in &clauses {
                match c {
                    ast::FunctionArgumentClause::Separator(v) => {
                        separator = self.literal(&v.value)?.to_text_lossy();
                    }
                    ast::FunctionArgumentClause::OrderBy(obs) => {
                        for ob in obs {
                            let desc = matches!(ob.options.sort, Some(ast::OrderBySort::Desc));
                            let key = match self.bind(&ob.expr, &mut inner)? {
                                // A position names one of the arguments.
                                Expr::Lit(Value::Int(n)) => usize::try_from(n)
                                    .ok()
                                    .and_then(|n| n.checked_sub(1))
                                    .and_then(|i| args.get(i))
                                    .cloned()
                                    .ok_or_else(|| {
                                        SqlError::bad_field(&n.to_string(), "ORDER BY")
                                    })?,
                                key => key,
                            };
                            order.push((key, desc));
                        }
                    }
                    ast::FunctionArgumentClause::Limit(l) => {
                        let n = self.bind(l, &mut BindEnv::new(env.scope, env.place))?;
                        limit = match n.eval(&[])? {
                            Value::Int(n) if n >= 0 => Some(n as u64),
                            Value::UInt(n) => Some(n),
                            _ => {
                                return Err(SqlError::new(
                                    1691,
                                    "HY000",
                                    "A variable of a non-integer based type in LIMIT clause",
                                ))
                            }
                        };
                    }
                    _ => {}
                }
            }
            let raw_json = args
                .iter()
                .map(|a| self.is_json_expr(a, env.scope))
                .collect();
            let order_colls = {
                let cols: Vec<OutCol> = env.scope.cols.iter().map(|c| c.meta.clone()).collect();
                let conn = self.conn_collation();
                order
                    .iter()
                    .map(|(e, _)| collate::derive(e, &cols, conn).map(|d| d.collation))
                    .collect()
            };
            let aggs = env.aggs.as_mut().expect("checked above");
            aggs.push(AggCall {
                func,
                args,
                distinct,
                separator,
                order,
                order_colls,
                limit,
                raw_json,
            });
            return Ok(Expr::Col(env.scope.len() + aggs.len() - 1));
        }

        // Functions answered from the session, once per statement.
        let session_value = match name.as_str() {
            "DATABASE" | "SCHEMA" => Some(match self.current_db() {
                Ok(d) => Value::Str(d.to_string()),
                Err(_) => Value::Null,
            }),
            "USER" | "SESSION_USER" | "SYSTEM_USER" => {
                Some(Value::Str(format!("{}@{}", self.sess.user, self.sess.host)))
            }
            "CURRENT_USER" => Some(Value::Str(format!("{}@%", self.sess.user))),
            "VERSION" => Some(Value::Str(crate::SERVER_VERSION.to_string())),
            "CONNECTION_ID" => Some(Value::UInt(u64::from(self.sess.connection_id))),
            "LAST_INSERT_ID" if argc == 0 => Some(Value::UInt(self.sess.last_insert_id)),
            // A signed BIGINT in MariaDB, unlike LAST_INSERT_ID().
            "FOUND_ROWS" => Some(Value::Int(
                i64::try_from(self.sess.found_rows).unwrap_or(i64::MAX),
            )),
            "ROW_COUNT" => Some(Value::Int(self.sess.row_count)),
            "NOW" | "CURRENT_TIMESTAMP" | "LOCALTIME" | "LOCALTIMESTAMP" | "SYSDATE"
            | "UTC_TIMESTAMP" => {
                let fsp = match raw_args.first() {
                    Some(a) => self
                        .bind(a, env)?
                        .eval(&[])?
                        .to_i64()
                        .unwrap_or(0)
                        .clamp(0, 6) as u8,
                    None => 0,
                };
                let now = if name == "UTC_TIMESTAMP" {
                    self.now
                } else {
                    self.local_now()
                };
                Some(Value::DateTime(now.truncate_fsp(fsp)))
            }
            "CURDATE" | "CURRENT_DATE" => Some(Value::Date(self.local_now().date)),
            "UTC_DATE" => Some(Value::Date(self.now.date)),
            "CURTIME" | "CURRENT_TIME" | "UTC_TIME" => {
                let t = if name == "UTC_TIME" {
                    self.now
                } else {
                    self.local_now()
                };
                Some(Value::Str(format!(
                    "{:02}:{:02}:{:02}",
                    t.hour, t.minute, t.second
                )))
            }
            _ => None,
        };
        if let Some(v) = session_value {
            return Ok(bigint_lit(v));
        }
        if name == "LAST_INSERT_ID" {
            // LAST_INSERT_ID(expr): the sequence idiom
            // `UPDATE seq SET id = LAST_INSERT_ID(id + 1)`.
            let [a] = raw_args.as_slice() else {
                return Err(SqlError::wrong_arg_count(&name));
            };
            return Ok(Expr::Func(Func::SetLastInsertId, vec![self.bind(a, env)?]));
        }
        if let Some(v) = self.sequence_call(&name, &raw_args, env)? {
            return Ok(v);
        }
        if let Some(v) = self.user_lock_call(&name, &raw_args, env)? {
            return Ok(v);
        }
        if matches!(name.as_str(), "COLLATION" | "CHARSET" | "COERCIBILITY") {
            // Answered from the argument's type, not its value.
            let [a] = raw_args.as_slice() else {
                return Err(SqlError::wrong_arg_count(&name));
            };
            let e = self.bind(a, env)?;
            let cols: Vec<OutCol> = env.scope.cols.iter().map(|c| c.meta.clone()).collect();
            let d = collate::derive(&e, &cols, self.conn_collation());
            let how = match (&d, &e) {
                (Some(d), _) => d.how as i64,
                (None, Expr::Lit(Value::Null)) => collate::Coercibility::Ignorable as i64,
                (None, _) => collate::Coercibility::Numeric as i64,
            };
            let coll = d.map_or(Collation::Binary, |d| d.collation);
            return Ok(Expr::Lit(match name.as_str() {
                "COLLATION" => Value::Str(coll.name().to_string()),
                "CHARSET" => Value::Str(coll.charset().name().to_string()),
                _ => Value::Int(how),
            }));
        }
        if name == "VALUES" || name == "VALUE" {
            // VALUES(col) in ON DUPLICATE KEY UPDATE: the value the INSERT
            // proposed for col, which sits after the existing row's columns.
            // VALUE(col) is MariaDB's alias (Django's bulk_create sends it).
            let [arg] = raw_args.as_slice() else {
                return Err(SqlError::wrong_arg_count(&name));
            };
            let ids: &[ast::Ident] = match arg {
                ast::Expr::Identifier(i) => std::slice::from_ref(i),
                ast::Expr::CompoundIdentifier(ids) => ids,
                _ => return Err(SqlError::syntax("VALUES() takes a column name")),
            };
            let Some(base) = self.values_ref else {
                // Elsewhere MySQL answers NULL.
                return Ok(Expr::Lit(Value::Null));
            };
            let (table, col) = match ids {
                [c] => (None, &c.value),
                [t, c] => (Some(t.value.as_str()), &c.value),
                _ => return Err(SqlError::syntax("too many name parts")),
            };
            let i = env.scope.resolve(None, table, col, env.place)?;
            return Ok(Expr::Col(base + i));
        }

        if name == "UNIX_TIMESTAMP" && argc == 0 {
            return Ok(Expr::Lit(Value::Int(
                self.now.to_unix_micros().div_euclid(1_000_000),
            )));
        }
        if name == "GET_FORMAT" {
            let [ty, locale] = raw_args.as_slice() else {
                return Err(SqlError::wrong_arg_count(&name));
            };
            let ty = ty.to_string().to_ascii_uppercase();
            if !matches!(ty.as_str(), "DATE" | "DATETIME" | "TIMESTAMP" | "TIME") {
                return Err(SqlError::syntax(format!("GET_FORMAT of {ty}")));
            }
            let locale = self.bind(locale, env)?;
            return Ok(Expr::Func(
                Func::GetFormat,
                vec![Expr::Lit(Value::Str(ty)), locale],
            ));
        }
        let window_only = matches!(
            name.as_str(),
            "ROW_NUMBER"
                | "RANK"
                | "DENSE_RANK"
                | "PERCENT_RANK"
                | "CUME_DIST"
                | "NTILE"
                | "LEAD"
                | "LAG"
                | "FIRST_VALUE"
                | "LAST_VALUE"
                | "NTH_VALUE"
        );
        if window_only {
            // MariaDB's grammar has these only with OVER (...).
            return Err(SqlError::syntax(format!("{name} without OVER")));
        }
        let Some((func, min, max)) = crate::func::lookup(&name) else {
            // MySQL names the stored function it looked for: db.name.
            let written = f.name.to_string();
            let full = match (f.name.0.len(), self.current_db()) {
                (1, Ok(db)) => format!("{db}.{written}"),
                _ => written,
            };
            return Err(SqlError::unknown_function(&full));
        };
        if argc < min || argc > max {
            return Err(SqlError::wrong_arg_count(&name));
        }
        // TIMESTAMPDIFF(unit, a, b) / TIMESTAMPADD(unit, n, dt): the unit
        // is a keyword.
        if matches!(name.as_str(), "TIMESTAMPDIFF" | "TIMESTAMPADD") {
            let unit = crate::func::unit_by_name(&raw_args[0].to_string())
                .ok_or_else(|| SqlError::syntax(format!("bad unit '{}'", raw_args[0])))?;
            let n = self.bind(raw_args[1], env)?;
            let dt = self.bind(raw_args[2], env)?;
            return Ok(if func == Func::TimestampDiff {
                Expr::Func(
                    func,
                    vec![
                        Expr::Interval(unit, Box::new(Expr::Lit(Value::Int(1)))),
                        n,
                        dt,
                    ],
                )
            } else {
                Expr::Func(func, vec![dt, Expr::Interval(unit, Box::new(n))])
            });
        }
        let mut args = Vec::with_capacity(argc + 1);
        for a in raw_args {
            let e = self.bind(a, env)?;
            // TRUE / FALSE are JSON booleans to the JSON functions.
            let e = match a {
                ast::Expr::Value(v) if crate::func::json_boolean_args(func) => match v.value {
                    ast::Value::Boolean(_) => Expr::IsBool(Box::new(e), true, false),
                    _ => e,
                },
                _ => e,
            };
            args.push(e);
        }
        if matches!(
            func,
            Func::RegexpLike | Func::RegexpReplace | Func::RegexpSubstr | Func::RegexpInstr
        ) {
            self.regexp_case(&mut args, env)?;
        }
        if name == "CHR" {
            // MariaDB's CHR reads the code in character_set_database.
            let cs = vars::read(self.sess, "character_set_database", false)?;
            args.insert(0, Expr::Lit(Value::Str(cs.to_text_lossy())));
        }
        if crate::func::needs_zone(func) {
            // The session time zone rides along as a last argument.
            args.push(Expr::Lit(Value::Str(self.time_zone())));
        }
        Ok(Expr::Func(func, args))
    }

    /// A REGEXP's subject and pattern (`args[0]`, `args[1]`) compared under
    /// a case-sensitive collation (`_bin`, binary): the pattern is told so
    /// by a leading `(?-i)`, which a flag in the pattern itself overrides.
    fn regexp_case(&self, args: &mut [Expr], env: &BindEnv) -> SqlResult<()> {
        let [subject, pattern, ..] = args else {
            return Ok(());
        };
        let coll = self.cmp_collation(&[&*subject, &*pattern], env, "regexp")?;
        if coll.is_some_and(|c| c.is_binary()) {
            let p = std::mem::replace(pattern, Expr::Lit(Value::Null));
            *pattern = Expr::Func(Func::Concat, vec![Expr::Lit(Value::Str("(?-i)".into())), p]);
        }
        Ok(())
    }

    /// The session's `time_zone`.
    fn time_zone(&self) -> String {
        vars::read(self.sess, "time_zone", false)
            .map(|v| v.to_text_lossy())
            .unwrap_or_else(|_| "SYSTEM".into())
    }

    /// CURRENT_TIMESTAMP for a column of type `ty`: UTC for a TIMESTAMP
    /// (it stores UTC, `tstz`), the session's local time for the others.
    pub(crate) fn now_for(&self, ty: &SqlType) -> DateTime {
        match ty {
            SqlType::Timestamp(_) => self.now,
            _ => self.local_now(),
        }
    }

    /// The statement's time in the session's time zone.
    fn local_now(&self) -> DateTime {
        match crate::func::tz::parse_zone(&self.time_zone()) {
            Some(z) => z.from_utc_micros(self.now.to_unix_micros()),
            None => self.now,
        }
    }

    /// Runs an uncorrelated subquery; returns its column count and rows.
    pub fn run_subquery(&mut self, q: &ast::Query) -> SqlResult<(usize, Vec<Vec<Value>>)> {
        let (cols, rows) = self.query(q)?;
        Ok((cols.len(), rows))
    }

    /// The value of `@@name`.
    pub fn system_var(&self, name: &str, global: bool) -> SqlResult<Value> {
        // Read from the transaction, which vars does not see.
        if name.eq_ignore_ascii_case("in_transaction") {
            if global {
                return Err(SqlError::new(
                    1238,
                    "HY000",
                    "Variable 'in_transaction' is a SESSION variable",
                ));
            }
            return Ok(Value::UInt(u64::from(self.txn.explicit)));
        }
        crate::vars::read(self.sess, name, global)
    }
}

/// What `x IN / op ANY / op ALL (subquery)` binds to.
enum Compared {
    /// An uncorrelated subquery's values, as literals, and the comparison's collation.
    Values(Vec<Expr>, Option<Collation>),
    /// A correlated subquery, run per row.
    Correlated(Expr),
}

/// The aggregate function `name` (upper case) calls; `star` for `COUNT(*)`.
pub(crate) fn agg_func(name: &str, star: bool) -> Option<AggFunc> {
    Some(match name {
        "COUNT" if star => AggFunc::CountStar,
        "COUNT" => AggFunc::Count,
        "SUM" => AggFunc::Sum,
        "AVG" => AggFunc::Avg,
        "MIN" => AggFunc::Min,
        "MAX" => AggFunc::Max,
        "GROUP_CONCAT" => AggFunc::GroupConcat,
        "JSON_ARRAYAGG" => AggFunc::JsonArrayAgg,
        "JSON_OBJECTAGG" => AggFunc::JsonObjectAgg,
        "BIT_AND" => AggFunc::BitAnd,
        "BIT_OR" => AggFunc::BitOr,
        "BIT_XOR" => AggFunc::BitXor,
        other => return AggFunc::variance(other),
    })
}

/// MariaDB refuses LIMIT in an IN / ANY / ALL subquery (1235).
fn no_limit_in_quantified(q: &ast::Query) -> SqlResult<()> {
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(SqlError::unsupported("LIMIT & IN/ALL/ANY/SOME subquery"));
    }
    Ok(())
}

/// A balanced AND (`all`) or OR of `terms` (shallow for long lists); the
/// empty AND is true and the empty OR false.
fn balanced(mut terms: Vec<Expr>, all: bool) -> Expr {
    match terms.len() {
        0 => Expr::Lit(Value::from_bool(all)),
        1 => terms.swap_remove(0),
        n => {
            let right = terms.split_off(n / 2);
            let (a, b) = (
                Box::new(balanced(terms, all)),
                Box::new(balanced(right, all)),
            );
            if all {
                Expr::And(a, b)
            } else {
                Expr::Or(a, b)
            }
        }
    }
}

fn cmp_op(op: &B) -> Option<CmpOp> {
    Some(match op {
        B::Eq => CmpOp::Eq,
        B::NotEq => CmpOp::Ne,
        B::Lt => CmpOp::Lt,
        B::LtEq => CmpOp::Le,
        B::Gt => CmpOp::Gt,
        B::GtEq => CmpOp::Ge,
        B::Spaceship => CmpOp::NullSafeEq,
        _ => return None,
    })
}

/// Parses a numeric literal: integers as BIGINT (or BIGINT UNSIGNED / exact
/// DECIMAL when larger), literals with a point as DECIMAL, with an exponent
/// as DOUBLE — MySQL's literal types.
pub fn number_literal(s: &str) -> SqlResult<Value> {
    if s.contains(['e', 'E']) {
        return s
            .parse::<f64>()
            .map(Value::Double)
            .map_err(|_| SqlError::syntax(format!("bad number '{s}'")));
    }
    if !s.contains('.') {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        if let Ok(u) = s.parse::<u64>() {
            return Ok(Value::UInt(u));
        }
    }
    value::parse_decimal(s)
        .map(Value::Decimal)
        .or_else(|| s.parse::<f64>().ok().map(Value::Double))
        .ok_or_else(|| SqlError::syntax(format!("bad number '{s}'")))
}

/// X'0F' and b'0101' as the binary strings they stand for; any other
/// literal is refused.
pub(crate) fn byte_literal(v: &ast::Value) -> SqlResult<Value> {
    match v {
        ast::Value::HexStringLiteral(h) => Ok(Value::Bytes(decode_hex(h)?)),
        // b'0101': a bit-value literal, a binary string like X'05'.
        ast::Value::SingleQuotedByteStringLiteral(bits) => {
            if !bits.bytes().all(|b| b == b'0' || b == b'1') {
                return Err(SqlError::syntax(format!(
                    "check the manual that corresponds to your MariaDB server version for the right syntax to use near 'b'{bits}'' at line 1"
                )));
            }
            Ok(Value::Bytes(bits_to_bytes(bits)))
        }
        other => Err(SqlError::unsupported(format!("literal {other}"))),
    }
}

/// The bytes of a string of binary digits, big-endian, padded on the left
/// to whole bytes (b'' is the empty string, as in MariaDB).
fn bits_to_bytes(bits: &str) -> Vec<u8> {
    let pad = (8 - bits.len() % 8) % 8;
    let padded: Vec<u8> = std::iter::repeat_n(b'0', pad).chain(bits.bytes()).collect();
    padded
        .chunks(8)
        .map(|c| c.iter().fold(0u8, |n, b| n << 1 | (b - b'0')))
        .collect()
}

fn decode_hex(h: &str) -> SqlResult<Vec<u8>> {
    let h = if h.len() % 2 == 1 {
        format!("0{h}")
    } else {
        h.to_string()
    };
    (0..h.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&h[i..i + 2], 16)
                .map_err(|_| SqlError::syntax(format!("bad hex literal '{h}'")))
        })
        .collect()
}

fn interval_unit(f: Option<&ast::DateTimeField>) -> SqlResult<IntervalUnit> {
    use ast::DateTimeField as F;
    Ok(match f {
        Some(F::Microsecond | F::Microseconds) => IntervalUnit::Microsecond,
        Some(F::Second | F::Seconds) => IntervalUnit::Second,
        Some(F::Minute | F::Minutes) => IntervalUnit::Minute,
        Some(F::Hour | F::Hours) => IntervalUnit::Hour,
        Some(F::Day | F::Days) | None => IntervalUnit::Day,
        Some(F::Week(_) | F::Weeks) => IntervalUnit::Week,
        Some(F::Month | F::Months) => IntervalUnit::Month,
        Some(F::Quarter) => IntervalUnit::Quarter,
        Some(F::Year | F::Years) => IntervalUnit::Year,
        Some(other) => return Err(SqlError::unsupported(format!("INTERVAL unit {other}"))),
    })
}

fn cast_target(dt: &ast::DataType) -> SqlResult<CastTo> {
    use ast::DataType as D;
    Ok(match dt {
        D::Signed | D::SignedInteger | D::Int(_) | D::Integer(_) | D::BigInt(_) => CastTo::Signed,
        D::Unsigned
        | D::UnsignedInteger
        | D::IntUnsigned(_)
        | D::IntegerUnsigned(_)
        | D::BigIntUnsigned(_) => CastTo::Unsigned,
        D::Decimal(i) | D::Numeric(i) | D::Dec(i) => {
            let (p, s) = match i {
                ast::ExactNumberInfo::None => (10, 0),
                ast::ExactNumberInfo::Precision(p) => (*p, 0),
                ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p, (*s).max(0) as u64),
            };
            let (p, s) = crate::coerce::check_decimal(p, s, "CAST")?;
            CastTo::Decimal(p, s)
        }
        D::Double(_) | D::DoublePrecision | D::Float(_) | D::Real => CastTo::Double,
        D::Char(l) | D::Varchar(l) | D::Character(l) | D::Nvarchar(l) => CastTo::Char(match l {
            Some(ast::CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
            _ => None,
        }),
        D::Text => CastTo::Char(None),
        // `CHAR[(n)] CHARACTER SET cs`, as the dialect keeps it: strings are
        // utf8mb4 inside, so the character set changes nothing but the name.
        D::Custom(name, _) if name.to_string().starts_with("CHAR") => {
            let n = name.to_string();
            let len = n
                .strip_prefix("CHAR(")
                .and_then(|r| r.split_once(')'))
                .and_then(|(l, _)| l.parse().ok());
            if n.to_ascii_lowercase().ends_with("character set binary") {
                CastTo::Binary(len)
            } else {
                CastTo::Char(len)
            }
        }
        D::Binary(l) => CastTo::Binary(l.map(|n| n as u32)),
        D::Date => CastTo::Date,
        D::Datetime(p) | D::Timestamp(p, _) => CastTo::DateTime(p.unwrap_or(0).min(6) as u8),
        D::Time(p, _) => CastTo::Time(p.unwrap_or(0).min(6) as u8),
        other => return Err(SqlError::unsupported(format!("CAST to {other}"))),
    })
}

/// The result type of a bound expression over a layout with column types
/// `cols` (for result-set metadata).
pub fn infer(e: &Expr, cols: &[OutCol]) -> (Option<SqlType>, bool) {
    let big = Some(SqlType::Int {
        width: IntWidth::Big,
        unsigned: false,
    });
    // Truth values are INT(1) in MariaDB.
    let int = Some(SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    });
    match e {
        Expr::Lit(v) => (literal_type(v), v.is_null()),
        Expr::Col(i) => cols
            .get(*i)
            .map_or((None, true), |c| (c.ty.clone(), c.nullable)),
        Expr::Not(_)
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Xor(..)
        | Expr::Cmp(..)
        | Expr::TupleCmp(..)
        | Expr::InList(..)
        | Expr::TupleIn(..)
        | Expr::Between(..)
        | Expr::Like(..) => (int, true),
        Expr::Correlated(c) => match c.kind {
            crate::correlated::SubKind::Scalar => (c.ty.clone(), true),
            _ => (int, true),
        },
        Expr::Collate(x, _) => infer(x, cols),
        Expr::IsNull(..) | Expr::IsBool(..) => (int, false),
        Expr::Neg(x) => match int_len(e, cols) {
            Some(l) => (l.sql_type(), infer(x, cols).1),
            None => infer(x, cols),
        },
        Expr::BitOp(..) => (
            Some(SqlType::Int {
                width: IntWidth::Big,
                unsigned: true,
            }),
            true,
        ),
        Expr::Arith(op, a, b) => {
            let (ta, na) = infer(a, cols);
            let (tb, nb) = infer(b, cols);
            let nullable = na || nb || matches!(op, ArithOp::Div | ArithOp::Mod | ArithOp::IntDiv);
            let is_dbl = |t: &Option<SqlType>| {
                matches!(t, Some(SqlType::Double | SqlType::Float))
                    || t.as_ref().is_some_and(|t| t.is_string())
            };
            let dec_scale = |t: &Option<SqlType>| match t {
                Some(SqlType::Decimal { scale, .. }) => Some(*scale),
                // A temporal with a fraction is a decimal number (20240101102030.5).
                Some(SqlType::DateTime(p) | SqlType::Timestamp(p) | SqlType::Time(p)) if *p > 0 => {
                    Some(*p)
                }
                Some(t) if t.is_integer() || matches!(t, SqlType::Year | SqlType::Bit(_)) => {
                    Some(0)
                }
                _ => None,
            };
            let ty = if let Some(l) = int_len(e, cols) {
                l.sql_type()
            } else if *op == ArithOp::IntDiv {
                big
            } else if is_dbl(&ta) || is_dbl(&tb) {
                Some(SqlType::Double)
            } else {
                match (dec_scale(&ta), dec_scale(&tb)) {
                    (Some(0), Some(0)) if *op != ArithOp::Div => big,
                    (Some(x), Some(y)) => {
                        let scale = match op {
                            ArithOp::Mul => x + y,
                            ArithOp::Div => x + 4,
                            _ => x.max(y),
                        }
                        .min(28);
                        Some(SqlType::Decimal {
                            precision: 28,
                            scale,
                        })
                    }
                    _ => Some(SqlType::Double),
                }
            };
            (ty, nullable)
        }
        Expr::Case(_, whens, els) => {
            let mut ty = None;
            for (_, t) in whens {
                ty = merge_types(ty, infer(t, cols).0);
            }
            if let Some(e) = els {
                ty = merge_types(ty, infer(e, cols).0);
            }
            (ty, true)
        }
        Expr::Cast(x, to) => (
            Some(match to {
                CastTo::Signed => SqlType::Int {
                    width: if char_len(x, cols) <= 9 {
                        IntWidth::Int
                    } else {
                        IntWidth::Big
                    },
                    unsigned: false,
                },
                CastTo::BigInt => SqlType::Int {
                    width: IntWidth::Big,
                    unsigned: false,
                },
                CastTo::Unsigned => SqlType::Int {
                    width: IntWidth::Big,
                    unsigned: true,
                },
                CastTo::Decimal(p, s) => SqlType::Decimal {
                    precision: *p,
                    scale: *s,
                },
                CastTo::Double => SqlType::Double,
                // Without a length, as long as the value can print.
                CastTo::Char(n) => {
                    SqlType::Varchar(n.unwrap_or_else(|| char_len(x, cols).clamp(1, 65_535)))
                }
                CastTo::Binary(n) => SqlType::Varbinary(n.unwrap_or_else(|| {
                    infer(x, cols)
                        .0
                        .and_then(|t| t.max_len())
                        .unwrap_or_else(|| char_len(x, cols))
                        .clamp(1, 65_535)
                })),
                CastTo::Date => SqlType::Date,
                CastTo::DateTime(f) => SqlType::DateTime(*f),
                CastTo::Time(f) => SqlType::Time(*f),
            }),
            true,
        ),
        Expr::Interval(_, x) => infer(x, cols),
        Expr::Func(f, args) => crate::func::result_type(*f, args, cols),
    }
}

/// MariaDB's length (characters, sign included), signedness and decimal
/// precision of an integer-valued expression. They decide whether its
/// result is sent as an INT (LONG) or a BIGINT (LONGLONG): `1 + 1` and
/// `tinyint_col * 2` are LONG, `int_col + 1` is LONGLONG.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct IntLen {
    pub len: u32,
    pub unsigned: bool,
    pub precision: u32,
}

impl IntLen {
    fn of(precision: u32, unsigned: bool) -> IntLen {
        IntLen {
            len: precision + u32::from(!unsigned),
            unsigned,
            precision,
        }
    }

    /// `self MOD d`: as long as the longer operand, signed as `self`.
    pub fn modulo(self, d: IntLen) -> IntLen {
        IntLen {
            len: self.len.max(d.len),
            unsigned: self.unsigned,
            precision: self.precision.max(d.precision),
        }
    }

    /// INT up to nine characters, BIGINT beyond (MariaDB's
    /// long-or-longlong rule).
    pub fn sql_type(self) -> Option<SqlType> {
        Some(SqlType::Int {
            width: if self.len <= 9 {
                IntWidth::Int
            } else {
                IntWidth::Big
            },
            unsigned: self.unsigned,
        })
    }
}

/// See `IntLen`; None when `e` is not built from integer literals, integer
/// (or YEAR, BIT) columns, + - * DIV MOD, negation and ABS.
pub(crate) fn int_len(e: &Expr, cols: &[OutCol]) -> Option<IntLen> {
    match e {
        // A literal's precision is its digit count.
        Expr::Lit(Value::Int(i)) => {
            let digits = i.unsigned_abs().to_string().len() as u32;
            Some(IntLen {
                len: digits + u32::from(*i < 0),
                unsigned: false,
                precision: digits,
            })
        }
        Expr::Col(i) => {
            let (len, unsigned) = match cols.get(*i)?.ty.as_ref()? {
                SqlType::Int { width, unsigned } => {
                    let signed_len = match width {
                        IntWidth::Tiny => 4,
                        IntWidth::Small => 6,
                        IntWidth::Medium => 9,
                        IntWidth::Int => 11,
                        IntWidth::Big => 20,
                    };
                    let len = if *unsigned && *width != IntWidth::Big {
                        signed_len - 1
                    } else {
                        signed_len
                    };
                    (len, *unsigned)
                }
                SqlType::Bool => (1, false),
                SqlType::Year => (4, true),
                // As a number an ENUM or SET is as long as its text can be.
                t @ (SqlType::Enum(_) | SqlType::Set(_)) => (t.max_len()?.max(1), false),
                SqlType::Bit(m) => (
                    (u64::MAX >> (64 - u32::from(*m))).to_string().len() as u32,
                    true,
                ),
                t => return temporal_int_len(t),
            };
            Some(IntLen {
                len,
                unsigned,
                precision: len - u32::from(!unsigned && len > 1),
            })
        }
        Expr::Neg(x) => {
            let a = int_len(x, cols)?;
            Some(IntLen {
                len: a.len + 1,
                unsigned: false,
                precision: a.precision,
            })
        }
        Expr::Func(crate::expr::Func::Abs, args) if args.len() == 1 => int_len(&args[0], cols),
        Expr::Func(f, _) => {
            let len = crate::func::int_result_len(*f)?;
            Some(IntLen {
                len,
                unsigned: false,
                precision: len - u32::from(len > 1),
            })
        }
        Expr::Lit(v) => temporal_int_len(&literal_type(v)?),
        Expr::Arith(op, a, b) => {
            let a = int_len(a, cols)?;
            let b = int_len(b, cols)?;
            let unsigned = a.unsigned || b.unsigned;
            Some(match op {
                ArithOp::Add | ArithOp::Sub => {
                    IntLen::of(a.precision.max(b.precision) + 1, unsigned)
                }
                ArithOp::Mul => IntLen::of(a.precision + b.precision, unsigned),
                ArithOp::IntDiv => IntLen {
                    len: a.precision,
                    unsigned,
                    precision: a.precision,
                },
                ArithOp::Mod => a.modulo(b),
                ArithOp::Div => return None,
            })
        }
        _ => None,
    }
}

/// A temporal value's digits as a number (YYYYMMDD, HHMMSS with up to
/// three hour digits, YYYYMMDDHHMMSS), for arithmetic on it: `DATE + 0` is
/// a BIGINT, `TIME + 0` an INT. With a fraction it is a DECIMAL instead.
fn temporal_int_len(t: &SqlType) -> Option<IntLen> {
    let precision = match t {
        SqlType::Date => 8,
        SqlType::Time(0) => 7,
        SqlType::DateTime(0) | SqlType::Timestamp(0) => 14,
        _ => return None,
    };
    Some(IntLen::of(precision, false))
}

/// MariaDB's maximum character length of `e` where a conversion to an
/// integer reads it to choose INT or BIGINT (`CAST(... AS SIGNED)`): an
/// integer's digits and sign, a literal's written length, a column's
/// declared one; u32::MAX when unknown (a DOUBLE, an expression).
pub(crate) fn char_len(e: &Expr, cols: &[OutCol]) -> u32 {
    // A BOOLEAN (TINYINT(1)) holds -128..127 whatever its display width.
    if matches!(infer(e, cols).0, Some(SqlType::Bool)) {
        return 4;
    }
    if let Some(l) = int_len(e, cols) {
        return l.len;
    }
    match e {
        Expr::Lit(Value::Null) => 0,
        Expr::Lit(Value::Decimal(d)) => d.to_string().len() as u32,
        Expr::Lit(Value::Str(s)) => s.chars().count() as u32,
        Expr::Neg(x) => char_len(x, cols).saturating_add(1),
        _ => match infer(e, cols).0 {
            Some(SqlType::Decimal { precision, scale }) => {
                u32::from(precision) + u32::from(scale > 0) + 1
            }
            Some(SqlType::Date) => 10,
            Some(SqlType::DateTime(p) | SqlType::Timestamp(p)) => {
                19 + u32::from(p) + u32::from(p > 0)
            }
            Some(t) => t.max_len().unwrap_or(u32::MAX),
            None => 0,
        },
    }
}

pub(crate) fn merge_types(a: Option<SqlType>, b: Option<SqlType>) -> Option<SqlType> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some(x), Some(y)) if x.is_integer() && y.is_integer() => Some(SqlType::Int {
            width: IntWidth::Big,
            unsigned: false,
        }),
        (Some(x), Some(y))
            if (x.is_integer() || matches!(x, SqlType::Decimal { .. }))
                && (y.is_integer() || matches!(y, SqlType::Decimal { .. })) =>
        {
            // Integer digits and scale of each side (an integer has 19 and 0).
            let digits = |t: &SqlType| match t {
                SqlType::Decimal { precision, scale } => (precision - scale, *scale),
                _ => (19, 0),
            };
            let ((ia, sa), (ib, sb)) = (digits(&x), digits(&y));
            let scale = sa.max(sb);
            Some(SqlType::Decimal {
                precision: (ia.max(ib) + scale).min(28),
                scale,
            })
        }
        (Some(SqlType::Double | SqlType::Float), _)
        | (_, Some(SqlType::Double | SqlType::Float)) => Some(SqlType::Double),
        (Some(x), Some(y)) => merge_temporal(&x, &y).or(Some(SqlType::Varchar(255))),
    }
}

/// MariaDB's aggregation of two different temporal types (COALESCE, CASE,
/// IF, GREATEST, UNION): two TIMESTAMPs stay a TIMESTAMP, any other mix is
/// a DATETIME; the fraction is the wider one. Django reads the column type
/// to decide whether it got a `datetime` or a `str`.
fn merge_temporal(x: &SqlType, y: &SqlType) -> Option<SqlType> {
    let fsp = |t: &SqlType| match t {
        SqlType::Date => Some(0),
        SqlType::DateTime(p) | SqlType::Timestamp(p) | SqlType::Time(p) => Some(*p),
        _ => None,
    };
    let p = fsp(x)?.max(fsp(y)?);
    Some(match (x, y) {
        (SqlType::Timestamp(_), SqlType::Timestamp(_)) => SqlType::Timestamp(p),
        (SqlType::Time(_), SqlType::Time(_)) => SqlType::Time(p),
        _ => SqlType::DateTime(p),
    })
}

/// MariaDB compares a JSON_EXTRACT result with a value that is not JSON by
/// the scalar it holds: `JSON_EXTRACT(doc, '$.v') = 'stable'` is true for
/// `{"v": "stable"}` (the JSON string's quotes do not count). Django writes
/// every `JSONField` exact lookup this way. Two JSON operands compare as
/// they are.
fn unquote_json_operand(a: Expr, b: Expr) -> (Expr, Expr) {
    let is_json = |e: &Expr| matches!(e, Expr::Func(Func::JsonExtract, _));
    let unquote = |e: Expr| Expr::Func(Func::JsonUnquote, vec![e]);
    match (is_json(&a), is_json(&b)) {
        (true, false) => (unquote(a), b),
        (false, true) => (a, unquote(b)),
        _ => (a, b),
    }
}

/// A value that is typed BIGINT, not as a literal of its size (system
/// variables and session values: MariaDB sends them as LONGLONG).
fn bigint_lit(v: Value) -> Expr {
    match v {
        Value::Int(_) => Expr::Cast(Box::new(Expr::Lit(v)), CastTo::BigInt),
        other => Expr::Lit(other),
    }
}

/// The type MySQL gives a literal.
pub fn literal_type(v: &Value) -> Option<SqlType> {
    Some(match v {
        Value::Null => return None,
        // MariaDB types an integer literal INT (LONG on the wire) when it
        // fits in 32 bits.
        Value::Int(i) => SqlType::Int {
            width: if i32::try_from(*i).is_ok() {
                IntWidth::Int
            } else {
                IntWidth::Big
            },
            unsigned: false,
        },
        Value::UInt(_) => SqlType::Int {
            width: IntWidth::Big,
            unsigned: true,
        },
        Value::Double(_) => SqlType::Double,
        Value::Decimal(d) => SqlType::Decimal {
            precision: 28,
            scale: d.scale().min(28) as u8,
        },
        Value::Str(s) => SqlType::Varchar((s.chars().count() as u32).max(1)),
        Value::Bytes(b) => SqlType::Varbinary((b.len() as u32).max(1)),
        Value::Date(_) => SqlType::Date,
        Value::DateTime(dt) => SqlType::DateTime(if dt.micro == 0 { 0 } else { 6 }),
        Value::Time(us) => SqlType::Time(if us % 1_000_000 == 0 { 0 } else { 6 }),
        Value::Uuid(_) => SqlType::Uuid,
    })
}

/// Result type of an aggregate.
pub fn agg_type(a: &AggCall, cols: &[OutCol]) -> (Option<SqlType>, bool) {
    let arg = a.args.first().map_or((None, true), |e| infer(e, cols));
    match a.func {
        AggFunc::CountStar | AggFunc::Count => (
            Some(SqlType::Int {
                width: IntWidth::Big,
                unsigned: false,
            }),
            false,
        ),
        AggFunc::Sum => match arg.0 {
            Some(t) if t.is_integer() => (
                Some(SqlType::Decimal {
                    precision: 28,
                    scale: 0,
                }),
                true,
            ),
            Some(SqlType::Decimal { scale, .. }) => (
                Some(SqlType::Decimal {
                    precision: 28,
                    scale,
                }),
                true,
            ),
            _ => (Some(SqlType::Double), true),
        },
        AggFunc::Avg => match arg.0 {
            Some(t) if t.is_integer() => (
                Some(SqlType::Decimal {
                    precision: 28,
                    scale: 4,
                }),
                true,
            ),
            Some(SqlType::Decimal { scale, .. }) => (
                Some(SqlType::Decimal {
                    precision: 28,
                    scale: (scale + 4).min(28),
                }),
                true,
            ),
            _ => (Some(SqlType::Double), true),
        },
        // Over an integer expression that is not a column, MariaDB's
        // MIN/MAX is a BIGINT (`MAX(CASE WHEN .. THEN id END)`, `MAX(1)`).
        AggFunc::Min | AggFunc::Max => match (arg.0, a.args.first()) {
            (Some(SqlType::Int { unsigned, .. }), Some(e)) if !matches!(e, Expr::Col(_)) => (
                Some(SqlType::Int {
                    width: IntWidth::Big,
                    unsigned,
                }),
                true,
            ),
            // An ENUM's or SET's MIN/MAX is a plain string (VAR_STRING).
            (Some(t @ (SqlType::Enum(_) | SqlType::Set(_))), _) => {
                (Some(SqlType::Varchar(t.max_len().unwrap_or(255))), true)
            }
            (t, _) => (t, true),
        },
        AggFunc::Variance { .. } => (Some(SqlType::Double), true),
        AggFunc::GroupConcat => (Some(SqlType::Text(65_535)), true),
        // Sent as BLOB, as GROUP_CONCAT is (MariaDB types both so).
        AggFunc::JsonArrayAgg | AggFunc::JsonObjectAgg => (Some(SqlType::Text(65_535)), true),
        AggFunc::BitAnd | AggFunc::BitOr | AggFunc::BitXor => (
            Some(SqlType::Int {
                width: IntWidth::Big,
                unsigned: true,
            }),
            false,
        ),
    }
}

/// The display name MySQL gives an unaliased select expression: its text
/// as written in `sql` (the statement), else as sqlparser prints it.
pub fn expr_display_name(e: &ast::Expr, sql: &str) -> String {
    match e {
        // The parser's stand-in for CHAR(n, ... USING cs), shown as written.
        ast::Expr::Function(f) if f.name.to_string() == "CHAR USING" => {
            let args: Vec<String> = match &f.args {
                ast::FunctionArguments::List(l) => l.args.iter().map(|a| a.to_string()).collect(),
                _ => Vec::new(),
            };
            match args.split_first() {
                Some((cs, rest)) => {
                    format!("CHAR({} USING {})", rest.join(", "), cs.trim_matches('\''))
                }
                None => "CHAR()".into(),
            }
        }
        ast::Expr::Identifier(i) => i.value.clone(),
        // `@@session.x` is named as written; `t.col` by its column.
        ast::Expr::CompoundIdentifier(ids)
            if ids.first().is_some_and(|i| i.value.starts_with("@@")) =>
        {
            ids.iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join(".")
        }
        ast::Expr::CompoundIdentifier(ids) => {
            ids.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            ast::Value::Placeholder(_) => "?".into(),
            other => source_text(e, sql).unwrap_or_else(|| other.to_string()),
        },
        other => source_text(other, sql).unwrap_or_else(|| other.to_string()),
    }
}

/// `e` as written in `sql`, found by its span; None when the span is
/// missing or the text there does not parse back to `e` (the statement
/// was rewritten before parsing, or sqlparser's span is off).
fn source_text(e: &ast::Expr, sql: &str) -> Option<String> {
    use sqlparser::ast::Spanned;
    let span = match e {
        // sqlparser gives REGEXP no span: its operands'.
        ast::Expr::RLike { expr, pattern, .. } => expr.span().union(&pattern.span()),
        other => other.span(),
    };
    if span.start.line == 0 || span.end.line == 0 {
        return None;
    }
    let offset = |l| byte_offset(sql, l);
    let (start, end) = (offset(span.start)?, offset(span.end)?);
    let parses_back = |text: &str| {
        sqlparser::parser::Parser::new(&crate::dialect::MariaDb::default())
            .try_with_sql(&crate::rewrite_for_parser(text))
            .and_then(|mut p| {
                let again = p.parse_expr()?;
                // The whole text, not a prefix of it.
                let whole = p.peek_token().token == sqlparser::tokenizer::Token::EOF;
                Ok(whole && again == *e)
            })
            .unwrap_or(false)
    };
    // sqlparser's span of a call or CAST may stop before its closing
    // parenthesis: try the span, then each later `)` (a short way on).
    // The parentheses as the parser saw them (NEXT VALUE FOR s was read as
    // NEXTVAL(s), written over the same length).
    let seen = crate::rewrite_for_parser(sql);
    let rest = seen.get(end..)?;
    let later_parens = rest
        .char_indices()
        .take_while(|(i, _)| *i < 256)
        .filter(|(_, c)| *c == ')')
        .map(|(i, _)| end + i + 1);
    let found = std::iter::once(end)
        .chain(later_parens)
        .filter_map(|z| sql.get(start..z))
        .map(str::trim)
        .find(|t| !t.is_empty() && parses_back(t));
    if let Some(t) = found {
        return Some(t.to_string());
    }
    // Some spans leave out a leading operator or keyword (`- - 1`, `BINARY
    // 'a'`, `CAST(`) or a trailing one (`x IS TRUE`): widen them token by
    // token within the select item, shortest first.
    let (starts, ends) = item_bounds(sql, span)?;
    let mut tries: Vec<(usize, usize)> = starts
        .iter()
        .flat_map(|&a| ends.iter().map(move |&z| (a, z)))
        .filter(|(a, z)| a < z)
        .collect();
    tries.sort_by_key(|(a, z)| z - a);
    tries
        .into_iter()
        .filter_map(|(a, z)| sql.get(a..z))
        .map(str::trim)
        .find(|t| !t.is_empty() && parses_back(t))
        .map(str::to_string)
}

/// The byte offset in `sql` of a parser location (1-based line and column
/// in characters).
fn byte_offset(sql: &str, l: sqlparser::tokenizer::Location) -> Option<usize> {
    let line_start: usize = sql
        .split_inclusive('\n')
        .take(usize::try_from(l.line).ok()?.checked_sub(1)?)
        .map(str::len)
        .sum();
    let line = sql.get(line_start..)?;
    let col = usize::try_from(l.column).ok()?.checked_sub(1)?;
    Some(line_start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i))
}

/// Where the select-list item around `span` in `sql` may begin and end,
/// as byte offsets: each token start back to the `,` or SELECT-level
/// keyword before it, each token end on to the `,` or clause keyword after
/// it (at most a dozen each way). Tokens are compared by their locations;
/// only the candidates are turned into offsets.
fn item_bounds(sql: &str, span: sqlparser::tokenizer::Span) -> Option<(Vec<usize>, Vec<usize>)> {
    use sqlparser::keywords::Keyword as K;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = crate::dialect::MariaDb::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let at = |i: usize| byte_offset(sql, tokens[i].span.start);
    let first = tokens.iter().position(|t| t.span.start >= span.start)?;
    let opens_item = |t: &Token| match t {
        Token::Comma => true,
        Token::Word(w) => matches!(
            w.keyword,
            K::SELECT | K::DISTINCT | K::ALL | K::DISTINCTROW | K::SQL_CALC_FOUND_ROWS
        ),
        _ => false,
    };
    let last = tokens.iter().rposition(|t| t.span.start < span.end)?;
    let closes_item = |t: &Token| match t {
        Token::Comma | Token::SemiColon | Token::EOF => true,
        Token::Word(w) => matches!(
            w.keyword,
            K::FROM
                | K::WHERE
                | K::GROUP
                | K::HAVING
                | K::ORDER
                | K::LIMIT
                | K::UNION
                | K::EXCEPT
                | K::INTERSECT
                | K::INTO
                | K::WINDOW
                | K::FOR
                | K::LOCK
        ),
        _ => false,
    };
    const MOST: usize = 12;
    let mut starts = vec![byte_offset(sql, span.start)?];
    let mut depth = 0i32;
    for i in (0..first).rev() {
        let t = &tokens[i].token;
        match t {
            Token::RParen => depth += 1,
            Token::LParen => depth -= 1,
            t if depth <= 0 && opens_item(t) => break,
            _ => {}
        }
        if !matches!(t, Token::Whitespace(_)) {
            starts.push(at(i)?);
        }
        if starts.len() > MOST {
            break;
        }
    }
    let mut ends = vec![byte_offset(sql, span.end)?];
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate().skip(last + 1) {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            t if depth <= 0 && closes_item(t) => break,
            _ => {}
        }
        if !matches!(t.token, Token::Whitespace(_)) {
            // The text up to this token's end: the next token's start.
            ends.push(if i + 1 < tokens.len() {
                at(i + 1)?
            } else {
                sql.len()
            });
        }
        if ends.len() > MOST {
            break;
        }
    }
    Some((starts, ends))
}

#[allow(dead_code)]
fn _assert_datetime(_: DateTime) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_item(sql: &str) -> ast::Expr {
        let stmts = crate::parse(sql).expect("parses");
        let Some(ast::Statement::Query(q)) = stmts.into_iter().next() else {
            panic!("not a query");
        };
        let ast::SetExpr::Select(s) = *q.body else {
            panic!("not a SELECT");
        };
        match s.projection.into_iter().next() {
            Some(ast::SelectItem::UnnamedExpr(e)) => e,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn arithmetic_on_temporals_and_short_int_functions_is_int_or_bigint() {
        let ty = |e: Expr| infer(&e, &[]).0;
        let plus = |a: Expr, b: i64| {
            Expr::Arith(
                ArithOp::Add,
                Box::new(a),
                Box::new(Expr::Lit(Value::Int(b))),
            )
        };
        let int = Some(SqlType::Int {
            width: IntWidth::Int,
            unsigned: false,
        });
        let big = Some(SqlType::Int {
            width: IntWidth::Big,
            unsigned: false,
        });
        let date = Expr::Lit(Value::Date(trireme_storage::value::Date {
            year: 2024,
            month: 1,
            day: 1,
        }));
        assert_eq!(ty(plus(date, 0)), big);
        assert_eq!(ty(plus(Expr::Lit(Value::Time(37_230_000_000)), 0)), int);
        let weekday = Expr::Func(Func::Weekday, vec![Expr::Lit(Value::Null)]);
        assert_eq!(ty(plus(weekday, 1)), int);
        let length = Expr::Func(Func::Length, vec![Expr::Lit(Value::Null)]);
        assert_eq!(ty(plus(length, 1)), big);
        let fraction = Expr::Cast(
            Box::new(Expr::Lit(Value::Str("2024-01-01 10:20:30.5".into()))),
            CastTo::DateTime(1),
        );
        assert_eq!(
            ty(plus(fraction, 0)),
            Some(SqlType::Decimal {
                precision: 28,
                scale: 1
            })
        );
    }

    #[test]
    fn an_unaliased_expression_is_named_as_written() {
        for (sql, name) in [
            ("SELECT 1+1", "1+1"),
            ("SELECT 0x10 + 0 FROM t", "0x10 + 0"),
            ("SELECT\n  max( 1 ) , 2", "max( 1 )"),
            ("SELECT NOW() IS NOT NULL, CURDATE()", "NOW() IS NOT NULL"),
            ("SELECT 1 != 2", "1 != 2"),
            // Spans that miss an operator, a keyword or the whole operation.
            ("SELECT - - 1, 2", "- - 1"),
            ("SELECT BINARY 'a' = 'A'", "BINARY 'a' = 'A'"),
            ("select cast(p.id as char) from p", "cast(p.id as char)"),
            ("SELECT 'a.b' REGEXP 'a\\.b'", "'a.b' REGEXP 'a\\.b'"),
            ("SELECT (TRUE IS TRUE) + 1 FROM t", "(TRUE IS TRUE) + 1"),
            ("SELECT x IS TRUE FROM t", "x IS TRUE"),
        ] {
            assert_eq!(expr_display_name(&first_item(sql), sql), name, "{sql}");
        }
        // Without the text (or with another one) sqlparser's rendering.
        let e = first_item("SELECT 1+1");
        assert_eq!(expr_display_name(&e, ""), "1 + 1");
        assert_eq!(expr_display_name(&e, "SELECT 2+2"), "1 + 1");
    }
}
