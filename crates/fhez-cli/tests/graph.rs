//! `fhez graph` on the shipped Fashion-MNIST model: every format, the format taken from
//! the file name, `--json`, one-line errors; the DOT checked by Graphviz when installed.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{fails_with as fails, ok, p, shipped_model as model};

use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    common::dir("graph", name)
}

fn node_names() -> Vec<String> {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(model()).unwrap()).unwrap();
    m["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn graph_writes_html_svg_and_dot() {
    let d = dir("formats");
    let html = d.join("g.html");
    let summary: Value =
        serde_json::from_str(&ok(&["graph", p(&model()), "--out", p(&html), "--json"])).unwrap();
    assert_eq!(summary["format"], "html");
    assert_eq!(
        (summary["nodes"].as_u64(), summary["edges"].as_u64()),
        (Some(27), Some(41))
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert_eq!(summary["bytes"].as_u64(), Some(text.len() as u64));
    for name in node_names() {
        assert!(text.contains(&format!("\"title\":\"{name}\"")), "{name}");
    }
    assert_eq!(text.matches("<g class=\"node ").count(), 27);
    assert_eq!(text.matches("\" data-from=\"").count(), 41);
    // The format follows the extension, or --format.
    let svg = d.join("g.svg");
    let line = ok(&["graph", p(&model()), "--out", p(&svg)]);
    assert!(
        line.starts_with("wrote ") && line.contains("(svg, "),
        "{line}"
    );
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<?xml") && svg_text.contains("<svg xmlns"));
    let dot = d.join("g.txt");
    ok(&["graph", p(&model()), "--out", p(&dot), "--format", "dot"]);
    let dot_text = std::fs::read_to_string(&dot).unwrap();
    assert!(dot_text.starts_with("digraph fhez {"));
    let dot_ok = Command::new("dot")
        .arg("-V")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if dot_ok {
        let out = Command::new("dot")
            .args(["-Tsvg", p(&dot)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let drawn = String::from_utf8(out.stdout).unwrap();
        assert_eq!(drawn.matches("class=\"node\"").count(), 27);
        assert_eq!(drawn.matches("class=\"edge\"").count(), 41);
    } else {
        eprintln!("SKIPPED the dot check: Graphviz `dot` not found (Debian package graphviz)");
    }
    // Unknown extension: HTML.
    let other = d.join("g.view");
    ok(&["graph", p(&model()), "--out", p(&other)]);
    assert!(
        std::fs::read_to_string(&other)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
}

#[test]
fn graph_errors_are_one_line() {
    let d = dir("errors");
    let e = fails(
        &[
            "graph",
            p(&d.join("missing.json")),
            "--out",
            p(&d.join("g.html")),
        ],
        1,
    );
    assert!(e.contains("missing.json"), "{e}");
    let junk = d.join("junk.json");
    std::fs::write(&junk, "{\"format\": \"fhez-model\"").unwrap();
    fails(&["graph", p(&junk), "--out", p(&d.join("g.html"))], 1);
    let e = fails(
        &[
            "graph",
            p(&model()),
            "--out",
            p(&d.join("no/such/dir/g.html")),
        ],
        1,
    );
    assert!(e.contains("writing"), "{e}");
    fails(
        &[
            "graph",
            p(&model()),
            "--out",
            p(&d.join("g")),
            "--format",
            "png",
        ],
        2,
    );
    let help = ok(&["graph", "--help"]);
    assert!(
        help.contains("--format") && help.contains("--out"),
        "{help}"
    );
}

#[test]
fn a_model_of_thousands_of_nodes_gets_the_summary_view() {
    use fhez_nn::nodes::{Decrypt, Input, Io};
    use fhez_nn::{GraphBuilder, PlanRequest};
    let d = dir("big");
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[2])).unwrap();
    let mut prev = x;
    for i in 0..3000 {
        // Hostile names too: markup that must stay text.
        let n = g
            .add(&format!("<img src=x onerror=alert({i})>"), Io {})
            .unwrap();
        g.chain(&[prev, n]).unwrap();
        prev = n;
    }
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[prev, dec]).unwrap();
    let graph = g.build().unwrap();
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = fhez_model::Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    let file = fhez_model::ModelFile::new("big", &graph, &["x"], "Decrypt", task, request).unwrap();
    let path = d.join("big.json");
    file.save(&path).unwrap();
    let html = d.join("big.html");
    ok(&["graph", p(&path), "--out", p(&html)]);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("summary view: 3002 nodes and 3001 edges"));
    assert!(!text.contains("<img"), "a name became markup");
    // Per-layer groups, not 3002 boxes.
    let boxes = text.matches("<g class=\"node ").count();
    assert!(boxes <= 3 * 48, "{boxes} boxes");
    assert!(text.len() < 1 << 20, "{} bytes", text.len());
}
