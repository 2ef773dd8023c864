//! High availability against small clusters of embedded servers sharing
//! one storage (replication with no lag): ingest follows the primary
//! through a failover, queries honour `target` and `zone`, and the errors
//! tell "no endpoint has the role" from "nothing reachable".

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{AckLevel, IngestOptions, QuestDb};
use questdb_arrow::protocol::egress::Role;
use questdb_arrow::server::{Server, ServerHandle, SharedStorage};

use crate::support::rows;

/// A node of a cluster: `role`, `zone`, on `storage` (a new one if none).
fn node(role: Role, zone: Option<&str>, storage: Option<&SharedStorage>) -> ServerHandle {
    let mut b = Server::builder()
        .bind("127.0.0.1:0")
        .role(role, zone.map(str::to_string));
    if let Some(s) = storage {
        b = b.shared_storage(s.clone());
    }
    b.start().unwrap()
}

fn addrs(nodes: &[&ServerHandle]) -> String {
    nodes
        .iter()
        .map(|n| n.addr().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Fast backoff so that failovers take milliseconds.
const QUICK: &str = "reconnect_initial_backoff_millis=10;reconnect_max_backoff_millis=50;";

fn ids_on(db: &QuestDb, table: &str) -> Vec<i64> {
    let batches = db
        .query_arrow(&format!("SELECT id FROM {table}"))
        .and_then(|mut c| c.fetch_all_arrow())
        .unwrap();
    let mut v = Vec::new();
    for b in &batches {
        v.extend(b.column(0).as_primitive::<Int64Type>().values().iter());
    }
    v
}

#[test]
fn ingest_follows_the_primary_through_a_failover_and_loses_nothing() {
    let a = node(Role::Primary, None, None);
    let storage = a.storage();
    let b = node(Role::Replica, None, Some(&storage));
    let c = node(Role::Replica, None, Some(&storage));
    let conf = format!(
        "ws::addr={};target=primary;{QUICK}reconnect_max_duration_millis=20000;",
        addrs(&[&a, &b, &c])
    );
    let db = Arc::new(QuestDb::connect(&conf).unwrap());
    let mut a = Some(a);
    // The stream is fed batch by batch, so the failover lands mid-stream.
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(1);
    let db2 = db.clone();
    let ingest = std::thread::spawn(move || {
        db2.ingest_batches("t", rx, &IngestOptions::new().timestamp_column("ts"))
    });
    const BATCH: i64 = 500;
    const BATCHES: i64 = 200;
    std::thread::scope(|s| {
        for k in 0..BATCHES {
            if k == 50 {
                // The primary goes away; for a while every live node is a
                // replica (the writer's reconnect rounds meet 421s), then
                // one is promoted.
                if let Some(a) = a.take() {
                    a.shutdown();
                }
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(300));
                    b.set_role(Role::Primary);
                });
            }
            if tx.send(rows(k * BATCH..(k + 1) * BATCH)).is_err() {
                panic!("ingest stopped at batch {k}");
            }
        }
    });
    drop(tx);
    let summary = ingest.join().unwrap().unwrap();
    assert!(summary.reconnects >= 1, "{summary:?}");
    // Every row is there (at least once: a batch committed just before the
    // primary went away may be sent again).
    let db_b = QuestDb::connect(&format!("ws::addr={};", b.addr())).unwrap();
    let got: BTreeSet<i64> = ids_on(&db_b, "t").into_iter().collect();
    let want: BTreeSet<i64> = (0..BATCH * BATCHES).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // Ingest never wrote through a replica: C is still one and refuses.
    let e = QuestDb::connect(&format!("ws::addr={};", c.addr()))
        .unwrap()
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert_eq!(e.role(), Some("REPLICA"));
}

#[test]
fn ingest_survives_a_replica_restarted_as_the_primary() {
    let a = node(Role::Primary, None, None);
    let storage = a.storage();
    let b = node(Role::Replica, None, Some(&storage));
    let b_addr = b.addr();
    let conf = format!(
        "ws::addr={};{QUICK}reconnect_max_duration_millis=20000;",
        addrs(&[&a, &b])
    );
    let db = QuestDb::connect(&conf).unwrap();
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(1);
    let (mut a, mut b) = (Some(a), Some(b));
    let mut restarted = None;
    std::thread::scope(|s| {
        let ingest =
            s.spawn(|| db.ingest_batches("t", rx, &IngestOptions::new().timestamp_column("ts")));
        for k in 0..100i64 {
            if k == 30 {
                // Both nodes go down; the replica comes back on its address
                // as the primary, over the same storage.
                a.take().unwrap().shutdown();
                b.take().unwrap().shutdown();
                restarted = Some(
                    Server::builder()
                        .bind(b_addr.to_string())
                        .role(Role::Primary, None)
                        .shared_storage(storage.clone())
                        .start()
                        .unwrap(),
                );
            }
            tx.send(rows(k * 100..(k + 1) * 100)).unwrap();
        }
        drop(tx);
        let summary = ingest.join().unwrap().unwrap();
        assert!(summary.reconnects >= 1, "{summary:?}");
    });
    let p = restarted.unwrap();
    let got: BTreeSet<i64> = ids_on(&QuestDb::connect(&p.conf_string()).unwrap(), "t")
        .into_iter()
        .collect();
    assert_eq!(got, (0..10_000).collect::<BTreeSet<i64>>());
}

#[test]
fn target_replica_reads_never_touch_the_primary() {
    let p = node(Role::Primary, None, None);
    let r = node(Role::Replica, None, Some(&p.storage()));
    QuestDb::connect(&p.conf_string())
        .unwrap()
        .flush_arrow_batch("t", &rows(0..10), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let before = p.connections_accepted();
    // The replica listed first: reads never open a connection to the
    // primary.
    let db = QuestDb::connect(&format!("ws::addr={};target=replica;", addrs(&[&r, &p]))).unwrap();
    for _ in 0..5 {
        assert_eq!(ids_on(&db, "t").len(), 10);
    }
    assert_eq!(
        db.borrow_reader().unwrap().server_info().role,
        Role::Replica
    );
    assert_eq!(p.connections_accepted(), before);
    // Primary listed first: looked at, closed, and the read goes to the
    // replica.
    let db = QuestDb::connect(&format!("ws::addr={};target=replica;", addrs(&[&p, &r]))).unwrap();
    let reader = db.borrow_reader().unwrap();
    assert_eq!(reader.server_info().role, Role::Replica);
    drop(reader);
    // And target=primary picks the primary wherever it is listed.
    let db = QuestDb::connect(&format!("ws::addr={};target=primary;", addrs(&[&r, &p]))).unwrap();
    assert_eq!(
        db.borrow_reader().unwrap().server_info().role,
        Role::Primary
    );
}

#[test]
fn zone_is_preferred_and_falls_back_to_other_zones() {
    let p = node(Role::Primary, Some("us"), None);
    let s = p.storage();
    let eu = node(Role::Replica, Some("eu"), Some(&s));
    let us = node(Role::Replica, Some("us"), Some(&s));
    let list = addrs(&[&eu, &us, &p]);
    let zone_of = |conf: &str| {
        let db = QuestDb::connect(&format!("ws::addr={list};{conf}")).unwrap();
        let r = db.borrow_reader().unwrap();
        (r.server_info().role, r.server_info().zone_id.clone())
    };
    assert_eq!(
        zone_of("target=replica;zone=us;"),
        (Role::Replica, Some("us".into()))
    );
    // Case-insensitive.
    assert_eq!(
        zone_of("target=replica;zone=EU;"),
        (Role::Replica, Some("eu".into()))
    );
    // No replica in the zone: the first of another zone.
    assert_eq!(
        zone_of("target=replica;zone=ap;"),
        (Role::Replica, Some("eu".into()))
    );
    // target=any with a zone: the same-zone node wins even if listed later.
    assert_eq!(zone_of("zone=us;").1, Some("us".into()));
    // target=primary ignores zones (the primary is followed across them).
    assert_eq!(
        zone_of("target=primary;zone=eu;"),
        (Role::Primary, Some("us".into()))
    );
}

#[test]
fn no_endpoint_with_the_role_is_a_role_reject_not_unreachable() {
    let p = node(Role::Primary, None, None);
    let r1 = node(Role::Replica, Some("eu"), Some(&p.storage()));
    let r2 = node(Role::Replica, None, Some(&p.storage()));
    let replicas = addrs(&[&r1, &r2]);
    // Ingest into replicas only.
    let db = QuestDb::connect(&format!("ws::addr={replicas};")).unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert_eq!(e.role(), Some("REPLICA"));
    let msg = e.to_string();
    assert!(
        msg.contains(&r1.addr().to_string()) && msg.contains(&r2.addr().to_string()),
        "{msg}"
    );
    assert!(msg.contains("every endpoint answered"), "{msg}");
    // Queries for a primary among replicas only.
    let db = QuestDb::connect(&format!("ws::addr={replicas};target=primary;")).unwrap();
    let e = db.query_arrow("SELECT 1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    // Nothing listening: a transport error, not a role reject.
    let dead: Vec<String> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        })
        .collect();
    let db = QuestDb::connect(&format!("ws::addr={};", dead.join(","))).unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_ne!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert!(e.to_string().contains("no endpoint reachable"), "{e}");
}

#[test]
fn initial_connect_retry_waits_for_a_promotion_and_async_is_refused() {
    let r = node(Role::Replica, None, None);
    let base = format!("ws::addr={};{QUICK}", r.addr());
    // Off (the default, said explicitly here: setting a reconnect_* key
    // turns it on otherwise): one round, then the role reject.
    let t = std::time::Instant::now();
    let db = QuestDb::connect(&format!("{base}initial_connect_retry=off;")).unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // On: rounds go on until the node is promoted.
    let db = QuestDb::connect(&format!(
        "{base}initial_connect_retry=on;reconnect_max_duration_millis=20000;"
    ))
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            r.set_role(Role::Primary);
        });
        db.flush_arrow_batch("t", &rows(0..3), Some("ts"), &[], AckLevel::Ok)
            .unwrap();
    });
    assert_eq!(ids_on(&db, "t"), vec![0, 1, 2]);
    // On, with a budget that runs out.
    let r2 = node(Role::Replica, None, None);
    let db = QuestDb::connect(&format!(
        "ws::addr={};{QUICK}initial_connect_retry=on;reconnect_max_duration_millis=300;",
        r2.addr()
    ))
    .unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert!(
        e.to_string().contains("reconnect_max_duration_millis"),
        "{e}"
    );
    // Unset with a reconnect_* key set: on.
    let db = QuestDb::connect(&format!(
        "ws::addr={};{QUICK}reconnect_max_duration_millis=300;",
        r2.addr()
    ))
    .unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert!(
        e.to_string().contains("reconnect_max_duration_millis"),
        "{e}"
    );
    // Async: only an AsyncSender connects in the background; pooled
    // senders and readers refuse it, naming the key.
    let db = QuestDb::connect(&format!("{base}initial_connect_retry=async;")).unwrap();
    let e = db
        .flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("initial_connect_retry"), "{e}");
    let e = db.query_arrow("SELECT 1").unwrap_err();
    assert!(e.to_string().contains("initial_connect_retry"), "{e}");
}

#[test]
fn a_demoted_primary_closes_its_writers_and_announces_the_new_epoch() {
    let p = node(Role::Primary, Some("eu"), None);
    let db = QuestDb::connect(&format!(
        "ws::addr={};{QUICK}reconnect_max_duration_millis=300;",
        p.addr()
    ))
    .unwrap();
    db.flush_arrow_batch("t", &rows(0..1), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!(db.borrow_reader().unwrap().server_info().epoch, 0);
    p.set_role(Role::Replica);
    assert_eq!(p.role(), (Role::Replica, 1));
    // The pooled writer was closed by the server (the blocking flush does
    // not resend: it reports the close, naming the new role); the next
    // call's connect meets a 421.
    let e = db
        .flush_arrow_batch("t", &rows(1..2), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("became a REPLICA"), "{e}");
    let e = db
        .flush_arrow_batch("t", &rows(1..2), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert_eq!(e.zone(), Some("eu"));
    // Reads go on, and SERVER_INFO carries the new role and epoch.
    let fresh = QuestDb::connect(&p.conf_string()).unwrap();
    let r = fresh.borrow_reader().unwrap();
    assert_eq!(
        (r.server_info().role, r.server_info().epoch),
        (Role::Replica, 1)
    );
    drop(r);
    assert_eq!(ids_on(&fresh, "t"), vec![0]);
}
