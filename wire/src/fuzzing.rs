//! Entry points for fuzzing and random-input tests (used by `wire/fuzz` and
//! by the stable random-input tests). Not part of the stable API.
//!
//! - [`decode_everything`] feeds arbitrary bytes to every decoder: the
//!   packet framing (in arbitrary chunks) and each message parser. It checks
//!   the framing invariants and must never panic.
//! - [`run_session`] runs the real connection state machine
//!   ([`crate::serve_connection`]) over an in-memory pipe against a small
//!   handler, either feeding raw bytes before login or, after a real login,
//!   a sequence of arbitrary command packets. It returns when the server
//!   task ends; a panic in the server is re-raised.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mysql_common::constants::{CapabilityFlags, ColumnType};
use mysql_common::value::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::buf::Reader;
use crate::codec::{PacketCodec, Timeouts};
use crate::protocol;
use crate::{
    ColumnDef, Handler, MySqlError, PrepareInfo, ServerConfig, SessionInfo, StaticUsers, StmtResult,
};

/// Feeds `data` to every decoder. Panics only if an invariant breaks.
pub fn decode_everything(data: &[u8]) {
    // Framing, with the input cut into chunks whose sizes come from the
    // input itself, and a small limit so the limit path is hit too.
    let max = 1 << 12;
    let mut codec = PacketCodec::new(max);
    if data.first().is_some_and(|b| b & 1 == 1) {
        codec = codec.without_seq_check();
    }
    let mut src = BytesMut::new();
    let mut rest = data;
    let mut step = 1usize;
    'outer: while !rest.is_empty() {
        let n = step.min(rest.len());
        src.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        step = (step * 7 + usize::from(rest.first().copied().unwrap_or(1))) % 97 + 1;
        loop {
            match codec.decode(&mut src) {
                Ok(Some(p)) => assert!(p.len() <= max, "payload over the limit"),
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    // Message parsers.
    let _ = protocol::parse_handshake_response(data);
    let _ = protocol::parse_command(data);
    let _ = protocol::parse_column_def(data);
    for caps in [
        CapabilityFlags::empty(),
        CapabilityFlags::CLIENT_SECURE_CONNECTION | CapabilityFlags::CLIENT_PLUGIN_AUTH,
    ] {
        let _ = protocol::parse_change_user(data, caps);
    }
    if let Ok((_, block)) = protocol::parse_execute_head(data) {
        let n = usize::from(data.first().copied().unwrap_or(0) % 9);
        let mut types = None;
        let mut long = vec![None; n];
        if let Ok(v) = protocol::decode_execute_params(block, n, &mut types, &mut long) {
            assert_eq!(v.len(), n);
        }
        let _ = protocol::decode_execute_params(block, n, &mut types, &mut long);
    }
    let mut r = Reader::new(data);
    while let Ok(ty) = r.u8() {
        if crate::value::decode_param(ty, ty & 1 == 1, &mut r).is_err() {
            break;
        }
    }
}

/// A small handler for fuzzing: echoes parameters, returns rows of many
/// types, and fails on request.
#[derive(Debug, Default)]
pub struct FuzzHandler {
    in_trans: bool,
}

fn fuzz_rows() -> StmtResult {
    use ColumnType::*;
    let columns = vec![
        ColumnDef::new("a", MYSQL_TYPE_TINY),
        ColumnDef::new("b", MYSQL_TYPE_DATETIME),
        ColumnDef::new("c", MYSQL_TYPE_VAR_STRING),
        ColumnDef::new("d", MYSQL_TYPE_DOUBLE),
        ColumnDef::new("e", MYSQL_TYPE_TIME),
    ];
    let rows = vec![
        vec![
            Value::Int(1),
            Value::Date(2020, 1, 2, 3, 4, 5, 6),
            Value::Bytes(b"x".to_vec()),
            Value::Double(0.5),
            Value::Time(false, 0, 1, 2, 3, 0),
        ],
        vec![Value::NULL; 5],
        // Does not fit TINY: must become an ERR, not a panic.
        vec![
            Value::Int(1000),
            Value::Bytes(b"garbage".to_vec()),
            Value::NULL,
            Value::Bytes(b"nan?".to_vec()),
            Value::Int(3),
        ],
    ];
    StmtResult::Rows { columns, rows }
}

impl Handler for FuzzHandler {
    type Statement = u16;

    async fn query(&mut self, sql: &str) -> Vec<Result<StmtResult, MySqlError>> {
        sql.split(';')
            .map(|s| match s.trim().as_bytes().first() {
                Some(b'b') => {
                    self.in_trans = true;
                    Ok(StmtResult::ok())
                }
                Some(b'r') => Ok(fuzz_rows()),
                Some(b'e') => Err(MySqlError::syntax(s)),
                _ => Ok(StmtResult::ok()),
            })
            .collect()
    }

    async fn prepare(&mut self, sql: &str) -> Result<(u16, PrepareInfo), MySqlError> {
        let n = sql.matches('?').count().min(64) as u16;
        let columns = (0..n)
            .map(|_| ColumnDef::new("?", ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        Ok((n, PrepareInfo { params: n, columns }))
    }

    async fn execute(
        &mut self,
        stmt: &mut u16,
        params: Vec<Value>,
    ) -> Result<StmtResult, MySqlError> {
        assert_eq!(
            params.len(),
            usize::from(*stmt),
            "driver passed a wrong param count"
        );
        if params.is_empty() {
            return Ok(fuzz_rows());
        }
        let columns = params
            .iter()
            .map(|_| ColumnDef::new("p", ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        Ok(StmtResult::Rows {
            columns,
            rows: vec![params],
        })
    }

    async fn init_db(&mut self, db: &str) -> Result<(), MySqlError> {
        if db.starts_with('x') {
            Err(MySqlError::unknown_database(db))
        } else {
            Ok(())
        }
    }

    fn status(&self) -> mysql_common::constants::StatusFlags {
        use mysql_common::constants::StatusFlags as S;
        if self.in_trans {
            S::SERVER_STATUS_IN_TRANS | S::SERVER_STATUS_AUTOCOMMIT
        } else {
            S::SERVER_STATUS_AUTOCOMMIT
        }
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
}

fn fuzz_config() -> Arc<ServerConfig> {
    let mut c = ServerConfig::new(
        StaticUsers::new()
            .with_user("fuzz", "")
            .with_user("pw", "pw"),
    );
    c.max_allowed_packet = 1 << 16;
    c.max_prepared_stmt_count = 8;
    // Nothing waits on these in practice: the client side closes its write
    // half when the input is used up, and the server then sees EOF.
    c.connect_timeout = Duration::from_secs(5);
    c.net_timeout = Duration::from_secs(5);
    c.wait_timeout = Some(Duration::from_secs(5));
    Arc::new(c)
}

/// Runs one server connection on `data` (see the module docs). The first
/// byte picks the mode: even = raw bytes before login, odd = log in, then
/// commands (each: one length byte, then that many payload bytes).
pub fn run_session(data: &[u8]) {
    RUNTIME.with(|rt| rt.block_on(session(data)));
}

async fn session(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (client, server) = tokio::io::duplex(1 << 16);
    let server_task = tokio::spawn(crate::serve_connection(
        server,
        None,
        fuzz_config(),
        |_: &SessionInfo| Ok(FuzzHandler::default()),
    ));
    let client: Box<dyn crate::codec::AsyncStream> = Box::new(client);
    let stream = if mode & 1 == 0 {
        client
    } else {
        let mut opts = crate::client::ClientOptions::new("fuzz", "");
        let t = Some(Duration::from_secs(5));
        opts.timeouts = Timeouts { idle: t, io: t };
        match crate::client::Client::handshake(client, &opts).await {
            Ok(c) => {
                let (s, _, _) = c.into_packet_stream().into_parts();
                s
            }
            Err(e) => panic!("login of the fuzz client failed: {e}"),
        }
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    if mode & 1 == 0 {
        let _ = wr.write_all(rest).await;
    } else {
        let mut frames = Vec::new();
        let mut r = Reader::new(rest);
        while let Ok(len) = r.u8() {
            let body = r.take(usize::from(len)).unwrap_or_else(|_| r.rest());
            let mut codec = PacketCodec::new(usize::MAX);
            codec.encode(body, &mut frames);
        }
        let _ = wr.write_all(&frames).await;
    }
    let _ = wr.shutdown().await;
    drop(wr);
    match server_task.await {
        Ok(_) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("server task failed: {e}"),
    }
    let _ = drain.await;
}
