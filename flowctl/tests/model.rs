//! `FlowControl` against the brute-force reference model (`common::Model`)
//! on random event sequences: queue lengths, view changes (members leaving
//! and rejoining), FC messages from members, non-members and this node
//! itself, enabling/disabling, configuration changes, statistics resets, and
//! a clock that sometimes goes backwards.
//!
//! After every event: same message to send, same `must_pause` (paused iff
//! our own last message is STOP or some current member's last message since
//! it joined is STOP), same limits. Over the whole run: STOP and CONT
//! alternate starting with STOP; a queue above the upper limit while enabled
//! always has our STOP outstanding, one at or below the lower limit never
//! does; and all statistics equal the model's sums over the timeline.

mod common;

use common::{Input, Model};
use proptest::prelude::*;
use trireme_flowctl::{Config, FcMessage, FlowControl, MemberId};

const ME: MemberId = 1;

#[derive(Clone, Debug)]
struct Ev {
    /// Time step; negative values move the clock backwards.
    dt: i64,
    input: Input,
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![1u64..4, 4u64..24],
        prop::sample::select(vec![0.0, 0.25, 0.5, 0.7, 1.0]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(fc_limit, fc_factor, fc_single_primary)| Config {
            fc_limit,
            fc_factor,
            fc_single_primary,
        })
}

fn input() -> impl Strategy<Value = Input> {
    let msg = prop::sample::select(vec![FcMessage::Stop, FcMessage::Cont]);
    prop_oneof![
        40 => prop_oneof![0u64..20, 0u64..80].prop_map(Input::Queue),
        8 => prop::collection::vec(1u64..7, 0..6).prop_map(Input::View),
        30 => (0u64..8, msg).prop_map(|(from, m)| Input::Msg(from, m)),
        4 => prop::bool::weighted(0.6).prop_map(Input::Enable),
        3 => config().prop_map(Input::SetConfig),
        6 => Just(Input::Tick),
        3 => Just(Input::Reset),
    ]
}

fn event() -> impl Strategy<Value = Ev> {
    (prop_oneof![10 => 0i64..1000, 1 => -500i64..0], input())
        .prop_map(|(dt, input)| Ev { dt, input })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn flow_control_matches_brute_force_model(
        cfg in config(),
        members in prop::collection::vec(1u64..7, 0..5),
        start in 0u64..1_000_000,
        events in prop::collection::vec(event(), 1..80),
    ) {
        let mut fc = FlowControl::new(cfg, ME, &members, start).unwrap();
        let mut m = Model::new(cfg, ME, &members, start);
        let mut now = start;
        let mut sent: Vec<FcMessage> = Vec::new();

        for (i, ev) in events.iter().enumerate() {
            now = now.saturating_add_signed(ev.dt);
            let got = match &ev.input {
                Input::Queue(len) => fc.on_queue_len(*len, now),
                Input::View(v) => fc.on_view(v, now),
                Input::Msg(from, msg) => {
                    fc.on_message(*from, *msg, now);
                    None
                }
                Input::Enable(e) => fc.set_enabled(*e, now),
                Input::SetConfig(c) => fc.set_config(*c, now).unwrap(),
                Input::Tick => {
                    fc.tick(now);
                    None
                }
                Input::Reset => {
                    fc.reset_stats(now);
                    None
                }
            };
            let want = m.step(now, ev.input.clone());
            prop_assert_eq!(got, want, "event {} {:?}", i, ev);
            sent.extend(got);
            prop_assert_eq!(fc.must_pause(), m.paused(), "event {} {:?}", i, ev);
            prop_assert_eq!(fc.stop_outstanding(), m.own_stop());
            let l = fc.limits();
            prop_assert_eq!((l.lower, l.upper), m.limits());
            // Hysteresis, stated directly.
            if fc.enabled() && fc.queue_len() > l.upper {
                prop_assert!(fc.stop_outstanding());
            }
            if fc.queue_len() <= l.lower {
                prop_assert!(!fc.stop_outstanding());
            }
        }

        // STOP and CONT alternate, starting with STOP.
        for (i, msg) in sent.iter().enumerate() {
            let expected = if i % 2 == 0 { FcMessage::Stop } else { FcMessage::Cont };
            prop_assert_eq!(*msg, expected);
        }
        prop_assert_eq!(sent, m.outputs());

        // Statistics, a little after the last event.
        let at = now + 123;
        let s = fc.stats(at);
        let ms = m.stats(at);
        prop_assert_eq!(s.paused_ns, ms.paused_ns);
        prop_assert!(close(s.paused, ms.paused), "{} vs {}", s.paused, ms.paused);
        prop_assert!((0.0..=1.0).contains(&s.paused));
        prop_assert_eq!(s.sent, ms.sent);
        prop_assert_eq!(s.stop_sent, ms.sent);
        prop_assert_eq!(s.cont_sent, ms.cont_sent);
        prop_assert_eq!(s.recv, ms.recv);
        prop_assert_eq!(s.stop_recv, ms.stop_recv);
        prop_assert_eq!(s.cont_recv, ms.cont_recv);
        prop_assert_eq!(s.recv_queue_min, ms.q_min);
        prop_assert_eq!(s.recv_queue_max, ms.q_max);
        prop_assert!(close(s.recv_queue_avg, ms.q_avg), "{} vs {}", s.recv_queue_avg, ms.q_avg);
        prop_assert!(close(s.recv_queue_avg_time, ms.q_avg_time), "{} vs {}", s.recv_queue_avg_time, ms.q_avg_time);
        prop_assert_eq!(s.active, m.paused());
        prop_assert_eq!(s.requested, m.own_stop());
    }
}
