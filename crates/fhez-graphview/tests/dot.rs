//! The DOT output is valid Graphviz: `dot -Tsvg` accepts it (skipped with a message when
//! Graphviz is not installed; `.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::io::Write as _;
use std::process::{Command, Stdio};

use fhez_graphview::{Format, GraphView, Header};
use fhez_nn::nodes::{Decrypt, Input, Io};
use fhez_nn::{Graph, GraphBuilder, plan, prefab};

fn dot_available() -> bool {
    Command::new("dot")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `dot -Tsvg` on `text`: its SVG output.
fn run_dot(text: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dot failed: {err}\n{text}");
    assert!(!err.contains("syntax error"), "{err}");
    String::from_utf8(out.stdout).unwrap()
}

fn hostile() -> Graph {
    let mut g = GraphBuilder::new();
    let x = g.add("x\" -> evil [label=\"pwn", Input::new(&[3])).unwrap();
    let a = g.add("a\\\"\n}\ndigraph {", Io {}).unwrap();
    let d = g.add("<Decrypt>", Decrypt {}).unwrap();
    g.chain(&[x, a, d]).unwrap();
    g.build().unwrap()
}

#[test]
fn dot_output_is_accepted_by_graphviz() {
    if !dot_available() {
        eprintln!("SKIPPED: Graphviz `dot` not found (Debian package graphviz)");
        return;
    }
    for (g, nodes) in [(prefab::cnn_classifier(10, 1).unwrap(), 12), (hostile(), 3)] {
        let p = plan(&g, 8, 20).unwrap();
        let view = GraphView::new(&g, &p, Header::from_plan("t\"\\", &p, "Bits128", 8));
        let svg = run_dot(&view.render(Format::Dot).unwrap());
        // Graphviz draws one `class="node"` group per node and one `class="edge"` per edge:
        // nothing from the names was read as DOT syntax.
        assert_eq!(svg.matches("class=\"node\"").count(), nodes);
        assert_eq!(svg.matches("class=\"edge\"").count(), g.edges().len());
    }
}
