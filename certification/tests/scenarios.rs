//! Scenario files: one behaviour per file under `tests/scenarios/`, written
//! in a tiny text format, checked against the index, the reference model,
//! and an index that is snapshot, encoded, decoded and restored after every
//! line.
//!
//! ```text
//! # comment (the first lines of a file say what it shows)
//! config optimistic_pa=false       optional, before any event
//! start 10                         optional: Certifier::starting_at(10)
//! <seqno> ws [ls=N] [src=N] [pa_unsafe] [KEY ...] [op=TABLE ...] => EXPECT
//! <seqno> toi [TABLE ...] => EXPECT
//! <seqno> skip
//! purge N [=> dropped N]
//! index N                          expected index size
//!
//! KEY    = TABLE/PK:KIND (row key, PK taken as UTF-8 bytes)
//!        | TABLE:KIND    (table-level key)
//! KIND   = sh | re | up | ex
//! EXPECT = pass DEPENDS | fail conflict KEY_INDEX WITH | fail barrier TOI
//!        | fail horizon HORIZON | fail future LAST_SEEN
//! ```
//!
//! `ls` defaults to 0.

mod common;

use common::Model;
use trireme_certification::codec::{decode_snapshot, encode_snapshot};
use trireme_certification::{
    CertConfig, Certifier, FailReason, Key, KeyKind, RowOp, RowOpKind, Seqno, Verdict, WriteSet,
};

struct Runner {
    name: String,
    config: CertConfig,
    c: Certifier,
    restored: Certifier,
    m: Model,
    started: bool,
}

fn kind(s: &str) -> KeyKind {
    match s {
        "sh" => KeyKind::Shared,
        "re" => KeyKind::Reference,
        "up" => KeyKind::Update,
        "ex" => KeyKind::Exclusive,
        _ => panic!("unknown key kind {s:?}"),
    }
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn parse_expect(words: &[&str]) -> Verdict {
    match words {
        ["pass", d] => Verdict::Pass {
            depends_seqno: num(d),
        },
        ["fail", "conflict", k, w] => Verdict::Fail(FailReason::Conflict {
            key: num(k) as usize,
            with: num(w),
        }),
        ["fail", "barrier", t] => Verdict::Fail(FailReason::Barrier { toi: num(t) }),
        ["fail", "horizon", h] => Verdict::Fail(FailReason::BelowHorizon { horizon: num(h) }),
        ["fail", "future", l] => Verdict::Fail(FailReason::FutureSnapshot { last_seen: num(l) }),
        _ => panic!("bad expectation {words:?}"),
    }
}

fn parse_ws(words: &[&str]) -> WriteSet {
    let mut ws = WriteSet::default();
    for w in words {
        if let Some(v) = w.strip_prefix("ls=") {
            ws.last_seen_seqno = num(v);
        } else if let Some(v) = w.strip_prefix("src=") {
            ws.source = num(v);
        } else if *w == "pa_unsafe" {
            ws.flags |= WriteSet::PA_UNSAFE;
        } else if let Some(t) = w.strip_prefix("op=") {
            ws.ops.push(RowOp {
                table: t.to_string(),
                pk: vec![0],
                kind: RowOpKind::Update,
                row: vec![],
            });
        } else {
            let (target, k) = w
                .rsplit_once(':')
                .unwrap_or_else(|| panic!("bad key {w:?}"));
            let key = match target.split_once('/') {
                Some((table, pk)) => Key::row(table, pk.as_bytes(), kind(k)),
                None => Key::table(target, kind(k)),
            };
            ws.keys.push(key);
        }
    }
    ws
}

impl Runner {
    fn new(name: &str) -> Runner {
        let config = CertConfig::default();
        Runner {
            name: name.to_string(),
            config,
            c: Certifier::new(config),
            restored: Certifier::new(config),
            m: Model::new(true),
            started: false,
        }
    }

    fn reset(&mut self, config: CertConfig, start: Seqno) {
        assert!(!self.started, "{}: config/start after events", self.name);
        self.config = config;
        self.c = Certifier::starting_at(config, start);
        self.restored = Certifier::starting_at(config, start);
        self.m = Model::starting_at(config.optimistic_pa, start);
    }

    fn check_verdict(
        &self,
        at: &str,
        want: Verdict,
        got: Verdict,
        model: Verdict,
        restored: Verdict,
    ) {
        assert_eq!(got, want, "{at}: index");
        assert_eq!(model, want, "{at}: reference model");
        assert_eq!(restored, want, "{at}: restored index");
    }

    fn line(&mut self, lineno: usize, line: &str) {
        let at = format!("{}:{}: {}", self.name, lineno, line);
        let (lhs, rhs) = match line.split_once("=>") {
            Some((l, r)) => (l, Some(r.split_whitespace().collect::<Vec<_>>())),
            None => (line, None),
        };
        let words: Vec<&str> = lhs.split_whitespace().collect();
        match words.as_slice() {
            ["config", opts @ ..] => {
                let mut config = self.config;
                for o in opts {
                    match *o {
                        "optimistic_pa=false" => config.optimistic_pa = false,
                        "optimistic_pa=true" => config.optimistic_pa = true,
                        _ => panic!("{at}: unknown option"),
                    }
                }
                self.reset(config, self.c.position());
            }
            ["start", p] => self.reset(self.config, num(p)),
            ["purge", upto] => {
                self.started = true;
                let dropped = self.c.purge(num(upto));
                self.restored.purge(num(upto));
                self.m.purge(num(upto));
                if let Some(r) = rhs {
                    assert_eq!(r, ["dropped", dropped.to_string().as_str()], "{at}");
                }
            }
            ["index", n] => {
                assert_eq!(self.c.index_size() as u64, num(n), "{at}: index");
                assert_eq!(self.m.index_size() as u64, num(n), "{at}: model");
                assert_eq!(self.restored.index_size() as u64, num(n), "{at}: restored");
            }
            [seqno, "skip"] => {
                self.started = true;
                self.c.skip(num(seqno));
                self.restored.skip(num(seqno));
                self.m.skip(num(seqno));
            }
            [seqno, "toi", tables @ ..] => {
                self.started = true;
                let seqno = num(seqno);
                let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
                let want = parse_expect(&rhs.unwrap_or_else(|| panic!("{at}: no expectation")));
                let got = self.c.certify_toi(&tables, seqno);
                let model = self.m.certify_toi(&tables, seqno);
                let restored = self.restored.certify_toi(&tables, seqno);
                self.check_verdict(&at, want, got, model, restored);
            }
            [seqno, "ws", rest @ ..] => {
                self.started = true;
                let seqno = num(seqno);
                let ws = parse_ws(rest);
                let want = parse_expect(&rhs.unwrap_or_else(|| panic!("{at}: no expectation")));
                let got = self.c.certify(&ws, seqno);
                let model = self.m.certify(&ws, seqno);
                let restored = self.restored.certify(&ws, seqno);
                self.check_verdict(&at, want, got, model, restored);
            }
            _ => panic!("{at}: cannot parse"),
        }
        // Round-trip the shadow index through the codec after every line.
        let bytes = encode_snapshot(&self.restored.snapshot()).unwrap();
        self.restored = Certifier::restore(&decode_snapshot(&bytes).unwrap(), self.config).unwrap();
        assert_eq!(
            self.c.snapshot(),
            self.restored.snapshot(),
            "{at}: snapshots differ"
        );
    }
}

fn run(name: &str, text: &str) {
    let mut r = Runner::new(name);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            r.line(i + 1, line);
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(
                    concat!(stringify!($name), ".txt"),
                    include_str!(concat!("scenarios/", stringify!($name), ".txt")),
                );
            }
        )*

        /// Every file in the directory is listed above.
        #[test]
        fn every_scenario_file_is_run() {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios");
            let mut files: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            files.sort();
            let mut listed = vec![$(concat!(stringify!($name), ".txt").to_string()),*];
            listed.sort();
            assert_eq!(files, listed);
        }
    };
}

scenarios!(
    worked_example,
    lost_update_and_write_skew,
    key_kind_matrix,
    toi_barrier,
    purge_and_horizon,
    dependencies,
    optimistic_pa_off,
    start_without_history,
);
