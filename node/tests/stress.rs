//! Many connections running random transactions over a small key range:
//! the final state must equal a serial replay of the ordered events
//! (certification on one thread, apply one write-set at a time). This is
//! what proves that parallel apply, the horizon and certification agree.

mod support;

use std::sync::Arc;

use mysql_async::prelude::*;
use rand::{Rng, SeedableRng};
use trireme_certification::{codec as cert_codec, Verdict};
use trireme_node::repl::{appliers, Delivery, Event, Replicator};
use trireme_storage::Store;

const CONNECTIONS: usize = 16;
const TXNS_PER_CONNECTION: usize = 100;
const KEYS: i64 = 24;

fn seed() -> u64 {
    std::env::var("TRIREME_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// Replays ordered events serially into a fresh store.
fn replay(events: &[Delivery]) -> Arc<Store> {
    let store = Store::new();
    let mut cert = Replicator::default_certifier(0);
    for d in events {
        match Event::decode(&d.payload).expect("every ordered event decodes") {
            Event::WriteSet(bytes) => {
                let ws = cert_codec::decode_write_set(&bytes).expect("write-set decodes");
                if let Verdict::Pass { .. } = cert.certify(&ws, d.seqno) {
                    appliers::apply_write_set(&store, &ws, d.seqno);
                }
            }
            Event::Toi {
                db,
                sql,
                tables,
                time_us,
                ..
            } => {
                cert.certify_toi(&tables, d.seqno);
                let now = trireme_storage::value::DateTime::from_unix_micros(time_us);
                let _ = trireme_sql::ddl::apply(&store, &sql, db.as_deref(), d.seqno, now);
            }
            Event::LowWater { .. } => cert.skip(d.seqno),
        }
        store.advance_horizon(d.seqno);
    }
    store
}

/// Every table's rows at the horizon, as (key, column texts).
type Dump = Vec<(String, Vec<(Vec<u8>, Vec<String>)>)>;

fn dump(store: &Store) -> Dump {
    let cat = store.catalog();
    let h = store.horizon();
    cat.all_tables()
        .map(|t| {
            let rows = t
                .rows_at(h)
                .expect("reading the in-memory store")
                .into_iter()
                .map(|(k, r)| (k, r.iter().map(|v| v.to_text_lossy()).collect()))
                .collect();
            (t.def.qualified(), rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_transactions_equal_a_serial_replay() {
    let seed = seed();
    println!("seed {seed} (TRIREME_STRESS_SEED={seed} replays)");
    let (tap, mut taps) = tokio::sync::mpsc::unbounded_channel();
    let cfg = trireme_node::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        root_password: support::ROOT_PW.into(),
        applier_threads: 4,
        ..trireme_node::config::Config::default()
    };
    let node = trireme_node::server::start_single_with_tap(cfg, Some(tap))
        .await
        .unwrap();
    let mut c = support::connect(&node, None).await;
    c.query_drop("CREATE DATABASE s").await.unwrap();
    c.query_drop("CREATE TABLE s.kv (k INT PRIMARY KEY, v BIGINT NOT NULL, u INT, UNIQUE KEY (u))")
        .await
        .unwrap();
    c.query_drop(
        "CREATE TABLE s.log (id INT AUTO_INCREMENT PRIMARY KEY, k INT, note VARCHAR(20), KEY (k))",
    )
    .await
    .unwrap();

    let mut tasks = Vec::new();
    for w in 0..CONNECTIONS {
        let mut conn = support::connect(&node, Some("s")).await;
        let mut rng =
            rand::rngs::StdRng::seed_from_u64(seed ^ (w as u64).wrapping_mul(0x9e37_79b9));
        tasks.push(tokio::spawn(async move {
            let (mut committed, mut aborted) = (0u32, 0u32);
            for _ in 0..TXNS_PER_CONNECTION {
                let mut stmts = vec!["BEGIN".to_string()];
                for _ in 0..rng.random_range(1..5) {
                    let k = rng.random_range(1..=KEYS);
                    stmts.push(match rng.random_range(0..6) {
                        0 => format!("SELECT v FROM kv WHERE k = {k}"),
                        1 => format!(
                            "INSERT INTO kv VALUES ({k}, {}, NULL)",
                            rng.random_range(0..100)
                        ),
                        2 => format!(
                            "UPDATE kv SET v = v + {} WHERE k = {k}",
                            rng.random_range(1..10)
                        ),
                        3 => format!("DELETE FROM kv WHERE k = {k}"),
                        4 => format!("UPDATE kv SET u = {} WHERE k = {k}", rng.random_range(0..6)),
                        _ => format!("INSERT INTO log (k, note) VALUES ({k}, 'w{w}')"),
                    });
                }
                stmts.push("COMMIT".into());
                let mut failed = false;
                for s in &stmts {
                    match conn.query_drop(s).await {
                        Ok(()) => {}
                        // Duplicates are statement errors: the transaction
                        // goes on without that statement.
                        Err(mysql_async::Error::Server(e)) if e.code == 1062 => {}
                        Err(mysql_async::Error::Server(e)) if e.code == 1213 => {
                            failed = true;
                            break;
                        }
                        Err(e) => panic!("unexpected error on {s}: {e}"),
                    }
                }
                if failed {
                    aborted += 1;
                    let _ = conn.query_drop("ROLLBACK").await;
                } else {
                    committed += 1;
                }
            }
            (committed, aborted)
        }));
    }
    let (mut committed, mut aborted) = (0, 0);
    for t in tasks {
        let (c, a) = t.await.unwrap();
        committed += c;
        aborted += a;
    }
    println!("committed {committed}, aborted {aborted}");
    assert!(committed > 0);

    // Everything ordered so far has been applied: the horizon equals the
    // last delivered seqno.
    let store = node.node.store.clone();
    let mut events = Vec::new();
    while let Ok(d) = taps.try_recv() {
        events.push(d);
    }
    let last = events.last().map(|d| d.seqno).unwrap();
    node.node.repl.wait_applied(last).await.unwrap();
    for (i, d) in events.iter().enumerate() {
        assert_eq!(d.seqno, i as u64 + 1, "seqnos are dense");
    }
    let serial = replay(&events);
    assert_eq!(
        dump(&store),
        dump(&serial),
        "parallel apply differs from serial replay (seed {seed})"
    );

    // Unique values stayed unique, and the table agrees with itself.
    let dups: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM s.kv WHERE u IS NOT NULL GROUP BY u HAVING COUNT(*) > 1")
        .await
        .unwrap();
    assert_eq!(dups, None, "a unique value appears twice");
}
