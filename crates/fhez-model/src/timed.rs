//! Node-by-node encrypted evaluation with wall-clock timing: a hook on the one encrypted
//! walk ([`Graph::forward_enc_with_hook`]), so values and level accounting are those of
//! [`Graph::forward_enc`] by construction.

use std::time::{Duration, Instant};

use fhez_backend::Backend;
use fhez_erray::Erray;
use fhez_nn::graph::NodeLevels;
use fhez_nn::{EncRun, Graph, NodeEvent, Result, TransformCache};

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
    let owned = inputs.iter().map(|(n, x)| (*n, x.clone())).collect();
    forward_enc_timed_owned(graph, owned, refresh, None)
}

/// [`forward_enc_timed`] on [`Graph::forward_enc_cached`]: single-input linear maps are
/// encoded once in `cache` and reused by later runs.
///
/// # Errors
/// As [`Graph::forward_enc`].
pub fn forward_enc_timed_cached<B: Backend>(
    graph: &Graph,
    inputs: &[(&str, Erray<B>)],
    refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
    cache: &TransformCache<B>,
) -> Result<(EncRun<B>, Vec<NodeTiming>)> {
    let owned = inputs.iter().map(|(n, x)| (*n, x.clone())).collect();
    forward_enc_timed_owned(graph, owned, refresh, Some(cache))
}

/// [`forward_enc_timed`] taking the inputs by value ([`Graph::forward_enc_owned`]): each
/// input is dropped once its last consumer ran; with a `cache`, single-input linear maps
/// are encoded once.
///
/// # Errors
/// As [`Graph::forward_enc`].
pub fn forward_enc_timed_owned<B: Backend>(
    graph: &Graph,
    inputs: Vec<(&str, Erray<B>)>,
    refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
    cache: Option<&TransformCache<B>>,
) -> Result<(EncRun<B>, Vec<NodeTiming>)> {
    let mut timings = Vec::new();
    let mut started = Instant::now();
    let mut hook = |event: NodeEvent<'_>| match event {
        NodeEvent::Before { .. } => started = Instant::now(),
        NodeEvent::After {
            name,
            kind,
            levels,
            cts_out,
            ..
        } => timings.push(NodeTiming {
            name: name.to_owned(),
            kind,
            elapsed: started.elapsed(),
            levels,
            cts_out,
        }),
    };
    let run = graph.forward_enc_owned(inputs, refresh, &mut hook, cache)?;
    Ok((run, timings))
}
