//! The server exercised by mysql_async: text and binary protocol, every
//! common column type, NULLs, prepared statements reused many times, values
//! over 16 MiB in both directions (multi-frame packets and long data),
//! multi-statements, errors, OK fields, change user, reset, ping.

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use trireme_wire::{AuthPlugin, Value};

use crate::common::{self, big_value, types_table, PASSWORD, USER};

fn opts(port: u16, user: &str, pass: &str) -> Opts {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(pass))
        .prefer_socket(false)
        .into()
}

async fn connect(port: u16) -> Conn {
    Conn::new(opts(port, USER, PASSWORD))
        .await
        .expect("connect")
}

fn values(row: Row) -> Vec<Value> {
    row.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_binary_result_sets_cover_common_types() {
    let server = common::start(common::config()).await;
    let mut conn = connect(server.port()).await;
    let (cols, expected) = types_table();

    // Text protocol: every value arrives as text.
    let rows: Vec<Row> = conn.query("SELECT * FROM types").await.unwrap();
    assert_eq!(rows.len(), 2);
    let text: Vec<Value> = values(rows[0].clone());
    let want_text = [
        "-128",
        "255",
        "-32768",
        "65535",
        "-8388608",
        "-2147483648",
        "4294967295",
        "-9223372036854775808",
        "18446744073709551615",
        "1.5",
        // MariaDB 10.11 prints a double in full down to 1e-15.
        "-0.000000000225",
        "12345.67",
        "héllo wörld",
        "fixed",
        "\u{0}\u{1}\u{2}",
        "2024-02-29",
        "1999-12-31 23:59:58.123456",
        "2038-01-19 03:14:07",
        "-26:03:04",
        "2155",
    ];
    for (i, (got, want)) in text.iter().zip(want_text).enumerate() {
        if cols[i].name == "blob" {
            assert_eq!(got, &Value::Bytes(vec![0, 1, 2, 255, 254]));
        } else {
            assert_eq!(
                got,
                &Value::Bytes(want.as_bytes().to_vec()),
                "column {}",
                cols[i].name
            );
        }
    }
    assert!(values(rows[1].clone()).iter().all(|v| *v == Value::NULL));
    // Column metadata reaches the client.
    let c = rows[0].columns_ref();
    assert_eq!(c[1].name_str(), "utiny");
    assert!(c[1]
        .flags()
        .contains(mysql_async::consts::ColumnFlags::UNSIGNED_FLAG));
    assert_eq!(
        c[15].column_type(),
        mysql_async::consts::ColumnType::MYSQL_TYPE_DATE
    );

    // Binary protocol: values decoded by column type.
    let rows: Vec<Row> = conn.exec("SELECT * FROM types", ()).await.unwrap();
    let bin = values(rows[0].clone());
    let mut want = expected[0].clone();
    // mysql_async reads small unsigned ints as Int, u64 as UInt.
    want[3] = Value::Int(65535);
    want[6] = Value::Int(i64::from(u32::MAX));
    for (i, (got, want)) in bin.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "column {}", cols[i].name);
    }
    assert!(values(rows[1].clone()).iter().all(|v| *v == Value::NULL));
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statement_reused_many_times_with_nulls() {
    let server = common::start(common::config()).await;
    let mut conn = connect(server.port()).await;
    let stmt = conn.prep("SELECT ?, ?, ?, ?").await.unwrap();
    for i in 0..300i64 {
        let params: Vec<Value> = vec![
            if i % 3 == 0 {
                Value::NULL
            } else {
                Value::Int(i - 150)
            },
            Value::Bytes(format!("row {i}").into_bytes()),
            if i % 2 == 0 {
                Value::Double(i as f64 / 4.0)
            } else {
                Value::NULL
            },
            Value::Date(2000 + (i % 50) as u16, 1 + (i % 12) as u8, 1, 2, 3, 4, 0),
        ];
        let rows: Vec<Row> = conn.exec(&stmt, params.clone()).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(values(rows[0].clone()), params, "iteration {i}");
    }
    // Every kind of value round-trips through the binary protocol.
    let all = vec![
        Value::Int(i64::MIN),
        Value::UInt(u64::MAX),
        Value::Float(-0.5),
        Value::Double(1e300),
        Value::Bytes(vec![0, 159, 146, 150, 0]),
        Value::Date(2021, 12, 31, 23, 59, 59, 999_999),
        Value::Time(true, 34, 22, 59, 59, 1),
        Value::NULL,
    ];
    let stmt8 = conn.prep("SELECT ?, ?, ?, ?, ?, ?, ?, ?").await.unwrap();
    for _ in 0..3 {
        let rows: Vec<Row> = conn.exec(&stmt8, all.clone()).await.unwrap();
        assert_eq!(values(rows[0].clone()), all);
    }
    conn.close(stmt).await.unwrap();
    // A closed statement is gone for the server too.
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_over_16_mib_in_both_directions() {
    let server = common::start(common::config()).await;
    let mut conn = connect(server.port()).await;
    let n = (16 << 20) + 12345;

    // Server to client: a row larger than one frame.
    let rows: Vec<Row> = conn.exec("SELECT BIG(?)", (n as i64,)).await.unwrap();
    let v = values(rows[0].clone());
    match &v[0] {
        Value::Bytes(b) => {
            assert_eq!(b.len(), n);
            assert!(*b == big_value(n));
        }
        other => panic!("unexpected {:?}", std::mem::discriminant(other)),
    }
    let rows: Vec<Row> = conn.query(format!("SELECT BIG({n})")).await.unwrap();
    assert_eq!(rows[0].as_ref(0), Some(&Value::Bytes(big_value(n))));

    // Client to server, as a COM_QUERY of several frames.
    let literal = "x".repeat(n);
    let len: i64 = conn
        .query_first(format!("SELECT LENGTH('{literal}')"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(len as usize, n);

    // Client to server, as COM_STMT_SEND_LONG_DATA (mysql_async sends
    // parameters of more than 16 MiB that way), echoed back.
    let payload = big_value(n);
    let rows: Vec<Row> = conn
        .exec("SELECT ?, ?", (payload.clone(), 7i64))
        .await
        .unwrap();
    let v = values(rows[0].clone());
    assert!(v[0] == Value::Bytes(payload));
    assert_eq!(v[1], Value::Int(7));
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_statements_ok_fields_and_errors() {
    let server = common::start(common::config()).await;
    let mut conn = connect(server.port()).await;

    conn.query_drop("AFFECT 3 42").await.unwrap();
    assert_eq!(conn.affected_rows(), 3);
    assert_eq!(conn.last_insert_id(), Some(42));
    assert_eq!(conn.get_warnings(), 1);
    assert_eq!(conn.info(), "Rows matched: 3  Changed: 3  Warnings: 1");

    // Several result sets, then an error that ends the batch.
    let mut result = conn
        .query_iter(
            "SELECT 1; SELECT 'two', NULL; AFFECT 5 0; FAIL 1062 23000 Duplicate entry; SELECT 9",
        )
        .await
        .unwrap();
    let first: Vec<i64> = result.collect().await.unwrap();
    assert_eq!(first, vec![1]);
    let second: Vec<(String, Option<i64>)> = result.collect().await.unwrap();
    assert_eq!(second, vec![("two".to_string(), None)]);
    let third: Vec<Row> = result.collect().await.unwrap();
    assert!(third.is_empty());
    let err = result.collect::<Row>().await.unwrap_err();
    match err {
        mysql_async::Error::Server(e) => {
            assert_eq!(e.code, 1062);
            assert_eq!(e.state, "23000");
            assert_eq!(e.message, "Duplicate entry");
        }
        other => panic!("unexpected {other:?}"),
    }
    drop(result);

    // The connection is still usable; errors on prepare and syntax errors.
    let err = conn.query_drop("BOGUS STATEMENT").await.unwrap_err();
    assert!(
        matches!(err, mysql_async::Error::Server(ref e) if e.code == 1064 && e.state == "42000")
    );
    let err = conn.prep("NOT ? VALID").await.unwrap_err();
    assert!(matches!(err, mysql_async::Error::Server(ref e) if e.code == 1064));
    // A handler bug (row wider than its columns) is an error, not garbage.
    let err = conn.query_drop("SELECT BAD ROW").await.unwrap_err();
    assert!(matches!(err, mysql_async::Error::Server(ref e) if e.code == 1105));
    let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_reset_ping_change_user() {
    let server = common::start(common::config()).await;
    let mut conn = connect(server.port()).await;
    // mysql_async's transaction API relies on the server's status flags.
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .unwrap();
    let x: Option<i64> = tx.query_first("SELECT 5").await.unwrap();
    assert_eq!(x, Some(5));
    tx.commit().await.unwrap();

    conn.ping().await.unwrap();
    assert!(conn.reset().await.unwrap());
    let id: Option<u64> = conn.query_first("SELECT CONNECTION_ID()").await.unwrap();
    assert_eq!(id, Some(u64::from(conn.id())));

    conn.change_user(
        mysql_async::ChangeUserOpts::default()
            .with_user(Some("nopw".into()))
            .with_pass(Some(String::new()))
            .with_db_name(Some("test".into())),
    )
    .await
    .unwrap();
    let who: Option<String> = conn.query_first("SELECT USER()").await.unwrap();
    assert_eq!(who.as_deref(), Some("nopw@127.0.0.1"));
    let db: Option<String> = conn.query_first("SELECT DATABASE()").await.unwrap();
    assert_eq!(db.as_deref(), Some("test"));
    conn.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_plugins_and_failures() {
    for plugin in [AuthPlugin::NativePassword, AuthPlugin::CachingSha2Password] {
        let mut config = common::config();
        config.default_auth_plugin = plugin;
        let server = common::start(config).await;
        let port = server.port();

        // Right password, wrong password, unknown user, empty password.
        let mut conn = Conn::new(opts(port, USER, PASSWORD)).await.unwrap();
        let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
        assert_eq!(one, Some(1), "{plugin:?}");
        conn.disconnect().await.unwrap();

        for (user, pass, using) in [
            (USER, "wrong", "YES"),
            ("nobody", "x", "YES"),
            (USER, "", "NO"),
        ] {
            let err = Conn::new(opts(port, user, pass)).await.unwrap_err();
            match err {
                mysql_async::Error::Server(e) => {
                    assert_eq!(e.code, 1045, "{plugin:?} {user}");
                    assert_eq!(e.state, "28000");
                    assert_eq!(
                        e.message,
                        format!(
                            "Access denied for user '{user}'@'127.0.0.1' (using password: {using})"
                        )
                    );
                }
                other => panic!("{plugin:?} {user}: unexpected {other:?}"),
            }
        }
        let mut conn = Conn::new(opts(port, "nopw", "")).await.unwrap();
        conn.ping().await.unwrap();
        conn.disconnect().await.unwrap();

        // An account with only a native hash: caching_sha2 clients are
        // switched to mysql_native_password.
        let mut conn = Conn::new(opts(port, "nativeonly", "native")).await.unwrap();
        conn.ping().await.unwrap();
        conn.disconnect().await.unwrap();
        let err = Conn::new(opts(port, "nativeonly", "wrong"))
            .await
            .unwrap_err();
        assert!(matches!(err, mysql_async::Error::Server(ref e) if e.code == 1045));

        // Unknown database at login.
        let bad_db: Opts = OptsBuilder::from_opts(opts(port, USER, PASSWORD))
            .db_name(Some("nope"))
            .into();
        let err = Conn::new(bad_db).await.unwrap_err();
        assert!(matches!(err, mysql_async::Error::Server(ref e) if e.code == 1049));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_ids_are_unique_and_pool_works() {
    let server = common::start(common::config()).await;
    // Eight connections open at once, each with its own id.
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(connect(server.port()).await);
    }
    let mut ids: Vec<u32> = conns.iter().map(|c| c.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    for c in conns {
        c.disconnect().await.unwrap();
    }
    // A pool shared by concurrent tasks.
    let pool = mysql_async::Pool::new(opts(server.port(), USER, PASSWORD));
    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get_conn().await.unwrap();
            for i in 0..20i64 {
                let v: Option<i64> = conn.exec_first("SELECT ?", (t * 100 + i,)).await.unwrap();
                assert_eq!(v, Some(t * 100 + i));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    pool.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_an_idle_connection() {
    let server = common::start(common::config()).await;
    let mut killer = connect(server.port()).await;
    let mut victim = connect(server.port()).await;
    killer
        .query_drop(format!("KILL {}", victim.id()))
        .await
        .unwrap();
    // The victim's next command fails: the server has closed it.
    assert!(victim.query_drop("SELECT 1").await.is_err());
    let err = killer.query_drop("KILL 4000000000").await.unwrap_err();
    assert!(matches!(err, mysql_async::Error::Server(ref e) if e.code == 1094));
    killer.disconnect().await.unwrap();
}
