//! The driver and its database: the connect string (`uri`) and the
//! credentials, parsed once into one pooled [`QuestDb`] handle that every
//! connection of the database shares.

use std::sync::Arc;

use adbc_core::error::Result;
use adbc_core::options::{OptionConnection, OptionDatabase, OptionValue};
use adbc_core::{Database, Driver, Optionable};
use questdb_arrow::client::QuestDb;
use questdb_arrow::conf::Conf;

use crate::connection::QuestDbConnection;
use crate::error::{OrAdbc, invalid_argument, invalid_state, unknown_option};
use crate::options::{self, not_found};

/// The ADBC driver for QuestDB. `Default`, as the driver exporter needs.
#[derive(Debug, Default)]
pub struct QuestDbDriver;

impl Driver for QuestDbDriver {
    type DatabaseType = QuestDbDatabase;

    /// Refused: a database needs its `uri`.
    fn new_database(&mut self) -> Result<Self::DatabaseType> {
        self.new_database_with_opts(std::iter::empty())
    }

    /// A database for `uri` (our connect string, `ws::addr=host:9000;`),
    /// with `username` / `password` set into it. Validates the connect
    /// string without connecting. Any other option is refused naming it.
    fn new_database_with_opts(
        &mut self,
        opts: impl IntoIterator<Item = (OptionDatabase, OptionValue)>,
    ) -> Result<Self::DatabaseType> {
        let (mut uri, mut username, mut password) = (None, None, None);
        for (key, value) in opts {
            let name = key.as_ref().to_string();
            let v = options::text(&name, value)?;
            match key {
                OptionDatabase::Uri => uri = Some(v),
                OptionDatabase::Username => username = Some(v),
                OptionDatabase::Password => password = Some(v),
                _ => return Err(unknown_option("database", &name)),
            }
        }
        let uri = uri.ok_or_else(|| {
            invalid_argument(
                "option \"uri\" is required: the QuestDB connect string, e.g. \
                 ws::addr=localhost:9000;",
            )
        })?;
        let mut conf = Conf::parse(&uri).or_adbc()?;
        if let Some(u) = &username {
            conf.set("username", u).or_adbc()?;
        }
        if let Some(p) = &password {
            conf.set("password", p).or_adbc()?;
        }
        Ok(QuestDbDatabase {
            uri,
            username,
            db: Arc::new(QuestDb::from_conf(conf).or_adbc()?),
        })
    }
}

/// A QuestDB database: one connect string and its connection pools.
pub struct QuestDbDatabase {
    uri: String,
    username: Option<String>,
    db: Arc<QuestDb>,
}

impl std::fmt::Debug for QuestDbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDbDatabase")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Optionable for QuestDbDatabase {
    type Option = OptionDatabase;

    /// Refused: the options are fixed when the database is created (the
    /// driver manager passes them all to `AdbcDatabaseInit`).
    fn set_option(&mut self, key: Self::Option, _value: OptionValue) -> Result<()> {
        match key {
            OptionDatabase::Uri | OptionDatabase::Username | OptionDatabase::Password => {
                Err(invalid_state(format!(
                    "option {:?} is set before the database is initialised",
                    key.as_ref()
                )))
            }
            _ => Err(unknown_option("database", key.as_ref())),
        }
    }

    /// `uri` and `username` as given; the password is write-only.
    fn get_option_string(&self, key: Self::Option) -> Result<String> {
        match key {
            OptionDatabase::Uri => Ok(self.uri.clone()),
            OptionDatabase::Username => self.username.clone().ok_or_else(|| not_found("username")),
            _ => Err(not_found(key.as_ref())),
        }
    }

    crate::options::text_only_getters!();
}

impl Database for QuestDbDatabase {
    type ConnectionType = QuestDbConnection;

    fn new_connection(&self) -> Result<Self::ConnectionType> {
        self.new_connection_with_opts(std::iter::empty())
    }

    /// A connection sharing the database's pools (connections to the
    /// server are opened on first use). Options as
    /// [`QuestDbConnection::set_option`].
    fn new_connection_with_opts(
        &self,
        opts: impl IntoIterator<Item = (OptionConnection, OptionValue)>,
    ) -> Result<Self::ConnectionType> {
        let mut c = QuestDbConnection::new(self.db.clone());
        for (k, v) in opts {
            c.set_option(k, v)?;
        }
        Ok(c)
    }
}
