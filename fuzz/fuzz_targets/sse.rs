//! Fuzz target `sse`. SSE decoder: arbitrary bytes in arbitrary chunkings give the reference frames, within the memory bound.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| marathon_task_exporter_fuzz::sse(data));
