//! Helpers shared by the examples (each example uses a subset).
#![allow(dead_code, reason = "each example uses a subset of the helpers")]

use std::time::Duration;

use anyhow::{Context, Result};
use fhez::data::Split;
use fhez::nn::{Graph, Tape, Tensor};

/// The samples of a split as tensors of its per-sample shape.
pub fn images(split: &Split) -> Result<Vec<Tensor>> {
    (0..split.len())
        .map(|i| {
            let s = split.sample(i).context("sample index")?;
            Ok(Tensor::new(split.shape.clone(), s.to_vec())?)
        })
        .collect()
}

/// Logits (values at `Decrypt`) per image, on Plain.
pub fn plain_logits(graph: &Graph, x: &[Tensor]) -> Result<Vec<Vec<f64>>> {
    let (input, dec) = (graph.id("x")?, graph.id("Decrypt")?);
    let mut tape = Tape::new(graph);
    x.iter()
        .map(|img| {
            graph.stimulate(&[(input, img.clone())], &mut tape)?;
            let out = tape.output(dec, 0).context("decrypt fired")?;
            Ok(out.data().to_vec())
        })
        .collect()
}

/// Index of the largest value.
pub fn argmax(v: &[f64]) -> usize {
    Tensor::from_vec(v.to_vec()).argmax()
}

/// Fraction of predictions equal to their label.
pub fn accuracy(pred: &[usize], labels: &[u8]) -> f64 {
    let ok = pred
        .iter()
        .zip(labels)
        .filter(|(p, y)| **p == usize::from(**y))
        .count();
    ok as f64 / pred.len().max(1) as f64
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median (upper median for an even count; NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}
