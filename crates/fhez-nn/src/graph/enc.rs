//! The encrypted traversal: the server evaluates every node reachable from the encrypted
//! inputs up to the decrypt boundary, holding only what `B` holds (a server-side backend has
//! no secret key); the client decrypts and finishes in plaintext.

use fhez_backend::{Backend, Decrypt};
use fhez_erray::{Erray, Gather, Packing, PlainArray, RotationTable};

use super::{Graph, NodeId, Outputs, SingleLinear, Tape, TransformCache};
use crate::nodes::Node;
use crate::tensor::unstack;
use crate::{Error, Result};

/// Levels around one node of an encrypted run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLevels {
    /// Lowest level among its inputs.
    pub input: u32,
    /// Lowest level among its outputs.
    pub output: u32,
    /// Slot rotations it performed (from the backend's counters).
    pub rotations: u64,
    /// Key switches it performed: its rotations plus the relinearization of every
    /// ct×ct product (from the backend's counters).
    pub key_switches: u64,
}

impl NodeLevels {
    /// Levels the node consumed.
    #[must_use]
    pub fn consumed(&self) -> u32 {
        self.input.saturating_sub(self.output)
    }
}

/// What the server returns: the ciphertexts that reached each decrypt node, and per-node
/// level accounting.
#[derive(Debug)]
pub struct EncRun<B: Backend> {
    /// `(decrypt node, value arriving there)`, in node order.
    pub boundary: Vec<(NodeId, Erray<B>)>,
    /// Per node: levels, for nodes evaluated on ciphertexts.
    pub levels: Vec<Option<NodeLevels>>,
}

/// Per-run state of the encrypted traversal: the [`Square`](crate::nodes::Square) nodes it
/// deferred into their [`Dense`](crate::nodes::Dense) consumer (lazy relinearization).
#[derive(Clone, Debug, Default)]
pub struct EncState {
    deferred: Vec<bool>,
    /// Linear nodes passed through to the `Enqueue` that fuses them.
    fused: Vec<bool>,
    /// Linear nodes passed through to the linear consumer they compose into.
    composed: Vec<bool>,
    /// `cc` parts passed through to the streaming `Enqueue` that evaluates them.
    streamed: Vec<bool>,
}

impl EncState {
    /// State for a run over `graph`.
    #[must_use]
    pub fn new(graph: &Graph) -> Self {
        Self {
            deferred: vec![false; graph.len()],
            fused: vec![false; graph.len()],
            composed: vec![false; graph.len()],
            streamed: vec![false; graph.len()],
        }
    }

    pub(super) fn is_deferred(&self, id: NodeId) -> bool {
        self.deferred.get(id).copied().unwrap_or(false)
    }

    pub(super) fn is_fused(&self, id: NodeId) -> bool {
        self.fused.get(id).copied().unwrap_or(false)
    }

    pub(super) fn is_composed(&self, id: NodeId) -> bool {
        self.composed.get(id).copied().unwrap_or(false)
    }

    pub(super) fn is_streamed(&self, id: NodeId) -> bool {
        self.streamed.get(id).copied().unwrap_or(false)
    }
}

/// What [`Graph::forward_enc_node`] returns for one node.
#[derive(Debug)]
pub struct EncStep<B: Backend> {
    /// One erray per output port.
    pub outputs: Vec<Erray<B>>,
    /// Lowest level among its inputs (a deferred square's output counts one below its input).
    pub input_level: u32,
    /// Lowest level among its outputs (a deferred square's: its input's minus one).
    pub output_level: u32,
}

/// A folded quadratic activation on `u = √|c2|·x` (see [`Graph::folds_activation`]):
/// `sign(c2)·u·(u + shift) + c0`, one level.
fn folded_quadratic<B: Backend>(u: &Erray<B>, c: [f64; 3]) -> Result<Erray<B>> {
    let [c0, c1, c2] = c;
    let sigma = c2.abs().sqrt();
    let sign = c2.signum();
    let shifted = u.add_scalar(sign * c1 / sigma)?;
    let prod = (u * &shifted)?;
    let signed = if sign < 0.0 { prod.neg()? } else { prod };
    Ok(signed.add_scalar(c0)?)
}

/// `l` reading `x`'s layout: composed with `x`'s gather when `x` is a gathered input
/// ([`fhez_erray::LinearTransform::compose_gather`]), unchanged otherwise.
fn read_layout<B: Backend>(l: SingleLinear, x: &Erray<B>) -> Result<SingleLinear> {
    match x.gather() {
        Some(g) => Ok(SingleLinear {
            transform: l.transform.compose_gather(g)?,
            ..l
        }),
        None => Ok(l),
    }
}

fn is_single<B: Backend>(x: &Erray<B>) -> bool {
    matches!(x.packing(), Packing::SingleInput { .. })
}

fn level_of<B: Backend>(xs: &[&Erray<B>]) -> u32 {
    xs.iter().map(|x| x.level()).min().unwrap_or(0)
}

pub(super) fn is_level_exhausted(e: &Error) -> bool {
    matches!(
        e,
        Error::Backend(fhez_backend::Error::LevelExhausted { .. })
            | Error::Erray(fhez_erray::Error::Backend(
                fhez_backend::Error::LevelExhausted { .. }
            ))
    )
}

/// What the encrypted walk reports to a hook ([`Graph::forward_enc_with_hook`]) around every
/// node it evaluates on ciphertexts. `Decrypt` nodes (the boundary), input nodes and nodes no
/// ciphertext reaches are not reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeEvent<'a> {
    /// The node is about to run.
    Before {
        /// Node id.
        id: NodeId,
        /// Node name.
        name: &'a str,
        /// Node kind.
        kind: &'static str,
        /// Lowest level among its inputs.
        input_level: u32,
    },
    /// The node ran without error (a failing node ends the walk with its error instead).
    After {
        /// Node id.
        id: NodeId,
        /// Node name.
        name: &'a str,
        /// Node kind.
        kind: &'static str,
        /// Levels, rotations and key switches, as recorded in [`EncRun::levels`].
        levels: NodeLevels,
        /// Ciphertexts it produced, over all its output ports.
        cts_out: usize,
    },
}

impl Graph {
    /// Server side: evaluates the graph on ciphertexts. `inputs` name the encrypted input
    /// nodes (batch-in-slots errays of shape `(batch, input shape…)`). Evaluation stops at
    /// [`Decrypt`](crate::nodes::Decrypt) nodes; at [`Rotate`](crate::nodes::Rotate) nodes
    /// (the original's key rotation) the value goes through `refresh` — a round trip in
    /// which the client decrypts and re-encrypts, or a fresh encryption on `Sim`.
    ///
    /// # Errors
    /// [`Error::DepthExhausted`] names the node that ran out of levels and what it needed;
    /// [`Error::NotEncryptable`] names a client-only node reached on ciphertexts; other
    /// errors are wrapped in [`Error::AtNode`].
    pub fn forward_enc<B: Backend>(
        &self,
        inputs: &[(&str, Erray<B>)],
        refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
    ) -> Result<EncRun<B>> {
        self.forward_enc_with_hook(inputs, refresh, &mut |_| {})
    }

    /// [`Graph::forward_enc`], calling `hook` with [`NodeEvent::Before`] and
    /// [`NodeEvent::After`] around every node evaluated on ciphertexts, in evaluation
    /// (topological) order. The hook observes only: it cannot change values or stop the
    /// walk. A node's outputs are dropped once every edge leaving it was read, so the live
    /// ciphertexts are those some pending node still needs.
    ///
    /// # Errors
    /// As [`Graph::forward_enc`].
    pub fn forward_enc_with_hook<B: Backend>(
        &self,
        inputs: &[(&str, Erray<B>)],
        refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
        hook: &mut dyn FnMut(NodeEvent<'_>),
    ) -> Result<EncRun<B>> {
        let owned = inputs.iter().map(|(n, x)| (*n, x.clone())).collect();
        self.forward_enc_owned(owned, refresh, hook, None)
    }

    /// [`Graph::forward_enc_with_hook`] keeping the single-input linear maps
    /// ([`Node::single_linear`]) encoded in `cache`: a node's diagonals are encoded the first
    /// time it runs at a level and reused by every later run with the same cache (a server
    /// keeps one per model and parameter set). Values, levels and key switches are those of
    /// the uncached walk.
    ///
    /// # Errors
    /// As [`Graph::forward_enc`].
    pub fn forward_enc_cached<B: Backend>(
        &self,
        inputs: &[(&str, Erray<B>)],
        refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
        hook: &mut dyn FnMut(NodeEvent<'_>),
        cache: &TransformCache<B>,
    ) -> Result<EncRun<B>> {
        let owned = inputs.iter().map(|(n, x)| (*n, x.clone())).collect();
        self.forward_enc_owned(owned, refresh, hook, Some(cache))
    }

    /// The one walk, taking the inputs by value: each input is dropped once its last
    /// consumer ran, like every node output, so a caller that keeps no other handle on them
    /// (ciphertexts are shared, not copied, between handles) holds only the live ciphertexts
    /// at every step. With a `cache`, single-input linear maps are encoded once
    /// ([`Graph::forward_enc_cached`]).
    ///
    /// # Errors
    /// As [`Graph::forward_enc`].
    pub fn forward_enc_owned<B: Backend>(
        &self,
        inputs: Vec<(&str, Erray<B>)>,
        refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
        hook: &mut dyn FnMut(NodeEvent<'_>),
        cache: Option<&TransformCache<B>>,
    ) -> Result<EncRun<B>> {
        let n = self.len();
        let mut values: Vec<Option<Vec<Erray<B>>>> = vec![None; n];
        let mut run = EncRun {
            boundary: Vec::new(),
            levels: vec![None; n],
        };
        let mut state = EncState::new(self);
        for (name, x) in inputs {
            let id = self.id(name)?;
            let want = self.shape(id, 0).unwrap_or(&[]);
            if x.shape().get(1..) != Some(want) {
                return Err(Error::ShapeMismatch {
                    what: "encrypted input (batch, shape…)",
                    expected: crate::nodes::with_batch(
                        x.shape().first().copied().unwrap_or(1),
                        want,
                    ),
                    found: x.shape().to_vec(),
                }
                .at_node(name, "input"));
            }
            if let Some(v) = values.get_mut(id) {
                *v = Some(vec![x]);
            }
        }
        // Edges still to be read from each node: a node's outputs are dropped once its last
        // consumer ran (ciphertext arrays are large: this bounds the peak to the live ones).
        let mut unread = vec![0usize; n];
        for e in self.edges() {
            if let Some(c) = unread.get_mut(e.from) {
                *c += 1;
            }
        }
        for &id in self.order() {
            let (name, node) = self.entry(id)?;
            if matches!(node, Node::Input(_)) {
                continue;
            }
            let ins: Option<Vec<&Erray<B>>> = self
                .sources(id)
                .iter()
                .map(|&(src, port)| values.get(src)?.as_ref()?.get(port))
                .collect();
            let Some(ins) = ins.filter(|v| !v.is_empty()) else {
                continue;
            };
            let input_level = level_of(&ins);
            if let Node::Decrypt(_) = node {
                if let Some(&x) = ins.first() {
                    run.boundary.push((id, x.clone()));
                }
                self.release_inputs(id, &mut unread, &mut values);
                continue;
            }
            hook(NodeEvent::Before {
                id,
                name,
                kind: node.kind(),
                input_level,
            });
            let before = ins.first().map(|x| x.backend().stats());
            // A node reading a value for the last time may consume it, freeing its
            // ciphertexts as it goes (`stream.rs`).
            let (step, after) = if let Some(how) = self.consumes(id, &ins, &state, &unread) {
                let x = self.take_consumed(id, &mut values)?;
                let step = self.forward_enc_consuming(id, how, x, input_level)?;
                let after = step.outputs.first().map(|y| y.backend().stats());
                (step, after)
            } else {
                let step = self.forward_enc_node(id, &ins, &mut state, refresh, cache)?;
                (step, ins.first().map(|x| x.backend().stats()))
            };
            let delta = match (after, before) {
                (Some(a), Some(b)) => a - b,
                _ => fhez_backend::OpStats::default(),
            };
            let levels = NodeLevels {
                input: step.input_level,
                output: step.output_level,
                rotations: delta.rotations,
                key_switches: delta.key_switches,
            };
            let out = step.outputs;
            if let Some(l) = run.levels.get_mut(id) {
                *l = Some(levels);
            }
            hook(NodeEvent::After {
                id,
                name,
                kind: node.kind(),
                levels,
                cts_out: out.iter().map(|x| x.cts().len()).sum(),
            });
            if let Some(v) = values.get_mut(id) {
                *v = Some(out);
            }
            self.release_inputs(id, &mut unread, &mut values);
        }
        Ok(run)
    }

    /// Counts the edges into `id` as read and drops every source value no edge still needs.
    fn release_inputs<T>(&self, id: NodeId, unread: &mut [usize], values: &mut [Option<T>]) {
        for &(src, _) in self.sources(id) {
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

    /// Whether the encrypted traversal folds [`Square`](crate::nodes::Square) node `id` into
    /// its consumer: its output feeds exactly one edge, into a [`Dense`](crate::nodes::Dense).
    #[must_use]
    pub fn defers_square(&self, id: NodeId) -> bool {
        if !matches!(self.node(id), Some(Node::Square(_))) {
            return false;
        }
        let mut outs = self.edges().iter().filter(|e| e.from == id);
        match (outs.next(), outs.next()) {
            (Some(e), None) => matches!(self.node(e.to), Some(Node::Dense(_))),
            _ => false,
        }
    }

    /// Whether `id` is an [`Enqueue`](crate::nodes::Enqueue) of linear maps of one value: every
    /// input is a `cc`, `avg_pool` or `dense` node whose only input is the same output port
    /// and whose only consumer is this `Enqueue`. On single-input ciphertexts the encrypted
    /// traversal then runs them as **one** stacked transform at the `Enqueue`
    /// ([`LinearTransform::stack`](fhez_erray::LinearTransform::stack): `[M_0; M_1; …]·x`),
    /// instead of one transform per map plus the stacking rotations and its mask level.
    #[must_use]
    pub fn fuses_enqueue(&self, id: NodeId) -> bool {
        if !matches!(self.node(id), Some(Node::Enqueue(_))) {
            return false;
        }
        let parts = self.sources(id);
        let mut common: Option<(NodeId, usize)> = None;
        parts.len() > 1
            && parts.iter().all(|&(src, port)| {
                let linear = matches!(
                    self.node(src),
                    Some(Node::Cc(_) | Node::Conv(_) | Node::AvgPool(_) | Node::Dense(_))
                );
                let single_out =
                    port == 0 && self.edges().iter().filter(|e| e.from == src).count() == 1;
                let input = match self.sources(src) {
                    [one] => Some(*one),
                    _ => None,
                };
                let same = match (common, input) {
                    (_, None) => false,
                    (None, Some(i)) => {
                        common = Some(i);
                        true
                    }
                    (Some(c), Some(i)) => c == i,
                };
                linear && single_out && same
            })
    }

    /// Whether linear node `id` feeds an `Enqueue` that [fuses](Graph::fuses_enqueue) it.
    fn fused_into_enqueue(&self, id: NodeId) -> bool {
        let mut outs = self.edges().iter().filter(|e| e.from == id);
        match (outs.next(), outs.next()) {
            (Some(e), None) => self.fuses_enqueue(e.to),
            _ => false,
        }
    }

    /// The single-input map that first reads encrypted input `id` when every consumer of
    /// the input is a linear map: its one consumer, a `cc`, `conv`, `avg_pool` or `dense` node not
    /// fused into an `Enqueue`, or the fusing `Enqueue` ([`Graph::fuses_enqueue`]) all its
    /// consumers are parts of; each scaled as the walk scales it (a folded activation).
    /// `None` otherwise (a gather would not serve every reader).
    ///
    /// # Errors
    /// The node's lowering errors.
    pub fn first_linear<B: Backend>(
        &self,
        id: NodeId,
        x: &Erray<B>,
    ) -> Result<Option<SingleLinear>> {
        let outs: Vec<_> = self.edges().iter().filter(|e| e.from == id).collect();
        let linear = |to: NodeId| {
            matches!(
                self.node(to),
                Some(Node::Cc(_) | Node::Conv(_) | Node::AvgPool(_) | Node::Dense(_))
            ) && self.sources(to).len() == 1
        };
        match outs.as_slice() {
            [] => Ok(None),
            [e] if e.from_port == 0 && linear(e.to) && !self.fused_into_enqueue(e.to) => {
                let (_, node) = self.entry(e.to)?;
                node.single_linear(x, self.fold_scale(e.to))
            }
            [first, ..] => {
                let enqueue = |to: NodeId| {
                    let mut o = self.edges().iter().filter(|e| e.from == to);
                    match (o.next(), o.next()) {
                        (Some(e), None) if self.fuses_enqueue(e.to) => Some(e.to),
                        _ => None,
                    }
                };
                let Some(q) = enqueue(first.to) else {
                    return Ok(None);
                };
                let all = outs
                    .iter()
                    .all(|e| e.from_port == 0 && linear(e.to) && enqueue(e.to) == Some(q));
                if !all || self.sources(q).len() != outs.len() {
                    return Ok(None);
                }
                self.fused_linear(q, x, self.fold_scale(q)).map(Some)
            }
        }
    }

    /// The layout the planner chooses for single-input encrypted input `id` (`x` its
    /// row-major single-input erray): the im2col-style [`Gather::for_transform`] of the
    /// first map ([`Graph::first_linear`]) when that map, composed with it, needs fewer key
    /// switches (ties: fewer diagonals) than on the row-major layout; `None` keeps the
    /// row-major layout. This is the cost model's decision, recorded in the plan's input
    /// layout.
    ///
    /// # Errors
    /// As [`Graph::first_linear`]; transform errors.
    pub fn input_gather<B: Backend>(&self, id: NodeId, x: &Erray<B>) -> Result<Option<Gather>> {
        if x.gather().is_some() || !is_single(x) {
            return Ok(None);
        }
        let Some(l) = self.first_linear(id, x)? else {
            return Ok(None);
        };
        let Some(g) = Gather::for_transform(&l.transform, x.len())? else {
            return Ok(None);
        };
        let composed = l.transform.compose_gather(&g)?;
        let cost = |t: &fhez_erray::LinearTransform| (t.key_switches(), t.diagonals());
        Ok((cost(&composed) < cost(&l.transform)).then_some(g))
    }

    /// The linear consumer single-input evaluation composes linear node `id` into: `id`
    /// is a `cc`, `conv`, `avg_pool` or `dense` with one input, not fused into an `Enqueue`, whose
    /// only output edge goes to such a node `c` (also not fused); `id` is not itself the
    /// consumer of such a pair (pairs only). The walk then applies `c ∘ id` as one transform
    /// at `c` when the cost model finds it no slower ([`Graph::compose_is_cheaper`]),
    /// otherwise both maps at `c`.
    #[must_use]
    pub fn composes_into(&self, id: NodeId) -> Option<NodeId> {
        let [(src, _)] = self.sources(id) else {
            return None;
        };
        let outer = self.linear_pair(id)?;
        (self.linear_pair(*src) != Some(id)).then_some(outer)
    }

    /// The linear consumer of linear node `id` (see [`Graph::composes_into`]), without the
    /// pairs-only rule.
    fn linear_pair(&self, id: NodeId) -> Option<NodeId> {
        let linear = |n: NodeId| {
            matches!(
                self.node(n),
                Some(Node::Cc(_) | Node::Conv(_) | Node::AvgPool(_) | Node::Dense(_))
            ) && self.sources(n).len() == 1
                && !self.fused_into_enqueue(n)
        };
        if !linear(id) {
            return None;
        }
        let mut outs = self.edges().iter().filter(|e| e.from == id);
        match (outs.next(), outs.next()) {
            (Some(e), None) if e.from_port == 0 && linear(e.to) => Some(e.to),
            _ => None,
        }
    }

    /// The cost model's decision on composing two consecutive maps: the composed transform
    /// `both` is used when it needs no more key switches and no more diagonals (plaintext
    /// products) than `first` and `second` together; it always saves a level.
    #[must_use]
    pub fn compose_is_cheaper(
        first: &fhez_erray::LinearTransform,
        second: &fhez_erray::LinearTransform,
        both: &fhez_erray::LinearTransform,
    ) -> bool {
        both.key_switches() <= first.key_switches() + second.key_switches()
            && both.diagonals() <= first.diagonals() + second.diagonals()
    }

    /// Applies linear node `id` after the linear node it composes ([`Graph::composes_into`])
    /// to `x`, the inner node's input: one composed transform, or both in turn when the
    /// composition is not cheaper. With a `cache`, the decision and the transforms are
    /// kept per level.
    fn apply_composed<B: Backend>(
        &self,
        id: NodeId,
        x: &Erray<B>,
        cache: Option<&TransformCache<B>>,
    ) -> Result<Option<Erray<B>>> {
        let (_, outer) = self.entry(id)?;
        let [(src, _)] = self.sources(id) else {
            return Ok(None);
        };
        let src = *src;
        let (_, inner) = self.entry(src)?;
        let scale = self.fold_scale(id);
        let not_linear = |n: NodeId, node: &Node| Error::NotEncryptable {
            node: self.name(n).to_owned(),
            kind: node.kind(),
        };
        let first = || -> Result<SingleLinear> {
            let l = inner
                .single_linear(x, 1.0)?
                .ok_or_else(|| not_linear(src, inner))?;
            read_layout(l, x)
        };
        let second = |y: &Erray<B>| -> Result<SingleLinear> {
            outer
                .single_linear(y, scale)?
                .ok_or_else(|| not_linear(id, outer))
        };
        let pair = || -> Result<(SingleLinear, SingleLinear)> {
            let l1 = first()?;
            // The outer map is planned on the shape and period of the inner map's output
            // (only those are read): the input's ciphertexts stand in for it.
            let shaped = Erray::from_parts(
                x.backend(),
                l1.node_shape.clone(),
                Packing::SingleInput {
                    period: l1.transform.output_period(),
                },
                x.cts().to_vec(),
            )?;
            let l2 = second(&shaped)?;
            Ok((l1, l2))
        };
        let compose = |l1: SingleLinear, l2: SingleLinear| -> Result<Option<SingleLinear>> {
            let both = l2.transform.compose(&l1.transform)?;
            let cheaper = Self::compose_is_cheaper(&l1.transform, &l2.transform, &both);
            Ok(cheaper.then_some(SingleLinear {
                transform: both,
                input_shape: l1.input_shape,
                output_shape: l2.output_shape,
                node_shape: l2.node_shape,
            }))
        };
        match cache {
            None => {
                let exact = RotationTable::exact();
                let (l1, l2) = pair()?;
                match compose(l1.clone(), l2.clone())? {
                    Some(l) => l.apply(x, &exact).map(Some),
                    None => l2.apply(&l1.apply(x, &exact)?, &exact).map(Some),
                }
            }
            Some(c) => {
                let composed = c.decide(id, x, || {
                    let (l1, l2) = pair()?;
                    Ok(compose(l1, l2)?.is_some())
                })?;
                if composed {
                    c.apply(id, x, || {
                        let (l1, l2) = pair()?;
                        compose(l1, l2)
                    })
                } else {
                    let y = c
                        .apply(src, x, || first().map(Some))?
                        .ok_or_else(|| not_linear(src, inner))?;
                    c.apply(id, &y, || second(&y).map(Some))
                }
            }
        }
    }

    /// The stacked single-input map of a fusing `Enqueue` `id` on `x` (the value all its
    /// parts read): each part's [`Node::single_linear`] scaled by `scale`, stacked row-wise.
    fn fused_linear<B: Backend>(
        &self,
        id: NodeId,
        x: &Erray<B>,
        scale: f64,
    ) -> Result<SingleLinear> {
        let mut parts = Vec::new();
        for &(src, _) in self.sources(id) {
            let (_, node) = self.entry(src)?;
            let part = node.single_linear(x, scale)?.ok_or(Error::NotEncryptable {
                node: self.name(src).to_owned(),
                kind: node.kind(),
            })?;
            parts.push(part);
        }
        let first = parts.first().ok_or(Error::InputCount {
            expected: 2,
            found: 0,
        })?;
        if let Some(p) = parts.iter().find(|p| p.node_shape != first.node_shape) {
            return Err(Error::ShapeMismatch {
                what: "enqueue input (all ports share one shape)",
                expected: first.node_shape.clone(),
                found: p.node_shape.clone(),
            });
        }
        let rows: usize = first.output_shape.iter().product();
        let refs: Vec<&fhez_erray::LinearTransform> = parts.iter().map(|p| &p.transform).collect();
        let transform = fhez_erray::LinearTransform::stack(&refs, rows)?;
        let mut node_shape = vec![1, parts.len()];
        node_shape.extend(first.node_shape.get(1..).unwrap_or(&[]));
        Ok(SingleLinear {
            transform,
            input_shape: first.input_shape.clone(),
            output_shape: vec![rows.saturating_mul(parts.len())],
            node_shape,
        })
    }

    /// The quadratic coefficients `[c0, c1, c2]` of node `id` when single-input evaluation
    /// folds it into the linear map before it: `id` is a quadratic activation
    /// ([`Node::quadratic`]) whose only input is the only output of a linear node (`cc`,
    /// `avg_pool`, `dense`, not itself fused into an `Enqueue`) or of a fusing `Enqueue`. That
    /// map is then scaled by `σ = √|c2|`, so with `u = σ·x` the activation is
    /// `sign(c2)·u·(u + shift) + c0`, `shift = sign(c2)·c1/σ`: one level instead of two (the
    /// product; `c2` no longer needs a non-integer scalar product).
    #[must_use]
    pub fn folds_activation(&self, id: NodeId) -> Option<[f64; 3]> {
        let c = self.node(id)?.quadratic()?;
        let [(src, 0)] = self.sources(id) else {
            return None;
        };
        let src = *src;
        let single_out = self.edges().iter().filter(|e| e.from == src).count() == 1;
        let producer = self.node(src)?;
        let linear = if matches!(
            producer,
            Node::Cc(_) | Node::Conv(_) | Node::AvgPool(_) | Node::Dense(_)
        ) {
            !self.fused_into_enqueue(src)
        } else {
            self.fuses_enqueue(src)
        };
        (single_out && linear).then_some(c)
    }

    /// The factor linear node (or fusing `Enqueue`) `id` scales its single-input map by:
    /// `√|c2|` when its consumer [folds](Graph::folds_activation) into it, otherwise 1.
    fn fold_scale(&self, id: NodeId) -> f64 {
        let mut outs = self.edges().iter().filter(|e| e.from == id);
        match (outs.next(), outs.next()) {
            (Some(e), None) => self
                .folds_activation(e.to)
                .map_or(1.0, |c| c[2].abs().sqrt()),
            _ => 1.0,
        }
    }

    /// Evaluates node `id` (not an input, not a `Decrypt`) on ciphertexts as
    /// [`Graph::forward_enc`] does, and returns its outputs and levels. Every traversal
    /// calls this, so the rules live here once:
    ///
    /// - a client-only node is [`Error::NotEncryptable`]; a `Rotate` goes through `refresh`;
    /// - a [`Square`](crate::nodes::Square) the graph [defers](Graph::defers_square), on
    ///   batch-in-slots ciphertexts with a level to spend, passes its input through unchanged
    ///   (recorded in `state`; its reported level is the input's minus one, as if squared),
    ///   and its `Dense` consumer evaluates `x² @ W + b` with lazy relinearization
    ///   ([`Dense::forward_enc_squared`](crate::nodes::Dense::forward_enc_squared)): the same
    ///   levels, key switches per output of the layer instead of per input;
    /// - with a `cache`, a single-input linear node ([`Node::single_linear`]) applies its map
    ///   encoded once in the cache for the input's level;
    /// - level exhaustion becomes [`Error::DepthExhausted`] naming the node; other errors are
    ///   wrapped in [`Error::AtNode`].
    ///
    /// # Errors
    /// As listed.
    pub fn forward_enc_node<B: Backend>(
        &self,
        id: NodeId,
        ins: &[&Erray<B>],
        state: &mut EncState,
        refresh: &mut dyn FnMut(&Erray<B>) -> Result<Erray<B>>,
        cache: Option<&TransformCache<B>>,
    ) -> Result<EncStep<B>> {
        let (name, node) = self.entry(id)?;
        if node.cost().client_only {
            return Err(Error::NotEncryptable {
                node: name.to_owned(),
                kind: node.kind(),
            });
        }
        let squared_input = self
            .sources(id)
            .first()
            .is_some_and(|&(src, _)| state.is_deferred(src));
        let fused_inputs = !self.sources(id).is_empty()
            && self.sources(id).iter().all(|&(src, _)| state.is_fused(src));
        let composed_input = match self.sources(id) {
            [(src, _)] => state.is_composed(*src),
            _ => false,
        };
        let streamed_inputs = !self.sources(id).is_empty()
            && self
                .sources(id)
                .iter()
                .all(|&(src, _)| state.is_streamed(src));
        let input_level = level_of(ins)
            .saturating_sub(u32::from(squared_input))
            .saturating_sub(u32::from(fused_inputs))
            .saturating_sub(u32::from(composed_input))
            .saturating_sub(u32::from(streamed_inputs));
        let first = ins.first().copied();
        let step = |outputs: Vec<Erray<B>>| {
            let output_level = level_of(&outputs.iter().collect::<Vec<_>>());
            EncStep {
                outputs,
                input_level,
                output_level,
            }
        };
        if let (Node::Rotate(_), Some(x)) = (node, first) {
            return Ok(step(vec![
                refresh(x).map_err(|e| e.at_node(name, node.kind()))?,
            ]));
        }
        if let Some(x) = first
            && self.defers_square(id)
            && input_level >= 1
            && matches!(x.packing(), Packing::BatchInSlots { .. })
        {
            if let Some(d) = state.deferred.get_mut(id) {
                *d = true;
            }
            return Ok(EncStep {
                outputs: vec![x.clone()],
                input_level,
                output_level: input_level - 1,
            });
        }
        // A linear part of a fusing Enqueue passes its input through (reported one level
        // down, as if applied); the Enqueue applies the stacked map.
        if let Some(x) = first
            && is_single(x)
            && input_level >= 1
            && self.fused_into_enqueue(id)
        {
            if let Some(f) = state.fused.get_mut(id) {
                *f = true;
            }
            return Ok(EncStep {
                outputs: vec![x.clone()],
                input_level,
                output_level: input_level - 1,
            });
        }
        // A linear map whose only consumer is a linear map passes its input through
        // (reported one level down, as if applied); the consumer applies both, composed
        // into one transform when the cost model finds that no slower.
        if let Some(x) = first
            && is_single(x)
            && !squared_input
            && !fused_inputs
            && !composed_input
            && input_level >= 1
            && self.composes_into(id).is_some()
        {
            if let Some(f) = state.composed.get_mut(id) {
                *f = true;
            }
            return Ok(EncStep {
                outputs: vec![x.clone()],
                input_level,
                output_level: input_level - 1,
            });
        }
        // A cc part of a streaming Enqueue passes its batch-in-slots input through (reported
        // one level down, as if applied); the Enqueue evaluates every part output row by
        // output row (`stream.rs`).
        if let Some(x) = first
            && matches!(x.packing(), Packing::BatchInSlots { .. })
            && !squared_input
            && !fused_inputs
            && !composed_input
            && input_level >= 1
            && self.streamed_into_enqueue(id)
        {
            if let Some(f) = state.streamed.get_mut(id) {
                *f = true;
            }
            return Ok(EncStep {
                outputs: vec![x.clone()],
                input_level,
                output_level: input_level - 1,
            });
        }
        let single_x = first.filter(|x| is_single(x) && !squared_input);
        let cached = match single_x {
            Some(x) if composed_input => self.apply_composed(id, x, cache),
            Some(x) if fused_inputs => {
                let scale = self.fold_scale(id);
                let plan = || {
                    self.fused_linear(id, x, scale)
                        .and_then(|l| read_layout(l, x))
                };
                match cache {
                    Some(c) => c.apply(id, x, || plan().map(Some)),
                    None => plan()
                        .and_then(|l| l.apply(x, &RotationTable::exact()))
                        .map(Some),
                }
                .and_then(|y| {
                    y.ok_or(Error::NotEncryptable {
                        node: name.to_owned(),
                        kind: node.kind(),
                    })
                    .map(Some)
                })
            }
            Some(x)
                if ins.len() == 1
                    && matches!(
                        node,
                        Node::Cc(_) | Node::Conv(_) | Node::AvgPool(_) | Node::Dense(_)
                    ) =>
            {
                let scale = self.fold_scale(id);
                let plan = || {
                    node.single_linear(x, scale)?
                        .map(|l| read_layout(l, x))
                        .transpose()
                };
                match cache {
                    Some(c) => c.apply(id, x, plan),
                    None => plan()
                        .and_then(|l| l.map(|l| l.apply(x, &RotationTable::exact())).transpose()),
                }
            }
            Some(x) => match self.folds_activation(id) {
                Some(c) => folded_quadratic(x, c).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        };
        let (result, needed) = match (cached, node, first) {
            (Err(e), _, _) => (Err(e), node.cost().depth),
            (Ok(Some(y)), _, _) => (Ok(vec![y]), node.cost().depth),
            (Ok(None), Node::Enqueue(_), Some(x)) if streamed_inputs => (
                self.cc_stack(id, x.clone()).map(|y| vec![y]),
                node.cost().depth + 1,
            ),
            (Ok(None), Node::Dense(d), Some(x)) if squared_input => (
                d.forward_enc_squared(x).map(|y| vec![y]),
                node.cost().depth + 1,
            ),
            (Ok(None), _, _) => (node.forward_enc(ins), node.cost().depth),
        };
        let out = result.map_err(|e| {
            if is_level_exhausted(&e) {
                Error::DepthExhausted {
                    node: name.to_owned(),
                    kind: node.kind(),
                    needed,
                    available: input_level,
                }
            } else {
                e.at_node(name, node.kind())
            }
        })?;
        Ok(step(out))
    }

    /// Client side: given the decrypted boundary values (batched, `(batch, shape…)`) and any
    /// plaintext inputs (batched, by name), runs the rest of the graph per sample and returns
    /// one harvest per sample.
    ///
    /// # Errors
    /// Shape errors and node errors.
    pub fn finish(
        &self,
        decrypted: &[(NodeId, PlainArray)],
        plain_inputs: &[(&str, PlainArray)],
    ) -> Result<Vec<Outputs>> {
        let mut columns: Vec<(NodeId, Vec<crate::Tensor>)> = Vec::new();
        for (id, batch) in decrypted {
            columns.push((*id, unstack(batch)?));
        }
        for (name, batch) in plain_inputs {
            columns.push((self.id(name)?, unstack(batch)?));
        }
        let batch = columns.first().map_or(0, |(_, c)| c.len());
        let mut tape = Tape::new(self);
        let mut out = Vec::with_capacity(batch);
        for b in 0..batch {
            let seeds: Vec<(NodeId, crate::Tensor)> = columns
                .iter()
                .filter_map(|(id, c)| Some((*id, c.get(b)?.clone())))
                .collect();
            self.stimulate(&seeds, &mut tape)?;
            out.push(self.harvest(&tape));
        }
        Ok(out)
    }

    /// Both roles with one backend that can decrypt (Plain, or a CKKS client): encrypts the
    /// batched `encrypted` inputs batch-in-slots, runs [`Graph::forward_enc`] (refreshing at
    /// `Rotate` nodes by decrypt + re-encrypt), decrypts the boundary and
    /// [`Graph::finish`]es.
    ///
    /// # Errors
    /// As [`Graph::forward_enc`] and [`Graph::finish`].
    pub fn infer_encrypted<B: Decrypt>(
        &self,
        backend: &B,
        encrypted: &[(&str, PlainArray)],
        plain_inputs: &[(&str, PlainArray)],
    ) -> Result<Vec<Outputs>> {
        let inputs = encrypted
            .iter()
            .map(|(name, x)| {
                let packing = Packing::BatchInSlots {
                    batch: x.shape().first().copied().unwrap_or(1),
                };
                Ok((*name, Erray::encrypt(backend, x, packing)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut refresh = |x: &Erray<B>| -> Result<Erray<B>> {
            Ok(Erray::encrypt(backend, &x.decrypt()?, x.packing())?)
        };
        let run = self.forward_enc(&inputs, &mut refresh)?;
        let decrypted = run
            .boundary
            .iter()
            .map(|(id, x)| Ok((*id, x.decrypt()?)))
            .collect::<Result<Vec<_>>>()?;
        self.finish(&decrypted, plain_inputs)
    }
}
