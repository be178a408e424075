//! `fhez import`: an ONNX network as a fhez model file (`fhez_onnx`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use fhez_nn::{PlanRequest, SecurityStandard, Tensor};
use fhez_onnx::{ImportOptions, import};

use crate::util;

/// Largest calibration or labels `.npy` file read, in bytes.
const NPY_LIMIT: usize = 1 << 30;

/// `fhez import` options.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The ONNX file.
    pub model: PathBuf,
    /// Model file to write (nothing is written on an error).
    #[arg(long)]
    pub out: PathBuf,
    /// Calibration inputs (.npy, shape (N, input shape…) or (N, features)): the ranges
    /// non-polynomial activations are fitted over, and the exact-vs-imported comparison.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Class labels of the calibration inputs (.npy, N integers): accuracy before and after
    /// the polynomial replacement.
    #[arg(long, requires = "calibration")]
    pub labels: Option<PathBuf>,
    /// Degree of every fitted polynomial.
    #[arg(long, conflicts_with = "max_error")]
    pub degree: Option<usize>,
    /// Largest fit error accepted over the fitted range (the lowest degree reaching it,
    /// up to the depth budget, is used).
    #[arg(long)]
    pub max_error: Option<f64>,
    /// Depth budget of one fitted activation (degree at most 2^depth − 1).
    #[arg(long, default_value_t = 3)]
    pub max_activation_depth: u32,
    /// Name recorded in the model file (default: the ONNX file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Bits of precision the plan requests.
    #[arg(long, default_value_t = 25)]
    pub precision_bits: u32,
    /// Bits for the integer part of the largest value.
    #[arg(long, default_value_t = 10)]
    pub magnitude_bits: u32,
    /// Batch size the batch-in-slots plan is made for (single-input ignores it).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
}

fn npy(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let bytes = util::read(path, NPY_LIMIT)?;
    fhez_data::npy::parse_shaped(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// Runs `fhez import`.
pub fn run(args: &ImportArgs) -> Result<()> {
    let bytes = util::read(&args.model, fhez_onnx::limits::MAX_FILE_BYTES)?;
    let calibration = match &args.calibration {
        Some(p) => {
            let (shape, data) = npy(p)?;
            let n = shape.first().copied().unwrap_or(0);
            let per = data.len().checked_div(n).unwrap_or(0);
            if per == 0 {
                anyhow::bail!("{}: no samples (shape {shape:?})", p.display());
            }
            Some(
                data.chunks(per)
                    .map(|c| Tensor::new(vec![per], c.to_vec()))
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            )
        }
        None => None,
    };
    let labels = match &args.labels {
        Some(p) => Some(
            npy(p)?
                .1
                .iter()
                .map(|&v| {
                    if v >= 0.0 && v.fract() == 0.0 && v < 1e9 {
                        #[expect(
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss,
                            reason = "checked non-negative integral below 1e9"
                        )]
                        Ok(v as usize)
                    } else {
                        Err(anyhow::anyhow!(
                            "{}: label {v} is not a class index",
                            p.display()
                        ))
                    }
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let options = ImportOptions {
        calibration,
        labels,
        degree: args.degree,
        max_error: args.max_error,
        max_activation_depth: args.max_activation_depth,
        ..ImportOptions::default()
    };
    let imported =
        import(&bytes, &options).with_context(|| format!("importing {}", args.model.display()))?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.model
            .file_stem()
            .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    let plan = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: args.batch,
        precision_bits: args.precision_bits,
        magnitude_bits: args.magnitude_bits,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let file = imported.model_file(&name, plan)?;
    let json = file.to_json()?;
    util::write(&args.out, json.as_bytes())?;
    let g = imported.graph();
    outln!(
        "imported {} -> {}: {} nodes, input `{}` {:?}, output `{}`{}",
        args.model.display(),
        args.out.display(),
        g.len(),
        imported.input(),
        imported.input_shape(),
        imported.output(),
        imported
            .client_output()
            .map_or_else(String::new, |c| format!(" (client applies {c:?})"))
    );
    let report = imported.report().to_string();
    if !report.is_empty() {
        outln!("{}", report.trim_end());
    }
    Ok(())
}
