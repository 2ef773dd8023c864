//! Errors: server rejections with their status, refused options and
//! features.

use adbc_core::error::{Error, Status};
use adbc_core::options::{OptionConnection, OptionDatabase, OptionValue};
use adbc_core::{Connection, Database, Driver, Optionable};
use questdb_arrow_adbc::QuestDbDriver;

use crate::support::{query, start, update};

fn sqlstate(e: &Error) -> String {
    e.sqlstate.iter().map(|c| *c as u8 as char).collect()
}

#[test]
fn bad_sql_carries_the_server_status_and_message() {
    let env = start();
    let mut c = env.conn();
    let e = query(&mut c, "SELEKT nonsense").unwrap_err();
    assert_eq!(e.status, Status::InvalidArguments, "{e}");
    assert_eq!(e.vendor_code, 0x05, "the QWP status byte");
    assert_eq!(sqlstate(&e), "42601");
    assert!(e.message.contains("PARSE_ERROR"), "{e}");
    assert!(e.message.contains("SELEKT nonsense"), "{e}");
    let e = update(&mut c, "SELECT * FROM no_such_table").unwrap_err();
    assert!(e.message.contains("no_such_table"), "{e}");
    // The connection still works.
    assert_eq!(update(&mut c, "CREATE TABLE ok (a INT)").unwrap(), Some(0));
}

#[test]
fn transactions_are_refused_naming_autocommit() {
    let env = start();
    let mut c = env.conn();
    let e = c
        .set_option(OptionConnection::AutoCommit, false.into())
        .unwrap_err();
    assert_eq!(e.status, Status::NotImplemented, "{e}");
    assert!(e.message.contains("QuestDB commits every statement"), "{e}");
    assert!(e.message.contains("autocommit=false"), "{e}");
    for e in [c.commit().unwrap_err(), c.rollback().unwrap_err()] {
        assert_eq!(e.status, Status::NotImplemented, "{e}");
        assert!(e.message.contains("autocommit only"), "{e}");
    }
    let e = c
        .set_option(OptionConnection::IsolationLevel, "x".into())
        .unwrap_err();
    assert!(
        e.message
            .contains("adbc.connection.transaction.isolation_level"),
        "{e}"
    );
    let e = c
        .set_option(OptionConnection::Other("questdb.nope".into()), "1".into())
        .unwrap_err();
    assert!(e.message.contains("questdb.nope"), "{e}");
    let e = c.get_statistic_names().err().unwrap();
    assert_eq!(e.status, Status::NotImplemented, "{e}");
    assert!(e.message.contains("get_statistic_names"), "{e}");
}

#[test]
fn database_options_are_checked() {
    let open =
        |opts: Vec<(OptionDatabase, OptionValue)>| QuestDbDriver.new_database_with_opts(opts);
    let e = open(vec![]).unwrap_err();
    assert_eq!(e.status, Status::InvalidArguments);
    assert!(e.message.contains("uri"), "{e}");
    let e = open(vec![
        (OptionDatabase::Uri, "ws::addr=localhost:9000;".into()),
        (OptionDatabase::Other("adbc.bogus".into()), "1".into()),
    ])
    .unwrap_err();
    assert!(e.message.contains("adbc.bogus"), "{e}");
    // A bad connect string names its key.
    let e = open(vec![(
        OptionDatabase::Uri,
        "ws::addr=localhost:9000;bogus_key=1;".into(),
    )])
    .unwrap_err();
    assert_eq!(e.status, Status::InvalidArguments);
    assert!(e.message.contains("bogus_key"), "{e}");
    // Credentials go into the connect string (and over the wire: the
    // server has no auth, so they are accepted); the password stays
    // write-only.
    let env = start();
    let mut db = QuestDbDriver
        .new_database_with_opts([
            (OptionDatabase::Uri, env.srv.conf_string().into()),
            (OptionDatabase::Username, "admin".into()),
            (OptionDatabase::Password, "quest".into()),
        ])
        .unwrap();
    assert_eq!(
        db.get_option_string(OptionDatabase::Username).unwrap(),
        "admin"
    );
    assert_eq!(
        db.get_option_string(OptionDatabase::Password)
            .unwrap_err()
            .status,
        Status::NotFound
    );
    let e = db
        .set_option(OptionDatabase::Uri, "ws::addr=x:1;".into())
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidState);
    let mut c = db.new_connection().unwrap();
    assert_eq!(
        update(&mut c, "CREATE TABLE cred (a INT)").unwrap(),
        Some(0)
    );
}

/// Credentials the server refuses come back as an authentication error.
#[test]
fn refused_credentials_are_unauthenticated() {
    use questdb_arrow::server::Server;
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .basic_auth("admin", "quest")
        .start()
        .unwrap();
    let db = QuestDbDriver
        .new_database_with_opts([
            (OptionDatabase::Uri, srv.conf_string().into()),
            (OptionDatabase::Username, "admin".into()),
            (OptionDatabase::Password, "wrong".into()),
        ])
        .unwrap();
    let mut c = db.new_connection().unwrap();
    let e = query(&mut c, "SELECT 1").unwrap_err();
    assert_eq!(e.status, Status::Unauthenticated, "{e}");
    assert_eq!(sqlstate(&e), "28000");
}
