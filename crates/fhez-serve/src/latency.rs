//! Latency mode shared by the server and the client: the weight-free geometry a model
//! publishes, the skeleton network a client rebuilds from it, and the body bound.
//!
//! The client needs the slot layout of a [`LatencyModel`] (which pixel goes to which slot,
//! where the logits come out) but not the model's weights; the layout depends only on the
//! geometry. A client therefore lowers a *skeleton*: the same shapes with placeholder
//! weights. It is never evaluated.

use std::sync::Arc;

use fhez_ckks::CkksParams;
use fhez_model::latency::{ConvLayer, LatencyModel, LatencyNet, Stage};

use crate::api::{LatencyGeometry, StageShape};

/// The weight-free shape of `net`.
#[must_use]
pub fn geometry_of(net: &LatencyNet) -> LatencyGeometry {
    LatencyGeometry {
        input: net.conv.input.clone(),
        kernel: net.conv.kernel.clone(),
        stride: net.conv.stride.clone(),
        filters: net.conv.filters(),
        stages: net
            .stages
            .iter()
            .map(|s| match s {
                Stage::Quadratic { c2, .. } => StageShape::Activation {
                    degree: if *c2 == 0.0 { 1 } else { 2 },
                },
                Stage::Dense { d_in, d_out, .. } => StageShape::Dense {
                    d_in: *d_in,
                    d_out: *d_out,
                },
            })
            .collect(),
    }
}

/// A network with `geometry`'s shapes and placeholder weights (for the client's layout).
#[must_use]
pub fn skeleton(geometry: &LatencyGeometry) -> LatencyNet {
    let kernel_len: usize = geometry.kernel.iter().product();
    LatencyNet {
        conv: ConvLayer {
            input: geometry.input.clone(),
            kernel: geometry.kernel.clone(),
            stride: geometry.stride.clone(),
            weights: vec![vec![1.0; kernel_len]; geometry.filters],
            bias: vec![0.0; geometry.filters],
        },
        stages: geometry
            .stages
            .iter()
            .map(|s| match s {
                StageShape::Activation { degree } => Stage::Quadratic {
                    c0: 0.0,
                    c1: 1.0,
                    c2: if *degree >= 2 { 1.0 } else { 0.0 },
                },
                StageShape::Dense { d_in, d_out } => Stage::Dense {
                    d_in: *d_in,
                    d_out: *d_out,
                    weights: vec![1.0; d_in.saturating_mul(*d_out)],
                    bias: vec![0.0; *d_out],
                },
            })
            .collect(),
    }
}

/// The client's codec for a latency model: a [`LatencyModel`] lowered from the skeleton
/// of `geometry` under `params` (encode, encrypt, decrypt; never evaluated).
///
/// # Errors
/// Geometry the latency module rejects, a parameter set too small.
pub fn client_codec(
    geometry: &LatencyGeometry,
    params: &Arc<CkksParams>,
) -> Result<LatencyModel, fhez_model::Error> {
    LatencyModel::new(skeleton(geometry), params)
}

/// Bytes of the largest well-formed wire ciphertext at `level` under `params`: three
/// polynomials of `level + 1` residues of `N` 8-byte coefficients, plus headers.
#[must_use]
pub fn max_ciphertext_bytes(params: &CkksParams, level: u32) -> usize {
    let limbs = usize::try_from(level)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    3usize
        .saturating_mul(params.n())
        .saturating_mul(limbs)
        .saturating_mul(8)
        .saturating_add(4096)
}
