//! Streaming on batch-in-slots ciphertexts: in [`Graph::forward_enc_owned`] a node that
//! reads a value for the last time consumes it, and frees each input ciphertext once every
//! output that needs it exists.
//!
//! - A fusing `Enqueue` of cross-correlations with one kernel and stride (a convolution
//!   layer written as one `cc` per filter, as the original's CNN is) runs output row by
//!   output row: the `cc` parts pass their input through, and the `Enqueue` evaluates every
//!   filter on the band of input rows one output row reads, then drops the rows no later
//!   output row reads. Evaluated filter by filter, every input stays alive until the last
//!   filter ran while the outputs of all the others accumulate.
//! - An elementwise polynomial (`relu`, `poly`) runs chunk by chunk, each input chunk freed
//!   once its outputs exist ([`Erray::polyval_owned`]).
//!
//! Every output ciphertext comes from the same backend calls on the same operands as in the
//! node-by-node evaluation, so the values are identical; only the order and the lifetimes
//! change.

use fhez_backend::Backend;
use fhez_erray::{Erray, Packing};

use super::{EncState, EncStep, Graph, NodeId};
use crate::nodes::Node;
use crate::{Error, Result};

/// How a node consumes the value it reads last ([`Graph::consumes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Consume {
    /// A streaming `Enqueue` of cross-correlations ([`Graph::streams_enqueue`]).
    Stack,
    /// An elementwise polynomial.
    Elementwise,
}

fn is_batch<B: Backend>(x: &Erray<B>) -> bool {
    matches!(x.packing(), Packing::BatchInSlots { .. })
}

fn missing_input() -> Error {
    Error::InputCount {
        expected: 1,
        found: 0,
    }
}

impl Graph {
    /// Whether `Enqueue` `id` streams on batch-in-slots ciphertexts: it fuses its parts
    /// ([`Graph::fuses_enqueue`]: linear maps of one value, each read only by it) and every
    /// part is a `cc` with the kernel and stride of the first.
    #[must_use]
    pub fn streams_enqueue(&self, id: NodeId) -> bool {
        let parts = self.sources(id);
        let Some(Node::Cc(first)) = parts.first().and_then(|&(src, _)| self.node(src)) else {
            return false;
        };
        !first.kernel.is_empty()
            && self.fuses_enqueue(id)
            && parts.iter().all(|&(src, _)| {
                matches!(self.node(src), Some(Node::Cc(c))
                    if c.kernel == first.kernel && c.stride == first.stride)
            })
    }

    /// Whether node `id` is a part of a streaming `Enqueue`.
    pub(crate) fn streamed_into_enqueue(&self, id: NodeId) -> bool {
        let mut outs = self.edges().iter().filter(|e| e.from == id);
        match (outs.next(), outs.next()) {
            (Some(e), None) => self.streams_enqueue(e.to),
            _ => false,
        }
    }

    /// How node `id` consumes its input in the owned walk, or `None` when it reads it as
    /// every node does: a streaming `Enqueue` whose parts passed their input through, or an
    /// elementwise polynomial (`relu`, `poly`) on batch-in-slots ciphertexts that is the
    /// last reader of a value no other rule rewrote (`unread`: edges still to be read from
    /// each node).
    pub(crate) fn consumes<B: Backend>(
        &self,
        id: NodeId,
        ins: &[&Erray<B>],
        state: &EncState,
        unread: &[usize],
    ) -> Option<Consume> {
        if !ins.first().is_some_and(|x| is_batch(x)) {
            return None;
        }
        let sources = self.sources(id);
        let node = self.node(id)?;
        if matches!(node, Node::Enqueue(_)) {
            let all = !sources.is_empty() && sources.iter().all(|&(s, _)| state.is_streamed(s));
            return all.then_some(Consume::Stack);
        }
        if !matches!(node, Node::Relu(_) | Node::Poly(_)) {
            return None;
        }
        let [(src, _)] = sources else {
            return None;
        };
        let last = unread.get(*src) == Some(&1);
        let rewritten = state.is_deferred(*src)
            || state.is_fused(*src)
            || state.is_composed(*src)
            || state.is_streamed(*src);
        (last && !rewritten).then_some(Consume::Elementwise)
    }

    /// Takes the value node `id` consumes out of `values` (for a `Stack`, the input its parts
    /// passed through; their other copies are dropped).
    pub(crate) fn take_consumed<B: Backend>(
        &self,
        id: NodeId,
        values: &mut [Option<Vec<Erray<B>>>],
    ) -> Result<Erray<B>> {
        let mut taken = None;
        for &(src, port) in self.sources(id) {
            let value = values.get_mut(src).and_then(Option::take);
            if taken.is_none() {
                taken = value.and_then(|v| v.into_iter().nth(port));
            }
        }
        taken.ok_or_else(missing_input)
    }

    /// Evaluates node `id` on the value it consumes ([`Graph::consumes`]); `input_level` is
    /// the lowest level among its inputs. Errors are those of the node-by-node evaluation.
    pub(crate) fn forward_enc_consuming<B: Backend>(
        &self,
        id: NodeId,
        how: Consume,
        x: Erray<B>,
        input_level: u32,
    ) -> Result<EncStep<B>> {
        let (name, node) = self.entry(id)?;
        // The parts of a stack passed their input through, reported one level down.
        let (input_level, needed) = match how {
            Consume::Stack => (input_level.saturating_sub(1), node.cost().depth + 1),
            Consume::Elementwise => (input_level, node.cost().depth),
        };
        let result = match (how, node) {
            (Consume::Stack, _) => self.cc_stack(id, x),
            (Consume::Elementwise, Node::Relu(r)) => {
                x.polyval_owned(&r.coefficients()).map_err(Error::from)
            }
            (Consume::Elementwise, Node::Poly(p)) => {
                x.polyval_owned(&p.coeffs).map_err(Error::from)
            }
            (Consume::Elementwise, _) => node.forward_enc(&[&x]).and_then(|mut v| {
                v.pop().ok_or(Error::InputCount {
                    expected: 1,
                    found: 0,
                })
            }),
        };
        let y = result.map_err(|e| {
            if super::enc::is_level_exhausted(&e) {
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
        Ok(EncStep {
            output_level: y.level(),
            outputs: vec![y],
            input_level,
        })
    }

    /// The `(batch, parts, out…)` output of streaming `Enqueue` `id` on its parts' input `x`
    /// `(batch, d_0, …)`: for each output row `i` (first output axis), every part runs on the
    /// band of input rows `[s·i, s·i + k)` it reads (`k`, `s`: first kernel extent and
    /// stride), then the rows below the next band are dropped. Taking `x` by value lets the
    /// last handle on those ciphertexts go.
    ///
    /// # Errors
    /// Shape errors; the parts' errors.
    pub(crate) fn cc_stack<B: Backend>(&self, id: NodeId, x: Erray<B>) -> Result<Erray<B>> {
        let parts: Vec<&Node> = self
            .sources(id)
            .iter()
            .filter_map(|&(src, _)| self.node(src))
            .collect();
        let Some(Node::Cc(cc)) = parts.first().copied() else {
            return Err(missing_input());
        };
        let (k, s) = match (cc.kernel.first(), cc.stride.first()) {
            (Some(&k), Some(&s)) => (k, s),
            _ => return Err(missing_input()),
        };
        let backend = x.backend().clone();
        let packing = x.packing();
        let shape = x.shape().to_vec();
        let (batch, sample) = match shape.split_first() {
            Some((&b, rest)) if !rest.is_empty() => (b, rest.to_vec()),
            _ => {
                return Err(Error::ShapeMismatch {
                    what: "streamed cc input (batch, d_0, …)",
                    expected: vec![1, k],
                    found: shape,
                });
            }
        };
        let out_shape = parts
            .first()
            .map(|p| p.out_shapes(&[sample.as_slice()]))
            .transpose()?
            .and_then(|v| v.into_iter().next())
            .unwrap_or_default();
        let rows_out = out_shape.first().copied().unwrap_or(0);
        let per_row = x.cts().len() / sample.first().copied().unwrap_or(1).max(1);
        let mut band_shape = vec![batch, k];
        band_shape.extend(sample.get(1..).unwrap_or(&[]));
        let mut rest = x.into_cts();
        let mut first_row = 0;
        let mut outs: Vec<Vec<B::Ct>> = vec![Vec::new(); parts.len()];
        for i in 0..rows_out {
            let lo = s.saturating_mul(i);
            let dropped = lo.saturating_sub(first_row).saturating_mul(per_row);
            rest.drain(..dropped.min(rest.len()));
            first_row = lo;
            let band_cts = rest
                .get(..k.saturating_mul(per_row))
                .unwrap_or(&rest)
                .to_vec();
            let band = Erray::from_parts(&backend, band_shape.clone(), packing, band_cts)?;
            for (part, out) in parts.iter().zip(outs.iter_mut()) {
                for y in part.forward_enc(&[&band])? {
                    out.extend(y.into_cts());
                }
            }
        }
        drop(rest);
        let mut stacked_shape = vec![batch, parts.len()];
        stacked_shape.extend(out_shape);
        let cts = outs.into_iter().flatten().collect();
        Ok(Erray::from_parts(&backend, stacked_shape, packing, cts)?)
    }
}
