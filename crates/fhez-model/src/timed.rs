//! Node-by-node encrypted evaluation with wall-clock timing.
//!
//! [`Graph::forward_enc`] has no per-node hook, so [`forward_enc_timed`] walks the graph
//! through its public API (topological order, edges, [`Node::forward_enc`]) with exactly the
//! rules of `forward_enc`: inputs seed their nodes, `Decrypt` nodes collect the boundary,
//! `Rotate` nodes go through `refresh`, client-only nodes are an error. A test checks that it
//! returns bit-identical values and identical level accounting.

use std::time::{Duration, Instant};

use fhez_backend::Backend;
use fhez_erray::Erray;
use fhez_nn::graph::NodeLevels;
use fhez_nn::{EncRun, Error, Graph, Node, NodeId, Result};

/// Wall-clock time and level accounting of one node of an encrypted run.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeTiming {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: &'static str,
    /// Wall-clock time of its `forward_enc`.
    pub elapsed: Duration,
    /// Levels around the node.
    pub levels: NodeLevels,
    /// Ciphertexts it produced.
    pub cts_out: usize,
}

/// `(source node, source port)` of every input port of `id`, in port order.
fn sources(graph: &Graph, id: NodeId) -> Vec<(NodeId, usize)> {
    let mut edges: Vec<_> = graph.edges().iter().filter(|e| e.to == id).collect();
    edges.sort_by_key(|e| e.to_port);
    edges.iter().map(|e| (e.from, e.from_port)).collect()
}

fn is_level_exhausted(e: &Error) -> bool {
    matches!(
        e,
        Error::Backend(fhez_backend::Error::LevelExhausted { .. })
            | Error::Erray(fhez_erray::Error::Backend(
                fhez_backend::Error::LevelExhausted { .. }
            ))
    )
}

fn min_level<B: Backend>(xs: &[&Erray<B>]) -> u32 {
    xs.iter().map(|x| x.level()).min().unwrap_or(0)
}

/// Runs one node on ciphertexts, mapping errors as `forward_enc` does.
fn run_node<B: Backend>(
    name: &str,
    node: &Node,
    ins: &[&Erray<B>],
    refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
) -> Result<Vec<Erray<B>>> {
    if node.cost().client_only {
        return Err(Error::NotEncryptable {
            node: name.to_owned(),
            kind: node.kind(),
        });
    }
    if let (Node::Rotate(_), Some(&x)) = (node, ins.first()) {
        return Ok(vec![refresh(x).map_err(|e| e.at_node(name, node.kind()))?]);
    }
    node.forward_enc(ins).map_err(|e| {
        if is_level_exhausted(&e) {
            Error::DepthExhausted {
                node: name.to_owned(),
                kind: node.kind(),
                needed: node.cost().depth,
                available: min_level(ins),
            }
        } else {
            e.at_node(name, node.kind())
        }
    })
}

/// [`Graph::forward_enc`], timing every node. `inputs` name the encrypted input nodes
/// (batch-in-slots errays of shape `(batch, input shape…)`).
///
/// # Errors
/// As [`Graph::forward_enc`] (shape errors name the input node).
pub fn forward_enc_timed<B: Backend>(
    graph: &Graph,
    inputs: &[(&str, Erray<B>)],
    refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
) -> Result<(EncRun<B>, Vec<NodeTiming>)> {
    let n = graph.len();
    let mut values: Vec<Option<Vec<Erray<B>>>> = vec![None; n];
    let mut run = EncRun {
        boundary: Vec::new(),
        levels: vec![None; n],
    };
    for (name, x) in inputs {
        let id = graph.id(name)?;
        let want = graph.shape(id, 0).unwrap_or(&[]);
        if x.shape().get(1..) != Some(want) {
            let mut expected = vec![x.shape().first().copied().unwrap_or(1)];
            expected.extend_from_slice(want);
            return Err(Error::ShapeMismatch {
                what: "encrypted input (batch, shape…)",
                expected,
                found: x.shape().to_vec(),
            }
            .at_node(name, "input"));
        }
        if let Some(v) = values.get_mut(id) {
            *v = Some(vec![x.clone()]);
        }
    }
    // Edges still to be read from each node: a node's outputs are dropped once its last
    // consumer ran (ciphertext arrays are large: this bounds the peak to the live ones).
    let mut unread = vec![0usize; n];
    for e in graph.edges() {
        if let Some(c) = unread.get_mut(e.from) {
            *c += 1;
        }
    }
    let mut timings = Vec::new();
    for &id in graph.order() {
        let Some(node) = graph.node(id) else { continue };
        if matches!(node, Node::Input(_)) {
            continue;
        }
        let ins: Option<Vec<&Erray<B>>> = sources(graph, id)
            .iter()
            .map(|&(src, port)| values.get(src)?.as_ref()?.get(port))
            .collect();
        let Some(ins) = ins.filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Node::Decrypt(_) = node {
            if let Some(&x) = ins.first() {
                run.boundary.push((id, x.clone()));
            }
            release_inputs(graph, id, &mut unread, &mut values);
            continue;
        }
        let before = ins.first().map(|x| x.backend().stats());
        let start = Instant::now();
        let out = run_node(graph.name(id), node, &ins, refresh)?;
        let elapsed = start.elapsed();
        let after = ins.first().map(|x| x.backend().stats());
        let delta = match (after, before) {
            (Some(a), Some(b)) => a - b,
            _ => fhez_backend::OpStats::default(),
        };
        let refs: Vec<&Erray<B>> = out.iter().collect();
        let levels = NodeLevels {
            input: min_level(&ins),
            output: min_level(&refs),
            rotations: delta.rotations,
            key_switches: delta.key_switches,
        };
        if let Some(l) = run.levels.get_mut(id) {
            *l = Some(levels);
        }
        timings.push(NodeTiming {
            name: graph.name(id).to_owned(),
            kind: node.kind(),
            elapsed,
            levels,
            cts_out: out.iter().map(|x| x.cts().len()).sum(),
        });
        if let Some(v) = values.get_mut(id) {
            *v = Some(out);
        }
        release_inputs(graph, id, &mut unread, &mut values);
    }
    Ok((run, timings))
}

/// Counts the edges into `id` as read and drops every source value no edge still needs.
fn release_inputs<T>(graph: &Graph, id: NodeId, unread: &mut [usize], values: &mut [Option<T>]) {
    for (src, _) in sources(graph, id) {
        let Some(left) = unread.get_mut(src) else {
            continue;
        };
        *left = left.saturating_sub(1);
        if *left == 0
            && let Some(v) = values.get_mut(src)
        {
            *v = None;
        }
    }
}
