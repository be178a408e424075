//! Helpers shared by the `fhez` binary's integration tests: scratch directories, running
//! the binary, and the one-line error contract (exit code, one `error:` line, no panic).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: each test binary uses a subset, and a broken helper should fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `fhez` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_fhez");

/// An empty scratch directory `fhez-{prefix}-{name}` under the target's test directory.
pub fn dir(prefix: &str, name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fhez-{prefix}-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The shipped Fashion-MNIST model file.
pub fn shipped_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fashion-mnist.json")
}

/// Runs the binary.
pub fn fhez(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs a command that must succeed without a panic; returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = fhez(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fhez {args:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must exit with `code` and print one `error:` line and no panic;
/// returns the line.
pub fn fails_with(args: &[&str], code: i32) -> String {
    let out = fhez(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "fhez {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "fhez {args:?} panicked: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "fhez {args:?}: not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

/// [`fails_with`] exit code 1 (a command's own error, not a usage error).
pub fn fails(args: &[&str]) -> String {
    fails_with(args, 1)
}
