//! Round trips of the recording format and the errors damaged files give.

use std::io::{self, BufRead};
use std::path::Path;

use super::*;
use crate::marathon::api::{parse_apps, parse_snapshot, parse_tasks};
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
        answered_at: None,
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
    let bodies = snapshot_bodies(&snapshot);
    assert_eq!(parse_tasks(&bodies.tasks).unwrap().tasks, snapshot.tasks);
    assert_eq!(parse_apps(&bodies.apps).unwrap(), snapshot.apps);
    assert_eq!(bodies.pods, None);
}

#[test]
fn snapshot_bodies_with_pods_parse_back_to_the_same_snapshot() {
    let task = |id: &'static str, app: &'static str, state, pod| SnapshotTask {
        id,
        instance: id.rsplit_once('.').unwrap().0.rsplit_once('.').unwrap().0,
        app,
        state,
        pod,
        host: "",
        health: None,
    };
    let snapshot = Snapshot {
        requested_at: 9,
        answered_at: None,
        tasks: [
            task("web.instance-1._app.1", "/web", MesosState::Running, false),
            task("db.instance-1.pg.1", "/db", MesosState::Running, true),
            task("db.instance-1.log.1", "/db", MesosState::Staging, true),
            task("db.instance-2.pg.3", "/db", MesosState::Unreachable, true),
            task("q.instance-5.w.1", "/q", MesosState::Killing, true),
        ]
        .into_iter()
        .collect(),
        apps: vec![SnapshotApp {
            id: "/web".into(),
            strategy: None,
            instances: None,
            labels: None,
        }],
        pods: Some(vec![
            SnapshotApp {
                id: "/db".into(),
                strategy: Some(Strategy::enabled(0, 600_000)),
                instances: None,
                labels: None,
            },
            SnapshotApp {
                id: "/q".into(),
                strategy: None,
                instances: None,
                labels: None,
            },
            SnapshotApp {
                id: "/empty".into(),
                strategy: Some(Strategy::DISABLED),
                instances: None,
                labels: None,
            },
        ]),
        deployments: None,
    };
    let b = snapshot_bodies(&snapshot);
    let parsed = parse_snapshot(9, &b.tasks, &b.apps, b.pods.as_deref()).unwrap();
    assert_eq!(parsed, snapshot);
}

#[test]
fn written_recordings_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    {
        let mut w = RecordingWriter::create(&path, "http://m:8080", false).unwrap();
        w.connected("http://m:8080");
        w.chunk(b"event: x\r\ndata: {\xff}\r\n\r\n");
        w.snapshot(77, None, b"{\"tasks\":[]}", b"[]", None);
        w.snapshot(78, Some(80_999), b"[]", b"[]", Some(b"[{\"id\":\"/p\"}]"));
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
    assert_eq!(entries.len(), 7);
    assert!(
        matches!(&entries[1], Entry::Chunk { data, .. } if data == b"event: x\r\ndata: {\xff}\r\n\r\n")
    );
    assert!(
        matches!(&entries[2], Entry::Snapshot { requested_at: 77, answered_at: None, tasks, apps, pods: None, .. } if tasks == b"{\"tasks\":[]}" && apps == b"[]")
    );
    assert!(
        matches!(&entries[3], Entry::Snapshot { requested_at: 78, answered_at: Some(80_999), pods: Some(pods), .. } if pods == b"[{\"id\":\"/p\"}]")
    );
    assert!(matches!(entries[6], Entry::End { .. }));
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text
        .lines()
        .find(|l| l.contains("\"requested_at\":77"))
        .unwrap();
    assert!(
        !first.contains("pods") && !first.contains("answered_at"),
        "no pods or answered_at field without them: {first}"
    );
}

#[test]
fn snapshots_recorded_before_pods_were_read_still_read() {
    let line = r#"{"t":"snapshot","local":3,"requested_at":5,"tasks":"W10=","apps":"W10="}"#;
    let (_, entries, _) = read_all(&format!("{HEADER}\n{line}\n")).unwrap();
    assert_eq!(
        entries,
        [Entry::Snapshot {
            local: 3,
            requested_at: 5,
            answered_at: None,
            tasks: b"[]".to_vec(),
            apps: b"[]".to_vec(),
            pods: None,
        }]
    );
    let line =
        r#"{"t":"snapshot","local":3,"requested_at":5,"tasks":"W10=","apps":"W10=","pods":"@"}"#;
    let err = read_all(&format!("{HEADER}\n{line}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("pods is not base64"), "{err}");
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
