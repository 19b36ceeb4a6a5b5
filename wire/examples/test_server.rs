//! Runs the integration tests' in-memory handler as a standalone server, for
//! trying clients by hand:
//!
//! ```text
//! cargo run -p trireme-wire --example test_server -- 127.0.0.1:3307
//! mariadb --protocol=TCP -h127.0.0.1 -P3307 -utester -ps3cret! -e 'SELECT 1'
//! ```
//!
//! Accounts: `tester`/`s3cret!`, `sbtest`/`sbtest`, `nopw` (no password).
//! Serves sysbench's oltp statements against a 1000-row `sbtest1`.

#[path = "../tests/it/common.rs"]
#[allow(dead_code)]
mod common;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3307".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("listening on {}", listener.local_addr().unwrap());
    let shared = common::Shared::new(trireme_wire::server::DEFAULT_SERVER_VERSION);
    trireme_wire::serve(
        listener,
        std::sync::Arc::new(common::config()),
        move |info: &trireme_wire::SessionInfo| Ok(common::TestHandler::new(shared.clone(), info)),
    )
    .await
    .expect("serve");
}
