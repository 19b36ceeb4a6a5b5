//! CHECK constraints (column and table level), evaluated on every row an
//! INSERT or UPDATE writes: a constraint that evaluates to false fails the
//! statement with 4025; NULL passes, as in MariaDB. A `json_valid(col)`
//! check (what a JSON column carries) is decided with a JSON parser.

use sqlparser::parser::Parser;
use trireme_storage::value::Value;
use trireme_storage::Table;

use crate::bind::{BindEnv, Scope};
use crate::error::{SqlError, SqlResult};
use crate::Exec;

impl Exec<'_> {
    /// A row's CHECK constraints, then the CHECK OPTION of a view it is
    /// written through.
    pub(crate) fn check_constraints(&mut self, table: &Table, row: &[Value]) -> SqlResult<()> {
        self.table_checks(table, row)?;
        self.check_view_options(table, row)
    }

    fn table_checks(&mut self, table: &Table, row: &[Value]) -> SqlResult<()> {
        let def = &table.def;
        let column_checks = def
            .columns
            .iter()
            .filter_map(|c| c.check.as_ref().map(|e| (c.name.as_str(), e.as_str())));
        let checks: Vec<(String, String)> = column_checks
            .map(|(n, e)| (n.to_string(), e.to_string()))
            .chain(def.checks.iter().cloned())
            .collect();
        if checks.is_empty() {
            return Ok(());
        }
        let mut scope: Option<Scope> = None;
        for (name, text) in checks {
            let failed =
                if let Some(col) = json_valid_target(&text).and_then(|c| def.column_index(&c)) {
                    match &row[col] {
                        Value::Null => false,
                        v => serde_json::from_str::<serde_json::Value>(&v.to_text_lossy()).is_err(),
                    }
                } else {
                    let e = Parser::new(&crate::dialect::MariaDb::default())
                        .try_with_sql(&text)
                        .and_then(|mut p| p.parse_expr())
                        .map_err(|e| SqlError::syntax(e.to_string()))?;
                    let scope = scope.get_or_insert_with(|| crate::dml::table_scope(table));
                    let bound = self.bind(&e, &mut BindEnv::new(scope, "check constraint"))?;
                    bound.eval(row)?.truth() == Some(false)
                };
            if failed {
                return Err(SqlError::new(
                    4025,
                    "23000",
                    format!("CONSTRAINT `{name}` failed for `{}`.`{}`", def.db, def.name),
                ));
            }
        }
        Ok(())
    }
}

/// The column of a `json_valid(col)` check, however it is quoted or cased.
fn json_valid_target(text: &str) -> Option<String> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = t.to_ascii_lowercase();
    let inner = lower.strip_prefix("json_valid(")?.strip_suffix(')')?;
    let start = t.len() - inner.len() - 1;
    let col = &t[start..t.len() - 1];
    Some(col.trim_matches('`').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_valid_checks_are_recognised() {
        assert_eq!(
            json_valid_target("json_valid(`meta`)").as_deref(),
            Some("meta")
        );
        assert_eq!(
            json_valid_target("JSON_VALID( Meta )").as_deref(),
            Some("Meta")
        );
        assert_eq!(json_valid_target("views >= 0"), None);
    }
}
