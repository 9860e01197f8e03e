//! The binary: parse the configuration and run the exporter.

fn main() {}
