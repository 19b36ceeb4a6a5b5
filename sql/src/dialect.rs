//! The SQL dialect trireme parses: sqlparser's MySQL dialect, with MySQL's
//! precedence for the `BINARY` cast operator. sqlparser reads `BINARY x`
//! as a cast of the whole expression that follows, so `a LIKE BINARY 'p'
//! AND b` became `a LIKE CAST('p' AND b AS BINARY)` (wrong rows for every
//! case-sensitive lookup Django combines with another condition); MySQL
//! binds BINARY as tightly as COLLATE. Everything else is delegated to
//! `MySqlDialect`, and `dialect()` reports it, so the parser's MySQL
//! special cases still apply.

use std::any::TypeId;

use sqlparser::ast::{
    CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, Query, Statement, Value,
};
use sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

#[derive(Debug, Default)]
pub struct MariaDb(MySqlDialect);

impl Dialect for MariaDb {
    fn dialect(&self) -> TypeId {
        TypeId::of::<MySqlDialect>()
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if let Some(q) = parenthesised_query(parser) {
            return Some(q.map(Expr::Subquery));
        }
        if let Some(e) = char_using(parser) {
            return Some(e);
        }
        if let Some(e) = interval_function(parser) {
            return Some(e);
        }
        if let Some(e) = compound_interval(parser) {
            return Some(e);
        }
        if let Some(e) = cast_character_set(parser) {
            return Some(e);
        }
        if !parser.parse_keyword(Keyword::BINARY) {
            return self.0.parse_prefix(parser);
        }
        let operand = parser.parse_subexpr(self.prec_value(Precedence::DoubleColon));
        Some(operand.map(|e| Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(e),
            data_type: DataType::Binary(None),
            format: None,
        }))
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.0.supports_string_literal_backslash_escape()
    }

    fn supports_string_literal_concatenation(&self) -> bool {
        self.0.supports_string_literal_concatenation()
    }

    fn ignores_wildcard_escapes(&self) -> bool {
        self.0.ignores_wildcard_escapes()
    }

    fn supports_numeric_prefix(&self) -> bool {
        self.0.supports_numeric_prefix()
    }

    fn supports_bitwise_shift_operators(&self) -> bool {
        self.0.supports_bitwise_shift_operators()
    }

    fn supports_multiline_comment_hints(&self) -> bool {
        self.0.supports_multiline_comment_hints()
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if let Some(e) = in_parenthesised_query(parser, expr) {
            return Some(e);
        }
        // `a MOD b`, MySQL's infix spelling of `a % b`; kept as written
        // because an unaliased column is named by its text.
        if parser.parse_keyword(Keyword::MOD) {
            return Some(
                parser
                    .parse_subexpr(precedence)
                    .map(|right| Expr::BinaryOp {
                        left: Box::new(expr.clone()),
                        op: sqlparser::ast::BinaryOperator::Custom("MOD".into()),
                        right: Box::new(right),
                    }),
            );
        }
        // `a SOUNDS LIKE b`: SOUNDEX(a) = SOUNDEX(b), kept as written.
        if sounds_like_next(parser) {
            parser.next_token();
            parser.next_token();
            return Some(
                parser
                    .parse_subexpr(precedence)
                    .map(|right| Expr::BinaryOp {
                        left: Box::new(expr.clone()),
                        op: sqlparser::ast::BinaryOperator::Custom("SOUNDS LIKE".into()),
                        right: Box::new(right),
                    }),
            );
        }
        self.0.parse_infix(parser, expr, precedence)
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        if matches!(&parser.peek_token_ref().token, Token::Word(w) if w.keyword == Keyword::MOD) {
            return Some(Ok(self.prec_value(Precedence::MulDivModOp)));
        }
        if sounds_like_next(parser) {
            return Some(Ok(self.prec_value(Precedence::Like)));
        }
        self.0.get_next_precedence(parser)
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        if let Some(u) = comma_update(parser) {
            return Some(u);
        }
        self.0.parse_statement(parser)
    }

    /// `EXTRACT(DAY_HOUR FROM x)` and MySQL's other compound units, which
    /// the binder reads from the unit's name.
    fn allow_extract_custom(&self) -> bool {
        true
    }

    fn require_interval_qualifier(&self) -> bool {
        self.0.require_interval_qualifier()
    }

    fn supports_limit_comma(&self) -> bool {
        self.0.supports_limit_comma()
    }

    /// `CREATE TABLE t2 (LIKE t1)`, which MariaDB takes as well.
    fn supports_create_table_like_parenthesized(&self) -> bool {
        true
    }

    fn supports_create_table_select(&self) -> bool {
        self.0.supports_create_table_select()
    }

    fn supports_insert_set(&self) -> bool {
        self.0.supports_insert_set()
    }

    fn supports_user_host_grantee(&self) -> bool {
        self.0.supports_user_host_grantee()
    }

    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor_alias(explicit, kw, parser)
    }

    fn supports_table_hints(&self) -> bool {
        self.0.supports_table_hints()
    }

    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.0.requires_single_line_comment_whitespace()
    }

    fn supports_match_against(&self) -> bool {
        self.0.supports_match_against()
    }

    fn supports_select_modifiers(&self) -> bool {
        self.0.supports_select_modifiers()
    }

    fn supports_set_names(&self) -> bool {
        self.0.supports_set_names()
    }

    fn supports_comma_separated_set_assignments(&self) -> bool {
        self.0.supports_comma_separated_set_assignments()
    }

    fn supports_update_order_by(&self) -> bool {
        self.0.supports_update_order_by()
    }

    fn supports_data_type_signed_suffix(&self) -> bool {
        self.0.supports_data_type_signed_suffix()
    }

    fn supports_cross_join_constraint(&self) -> bool {
        self.0.supports_cross_join_constraint()
    }

    fn supports_double_ampersand_operator(&self) -> bool {
        self.0.supports_double_ampersand_operator()
    }

    fn supports_binary_kw_as_cast(&self) -> bool {
        self.0.supports_binary_kw_as_cast()
    }

    fn supports_comment_optimizer_hint(&self) -> bool {
        self.0.supports_comment_optimizer_hint()
    }

    fn supports_constraint_keyword_without_name(&self) -> bool {
        self.0.supports_constraint_keyword_without_name()
    }

    fn supports_key_column_option(&self) -> bool {
        self.0.supports_key_column_option()
    }

    fn supports_group_by_with_modifier(&self) -> bool {
        self.0.supports_group_by_with_modifier()
    }

    fn supports_left_associative_joins_without_parens(&self) -> bool {
        self.0.supports_left_associative_joins_without_parens()
    }
}

/// MySQL's UPDATE forms sqlparser does not read: `UPDATE [LOW_PRIORITY]
/// [IGNORE] ...` (IGNORE is carried as sqlparser's `OR IGNORE`) and the
/// multi-table `UPDATE a, b SET ... WHERE ...` (the tables after the
/// first become the statement's FROM list, the shape the multi-table
/// executor takes for `UPDATE a JOIN b ...` plus FROM). A plain
/// single-table UPDATE is left to sqlparser.
fn comma_update(parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
    if !parser.peek_keyword(Keyword::UPDATE) {
        return None;
    }
    parser
        .maybe_parse(|p| {
            let update_token = p.next_token();
            let low_priority = p.parse_keyword(Keyword::LOW_PRIORITY);
            let ignore = p.parse_keyword(Keyword::IGNORE);
            let mut tables = p.parse_comma_separated(Parser::parse_table_and_joins)?;
            if tables.len() < 2 && !low_priority && !ignore {
                // Not ours: maybe_parse rewinds on an error.
                return p.expected("a second table", p.peek_token());
            }
            let rest = tables.split_off(1);
            let table = tables.remove(0);
            p.expect_keyword(Keyword::SET)?;
            let assignments = p.parse_comma_separated(Parser::parse_assignment)?;
            let selection = if p.parse_keyword(Keyword::WHERE) {
                Some(p.parse_expr()?)
            } else {
                None
            };
            let order_by = if p.parse_keywords(&[Keyword::ORDER, Keyword::BY]) {
                p.parse_comma_separated(Parser::parse_order_by_expr)?
            } else {
                vec![]
            };
            let limit = if p.parse_keyword(Keyword::LIMIT) {
                Some(p.parse_expr()?)
            } else {
                None
            };
            Ok(Statement::Update(sqlparser::ast::Update {
                update_token: update_token.into(),
                optimizer_hints: vec![],
                table,
                assignments,
                from: (!rest.is_empty())
                    .then_some(sqlparser::ast::UpdateTableFromKind::BeforeSet(rest)),
                selection,
                returning: None,
                output: None,
                or: ignore.then_some(sqlparser::ast::SqliteOnConflict::Ignore),
                order_by,
                limit,
            }))
        })
        .transpose()
}

/// `((SELECT ...) UNION (SELECT ...))` as an operand: sqlparser takes the
/// outer parenthesis for an expression list and stops at UNION. When the
/// parenthesis holds a whole query expression (up to its closing
/// parenthesis) it is a subquery; anything else is left to sqlparser.
fn parenthesised_query(parser: &mut Parser) -> Option<Result<Box<Query>, ParserError>> {
    // Only what can open a query: `((SELECT`, `((WITH`, `(((`.
    let [a, b, c] = parser.peek_tokens::<3>();
    let opens_query = match &c {
        Token::Word(w) => matches!(w.keyword, Keyword::SELECT | Keyword::WITH),
        Token::LParen => true,
        _ => false,
    };
    if a != Token::LParen || b != Token::LParen || !opens_query {
        return None;
    }
    parser
        .maybe_parse(|p| {
            p.expect_token(&Token::LParen)?;
            let q = p.parse_query()?;
            p.expect_token(&Token::RParen)?;
            Ok(q)
        })
        .transpose()
}

/// `x [NOT] IN ((SELECT ...) UNION (SELECT ...))`: the parenthesis after
/// IN holds a query expression that itself opens with a parenthesis, which
/// sqlparser reads as a value list.
fn in_parenthesised_query(parser: &mut Parser, lhs: &Expr) -> Option<Result<Expr, ParserError>> {
    let [a, b, c, d] = parser.peek_tokens::<4>();
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let negated = if is(&a, Keyword::IN) && b == Token::LParen && c == Token::LParen {
        false
    } else if is(&a, Keyword::NOT)
        && is(&b, Keyword::IN)
        && c == Token::LParen
        && d == Token::LParen
    {
        true
    } else {
        return None;
    };
    parser
        .maybe_parse(|p| {
            if negated {
                p.expect_keyword(Keyword::NOT)?;
            }
            p.expect_keyword(Keyword::IN)?;
            p.expect_token(&Token::LParen)?;
            let q = p.parse_query()?;
            p.expect_token(&Token::RParen)?;
            Ok(Expr::InSubquery {
                expr: Box::new(lhs.clone()),
                subquery: q,
                negated,
            })
        })
        .transpose()
}

/// MySQL's `CHAR(n, ... USING charset)` (Django's `Chr()` sends `CHAR(n
/// USING utf16)`), which sqlparser does not know: read as the function
/// `CHAR USING` (a name no query can spell unquoted) with the charset name
/// as its first argument.
fn char_using(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    let [a, b] = parser.peek_tokens::<2>();
    if !matches!(&a, Token::Word(w) if w.keyword == Keyword::CHAR) || b != Token::LParen {
        return None;
    }
    parser
        .maybe_parse(|p| {
            p.expect_keyword(Keyword::CHAR)?;
            p.expect_token(&Token::LParen)?;
            let args = p.parse_comma_separated(Parser::parse_expr)?;
            p.expect_keyword(Keyword::USING)?;
            let charset = p.parse_identifier()?;
            p.expect_token(&Token::RParen)?;
            let mut list = vec![Expr::Value(
                Value::SingleQuotedString(charset.value).with_empty_span(),
            )];
            list.extend(args);
            Ok(function("CHAR USING", list))
        })
        .transpose()
}

/// Whether the next two tokens are `SOUNDS LIKE`.
fn sounds_like_next(parser: &Parser) -> bool {
    let [a, b] = parser.peek_tokens_ref::<2>().map(|t| &t.token);
    matches!(a, Token::Word(w) if w.value.eq_ignore_ascii_case("SOUNDS"))
        && matches!(b, Token::Word(w) if w.keyword == Keyword::LIKE)
}

fn function(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

/// MySQL's `INTERVAL(N, N1, N2, ...)` function (how many of the Ni are at
/// most N), which sqlparser reads as an INTERVAL literal. Two or more
/// arguments tell it from `INTERVAL (1 + 1) DAY`.
fn interval_function(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    let [a, b] = parser.peek_tokens::<2>();
    if !matches!(&a, Token::Word(w) if w.keyword == Keyword::INTERVAL) || b != Token::LParen {
        return None;
    }
    parser
        .maybe_parse(|p| {
            p.expect_keyword(Keyword::INTERVAL)?;
            p.expect_token(&Token::LParen)?;
            let args = p.parse_comma_separated(Parser::parse_expr)?;
            p.expect_token(&Token::RParen)?;
            if args.len() < 2 {
                return p.expected("a second argument of INTERVAL()", p.peek_token());
            }
            Ok(function("INTERVAL", args))
        })
        .transpose()
}

/// MySQL's compound INTERVAL units (`INTERVAL '1:30' HOUR_MINUTE`), which
/// sqlparser does not know: the unit is kept by name.
pub const COMPOUND_UNITS: [&str; 11] = [
    "YEAR_MONTH",
    "DAY_HOUR",
    "DAY_MINUTE",
    "DAY_SECOND",
    "DAY_MICROSECOND",
    "HOUR_MINUTE",
    "HOUR_SECOND",
    "HOUR_MICROSECOND",
    "MINUTE_SECOND",
    "MINUTE_MICROSECOND",
    "SECOND_MICROSECOND",
];

fn compound_interval(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    if !matches!(&parser.peek_token_ref().token, Token::Word(w) if w.keyword == Keyword::INTERVAL) {
        return None;
    }
    parser
        .maybe_parse(|p| {
            p.expect_keyword(Keyword::INTERVAL)?;
            let value = p.parse_expr()?;
            let unit = match &p.peek_token_ref().token {
                Token::Word(w)
                    if COMPOUND_UNITS
                        .iter()
                        .any(|u| w.value.eq_ignore_ascii_case(u)) =>
                {
                    Ident::new(w.value.to_ascii_uppercase())
                }
                _ => return p.expected("a compound INTERVAL unit", p.peek_token()),
            };
            p.next_token();
            Ok(Expr::Interval(sqlparser::ast::Interval {
                value: Box::new(value),
                leading_field: Some(sqlparser::ast::DateTimeField::Custom(unit)),
                leading_precision: None,
                last_field: None,
                fractional_seconds_precision: None,
            }))
        })
        .transpose()
}

/// `CAST(x AS CHAR[(n)] CHARACTER SET cs)` (SQLAlchemy sends it when it
/// connects), which sqlparser does not read: the target is kept as a
/// custom type named as written, which the binder casts to CHAR.
fn cast_character_set(parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
    let [a, b] = parser.peek_tokens::<2>();
    if !matches!(&a, Token::Word(w) if w.keyword == Keyword::CAST) || b != Token::LParen {
        return None;
    }
    parser
        .maybe_parse(|p| {
            p.expect_keyword(Keyword::CAST)?;
            p.expect_token(&Token::LParen)?;
            let e = p.parse_expr()?;
            p.expect_keyword(Keyword::AS)?;
            p.expect_one_of_keywords(&[Keyword::CHAR, Keyword::CHARACTER])?;
            let len = if p.consume_token(&Token::LParen) {
                let n = p.parse_literal_uint()?;
                p.expect_token(&Token::RParen)?;
                Some(n)
            } else {
                None
            };
            if !p.parse_keywords(&[Keyword::CHARACTER, Keyword::SET])
                && !p.parse_keyword(Keyword::CHARSET)
            {
                return p.expected("CHARACTER SET", p.peek_token());
            }
            let cs = p.parse_identifier()?;
            p.expect_token(&Token::RParen)?;
            let name = match len {
                Some(n) => format!("CHAR({n}) CHARACTER SET {}", cs.value),
                None => format!("CHAR CHARACTER SET {}", cs.value),
            };
            Ok(Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(e),
                data_type: DataType::Custom(ObjectName::from(vec![Ident::new(name)]), Vec::new()),
                format: None,
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(sql: &str) -> Expr {
        Parser::new(&MariaDb::default())
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .expect("parses")
    }

    #[test]
    fn mod_is_an_infix_operator_as_tight_as_percent() {
        use sqlparser::ast::BinaryOperator as B;
        let Expr::BinaryOp { left, op, .. } = expr("7 MOD 3 + 1") else {
            panic!("not a binary operation");
        };
        assert_eq!(op, B::Plus);
        assert!(matches!(*left, Expr::BinaryOp { op: B::Custom(m), .. } if m == "MOD"));
        // MOD(a, b) stays a function call.
        assert!(matches!(expr("MOD(7, 3)"), Expr::Function(_)));
    }

    #[test]
    fn mysql_only_expression_forms_parse_and_keep_their_spelling() {
        // INTERVAL(N, N1, ...) is a function; INTERVAL (x) DAY stays an interval.
        assert!(
            matches!(expr("INTERVAL(5, 1, 3)"), Expr::Function(f) if f.name.to_string() == "INTERVAL")
        );
        assert!(matches!(expr("INTERVAL (1 + 1) DAY"), Expr::Interval(_)));
        let Expr::Interval(iv) = expr("INTERVAL '1:30' HOUR_MINUTE") else {
            panic!("not an interval");
        };
        assert_eq!(
            iv.leading_field.map(|f| f.to_string()),
            Some("HOUR_MINUTE".into())
        );
        assert_eq!(
            expr("'a' SOUNDS LIKE 'b'").to_string(),
            "'a' SOUNDS LIKE 'b'"
        );
        assert_eq!(
            expr("CAST(x AS CHAR(3) CHARACTER SET utf8mb4)").to_string(),
            "CAST(x AS CHAR(3) CHARACTER SET utf8mb4)"
        );
        assert!(matches!(
            expr("CAST(x AS CHAR)"),
            Expr::Cast {
                data_type: DataType::Char(_) | DataType::Character(_),
                ..
            }
        ));
    }

    #[test]
    fn comma_separated_update_tables_become_its_from_list() {
        let stmts = Parser::parse_sql(
            &MariaDb::default(),
            "UPDATE books b, authors a SET b.stock = 1 WHERE a.id = b.author_id",
        )
        .expect("parses");
        let Statement::Update(u) = &stmts[0] else {
            panic!("not an UPDATE");
        };
        assert_eq!(u.table.relation.to_string(), "books b");
        let Some(sqlparser::ast::UpdateTableFromKind::BeforeSet(rest)) = &u.from else {
            panic!("no FROM list");
        };
        assert_eq!(rest.len(), 1);
        assert!(u.selection.is_some());
        // One table stays sqlparser's.
        let one = Parser::parse_sql(&MariaDb::default(), "UPDATE t SET a = 1").expect("parses");
        assert!(matches!(&one[0], Statement::Update(u) if u.from.is_none()));
    }

    #[test]
    fn parenthesised_union_operands() {
        assert!(matches!(
            expr("((SELECT 1) UNION (SELECT 2)) IS NOT NULL"),
            Expr::IsNotNull(e) if matches!(*e, Expr::Subquery(_))
        ));
        assert!(matches!(
            expr("x NOT IN ((SELECT 1) UNION (SELECT 2))"),
            Expr::InSubquery { negated: true, .. }
        ));
        // Not queries: left to sqlparser.
        assert!(matches!(expr("((1) + 2)"), Expr::Nested(_)));
        assert!(matches!(expr("x IN ((1), (2))"), Expr::InList { .. }));
    }

    #[test]
    fn char_using_is_a_function_with_the_charset_first() {
        let Expr::Function(f) = expr("CHAR(74, 75 USING utf16)") else {
            panic!("not a function");
        };
        assert_eq!(f.name.to_string(), "CHAR USING");
        assert_eq!(f.args.to_string(), "('utf16', 74, 75)");
        assert!(matches!(expr("CHAR(74)"), Expr::Function(_)));
    }
}
