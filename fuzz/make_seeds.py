"""Writes the starting corpus of every fuzz target from the project's fixtures into corpus/<target>/."""

import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent
FIXTURES = ROOT.parent / "tests" / "fixtures"
OUT = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "corpus")


def write(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def events():
    """Every event payload of the fixtures: (name, raw bytes, parsed object)."""
    for path in sorted((FIXTURES / "marathon").rglob("*.json")):
        raw = path.read_bytes()
        value = json.loads(raw)
        if isinstance(value, dict) and isinstance(value.get("eventType"), str):
            yield path.stem, raw, value


def frame(value, eol="\r\n"):
    kind = value["eventType"]
    return f"event: {kind}{eol}data: {json.dumps(value, separators=(',', ':'))}{eol}{eol}".encode()


def ids(value, out):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("taskId", "instanceId", "id", "appId", "runSpecId") and isinstance(item, str):
                out.add(item)
            ids(item, out)
    elif isinstance(value, list):
        for item in value:
            ids(item, out)


def story():
    """A short history that reaches every rule: launch, health repeats, unreachable and back,
    LOST resolved by its instance event, a strategy, failures, a force-expunge, app deletion."""
    app, safe = "/prod/web", "prod_web"
    uuid = "5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2"
    out = []
    t = 1602061982771

    def stamp(ms):
        import datetime
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    def status(n, state, extra=None):
        value = {"taskId": f"{safe}.instance-{n}{uuid[1:]}._app.1", "taskStatus": state, "appId": app,
                 "message": "", "eventType": "status_update_event", "timestamp": stamp(t)}
        value.update(extra or {})
        out.append(frame(value))

    def instance(n, condition):
        out.append(frame({"instanceId": f"{safe}.instance-{n}{uuid[1:]}", "condition": condition,
                          "runSpecId": app, "eventType": "instance_changed_event", "timestamp": stamp(t)}))

    out.append(frame({"eventType": "api_post_event", "timestamp": stamp(t), "appDefinition": {
        "id": app, "unreachableStrategy": {"inactiveAfterSeconds": 5, "expungeAfterSeconds": 30}}}))
    for n in range(4):
        for state, condition in (("TASK_STAGING", "Staging"), ("TASK_RUNNING", "Running")):
            t += 700
            status(n, state)
            instance(n, condition)
    t += 1000
    status(0, "TASK_RUNNING")
    status(1, "TASK_UNREACHABLE")
    t += 6000
    status(1, "TASK_RUNNING")
    status(2, "TASK_LOST")
    t += 1000
    instance(2, "Gone")
    status(3, "TASK_UNREACHABLE")
    t += 6000
    instance(3, "Killed")
    status(0, "TASK_FAILED")
    status(0, "TASK_RUNNING")
    out.append(frame({"runSpecId": app, "instanceId": f"{safe}.instance-9{uuid[1:]}", "condition": "Unknown",
                      "eventType": "unknown_instance_terminated_event", "timestamp": stamp(t)}))
    t += 1000
    status(1, "TASK_KILLED")
    out.append(frame({"appId": app, "eventType": "app_terminated_event", "timestamp": stamp(t)}))
    return b"".join(out)


def main():
    all_events = list(events())
    for name, raw, value in all_events:
        write("event_decode", name, raw)
        write("event_decode", name + ".compact", json.dumps(value, separators=(",", ":")).encode())
    found = set()
    for path in sorted((FIXTURES / "marathon").rglob("*.json")):
        ids(json.loads(path.read_bytes()), found)
    for i, text in enumerate(sorted(found)):
        write("task_id", f"id-{i:03d}", text.encode())
    streams = {p.stem: p.read_bytes() for p in sorted((FIXTURES / "sse").glob("*.txt"))}
    streams["events-crlf"] = b"".join(frame(v) for _, _, v in all_events)
    streams["events-lf"] = b"".join(frame(v, "\n") for _, _, v in all_events[:12])
    streams["story"] = story()
    for name, data in streams.items():
        for limit, seed in ((3, 0), (1, 7)):
            write("sse", f"{name}-{limit}-{seed}", bytes([limit, seed]) + data[:16384])
        for seed, pace in ((0, 0), (5, 3)):
            write("pipeline", f"{name}-{seed}-{pace}", bytes([seed, pace]) + data[:16384])


if __name__ == "__main__":
    main()
