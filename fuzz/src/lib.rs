//! The properties the fuzz targets check, one function per target; each takes arbitrary bytes and
//! panics when a property fails. `tests/fuzz_equivalent.rs` in the main crate includes this file,
//! so the stable proptest run and the fuzzers check exactly the same things.

use std::borrow::Cow;

use marathon_sim::fake::payload;
use marathon_sim::format_timestamp;
use marathon_task_exporter::marathon::events::{EventKind, decode};
use marathon_task_exporter::marathon::ids::{
    app_id_from_safe_path, parse_instance_id, parse_task_id,
};
use marathon_task_exporter::marathon::time::parse_timestamp;
use marathon_task_exporter::pipeline::{Clock as _, Pipeline, ReplayClock};
use marathon_task_exporter::sse::{Decoder, Frame};
use marathon_task_exporter::state::{
    Condition, Engine, Input, MesosState, Millis, Settings, Status, Tally,
};
use serde_json::Value;

/// Extra room the SSE decoder allows a line beyond `max_event_bytes` (its `LINE_SLACK`).
const LINE_SLACK: usize = 64;
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Event size limits the SSE target picks from, small ones to reach the oversized paths.
const LIMITS: [usize; 5] = [8, 40, 200, 4096, 1 << 20];
/// Marathon's clock at the start of a pipeline run (2020-10-07).
const T0: Millis = 1_602_061_982_771;
/// Range of instants `format_timestamp` writes in the layout `parse_timestamp` reads (years 0–9999).
const FORMATTABLE: std::ops::RangeInclusive<Millis> = -62_167_219_200_000..=253_402_300_799_999;

/// A small deterministic generator for chunk sizes and time steps.
struct Rng(u64);

impl Rng {
    fn new(seed: u8, salt: usize) -> Rng {
        Rng(u64::from(seed) << 32 ^ salt as u64 ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A chunk length in 1..=max, biased towards small ones.
    fn chunk(&mut self, max: usize) -> usize {
        let r = self.next();
        let cap = match r % 4 {
            0 => 3,
            1 => 17,
            2 => 200,
            _ => max.max(1),
        };
        1 + (r >> 8) as usize % cap.min(max.max(1))
    }
}

/// The first two bytes steer the run; the rest is the input proper.
fn header(data: &[u8]) -> (u8, u8, &[u8]) {
    match data {
        [a, b, rest @ ..] => (*a, *b, rest),
        [a] => (*a, 0, &[]),
        [] => (0, 0, &[]),
    }
}

/// An SSE frame, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Event(Vec<u8>),
    Oversized(usize),
}

fn own(frame: Frame<'_>) -> Out {
    match frame {
        Frame::Event(data) => Out::Event(data.to_vec()),
        Frame::Oversized { bytes } => Out::Oversized(bytes),
    }
}

/// What the decoder documents, written as directly as possible over the whole input: lines end at
/// CRLF, LF or CR; a leading BOM is skipped; spaces and tabs before the field name are ignored; a
/// blank line dispatches; `data` values are joined with '\n'; an event longer than `max` is
/// reported by size; a line longer than `max + LINE_SLACK` is judged by that many first bytes.
pub fn reference_frames(max: usize, input: &[u8]) -> Vec<Out> {
    let input = input.strip_prefix(BOM).unwrap_or(input);
    let cap = max.saturating_add(LINE_SLACK);
    let mut out = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut has_data = false;
    let mut pos = 0;
    while let Some(found) = input[pos..].iter().position(|&b| b == b'\n' || b == b'\r') {
        let end = pos + found;
        let line = &input[pos..end];
        pos = if input[end] == b'\r' && input.get(end + 1) == Some(&b'\n') {
            end + 2
        } else {
            end + 1
        };
        if line.is_empty() {
            if has_data {
                out.push(if total > max {
                    Out::Oversized(total)
                } else {
                    Out::Event(std::mem::take(&mut data))
                });
            }
            data.clear();
            total = 0;
            has_data = false;
            continue;
        }
        let value = if line.len() > cap {
            long_line_value(&line[..cap]).map(|offset| &line[offset..])
        } else {
            data_value(line)
        };
        if let Some(value) = value {
            if has_data {
                data.push(b'\n');
                total += 1;
            }
            data.extend_from_slice(value);
            total += value.len();
            has_data = true;
        }
    }
    out
}

fn indentation(line: &[u8]) -> usize {
    line.iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len())
}

/// The value of a complete `data` line (`data`, `data:v`, `data: v`), after indentation.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let rest = &line[indentation(line)..];
    let after = rest.strip_prefix(b"data")?;
    match after.first() {
        None => Some(after),
        Some(b':') => Some(after[1..].strip_prefix(b" ").unwrap_or(&after[1..])),
        Some(_) => None,
    }
}

/// Where the value starts in the head of an over-long line: only a `data:` line whose value has begun.
fn long_line_value(head: &[u8]) -> Option<usize> {
    let indent = indentation(head);
    let rest = &head[indent..];
    (rest.len() > 5 && rest.starts_with(b"data:"))
        .then(|| indent + 5 + usize::from(rest[5] == b' '))
}

/// Feeds `chunks` to a fresh decoder, checking its memory bound after each; returns the frames.
fn decode_chunks<'a>(max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Out> {
    let mut decoder = Decoder::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut |frame| out.push(own(frame)));
        assert!(
            decoder.buffered_bytes() <= 2 * max + LINE_SLACK,
            "decoder holds {} bytes with a limit of {max}",
            decoder.buffered_bytes()
        );
    }
    out
}

/// Splits `input` into pseudo-random chunks.
fn random_chunks(input: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut rng = Rng::new(seed, input.len());
    let mut chunks = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = rng.chunk(rest.len()).min(rest.len());
        let (head, tail) = rest.split_at(n);
        chunks.push(head);
        rest = tail;
    }
    chunks
}

/// `sse`: the decoder never panics, gives the reference's frames whether the bytes arrive whole,
/// one at a time or in random chunks, keeps its memory bound, and starts clean after a reset.
pub fn sse(data: &[u8]) {
    let (limit, seed, input) = header(data);
    let max = LIMITS[usize::from(limit) % LIMITS.len()];
    let expected = reference_frames(max, input);
    for frame in &expected {
        match frame {
            Out::Event(data) => {
                assert!(data.len() <= max, "event longer than the limit");
                assert!(!data.contains(&b'\r'), "CR inside an event's data");
            }
            Out::Oversized(bytes) => assert!(*bytes > max, "oversized event within the limit"),
        }
    }
    assert_eq!(
        decode_chunks(max, std::iter::once(input)),
        expected,
        "whole"
    );
    assert_eq!(
        decode_chunks(max, input.chunks(1)),
        expected,
        "byte by byte"
    );
    let chunks = random_chunks(input, seed);
    assert_eq!(
        decode_chunks(max, chunks.iter().copied()),
        expected,
        "in chunks of {:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
    let mut decoder = Decoder::new(max);
    decoder.feed(input, &mut |_| {});
    decoder.reset();
    assert_eq!(decoder.buffered_bytes(), 0, "reset keeps bytes");
    let mut after = Vec::new();
    decoder.feed(b"data: ok\n\n", &mut |frame| after.push(own(frame)));
    assert_eq!(after, [Out::Event(b"ok".to_vec())], "after a reset");
}

fn text<'v>(object: &'v Value, field: &str) -> Option<&'v str> {
    object.get(field).and_then(Value::as_str)
}

fn check_error_text(error: &impl std::fmt::Display) {
    let message = error.to_string();
    assert!(
        message.len() <= 80 && !message.contains('"'),
        "error text quotes something: {message}"
    );
}

/// `event_decode`: decoding never panics; what decodes agrees with a plain JSON reading of the
/// same payload (kind, timestamp, every field the input carries), the timestamp survives a
/// format/parse round trip, an absent timestamp takes the fallback, and errors quote nothing.
pub fn event_decode(data: &[u8]) {
    let raw = match decode(data) {
        Ok(raw) => raw,
        Err(error) => return check_error_text(&error),
    };
    // Whatever the decoder accepts (fast path included) is JSON serde_json accepts.
    assert!(
        serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok(),
        "decoded, but serde_json rejects it"
    );
    let kind = raw.kind();
    assert_eq!(EventKind::ALL[kind.index()], kind);
    assert_eq!(EventKind::parse(kind.label()), kind);
    if let Some(t) = raw.timestamp().filter(|t| FORMATTABLE.contains(t)) {
        assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t), "{t}");
    }
    let (first, second) = (raw.input(1_000), raw.input(2_000));
    let (first, second) = match (first, second) {
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            check_error_text(&a);
            assert!(
                kind.feeds_engine(),
                "{kind:?} is not used, so it cannot fail"
            );
            return;
        }
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => panic!("the fallback changed the outcome: {a:?} / {b:?}"),
    };
    assert_eq!(first.is_some(), second.is_some());
    if !kind.feeds_engine() {
        assert!(first.is_none(), "{kind:?} gave an input");
    }
    for (input, fallback) in [(&first, 1_000), (&second, 2_000)] {
        if let Some(input) = input {
            assert_eq!(input.timestamp(), raw.timestamp().unwrap_or(fallback));
        }
    }
    // A plain reading of the payload (invalid UTF-8 can only sit in strings the decoder skips).
    let lossy = String::from_utf8_lossy(data);
    let Ok(value) = serde_json::from_str::<Value>(&lossy) else {
        return; // e.g. an escaped lone surrogate in a skipped string
    };
    let event_type = text(&value, "eventType").expect("a string eventType");
    assert_eq!(EventKind::parse(event_type), kind);
    assert_eq!(
        raw.timestamp(),
        text(&value, "timestamp").and_then(parse_timestamp)
    );
    match first {
        None => {
            if kind == EventKind::ApiPost {
                assert!(value.get("appDefinition").is_none_or(Value::is_null));
            }
        }
        Some(input) => check_input(&input, &value),
    }
}

/// The fields of a decoded input are the payload's.
fn check_input(input: &Input<'_>, value: &Value) {
    match input {
        Input::Status(s) => {
            assert_eq!(Some(s.task.id), text(value, "taskId"));
            assert_eq!(parse_task_id(s.task.id).as_ref(), Some(&s.task));
            assert_eq!(Some(s.app), text(value, "appId"));
            let wire = text(value, "taskStatus").expect("taskStatus");
            match s.status {
                Status::Known(state) => assert_eq!(MesosState::parse(wire), Some(state)),
                Status::Other => assert_eq!(MesosState::parse(wire), None),
            }
            assert_eq!(s.message, text(value, "message").unwrap_or(""));
            assert_eq!(s.reason, text(value, "reason"));
        }
        Input::InstanceChanged(i) => {
            assert_eq!(Some(&*i.instance), text(value, "instanceId"));
            assert_eq!(
                parse_instance_id(&i.instance).as_deref(),
                Some(&*i.instance)
            );
            assert_eq!(Some(i.app), text(value, "runSpecId"));
            let condition = text(value, "condition").expect("condition");
            assert_eq!(i.condition, Condition::parse(condition));
        }
        Input::UnknownInstanceTerminated { app, .. } => {
            assert_eq!(Some(*app), text(value, "runSpecId"));
        }
        Input::AppTerminated { app, .. } => assert_eq!(Some(*app), text(value, "appId")),
        Input::HealthKill { app, task, .. } => {
            assert_eq!(Some(*app), text(value, "appId"));
            assert_eq!(Some(task.id), text(value, "taskId"));
        }
        Input::Health { healthy, .. } => {
            let reported = value.get("healthy").or_else(|| value.get("alive"));
            assert_eq!(*healthy, reported.and_then(Value::as_bool));
        }
        Input::DeploymentInfo { id, .. } => {
            assert_eq!(Some(&**id), text(&value["plan"], "id"));
        }
        Input::DeploymentEnd { id, .. } => assert_eq!(Some(&**id), text(value, "id")),
        Input::AppDefinition { app, strategy, .. } => {
            let definition = &value["appDefinition"];
            assert_eq!(Some(*app), text(definition, "id"));
            let named = definition.get("unreachableStrategy");
            match strategy {
                None => assert!(named.is_none_or(Value::is_null)),
                Some(s) => {
                    let disabled = named.and_then(Value::as_str) == Some("disabled");
                    assert_eq!(s.inactive_after.is_none(), disabled);
                    assert_eq!(s.expunge_after.is_none(), disabled);
                    assert!(s.inactive_after.is_none_or(|ms| ms >= 0));
                    assert!(s.expunge_after.is_none_or(|ms| ms >= 0));
                }
            }
        }
    }
}

/// A Marathon app id of the plain kind: `/seg/seg`, segments of `[a-z0-9.-]`, none of which
/// spells an instance prefix (those make legacy task ids ambiguous, for Marathon too).
fn plain_app_id(s: &str) -> bool {
    let Some(path) = s.strip_prefix('/') else {
        return false;
    };
    !path.is_empty()
        && !s.contains("instance-")
        && !s.contains("marathon-")
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        })
}

/// `task_id`: parsing never panics; a parsed id keeps its id, its instance is a canonical
/// instance id (a prefix of the id for 1.8+ forms, `<safePath>.marathon-<uuid>` for legacy ones),
/// `pod` follows the container name; a plain instance id used as a task id maps to itself; and for a
/// plain app id, the ids Marathon would give its tasks map back to their instance and app.
pub fn task_id(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    if let Some(t) = parse_task_id(s) {
        assert_eq!(t.id, s);
        assert_eq!(
            parse_instance_id(&t.instance).as_deref(),
            Some(&*t.instance),
            "instance {:?} of {s:?} is not canonical",
            t.instance
        );
        match &t.instance {
            Cow::Borrowed(instance) => {
                let rest = s.strip_prefix(*instance).expect("a prefix of the id");
                if rest.is_empty() {
                    assert!(!t.pod);
                } else {
                    assert!(rest.starts_with(['.', '_']), "{s:?}");
                    let container = &rest[1..];
                    let bare = container
                        .rsplit_once('.')
                        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                        .map_or(container, |(head, _)| head);
                    let anonymous = [container, bare]
                        .iter()
                        .any(|c| *c == "_app" || *c == "$anon");
                    assert_eq!(t.pod, !anonymous, "{s:?}");
                }
            }
            Cow::Owned(instance) => {
                assert!(!t.pod);
                let (safe, uuid) = instance.rsplit_once(".marathon-").expect("legacy form");
                assert!(!uuid.is_empty() && !uuid.contains(['.', '_']), "{s:?}");
                let rest = s.strip_prefix(safe).expect("safePath starts the id");
                assert!(rest.starts_with(['.', '_']), "{s:?}");
                assert!(rest[1..].starts_with(uuid), "{s:?}");
            }
        }
    }
    if let Some(instance) = parse_instance_id(s) {
        assert!(matches!(instance, Cow::Borrowed(i) if i == s));
        // Unless its uuid holds a `_` or its safePath an instance prefix: then, as in Marathon,
        // the id reads as a task of an instance further left (`a.marathon-x.instance-y`).
        let (safe_path, last) = s.rsplit_once('.').expect("an instance id has a dot");
        let ambiguous = safe_path.contains(".instance-") || safe_path.contains(".marathon-");
        if !last.contains('_') && !ambiguous {
            let t = parse_task_id(s).expect("an instance id is a task id");
            assert_eq!(t.instance, s);
            assert!(!t.pod);
        }
    }
    if plain_app_id(s) {
        check_app_ids(s, data.len() as u32);
    }
}

fn check_app_ids(app: &str, n: u32) {
    let safe = app.trim_start_matches('/').replace('/', "_");
    assert_eq!(app_id_from_safe_path(&safe), app);
    let instance = payload::instance_id(app, n);
    assert_eq!(
        parse_instance_id(&instance),
        Some(Cow::Borrowed(instance.as_str()))
    );
    for (id, pod) in [
        (payload::task_id(app, n, 1 + n % 5), false),
        (format!("{instance}.$anon"), false),
        (format!("{instance}.web.3"), true),
        (format!("{instance}_sidecar"), true),
    ] {
        let t = parse_task_id(&id).expect("a task id Marathon gives");
        assert_eq!(t.instance, instance, "{id}");
        assert!(matches!(t.instance, Cow::Borrowed(_)));
        assert_eq!(t.pod, pod, "{id}");
    }
    let uuid = instance.rsplit_once(".instance-").expect("built so").1;
    let legacy = format!("{safe}.marathon-{uuid}");
    for id in [
        format!("{safe}.{uuid}"),
        format!("{safe}_{uuid}"),
        format!("{safe}.{uuid}.{}", n % 7),
    ] {
        let t = parse_task_id(&id).expect("a legacy task id");
        assert_eq!(t.instance, legacy, "{id}");
        assert!(!t.pod);
    }
}

/// The rule settings of the pipeline target: short enough that time steps reach every timer.
fn pipeline_settings() -> Settings {
    Settings {
        lost_resolve_timeout: 5_000,
        tombstone_ttl: 60_000,
        app_retention: 30_000,
        ..Settings::default()
    }
}

/// RULES.md's invariants (the engine's own checker, shared with its property tests).
pub fn check_invariants(engine: &Engine, tally: &Tally) {
    if let Err(broken) = marathon_task_exporter::state::check_invariants(engine, tally) {
        panic!("invariant broken: {broken}");
    }
}

/// `event: x\ndata: <line>\n...\n\n`: one frame again, exactly.
fn reframe(data: &[u8]) -> Vec<u8> {
    let mut out = b"event: again\n".to_vec();
    for line in data.split(|&b| b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

fn pipeline_with(engine: Engine) -> Pipeline<Tally, ReplayClock> {
    Pipeline::new(engine, Tally::new(), ReplayClock::new(T0), 1 << 16)
}

/// `pipeline`: bytes through the whole ingest path (SSE, decode, rules) in random chunks, with
/// local time moving and timers ticking between them, never panic and keep the invariants after
/// every chunk; no tombstone outlives its TTL; and each event applied a second time right away
/// counts nothing.
pub fn pipeline(data: &[u8]) {
    let (seed, pace, input) = header(data);
    let mut p = pipeline_with(Engine::new(pipeline_settings()));
    let mut rng = Rng::new(seed, input.len());
    let mut local: Millis = 0;
    let mut rules = 0;
    for chunk in random_chunks(input, seed) {
        p.feed(chunk);
        if pace > 0 {
            local += (rng.next() % (u64::from(pace) * 500)) as Millis;
            p.clock_mut().set_local(local);
            p.tick();
        }
        check_invariants(p.engine(), p.effects());
        let now = p.effects().rule_total();
        assert!(now >= rules, "counts went down");
        rules = now;
    }
    // Past the tombstone TTL: only tombstones of tasks the timers ended meanwhile are left. The
    // clock may lag local time (an event older than the clock's start moves its base back, and
    // `now` stands still until it catches up), so move until it got there.
    let settings = pipeline_settings();
    let expunged = |p: &Pipeline<Tally, ReplayClock>| p.effects().expunges.values().sum::<u64>();
    let before = expunged(&p);
    let target = p
        .clock_mut()
        .now()
        .saturating_add(settings.tombstone_ttl + 1);
    let mut step = settings.tombstone_ttl + 1;
    while p.clock_mut().now() < target {
        local = local.saturating_add(step);
        step = step.saturating_mul(2);
        p.clock_mut().set_local(local);
    }
    p.tick();
    check_invariants(p.engine(), p.effects());
    let ended_meanwhile = expunged(&p) - before;
    assert!(
        p.engine().tombstones() as u64 <= ended_meanwhile,
        "{} tombstones outlived their TTL",
        p.engine().tombstones() as u64 - ended_meanwhile
    );

    // Each event twice in a row, as it comes: the second changes no count, whatever timers are
    // due and however old the event is.
    let mut frames = Vec::new();
    Decoder::new(1 << 16).feed(input, &mut |frame| {
        if let Frame::Event(data) = frame {
            frames.push(reframe(data));
        }
    });
    let mut p = pipeline_with(Engine::new(pipeline_settings()));
    for frame in &frames {
        p.feed(frame);
        let (rules, corrections) = (p.effects().rule_total(), p.effects().corrections.clone());
        p.feed(frame);
        assert_eq!(
            p.effects().rule_total(),
            rules,
            "counted twice: {}",
            String::from_utf8_lossy(frame)
        );
        assert_eq!(p.effects().corrections, corrections);
        check_invariants(p.engine(), p.effects());
    }
}
