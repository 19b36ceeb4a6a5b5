//! Memory of a process whose rows are on disk: loads `ROWS` sysbench-shaped
//! rows (about 200 bytes each) into the fjall store with a `CACHE_MIB`
//! block cache, reads every row back in a scattered order, and prints the
//! resident set (VmRSS, VmHWM) next to the data's size on disk.
//!
//! `cargo run --release -j2 -p trireme-storage --example lsm_rss -- 2000000 64`

use trireme_storage::catalog::{ColumnDef, IndexDef, TableDef};
use trireme_storage::keycode;
use trireme_storage::lsm::LsmEngine;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::{ApplyBatch, Engine, Table};

fn def() -> TableDef {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    TableDef {
        db: "sbtest".into(),
        name: "sbtest1".into(),
        columns: vec![
            ColumnDef::new("id", int.clone()),
            ColumnDef::new("k", int),
            ColumnDef::new("c", SqlType::Char(120)),
            ColumnDef::new("pad", SqlType::Char(60)),
        ],
        primary: Some(vec![0]),
        indexes: vec![IndexDef {
            name: "k_1".into(),
            columns: vec![1],
            unique: false,
            id: 1,
        }],
        next_index_id: 2,
        engine: "InnoDB".into(),
        collation: trireme_storage::collation::Collation::default(),
        comment: String::new(),
        version: 0,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    }
}

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let cache_mib: u64 = args.next().map_or(Ok(64), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let engine = LsmEngine::open(dir.path(), cache_mib << 20)?;
    let t = Table::create(def(), &Engine::Lsm(engine.clone()))?;
    let started = std::time::Instant::now();
    let mut seqno = 0;
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        seqno += 1;
        let mut b = ApplyBatch::new();
        for &id in chunk {
            let row = vec![
                Value::Int(id),
                Value::Int(id * 7 % rows),
                Value::Str(format!("{:0>119}", id * 31)),
                Value::Str(format!("{:0>59}", id * 17)),
            ];
            t.install_into(
                &mut b,
                &keycode::encode_key([&row[0]]),
                seqno,
                Some(row.into()),
            );
        }
        b.commit(Some(seqno))?;
    }
    let loaded = started.elapsed();
    println!(
        "loaded {rows} rows in {loaded:.1?}; VmRSS {} VmHWM {}",
        status("VmRSS"),
        status("VmHWM")
    );
    let started = std::time::Instant::now();
    let mut found = 0u64;
    let mut id = 0i64;
    for _ in 0..rows {
        id = (id + 7919) % rows;
        if t.get(&keycode::encode_key([&Value::Int(id)]), seqno)?
            .is_some()
        {
            found += 1;
        }
    }
    println!(
        "read {found} rows in {:.1?}; VmRSS {} VmHWM {}; cache {} MiB in use of {cache_mib}; {} MiB on disk",
        started.elapsed(),
        status("VmRSS"),
        status("VmHWM"),
        engine.cache_bytes() >> 20,
        engine.disk_space() >> 20,
    );
    Ok(())
}
