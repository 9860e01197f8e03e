//! Fuzz target `event_decode`. Event decoding: arbitrary bytes as an event's data never panic and decode to what the payload says.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| marathon_task_exporter_fuzz::event_decode(data));
