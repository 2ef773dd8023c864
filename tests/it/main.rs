#[cfg(feature = "cli")]
mod cli;
mod codec;
#[cfg(feature = "server")]
mod interop;
#[cfg(feature = "server")]
mod server;
mod transport;
