mod codec;
mod transport;
