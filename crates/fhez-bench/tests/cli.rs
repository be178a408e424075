//! The benchmark binaries' command lines: `--help` prints usage and exits 0; a bad flag or
//! value is one line on stderr with exit status 2 (no debug dump, no backtrace).

#![allow(clippy::unwrap_used, reason = "test code")]

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_bad_flags() {
    for (bin, name) in [
        (env!("CARGO_BIN_EXE_fhez-cnn-bench"), "fhez-cnn-bench"),
        (env!("CARGO_BIN_EXE_fhez-dense-bench"), "fhez-dense-bench"),
    ] {
        let (code, stdout, _) = run(bin, &["--help"]);
        assert_eq!(code, 0, "{name} --help");
        assert!(stdout.starts_with(&format!("usage: {name}")), "{stdout}");
        for bad in [&["--bogus"][..], &["--reps", "x"][..]] {
            if name == "fhez-cnn-bench" && bad[0] == "--reps" {
                continue;
            }
            let (code, _, stderr) = run(bin, bad);
            assert_eq!(code, 2, "{name} {bad:?}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.starts_with(&format!("{name}: ")), "{stderr}");
            assert!(!stderr.contains("backtrace"), "{stderr}");
        }
    }
    let (code, _, stderr) = run(env!("CARGO_BIN_EXE_fhez-cnn-bench"), &["--n-test", "x"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "fhez-cnn-bench: --n-test needs a number: invalid digit found in string"
    );
}
