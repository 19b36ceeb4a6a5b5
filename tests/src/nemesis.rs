//! Nemeses: what goes wrong, and when.
//!
//! A nemesis alternates quiet periods and faults on a schedule drawn from
//! the run's seed: wait, inject one fault, hold it, heal it, wait again. The
//! last fault is always healed before the workload's end, and the run then
//! heals *everything* (network, paused and dead nodes) and waits a recovery
//! period before the final reads.
//!
//! | nemesis | faults (one chosen at random each time) |
//! |---|---|
//! | `partition` | isolate one node; split into halves; majorities ring |
//! | `kill` | SIGKILL one node, a majority, or all; heal restarts them with the same command |
//! | `pause` | SIGSTOP one node or a majority; heal is SIGCONT |
//! | `clog` | swizzle-clogging (FoundationDB): cut every link of a random node set one at a time, then restore them one at a time in another random order |
//! | `wipe` | SIGKILL one node (any of them, seeded), delete its data directory, restart it without bootstrap: it rejoins by state transfer. Only applied while every node is synced; needs 3 or more nodes |
//! | `mix` | any of the above except `wipe` |
//! | `none` | nothing (a baseline) |
//!
//! Partitions are *grudges*: node X drops traffic arriving from a set of
//! nodes (see [`crate::cluster::netns`]). The majorities ring gives every
//! node a majority that no other node shares: in a ring of n nodes, node i
//! hears only the m = n/2+1 nodes around it (itself included). With three
//! nodes that is "i hears itself and its successor", so each link works in
//! one direction only: a nasty, asymmetric fault.
//!
//! Every fault and heal is recorded in the history (process `nemesis`,
//! `f` = `fault` / `heal`) with its time, so fault periods show in the
//! latency plot and in the history next to the operations they disturbed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::history::NemesisValue;
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NemesisKind {
    /// No faults.
    None,
    /// Network partitions: isolate one, halves, majorities ring.
    Partition,
    /// SIGKILL one / a majority / all nodes; restart with the same command.
    Kill,
    /// SIGSTOP one node / a majority; SIGCONT to heal.
    Pause,
    /// Swizzle-clogging: cut a random node set's links one at a time, restore in random order.
    Clog,
    /// SIGKILL one node, delete its data directory, restart it without
    /// bootstrap (it rejoins by state transfer).
    Wipe,
    /// A random choice among partition, clog, kill and pause each time.
    Mix,
}

impl NemesisKind {
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::None => "none",
            NemesisKind::Partition => "partition",
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Clog => "clog",
            NemesisKind::Wipe => "wipe",
            NemesisKind::Mix => "mix",
        }
    }
}

/// Which node a single-node fault hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Any node (seeded), and the fault's shape drawn at random.
    #[default]
    Random,
    /// The current raft leader, alone: partition isolates it, kill kills
    /// it, pause pauses it (other nemeses are unchanged).
    Leader,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Random => "random",
            Target::Leader => "leader",
        }
    }
}

/// One concrete fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// (shape name, grudges: node -> nodes whose traffic it drops).
    Partition(&'static str, Vec<(usize, Vec<usize>)>),
    Kill(Vec<usize>),
    Pause(Vec<usize>),
    /// Kill one node, delete its data directory; heal restarts it empty.
    Wipe(usize),
    /// Links (unordered node pairs) in the order they are cut, and the order
    /// they are restored.
    Clog {
        cut: Vec<(usize, usize)>,
        restore: Vec<(usize, usize)>,
    },
}

/// Grudges for a set of cut links (both directions of each).
pub fn link_grudges(n: usize, cut: &[(usize, usize)]) -> Vec<(usize, Vec<usize>)> {
    (0..n)
        .map(|i| {
            let mut g: Vec<usize> = cut
                .iter()
                .filter_map(|&(a, b)| {
                    if a == i {
                        Some(b)
                    } else if b == i {
                        Some(a)
                    } else {
                        None
                    }
                })
                .collect();
            g.sort();
            g.dedup();
            (i, g)
        })
        .collect()
}

/// The majority size for n nodes.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Grudges isolating `x` from everyone else, both ways.
pub fn isolate(n: usize, x: usize) -> Vec<(usize, Vec<usize>)> {
    (0..n)
        .map(|i| {
            if i == x {
                (i, (0..n).filter(|j| *j != x).collect())
            } else {
                (i, vec![x])
            }
        })
        .collect()
}

/// Grudges splitting `a` from the rest, both ways.
pub fn split(n: usize, a: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let b: Vec<usize> = (0..n).filter(|i| !a.contains(i)).collect();
    (0..n)
        .map(|i| {
            if a.contains(&i) {
                (i, b.clone())
            } else {
                (i, a.to_vec())
            }
        })
        .collect()
}

/// Grudges of the majorities ring over `ring` (a permutation of 0..n).
pub fn majorities_ring(ring: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let n = ring.len();
    let m = majority(n);
    let back = (m - 1) / 2;
    let mut out = Vec::new();
    for p in 0..n {
        let hears: Vec<usize> = (0..m).map(|j| ring[(p + n - back + j) % n]).collect();
        out.push((ring[p], (0..n).filter(|x| !hears.contains(x)).collect()));
    }
    out.sort();
    out
}

impl Fault {
    /// Draws the next fault aimed at `leader` (a node index): isolate it,
    /// kill it or pause it. Other nemeses draw as [`Fault::choose`].
    pub fn choose_for_leader(
        kind: NemesisKind,
        n: usize,
        leader: usize,
        rng: &mut Rng,
    ) -> Option<Fault> {
        let f = Fault::choose(kind, n, rng)?;
        Some(match f {
            Fault::Partition(..) if n > 1 => Fault::Partition("isolate", isolate(n, leader)),
            Fault::Kill(_) => Fault::Kill(vec![leader]),
            Fault::Pause(_) => Fault::Pause(vec![leader]),
            other => other,
        })
    }

    /// The nodes on the losing side of this fault, and whether they keep
    /// running (so should report non-Primary themselves). Empty when no
    /// side keeps a majority (a majority down, a ring, a clog).
    pub fn minority(&self, n: usize) -> (Vec<usize>, bool) {
        let m = majority(n);
        match self {
            Fault::Partition("isolate", g) => (
                g.iter()
                    .filter(|(_, d)| d.len() + 1 == n && n > 1)
                    .map(|(i, _)| *i)
                    .collect(),
                true,
            ),
            Fault::Partition("halves", g) => {
                // The side whose members drop the larger set is the smaller.
                let small: Vec<usize> = g
                    .iter()
                    .filter(|(_, d)| d.len() >= m)
                    .map(|(i, _)| *i)
                    .collect();
                (small, true)
            }
            Fault::Kill(t) | Fault::Pause(t) if t.len() < m => (t.clone(), false),
            Fault::Wipe(i) => (vec![*i], false),
            _ => (Vec::new(), false),
        }
    }

    /// Draws the next fault of this nemesis for `n` nodes.
    pub fn choose(kind: NemesisKind, n: usize, rng: &mut Rng) -> Option<Fault> {
        let kind = match kind {
            NemesisKind::None => return None,
            NemesisKind::Mix => {
                let mut kinds = vec![NemesisKind::Kill, NemesisKind::Pause];
                if n > 1 {
                    kinds.push(NemesisKind::Partition);
                    kinds.push(NemesisKind::Clog);
                }
                *rng.pick(&kinds)
            }
            k => k,
        };
        let mut all: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut all);
        Some(match kind {
            NemesisKind::Partition => match rng.below(3) {
                0 => Fault::Partition("isolate", isolate(n, all[0])),
                1 => {
                    let mut a = all[..n / 2].to_vec();
                    a.sort();
                    Fault::Partition("halves", split(n, &a))
                }
                _ => Fault::Partition("majorities-ring", majorities_ring(&all)),
            },
            NemesisKind::Kill => {
                let k = match rng.below(3) {
                    0 => 1,
                    1 => majority(n),
                    _ => n,
                };
                let mut t = all[..k].to_vec();
                t.sort();
                Fault::Kill(t)
            }
            NemesisKind::Pause => {
                let k = if rng.chance(0.5) { 1 } else { majority(n) };
                let mut t = all[..k].to_vec();
                t.sort();
                Fault::Pause(t)
            }
            NemesisKind::Clog => {
                let k = rng.range(1, (n as u64 - 1).max(1)) as usize;
                let set = &all[..k];
                let mut links: Vec<(usize, usize)> = Vec::new();
                for &a in set {
                    for b in 0..n {
                        let l = (a.min(b), a.max(b));
                        if a != b && !links.contains(&l) {
                            links.push(l);
                        }
                    }
                }
                let mut cut = links.clone();
                rng.shuffle(&mut cut);
                let mut restore = links;
                rng.shuffle(&mut restore);
                Fault::Clog { cut, restore }
            }
            NemesisKind::Wipe => Fault::Wipe(all[0]),
            NemesisKind::None | NemesisKind::Mix => unreachable!("resolved above"),
        })
    }

    /// How the history shows this fault.
    pub fn describe(&self, names: &[String]) -> NemesisValue {
        let list = |v: &[usize]| v.iter().map(|i| names[*i].clone()).collect::<Vec<_>>();
        match self {
            Fault::Partition(shape, grudges) => {
                let targets: Vec<String> = grudges
                    .iter()
                    .filter(|(_, g)| !g.is_empty())
                    .map(|(i, _)| names[*i].clone())
                    .collect();
                let detail = grudges
                    .iter()
                    .map(|(i, g)| format!("{} drops {}", names[*i], list(g).join(",")))
                    .collect::<Vec<_>>()
                    .join("; ");
                NemesisValue {
                    kind: format!("partition-{shape}"),
                    targets,
                    detail,
                }
            }
            Fault::Kill(t) => NemesisValue {
                kind: "kill".into(),
                targets: list(t),
                detail: "SIGKILL".into(),
            },
            Fault::Pause(t) => NemesisValue {
                kind: "pause".into(),
                targets: list(t),
                detail: "SIGSTOP".into(),
            },
            Fault::Wipe(i) => NemesisValue {
                kind: "wipe".into(),
                targets: vec![names[*i].clone()],
                detail: "SIGKILL, delete the data directory; heal restarts it without bootstrap"
                    .into(),
            },
            Fault::Clog { cut, restore } => {
                let l = |v: &[(usize, usize)]| {
                    v.iter()
                        .map(|(a, b)| format!("{}-{}", names[*a], names[*b]))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let mut targets: Vec<String> = cut
                    .iter()
                    .flat_map(|(a, b)| [names[*a].clone(), names[*b].clone()])
                    .collect();
                targets.sort();
                targets.dedup();
                NemesisValue {
                    kind: "clog".into(),
                    targets,
                    detail: format!("cut {}; restore {}", l(cut), l(restore)),
                }
            }
        }
    }

    /// Injects the fault (all at once; the runner cuts a clog's links one
    /// at a time instead, see `run::apply_fault`).
    pub fn apply(&self, c: &mut Cluster) -> anyhow::Result<()> {
        match self {
            Fault::Partition(_, grudges) => c.partition(grudges),
            Fault::Clog { cut, .. } => c.partition(&link_grudges(c.nodes.len(), cut)),
            Fault::Kill(t) => t.iter().try_for_each(|i| c.kill(*i)),
            Fault::Pause(t) => t.iter().try_for_each(|i| c.pause(*i)),
            Fault::Wipe(i) => c.wipe(*i),
        }
    }

    /// Undoes the fault.
    pub fn heal(&self, c: &mut Cluster) -> anyhow::Result<()> {
        match self {
            Fault::Partition(..) | Fault::Clog { .. } => c.heal_network(),
            Fault::Kill(t) => t.iter().try_for_each(|i| c.start(*i)),
            Fault::Pause(t) => t.iter().try_for_each(|i| c.resume(*i)),
            Fault::Wipe(i) => c.start(*i),
        }
    }
}

/// The timing of a nemesis: quiet periods and fault durations are drawn
/// uniformly from `interval / 2 ..= interval * 3 / 2`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub interval: Duration,
}

impl Schedule {
    pub fn next_wait(&self, rng: &mut Rng) -> Duration {
        let ms = self.interval.as_millis() as u64;
        Duration::from_millis(rng.range(ms / 2, ms * 3 / 2).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolate_and_halves_are_symmetric() {
        let g = isolate(3, 1);
        assert_eq!(g, vec![(0, vec![1]), (1, vec![0, 2]), (2, vec![1])]);
        let g = split(5, &[0, 3]);
        assert_eq!(g[0], (0, vec![1, 2, 4]));
        assert_eq!(g[1], (1, vec![0, 3]));
    }

    #[test]
    fn majorities_ring_gives_every_node_a_distinct_majority() {
        for n in [3usize, 5, 7] {
            let ring: Vec<usize> = (0..n).collect();
            let g = majorities_ring(&ring);
            let mut majorities = Vec::new();
            for (i, drops) in &g {
                let hears: Vec<usize> = (0..n).filter(|x| !drops.contains(x)).collect();
                assert!(hears.contains(i), "a node always hears itself");
                assert_eq!(hears.len(), majority(n), "n={n}: {g:?}");
                majorities.push(hears);
            }
            majorities.sort();
            majorities.dedup();
            assert_eq!(majorities.len(), n, "no two nodes share a majority (n={n})");
        }
        // Three nodes: one-directional ring.
        assert_eq!(
            majorities_ring(&[0, 1, 2]),
            vec![(0, vec![2]), (1, vec![0]), (2, vec![1])]
        );
    }

    #[test]
    fn choices_follow_the_seed_and_respect_the_node_count() {
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..20)
                .map(|_| Fault::choose(NemesisKind::Mix, 3, &mut r))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        let mut r = Rng::new(1);
        for _ in 0..50 {
            match Fault::choose(NemesisKind::Mix, 1, &mut r).unwrap() {
                Fault::Partition(..) | Fault::Clog { .. } => panic!("no partition with one node"),
                Fault::Kill(t) | Fault::Pause(t) => assert_eq!(t, vec![0]),
                Fault::Wipe(_) => panic!("mix never wipes"),
            }
        }
        assert!(Fault::choose(NemesisKind::None, 3, &mut r).is_none());
    }

    #[test]
    fn clogs_cut_and_restore_the_same_links() {
        let mut r = Rng::new(3);
        for _ in 0..20 {
            let Some(Fault::Clog { cut, restore }) = Fault::choose(NemesisKind::Clog, 3, &mut r)
            else {
                panic!()
            };
            assert!(!cut.is_empty());
            let (mut a, mut b) = (cut.clone(), restore.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b);
            assert!(cut.iter().all(|(x, y)| x < y && *y < 3));
        }
        assert_eq!(
            link_grudges(3, &[(0, 2)]),
            vec![(0, vec![2]), (1, vec![]), (2, vec![0])]
        );
    }

    #[test]
    fn wipes_pick_every_node_sometimes() {
        let mut r = Rng::new(11);
        let mut seen = [false; 3];
        for _ in 0..60 {
            let Some(Fault::Wipe(i)) = Fault::choose(NemesisKind::Wipe, 3, &mut r) else {
                panic!("the wipe nemesis wipes")
            };
            seen[i] = true;
        }
        assert_eq!(seen, [true; 3], "not always node 1");
    }

    #[test]
    fn leader_faults_hit_the_leader_alone() {
        let mut r = Rng::new(5);
        for kind in [
            NemesisKind::Partition,
            NemesisKind::Kill,
            NemesisKind::Pause,
        ] {
            for _ in 0..10 {
                let f = Fault::choose_for_leader(kind, 3, 2, &mut r).unwrap();
                assert_eq!(f.minority(3).0, vec![2], "{f:?}");
            }
        }
        assert_eq!(
            Fault::Partition("isolate", isolate(3, 1)).minority(3),
            (vec![1], true)
        );
        assert_eq!(
            Fault::Partition("halves", split(5, &[0, 3])).minority(5),
            (vec![0, 3], true)
        );
        assert_eq!(Fault::Kill(vec![0, 1]).minority(3).0, Vec::<usize>::new());
    }

    #[test]
    fn descriptions_name_the_nodes() {
        let names: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        let d = Fault::Partition("isolate", isolate(3, 0)).describe(&names);
        assert_eq!(d.kind, "partition-isolate");
        assert!(d.detail.starts_with("n1 drops n2,n3"), "{}", d.detail);
        assert_eq!(
            Fault::Kill(vec![1, 2]).describe(&names).targets,
            vec!["n2", "n3"]
        );
    }
}
