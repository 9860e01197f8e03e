//! Fuzz target `task_id`. Task ids: parsing never panics and what parses keeps the documented id, instance and app relationships.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| marathon_task_exporter_fuzz::task_id(data));
