//! The ratchet: per corpus file, the statements known to differ today
//! (`expected/<stem>.fail`), and the short reviewed list of permanent,
//! documented deviations (`ALLOWED.md`).
//!
//! A `.fail` file lists one statement per line: its id first, then for the
//! reader its line, what differs and an excerpt. Only the id is read back.
//! The check fails on a difference that is not listed (a regression or a
//! new statement that does not pass) and on a listed statement that now
//! matches or no longer exists (remove its line, so the list only
//! shrinks). `--update` rewrites the lists from a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::corpus::Statement;

/// The ids listed in one `.fail` file (empty when it does not exist).
pub fn read_fail(path: &Path) -> anyhow::Result<BTreeSet<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut ids = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = line.split_whitespace().next().unwrap_or_default();
        if !ids.insert(id.to_string()) {
            bail!("{}:{}: {id} listed twice", path.display(), i + 1);
        }
    }
    Ok(ids)
}

pub fn fail_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.fail"))
}

/// One differing statement for a `.fail` file.
pub struct FailEntry<'a> {
    pub stmt: &'a Statement,
    /// What differs, e.g. `error 1235` or `rows,types`.
    pub what: String,
}

/// Writes `<dir>/<stem>.fail` listing `entries` (removes the file when
/// there are none).
pub fn write_fail(dir: &Path, stem: &str, entries: &[FailEntry<'_>]) -> anyhow::Result<()> {
    let path = fail_path(dir, stem);
    if entries.is_empty() {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let mut s = format!(
        "# {stem}.sql: statements whose answer on trireme differs from MariaDB today.\n\
         # The differential test fails when an unlisted statement differs, and when a\n\
         # listed one matches again (then delete its line). Regenerate with --update.\n\
         # id          line  differs              statement\n"
    );
    for e in entries {
        s.push_str(&format!(
            "{:<13} {:<5} {:<20} {}\n",
            e.stmt.id,
            e.stmt.line,
            e.what,
            e.stmt.excerpt(90)
        ));
    }
    std::fs::write(&path, s).with_context(|| format!("writing {}", path.display()))
}

/// Where an allowed deviation applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Single node and cluster.
    All,
    /// Only when the statements are spread over a cluster.
    Cluster,
}

/// The allow-list: key -> scope, read from the table in `ALLOWED.md`
/// (rows `| \`key\` | all|cluster | ... |`).
pub fn read_allowed(path: &Path) -> anyhow::Result<BTreeMap<String, Scope>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().split('|').map(str::trim).collect();
        // "| `key` | scope | ..." splits into ["", "`key`", "scope", ...].
        if cells.len() < 4 || !cells[0].is_empty() {
            continue;
        }
        let Some(key) = cells[1].strip_prefix('`').and_then(|k| k.strip_suffix('`')) else {
            continue;
        };
        let scope = match cells[2] {
            "all" => Scope::All,
            "cluster" => Scope::Cluster,
            other => bail!(
                "{}: key `{key}` has scope `{other}` (want all or cluster)",
                path.display()
            ),
        };
        out.insert(key.to_string(), scope);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("sqldiff-expect-{}", std::process::id()));
        let stmts = super::super::corpus::parse("SELECT 1;\nSELECT 2;\n").unwrap();
        let entries = vec![FailEntry {
            stmt: &stmts[1],
            what: "rows".into(),
        }];
        write_fail(&dir, "x", &entries).unwrap();
        let ids = read_fail(&fail_path(&dir, "x")).unwrap();
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec![stmts[1].id.clone()]
        );
        write_fail(&dir, "x", &[]).unwrap();
        assert!(read_fail(&fail_path(&dir, "x")).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn allowed_table_is_parsed() {
        let dir = std::env::temp_dir().join(format!("sqldiff-allowed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ALLOWED.md");
        std::fs::write(
            &p,
            "# x\n| key | scope | why |\n|---|---|---|\n| `version` | all | differs |\n| `auto_inc` | cluster | galera |\n",
        )
        .unwrap();
        let a = read_allowed(&p).unwrap();
        assert_eq!(a.get("version"), Some(&Scope::All));
        assert_eq!(a.get("auto_inc"), Some(&Scope::Cluster));
        assert_eq!(a.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
