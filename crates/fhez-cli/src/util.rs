//! Small helpers shared by the commands.

use std::path::Path;

use anyhow::{Context, Result};
use fhez_data::Split;
use fhez_model::ModelFile;
use fhez_nn::{Graph, Tape, Tensor};

/// Loads a model file with the path in the error.
pub fn load_model(path: &Path) -> Result<ModelFile> {
    ModelFile::load(path).with_context(|| format!("reading model {}", path.display()))
}

/// Sample `i` of a split as a tensor of the split's shape.
pub fn sample(split: &Split, i: usize) -> Result<Tensor> {
    let s = split.sample(i).context("sample index out of range")?;
    Ok(Tensor::new(split.shape.clone(), s.to_vec())?)
}

/// The plaintext values at node `output` for each sample in `indices` (input `x` only:
/// everything up to the decrypt boundary), in order, on all cores.
pub fn plain_outputs(
    graph: &Graph,
    output: &str,
    split: &Split,
    indices: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let (input, out) = (graph.id("x")?, graph.id(output)?);
    let run = |chunk: &[usize]| -> Result<Vec<Vec<f64>>> {
        let mut tape = Tape::new(graph);
        chunk
            .iter()
            .map(|&i| {
                graph.stimulate(&[(input, sample(split, i)?)], &mut tape)?;
                Ok(tape
                    .output(out, 0)
                    .with_context(|| format!("node {output} did not fire on input x alone"))?
                    .data()
                    .to_vec())
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let size = indices.len().div_ceil(threads.clamp(1, 16)).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = indices
            .chunks(size)
            .map(|c| s.spawn(move || run(c)))
            .collect();
        let mut all = Vec::with_capacity(indices.len());
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a worker thread failed"))??,
            );
        }
        Ok(all)
    })
}

/// Index of the largest value (first on ties; 0 for an empty slice).
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if v.get(best).is_some_and(|b| x > b) {
            best = i;
        }
    }
    best
}

/// Milliseconds of a duration.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A byte count for people: `393,308 B (0.39 MB)`.
pub fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n >= 100_000 {
        format!("{out} B ({:.2} MB)", n as f64 / 1e6)
    } else {
        format!("{out} B")
    }
}

/// Prints a JSON value, pretty.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Writes a file with the path in the error.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads a file (up to `limit` bytes) with the path in the error.
pub fn read(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > limit as u64 {
        anyhow::bail!(
            "{} is {len} bytes, over the limit of {limit}",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
