//! Added latency of the proxy: `SELECT 1` round trips on one connection
//! straight to a node and on one through the proxy, interleaved in batches
//! so both see the same machine load. Prints p50/p90/p99/mean per path.
//!
//! ```text
//! cargo run --release -p trireme-proxy --example latency -- \
//!     DIRECT_ADDR PROXY_ADDR [USER] [PASSWORD] [ROUND_TRIPS]
//! ```

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

fn opts(addr: &str, user: &str, password: &str) -> anyhow::Result<mysql_async::Opts> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("{addr} is not host:port"))?;
    Ok(mysql_async::OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse()?)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
        .into())
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "{name:<7} n={} p50={:?} p90={:?} p99={:?} mean={:?}",
        v.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        mean
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        anyhow::bail!("usage: latency DIRECT_ADDR PROXY_ADDR [USER] [PASSWORD] [ROUND_TRIPS]");
    }
    let user = args.get(2).map_or("root", String::as_str);
    let password = args.get(3).map_or("", String::as_str);
    let n: usize = args.get(4).map_or(Ok(10_000), |s| s.parse())?;
    let mut direct = mysql_async::Conn::new(opts(&args[0], user, password)?).await?;
    let mut proxied = mysql_async::Conn::new(opts(&args[1], user, password)?).await?;
    let (mut d, mut p) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..(n / 100).max(1) {
        for (conn, out) in [(&mut direct, &mut d), (&mut proxied, &mut p)] {
            for _ in 0..100 {
                let t = Instant::now();
                let _: Option<i64> = conn.query_first("SELECT 1").await?;
                out.push(t.elapsed());
            }
        }
    }
    summary("direct", d);
    summary("proxy", p);
    direct.disconnect().await?;
    proxied.disconnect().await?;
    Ok(())
}
