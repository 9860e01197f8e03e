//! The source revision the binary is built from, for `marathon_exporter_build_info{revision}` and
//! `--version`: `MARATHON_TASK_EXPORTER_REVISION` when the build sets it (the Dockerfile's
//! `REVISION` argument), else the git commit of the source tree, else `unknown`.

use std::process::Command;

const VAR: &str = "MARATHON_TASK_EXPORTER_REVISION";

fn main() {
    println!("cargo:rerun-if-env-changed={VAR}");
    let given = std::env::var(VAR).ok().filter(|r| !r.trim().is_empty());
    let revision = given
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env={VAR}={revision}");
}

/// `git rev-parse --short=12 HEAD` in the source tree, when it is a git checkout.
fn git_revision() -> Option<String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    // A new commit moves HEAD or the branch it names (a loose ref, or one in packed-refs): build
    // again then. Only files that exist are watched: a missing one would rebuild every time.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = std::path::Path::new(&dir).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(head)
}
