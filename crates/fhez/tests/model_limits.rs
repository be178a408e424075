//! Hostile model files (issue 12, finding 5): the committed fixtures under
//! `tests/fixtures/` declared sizes that made the loader and the planner abort on a failed
//! allocation (an input of 100,000 × 100,000; an `Enqueue` node with 10^9 input ports).
//! Each is now refused by the library loader with [`fhez::nn::Error::LimitExceeded`]
//! before anything it sizes is allocated; the same holds for every other limit.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

use std::path::{Path, PathBuf};

use fhez::ModelFile;
use fhez::nn::limits;
use fhez::nn::{PlanRequest, prefab};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `LimitExceeded` inside a loader error, as (what, found, limit).
fn limit_of(e: &fhez::Error) -> (&'static str, usize, usize) {
    let nn = match e {
        fhez::Error::Nn(nn) => nn,
        other => panic!("expected a graph limit error, got {other}"),
    };
    let nn = match nn {
        fhez::nn::Error::AtNode { source, .. } => source.as_ref(),
        other => other,
    };
    match nn {
        fhez::nn::Error::LimitExceeded { what, found, limit } => (*what, *found, *limit),
        other => panic!("expected LimitExceeded, got {other}"),
    }
}

#[test]
fn a_100k_by_100k_input_is_refused_by_the_loader() {
    let e = ModelFile::load(&fixture("hostile-input-1e5x1e5.json")).unwrap_err();
    assert_eq!(
        limit_of(&e),
        (
            "tensor elements",
            100_000 * 100_000,
            limits::MAX_TENSOR_ELEMENTS
        )
    );
}

#[test]
fn an_enqueue_of_a_billion_ports_is_refused_by_the_loader() {
    let e = ModelFile::load(&fixture("hostile-enqueue-1e9.json")).unwrap_err();
    // Counted before the per-port tables are allocated: 10^9 ports + the decrypt's one.
    assert_eq!(
        limit_of(&e),
        ("graph input ports", 1_000_000_001, limits::MAX_PORTS)
    );
}

/// A valid small model file as JSON, to be made hostile one field at a time.
fn valid() -> Value {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7).unwrap();
    let request = PlanRequest {
        release: fhez::nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez::nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = fhez::Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    let file = ModelFile::new("toy", &graph, &["x"], "Decrypt", task, request).unwrap();
    serde_json::from_str(&file.to_json().unwrap()).unwrap()
}

fn load(v: &Value) -> Result<ModelFile, fhez::Error> {
    ModelFile::from_json(&v.to_string())
}

#[test]
fn every_limit_is_enforced_and_the_limit_itself_is_accepted() {
    let base = valid();
    load(&base).unwrap();

    // Batch: the largest planner batch is fine for this small graph, one more is not.
    let mut v = base.clone();
    v["plan"]["batch"] = json!(limits::MAX_BATCH);
    load(&v).unwrap();
    v["plan"]["batch"] = json!(limits::MAX_BATCH + 1);
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        ("batch", limits::MAX_BATCH + 1, limits::MAX_BATCH)
    );

    // Batch × widest tensor: an input of 2^11 elements (legal alone) at batch 2^15.
    let wide = 1usize << 11;
    let mut v = json!({
        "format": "fhez-model", "format_version": 1, "name": "wide", "dataset": null,
        "task": {"kind": "regressor", "scale": 1.0, "offset": 0.0},
        "inputs": [{"name": "x", "shape": [wide]}], "output": "Decrypt",
        "plan": {"batch": limits::MAX_BATCH, "precision_bits": 20, "magnitude_bits": 20},
        "metrics": {},
        "graph": {"format_version": 1,
            "nodes": [{"name": "x", "kind": "input", "shape": [wide]},
                      {"name": "Decrypt", "kind": "decrypt"}],
            "edges": [{"from": 0, "from_port": 0, "to": 1, "to_port": 0}]}
    });
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        (
            "batch x widest tensor elements",
            wide * limits::MAX_BATCH,
            limits::MAX_BATCH_ELEMENTS
        )
    );
    v["plan"]["batch"] = json!(limits::MAX_BATCH_ELEMENTS / wide);
    load(&v).unwrap();

    // Rank: MAX_RANK axes of 1 are fine, one more is not.
    let mut v = v.clone();
    v["plan"]["batch"] = json!(4);
    let ones = |k: usize| json!(vec![1; k]);
    v["inputs"][0]["shape"] = ones(limits::MAX_RANK);
    v["graph"]["nodes"][0]["shape"] = ones(limits::MAX_RANK);
    load(&v).unwrap();
    v["inputs"][0]["shape"] = ones(limits::MAX_RANK + 1);
    v["graph"]["nodes"][0]["shape"] = ones(limits::MAX_RANK + 1);
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        ("tensor rank", limits::MAX_RANK + 1, limits::MAX_RANK)
    );

    // A product that overflows usize reports usize::MAX, not a wrapped small number.
    v["inputs"][0]["shape"] = json!([usize::MAX, 2]);
    v["graph"]["nodes"][0]["shape"] = json!([usize::MAX, 2]);
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        ("tensor elements", usize::MAX, limits::MAX_TENSOR_ELEMENTS)
    );
}

#[test]
fn node_and_edge_counts_are_checked_before_the_graph_is_built() {
    let mut v = valid();
    let nodes: Vec<Value> = (0..=limits::MAX_NODES)
        .map(|i| json!({"name": format!("n{i}"), "kind": "input", "shape": [1]}))
        .collect();
    v["graph"]["nodes"] = json!(nodes);
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        ("graph nodes", limits::MAX_NODES + 1, limits::MAX_NODES)
    );

    let mut v = valid();
    let edge = json!({"from": 0, "from_port": 0, "to": 1, "to_port": 0});
    v["graph"]["edges"] = json!(vec![edge; limits::MAX_EDGES + 1]);
    assert_eq!(
        limit_of(&load(&v).unwrap_err()),
        ("graph edges", limits::MAX_EDGES + 1, limits::MAX_EDGES)
    );

    let mut v = valid();
    v["graph"]["nodes"][0] = json!({"name": "x", "kind": "dequeue", "length": 1_000_000_000});
    let (what, found, limit) = limit_of(&load(&v).unwrap_err());
    assert_eq!((what, limit), ("graph output ports", limits::MAX_PORTS));
    assert!(found > 1_000_000_000, "{found}");
}

#[test]
fn the_file_size_limit_applies_to_text_as_well_as_files() {
    let text = " ".repeat(limits::MAX_FILE_BYTES + 1);
    let e = ModelFile::from_json(&text).unwrap_err();
    assert_eq!(
        limit_of(&e),
        (
            "model file bytes",
            limits::MAX_FILE_BYTES + 1,
            limits::MAX_FILE_BYTES
        )
    );
}
