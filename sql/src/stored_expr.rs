//! Expressions kept as SQL text in the catalog (CHECK constraints,
//! generated columns) and parsed again on every row written.
//!
//! sqlparser prints a string literal with its quotes doubled but its
//! backslashes as they are, while the MariaDB dialect reads a backslash as
//! an escape: `CHECK (name <> '\\')` came back as `'\'`, an unterminated
//! literal, and every INSERT failed. The text kept here escapes backslashes
//! as MariaDB itself shows them (`'\\'`), so it parses back to the same
//! value.

use std::ops::ControlFlow;

use sqlparser::ast::{self, visit_expressions_mut};

/// `e` as stored text.
pub fn text(e: &ast::Expr) -> String {
    let mut e = e.clone();
    escape_literals(&mut e);
    e.to_string()
}

/// Doubles the backslashes of the string literals in `e` (in place), so its
/// printed form parses back to the same strings.
pub fn escape_literals(e: &mut ast::Expr) {
    let _ = visit_expressions_mut(e, |x| {
        if let ast::Expr::Value(v) = x {
            if let ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) =
                &mut v.value
            {
                if s.contains('\\') {
                    *s = s.replace('\\', "\\\\");
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> ast::Expr {
        sqlparser::parser::Parser::new(&crate::dialect::MariaDb::default())
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .expect("parses")
    }

    #[test]
    fn backslashes_survive_a_round_trip() {
        for sql in [r"name <> '\\'", r"a LIKE 'x\%' ESCAPE '\\'", "b = 'it''s'"] {
            let e = parse(sql);
            let stored = text(&e);
            assert_eq!(parse(&stored), e, "{sql} stored as {stored}");
        }
        assert_eq!(text(&parse(r"name <> '\\'")), r"name <> '\\'");
    }
}
