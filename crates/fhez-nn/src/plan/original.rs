//! The original's parameterisation ("autoHE"), reproduced for comparison:
//! hand-assigned node costs, `autoDiscover`/`autoGroup` (made polynomial: a longest-path
//! dynamic programme over the topological order instead of enumerating every path) and
//! `ckks_param_heuristic`.

use serde::{Deserialize, Serialize};

use crate::nodes::Node;
use crate::{Graph, NodeId};

/// What `ckks_param_heuristic(cost, scale_pow, special_mult=1.5)` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalParams {
    /// The group cost it was computed for.
    pub cost: u32,
    /// `poly_modulus_degree` N.
    pub poly_modulus_degree: usize,
    /// `[scale·1.5] + [scale]·cost + [scale·1.5]`; the last entry is SEAL's special prime.
    pub coefficient_modulus: Vec<u32>,
    /// `log2` of the scale.
    pub scale_pow: u32,
}

impl OriginalParams {
    /// Sum of the coefficient-modulus bits.
    #[must_use]
    pub fn total_bits(&self) -> u32 {
        self.coefficient_modulus.iter().sum()
    }
}

/// `ckks_param_heuristic(cost, scale_pow=40)`: bits `[60, 40×cost, 60]`; `max_bits` starts at
/// 27 and doubles while below their sum; `N = 1024·max_bits/27` (so `1024·2^k`); no upper
/// bound on N.
#[must_use]
pub fn original_heuristic(cost: u32) -> OriginalParams {
    let scale_pow = 40u32;
    let outer = scale_pow * 3 / 2;
    let mut bits = vec![outer];
    bits.extend(std::iter::repeat_n(
        scale_pow,
        usize::try_from(cost).unwrap_or(0),
    ));
    bits.push(outer);
    let total: u32 = bits.iter().sum();
    let mut max_bits = 27u64;
    let mut degree = 1024usize;
    while max_bits < u64::from(total) {
        max_bits *= 2;
        degree *= 2;
    }
    OriginalParams {
        cost,
        poly_modulus_degree: degree,
        coefficient_modulus: bits,
        scale_pow,
    }
}

/// The cost the original declared for a node kind; kinds the original lacked
/// (pooling, RNN) use fhez's declared depth.
#[must_use]
pub fn original_cost(node: &Node) -> u32 {
    match node {
        Node::Dense(_) | Node::Linear(_) | Node::Mse(_) | Node::Mae(_) => 2,
        Node::Relu(_) | Node::Softmax(_) => 4,
        Node::Sigmoid(_) => 5,
        Node::Cc(_) => 6,
        Node::AvgPool(_)
        | Node::Conv(_)
        | Node::Poly(_)
        | Node::Reshape(_)
        | Node::Rnn(_)
        | Node::Square(_) => node.cost().depth,
        Node::Input(_)
        | Node::Io(_)
        | Node::Argmax(_)
        | Node::Cce(_)
        | Node::Sum(_)
        | Node::Enqueue(_)
        | Node::Dequeue(_)
        | Node::OneHotEncode(_)
        | Node::OneHotDecode(_)
        | Node::Encrypt(_)
        | Node::Decrypt(_)
        | Node::Rotate(_) => 0,
    }
}

fn is_concern(node: Option<&Node>) -> bool {
    matches!(
        node,
        Some(Node::Encrypt(_) | Node::Decrypt(_) | Node::Rotate(_))
    )
}

/// `autoGroup(graph, inputs)`: group costs in the order groups are opened.
///
/// `sources[j][s]` is the largest sum of destination-node costs over paths from source `s`
/// (an input or a concern node: encrypt, decrypt, rotate) to `j` that do not pass through
/// another concern node. Then, for each input `i` in order, every node `j` whose sources
/// contain `i` drags all of its sources into `i`'s group and raises the group cost to their
/// recorded costs — the original's rules, including its order dependence.
#[must_use]
pub fn original_groups(graph: &Graph, inputs: &[NodeId]) -> Vec<u32> {
    let n = graph.len();
    let mut succ: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for e in graph.edges() {
        if let Some(v) = succ.get_mut(e.from)
            && !v.contains(&e.to)
        {
            v.push(e.to);
        }
    }
    let is_source = |id: NodeId| inputs.contains(&id) || is_concern(graph.node(id));
    // dist[s][j]: Some(cost) if j is reachable from source s within its segment.
    let mut dist: Vec<Vec<Option<u32>>> = vec![vec![None; n]; n];
    for &s in graph.order().iter().filter(|&&s| is_source(s)) {
        let Some(row) = dist.get_mut(s) else { continue };
        let pos = graph.order().iter().position(|&x| x == s).unwrap_or(0);
        for &j in graph.order().iter().skip(pos) {
            let here = if j == s {
                Some(0)
            } else {
                row.get(j).copied().flatten()
            };
            let Some(d) = here else { continue };
            if j != s && is_concern(graph.node(j)) {
                continue;
            }
            for &k in succ.get(j).map_or(&[][..], Vec::as_slice) {
                let c = d + graph.node(k).map_or(0, original_cost);
                if let Some(slot) = row.get_mut(k) {
                    *slot = Some(slot.map_or(c, |old| old.max(c)));
                }
            }
        }
    }
    let mut group: Vec<Option<usize>> = vec![None; n];
    let mut costs: Vec<u32> = Vec::new();
    for &i in inputs {
        let gid = match group.get(i).copied().flatten() {
            Some(g) => g,
            None => {
                costs.push(0);
                let g = costs.len() - 1;
                if let Some(slot) = group.get_mut(i) {
                    *slot = Some(g);
                }
                g
            }
        };
        for j in 0..n {
            if j == i
                || dist
                    .get(i)
                    .and_then(|r| r.get(j))
                    .copied()
                    .flatten()
                    .is_none()
            {
                continue;
            }
            for (k, row) in dist.iter().enumerate() {
                let Some(c) = row.get(j).copied().flatten().filter(|_| k != j) else {
                    continue;
                };
                if let Some(slot) = group.get_mut(k) {
                    *slot = Some(gid);
                }
                if let Some(cost) = costs.get_mut(gid) {
                    *cost = (*cost).max(c);
                }
            }
        }
    }
    costs
}
