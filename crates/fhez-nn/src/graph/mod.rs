//! [`Graph`]: nodes with explicitly numbered ports, validated once by
//! [`GraphBuilder::build`], then run by the traversals in [`fire`](self) (plaintext:
//! stimulate / correction / adaptation / harvest) and [`enc`](self) (ciphertexts).

mod config;
mod enc;
mod fire;
mod prepared;
mod stream;
mod train;

pub use config::{FORMAT_VERSION, GraphConfig, NodeEntry};
pub use enc::{EncRun, EncState, EncStep, NodeEvent, NodeLevels};
pub use fire::{Grads, Outputs, Tape};
pub use prepared::{SingleLinear, TransformCache};
pub use train::{OptimizerState, TrainConfig, Trainer};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::nodes::Node;
use crate::{Error, Result, limits};

/// Index of a node in its graph (insertion order).
pub type NodeId = usize;

/// A directed edge from an output port to an input port. Input ports are numbered
/// explicitly, so multi-input nodes (losses: `ŷ` on 0, `y` on 1; `Enqueue`) never depend on
/// insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// Source node.
    pub from: NodeId,
    /// Source output port.
    pub from_port: usize,
    /// Destination node.
    pub to: NodeId,
    /// Destination input port.
    pub to_port: usize,
}

/// A graph under construction: add nodes, connect ports, then [`GraphBuilder::build`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphBuilder {
    pub(crate) names: Vec<String>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

impl GraphBuilder {
    /// An empty graph.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node.
    ///
    /// # Errors
    /// [`Error::DuplicateNode`].
    pub fn add(&mut self, name: &str, node: impl Into<Node>) -> Result<NodeId> {
        if self.names.iter().any(|n| n == name) {
            return Err(Error::DuplicateNode {
                name: name.to_owned(),
            });
        }
        self.names.push(name.to_owned());
        self.nodes.push(node.into());
        Ok(self.nodes.len() - 1)
    }

    /// Connects output port 0 of `from` to the lowest unconnected input port of `to`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], [`Error::PortOutOfRange`] when `to` has no free input port.
    pub fn connect(&mut self, from: NodeId, to: NodeId) -> Result<()> {
        let node = self.nodes.get(to).ok_or_else(|| unknown(to))?;
        let ports = node.ports().0;
        let port = (0..ports)
            .find(|p| !self.edges.iter().any(|e| e.to == to && e.to_port == *p))
            .ok_or_else(|| Error::PortOutOfRange {
                node: self.names.get(to).cloned().unwrap_or_default(),
                direction: "input",
                port: ports,
                ports,
            })?;
        self.connect_ports(from, 0, to, port)
    }

    /// Connects output `from_port` of `from` to input `to_port` of `to`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] for unknown ids (ports are checked by `build`).
    pub fn connect_ports(
        &mut self,
        from: NodeId,
        from_port: usize,
        to: NodeId,
        to_port: usize,
    ) -> Result<()> {
        for id in [from, to] {
            if id >= self.nodes.len() {
                return Err(unknown(id));
            }
        }
        self.edges.push(Edge {
            from,
            from_port,
            to,
            to_port,
        });
        Ok(())
    }

    /// Connects `ids[0] → ids[1] → …` with [`GraphBuilder::connect`].
    ///
    /// # Errors
    /// As [`GraphBuilder::connect`].
    pub fn chain(&mut self, ids: &[NodeId]) -> Result<()> {
        for pair in ids.windows(2) {
            if let [a, b] = pair {
                self.connect(*a, *b)?;
            }
        }
        Ok(())
    }

    /// Validates and freezes the structure: edges in range, every input port connected
    /// exactly once, acyclic, parameters matching their configurations, and shapes
    /// propagating from the [`Input`](crate::nodes::Input) nodes.
    ///
    /// # Errors
    /// [`Error::DanglingEdge`], [`Error::PortOutOfRange`], [`Error::PortTaken`],
    /// [`Error::PortGap`], [`Error::Cycle`], [`Error::WeightShape`], or a shape error naming
    /// the node ([`Error::AtNode`]).
    pub fn build(self) -> Result<Graph> {
        let topology = Topology::new(&self)?;
        Ok(Graph {
            names: self.names,
            nodes: self.nodes,
            edges: self.edges,
            topology,
        })
    }
}

fn unknown(id: NodeId) -> Error {
    Error::UnknownNode {
        name: format!("#{id}"),
    }
}

/// Derived structure of a valid graph.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Topology {
    /// Topological order (ties broken by node id: deterministic).
    pub order: Vec<NodeId>,
    /// Per node, per input port: the source `(node, port)`.
    pub sources: Vec<Vec<(NodeId, usize)>>,
    /// Per node: number of consumers over all output ports.
    pub consumers: Vec<usize>,
    /// Per node, per output port: the per-sample shape.
    pub shapes: Vec<Vec<Vec<usize>>>,
}

impl Topology {
    fn new(b: &GraphBuilder) -> Result<Self> {
        let n = b.nodes.len();
        limits::check("graph nodes", n, limits::MAX_NODES)?;
        limits::check("graph edges", b.edges.len(), limits::MAX_EDGES)?;
        let (mut ins_total, mut outs_total) = (0usize, 0usize);
        for nd in &b.nodes {
            let (ins, outs) = nd.ports();
            ins_total = ins_total.saturating_add(ins);
            outs_total = outs_total.saturating_add(outs);
        }
        limits::check("graph input ports", ins_total, limits::MAX_PORTS)?;
        limits::check("graph output ports", outs_total, limits::MAX_PORTS)?;
        let name = |id: NodeId| b.names.get(id).cloned().unwrap_or_default();
        let mut slots: Vec<Vec<Option<(NodeId, usize)>>> =
            b.nodes.iter().map(|nd| vec![None; nd.ports().0]).collect();
        let mut consumers = vec![0usize; n];
        for (k, e) in b.edges.iter().enumerate() {
            for index in [e.from, e.to] {
                if index >= n {
                    return Err(Error::DanglingEdge {
                        edge: k,
                        index,
                        nodes: n,
                    });
                }
            }
            let outs = b.nodes.get(e.from).map_or(0, |nd| nd.ports().1);
            if e.from_port >= outs {
                return Err(Error::PortOutOfRange {
                    node: name(e.from),
                    direction: "output",
                    port: e.from_port,
                    ports: outs,
                });
            }
            let ins = slots.get(e.to).map_or(0, Vec::len);
            let slot = slots
                .get_mut(e.to)
                .and_then(|s| s.get_mut(e.to_port))
                .ok_or_else(|| Error::PortOutOfRange {
                    node: name(e.to),
                    direction: "input",
                    port: e.to_port,
                    ports: ins,
                })?;
            if slot.is_some() {
                return Err(Error::PortTaken {
                    node: name(e.to),
                    port: e.to_port,
                });
            }
            *slot = Some((e.from, e.from_port));
            if let Some(c) = consumers.get_mut(e.from) {
                *c += 1;
            }
        }
        let mut sources = Vec::with_capacity(n);
        for (id, s) in slots.into_iter().enumerate() {
            let full: Option<Vec<_>> = s.iter().copied().collect();
            match full {
                Some(v) => sources.push(v),
                None => {
                    let port = s.iter().position(Option::is_none).unwrap_or(0);
                    return Err(Error::PortGap {
                        node: name(id),
                        port,
                    });
                }
            }
        }
        let order = topo_order(&sources, n).map_err(|id| Error::Cycle { node: name(id) })?;
        for (id, node) in b.nodes.iter().enumerate() {
            node.validate(&name(id))?;
        }
        let mut shapes: Vec<Vec<Vec<usize>>> = vec![Vec::new(); n];
        for &id in &order {
            let node = b.nodes.get(id).ok_or_else(|| unknown(id))?;
            let ins: Vec<&[usize]> = sources
                .get(id)
                .map(|s| {
                    s.iter()
                        .map(|&(src, p)| {
                            shapes
                                .get(src)
                                .and_then(|v| v.get(p))
                                .map_or(&[][..], Vec::as_slice)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let out = node
                .out_shapes(&ins)
                .and_then(|out| {
                    out.iter().try_for_each(|s| limits::check_shape(s))?;
                    Ok(out)
                })
                .map_err(|e| e.at_node(&name(id), node.kind()))?;
            if let Some(slot) = shapes.get_mut(id) {
                *slot = out;
            }
        }
        Ok(Self {
            order,
            sources,
            consumers,
            shapes,
        })
    }
}

/// Kahn's algorithm with the smallest ready id first. `Err(id)` names a node on a cycle.
fn topo_order(sources: &[Vec<(NodeId, usize)>], n: usize) -> Result<Vec<NodeId>, NodeId> {
    let mut indegree: Vec<usize> = sources.iter().map(Vec::len).collect();
    let mut succ: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for (id, s) in sources.iter().enumerate() {
        for &(src, _) in s {
            if let Some(v) = succ.get_mut(src) {
                v.push(id);
            }
        }
    }
    let mut ready: BTreeSet<NodeId> = (0..n).filter(|&i| indegree.get(i) == Some(&0)).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(id) = ready.pop_first() {
        order.push(id);
        for &s in succ.get(id).map_or(&[][..], Vec::as_slice) {
            if let Some(d) = indegree.get_mut(s) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(s);
                }
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err(indegree.iter().position(|&d| d > 0).unwrap_or(0))
    }
}

/// A validated graph: the structure is frozen, the weights are mutable.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    names: Vec<String>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    pub(crate) topology: Topology,
}

impl Graph {
    /// Back to a builder (to edit the structure).
    #[must_use]
    pub fn into_builder(self) -> GraphBuilder {
        GraphBuilder {
            names: self.names,
            nodes: self.nodes,
            edges: self.edges,
        }
    }

    /// Number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The id of the node called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub fn id(&self, name: &str) -> Result<NodeId> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::UnknownNode {
                name: name.to_owned(),
            })
    }

    /// The name of node `id` (empty if out of range).
    #[must_use]
    pub fn name(&self, id: NodeId) -> &str {
        self.names.get(id).map_or("", String::as_str)
    }

    /// Node `id`.
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// All nodes, by id.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// All edges.
    #[must_use]
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The [`Input`](crate::nodes::Input) nodes, by id: the order of a training sample's
    /// tensors.
    #[must_use]
    pub fn inputs(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&i| matches!(self.nodes.get(i), Some(Node::Input(_))))
            .collect()
    }

    /// The inputs a client encrypts: those from which a [`Decrypt`](crate::nodes::Decrypt)
    /// node is reachable (the label branch of a loss is not).
    #[must_use]
    pub fn encrypted_inputs(&self) -> Vec<NodeId> {
        // One pass in reverse topological order (O(nodes + edges)): a node reaches a
        // decrypt when it is one or when one of its consumers does.
        let mut reaches = vec![false; self.len()];
        for &id in self.topology.order.iter().rev() {
            let here = matches!(self.node(id), Some(Node::Decrypt(_)))
                || reaches.get(id).copied().unwrap_or(false);
            if !here {
                continue;
            }
            if let Some(r) = reaches.get_mut(id) {
                *r = true;
            }
            for &(src, _) in self.topology.sources.get(id).map_or(&[][..], Vec::as_slice) {
                if let Some(r) = reaches.get_mut(src) {
                    *r = true;
                }
            }
        }
        self.inputs()
            .into_iter()
            .filter(|&i| reaches.get(i).copied().unwrap_or(false))
            .collect()
    }

    /// Element count of the widest per-sample tensor any node outputs (every shape was
    /// checked against [`limits::MAX_TENSOR_ELEMENTS`] when the graph was built).
    #[must_use]
    pub fn widest_tensor(&self) -> usize {
        self.topology
            .shapes
            .iter()
            .flatten()
            .map(|s| s.iter().product::<usize>())
            .max()
            .unwrap_or(0)
    }

    /// Terminal nodes (no consumers): what [`Graph::harvest`] returns.
    #[must_use]
    pub fn terminals(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&i| self.topology.consumers.get(i) == Some(&0))
            .collect()
    }

    /// The execution order (topological, ties by id).
    #[must_use]
    pub fn order(&self) -> &[NodeId] {
        &self.topology.order
    }

    /// Per-sample shape of output `port` of node `id`.
    #[must_use]
    pub fn shape(&self, id: NodeId, port: usize) -> Option<&[usize]> {
        self.topology
            .shapes
            .get(id)
            .and_then(|s| s.get(port))
            .map(Vec::as_slice)
    }

    /// Mutable access to the weights of node `id` (the structure stays frozen).
    pub fn params_mut(&mut self, id: NodeId) -> Vec<&mut crate::Tensor> {
        self.nodes
            .get_mut(id)
            .map(Node::params_mut)
            .unwrap_or_default()
    }

    pub(crate) fn entry(&self, id: NodeId) -> Result<(&str, &Node)> {
        let node = self.nodes.get(id).ok_or_else(|| unknown(id))?;
        Ok((self.name(id), node))
    }

    pub(crate) fn sources(&self, id: NodeId) -> &[(NodeId, usize)] {
        self.topology.sources.get(id).map_or(&[], Vec::as_slice)
    }
}
