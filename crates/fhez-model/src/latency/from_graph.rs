//! Reading a [`LatencyNet`] out of a trained [`Graph`].

use fhez_nn::nodes::Node;
use fhez_nn::{Graph, NodeId};

use super::net::{ConvLayer, LatencyNet, Stage, unsupported};
use crate::Result;

impl LatencyNet {
    /// Reads the network between the encrypted input and the `Decrypt` node of `graph`:
    /// `x → CrossCorrelation ×F → Enqueue` (or a single `CrossCorrelation` without the
    /// `Enqueue`), then a chain of `Relu` (the quadratic approximation
    /// `q/(3π) + x/2 + 4/(3πq)·x²` with the learnt `q`) and `Dense` nodes up to `Decrypt`.
    /// This is the shape [`CnnConfig::build`](crate::CnnConfig::build) makes, and deeper
    /// variants (`… → Dense → Relu → Dense → Decrypt`).
    ///
    /// # Errors
    /// [`Error::Format`](crate::Error::Format) naming the first node or edge outside that
    /// shape.
    pub fn from_graph(graph: &Graph) -> Result<Self> {
        let inputs = graph.encrypted_inputs();
        let [x] = inputs.as_slice() else {
            return Err(unsupported(format!(
                "{} encrypted inputs, latency mode takes one",
                inputs.len()
            )));
        };
        let input = graph
            .shape(*x, 0)
            .ok_or_else(|| unsupported("input without a shape".into()))?
            .to_vec();
        let ccs = consumers(graph, *x);
        if ccs.is_empty() {
            return Err(unsupported("the input has no consumer".into()));
        }
        let mut filters: Vec<(usize, NodeId)> = Vec::with_capacity(ccs.len());
        let mut stack: Option<NodeId> = None;
        for &cc in &ccs {
            let next = consumers(graph, cc);
            match (next.as_slice(), ccs.len()) {
                ([e], _) if matches!(graph.node(*e), Some(Node::Enqueue(_))) => {
                    if stack.is_some_and(|s| s != *e) {
                        return Err(unsupported("filters feed different stacks".into()));
                    }
                    stack = Some(*e);
                    let port = graph
                        .edges()
                        .iter()
                        .find(|ed| ed.from == cc && ed.to == *e)
                        .map_or(0, |ed| ed.to_port);
                    filters.push((port, cc));
                }
                (_, 1) => filters.push((0, cc)),
                _ => {
                    return Err(unsupported(format!(
                        "node `{}` feeds no Enqueue",
                        graph.name(cc)
                    )));
                }
            }
        }
        filters.sort_by_key(|(port, _)| *port);
        let mut conv = ConvLayer {
            input,
            kernel: Vec::new(),
            stride: Vec::new(),
            weights: Vec::new(),
            bias: Vec::new(),
        };
        for &(_, id) in &filters {
            let Some(Node::Cc(cc)) = graph.node(id) else {
                return Err(not_supported(graph, id));
            };
            if conv.weights.is_empty() {
                conv.kernel.clone_from(&cc.kernel);
                conv.stride.clone_from(&cc.stride);
            } else if conv.kernel != cc.kernel || conv.stride != cc.stride {
                return Err(unsupported("filters of different shapes".into()));
            }
            conv.weights.push(cc.weights.data().to_vec());
            conv.bias.push(cc.bias.item());
        }
        let mut at = stack.or_else(|| filters.first().map(|(_, id)| flatten_end(graph, *id)));
        if let Some(Node::Enqueue(q)) = stack.and_then(|e| graph.node(e))
            && q.length != filters.len()
        {
            return Err(unsupported("the Enqueue has unconnected ports".into()));
        }
        let mut stages = Vec::new();
        while let Some(cur) = at {
            let next = consumers(graph, cur);
            let [n] = next.as_slice() else {
                return Err(unsupported(format!(
                    "node `{}` has {} consumers before the Decrypt",
                    graph.name(cur),
                    next.len()
                )));
            };
            match graph.node(*n) {
                Some(Node::Decrypt(_)) => break,
                Some(Node::Relu(r)) => {
                    let [c0, c1, c2] = r.coefficients();
                    stages.push(Stage::Quadratic { c0, c1, c2 });
                }
                Some(Node::Dense(d)) => stages.push(Stage::Dense {
                    d_in: d.d_in,
                    d_out: d.d_out,
                    weights: d.weights.data().to_vec(),
                    bias: d.bias.data().to_vec(),
                }),
                Some(_) | None => return Err(not_supported(graph, *n)),
            }
            at = Some(*n);
        }
        let net = Self { conv, stages };
        net.validate()?;
        Ok(net)
    }
}

/// The `Enqueue` ending `cc → Dequeue(n) → Sum ×n → Enqueue(n)` (the regressor prefab's
/// per-window flatten: every piece is one value, so the whole pattern is the identity), or
/// `cc` itself.
fn flatten_end(graph: &Graph, cc: NodeId) -> NodeId {
    let [deq] = consumers(graph, cc)[..] else {
        return cc;
    };
    let Some(Node::Dequeue(d)) = graph.node(deq) else {
        return cc;
    };
    let one_value = graph
        .shape(cc, 0)
        .is_some_and(|s| s.iter().product::<usize>() == d.length);
    let mut end: Option<NodeId> = None;
    for port in 0..d.length {
        let edge = graph
            .edges()
            .iter()
            .find(|e| e.from == deq && e.from_port == port);
        let Some(sum) = edge.map(|e| e.to) else {
            return cc;
        };
        let next = consumers(graph, sum);
        let to_port = graph
            .edges()
            .iter()
            .find(|e| e.from == sum)
            .map(|e| e.to_port);
        match (graph.node(sum), next.as_slice()) {
            (Some(Node::Sum(_)), [e])
                if to_port == Some(port)
                    && matches!(graph.node(*e), Some(Node::Enqueue(q)) if q.length == d.length)
                    && end.is_none_or(|x| x == *e) =>
            {
                end = Some(*e);
            }
            _ => return cc,
        }
    }
    match end {
        Some(e) if one_value => e,
        Some(_) | None => cc,
    }
}

/// The distinct consumers of node `id`, in edge order.
fn consumers(graph: &Graph, id: NodeId) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = Vec::new();
    for e in graph.edges().iter().filter(|e| e.from == id) {
        if !out.contains(&e.to) {
            out.push(e.to);
        }
    }
    out
}

fn not_supported(graph: &Graph, id: NodeId) -> crate::Error {
    let kind = graph.node(id).map_or("?", Node::kind);
    unsupported(format!(
        "node `{}` ({kind}) is not supported in latency mode",
        graph.name(id)
    ))
}
