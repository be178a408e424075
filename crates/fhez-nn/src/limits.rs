//! Explicit limits on what a graph file (and a model file wrapping one) may declare.
//!
//! A graph read from a file is untrusted: every count, shape and product it declares is
//! checked against these limits, with checked arithmetic, before anything proportional to it
//! is allocated ([`GraphConfig::load`](crate::GraphConfig::load),
//! [`GraphBuilder::build`](crate::GraphBuilder::build), [`plan_with`](crate::plan::plan_with)).
//! A value over a limit is [`Error::LimitExceeded`], naming the quantity, the value found
//! (saturated at `usize::MAX` when the true value overflows) and the limit.
//!
//! The limits leave wide headroom over the demo model (`models/fashion-mnist.json`: 27
//! nodes, 41 edges, rank 3, widest tensor 1,024 elements, batch 8,192, 376 KB).

use crate::{Error, Graph, Result};

/// Largest graph or model file, in bytes.
pub const MAX_FILE_BYTES: usize = 256 << 20;
/// Most nodes in a graph.
pub const MAX_NODES: usize = 4096;
/// Most edges in a graph.
pub const MAX_EDGES: usize = 1 << 16;
/// Most input ports, and separately most output ports, summed over a graph's nodes (every
/// input port needs its own edge, so this is also the most edges a valid graph can use).
pub const MAX_PORTS: usize = MAX_EDGES;
/// Largest rank (number of axes) of a per-sample shape.
pub const MAX_RANK: usize = 8;
/// Most elements in one per-sample tensor (a node output or an input).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 24;
/// Largest batch the planner accepts: the slot count of the largest parameter set it
/// chooses from (N = 2^16, [`SECURE_LOG_QP`](crate::plan::SECURE_LOG_QP)).
pub const MAX_BATCH: usize = 1 << 15;
/// Most elements in one batched tensor: batch × the widest per-sample tensor of the graph
/// (what planning and encrypted evaluation hold per node).
pub const MAX_BATCH_ELEMENTS: usize = 1 << 25;

/// `Ok` when `found <= limit`, else [`Error::LimitExceeded`].
///
/// # Errors
/// [`Error::LimitExceeded`].
pub fn check(what: &'static str, found: usize, limit: usize) -> Result<()> {
    if found <= limit {
        Ok(())
    } else {
        Err(Error::LimitExceeded { what, found, limit })
    }
}

/// Checks a per-sample shape: its rank against [`MAX_RANK`] and its element count
/// (checked product) against [`MAX_TENSOR_ELEMENTS`].
///
/// # Errors
/// [`Error::LimitExceeded`].
pub fn check_shape(shape: &[usize]) -> Result<()> {
    check("tensor rank", shape.len(), MAX_RANK)?;
    let elements = shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d));
    check("tensor elements", elements, MAX_TENSOR_ELEMENTS)
}

/// Checks `batch` against [`MAX_BATCH`] and batch × the widest per-sample tensor of
/// `graph` against [`MAX_BATCH_ELEMENTS`].
///
/// # Errors
/// [`Error::LimitExceeded`].
pub fn check_batch(graph: &Graph, batch: usize) -> Result<()> {
    check("batch", batch, MAX_BATCH)?;
    let widest = graph.widest_tensor();
    check(
        "batch x widest tensor elements",
        batch.saturating_mul(widest),
        MAX_BATCH_ELEMENTS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_accepts_up_to_the_limit_and_names_the_excess() {
        assert!(check("x", 5, 5).is_ok());
        let Err(Error::LimitExceeded { what, found, limit }) = check("x", 6, 5) else {
            unreachable!("6 > 5 must be refused");
        };
        assert_eq!((what, found, limit), ("x", 6, 5));
    }

    #[test]
    fn shapes_are_checked_by_rank_and_by_overflowing_product() {
        assert!(check_shape(&[4096, 4096]).is_ok());
        assert!(check_shape(&[4096, 4097]).is_err());
        assert!(check_shape(&[1; MAX_RANK]).is_ok());
        assert!(check_shape(&[1; MAX_RANK + 1]).is_err());
        let Err(Error::LimitExceeded { found, .. }) = check_shape(&[usize::MAX, 2]) else {
            unreachable!("an overflowing product must be refused");
        };
        assert_eq!(found, usize::MAX);
    }
}
