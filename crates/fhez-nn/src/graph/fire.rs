//! The plaintext traversal, per sample: **stimulate** (forward firing: a node fires once all
//! its input ports carry a signal), **correction** (backward on the reversed graph, fan-out
//! gradients summed), **adaptation** (optimizer updates) and **harvest** (terminal
//! outputs). Caches live in a caller-owned [`Tape`] holding at most one entry per node.

use std::collections::BTreeMap;

use super::{Graph, NodeId};
use crate::optim::Optimizer;
use crate::{Error, Result, Tensor};

/// Terminal outputs by node name.
pub type Outputs = BTreeMap<String, Tensor>;

#[derive(Clone, Debug, Default, PartialEq)]
struct Entry {
    outputs: Vec<Tensor>,
    cache: Vec<Tensor>,
}

/// Activations and caches of one forward pass: one slot per node (bounded; a new
/// [`Graph::stimulate`] overwrites it). Owned by the caller, so a graph can run many
/// samples in parallel, each with its own tape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tape {
    entries: Vec<Option<Entry>>,
}

impl Tape {
    /// An empty tape for `graph`.
    #[must_use]
    pub fn new(graph: &Graph) -> Self {
        Self {
            entries: vec![None; graph.len()],
        }
    }

    /// Output `port` of node `id` from the last pass, if it fired.
    #[must_use]
    pub fn output(&self, id: NodeId, port: usize) -> Option<&Tensor> {
        self.entry(id).and_then(|e| e.outputs.get(port))
    }

    /// Whether node `id` fired in the last pass.
    #[must_use]
    pub fn fired(&self, id: NodeId) -> bool {
        self.entry(id).is_some()
    }

    fn entry(&self, id: NodeId) -> Option<&Entry> {
        self.entries.get(id).and_then(Option::as_ref)
    }
}

/// Gradients of one backward pass: per node, per parameter (in `Node::params` order), plus
/// the gradient that reached each node's first output (for input gradients).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grads {
    /// Per node, per parameter.
    pub params: Vec<Vec<Tensor>>,
    /// Per node: gradient w.r.t. its output port 0 (`None` if nothing flowed back).
    pub outputs: Vec<Option<Tensor>>,
}

impl Grads {
    /// Adds `other` into `self` (same graph).
    ///
    /// # Errors
    /// Shape mismatches (grads from another graph).
    pub fn add_assign(&mut self, other: &Self) -> Result<()> {
        for (a, b) in self.params.iter_mut().zip(&other.params) {
            for (x, y) in a.iter_mut().zip(b) {
                x.add_assign(y)?;
            }
        }
        Ok(())
    }

    /// Multiplies every parameter gradient by `s`.
    pub fn scale(&mut self, s: f64) {
        for t in self.params.iter_mut().flatten() {
            t.scale_assign(s);
        }
    }

    /// The gradient w.r.t. graph input `id` (an `Input` node).
    #[must_use]
    pub fn input(&self, id: NodeId) -> Option<&Tensor> {
        self.outputs.get(id).and_then(Option::as_ref)
    }
}

impl Graph {
    /// Forward firing. `seeds` fix the output (port 0) of some nodes — the inputs, or on the
    /// client the decrypt nodes; every other node fires in topological order once all its
    /// input ports carry a signal, and is skipped otherwise (not ready, like the original).
    ///
    /// # Errors
    /// Node errors, named ([`Error::AtNode`]); [`Error::NonFinite`] names the node that
    /// produced a NaN or infinity; a seed whose shape differs from the node's declared shape.
    pub fn stimulate(&self, seeds: &[(NodeId, Tensor)], tape: &mut Tape) -> Result<()> {
        tape.entries = vec![None; self.len()];
        for &id in self.order() {
            let (name, node) = self.entry(id)?;
            let entry = if let Some((_, seed)) = seeds.iter().find(|(s, _)| *s == id) {
                let want = self.shape(id, 0).unwrap_or(&[]);
                seed.expect_shape("seed", want)
                    .map_err(|e| e.at_node(name, node.kind()))?;
                Entry {
                    outputs: vec![seed.clone()],
                    cache: Vec::new(),
                }
            } else {
                let ins: Option<Vec<&Tensor>> = self
                    .sources(id)
                    .iter()
                    .map(|&(src, port)| tape.output(src, port))
                    .collect();
                let Some(ins) = ins.filter(|v| !v.is_empty()) else {
                    continue;
                };
                let f = node
                    .forward(&ins)
                    .map_err(|e| e.at_node(name, node.kind()))?;
                for out in &f.outputs {
                    if let Some(index) = out.first_non_finite() {
                        return Err(Error::NonFinite {
                            node: name.to_owned(),
                            index,
                        });
                    }
                }
                Entry {
                    outputs: f.outputs,
                    cache: f.cache,
                }
            };
            if let Some(slot) = tape.entries.get_mut(id) {
                *slot = Some(entry);
            }
        }
        Ok(())
    }

    /// Terminal outputs (port 0) of the nodes that fired, by name.
    #[must_use]
    pub fn harvest(&self, tape: &Tape) -> Outputs {
        self.terminals()
            .into_iter()
            .filter_map(|id| Some((self.name(id).to_owned(), tape.output(id, 0)?.clone())))
            .collect()
    }

    /// Backward pass over the reversed graph. `seeds` give the gradient arriving at output
    /// port 0 of some nodes (training seeds every loss with 1). Gradients of an output port
    /// with several consumers are summed; ports nothing flowed back to count as zeros.
    ///
    /// # Errors
    /// Node errors, named.
    pub fn correction(&self, tape: &Tape, seeds: &[(NodeId, Tensor)]) -> Result<Grads> {
        let n = self.len();
        let mut acc: Vec<Vec<Option<Tensor>>> = (0..n)
            .map(|id| vec![None; self.node(id).map_or(0, |nd| nd.ports().1)])
            .collect();
        for (id, g) in seeds {
            add_into(&mut acc, *id, 0, g)?;
        }
        let mut grads = Grads {
            params: self
                .nodes()
                .iter()
                .map(|nd| {
                    nd.params()
                        .iter()
                        .map(|(_, t)| Tensor::zeros(t.shape()))
                        .collect()
                })
                .collect(),
            outputs: vec![None; n],
        };
        for &id in self.order().iter().rev() {
            let (name, node) = self.entry(id)?;
            let Some(entry) = tape.entry(id) else {
                continue;
            };
            let slots = acc.get_mut(id).map(std::mem::take).unwrap_or_default();
            if slots.iter().all(Option::is_none) {
                continue;
            }
            if let Some(o) = grads.outputs.get_mut(id) {
                *o = slots.first().cloned().flatten();
            }
            if self.sources(id).is_empty() && node.params().is_empty() {
                continue;
            }
            let gs: Vec<Tensor> = slots
                .into_iter()
                .zip(&entry.outputs)
                .map(|(g, out)| g.unwrap_or_else(|| Tensor::zeros(out.shape())))
                .collect();
            let back = node
                .backward(&gs, &entry.cache)
                .map_err(|e| e.at_node(name, node.kind()))?;
            if let Some(p) = grads.params.get_mut(id) {
                for (dst, src) in p.iter_mut().zip(&back.params) {
                    dst.add_assign(src)
                        .map_err(|e| e.at_node(name, node.kind()))?;
                }
            }
            for (&(src, port), g) in self.sources(id).iter().zip(&back.inputs) {
                add_into(&mut acc, src, port, g).map_err(|e| e.at_node(name, node.kind()))?;
            }
        }
        Ok(grads)
    }

    /// Applies (already batch-averaged) gradients through `optimizer`, one
    /// [`ParamState`](crate::optim::ParamState) per parameter tensor.
    ///
    /// # Errors
    /// Shape mismatches between gradients and parameters.
    pub fn adaptation(
        &mut self,
        grads: &Grads,
        optimizer: &Optimizer,
        state: &mut super::OptimizerState,
    ) -> Result<()> {
        state.ensure(self);
        for id in 0..self.len() {
            let name = self.name(id).to_owned();
            let kind = self.node(id).map_or("", |nd| nd.kind());
            let gs = grads.params.get(id).map_or(&[][..], Vec::as_slice);
            let ss = state
                .params
                .get_mut(id)
                .map_or(&mut [][..], Vec::as_mut_slice);
            for ((p, g), s) in self.params_mut(id).into_iter().zip(gs).zip(ss) {
                optimizer
                    .step(p, g, s)
                    .map_err(|e| e.at_node(&name, kind))?;
            }
        }
        Ok(())
    }

    /// Plain inference on one sample: inputs by name; returns the harvest.
    ///
    /// # Errors
    /// Unknown input names and node errors.
    pub fn infer(&self, inputs: &[(&str, Tensor)]) -> Result<Outputs> {
        let seeds = inputs
            .iter()
            .map(|(name, t)| Ok((self.id(name)?, t.clone())))
            .collect::<Result<Vec<_>>>()?;
        let mut tape = Tape::new(self);
        self.stimulate(&seeds, &mut tape)?;
        Ok(self.harvest(&tape))
    }

    /// Loss (sum over the loss nodes that fired) and gradients for one training sample
    /// whose tensors follow [`Graph::inputs`] order. Seeds each loss with gradient 1.
    ///
    /// # Errors
    /// [`Error::InputCount`], [`Error::NoLoss`], node errors.
    pub fn loss_and_grads(&self, sample: &[Tensor]) -> Result<(f64, Grads)> {
        let ids = self.inputs();
        if ids.len() != sample.len() {
            return Err(Error::InputCount {
                expected: ids.len(),
                found: sample.len(),
            });
        }
        let seeds: Vec<(NodeId, Tensor)> = ids.into_iter().zip(sample.iter().cloned()).collect();
        let mut tape = Tape::new(self);
        self.stimulate(&seeds, &mut tape)?;
        let losses: Vec<NodeId> = (0..self.len())
            .filter(|&id| self.node(id).is_some_and(crate::Node::is_loss) && tape.fired(id))
            .collect();
        if losses.is_empty() {
            return Err(Error::NoLoss);
        }
        let loss = losses
            .iter()
            .filter_map(|&id| tape.output(id, 0))
            .map(Tensor::item)
            .sum();
        let seeds: Vec<(NodeId, Tensor)> = losses
            .into_iter()
            .map(|id| (id, Tensor::scalar(1.0)))
            .collect();
        Ok((loss, self.correction(&tape, &seeds)?))
    }
}

fn add_into(acc: &mut [Vec<Option<Tensor>>], id: NodeId, port: usize, g: &Tensor) -> Result<()> {
    if let Some(slot) = acc.get_mut(id).and_then(|v| v.get_mut(port)) {
        match slot {
            Some(t) => t.add_assign(g)?,
            None => *slot = Some(g.clone()),
        }
    }
    Ok(())
}
