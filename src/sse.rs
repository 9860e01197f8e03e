//! Incremental Server-Sent-Events decoder: network reads in, complete `data` payloads out.
//!
//! Follows the WHATWG event-stream parsing rules as far as this exporter needs them: lines end at
//! CRLF, LF or CR (a CRLF split across two reads is one terminator), `:` lines are comments, a blank
//! line dispatches the event, `data` lines are joined with `\n`, every other field (`event`, `id`,
//! `retry`) is ignored, and a leading UTF-8 BOM is skipped. One leniency: spaces and tabs before the
//! field name are ignored, because published samples indent their lines (a line of nothing but
//! blanks is still not the empty line, so it dispatches nothing).
//!
//! Memory is bounded by `max_event_bytes`: an event whose data grows past it is discarded as it
//! arrives and reported once, as [`Frame::Oversized`], when its blank line comes. Any other line
//! that long is dropped as it arrives.

use memchr::memchr2;

/// Extra room, beyond `max_event_bytes`, allowed for the indentation and field name of a line held
/// across reads. A line longer than that is judged by its first `line_cap` bytes.
const LINE_SLACK: usize = 64;

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// What the decoder hands out for each dispatched event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete event: its data lines joined by '\n' (no trailing newline).
    Event(&'a [u8]),
    /// An event whose data passed max_event_bytes; its bytes were discarded.
    Oversized {
        /// Length the event's data would have had (lines joined by '\n').
        bytes: usize,
    },
}

/// What to do with the rest of a line that outgrew the line buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LongLine {
    /// No line is being skipped.
    No,
    /// A `data` line: its remaining bytes still count towards the event's size.
    Data,
    /// Any other line: its remaining bytes are dropped.
    Other,
}

/// How a complete line is handled.
enum Kind {
    /// The empty line: dispatch.
    Blank,
    /// A `data` line whose value starts at this offset.
    Data(usize),
    /// A comment, another field, or something unparseable: ignored.
    Other,
}

/// Where the stream stands with respect to the optional byte-order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bom {
    /// This many bytes of the BOM have been seen at the very start of the stream.
    Matching(u8),
    /// Past the start of the stream.
    Done,
}

/// Turns the bytes of one SSE connection into [`Frame`]s. Reuses its buffers across events.
#[derive(Clone, Debug)]
pub struct Decoder {
    max: usize,
    /// The unfinished line carried over from earlier reads (at most `line_cap()` bytes).
    line: Vec<u8>,
    /// The event's data lines joined by '\n' so far (at most `max` bytes).
    data: Vec<u8>,
    /// Length the event's data has reached, counting discarded bytes.
    total: usize,
    /// A `data` line was seen for the current event (even an empty one).
    has_data: bool,
    /// The current event passed the limit; `data` is no longer filled.
    oversized: bool,
    /// The unfinished line is too long to hold and is being streamed or dropped.
    long_line: LongLine,
    /// The last read ended with CR: an LF starting the next read belongs to it.
    after_cr: bool,
    bom: Bom,
}

impl Decoder {
    /// A decoder that discards events whose data is longer than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        Decoder {
            max: max_event_bytes,
            line: Vec::new(),
            data: Vec::new(),
            total: 0,
            has_data: false,
            oversized: false,
            long_line: LongLine::No,
            after_cr: false,
            bom: Bom::Matching(0),
        }
    }

    /// Feeds one network read; calls `on_frame` for every event completed by it, in order.
    pub fn feed(&mut self, chunk: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) {
        let mut chunk = chunk;
        if let Bom::Matching(mut seen) = self.bom {
            let mut used = 0;
            while usize::from(seen) < BOM.len()
                && used < chunk.len()
                && chunk[used] == BOM[usize::from(seen)]
            {
                seen += 1;
                used += 1;
            }
            if usize::from(seen) == BOM.len() {
                self.bom = Bom::Done;
            } else if used == chunk.len() {
                // Still possibly a BOM: wait for the next read.
                self.bom = Bom::Matching(seen);
                return;
            } else {
                // Not a BOM after all: the bytes held back are ordinary input.
                self.bom = Bom::Done;
                self.feed_lines(&BOM[..usize::from(seen)], on_frame);
            }
            chunk = &chunk[used..];
        }
        self.feed_lines(chunk, on_frame);
    }

    /// Forgets any partial line or event (a new connection starts clean).
    pub fn reset(&mut self) {
        self.line.clear();
        self.clear_event();
        self.long_line = LongLine::No;
        self.after_cr = false;
        self.bom = Bom::Matching(0);
    }

    /// Bytes currently held (partial line + data buffer), for tests and memory accounting.
    pub fn buffered_bytes(&self) -> usize {
        self.line.len() + self.data.len()
    }

    fn line_cap(&self) -> usize {
        self.max.saturating_add(LINE_SLACK)
    }

    fn feed_lines(&mut self, chunk: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) {
        if chunk.is_empty() {
            return;
        }
        let mut pos = 0;
        if self.after_cr {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        let cap = self.line_cap();
        // The first data line of the current event when it lies in this chunk: it is handed out
        // without copying if the event also ends in this chunk.
        let mut pending: Option<(usize, usize)> = None;
        while let Some(found) = memchr2(b'\n', b'\r', &chunk[pos..]) {
            let end = pos + found;
            let next = if chunk[end] == b'\n' {
                end + 1
            } else {
                match chunk.get(end + 1) {
                    Some(b'\n') => end + 2,
                    Some(_) => end + 1,
                    None => {
                        self.after_cr = true;
                        end + 1
                    }
                }
            };
            if self.long_line != LongLine::No || !self.line.is_empty() {
                // The end of a line that began in an earlier read (only ever the first line here).
                self.extend_line(&chunk[pos..end]);
                if self.long_line == LongLine::No {
                    let line = std::mem::take(&mut self.line);
                    self.complete_line(&line, on_frame);
                    self.line = line;
                    self.line.clear();
                } else {
                    self.long_line = LongLine::No;
                }
            } else {
                let line = &chunk[pos..end];
                match classify(line, cap) {
                    Kind::Blank => match pending.take() {
                        Some((start, stop)) => {
                            self.clear_event();
                            on_frame(Frame::Event(&chunk[start..stop]));
                        }
                        None => self.dispatch(on_frame),
                    },
                    Kind::Data(offset) => {
                        let value = &line[offset..];
                        if !self.has_data && value.len() <= self.max {
                            pending = Some((pos + offset, end));
                            self.has_data = true;
                            self.total = value.len();
                        } else {
                            if let Some((start, stop)) = pending.take() {
                                push_capped(&mut self.data, &chunk[start..stop], self.max);
                            }
                            self.append_line(value);
                        }
                    }
                    Kind::Other => {}
                }
            }
            pos = next;
        }
        if let Some((start, stop)) = pending {
            push_capped(&mut self.data, &chunk[start..stop], self.max);
        }
        if pos < chunk.len() {
            self.extend_line(&chunk[pos..]);
        }
    }

    /// Adds bytes to the unfinished line. Past `line_cap()` the line is judged by what is held:
    /// the rest of a `data` line streams into the event, anything else is dropped.
    fn extend_line(&mut self, bytes: &[u8]) {
        match self.long_line {
            LongLine::Data => {
                self.append_more(bytes);
                return;
            }
            LongLine::Other => return,
            LongLine::No => {}
        }
        let cap = self.line_cap();
        if self.line.len() + bytes.len() <= cap {
            push_capped(&mut self.line, bytes, cap);
            return;
        }
        let fill = cap - self.line.len();
        push_capped(&mut self.line, &bytes[..fill], cap);
        let line = std::mem::take(&mut self.line);
        match long_line_value(&line) {
            Some(offset) => {
                self.long_line = LongLine::Data;
                self.append_line(&line[offset..]);
                self.append_more(&bytes[fill..]);
            }
            None => self.long_line = LongLine::Other,
        }
        self.line = line;
        self.line.clear();
    }

    fn complete_line(&mut self, line: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) {
        match classify(line, self.line_cap()) {
            Kind::Blank => self.dispatch(on_frame),
            Kind::Data(offset) => self.append_line(&line[offset..]),
            Kind::Other => {}
        }
    }

    /// Adds the value of a new `data` line to the event.
    fn append_line(&mut self, value: &[u8]) {
        let separator = usize::from(self.has_data);
        self.total = self
            .total
            .saturating_add(separator)
            .saturating_add(value.len());
        if !self.oversized {
            if self.total > self.max {
                self.oversized = true;
                self.data.clear();
            } else {
                if self.has_data {
                    push_capped(&mut self.data, b"\n", self.max);
                }
                push_capped(&mut self.data, value, self.max);
            }
        }
        self.has_data = true;
    }

    /// Adds more bytes to the `data` line in progress.
    fn append_more(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len());
        if !self.oversized {
            if self.total > self.max {
                self.oversized = true;
                self.data.clear();
            } else {
                push_capped(&mut self.data, bytes, self.max);
            }
        }
    }

    fn dispatch(&mut self, on_frame: &mut impl FnMut(Frame<'_>)) {
        if self.oversized {
            on_frame(Frame::Oversized { bytes: self.total });
        } else if self.has_data {
            on_frame(Frame::Event(&self.data));
        }
        self.clear_event();
    }

    fn clear_event(&mut self) {
        self.data.clear();
        self.total = 0;
        self.has_data = false;
        self.oversized = false;
    }
}

/// Sorts a complete line (without its terminator). A line longer than `cap` is judged by its first
/// `cap` bytes, exactly as if it had arrived in pieces.
fn classify(line: &[u8], cap: usize) -> Kind {
    if line.is_empty() {
        return Kind::Blank;
    }
    if line.len() > cap {
        return long_line_value(&line[..cap]).map_or(Kind::Other, Kind::Data);
    }
    let indent = indentation(line);
    let rest = &line[indent..];
    if !rest.starts_with(b"data") {
        return Kind::Other;
    }
    match rest.get(4) {
        None => Kind::Data(line.len()),
        Some(b':') => Kind::Data(indent + 5 + usize::from(rest.get(5) == Some(&b' '))),
        Some(_) => Kind::Other,
    }
}

/// Where the value starts in the first `cap` bytes of an over-long line, if it is a `data` line
/// whose value is already under way.
fn long_line_value(head: &[u8]) -> Option<usize> {
    let indent = indentation(head);
    let rest = &head[indent..];
    (rest.len() > 5 && rest.starts_with(b"data:"))
        .then(|| indent + 5 + usize::from(rest[5] == b' '))
}

/// Number of spaces and tabs before the field name.
fn indentation(line: &[u8]) -> usize {
    line.iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len())
}

/// Appends to a buffer that must never hold more than `cap` bytes, growing it no further than that.
fn push_capped(buf: &mut Vec<u8>, bytes: &[u8], cap: usize) {
    let needed = buf.len() + bytes.len();
    if needed > buf.capacity() {
        let target = (buf.capacity() * 2).min(cap).max(needed);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Out {
        Event(Vec<u8>),
        Oversized(usize),
    }

    fn ev(data: &str) -> Out {
        Out::Event(data.as_bytes().to_vec())
    }

    fn feed_chunks<'a>(
        decoder: &mut Decoder,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut |frame| {
                out.push(match frame {
                    Frame::Event(data) => Out::Event(data.to_vec()),
                    Frame::Oversized { bytes } => Out::Oversized(bytes),
                })
            });
        }
        out
    }

    fn decode(max: usize, input: &[u8]) -> Vec<Out> {
        feed_chunks(&mut Decoder::new(max), [input])
    }

    fn decode_bytewise(max: usize, input: &[u8]) -> Vec<Out> {
        feed_chunks(&mut Decoder::new(max), input.chunks(1))
    }

    const A: &str = r#"{"eventType":"status_update_event","taskStatus":"TASK_RUNNING"}"#;
    const B: &str = r#"{"eventType":"instance_changed_event","condition":"Running"}"#;

    /// Two events with heartbeats around them, written with the given line ending.
    fn sequence(eol: &str) -> String {
        format!(
            "event: status_update_event{eol}data: {A}{eol}{eol}{eol}{eol}\
             event: instance_changed_event{eol}data: {B}{eol}{eol}{eol}"
        )
    }

    #[test]
    fn crlf_sequence_decodes_each_event_once() {
        assert_eq!(decode(1024, sequence("\r\n").as_bytes()), [ev(A), ev(B)]);
    }

    #[test]
    fn lf_only_lines_decode() {
        assert_eq!(decode(1024, sequence("\n").as_bytes()), [ev(A), ev(B)]);
    }

    #[test]
    fn cr_only_lines_decode() {
        assert_eq!(decode(1024, sequence("\r").as_bytes()), [ev(A), ev(B)]);
    }

    #[test]
    fn heartbeat_empty_lines_dispatch_nothing() {
        let mut decoder = Decoder::new(1024);
        assert_eq!(
            feed_chunks(
                &mut decoder,
                [&b"\r\n\r\n\r\n"[..], b"\r", b"\n", b"\n", b"\r"]
            ),
            []
        );
        assert_eq!(decoder.buffered_bytes(), 0);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"data: x\r\n\r\n"[..]]),
            [ev("x")]
        );
    }

    #[test]
    fn comments_are_ignored() {
        let input =
            b": hello\r\n:\r\n\r\ndata: a\r\n: in the middle\r\ndata: b\r\n\r\n: after\r\n\r\n";
        assert_eq!(decode(1024, input), [ev("a\nb")]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let input = b"data: first\ndata: second\ndata:\ndata:fourth\n\n";
        assert_eq!(decode(1024, input), [ev("first\nsecond\n\nfourth")]);
    }

    #[test]
    fn cr_and_lf_in_separate_reads_are_one_terminator() {
        let mut decoder = Decoder::new(1024);
        // Read as two line ends, the LF would be a blank line dispatching "a" alone.
        let chunks: [&[u8]; 4] = [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"];
        assert_eq!(feed_chunks(&mut decoder, chunks), [ev("a\nb")]);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"\r"[..], b"\n", b"\r", b"\n"]),
            []
        );
        assert_eq!(
            feed_chunks(&mut decoder, [&b"data: c\r\n\r"[..], b"\n"]),
            [ev("c")]
        );
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    /// Several events, heartbeats and comments, with mixed line endings, indentation, an oversized
    /// event and over-long lines (the limit is 40, so the line cap is 104).
    fn mixed_stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(b"\xEF\xBB\xBFevent: one\r\ndata: {\"n\":1}\r\n\r\n\r\n");
        s.extend_from_slice(b": keep-alive\r\rdata:two\ndata: lines\n\n\r\n");
        s.extend_from_slice(format!(":{}\r\n", "c".repeat(150)).as_bytes());
        s.extend_from_slice(format!("data: {}\r\ndata: tail\r\n\r\n", "x".repeat(120)).as_bytes());
        s.extend_from_slice(b" event: three\n data: {\"n\":3}\r\r");
        s.extend_from_slice(format!("data: {}\r\n\r\n", "y".repeat(41)).as_bytes());
        s.extend_from_slice(
            b"data\r\ndata: \r\n\r\ndata: 0123456789012345678901234567890123456789\n\n",
        );
        s.extend_from_slice(b"data: unfinished\r\n");
        s
    }

    fn mixed_expected() -> Vec<Out> {
        vec![
            ev("{\"n\":1}"),
            ev("two\nlines"),
            Out::Oversized(120 + 1 + 4),
            ev("{\"n\":3}"),
            Out::Oversized(41),
            ev("\n"),
            ev("0123456789012345678901234567890123456789"),
        ]
    }

    #[test]
    fn every_split_position_gives_the_same_frames() {
        let input = mixed_stream();
        assert_eq!(decode(40, &input), mixed_expected());
        assert_eq!(decode_bytewise(40, &input), mixed_expected());
        for i in 0..=input.len() {
            let (head, tail) = input.split_at(i);
            let got = feed_chunks(&mut Decoder::new(40), [head, tail]);
            assert_eq!(got, mixed_expected(), "split at {i}");
        }
    }

    #[test]
    fn every_three_way_split_gives_the_same_frames() {
        let input = mixed_stream();
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let chunks = [&input[..i], &input[i..j], &input[j..]];
                let got = feed_chunks(&mut Decoder::new(40), chunks);
                assert_eq!(got, mixed_expected(), "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn over_long_line_is_judged_the_same_whatever_the_split() {
        // Limit 8, so lines past 72 bytes are judged by their first 72; vary where `data:` ends.
        for indent in 60..=72 {
            let mut input = b"data: a\n".to_vec();
            input.extend(std::iter::repeat_n(b' ', indent));
            input.extend_from_slice(b"data: 0123456789\n\ndata: b\n\n");
            let whole = decode(8, &input);
            assert_eq!(whole.last(), Some(&ev("b")));
            assert_eq!(decode_bytewise(8, &input), whole, "indent {indent}");
            for i in 0..=input.len() {
                let got = feed_chunks(&mut Decoder::new(8), [&input[..i], &input[i..]]);
                assert_eq!(got, whole, "indent {indent}, split at {i}");
            }
        }
        let mut input = vec![b' '; 60];
        input.extend_from_slice(b"data: 0123456789\n\n");
        assert_eq!(decode(8, &input), [Out::Oversized(10)]);
    }

    #[test]
    fn leading_spaces_and_tabs_before_the_field_name_are_ignored() {
        let input =
            b" event: status_update_event\n data: {\"a\":1}\n\n\t  data: two\n \tdata:three\n\n";
        assert_eq!(decode(1024, input), [ev("{\"a\":1}"), ev("two\nthree")]);
        // A line of blanks is not an empty line: it neither dispatches nor adds data.
        assert_eq!(decode(1024, b"data: x\n  \n\t\ndata: y\n\n"), [ev("x\ny")]);
    }

    #[test]
    fn bom_at_stream_start_is_skipped() {
        let input = b"\xEF\xBB\xBFdata: x\r\n\r\n";
        assert_eq!(decode(1024, input), [ev("x")]);
        assert_eq!(decode_bytewise(1024, input), [ev("x")]);
        // Only at the very start: later, the BOM is part of the field name.
        assert_eq!(
            decode(1024, b"data: x\n\n\xEF\xBB\xBFdata: y\n\n"),
            [ev("x")]
        );
        // A partial BOM is kept as ordinary bytes, so this field is not `data`.
        assert_eq!(decode(1024, b"\xEF\xBBdata: z\n\n"), []);
        assert_eq!(decode_bytewise(1024, b"\xEF\xBBdata: z\n\n"), []);
        // After a reset the next connection may start with a BOM again.
        let mut decoder = Decoder::new(1024);
        assert_eq!(feed_chunks(&mut decoder, [&input[..]]), [ev("x")]);
        decoder.reset();
        assert_eq!(
            feed_chunks(&mut decoder, [&input[..2], &input[2..]]),
            [ev("x")]
        );
    }

    #[test]
    fn data_without_colon_appends_an_empty_line() {
        assert_eq!(decode(1024, b"data\n\n"), [ev("")]);
        assert_eq!(decode(1024, b"data\ndata\n\n"), [ev("\n")]);
        assert_eq!(decode(1024, b"data: a\ndata\n\n"), [ev("a\n")]);
    }

    #[test]
    fn data_colon_without_space_keeps_the_whole_value() {
        assert_eq!(decode(1024, b"data:x\n\n"), [ev("x")]);
        // Only one space after the colon is removed.
        assert_eq!(decode(1024, b"data:  x \n\n"), [ev(" x ")]);
        assert_eq!(decode(1024, b"data:\n\n"), [ev("")]);
    }

    #[test]
    fn events_without_data_and_other_fields_dispatch_nothing() {
        assert_eq!(decode(1024, b"event: status_update_event\n\n"), []);
        assert_eq!(
            decode(1024, b"id: 7\nretry: 10\ndatax: no\ndata x\nDATA: no\n\n"),
            []
        );
        assert_eq!(
            decode(1024, b"id: 7\nretry: 10\nevent: e\ndata: v\n\n"),
            [ev("v")]
        );
    }

    #[test]
    fn incomplete_event_is_not_dispatched() {
        let mut decoder = Decoder::new(1024);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"data: a\n\ndata: b\ndata: c"[..]]),
            [ev("a")]
        );
        assert_eq!(decoder.buffered_bytes(), "b".len() + "data: c".len());
    }

    #[test]
    fn reset_discards_a_partial_event_and_line() {
        let mut decoder = Decoder::new(1024);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"data: lost\ndata: half"[..]]),
            []
        );
        assert!(decoder.buffered_bytes() > 0);
        decoder.reset();
        assert_eq!(decoder.buffered_bytes(), 0);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"\ndata: kept\n\n"[..]]),
            [ev("kept")]
        );
        // Also in the middle of an over-long line being skipped.
        let mut decoder = Decoder::new(8);
        assert_eq!(feed_chunks(&mut decoder, [&[b'd'; 200][..]]), []);
        decoder.reset();
        assert_eq!(
            feed_chunks(&mut decoder, [&b"data: ok\n\n"[..]]),
            [ev("ok")]
        );
    }

    #[test]
    fn oversized_event_is_reported_once_and_the_next_decodes() {
        let input = b"data: 0123456789\n\ndata: 0123456789a\n\n\
                      data: 12345\ndata: 67890\ndata: more\n\n\ndata: ok\n\n";
        let expected = [
            ev("0123456789"),
            Out::Oversized(11),
            Out::Oversized(11 + 5),
            ev("ok"),
        ];
        assert_eq!(decode(10, input), expected);
        assert_eq!(decode_bytewise(10, input), expected);
    }

    #[test]
    fn oversized_line_streamed_in_chunks_keeps_memory_bounded() {
        const LIMIT: usize = 1 << 20;
        const CHUNK: usize = 64 << 10;
        let mut decoder = Decoder::new(LIMIT);
        let mut frames = Vec::new();
        let mut chunk = vec![b'x'; CHUNK];
        chunk[..6].copy_from_slice(b"data: ");
        let mut sink = |frame: Frame<'_>| frames.push(format!("{frame:?}"));
        decoder.feed(&chunk, &mut sink);
        chunk[..6].fill(b'x');
        let count = 50 * (1 << 20) / CHUNK;
        for _ in 1..count {
            decoder.feed(&chunk, &mut sink);
            assert!(decoder.buffered_bytes() <= LIMIT + CHUNK);
            assert!(decoder.line.capacity() <= LIMIT + LINE_SLACK);
            assert!(decoder.data.capacity() <= LIMIT);
        }
        assert!(frames.is_empty());
        let tail = b"\r\n\r\n\r\nevent: x\r\ndata: {\"eventType\":\"x\"}\r\n\r\n";
        let out = feed_chunks(&mut decoder, [&tail[..]]);
        let bytes = count * CHUNK - 6;
        assert_eq!(out, [Out::Oversized(bytes), ev("{\"eventType\":\"x\"}")]);
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn oversized_line_without_terminator_is_not_buffered() {
        const LIMIT: usize = 1 << 20;
        let mut decoder = Decoder::new(LIMIT);
        let mut line = vec![b'z'; 3 * LIMIT];
        line[..5].copy_from_slice(b"data:");
        assert_eq!(feed_chunks(&mut decoder, [&line[..]]), []);
        assert!(decoder.buffered_bytes() <= LIMIT + LINE_SLACK);
        assert_eq!(
            feed_chunks(&mut decoder, [&b"\n\ndata: next\n\n"[..]]),
            [Out::Oversized(3 * LIMIT - 5), ev("next")]
        );
        // A huge comment is dropped too, and does not spoil the event around it.
        line[0] = b':';
        let out = feed_chunks(
            &mut decoder,
            [&b"data: a\n"[..], &line, &line, b"\ndata: b\n\n"],
        );
        assert_eq!(out, [ev("a\nb")]);
        assert!(decoder.line.capacity() <= LIMIT + LINE_SLACK);
    }

    #[test]
    fn oversized_line_inside_one_chunk_is_reported() {
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'q', 5000));
        input.extend_from_slice(b"\n\ndata: fine\n\n");
        let mut decoder = Decoder::new(1000);
        assert_eq!(
            feed_chunks(&mut decoder, [&input[..]]),
            [Out::Oversized(5000), ev("fine")]
        );
        // Both events lay inside the read: nothing was copied.
        assert_eq!(decoder.data.capacity(), 0);
    }

    #[test]
    fn buffers_are_reused_after_warm_up() {
        let event = format!(
            "event: e\r\ndata: {{\"p\":\"{}\"}}\r\n\r\n",
            "v".repeat(500)
        );
        let stream = event.repeat(64);
        let mut decoder = Decoder::new(4096);
        let feed_all = |decoder: &mut Decoder| {
            let mut n = 0;
            for chunk in stream.as_bytes().chunks(333) {
                decoder.feed(chunk, &mut |_| n += 1);
            }
            n
        };
        assert_eq!(feed_all(&mut decoder), 64);
        let capacities = (decoder.line.capacity(), decoder.data.capacity());
        assert!(
            capacities.1 > 0,
            "events split across reads use the data buffer"
        );
        for _ in 0..100 {
            assert_eq!(feed_all(&mut decoder), 64);
        }
        assert_eq!(
            (decoder.line.capacity(), decoder.data.capacity()),
            capacities
        );
    }

    /// The `eventType` of every event in a capture, checking each is a JSON object.
    fn event_types(capture: &[u8]) -> Vec<String> {
        let frames = decode(1 << 20, capture);
        assert_eq!(decode_bytewise(1 << 20, capture), frames);
        frames
            .iter()
            .map(|frame| {
                let Out::Event(data) = frame else {
                    panic!("unexpected {frame:?}")
                };
                let json: serde_json::Value = serde_json::from_slice(data).expect("JSON");
                assert!(json.is_object(), "not an object: {json}");
                json["eventType"].as_str().expect("eventType").to_owned()
            })
            .collect()
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/sse/",
                $name
            ))
        };
    }

    #[test]
    fn jetty_wire_sample_decodes() {
        let capture = fixture!("jetty_wire_sample.txt");
        assert!(capture.windows(4).any(|w| w == b"\r\n\r\n"));
        let expected = [
            "event_stream_attached",
            "status_update_event",
            "instance_changed_event",
        ];
        assert_eq!(event_types(capture), expected);
    }

    #[test]
    fn async_worker_single_event_capture_decodes() {
        assert_eq!(
            event_types(fixture!("async-worker_single-event.txt")),
            ["event_stream_attached"]
        );
    }

    #[test]
    fn async_worker_capture_with_blank_lines_decodes() {
        let expected = [
            "group_change_success",
            "api_post_event",
            "status_update_event",
            "instance_changed_event",
        ];
        assert_eq!(
            event_types(fixture!("async-worker_blanklines.txt")),
            expected
        );
    }

    #[test]
    fn contrail_indented_sample_decodes() {
        let capture = fixture!("contrail_indented.txt");
        // The sample's last event has no closing blank line, so it is never dispatched.
        let expected = ["status_update_event", "instance_changed_event"];
        assert_eq!(event_types(capture), expected);
        let mut closed = capture.to_vec();
        closed.push(b'\n');
        assert_eq!(
            event_types(&closed),
            [
                "status_update_event",
                "instance_changed_event",
                "instance_changed_event"
            ]
        );
    }

    #[test]
    fn marathon_docs_capture_decodes() {
        let expected = [
            "event_stream_attached",
            "status_update_event",
            "status_update_event",
        ];
        assert_eq!(event_types(fixture!("marathon-docs_events.txt")), expected);
    }

    #[derive(Clone, Debug)]
    enum Item {
        Event {
            name: Option<String>,
            indent: bool,
            data: Vec<String>,
        },
        Heartbeat,
        Comment(String),
    }

    const PROP_LIMIT: usize = 64;

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            3 => (
                proptest::option::of("[a-z_]{1,20}"),
                any::<bool>(),
                proptest::collection::vec("[ -~]{0,150}", 0..4),
            )
                .prop_map(|(name, indent, data)| Item::Event { name, indent, data }),
            1 => Just(Item::Heartbeat),
            1 => "[ -~]{0,150}".prop_map(Item::Comment),
        ]
    }

    /// The stream's bytes and the frames it must give.
    fn render(items: &[Item], eol: &str, bom: bool) -> (Vec<u8>, Vec<Out>) {
        let mut text = String::new();
        let mut frames = Vec::new();
        for item in items {
            match item {
                Item::Event { name, indent, data } => {
                    let pad = if *indent { " " } else { "" };
                    if let Some(name) = name {
                        text += &format!("{pad}event: {name}{eol}");
                    }
                    for line in data {
                        text += &format!("{pad}data: {line}{eol}");
                    }
                    text += eol;
                    if !data.is_empty() {
                        let joined = data.join("\n");
                        frames.push(if joined.len() > PROP_LIMIT {
                            Out::Oversized(joined.len())
                        } else {
                            Out::Event(joined.into_bytes())
                        });
                    }
                }
                Item::Heartbeat => text += eol,
                Item::Comment(c) => text += &format!(":{c}{eol}"),
            }
        }
        let mut bytes = if bom { BOM.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(text.as_bytes());
        (bytes, frames)
    }

    proptest! {
        #[test]
        fn arbitrary_chunking_gives_the_same_frames(
            items in proptest::collection::vec(item(), 0..12),
            eol in prop_oneof![Just("\r\n"), Just("\n"), Just("\r")],
            bom in any::<bool>(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..16),
        ) {
            let (input, expected) = render(&items, eol, bom);
            prop_assert_eq!(&decode(PROP_LIMIT, &input), &expected);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            cuts.push(0);
            cuts.push(input.len());
            cuts.sort_unstable();
            let mut decoder = Decoder::new(PROP_LIMIT);
            let mut got = Vec::new();
            for pair in cuts.windows(2) {
                got.extend(feed_chunks(&mut decoder, [&input[pair[0]..pair[1]]]));
                prop_assert!(decoder.buffered_bytes() <= 2 * PROP_LIMIT + LINE_SLACK);
                prop_assert!(decoder.data.capacity() <= PROP_LIMIT);
                prop_assert!(decoder.line.capacity() <= PROP_LIMIT + LINE_SLACK);
            }
            prop_assert_eq!(got, expected);
        }
    }
}
