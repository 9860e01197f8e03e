//! Writing the Prometheus text exposition (format 0.0.4) by hand: family headers, label values
//! escaped once, integer and float samples, in the exact form the `prometheus` crate's encoder uses.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `# HELP` and `# TYPE` of one family.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// A label value as the text format wants it: `\`, newline and `"` escaped.
pub fn escape(value: &str) -> Cow<'_, str> {
    if memchr::memchr3(b'\\', b'\n', b'"', value.as_bytes()).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Starts a sample: `name{app="<escaped app>"` (the brace is left open for more labels).
pub fn open(out: &mut String, name: &str, app: &str) {
    out.push_str(name);
    out.push_str("{app=\"");
    out.push_str(app);
    out.push('"');
}

/// Starts a sample whose first label is `label`: `name{label="<escaped value>"`.
pub fn open_with(out: &mut String, name: &str, label: &str, escaped: &str) {
    out.push_str(name);
    out.push('{');
    out.push_str(label);
    out.push_str("=\"");
    out.push_str(escaped);
    out.push('"');
}

/// Adds `,label="value"` (the value needs no escaping: it is one of the exporter's own words).
pub fn label(out: &mut String, label: &str, value: &str) {
    out.push(',');
    out.push_str(label);
    out.push_str("=\"");
    out.push_str(value);
    out.push('"');
}

/// Closes the labels and writes an integer value.
pub fn close_int(out: &mut String, value: u64) {
    out.push_str("} ");
    out.push_str(itoa::Buffer::new().format(value));
    out.push('\n');
}

/// Closes the labels and writes a float value as the `prometheus` crate does (`f64`'s `Display`).
pub fn close_float(out: &mut String, value: f64) {
    out.push_str("} ");
    float(out, value);
    out.push('\n');
}

/// A float sample value: `+Inf`, `-Inf`, `NaN`, or Rust's shortest round-trip decimal form.
pub fn float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        write!(out, "{value}").expect("writing to a String");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_only_when_needed() {
        assert!(matches!(escape("/prod/web"), Cow::Borrowed("/prod/web")));
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn samples_read_like_the_prometheus_encoder_writes_them() {
        let mut out = String::new();
        header(&mut out, "x_total", "Help.", "counter");
        open(&mut out, "x_total", "/a");
        label(&mut out, "reason", "failed");
        close_int(&mut out, 12);
        open(&mut out, "x_sum", "/a");
        close_float(&mut out, 2.5);
        open(&mut out, "x_sum", "/a");
        close_float(&mut out, 3.0);
        assert_eq!(
            out,
            "# HELP x_total Help.\n# TYPE x_total counter\nx_total{app=\"/a\",reason=\"failed\"} 12\nx_sum{app=\"/a\"} 2.5\nx_sum{app=\"/a\"} 3\n"
        );
        let mut inf = String::new();
        float(&mut inf, f64::INFINITY);
        assert_eq!(inf, "+Inf");
    }
}
