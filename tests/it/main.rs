#[cfg(feature = "server")]
mod budget;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "server")]
mod cluster;
mod codec;
#[cfg(feature = "server")]
mod dedup;
#[cfg(feature = "server")]
mod delivery;
#[cfg(feature = "server")]
mod errors;
#[cfg(feature = "server")]
mod every_type;
#[cfg(feature = "server")]
mod failover;
#[cfg(feature = "server")]
mod faults;
#[cfg(feature = "server")]
mod guard;
mod ilp_client;
mod ilp_mock;
mod ilp_pipeline;
#[cfg(feature = "server")]
mod ilp_roundtrip;
#[cfg(feature = "server")]
mod ilp_server;
#[cfg(feature = "server")]
mod ilp_tls;
#[cfg(feature = "server")]
mod ingest;
#[cfg(feature = "server")]
mod interop;
#[cfg(feature = "server")]
mod parallel;
#[cfg(all(feature = "polars", feature = "server"))]
mod polars;
#[cfg(feature = "server")]
mod policy;
#[cfg(feature = "server")]
mod pool;
#[cfg(feature = "server")]
mod query;
#[cfg(feature = "server")]
mod query_modes;
#[cfg(feature = "server")]
mod resources;
#[cfg(feature = "server")]
mod result_frames;
#[cfg(feature = "server")]
mod rows;
#[cfg(feature = "server")]
mod scan;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod server_meta;
#[cfg(feature = "server")]
mod support;
mod transport;
mod transport_frames;
