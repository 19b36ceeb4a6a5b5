//! Scenario files: one behaviour per file under `tests/scenarios/`, queue
//! events in, STOP/CONT out, checked against `FlowControl` and the reference
//! model.
//!
//! ```text
//! # comment (the first lines of a file say what it shows)
//! config limit=N factor=F single_primary=BOOL   optional, before start
//! start me=ID members=ID,ID,... [at=T]          required, before events
//! at T queue N => MSG                           MSG = STOP | CONT | -
//! at T view ID ... => MSG
//! at T enable true|false => MSG
//! at T recv ID STOP|CONT [=> ignored]
//! at T tick
//! at T reset
//! paused | running                              must_pause()
//! paused_by ID ...                              who pauses (empty: nobody)
//! limits LOWER UPPER
//! stats at T KEY=VALUE ...                      paused_ns paused sent recv stop_sent
//!                                               cont_sent stop_recv cont_recv queue_min
//!                                               queue_max queue_avg queue_avg_time
//! ```

mod common;

use common::{Input, Model};
use trireme_flowctl::{Config, FcMessage, FlowControl, MemberId, Nanos};

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn msg(s: &str) -> Option<FcMessage> {
    match s {
        "STOP" => Some(FcMessage::Stop),
        "CONT" => Some(FcMessage::Cont),
        "-" => None,
        _ => panic!("bad message {s:?}"),
    }
}

struct Runner {
    config: Config,
    fc: Option<(FlowControl, Model)>,
}

impl Runner {
    fn both(&mut self, at: &str) -> &mut (FlowControl, Model) {
        self.fc
            .as_mut()
            .unwrap_or_else(|| panic!("{at}: no `start` line yet"))
    }

    fn line(&mut self, at: &str, line: &str) {
        let (lhs, rhs) = match line.split_once("=>") {
            Some((l, r)) => (l.trim(), Some(r.trim())),
            None => (line, None),
        };
        let words: Vec<&str> = lhs.split_whitespace().collect();
        match words.as_slice() {
            ["config", opts @ ..] => {
                for o in opts {
                    let (k, v) = o.split_once('=').unwrap_or_else(|| panic!("{at}"));
                    match k {
                        "limit" => self.config.fc_limit = num(v),
                        "factor" => self.config.fc_factor = v.parse().unwrap(),
                        "single_primary" => self.config.fc_single_primary = v.parse().unwrap(),
                        _ => panic!("{at}: unknown option {k}"),
                    }
                }
            }
            ["start", opts @ ..] => {
                let (mut me, mut members, mut t) = (0, Vec::new(), 0);
                for o in opts {
                    let (k, v) = o.split_once('=').unwrap_or_else(|| panic!("{at}"));
                    match k {
                        "me" => me = num(v),
                        "members" => members = v.split(',').map(num).collect(),
                        "at" => t = num(v),
                        _ => panic!("{at}: unknown option {k}"),
                    }
                }
                let fc = FlowControl::new(self.config, me, &members, t).unwrap();
                let m = Model::new(self.config, me, &members, t);
                self.fc = Some((fc, m));
            }
            ["at", t, event @ ..] => {
                let t: Nanos = num(t);
                let (fc, m) = self.both(at);
                let (input, got) = match event {
                    ["queue", n] => (Input::Queue(num(n)), fc.on_queue_len(num(n), t)),
                    ["view", ids @ ..] => {
                        let ids: Vec<MemberId> = ids.iter().map(|s| num(s)).collect();
                        let got = fc.on_view(&ids, t);
                        (Input::View(ids), got)
                    }
                    ["enable", e] => {
                        let e: bool = e.parse().unwrap();
                        (Input::Enable(e), fc.set_enabled(e, t))
                    }
                    ["recv", from, what] => {
                        let what = msg(what).unwrap_or_else(|| panic!("{at}"));
                        let accepted = fc.on_message(num(from), what, t);
                        assert_eq!(accepted, rhs != Some("ignored"), "{at}: acceptance");
                        m.step(t, Input::Msg(num(from), what));
                        return;
                    }
                    ["tick"] => {
                        fc.tick(t);
                        (Input::Tick, None)
                    }
                    ["reset"] => {
                        fc.reset_stats(t);
                        (Input::Reset, None)
                    }
                    _ => panic!("{at}: cannot parse event"),
                };
                let model = m.step(t, input);
                if let Some(r) = rhs {
                    assert_eq!(got, msg(r), "{at}: FlowControl");
                }
                assert_eq!(model, got, "{at}: model disagrees");
            }
            ["paused"] | ["running"] => {
                let want = words[0] == "paused";
                let (fc, m) = self.both(at);
                assert_eq!(fc.must_pause(), want, "{at}");
                assert_eq!(m.paused(), want, "{at}: model");
            }
            ["paused_by", ids @ ..] => {
                let want: Vec<MemberId> = ids.iter().map(|s| num(s)).collect();
                let (fc, _) = self.both(at);
                assert_eq!(fc.paused_by(), want, "{at}");
            }
            ["limits", lower, upper] => {
                let (fc, m) = self.both(at);
                let l = fc.limits();
                assert_eq!((l.lower, l.upper), (num(lower), num(upper)), "{at}");
                assert_eq!(m.limits(), (num(lower), num(upper)), "{at}: model");
            }
            ["stats", "at", t, checks @ ..] => {
                let t = num(t);
                let (fc, m) = self.both(at);
                let s = fc.stats(t);
                let ms = m.stats(t);
                for c in checks {
                    let (k, v) = c.split_once('=').unwrap_or_else(|| panic!("{at}"));
                    let want: f64 = v.parse().unwrap();
                    let (got, model) = match k {
                        "paused_ns" => (s.paused_ns as f64, ms.paused_ns as f64),
                        "paused" => (s.paused, ms.paused),
                        "sent" => (s.sent as f64, ms.sent as f64),
                        "recv" => (s.recv as f64, ms.recv as f64),
                        "stop_sent" => (s.stop_sent as f64, ms.sent as f64),
                        "cont_sent" => (s.cont_sent as f64, ms.cont_sent as f64),
                        "stop_recv" => (s.stop_recv as f64, ms.stop_recv as f64),
                        "cont_recv" => (s.cont_recv as f64, ms.cont_recv as f64),
                        "queue_min" => (s.recv_queue_min as f64, ms.q_min as f64),
                        "queue_max" => (s.recv_queue_max as f64, ms.q_max as f64),
                        "queue_avg" => (s.recv_queue_avg, ms.q_avg),
                        "queue_avg_time" => (s.recv_queue_avg_time, ms.q_avg_time),
                        _ => panic!("{at}: unknown stat {k}"),
                    };
                    assert!(
                        (got - want).abs() < 1e-9,
                        "{at}: {k} = {got}, expected {want}"
                    );
                    assert!((model - want).abs() < 1e-9, "{at}: model {k} = {model}");
                }
            }
            _ => panic!("{at}: cannot parse"),
        }
    }
}

fn run(name: &str, text: &str) {
    let mut r = Runner {
        config: Config::default(),
        fc: None,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            r.line(&format!("{}:{}: {}", name, i + 1, line), line);
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
    hysteresis,
    sqrt_scaling,
    single_primary,
    view_change_clears_stops,
    paused_accounting,
    disabled_while_joining,
);
