//! The `questdb-arrow` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use questdb_arrow::protocol::ingress::Response;
use questdb_arrow::transport::{Auth, ConnectOptions, Connection, Route};

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_listens_authenticates_and_stores() {
    let dir = std::env::temp_dir().join(format!("qa-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--username",
                "u",
                "--password",
                "p",
            ])
            .arg("--data-dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("binary runs"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .nth(4)
        .expect("listening line names the address");
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", port);
    assert_eq!(
        Connection::connect(&o, Route::Ingest)
            .err()
            .map(|e| e.kind()),
        Some(questdb_arrow::ErrorKind::Auth)
    );
    o.auth = Auth::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let (mut c, _) = Connection::connect(&o, Route::Ingest).unwrap();
    // T1 of the spec: table `sensors`, 2 rows.
    let frame = [
        0x51, 0x57, 0x50, 0x31, 1, 0, 1, 0, 0x4A, 0, 0, 0, 7, b's', b'e', b'n', b's', b'o', b'r',
        b's', 2, 3, 2, b'i', b'd', 5, 5, b'v', b'a', b'l', b'u', b'e', 7, 0, 0x0A, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xCD, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xF4, 0x3F,
        0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0x01, 0x40, 0, 0, 0xE4, 0x0B, 0x54, 2, 0, 0, 0, 0x80,
        0x1A, 6, 0, 0, 0, 0, 0,
    ];
    c.send(&frame).unwrap();
    match Response::decode(&c.recv().unwrap()).unwrap() {
        Response::Ok { sequence: 0, .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(dir.join("sensors.parquet").exists(), "persisted on commit");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_fail_with_a_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["serve", "--username", "u"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}
