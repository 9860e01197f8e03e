//! The exposition's outside checkers: `promtool check metrics` and the reference OpenMetrics
//! parser (`tests/tools/openmetrics_to_text.py`), both fed on stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn tool(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Runs `command` with `body` on its stdin, written from a thread so that a large body cannot
/// block on a full pipe.
fn pipe(mut command: Command, body: &str, missing: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(missing);
    let mut stdin = child.stdin.take().expect("stdin");
    let body = body.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let out = child.wait_with_output().expect("the checker ran");
    // A checker that stops reading early (a parse error) may close the pipe first.
    let _ = writer.join().expect("writer");
    out
}

/// What `promtool check metrics` said about `text`: `Ok` when it passed (warnings, if any, in the
/// string), `Err` with its output when it failed.
pub fn promtool_check_metrics(text: &str) -> Result<String, String> {
    let mut command = Command::new(tool("PROMTOOL", "promtool"));
    command.args(["check", "metrics"]);
    let out = pipe(
        command,
        text,
        "promtool on PATH (Debian package prometheus); scripts/test installs it",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(said)
    } else {
        Err(format!("promtool check metrics failed:\n{said}"))
    }
}

/// An OpenMetrics body parsed by the reference parser (the Python client's, strict) and written
/// back in the text format, or the parser's reason for refusing it.
pub fn openmetrics_to_text(body: &str) -> Result<String, String> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/openmetrics_to_text.py");
    let mut command = Command::new(tool("PYTHON", "python3"));
    command.arg(script);
    let out = pipe(
        command,
        body,
        "python3 on PATH; scripts/test installs prometheus-client",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(String::from_utf8(out.stdout).expect("UTF-8")),
        Some(1) => Err(stderr.into_owned()),
        _ => panic!("the OpenMetrics check could not run: {stderr}"),
    }
}
