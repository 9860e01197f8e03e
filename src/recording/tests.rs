//! Round trips of the recording format and the errors damaged files give.

use std::io::{self, BufRead};
use std::path::Path;

use super::*;
use crate::marathon::api::{parse_apps, parse_tasks};
use crate::state::{MesosState, Snapshot, SnapshotApp, SnapshotTask, Strategy};

fn read_all(text: &str) -> Result<(Header, Vec<Entry>, bool), RecordingError> {
    let lines: Box<dyn BufRead> = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
    let (header, mut reader) = Reader::from_reader(Path::new("rec.jsonl"), lines)?;
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        entries.push(entry);
    }
    Ok((header, entries, reader.ended()))
}

const HEADER: &str = r#"{"format":"marathon-task-exporter-recording","version":1,"started_at":1000,"source":"http://m:8080"}"#;

#[test]
fn snapshot_bodies_parse_back_to_the_same_snapshot() {
    let task = |id: &'static str, app: &'static str, state| SnapshotTask {
        id,
        instance: id.rsplit_once("._app.").unwrap().0,
        app,
        state,
        pod: false,
        host: "",
        health: None,
    };
    let snapshot = Snapshot {
        requested_at: 5,
        tasks: [
            task(
                "prod_web.instance-0a0b0c0d-0890-11eb-9a3f-0242f5e1c6d2._app.1",
                "/prod/web",
                MesosState::Running,
            ),
            task(
                "prod_web.instance-1a0b0c0d-0890-11eb-9a3f-0242f5e1c6d2._app.3",
                "/prod/web",
                MesosState::GoneByOperator,
            ),
        ]
        .into_iter()
        .collect(),
        apps: vec![
            SnapshotApp {
                id: "/prod/web".into(),
                strategy: Some(Strategy::enabled(60_000, 300_000)),
                instances: None,
                labels: None,
            },
            SnapshotApp {
                id: "/a".into(),
                strategy: Some(Strategy::DISABLED),
                instances: None,
                labels: None,
            },
            SnapshotApp {
                id: "/b".into(),
                strategy: None,
                instances: None,
                labels: None,
            },
            SnapshotApp {
                id: "/c".into(),
                strategy: Some(Strategy::enabled(500, 1500)),
                instances: None,
                labels: None,
            },
        ],
        pods: None,
        deployments: None,
    };
    let (tasks, apps) = snapshot_bodies(&snapshot);
    assert_eq!(parse_tasks(&tasks).unwrap().tasks, snapshot.tasks);
    assert_eq!(parse_apps(&apps).unwrap(), snapshot.apps);
}

#[test]
fn written_recordings_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    {
        let mut w = RecordingWriter::create(&path, "http://m:8080", false).unwrap();
        w.connected("http://m:8080");
        w.chunk(b"event: x\r\ndata: {\xff}\r\n\r\n");
        w.snapshot(77, b"{\"tasks\":[]}", b"[]");
        w.tick();
        w.disconnected();
    }
    let (header, mut reader) = Reader::open(&path).unwrap();
    assert_eq!(header.source, "http://m:8080");
    assert!(!header.ticks);
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        entries.push(e);
    }
    assert!(reader.ended());
    assert_eq!(entries.len(), 6);
    assert!(
        matches!(&entries[1], Entry::Chunk { data, .. } if data == b"event: x\r\ndata: {\xff}\r\n\r\n")
    );
    assert!(
        matches!(&entries[2], Entry::Snapshot { requested_at: 77, tasks, apps, .. } if tasks == b"{\"tasks\":[]}" && apps == b"[]")
    );
    assert!(matches!(entries[5], Entry::End { .. }));
}

#[test]
fn a_cut_last_line_is_reported_as_truncated() {
    let text = format!("{HEADER}\n{{\"t\":\"chunk\",\"local\":5,\"data\":\"QUJ");
    let err = read_all(&text).unwrap_err();
    assert!(
        matches!(err, RecordingError::Truncated { line: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn bad_lines_name_their_number_and_problem() {
    for (line, want) in [
        (r#"{"t":"chunk","local":5,"data":"@@@"}"#, "not base64"),
        (r#"{"t":"teleport","local":5}"#, "teleport"),
        (r#"{"t":"chunk","data":"QQ=="}"#, "local"),
        ("garbage", "expected"),
    ] {
        let text = format!("{HEADER}\n{{\"t\":\"tick\",\"local\":1}}\n{line}\n");
        let err = read_all(&text).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn local_time_must_not_go_back_and_nothing_follows_the_end() {
    let text =
        format!("{HEADER}\n{{\"t\":\"tick\",\"local\":9}}\n{{\"t\":\"tick\",\"local\":8}}\n");
    assert!(
        read_all(&text)
            .unwrap_err()
            .to_string()
            .contains("goes back")
    );
    let text = format!("{HEADER}\n{{\"t\":\"end\",\"local\":9}}\n{{\"t\":\"tick\",\"local\":9}}\n");
    assert!(
        read_all(&text)
            .unwrap_err()
            .to_string()
            .contains("after the end")
    );
}

#[test]
fn headers_are_checked() {
    let err = read_all("").unwrap_err();
    assert!(matches!(err, RecordingError::Empty { .. }));
    let err = read_all("{\"tasks\":[]}\n").unwrap_err().to_string();
    assert!(err.contains("not a recording"), "{err}");
    let newer = HEADER.replace("\"version\":1", "\"version\":2");
    let err = read_all(&format!("{newer}\n")).unwrap_err().to_string();
    assert!(err.contains("version 2"), "{err}");
    let (_, entries, ended) = read_all(&format!("{HEADER}\n\n")).unwrap();
    assert!(entries.is_empty() && !ended);
}
