//! `questdb-arrow`: command-line tool. Today: `serve`, the embedded QWP
//! server backed by DataFusion.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use questdb_arrow::server::Server;

#[derive(Parser)]
#[command(
    name = "questdb-arrow",
    version,
    about = "Move Arrow data in and out of QuestDB over QWP"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the embedded QWP server (ingest on /write/v4, SQL on /read/v1).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        bind: String,
        /// Persist tables as Parquet here (and load them at start).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Require HTTP basic auth with this user (needs --password).
        #[arg(long, requires = "password", conflicts_with = "token")]
        username: Option<String>,
        /// Password for --username.
        #[arg(long, requires = "username")]
        password: Option<String>,
        /// Require `Authorization: Bearer <token>`.
        #[arg(long)]
        token: Option<String>,
        /// PEM certificate chain to serve TLS (needs --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Decode and acknowledge ingest without storing (benchmarks).
        #[arg(long)]
        sink: bool,
        /// Receive buffer in bytes (largest accepted frame).
        #[arg(long)]
        recv_buffer: Option<usize>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("questdb-arrow: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> questdb_arrow::Result<()> {
    match cli.cmd {
        Cmd::Serve {
            bind,
            data_dir,
            username,
            password,
            token,
            tls_cert,
            tls_key,
            sink,
            recv_buffer,
        } => {
            let mut b = Server::builder().bind(bind).sink(sink);
            if let Some(d) = data_dir {
                b = b.data_dir(d);
            }
            if let (Some(u), Some(p)) = (username, password) {
                b = b.basic_auth(u, p);
            }
            if let Some(t) = token {
                b = b.token_auth(t);
            }
            if let (Some(c), Some(k)) = (tls_cert, tls_key) {
                b = b.tls(c, k);
            }
            if let Some(r) = recv_buffer {
                b = b.recv_buffer(r);
            }
            let server = b.start()?;
            println!(
                "questdb-arrow server listening on {} (connect string: {})",
                server.addr(),
                server.conf_string()
            );
            // Serve until the process is stopped.
            loop {
                std::thread::park();
            }
        }
    }
}
