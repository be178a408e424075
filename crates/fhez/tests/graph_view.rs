//! The graph view of the shipped Fashion-MNIST model: every node, its plan figures and the
//! chosen parameters are in the page.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::path::PathBuf;

use fhez::graphview::{Format, Limits};
use fhez::{ModelFile, graph_view, graph_view_with};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn model() -> Result<ModelFile, fhez::Error> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/fashion-mnist.json");
    ModelFile::load(&path)
}

#[test]
fn fashion_mnist_view_carries_the_plan_and_the_parameters() -> TestResult {
    let file = model()?;
    let m = file.encrypted_model()?;
    let view = fhez::graph_view_of(&m, &file.name)?;
    let scene = view.scene();
    let graph = m.graph();
    assert_eq!(scene.boxes.len(), graph.len());
    assert_eq!(scene.links.len(), graph.edges().len());
    for n in &m.plan().nodes {
        let b = scene.boxes.iter().find(|b| b.title == n.name).unwrap();
        let get = |k: &str| b.details.iter().find(|d| d.key == k).unwrap().value.clone();
        assert_eq!(
            get("key_switches"),
            n.key_switches.to_string(),
            "{}",
            n.name
        );
        assert_eq!(get("level_in"), n.level_in.to_string(), "{}", n.name);
        assert_eq!(get("level_out"), n.level_out.to_string(), "{}", n.name);
        assert_eq!(get("depth"), n.depth_out.to_string(), "{}", n.name);
    }
    // The deepest path runs from the input through the ReLU to the decrypt.
    let critical: Vec<&str> = scene
        .boxes
        .iter()
        .filter(|b| b.critical)
        .map(|b| b.title.as_str())
        .collect();
    assert!(critical.first() == Some(&"x") && critical.last() == Some(&"Decrypt"));
    assert!(critical.contains(&"ReLU") && critical.contains(&"Dense"));
    let html = graph_view(&file, Format::Html)?;
    let p = m.plan();
    assert!(html.contains(&format!("N = 2^{} ({} slots)", p.log_n, p.slots)));
    assert!(html.contains(&format!("scale 2^{}", p.log_scale)));
    assert!(html.contains("security 128-bit"));
    // Self-contained: no URL to fetch anything from.
    for needle in ["src=", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(needle), "{needle}");
    }
    Ok(())
}

#[test]
fn the_size_cap_reaches_the_umbrella_error() -> TestResult {
    let file = model()?;
    let m = file.encrypted_model()?;
    let limits = Limits {
        max_bytes: 10_000,
        ..Limits::default()
    };
    let err = graph_view_with(&m, &file.name, limits)?
        .render(Format::Svg)
        .unwrap_err();
    assert!(err.to_string().contains("exceeds 10000 bytes"), "{err}");
    Ok(())
}
