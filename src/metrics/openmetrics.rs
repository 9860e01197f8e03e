//! The exposition in OpenMetrics 1.0 (`application/openmetrics-text`), made from the text format
//! 0.0.4 one line at a time: counter families are named without `_total`, `# HELP` escapes `"`
//! too, every counter series and histogram series gets its `_created` sample, and `# EOF` ends it.
//!
//! A series' `_created` is when it began counting from zero: for a per-app family, when the app
//! became known (its counters start at 0 then, exposed or not); for the exporter's own and the
//! process's, when the exporter started.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The content type of OpenMetrics 1.0.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether `accept` (an `Accept` header) prefers OpenMetrics to the text format: its weight for
/// `application/openmetrics-text` is above 0 and above that of `text/plain`.
pub fn preferred(accept: &str) -> bool {
    let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| p.strip_prefix("q="))
            .next()
            .map_or(1.0, |q| q.trim().parse().unwrap_or(0.0));
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(weight),
            "text/plain" => text = text.max(weight),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics > text
}

/// `text` (format 0.0.4, as `Metrics::render` writes it) in OpenMetrics 1.0. `app_created` gives
/// the `_created` time (Unix seconds) of an app's series by its escaped `app` label; every other
/// series was created at `started`. (The exporter writes its per-app families in OpenMetrics
/// directly and converts only the small rest; this whole conversion is the reference the direct
/// rendering is tested against.)
pub fn convert(text: &str, app_created: &HashMap<String, f64>, started: f64) -> String {
    let mut out = String::with_capacity(text.len() * 2 + 64);
    convert_into(&mut out, text, app_created, started);
    out.push_str("# EOF\n");
    out
}

/// [`convert`] appending to `out`, without the closing `# EOF`.
pub fn convert_into(
    out: &mut String,
    text: &str,
    app_created: &HashMap<String, f64>,
    started: f64,
) {
    // Each `_created` value is written once per app, not once per series.
    let created: HashMap<&str, String> = app_created
        .iter()
        .map(|(app, at)| (app.as_str(), format!(" {at:.3}\n")))
        .collect();
    let started = format!(" {started:.3}\n");
    let mut help: Option<&str> = None;
    let (mut family, mut kind) = (String::new(), "");
    // Series of one app come together: the last app's value, found once.
    let mut last: (&str, &str) = ("", &started);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ').map(|(_, h)| h);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, type_) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            kind = match type_ {
                "counter" => "counter",
                "gauge" => "gauge",
                "histogram" => "histogram",
                _ => "unknown",
            };
            family = match kind {
                "counter" => name.strip_suffix("_total").unwrap_or(name).to_owned(),
                _ => name.to_owned(),
            };
            if let Some(help) = help.take() {
                let _ = writeln!(out, "# HELP {family} {}", help.replace('"', "\\\""));
            }
            let _ = writeln!(out, "# TYPE {family} {kind}");
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            let series = memchr::memrchr(b' ', line.as_bytes()).map_or(line, |at| &line[..at]);
            let with_created = match kind {
                "counter" => true,
                "histogram" => series
                    .strip_prefix(family.as_str())
                    .is_some_and(|rest| rest.starts_with("_count")),
                _ => false,
            };
            if with_created {
                let labels = memchr::memchr(b'{', series.as_bytes()).map(|at| &series[at + 1..]);
                let at = match labels.and_then(app_of) {
                    Some(app) if app == last.0 => last.1,
                    Some(app) => {
                        let at = created.get(app).map_or(started.as_str(), String::as_str);
                        last = (app, at);
                        at
                    }
                    None => started.as_str(),
                };
                out.push_str(&family);
                out.push_str("_created");
                if let Some(labels) = labels {
                    out.push('{');
                    out.push_str(labels);
                }
                out.push_str(at);
            }
        }
    }
}

/// The escaped value of the `app` label in `labels` (`a="x",app="/web"}`).
fn app_of(labels: &str) -> Option<&str> {
    let start = if labels.starts_with("app=\"") {
        5
    } else {
        labels.find(",app=\"")? + 6
    };
    let rest = &labels[start..];
    let bytes = rest.as_bytes();
    let mut from = 0;
    // The first quote not escaped by a backslash (a backslash is always escaped itself).
    while let Some(at) = memchr::memchr2(b'"', b'\\', &bytes[from..]) {
        let at = from + at;
        if bytes[at] == b'"' {
            return Some(&rest[..at]);
        }
        from = at + 2;
        if from > bytes.len() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapers_get_openmetrics_when_they_prefer_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(preferred(prometheus));
        assert!(preferred("application/openmetrics-text"));
        assert!(!preferred(
            "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"
        ));
        assert!(!preferred("application/openmetrics-text;q=0"));
        assert!(!preferred("*/*"));
        assert!(!preferred(""));
    }

    #[test]
    fn counters_lose_total_in_the_family_name_and_gain_created() {
        let text = "# HELP a_total Things (\"x\" too).\n# TYPE a_total counter\na_total{app=\"/web\",reason=\"r\"} 3\na_total{app=\"/db\",reason=\"r\"} 1\n\
            # HELP g A gauge.\n# TYPE g gauge\ng 1\n\
            # HELP own_total Own.\n# TYPE own_total counter\nown_total 2\n\
            # HELP h A histogram.\n# TYPE h histogram\nh_bucket{app=\"/web\",le=\"1\"} 1\nh_bucket{app=\"/web\",le=\"+Inf\"} 1\nh_sum{app=\"/web\"} 0.5\nh_count{app=\"/web\"} 1\n";
        let created = HashMap::from([("/web".to_owned(), 100.0)]);
        let om = convert(text, &created, 50.0);
        assert_eq!(
            om,
            "# HELP a Things (\\\"x\\\" too).\n# TYPE a counter\na_total{app=\"/web\",reason=\"r\"} 3\na_created{app=\"/web\",reason=\"r\"} 100.000\n\
             a_total{app=\"/db\",reason=\"r\"} 1\na_created{app=\"/db\",reason=\"r\"} 50.000\n\
             # HELP g A gauge.\n# TYPE g gauge\ng 1\n\
             # HELP own Own.\n# TYPE own counter\nown_total 2\nown_created 50.000\n\
             # HELP h A histogram.\n# TYPE h histogram\nh_bucket{app=\"/web\",le=\"1\"} 1\nh_bucket{app=\"/web\",le=\"+Inf\"} 1\nh_sum{app=\"/web\"} 0.5\nh_count{app=\"/web\"} 1\nh_created{app=\"/web\"} 100.000\n\
             # EOF\n"
        );
    }

    #[test]
    fn the_app_label_is_found_wherever_it_is_and_escapes_are_kept() {
        assert_eq!(app_of("app=\"/web\",x=\"1\"}"), Some("/web"));
        assert_eq!(app_of("from=\"a\",app=\"/w\\\"eb\"}"), Some("/w\\\"eb"));
        assert_eq!(app_of("happ=\"/no\"}"), None);
        assert_eq!(app_of(""), None);
    }
}
