//! Data sets as the commands use them: fetched on demand, scaled the one way every command
//! agrees on (so `train`, `encrypt --image` and `demo` see the same inputs).
//!
//! * image sets (`fashion-mnist`, `mnist`, `digits`): pixels divided by their maximum
//!   (255, or 16 for the scikit-learn digits) into `[0, 1]`; resized bilinearly when the
//!   model's input has another 2-D shape;
//! * series (`co2`, `sunspots`, `nile`, `elec-equip`): sliding windows (`window` values →
//!   the next one, last 20 % for testing), mapped by `(v − offset) / scale` with the
//!   model's [`Task::Regressor`] values.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use fhez_data::{DataError, Dataset, Split};
use fhez_model::Task;

/// The data set names the commands accept.
pub const DATASETS: &[&str] = &[
    "fashion-mnist",
    "mnist",
    "digits",
    "co2",
    "sunspots",
    "nile",
    "elec-equip",
];

/// Whether `name` is a time series (regression) data set.
pub fn is_series(name: &str) -> bool {
    matches!(name, "co2" | "sunspots" | "nile" | "elec-equip")
}

/// Class names of a classification data set.
pub fn labels_of(name: &str) -> Vec<String> {
    if name == "fashion-mnist" {
        fhez_data::FASHION_MNIST_LABELS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        (0..10).map(|d| d.to_string()).collect()
    }
}

/// `scripts/fetch-datasets.sh`: beside the workspace this binary was built from, else under
/// the current directory.
fn fetch_script() -> Option<PathBuf> {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-datasets.sh");
    let here = Path::new("scripts/fetch-datasets.sh").to_path_buf();
    [built, here]
        .into_iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
}

/// The argument of `scripts/fetch-datasets.sh` that provides data set `name`.
fn fetch_arg(name: &str) -> &'static str {
    match name {
        "fashion-mnist" => "fashion-mnist",
        "mnist" => "mnist",
        "digits" => "sklearn",
        _ => "statsmodels",
    }
}

/// Runs the fetch script for `name` (its progress goes to stderr).
fn fetch(name: &str) -> Result<()> {
    let arg = fetch_arg(name);
    let script = fetch_script().with_context(|| {
        format!("data set {name} is missing and scripts/fetch-datasets.sh was not found; run it from the fhez repository: scripts/fetch-datasets.sh {arg}")
    })?;
    errln!(
        "fetching {name}: {} {arg} (into {})",
        script.display(),
        fhez_data::data_dir().display()
    );
    let status = Command::new("bash")
        .arg(&script)
        .arg(arg)
        .status()
        .with_context(|| format!("could not run {}", script.display()))?;
    if !status.success() {
        bail!(
            "{} {arg} failed ({status}); see its message above",
            script.display()
        );
    }
    Ok(())
}

fn load_raw(name: &str, window: usize) -> Result<Dataset, DataError> {
    let dir = fhez_data::data_dir();
    match name {
        "fashion-mnist" => fhez_data::fashion_mnist(&dir),
        "mnist" => fhez_data::mnist(&dir),
        "digits" => fhez_data::digits(&dir, 8, 0),
        "co2" => fhez_data::co2(&dir)?.windowed(window, 1, 0.2),
        "sunspots" => fhez_data::sunspots(&dir)?.windowed(window, 1, 0.2),
        "nile" => fhez_data::nile(&dir)?.windowed(window, 1, 0.2),
        "elec-equip" => fhez_data::elec_equip(&dir)?.windowed(window, 1, 0.2),
        _ => Err(DataError::InvalidParameter {
            op: "load",
            param: "data set",
            value: 0.0,
            valid: "a known data set",
        }),
    }
}

/// Loads data set `name` (raw values), fetching it first when its files are missing.
/// `window` is the series window length (ignored for images).
pub fn load(name: &str, window: usize) -> Result<Dataset> {
    if !DATASETS.contains(&name) {
        bail!("unknown data set {name:?}; known: {}", DATASETS.join(", "));
    }
    match load_raw(name, window) {
        Ok(d) => Ok(d),
        Err(DataError::Missing { .. }) => {
            fetch(name)?;
            load_raw(name, window).with_context(|| format!("loading {name} after fetching it"))
        }
        Err(e) => Err(e).with_context(|| format!("loading data set {name}")),
    }
}

/// Pixel maximum of an image data set.
fn pixel_max(name: &str) -> f64 {
    if name == "digits" { 16.0 } else { 255.0 }
}

/// Scales a split of data set `name` for a model with per-sample input shape `shape` and
/// task `task` (see the module docs).
pub fn prepare(name: &str, split: &Split, shape: &[usize], task: &Task) -> Result<Split> {
    let mut out = split.clone();
    if is_series(name) {
        let (scale, offset) = match task {
            Task::Regressor { scale, offset } => (*scale, *offset),
            Task::Classifier { .. } => bail!("data set {name} is a series: it needs a regressor"),
            _ => bail!("unsupported model task"),
        };
        let inv = if scale == 0.0 { 1.0 } else { 1.0 / scale };
        for v in out.inputs.iter_mut().chain(out.targets.iter_mut()) {
            *v = (*v - offset) * inv;
        }
        if shape.iter().product::<usize>() != out.sample_len() {
            bail!(
                "the model's input {shape:?} does not hold a window of {} values (use --window {})",
                out.sample_len(),
                shape.iter().product::<usize>()
            );
        }
        out.shape = shape.to_vec();
        return Ok(out);
    }
    out.scale(1.0 / pixel_max(name));
    if out.shape != shape {
        match shape {
            &[h, w] => {
                out = out
                    .resize(h, w, 0.0, 1.0)
                    .with_context(|| format!("resizing {name} to {h}x{w}"))?;
            }
            _ => bail!(
                "the model's input {shape:?} does not match {name} samples {:?}",
                split.shape
            ),
        }
    }
    Ok(out)
}

/// `(scale, offset)` mapping the training split of a series into about `[-1, 1]`.
pub fn series_scaling(split: &Split) -> (f64, f64) {
    let all = || split.inputs.iter().chain(&split.targets);
    let n = all().count().max(1) as f64;
    let mean = all().sum::<f64>() / n;
    let dev = all().map(|v| (v - mean).abs()).fold(0.0, f64::max);
    (if dev > 0.0 { dev } else { 1.0 }, mean)
}
