//! Named user locks (GET_LOCK and relatives) between real sessions over the
//! MySQL protocol: exclusion, re-entrancy, timeouts, a waiter that gets the
//! lock when the holder releases it or disconnects. Expected answers were
//! taken from MariaDB 10.11.

mod support;

use std::time::Duration;

use mysql_async::prelude::*;
use support::*;

async fn one(c: &mut mysql_async::Conn, sql: &str) -> Option<i64> {
    c.query_first::<Option<i64>, _>(sql)
        .await
        .expect("query")
        .expect("a row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_lock_excludes_other_sessions_until_released() {
    let node = start_node().await;
    let mut a = connect(&node, None).await;
    let mut b = connect(&node, None).await;
    assert_eq!(one(&mut a, "SELECT GET_LOCK('mig', 0)").await, Some(1));
    // Re-entrant for its holder.
    assert_eq!(one(&mut a, "SELECT GET_LOCK('mig', 0)").await, Some(1));
    // Names compare exactly.
    assert_eq!(one(&mut b, "SELECT GET_LOCK('MIG', 0)").await, Some(1));
    assert_eq!(one(&mut b, "SELECT GET_LOCK('mig', 0.2)").await, Some(0));
    assert_eq!(one(&mut b, "SELECT IS_FREE_LOCK('mig')").await, Some(0));
    let holder = one(&mut b, "SELECT IS_USED_LOCK('mig')").await;
    let a_id = one(&mut a, "SELECT CONNECTION_ID()").await;
    assert_eq!(holder, a_id);
    assert_eq!(one(&mut b, "SELECT RELEASE_LOCK('mig')").await, Some(0));
    assert_eq!(one(&mut b, "SELECT RELEASE_LOCK('nope')").await, None);
    // Taken twice: free after the second release.
    assert_eq!(one(&mut a, "SELECT RELEASE_LOCK('mig')").await, Some(1));
    assert_eq!(one(&mut b, "SELECT GET_LOCK('mig', 0)").await, Some(0));
    assert_eq!(one(&mut a, "SELECT RELEASE_LOCK('mig')").await, Some(1));
    assert_eq!(one(&mut b, "SELECT GET_LOCK('mig', 0)").await, Some(1));
    assert_eq!(one(&mut b, "SELECT RELEASE_ALL_LOCKS()").await, Some(2));
    assert_eq!(one(&mut a, "SELECT IS_FREE_LOCK('MIG')").await, Some(1));
    assert_eq!(one(&mut a, "SELECT GET_LOCK(NULL, 0)").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_gets_the_lock_when_the_holder_releases_or_disconnects() {
    let node = start_node().await;
    let mut a = connect(&node, None).await;
    let mut b = connect(&node, None).await;
    let mut c = connect(&node, None).await;
    assert_eq!(one(&mut a, "SELECT GET_LOCK('job', 0)").await, Some(1));
    // B waits (a generous timeout: it must be woken, not time out).
    let waiter = tokio::spawn(async move {
        let got = one(&mut b, "SELECT GET_LOCK('job', 120)").await;
        (got, b)
    });
    // Other sessions keep working while B waits; B cannot finish while A
    // holds the lock, whenever its statement arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(one(&mut c, "SELECT 1 + 1").await, Some(2));
    assert!(!waiter.is_finished(), "B must still be waiting");
    assert_eq!(one(&mut a, "SELECT RELEASE_LOCK('job')").await, Some(1));
    let (got, mut b) = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("B was woken")
        .expect("B's task");
    assert_eq!(got, Some(1));
    let b_id = one(&mut b, "SELECT CONNECTION_ID()").await;
    assert_eq!(one(&mut c, "SELECT IS_USED_LOCK('job')").await, b_id);

    // A session that ends frees what it held.
    let waiter = tokio::spawn(async move { one(&mut a, "SELECT GET_LOCK('job', 120)").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.disconnect().await.expect("B disconnects");
    let got = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("A was woken")
        .expect("A's task");
    assert_eq!(got, Some(1));
}
