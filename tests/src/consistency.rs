//! The end-of-run consistency check: every node must hold the same
//! databases, the same tables with the same definitions, and the same rows.
//!
//! After the final reads, once every node has caught up (all report the
//! same `wsrep_last_committed`, bounded in time, and each snapshot is taken
//! with `wsrep_sync_wait = 1`), each node is asked for
//!
//! - its user databases (`information_schema.schemata`) and tables
//!   (`information_schema.tables`, system schemas excluded),
//! - `SHOW CREATE TABLE` of every table (with the `AUTO_INCREMENT=n` table
//!   option removed: the next auto-increment value is per node by design),
//! - `CHECKSUM TABLE` of every table,
//!
//! and [`compare`] reports every difference as a `divergence` line naming
//! the table and which nodes hold which value. Any divergence makes the run
//! invalid. A node that cannot be snapshotted makes the check `unknown`
//! (said in `notes`). Differences seen while the nodes were not at one
//! position are checked again a little later: if the very same differences
//! persist ([`confirm_persistent`]) they are a divergence, otherwise they
//! were lag.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::checker::Validity;
use crate::workload::{ClientConfig, Session, Stage};

/// Schemas that are not user data.
pub const SYSTEM_SCHEMAS: &str = "'information_schema','mysql','performance_schema','sys'";

/// One table as one node holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// `CHECKSUM TABLE`'s value (`None`: NULL, the node says it has no such table).
    pub checksum: Option<u64>,
    /// `SHOW CREATE TABLE`, without `AUTO_INCREMENT=n`.
    pub create: String,
}

/// What one node holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// `wsrep_last_committed` before and after the snapshot.
    pub position_before: Option<u64>,
    pub position_after: Option<u64>,
    pub databases: BTreeSet<String>,
    /// `db.table` -> state.
    pub tables: BTreeMap<String, TableState>,
}

impl NodeSnapshot {
    /// The position, when it did not move during the snapshot.
    pub fn stable_position(&self) -> Option<u64> {
        match (self.position_before, self.position_after) {
            (Some(a), Some(b)) if a == b => Some(a),
            _ => None,
        }
    }
}

/// The outcome of the check (`summary.json`'s `consistency`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consistency {
    pub validity: Validity,
    /// One line per difference: `divergence: table jepsen.t ...`.
    pub divergences: Vec<String>,
    /// Why the check is unknown, and other remarks.
    pub notes: Vec<String>,
    /// Tables compared (present on every node that answered).
    pub tables_compared: usize,
    /// `wsrep_last_committed` of each node at its snapshot.
    pub positions: BTreeMap<String, Option<u64>>,
    /// Tables (`db.table`) whose checksums differ, for [`row_differences`].
    #[serde(default)]
    pub checksum_diverged: Vec<String>,
    /// Rows that differ between nodes in those tables (a few per table).
    #[serde(default)]
    pub details: Vec<String>,
}

fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// `SHOW CREATE TABLE` text without the ` AUTO_INCREMENT=<n>` table option.
pub fn normalize_create(s: &str) -> String {
    const OPT: &str = " AUTO_INCREMENT=";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(OPT) {
        let after = &rest[pos + OPT.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push_str(&rest[..pos + OPT.len()]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..pos]);
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `wsrep_last_committed` of the node at `addr`.
pub async fn position(addr: SocketAddr, cfg: ClientConfig) -> Result<u64, String> {
    let mut s = Session::new(addr, cfg, None);
    let r = position_on(&mut s).await;
    s.close().await;
    r
}

async fn position_on(s: &mut Session) -> Result<u64, String> {
    let rows = s
        .query::<(String, String)>(
            "SHOW GLOBAL STATUS LIKE 'wsrep_last_committed'",
            Stage::Body,
        )
        .await
        .map_err(|e| e.msg)?;
    rows.first()
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| "no wsrep_last_committed".to_owned())
}

/// Takes one node's snapshot (one connection, `wsrep_sync_wait = 1`).
pub async fn snapshot(addr: SocketAddr, cfg: ClientConfig) -> Result<NodeSnapshot, String> {
    let mut s = Session::new(addr, cfg, None);
    let r = snapshot_on(&mut s).await;
    s.close().await;
    r
}

async fn snapshot_on(s: &mut Session) -> Result<NodeSnapshot, String> {
    let err = |what: &str, e: crate::workload::OpError| format!("{what}: {}", e.msg);
    s.exec("SET SESSION wsrep_sync_wait = 1", Stage::Body)
        .await
        .map_err(|e| err("SET wsrep_sync_wait", e))?;
    let mut snap = NodeSnapshot {
        position_before: Some(position_on(s).await?),
        ..Default::default()
    };
    snap.databases = s
        .query::<String>(
            &format!(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ({SYSTEM_SCHEMAS})"
            ),
            Stage::Body,
        )
        .await
        .map_err(|e| err("listing databases", e))?
        .into_iter()
        .collect();
    let tables = s
        .query::<(String, String)>(
            &format!(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ({SYSTEM_SCHEMAS})"
            ),
            Stage::Body,
        )
        .await
        .map_err(|e| err("listing tables", e))?;
    for (db, t) in tables {
        let name = format!("{}.{}", quote_ident(&db), quote_ident(&t));
        let create = s
            .query::<(String, String)>(&format!("SHOW CREATE TABLE {name}"), Stage::Body)
            .await
            .map_err(|e| err(&format!("SHOW CREATE TABLE {name}"), e))?
            .into_iter()
            .next()
            .map(|(_, c)| normalize_create(&c))
            .unwrap_or_default();
        let checksum = s
            .query::<(String, Option<u64>)>(&format!("CHECKSUM TABLE {name}"), Stage::Body)
            .await
            .map_err(|e| err(&format!("CHECKSUM TABLE {name}"), e))?
            .into_iter()
            .next()
            .and_then(|(_, c)| c);
        snap.tables
            .insert(format!("{db}.{t}"), TableState { checksum, create });
    }
    snap.position_after = Some(position_on(s).await?);
    Ok(snap)
}

/// Called on the next round's result when the previous round found
/// differences but the nodes were not at one position (so they might have
/// been lag): the same differences again, rounds apart and with no client
/// writing, are a divergence after all. Nodes order internal events now and
/// then (e.g. purge reports), so positions alone can keep moving.
pub fn confirm_persistent(prev: &Consistency, cur: &mut Consistency) {
    if cur.validity == Validity::Unknown
        && !cur.divergences.is_empty()
        && cur.divergences == prev.divergences
        && !cur
            .notes
            .iter()
            .any(|n| n.contains("no consistency snapshot"))
    {
        cur.validity = Validity::Invalid;
        cur.notes.push(
            "the same differences persisted over consecutive rounds with no client running: divergence, not lag".into(),
        );
    }
}

/// The most rows [`table_rows`] reads from one table.
pub const MAX_ROWS: usize = 10_000;

/// Every row of `table` (`db.table`) on the node at `addr`, each rendered
/// as SQL literals, sorted (for showing which rows differ).
pub async fn table_rows(
    addr: SocketAddr,
    cfg: ClientConfig,
    table: String,
) -> Result<Vec<String>, String> {
    let mut s = Session::new(addr, cfg, None);
    let r = async {
        s.exec("SET SESSION wsrep_sync_wait = 1", Stage::Body)
            .await
            .map_err(|e| e.msg)?;
        let (db, t) = table.split_once('.').unwrap_or(("", &table));
        let rows = s
            .query::<mysql_async::Row>(
                &format!(
                    "SELECT * FROM {}.{} LIMIT {MAX_ROWS}",
                    quote_ident(db),
                    quote_ident(t)
                ),
                Stage::Body,
            )
            .await
            .map_err(|e| e.msg)?;
        let mut out: Vec<String> = rows
            .into_iter()
            .map(|r| {
                let vals: Vec<String> = r.unwrap().into_iter().map(|v| v.as_sql(true)).collect();
                format!("({})", vals.join(", "))
            })
            .collect();
        out.sort();
        Ok(out)
    }
    .await;
    s.close().await;
    r
}

/// Describes how the nodes' rows of one table differ: up to `max` rows
/// that not every node holds, each with the nodes that hold it.
pub fn row_differences(
    table: &str,
    rows: &BTreeMap<String, Result<Vec<String>, String>>,
    max: usize,
) -> Vec<String> {
    let ok: BTreeMap<&String, BTreeSet<&String>> = rows
        .iter()
        .filter_map(|(n, r)| r.as_ref().ok().map(|v| (n, v.iter().collect())))
        .collect();
    let mut out = Vec::new();
    for (n, r) in rows {
        if let Err(e) = r {
            out.push(format!("{table}: rows of {n} not read ({e})"));
        }
    }
    let all: BTreeSet<&String> = ok.values().flat_map(|v| v.iter().copied()).collect();
    let mut shown = 0;
    for row in all {
        let holders: Vec<&String> = ok
            .iter()
            .filter(|(_, v)| v.contains(row))
            .map(|(n, _)| *n)
            .collect();
        if holders.len() < ok.len() {
            if shown == max {
                out.push(format!("{table}: more rows differ"));
                break;
            }
            shown += 1;
            out.push(format!("{table}: row {row} only on {}", list(&holders)));
        }
    }
    out
}

/// Names of nodes, comma-separated.
fn list(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// Groups nodes by a value: `value -> nodes`.
fn groups<'a, T: Ord>(
    items: impl Iterator<Item = (&'a String, T)>,
) -> BTreeMap<T, Vec<&'a String>> {
    let mut g: BTreeMap<T, Vec<&String>> = BTreeMap::new();
    for (n, v) in items {
        g.entry(v).or_default().push(n);
    }
    g
}

/// Compares the nodes' snapshots (`Err`: the node could not be asked).
pub fn compare(snaps: &BTreeMap<String, Result<NodeSnapshot, String>>) -> Consistency {
    let mut c = Consistency {
        validity: Validity::Valid,
        divergences: Vec::new(),
        notes: Vec::new(),
        tables_compared: 0,
        positions: BTreeMap::new(),
        checksum_diverged: Vec::new(),
        details: Vec::new(),
    };
    let mut ok: BTreeMap<&String, &NodeSnapshot> = BTreeMap::new();
    for (n, s) in snaps {
        match s {
            Ok(s) => {
                c.positions.insert(n.clone(), s.position_after);
                ok.insert(n, s);
            }
            Err(e) => {
                c.positions.insert(n.clone(), None);
                c.notes
                    .push(format!("{n}: no consistency snapshot ({e}); not compared"));
            }
        }
    }
    if ok.len() < snaps.len() {
        c.validity = Validity::Unknown;
    }
    if ok.len() < 2 {
        if snaps.len() >= 2 {
            c.notes
                .push("fewer than two nodes answered: nothing to compare".into());
        }
        return c;
    }
    let nodes: Vec<&String> = ok.keys().copied().collect();
    // Databases.
    let all_dbs: BTreeSet<&String> = ok.values().flat_map(|s| s.databases.iter()).collect();
    for db in all_dbs {
        let (has, lacks): (Vec<&String>, Vec<&String>) =
            nodes.iter().partition(|n| ok[*n].databases.contains(db));
        if !lacks.is_empty() {
            c.divergences.push(format!(
                "divergence: database {db} exists on {} but not on {}",
                list(&has),
                list(&lacks)
            ));
        }
    }
    // Tables.
    let all_tables: BTreeSet<&String> = ok.values().flat_map(|s| s.tables.keys()).collect();
    for t in all_tables {
        let (has, lacks): (Vec<&String>, Vec<&String>) =
            nodes.iter().partition(|n| ok[*n].tables.contains_key(t));
        if !lacks.is_empty() {
            c.divergences.push(format!(
                "divergence: table {t} exists on {} but not on {}",
                list(&has),
                list(&lacks)
            ));
            continue;
        }
        c.tables_compared += 1;
        let defs = groups(nodes.iter().map(|n| (*n, &ok[*n].tables[t].create)));
        if defs.len() > 1 {
            let parts: Vec<String> = defs
                .iter()
                .map(|(def, ns)| format!("{}: {}", list(ns), def.replace('\n', " ")))
                .collect();
            c.divergences.push(format!(
                "divergence: table {t} has different definitions: {}",
                parts.join(" | ")
            ));
        }
        let sums = groups(nodes.iter().map(|n| (*n, ok[*n].tables[t].checksum)));
        if sums.len() > 1 {
            let parts: Vec<String> = sums
                .iter()
                .map(|(sum, ns)| {
                    format!(
                        "{} = {}",
                        list(ns),
                        sum.map_or("NULL".to_owned(), |s| s.to_string())
                    )
                })
                .collect();
            c.divergences.push(format!(
                "divergence: table {t} checksums differ: {}",
                parts.join("; ")
            ));
            c.checksum_diverged.push(t.clone());
        }
    }
    let positions = groups(nodes.iter().map(|n| (*n, ok[*n].stable_position())));
    let same_position = positions.len() == 1 && positions.keys().all(Option::is_some);
    if !same_position {
        let parts: Vec<String> = positions
            .iter()
            .map(|(p, ns)| {
                format!(
                    "{} at {}",
                    list(ns),
                    p.map_or("a moving position".to_owned(), |p| p.to_string())
                )
            })
            .collect();
        c.notes.push(format!(
            "nodes were not at one position during their snapshots ({}): differences may be lag, not divergence",
            parts.join("; ")
        ));
    }
    if !c.divergences.is_empty() {
        c.validity = if same_position {
            Validity::Invalid
        } else {
            c.validity.and(Validity::Unknown)
        };
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(pos: u64, tables: &[(&str, Option<u64>, &str)]) -> NodeSnapshot {
        NodeSnapshot {
            position_before: Some(pos),
            position_after: Some(pos),
            databases: ["jepsen".to_owned()].into_iter().collect(),
            tables: tables
                .iter()
                .map(|(t, c, d)| {
                    (
                        t.to_string(),
                        TableState {
                            checksum: *c,
                            create: d.to_string(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn of(
        v: Vec<(&str, Result<NodeSnapshot, String>)>,
    ) -> BTreeMap<String, Result<NodeSnapshot, String>> {
        v.into_iter().map(|(n, s)| (n.to_owned(), s)).collect()
    }

    #[test]
    fn identical_nodes_are_consistent() {
        let s = snap(7, &[("jepsen.a", Some(1), "CREATE a")]);
        let c = compare(&of(vec![
            ("n1", Ok(s.clone())),
            ("n2", Ok(s.clone())),
            ("n3", Ok(s)),
        ]));
        assert_eq!(c.validity, Validity::Valid, "{c:?}");
        assert_eq!(c.tables_compared, 1);
        assert!(c.divergences.is_empty());
    }

    #[test]
    fn differing_checksums_definitions_and_tables_are_divergences() {
        let a = snap(
            7,
            &[
                ("jepsen.a", Some(1), "CREATE a"),
                ("jepsen.b", Some(2), "CREATE b"),
            ],
        );
        let b = snap(
            7,
            &[
                ("jepsen.a", Some(9), "CREATE a"),
                ("jepsen.b", Some(2), "CREATE b2"),
            ],
        );
        let mut c3 = a.clone();
        c3.tables.remove("jepsen.b");
        c3.databases.insert("other".into());
        let c = compare(&of(vec![
            ("n1", Ok(a.clone())),
            ("n2", Ok(b)),
            ("n3", Ok(c3)),
        ]));
        assert_eq!(c.validity, Validity::Invalid);
        let all = c.divergences.join("\n");
        assert!(
            all.contains("divergence: table jepsen.a checksums differ: n1,n3 = 1; n2 = 9"),
            "{all}"
        );
        assert!(
            all.contains("divergence: table jepsen.b exists on n1,n2 but not on n3"),
            "{all}"
        );
        assert!(
            all.contains("divergence: database other exists on n3 but not on n1,n2"),
            "{all}"
        );
        let c = compare(&of(vec![
            ("n1", Ok(a.clone())),
            (
                "n2",
                Ok(snap(
                    7,
                    &[
                        ("jepsen.a", Some(1), "CREATE a"),
                        ("jepsen.b", Some(2), "CREATE b2"),
                    ],
                )),
            ),
        ]));
        assert!(
            c.divergences[0].contains("jepsen.b has different definitions"),
            "{c:?}"
        );
    }

    #[test]
    fn unreachable_nodes_and_moving_positions_are_unknown() {
        let a = snap(7, &[("jepsen.a", Some(1), "CREATE a")]);
        let c = compare(&of(vec![("n1", Ok(a.clone())), ("n2", Err("down".into()))]));
        assert_eq!(c.validity, Validity::Unknown);
        let mut behind = snap(5, &[("jepsen.a", Some(3), "CREATE a")]);
        behind.position_after = Some(6);
        let c = compare(&of(vec![("n1", Ok(a)), ("n2", Ok(behind))]));
        assert_eq!(c.validity, Validity::Unknown, "{c:?}");
        assert_eq!(c.divergences.len(), 1);
    }

    #[test]
    fn differences_that_persist_across_rounds_are_divergences() {
        let a = snap(7, &[("jepsen.a", Some(1), "CREATE a")]);
        let mut moving = snap(7, &[("jepsen.a", Some(2), "CREATE a")]);
        moving.position_after = Some(8);
        let round = |a: &NodeSnapshot, b: &NodeSnapshot| {
            compare(&of(vec![("n1", Ok(a.clone())), ("n2", Ok(b.clone()))]))
        };
        let first = round(&a, &moving);
        assert_eq!(first.validity, Validity::Unknown);
        let mut second = round(&a, &moving);
        confirm_persistent(&first, &mut second);
        assert_eq!(second.validity, Validity::Invalid, "{second:?}");
        // Lag that resolved: nothing to confirm.
        let mut third = round(&a, &a);
        confirm_persistent(&first, &mut third);
        assert_eq!(third.validity, Validity::Valid);
    }

    #[test]
    fn row_differences_name_the_holders() {
        let rows: BTreeMap<String, Result<Vec<String>, String>> = [
            ("n1", Ok(vec!["(1, 'a')".to_owned(), "(2, 'x')".to_owned()])),
            ("n2", Ok(vec!["(1, 'a')".to_owned(), "(2, 'x')".to_owned()])),
            ("n3", Ok(vec!["(1, 'a')".to_owned(), "(2, 'y')".to_owned()])),
        ]
        .into_iter()
        .map(|(n, r)| (n.to_owned(), r))
        .collect();
        let d = row_differences("jepsen.t", &rows, 5);
        assert_eq!(
            d,
            vec![
                "jepsen.t: row (2, 'x') only on n1,n2",
                "jepsen.t: row (2, 'y') only on n3"
            ]
        );
    }

    #[test]
    fn auto_increment_option_is_ignored() {
        assert_eq!(
            normalize_create(
                "CREATE TABLE `t` (\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=utf8mb4"
            ),
            "CREATE TABLE `t` (\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            normalize_create("  `id` INT NOT NULL AUTO_INCREMENT,"),
            "  `id` INT NOT NULL AUTO_INCREMENT,"
        );
    }
}
