//! A brute-force reference model of flow control, shared by the tests.
//!
//! It stores the whole history of inputs and of the messages it decided to
//! send, and answers every question by scanning that history: who is
//! pausing the cluster (a current member whose last message since it last
//! joined is FC_STOP, or our own last message being FC_STOP), and every
//! statistic (sums over the recorded timeline). It shares no code with the
//! crate beyond the public types.

#![allow(dead_code)]

use trireme_flowctl::{Config, FcMessage, MemberId, Nanos};

#[derive(Clone, Debug)]
pub enum Input {
    Queue(u64),
    View(Vec<MemberId>),
    Msg(MemberId, FcMessage),
    Enable(bool),
    SetConfig(Config),
    Tick,
    Reset,
}

#[derive(Clone, Debug)]
struct Step {
    /// Effective time (never decreasing).
    t: Nanos,
    input: Input,
    /// Message decided at this step.
    out: Option<FcMessage>,
    /// State right after the step.
    paused: bool,
    queue: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelStats {
    pub paused_ns: u64,
    pub paused: f64,
    pub sent: u64,
    pub recv: u64,
    pub cont_sent: u64,
    pub stop_recv: u64,
    pub cont_recv: u64,
    pub q_min: u64,
    pub q_max: u64,
    pub q_avg: f64,
    pub q_avg_time: f64,
}

pub struct Model {
    me: MemberId,
    initial_members: Vec<MemberId>,
    initial_config: Config,
    t0: Nanos,
    steps: Vec<Step>,
}

/// Galera's formula, written out again.
pub fn model_limits(c: &Config, members: usize) -> (u64, u64) {
    let n = if members == 0 { 1 } else { members };
    let f = if c.fc_single_primary {
        1.0
    } else {
        (n as f64).sqrt()
    };
    let upper = std::cmp::max(1, (c.fc_limit as f64 * f + 0.5).floor() as u64);
    let lower = std::cmp::min(upper, (upper as f64 * c.fc_factor + 0.5).floor() as u64);
    (lower, upper)
}

impl Model {
    pub fn new(config: Config, me: MemberId, members: &[MemberId], now: Nanos) -> Model {
        Model {
            me,
            initial_members: members.to_vec(),
            initial_config: config,
            t0: now,
            steps: Vec::new(),
        }
    }

    fn now(&self) -> Nanos {
        self.steps.last().map_or(self.t0, |s| s.t)
    }

    /// Members in force after the first `upto` steps (me included).
    fn members_at(&self, upto: usize) -> Vec<MemberId> {
        let mut m = self.initial_members.clone();
        for s in &self.steps[..upto] {
            if let Input::View(v) = &s.input {
                m = v.clone();
            }
        }
        if !m.contains(&self.me) {
            m.push(self.me);
        }
        m.sort_unstable();
        m.dedup();
        m
    }

    fn config_at(&self, upto: usize) -> Config {
        let mut c = self.initial_config;
        for s in &self.steps[..upto] {
            if let Input::SetConfig(n) = &s.input {
                if n.validate().is_ok() {
                    c = *n;
                }
            }
        }
        c
    }

    fn queue_at(&self, upto: usize) -> u64 {
        self.steps[..upto]
            .iter()
            .rev()
            .find_map(|s| match s.input {
                Input::Queue(q) => Some(q),
                _ => None,
            })
            .unwrap_or(0)
    }

    fn enabled_at(&self, upto: usize) -> bool {
        self.steps[..upto]
            .iter()
            .rev()
            .find_map(|s| match s.input {
                Input::Enable(e) => Some(e),
                _ => None,
            })
            .unwrap_or(true)
    }

    fn own_stop_at(&self, upto: usize) -> bool {
        self.steps[..upto]
            .iter()
            .rev()
            .find_map(|s| s.out)
            .is_some_and(|m| m == FcMessage::Stop)
    }

    /// Is the message of step `i` from `from` accepted?
    fn accepted(&self, i: usize, from: MemberId) -> bool {
        from != self.me && self.members_at(i).contains(&from)
    }

    /// Current members other than me whose last accepted message since
    /// they last (re)joined is STOP, after the first `upto` steps.
    fn stopped_by_at(&self, upto: usize) -> Vec<MemberId> {
        let members = self.members_at(upto);
        let mut out = Vec::new();
        for &m in &members {
            if m == self.me {
                continue;
            }
            // The last point at which m was not a member.
            let mut since = 0;
            for i in 0..=upto {
                if !self.members_at(i).contains(&m) {
                    since = i;
                }
            }
            let last = (since..upto)
                .rev()
                .find_map(|i| match &self.steps[i].input {
                    Input::Msg(from, msg) if *from == m && self.accepted(i, m) => Some(*msg),
                    _ => None,
                });
            if last == Some(FcMessage::Stop) {
                out.push(m);
            }
        }
        out
    }

    pub fn paused(&self) -> bool {
        let n = self.steps.len();
        self.own_stop_at(n) || !self.stopped_by_at(n).is_empty()
    }

    pub fn own_stop(&self) -> bool {
        self.own_stop_at(self.steps.len())
    }

    pub fn limits(&self) -> (u64, u64) {
        let n = self.steps.len();
        model_limits(&self.config_at(n), self.members_at(n).len())
    }

    /// Feeds one input; returns the message the node must send.
    pub fn step(&mut self, now: Nanos, input: Input) -> Option<FcMessage> {
        let t = now.max(self.now());
        let i = self.steps.len();
        let own_before = self.own_stop_at(i);
        self.steps.push(Step {
            t,
            input: input.clone(),
            out: None,
            paused: false,
            queue: 0,
        });
        let decides = matches!(
            input,
            Input::Queue(_) | Input::View(_) | Input::Enable(_) | Input::SetConfig(_)
        );
        let out = if decides {
            let (lower, upper) = model_limits(&self.config_at(i + 1), self.members_at(i + 1).len());
            let q = self.queue_at(i + 1);
            let enabled = self.enabled_at(i + 1);
            if !own_before && enabled && q > upper {
                Some(FcMessage::Stop)
            } else if own_before && (!enabled || q <= lower) {
                Some(FcMessage::Cont)
            } else {
                None
            }
        } else {
            None
        };
        self.steps[i].out = out;
        self.steps[i].paused = self.paused();
        self.steps[i].queue = self.queue_at(i + 1);
        out
    }

    /// All messages decided so far, in order.
    pub fn outputs(&self) -> Vec<FcMessage> {
        self.steps.iter().filter_map(|s| s.out).collect()
    }

    /// Statistics as of `now`, from the timeline.
    pub fn stats(&self, now: Nanos) -> ModelStats {
        let end = now.max(self.now());
        let reset = self
            .steps
            .iter()
            .rposition(|s| matches!(s.input, Input::Reset));
        let t_reset = reset.map_or(self.t0, |r| self.steps[r].t);
        // Timeline segments: (start, end, paused, queue), from t0 to `end`.
        let mut segs = Vec::new();
        let (mut t, mut paused, mut q) = (self.t0, false, 0u64);
        for s in &self.steps {
            segs.push((t, s.t, paused, q));
            t = s.t;
            paused = s.paused;
            q = s.queue;
        }
        segs.push((t, end, paused, q));
        let paused_ns: u64 = segs.iter().filter(|s| s.2).map(|s| s.1 - s.0).sum();
        let paused_since: u64 = segs
            .iter()
            .filter(|s| s.2 && s.0 >= t_reset)
            .map(|s| s.1 - s.0)
            .sum();
        let q_integral: u128 = segs
            .iter()
            .filter(|s| s.0 >= t_reset)
            .map(|s| u128::from(s.3) * u128::from(s.1 - s.0))
            .sum();
        let after = reset.map_or(0, |r| r + 1);
        let count = |f: &dyn Fn(usize, &Step) -> bool| -> u64 {
            (after..self.steps.len())
                .filter(|&i| f(i, &self.steps[i]))
                .count() as u64
        };
        let sent = count(&|_, s| s.out == Some(FcMessage::Stop));
        let cont_sent = count(&|_, s| s.out == Some(FcMessage::Cont));
        let stop_recv =
            count(&|i, s| matches!(s.input, Input::Msg(f, FcMessage::Stop) if self.accepted(i, f)));
        let cont_recv =
            count(&|i, s| matches!(s.input, Input::Msg(f, FcMessage::Cont) if self.accepted(i, f)));
        let q_at_reset = self.queue_at(after);
        let mut q_min = q_at_reset;
        let mut q_max = q_at_reset;
        let (mut samples, mut sample_sum) = (0u64, 0u128);
        for i in after..self.steps.len() {
            if let Input::Queue(len) = self.steps[i].input {
                q_min = q_min.min(len);
                q_max = q_max.max(len);
                if len > self.queue_at(i) {
                    samples += 1;
                    sample_sum += u128::from(len);
                }
            }
        }
        let interval = end - t_reset;
        let q_now = self.queue_at(self.steps.len());
        ModelStats {
            paused_ns,
            paused: if interval == 0 {
                0.0
            } else {
                paused_since as f64 / interval as f64
            },
            sent,
            recv: stop_recv + sent,
            cont_sent,
            stop_recv,
            cont_recv,
            q_min,
            q_max,
            q_avg: if samples == 0 {
                0.0
            } else {
                sample_sum as f64 / samples as f64
            },
            q_avg_time: if interval == 0 {
                q_now as f64
            } else {
                q_integral as f64 / interval as f64
            },
        }
    }
}
