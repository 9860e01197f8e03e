//! Fuzz target `pipeline`. Whole ingest path: arbitrary bytes through the Pipeline into an Engine with a Tally keep the rules' invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| marathon_task_exporter_fuzz::pipeline(data));
