//! Driving a corpus through the reference and the target(s), and judging
//! the outcome against the expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mysql_async::prelude::*;
use mysql_async::Conn;

use super::compare::{compare, Diff};
use super::corpus::{self, classify, CorpusFile, Kind, Statement};
use super::exec::{self, Outcome};
use super::expect::{self, FailEntry, Scope};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The reference server (MariaDB), `mysql://user:pw@host:port`.
    pub reference: String,
    /// The trireme endpoint(s); more than one is cluster mode.
    pub targets: Vec<String>,
    /// Directory of `*.sql` files.
    pub corpus: PathBuf,
    /// Directory of `<stem>.fail` files.
    pub expected: PathBuf,
    /// The allow-list (`ALLOWED.md`).
    pub allowed: PathBuf,
    /// Only these corpus files (by stem); empty: all.
    pub only: Vec<String>,
    /// `wsrep_sync_wait` of every target session in cluster mode.
    pub sync_wait: i64,
    /// Cluster mode: before a SHOW / DESCRIBE on a node, wait until it has
    /// applied everything the cluster committed so far (trireme does not
    /// yet honour `wsrep_sync_wait` bit 8, which covers SHOW in Galera).
    pub show_barrier: bool,
    /// Per statement.
    pub timeout: Duration,
    /// Keep the `sqldiff_*` databases after each file.
    pub keep: bool,
    /// Print each statement as it runs.
    pub verbose: bool,
}

impl Config {
    pub fn cluster(&self) -> bool {
        self.targets.len() > 1
    }
    pub fn mode(&self) -> String {
        if self.cluster() {
            format!("cluster of {}", self.targets.len())
        } else {
            "single node".into()
        }
    }
}

/// One statement's result.
#[derive(Clone, Debug)]
pub struct StmtResult {
    /// Index into the file's statements.
    pub index: usize,
    /// The target node it ran on (0-based; cluster mode).
    pub node: usize,
    pub diffs: Vec<Diff>,
    pub reference: Outcome,
    pub target: Outcome,
}

#[derive(Clone, Debug)]
pub struct FileResult {
    pub file: CorpusFile,
    pub results: Vec<StmtResult>,
    pub elapsed: Duration,
}

/// How one statement is judged against the expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Match,
    /// Differs, and is listed in the `.fail` file.
    Listed,
    /// Differs, with a valid `@allow` key.
    Allowed,
    /// Differs and is not listed: fails the check.
    Unexpected,
    /// Listed but matches: fails the check (remove it from the list).
    Stale,
}

#[derive(Clone, Debug, Default)]
pub struct FileTally {
    pub stem: String,
    pub statements: usize,
    pub matching: usize,
    pub listed: usize,
    pub allowed: usize,
    pub unexpected: usize,
    pub stale: usize,
}

impl FileTally {
    pub fn pass_rate(&self) -> f64 {
        if self.statements == 0 {
            100.0
        } else {
            100.0 * self.matching as f64 / self.statements as f64
        }
    }
}

/// The judgement of a whole run.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    pub tallies: Vec<FileTally>,
    /// Why the check fails (empty: it passes).
    pub problems: Vec<String>,
}

/// A run of the corpus.
pub struct Report {
    pub mode: String,
    pub cluster: bool,
    pub files: Vec<FileResult>,
    pub elapsed: Duration,
}

/// A session on one server, reconnected after a transport failure.
struct Session {
    url: String,
    db: String,
    /// Statements run after every (re)connection.
    init: Vec<String>,
    conn: Option<Conn>,
    timeout: Duration,
}

impl Session {
    async fn open(url: &str, db: &str, timeout: Duration) -> anyhow::Result<Session> {
        let mut s = Session {
            url: url.to_string(),
            db: db.to_string(),
            init: Vec::new(),
            conn: None,
            timeout,
        };
        s.connect().await?;
        Ok(s)
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        if let Some(c) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
        }
        let opts = exec::opts(&self.url, None)?;
        let mut c = tokio::time::timeout(self.timeout, Conn::new(opts))
            .await
            .map_err(|_| anyhow::anyhow!("connecting to {}: timeout", self.url))?
            .with_context(|| format!("connecting to {}", self.url))?;
        for s in &self.init {
            c.query_drop(s)
                .await
                .with_context(|| format!("{}: {s}", self.url))?;
        }
        // The database may not exist (yet, or any more): not an error here.
        let _ = c.query_drop(format!("USE `{}`", self.db)).await;
        self.conn = Some(c);
        Ok(())
    }

    /// Runs a statement; reconnects first if the last one broke the
    /// connection.
    async fn run(&mut self, sql: &str) -> Outcome {
        if self.conn.is_none() {
            if let Err(e) = self.connect().await {
                return Outcome::Client(format!("reconnect: {e:#}"));
            }
        }
        let conn = self.conn.as_mut().expect("connected");
        let o = exec::run(conn, sql, self.timeout).await;
        if matches!(o, Outcome::Client(_)) {
            // The connection's state is unknown: start a new one next time.
            if let Some(c) = self.conn.take() {
                let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
            }
        }
        o
    }

    /// Runs a set-up statement that must succeed.
    async fn must(&mut self, sql: &str) -> anyhow::Result<()> {
        match self.run(sql).await {
            Outcome::Ok { .. } | Outcome::Rows(_) => Ok(()),
            other => bail!("{}: `{sql}`: {}", self.url, other.render(3)),
        }
    }

    async fn close(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
        }
    }
}

/// Which corpus files a run covers.
pub fn select_files(cfg: &Config) -> anyhow::Result<Vec<CorpusFile>> {
    let mut files = corpus::load_dir(&cfg.corpus)?;
    if !cfg.only.is_empty() {
        for o in &cfg.only {
            if !files.iter().any(|f| &f.stem == o) {
                bail!("no corpus file {o}.sql in {}", cfg.corpus.display());
            }
        }
        files.retain(|f| cfg.only.contains(&f.stem));
    }
    Ok(files)
}

/// Runs every selected corpus file, one after the other.
pub async fn run(cfg: &Config) -> anyhow::Result<Report> {
    if cfg.targets.is_empty() {
        bail!("no target endpoint");
    }
    let files = select_files(cfg)?;
    let allowed = expect::read_allowed(&cfg.allowed)?;
    for f in &files {
        for s in &f.statements {
            if let Some(k) = &s.directives.allow {
                if !allowed.contains_key(k) {
                    bail!(
                        "{}.sql line {}: @allow: {k} is not in {}",
                        f.stem,
                        s.line,
                        cfg.allowed.display()
                    );
                }
            }
        }
    }
    let t0 = Instant::now();
    let mut out = Vec::new();
    for f in files {
        let r = run_file(cfg, f).await?;
        out.push(r);
    }
    Ok(Report {
        mode: cfg.mode(),
        cluster: cfg.cluster(),
        files: out,
        elapsed: t0.elapsed(),
    })
}

async fn run_file(cfg: &Config, file: CorpusFile) -> anyhow::Result<FileResult> {
    let t0 = Instant::now();
    let db = file.database();
    let n = cfg.targets.len();
    let mut reference = Session::open(&cfg.reference, &db, cfg.timeout).await?;
    reference
        .must(&format!("DROP DATABASE IF EXISTS `{db}`"))
        .await?;
    reference.must(&format!("CREATE DATABASE `{db}`")).await?;
    reference.must(&format!("USE `{db}`")).await?;

    let mut targets = Vec::new();
    for url in &cfg.targets {
        targets.push(Session::open(url, &db, cfg.timeout).await?);
    }
    targets[0]
        .must(&format!("DROP DATABASE IF EXISTS `{db}`"))
        .await?;
    targets[0].must(&format!("CREATE DATABASE `{db}`")).await?;
    if cfg.cluster() {
        // Galera's auto_increment control: each node hands out values of
        // its own residue class. INSERTs all go to the first node, and the
        // reference session uses that node's increment and offset, so the
        // generated ids are the same.
        let (inc, off): (u64, u64) = targets[0]
            .conn
            .as_mut()
            .context("connected")?
            .query_first("SELECT @@auto_increment_increment, @@auto_increment_offset")
            .await?
            .context("auto_increment settings")?;
        let set =
            format!("SET SESSION auto_increment_increment = {inc}, auto_increment_offset = {off}");
        reference.init.push(set.clone());
        reference.must(&set).await?;
        for t in targets.iter_mut() {
            let sw = format!("SET SESSION wsrep_sync_wait = {}", cfg.sync_wait);
            t.init.push(sw.clone());
            t.must(&sw).await?;
        }
    }
    for t in targets.iter_mut() {
        // The CREATE DATABASE reaches the other nodes through the cluster:
        // wait for it, bounded.
        let mut last = None;
        for _ in 0..100 {
            match t.run(&format!("USE `{db}`")).await {
                Outcome::Ok { .. } => {
                    last = None;
                    break;
                }
                other => last = Some(other),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(o) = last {
            bail!("{}: USE {db}: {}", t.url, o.render(1));
        }
    }

    // Cluster mode: one side connection per node, for the SHOW barrier
    // (never the test sessions: a status query would reset their warnings).
    let mut probes: Vec<Option<Conn>> = Vec::new();
    if cfg.cluster() && cfg.show_barrier {
        for url in &cfg.targets {
            probes.push(Conn::new(exec::opts(url, None)?).await.ok());
        }
    }
    // The highest wsrep_last_committed seen after a write.
    let mut high: u64 = 0;
    let mut results = Vec::new();
    let mut pinned: Option<usize> = None;
    let mut prev = 0usize;
    let mut rr = 0usize;
    // Temporary tables live in the first node's session: statements
    // naming one go there.
    let mut temporary: BTreeSet<String> = BTreeSet::new();
    for (index, stmt) in file.statements.iter().enumerate() {
        let mut kind = if stmt.directives.same_node {
            Kind::SameNode
        } else {
            classify(&stmt.sql)
        };
        if let Some(t) = corpus::temporary_table(&stmt.sql) {
            temporary.insert(t);
        }
        if kind == Kind::Other
            && corpus::top_words(&stmt.sql)
                .iter()
                .any(|(_, w)| temporary.contains(w))
        {
            kind = Kind::First;
        }
        let node = match (pinned, kind) {
            _ if n == 1 => 0,
            (Some(p), _) => p,
            (None, Kind::SameNode) => prev,
            // Transactions, INSERTs, temporary tables on the first node.
            (None, Kind::Begin | Kind::First) => 0,
            (None, _) => {
                rr += 1;
                rr % n
            }
        };
        if cfg.verbose {
            eprintln!(
                "[{}:{} n{}] {}",
                file.stem,
                stmt.line,
                node + 1,
                stmt.excerpt(100)
            );
        }
        if !probes.is_empty() && corpus::is_show(&stmt.sql) {
            if let Some(p) = probes[node].as_mut() {
                wait_applied(p, high, cfg.timeout).await;
            }
        }
        let ref_out = reference.run(&stmt.sql).await;
        let tgt_out = targets[node].run(&stmt.sql).await;
        if !probes.is_empty() && !corpus::is_read(&stmt.sql) {
            if let Some(p) = probes[node].as_mut() {
                high = high.max(last_committed(p).await.unwrap_or(0));
            }
        }
        let mut diffs = compare(&ref_out, &tgt_out, stmt.ordered());
        if kind == Kind::Session && pinned.is_none() {
            for (i, t) in targets.iter_mut().enumerate() {
                if i != node {
                    let o = t.run(&stmt.sql).await;
                    if !compare(&tgt_out, &o, stmt.ordered()).is_empty()
                        && !diffs.contains(&Diff::Nodes)
                    {
                        diffs.push(Diff::Nodes);
                    }
                }
            }
        }
        match kind {
            Kind::Begin => pinned = Some(node),
            Kind::End => pinned = None,
            _ => {}
        }
        prev = node;
        results.push(StmtResult {
            index,
            node,
            diffs,
            reference: ref_out,
            target: tgt_out,
        });
    }

    for p in probes.into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), p.disconnect()).await;
    }
    if !cfg.keep {
        let drop = format!("DROP DATABASE IF EXISTS `{db}`");
        let _ = reference.run(&drop).await;
        let _ = targets[0].run(&drop).await;
    }
    reference.close().await;
    for t in targets {
        t.close().await;
    }
    Ok(FileResult {
        file,
        results,
        elapsed: t0.elapsed(),
    })
}

/// The kind of an answer: its error code, or OK, or the shape of its
/// result sets.
fn kind(o: &Outcome) -> String {
    match o {
        Outcome::Error { code, .. } => format!("error {code}"),
        Outcome::Client(_) => "client error".into(),
        Outcome::Ok { .. } => "ok".into(),
        Outcome::Rows(sets) => sets
            .iter()
            .map(|s| format!("rows({})", s.columns.len()))
            .collect::<Vec<_>>()
            .join(","),
    }
}

async fn last_committed(c: &mut Conn) -> Option<u64> {
    let row: Option<(String, String)> = c
        .query_first("SHOW STATUS LIKE 'wsrep_last_committed'")
        .await
        .ok()?;
    row.and_then(|(_, v)| v.parse().ok())
}

/// Polls (bounded by `timeout`) until the node has applied `seqno`.
async fn wait_applied(c: &mut Conn, seqno: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match last_committed(c).await {
            Some(s) if s >= seqno => return,
            None => return,
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

impl StmtResult {
    /// What differs, for lists and reports: the categories, and the
    /// target's error code when it failed.
    pub fn what(&self) -> String {
        let mut s = self
            .diffs
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(",");
        if let Outcome::Error { code, .. } = &self.target {
            if self.diffs.contains(&Diff::Error) || self.diffs.contains(&Diff::Code) {
                s.push_str(&format!(" {code}"));
            }
        }
        s
    }
}

impl Report {
    fn verdict(
        &self,
        stmt: &Statement,
        r: &StmtResult,
        listed: &BTreeSet<String>,
        allowed: &BTreeMap<String, Scope>,
    ) -> Verdict {
        let allow_ok = stmt.directives.allow.as_ref().is_some_and(|k| {
            matches!(
                (allowed.get(k), self.cluster),
                (Some(Scope::All), _) | (Some(Scope::Cluster), true)
            )
        });
        let is_listed = listed.contains(&stmt.id);
        // An allowed statement may also be listed: a deviation allowed only
        // on a cluster is listed for the single-node run.
        match (r.diffs.is_empty(), allow_ok, is_listed) {
            (true, _, true) => Verdict::Stale,
            (true, _, false) => Verdict::Match,
            (false, true, _) => Verdict::Allowed,
            (false, false, true) => Verdict::Listed,
            (false, false, false) => Verdict::Unexpected,
        }
    }

    /// Judges the run against the `.fail` lists and the allow-list.
    pub fn judge(&self, expected: &Path, allowed: &Path) -> anyhow::Result<Judgement> {
        let allowed = expect::read_allowed(allowed)?;
        let mut j = Judgement::default();
        for f in &self.files {
            let listed = expect::read_fail(&expect::fail_path(expected, &f.file.stem))?;
            let mut t = FileTally {
                stem: f.file.stem.clone(),
                statements: f.results.len(),
                ..Default::default()
            };
            for r in &f.results {
                let stmt = &f.file.statements[r.index];
                let v = self.verdict(stmt, r, &listed, &allowed);
                match v {
                    Verdict::Match => t.matching += 1,
                    Verdict::Listed => t.listed += 1,
                    Verdict::Allowed => t.allowed += 1,
                    Verdict::Unexpected => {
                        t.unexpected += 1;
                        j.problems.push(format!(
                            "{}.sql:{} [{}] differs ({}) and is not in expected/{}.fail: {}\n    mariadb: {}\n    trireme (node {}): {}",
                            f.file.stem,
                            stmt.line,
                            stmt.id,
                            r.what(),
                            f.file.stem,
                            stmt.excerpt(100),
                            r.reference.render(3).replace('\n', "\n             "),
                            r.node + 1,
                            r.target.render(3).replace('\n', "\n             "),
                        ));
                    }
                    Verdict::Stale => {
                        t.matching += 1;
                        t.stale += 1;
                        j.problems.push(format!(
                            "{}.sql:{} [{}] now matches MariaDB: remove its line from expected/{}.fail",
                            f.file.stem, stmt.line, stmt.id, f.file.stem
                        ));
                    }
                }
            }
            let known: BTreeSet<&str> = f.file.statements.iter().map(|s| s.id.as_str()).collect();
            for id in &listed {
                if !known.contains(id.as_str()) {
                    t.stale += 1;
                    j.problems.push(format!(
                        "expected/{}.fail lists {id}, which is no statement of {}.sql: remove its line",
                        f.file.stem, f.file.stem
                    ));
                }
            }
            j.tallies.push(t);
        }
        Ok(j)
    }

    /// Statements where trireme's answer in this run is of another kind
    /// (another error code, an error instead of rows, another result
    /// shape) than in `base`, although the statement differs from the
    /// reference in both runs: a cluster that fails a listed statement for
    /// a reason of its own would otherwise go unnoticed. Values are not
    /// compared, since the cluster run's reference hands out other
    /// AUTO_INCREMENT values (see the module doc).
    pub fn compare_with(&self, base: &Report) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.files {
            let Some(b) = base.files.iter().find(|b| b.file.stem == f.file.stem) else {
                continue;
            };
            for (r, rb) in f.results.iter().zip(&b.results) {
                if r.diffs.is_empty() || rb.diffs.is_empty() || kind(&r.target) == kind(&rb.target)
                {
                    continue;
                }
                let stmt = &f.file.statements[r.index];
                out.push(format!(
                    "{}.sql:{} [{}] trireme answers `{}` on {} (node {}) but `{}` on {}: {}",
                    f.file.stem,
                    stmt.line,
                    stmt.id,
                    r.target.render(0).lines().next().unwrap_or_default(),
                    self.mode,
                    r.node + 1,
                    rb.target.render(0).lines().next().unwrap_or_default(),
                    base.mode,
                    stmt.excerpt(100),
                ));
            }
        }
        out
    }

    /// Rewrites the `.fail` lists of the files in this run.
    pub fn update(&self, expected: &Path, allowed: &Path) -> anyhow::Result<()> {
        let allowed = expect::read_allowed(allowed)?;
        for f in &self.files {
            let none = BTreeSet::new();
            let entries: Vec<FailEntry<'_>> = f
                .results
                .iter()
                .filter(|r| {
                    let stmt = &f.file.statements[r.index];
                    self.verdict(stmt, r, &none, &allowed) == Verdict::Unexpected
                })
                .map(|r| FailEntry {
                    stmt: &f.file.statements[r.index],
                    what: r.what(),
                })
                .collect();
            expect::write_fail(expected, &f.file.stem, &entries)?;
        }
        Ok(())
    }

    /// The differences by category and the most common trireme errors:
    /// the SQL work list.
    pub fn worklist(&self, top: usize) -> String {
        let mut by_diff: BTreeMap<Diff, usize> = BTreeMap::new();
        let mut by_error: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
        let mut by_type: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut differing = 0;
        for f in &self.files {
            for r in &f.results {
                if r.diffs.is_empty() {
                    continue;
                }
                differing += 1;
                if let (Outcome::Rows(a), Outcome::Rows(b)) = (&r.reference, &r.target) {
                    for (x, y) in a.iter().zip(b) {
                        for (cx, cy) in x.columns.iter().zip(&y.columns) {
                            if (cx.ty, cx.unsigned, cx.binary) != (cy.ty, cy.unsigned, cy.binary) {
                                *by_type
                                    .entry((cx.type_label(), cy.type_label()))
                                    .or_default() += 1;
                            }
                        }
                    }
                }
                for d in &r.diffs {
                    *by_diff.entry(*d).or_default() += 1;
                }
                if let (Outcome::Error { code, message }, true) =
                    (&r.target, r.diffs.contains(&Diff::Error))
                {
                    let key = format!("{code} {}", error_key(*code, message));
                    let e = by_error.entry(key).or_default();
                    e.0 += 1;
                    e.1.insert(f.file.stem.clone());
                }
            }
        }
        let mut s = format!("{differing} statements differ; by what differs (a statement may count under several):\n");
        for (d, c) in &by_diff {
            s.push_str(&format!("  {:<9} {c}\n", d.name()));
        }
        let mut types: Vec<_> = by_type.into_iter().collect();
        types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        s.push_str("column types (MariaDB -> trireme), in columns of differing statements:\n");
        for ((a, b), c) in types.iter().take(12) {
            s.push_str(&format!("  {c:>4}  {a} -> {b}\n"));
        }
        let mut errs: Vec<_> = by_error.into_iter().collect();
        errs.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        s.push_str(&format!(
            "trireme errors where MariaDB succeeds (top {top} of {}):\n",
            errs.len()
        ));
        for (k, (c, files)) in errs.iter().take(top) {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            s.push_str(&format!("  {c:>4}  {k}  [{}]\n", files.join(" ")));
        }
        s
    }

    /// Writes `<dir>/<stem>.diff` for every file: each differing statement
    /// with both outcomes.
    pub fn write_diffs(&self, dir: &Path, expected: &Path, allowed: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let allowed = expect::read_allowed(allowed)?;
        for f in &self.files {
            let listed = expect::read_fail(&expect::fail_path(expected, &f.file.stem))?;
            let mut s = format!("# {}.sql on {}\n", f.file.stem, self.mode);
            for r in &f.results {
                if r.diffs.is_empty() {
                    continue;
                }
                let stmt = &f.file.statements[r.index];
                let v = self.verdict(stmt, r, &listed, &allowed);
                s.push_str(&format!(
                    "\n## line {} [{}] {:?}: {}\n{}\n-- mariadb:\n{}\n-- trireme (node {}):\n{}\n",
                    stmt.line,
                    stmt.id,
                    v,
                    r.what(),
                    stmt.sql,
                    r.reference.render(20),
                    r.node + 1,
                    r.target.render(20)
                ));
            }
            std::fs::write(dir.join(format!("{}.diff", f.file.stem)), s)?;
        }
        Ok(())
    }
}

/// How the work list groups a trireme error: by the unsupported feature
/// (1235), the missing function (1305) or variable (1193), else by the
/// message's shape.
fn error_key(code: u16, m: &str) -> String {
    match code {
        1235 | 1193 => m.chars().take(100).collect(),
        1305 => {
            // "FUNCTION db.NAME does not exist": the database is noise.
            match (m.find(' '), m.find('.')) {
                (Some(sp), Some(dot)) if dot > sp => format!("{}{}", &m[..sp + 1], &m[dot + 1..]),
                _ => m.to_string(),
            }
        }
        _ => error_shape(m),
    }
}

/// An error message with quoted parts and numbers blanked, so that
/// messages of one kind group together.
fn error_shape(m: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in m.chars() {
        let after_word = prev.is_alphanumeric();
        prev = c;
        match quote {
            Some(q) if c == q => {
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if (c == '\'' || c == '`' || c == '"') && !after_word => {
                out.push(c);
                out.push('…');
                quote = Some(c);
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            None => out.push(c),
        }
    }
    let out: String = out.chars().take(90).collect();
    out
}

/// The per-file table (markdown).
pub fn render_table(mode: &str, j: &Judgement, elapsed: Duration) -> String {
    let mut s = format!(
        "sqldiff, {mode}, {:.1} s\n\n| file | statements | matching | differing (listed) | allowed | unexpected | stale | pass rate |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        elapsed.as_secs_f64()
    );
    let mut total = FileTally {
        stem: "**total**".into(),
        ..Default::default()
    };
    for t in &j.tallies {
        s.push_str(&row(t));
        total.statements += t.statements;
        total.matching += t.matching;
        total.listed += t.listed;
        total.allowed += t.allowed;
        total.unexpected += t.unexpected;
        total.stale += t.stale;
    }
    s.push_str(&row(&total));
    s
}

fn row(t: &FileTally) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.1}% |\n",
        t.stem,
        t.statements,
        t.matching,
        t.listed,
        t.allowed,
        t.unexpected,
        t.stale,
        t.pass_rate()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_group_by_shape() {
        assert_eq!(
            error_shape("Unknown column 'x' in 'field list'"),
            "Unknown column '…' in '…'"
        );
        assert_eq!(error_shape("line 12 col 3"), "line # col #");
        assert_eq!(
            error_shape("Table 'x' doesn't exist"),
            "Table '…' doesn't exist"
        );
        assert_eq!(
            error_key(1305, "FUNCTION db_x.SHA2 does not exist"),
            "FUNCTION SHA2 does not exist"
        );
    }
}
