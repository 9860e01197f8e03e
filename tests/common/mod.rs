//! Shared helpers of the integration tests: start the exporter against a fake Marathon, scrape,
//! parse the text exposition, and poll with a bound.
#![allow(dead_code)]

pub mod authority;
pub mod lint;
pub mod logs;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;

/// Upper bound for anything a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Samples of a text exposition: `name{a="b",c="d"}` (labels sorted) → value.
pub type Samples = BTreeMap<String, f64>;

/// Parses the text format 0.0.4 into samples keyed by name and sorted labels.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        let value: f64 = value.parse().expect("a numeric value");
        samples.insert(normalize(series), value);
    }
    samples
}

/// `name{b="2",a="1"}` → `name{a="1",b="2"}`; no label values with commas or quotes are used.
pub fn normalize(series: &str) -> String {
    match series.split_once('{') {
        None => series.to_owned(),
        Some((name, rest)) => {
            let body = rest.trim_end_matches('}');
            let mut labels: Vec<&str> = if body.is_empty() {
                vec![]
            } else {
                body.split(',').collect()
            };
            labels.sort_unstable();
            format!("{name}{{{}}}", labels.join(","))
        }
    }
}

/// The value of one series, 0 when absent.
pub fn value(samples: &Samples, series: &str) -> f64 {
    samples.get(&normalize(series)).copied().unwrap_or(0.0)
}

/// A config for tests: defaults, the fake's URL, an ephemeral port.
pub fn config(marathon_url: &str) -> Config {
    Config::for_tests(url::Url::parse(marathon_url).expect("valid URL"))
}

pub async fn scrape(exporter: &Exporter) -> String {
    let url = format!("http://{}/metrics", exporter.local_addr());
    reqwest::get(url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body")
}

pub async fn get(exporter: &Exporter, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", exporter.local_addr());
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Polls `check` every 20 ms until it holds or `PATIENCE` passes; returns whether it held.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `/readyz` answers 200.
pub async fn until_ready(exporter: &Exporter) {
    let ready = eventually(|| async { get(exporter, "/readyz").await.0 == 200 }).await;
    assert!(
        ready,
        "the exporter did not become ready: {:?}",
        get(exporter, "/readyz").await
    );
}

/// Waits until the scraped value of `series` equals `want`; returns a scrape begun after that one.
pub async fn until_value(exporter: &Exporter, series: &str, want: f64) -> Samples {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let samples = parse(&scrape(exporter).await);
        if value(&samples, series) == want {
            // A scrape reads its families one after another while the writer goes on: the one
            // that showed `want` may have read earlier families (the gauges come first) before
            // the writer got to them. A scrape begun after it sees everything that came before.
            return parse(&scrape(exporter).await);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} never reached {want}; last value {}",
            value(&samples, series)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
