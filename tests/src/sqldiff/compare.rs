//! Comparing two outcomes of one statement.
//!
//! What is compared, and why it is robust:
//! - **errors**: when either side fails, both must fail with the same MySQL
//!   error code. Messages are not compared (wording, quoting and the
//!   values they quote legitimately differ).
//! - **result sets**: the number of result sets and, for each, the column
//!   count and names (drivers hand rows out as name -> value maps), the
//!   column type byte of the result-set metadata (`MYSQL_TYPE_*`: drivers
//!   convert text to native values by it; JDBC's getObject gives an
//!   Integer for LONG and a Long for LONGLONG), the UNSIGNED flag of
//!   numeric types (changes the range a driver decodes; MariaDB's flag on
//!   TIMESTAMP and YEAR is ignored), and whether a string-like column carries the
//!   binary character set (63: the driver returns bytes instead of text).
//!   The collation id of text columns, the BINARY flag (MariaDB sets it on
//!   numbers too), display lengths and decimals are not compared: they
//!   are noise for clients, and the collation itself is tested through
//!   query results.
//! - **rows**: every value as the text protocol sends it, NULL distinct
//!   from the string `NULL`. Compared in order when the statement has a
//!   top-level ORDER BY (or `@ordered`), else as sorted multisets.
//!   The values of columns named `Cardinality` or `TABLE_ROWS` (SHOW
//!   INDEX, information_schema.STATISTICS and TABLES) are not compared:
//!   they are InnoDB's estimates, refreshed by a background thread, so
//!   MariaDB answers differently from run to run.
//! - **OK packets**: affected rows and the warning count. Warnings of a
//!   SELECT are not compared: the client library does not expose the
//!   count from the end-of-rows packet (statements that matter for
//!   warnings are followed by `SHOW WARNINGS` in the corpus).

use std::fmt;

use super::exec::{Cell, Outcome, ResultSet};

/// One way two outcomes differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Diff {
    /// trireme failed where MariaDB succeeded.
    Error,
    /// trireme succeeded where MariaDB failed.
    NoError,
    /// Both failed, with different codes.
    Code,
    /// A client-side failure (timeout, lost connection, protocol error).
    Client,
    /// One answered with rows, the other with an OK packet, or a
    /// different number of result sets.
    Shape,
    /// Column count or names.
    Columns,
    /// Column type byte, UNSIGNED, binary-ness.
    Types,
    /// Row values (or count).
    Rows,
    /// The same rows in another order (ordered comparison only): a sort
    /// that differs, or an ORDER BY in the corpus that leaves ties.
    Order,
    /// Affected rows of an OK packet.
    Affected,
    /// Warning count of an OK packet.
    Warnings,
    /// Cluster mode: the session statement gave different outcomes on
    /// different nodes.
    Nodes,
}

impl Diff {
    pub fn name(self) -> &'static str {
        match self {
            Diff::Error => "error",
            Diff::NoError => "no-error",
            Diff::Code => "code",
            Diff::Client => "client",
            Diff::Shape => "shape",
            Diff::Columns => "columns",
            Diff::Types => "types",
            Diff::Rows => "rows",
            Diff::Order => "order",
            Diff::Affected => "affected",
            Diff::Warnings => "warnings",
            Diff::Nodes => "nodes",
        }
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How `target` differs from `reference` (empty: they match).
pub fn compare(reference: &Outcome, target: &Outcome, ordered: bool) -> Vec<Diff> {
    use Outcome::*;
    match (reference, target) {
        (_, Client(_)) | (Client(_), _) => vec![Diff::Client],
        (Error { code: a, .. }, Error { code: b, .. }) => {
            if a == b {
                vec![]
            } else {
                vec![Diff::Code]
            }
        }
        (Error { .. }, _) => vec![Diff::NoError],
        (_, Error { .. }) => vec![Diff::Error],
        (
            Ok {
                affected: a1,
                warnings: w1,
            },
            Ok {
                affected: a2,
                warnings: w2,
            },
        ) => {
            let mut d = vec![];
            if a1 != a2 {
                d.push(Diff::Affected);
            }
            if w1 != w2 {
                d.push(Diff::Warnings);
            }
            d
        }
        (Rows(a), Rows(b)) => {
            if a.len() != b.len() {
                return vec![Diff::Shape];
            }
            let mut d: Vec<Diff> = Vec::new();
            for (x, y) in a.iter().zip(b) {
                for k in compare_set(x, y, ordered) {
                    if !d.contains(&k) {
                        d.push(k);
                    }
                }
            }
            d.sort();
            d
        }
        _ => vec![Diff::Shape],
    }
}

fn compare_set(a: &ResultSet, b: &ResultSet, ordered: bool) -> Vec<Diff> {
    let mut d = Vec::new();
    let names = |s: &ResultSet| s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if names(a) != names(b) {
        d.push(Diff::Columns);
    }
    let types = |s: &ResultSet| {
        s.columns
            .iter()
            .map(|c| (c.ty, c.unsigned, c.binary))
            .collect::<Vec<_>>()
    };
    if a.columns.len() == b.columns.len() && types(a) != types(b) {
        d.push(Diff::Types);
    }
    let (a_rows, b_rows) = (without_estimates(a), without_estimates(b));
    if a_rows != b_rows {
        let mut x = a_rows;
        let mut y = b_rows;
        x.sort();
        y.sort();
        if x != y {
            d.push(Diff::Rows);
        } else if ordered {
            d.push(Diff::Order);
        }
    }
    d
}

/// The rows of `s` with the values of estimate columns blanked.
fn without_estimates(s: &ResultSet) -> Vec<Vec<Cell>> {
    let estimate: Vec<bool> = s
        .columns
        .iter()
        .map(|c| {
            c.name.eq_ignore_ascii_case("Cardinality") || c.name.eq_ignore_ascii_case("TABLE_ROWS")
        })
        .collect();
    if !estimate.contains(&true) {
        return s.rows.clone();
    }
    s.rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&estimate)
                .map(|(v, e)| if *e { None } else { v.clone() })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::exec::Col;
    use super::*;

    fn set(rows: &[&[Option<&str>]]) -> Outcome {
        Outcome::Rows(vec![ResultSet {
            columns: vec![Col {
                name: "a".into(),
                ty: 3,
                unsigned: false,
                binary: false,
            }],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.map(String::from)).collect())
                .collect(),
        }])
    }

    #[test]
    fn errors_compare_by_code_only() {
        let e = |code, m: &str| Outcome::Error {
            code,
            message: m.into(),
        };
        assert!(compare(&e(1062, "dup 'x'"), &e(1062, "Duplicate entry"), false).is_empty());
        assert_eq!(compare(&e(1062, ""), &e(1064, ""), false), vec![Diff::Code]);
        assert_eq!(compare(&set(&[]), &e(1064, ""), false), vec![Diff::Error]);
        assert_eq!(compare(&e(1064, ""), &set(&[]), false), vec![Diff::NoError]);
    }

    #[test]
    fn estimates_are_not_compared() {
        let named = |name: &str, v: &str| {
            Outcome::Rows(vec![ResultSet {
                columns: vec![Col {
                    name: name.into(),
                    ty: 8,
                    unsigned: false,
                    binary: false,
                }],
                rows: vec![vec![Some(v.into())]],
            }])
        };
        assert!(compare(
            &named("Cardinality", "3"),
            &named("Cardinality", "4"),
            false
        )
        .is_empty());
        assert!(compare(&named("TABLE_ROWS", "0"), &named("TABLE_ROWS", "2"), false).is_empty());
        assert_eq!(
            compare(&named("n", "3"), &named("n", "4"), false),
            vec![Diff::Rows]
        );
    }

    #[test]
    fn order_matters_only_when_ordered() {
        let a = set(&[&[Some("1")], &[Some("2")]]);
        let b = set(&[&[Some("2")], &[Some("1")]]);
        assert!(compare(&a, &b, false).is_empty());
        assert_eq!(compare(&a, &b, true), vec![Diff::Order]);
        // NULL is not the string NULL.
        assert_eq!(
            compare(&set(&[&[None]]), &set(&[&[Some("NULL")]]), false),
            vec![Diff::Rows]
        );
    }

    #[test]
    fn ok_packets_compare_affected_and_warnings() {
        let ok = |affected, warnings| Outcome::Ok { affected, warnings };
        assert!(compare(&ok(2, 0), &ok(2, 0), false).is_empty());
        assert_eq!(
            compare(&ok(2, 1), &ok(1, 0), false),
            vec![Diff::Affected, Diff::Warnings]
        );
        assert_eq!(compare(&ok(0, 0), &set(&[]), false), vec![Diff::Shape]);
    }
}
