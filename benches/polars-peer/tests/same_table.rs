//! The same DataFrame through questdb-rs 7.2.1's `flush_polars_dataframe`
//! (polars 0.54) and ours (polars 0.55), both into the embedded server,
//! gives the same table.

use arrow::array::{Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use polars_peer::{rich_frame, w2, w2_frame};
use questdb::ingress::ColumnName;
use questdb::ingress::polars::PolarsIngestOptions as PeerOptions;
use questdb_arrow::client::QuestDb;
use questdb_arrow::polars_io::PolarsIngestOptions;
use questdb_arrow::server::{Server, ServerHandle};

fn show(b: &RecordBatch) -> String {
    pretty_format_batches(&[b.slice(0, 5.min(b.num_rows()))])
        .unwrap()
        .to_string()
}

/// The two stored tables hold the same columns (by name: the peer puts the
/// designated timestamp last, we keep the frame's order) with the same
/// QuestDB types and values. `mapped_apart` lists the columns the two
/// clients map to different QuestDB types, with a type both are cast to
/// before their values are compared.
fn same_table(srv: &ServerHandle, ours: &str, peer: &str, mapped_apart: &[(&str, DataType)]) {
    let a = srv.table_batch(ours).expect("ours stored");
    let b = srv.table_batch(peer).expect("peer stored");
    println!("ours:\n{}\npeer:\n{}", show(&a), show(&b));
    assert_eq!(a.num_rows(), b.num_rows());
    let (sa, sb) = (a.schema(), b.schema());
    assert_eq!(sa.fields().len(), sb.fields().len(), "{sa:#?}\n{sb:#?}");
    for (i, fa) in sa.fields().iter().enumerate() {
        let name = fa.name();
        let (j, fb) = sb.column_with_name(name).expect("peer has the column");
        let (ca, cb) = (a.column(i), b.column(j));
        if let Some((_, common)) = mapped_apart.iter().find(|(n, _)| n == name) {
            println!(
                "{name}: ours {} ({}), peer {} ({})",
                fa.data_type(),
                fa.metadata()["questdb.column_type"],
                fb.data_type(),
                fb.metadata()["questdb.column_type"]
            );
            let as_i64 = |c: &arrow::array::ArrayRef| {
                cast(&cast(c, common).unwrap(), &DataType::Int64).unwrap()
            };
            let (ma, mb) = (as_i64(ca), as_i64(cb));
            assert_eq!(ma.null_count(), ca.null_count(), "column {name}");
            assert_eq!(&ma, &mb, "column {name}: the same values");
            continue;
        }
        assert_eq!(fa.data_type(), fb.data_type(), "column {name}");
        assert_eq!(
            fa.metadata().get("questdb.column_type"),
            fb.metadata().get("questdb.column_type"),
            "column {name}"
        );
        assert_eq!(ca, cb, "column {name}");
    }
}

#[test]
fn both_clients_store_the_same_table() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let conf = srv.conf_string();
    let ours = QuestDb::connect(&conf).unwrap();
    let peer = questdb::QuestDb::connect(&conf).unwrap();
    let peer_opts = PeerOptions::new().timestamp_column(ColumnName::new("ts").unwrap());
    let our_opts = PolarsIngestOptions::new().timestamp_column("ts");

    let (new, old) = (rich_frame!(polars055, 1000), rich_frame!(polars054, 1000));
    println!("{new}");
    ours.flush_polars_dataframe("rich_ours", &new, &our_opts)
        .unwrap();
    peer.flush_polars_dataframe("rich_peer", &old, &peer_opts)
        .unwrap();
    // Datetime(ms): we store TIMESTAMP (µs), the peer QuestDB's DATE (ms).
    // Int32: we store INT, the peer widens to LONG.
    let ms = DataType::Timestamp(TimeUnit::Millisecond, None);
    same_table(
        &srv,
        "rich_ours",
        "rich_peer",
        &[("dt_ms", ms), ("i32", DataType::Int64)],
    );

    let w = w2(50_000);
    ours.flush_polars_dataframe("w2_ours", &w2_frame!(polars055, &w), &our_opts)
        .unwrap();
    peer.flush_polars_dataframe("w2_peer", &w2_frame!(polars054, &w), &peer_opts)
        .unwrap();
    same_table(&srv, "w2_ours", "w2_peer", &[]);
}
