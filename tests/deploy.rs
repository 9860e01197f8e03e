//! The deployment files: the Marathon app definition runs the image the way the Dockerfile builds
//! it, with the health and readiness paths the exporter serves; the scrape config is valid.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn the_marathon_app_definition_runs_the_exporter_with_its_checks() {
    let app: Value = serde_json::from_str(&read("deploy/marathon-app.json")).expect("JSON");
    assert_eq!(app["env"]["MARATHON_URL"], "http://marathon.mesos:8080");
    assert_eq!(app["container"]["type"], "DOCKER");
    assert!(
        app["container"]["docker"]["image"]
            .as_str()
            .unwrap()
            .contains("marathon-task-exporter")
    );
    let port = &app["container"]["portMappings"][0];
    assert_eq!(port["name"], "metrics");
    assert_eq!(port["containerPort"], 9472);
    let health = &app["healthChecks"][0];
    assert!(matches!(
        health["protocol"].as_str(),
        Some("MESOS_HTTP" | "HTTP")
    ));
    assert_eq!(health["path"], "/healthz");
    assert_eq!(health["portIndex"], 0);
    let ready = &app["readinessChecks"][0];
    assert_eq!(ready["path"], "/readyz");
    assert_eq!(ready["portName"], "metrics");
    let strategy = &app["unreachableStrategy"];
    assert!(strategy["inactiveAfterSeconds"].as_u64() <= strategy["expungeAfterSeconds"].as_u64());
    assert!(app["cpus"].as_f64().unwrap() > 0.0 && app["mem"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_strict_mode_definition_mounts_the_service_account_secret_it_names() {
    let app: Value =
        serde_json::from_str(&read("deploy/marathon-app-dcos-strict.json")).expect("JSON");
    // File-based secrets need the Universal Container Runtime.
    assert_eq!(app["container"]["type"], "MESOS");
    let volume = &app["container"]["volumes"][0];
    let secret = volume["secret"].as_str().expect("a secret volume");
    assert!(
        app["secrets"][secret]["source"].is_string(),
        "{secret} is declared"
    );
    let mounted = format!(
        "/mnt/mesos/sandbox/{}",
        volume["containerPath"].as_str().unwrap()
    );
    assert_eq!(
        app["env"]["MARATHON_DCOS_CREDENTIALS_FILE"],
        mounted.as_str()
    );
    assert!(
        app["env"]["MARATHON_TOKEN_FILE"].is_null(),
        "the two are refused together"
    );
    assert!(
        app["env"]["MARATHON_URL"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    // The rest as in the plain definition.
    let plain: Value = serde_json::from_str(&read("deploy/marathon-app.json")).expect("JSON");
    for key in [
        "healthChecks",
        "readinessChecks",
        "unreachableStrategy",
        "constraints",
    ] {
        assert_eq!(app[key], plain[key], "{key}");
    }
}

#[test]
fn the_dockerfile_exposes_the_port_and_runs_the_binary_as_non_root() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("EXPOSE 9472"));
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/marathon-task-exporter\"]"));
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") || user.contains("nonroot"), "{user}");
    assert!(!user.starts_with("USER 0"), "{user}");
}

#[test]
fn the_scrape_config_passes_promtool() {
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus.yml");
    let output = Command::new(promtool)
        .args(["check", "config", "--syntax-only"])
        .arg(&path)
        .output()
        .expect("promtool on PATH (Debian package prometheus); scripts/test installs it");
    assert!(output.status.success(), "{output:?}");
}
