//! The dataset loaders and the [`Dataset`] / [`Split`] / [`Series`] types.

use std::path::{Path, PathBuf};

use crate::csv::{self, CsvOptions, Header, Missing};
use crate::error::{DataError, Result};
use crate::idx;
use crate::io::locate;
use crate::split::{shuffle_split, stratified_split};
use crate::transform::{sliding_windows, upsample_bilinear};

/// A train/test pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name, e.g. `"fashion-mnist"`.
    pub name: &'static str,
    /// Training samples.
    pub train: Split,
    /// Test samples.
    pub test: Split,
}

/// Samples with their labels (classification) or targets (regression).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    /// Row-major inputs, `len() * shape.iter().product()` values.
    pub inputs: Vec<f64>,
    /// Shape of one sample, e.g. `[28, 28]`, `[8, 8]`, `[10]` or `[window]`.
    pub shape: Vec<usize>,
    /// Class labels (classification; empty otherwise).
    pub labels: Vec<u8>,
    /// Continuous targets (regression; empty otherwise).
    pub targets: Vec<f64>,
}

impl Split {
    /// Values per sample.
    #[must_use]
    pub fn sample_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inputs
            .len()
            .checked_div(self.sample_len())
            .unwrap_or(0)
    }

    /// `true` when there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i`'s inputs.
    #[must_use]
    pub fn sample(&self, i: usize) -> Option<&[f64]> {
        let k = self.sample_len();
        let start = i.checked_mul(k)?;
        self.inputs.get(start..start.checked_add(k)?)
    }

    /// Multiplies every input by `factor` (e.g. `1.0 / 255.0` for pixels).
    pub fn scale(&mut self, factor: f64) {
        for v in &mut self.inputs {
            *v *= factor;
        }
    }

    /// The samples at `indices`, in that order.
    ///
    /// # Errors
    /// [`DataError::LengthMismatch`] when an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Result<Split> {
        let n = self.len();
        let oob = |&i: &usize| DataError::LengthMismatch {
            op: "Split::select",
            expected: n,
            found: i + 1,
        };
        let mut out = Split {
            inputs: Vec::with_capacity(indices.len() * self.sample_len()),
            shape: self.shape.clone(),
            labels: Vec::new(),
            targets: Vec::new(),
        };
        for i in indices {
            out.inputs
                .extend_from_slice(self.sample(*i).ok_or_else(|| oob(i))?);
            if !self.labels.is_empty() {
                out.labels.push(*self.labels.get(*i).ok_or_else(|| oob(i))?);
            }
            if !self.targets.is_empty() {
                out.targets
                    .push(*self.targets.get(*i).ok_or_else(|| oob(i))?);
            }
        }
        Ok(out)
    }

    /// Resamples every 2-D sample to `out_h x out_w` with
    /// [`upsample_bilinear`], clipping to `[lo, hi]`.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] when the samples are not 2-D.
    pub fn resize(&self, out_h: usize, out_w: usize, lo: f64, hi: f64) -> Result<Split> {
        let &[h, w] = self.shape.as_slice() else {
            #[expect(clippy::cast_precision_loss, reason = "reporting only")]
            return Err(DataError::InvalidParameter {
                op: "Split::resize",
                param: "sample rank",
                value: self.shape.len() as f64,
                valid: "2",
            });
        };
        let mut inputs = Vec::with_capacity(self.len() * out_h * out_w);
        for im in self.inputs.chunks_exact(h * w) {
            let up = upsample_bilinear(im, h, w, out_h, out_w)?;
            inputs.extend(up.into_iter().map(|v| v.clamp(lo, hi)));
        }
        Ok(Split {
            inputs,
            shape: vec![out_h, out_w],
            labels: self.labels.clone(),
            targets: self.targets.clone(),
        })
    }

    /// Splits into `(train, test)` like scikit-learn's
    /// `train_test_split(test_size=test_fraction, random_state=seed)`,
    /// stratified by label when the split has labels.
    ///
    /// # Errors
    /// See [`stratified_split`] and [`shuffle_split`].
    pub fn train_test_split(&self, test_fraction: f64, seed: u32) -> Result<(Split, Split)> {
        let (tr, te) = if self.labels.is_empty() {
            shuffle_split(self.len(), test_fraction, seed)?
        } else {
            stratified_split(&self.labels, test_fraction, seed)?
        };
        Ok((self.select(&tr)?, self.select(&te)?))
    }

    /// Samples per label value `0..classes`.
    #[must_use]
    pub fn label_counts(&self, classes: usize) -> Vec<usize> {
        let mut c = vec![0; classes];
        for &l in &self.labels {
            if let Some(slot) = c.get_mut(usize::from(l)) {
                *slot += 1;
            }
        }
        c
    }
}

/// The data directory: `$FHEZ_DATA_DIR` when set, else `<workspace>/data`.
#[must_use]
pub fn data_dir() -> PathBuf {
    match std::env::var_os("FHEZ_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"),
    }
}

fn idx_split(dir: &Path, dataset: &'static str, images: &str, labels: &str) -> Result<Split> {
    let img = locate(&dir.join(images), dataset)?;
    let lab = locate(&dir.join(labels), dataset)?;
    let (px, labels) = idx::read_pair(&img, &lab, 28, 28, 10)?;
    Ok(Split {
        inputs: px.into_iter().map(f64::from).collect(),
        shape: vec![28, 28],
        labels,
        targets: Vec::new(),
    })
}

fn mnist_like(data_dir: &Path, name: &'static str) -> Result<Dataset> {
    let dir = data_dir.join(name);
    Ok(Dataset {
        name,
        train: idx_split(
            &dir,
            name,
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        )?,
        test: idx_split(
            &dir,
            name,
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )?,
    })
}

/// Fashion-MNIST from `<data_dir>/fashion-mnist/`: 60 000 train and 10 000
/// test 28x28 images, raw pixel values 0..=255 (call [`Split::scale`] with
/// `1.0 / 255.0`), labels 0..=9.
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh fashion-mnist`) or a format error.
pub fn fashion_mnist(data_dir: &Path) -> Result<Dataset> {
    mnist_like(data_dir, "fashion-mnist")
}

/// MNIST from `<data_dir>/mnist/` (raw or `.gz` IDX files); as [`fashion_mnist`].
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh mnist`) or a format error.
pub fn mnist(data_dir: &Path) -> Result<Dataset> {
    mnist_like(data_dir, "mnist")
}

fn sklearn_table(data_dir: &Path, file: &str, opts: &CsvOptions) -> Result<csv::Table> {
    let path = locate(&data_dir.join("sklearn").join(file), "sklearn")?;
    csv::read(&path, opts)
}

fn shape_err(path: &Path, expected: Vec<usize>, t: &csv::Table) -> DataError {
    DataError::ShapeMismatch {
        path: path.to_path_buf(),
        expected,
        found: vec![t.rows, t.cols],
    }
}

/// scikit-learn's digits (`load_digits`): all 1797 8x8 images, values 0..=16,
/// labels 0..=9, in file order.
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh sklearn`) or a format error.
pub fn digits_all(data_dir: &Path) -> Result<Split> {
    let opts = CsvOptions {
        header: Header::No,
        ..CsvOptions::default()
    };
    let t = sklearn_table(data_dir, "digits.csv.gz", &opts)?;
    if t.cols != 65 {
        return Err(shape_err(&t.path, vec![1797, 65], &t));
    }
    let mut inputs = Vec::with_capacity(t.rows * 64);
    let mut labels = Vec::with_capacity(t.rows);
    for (i, row) in t.values.chunks_exact(65).enumerate() {
        let (px, label) = row.split_at(64);
        let bad = |column: usize, value: f64| DataError::NonFinite {
            path: t.path.clone(),
            line: i + 1,
            column,
            value,
        };
        if let Some((j, &v)) = px
            .iter()
            .enumerate()
            .find(|&(_, &v)| !(0.0..=16.0).contains(&v) || v.fract() != 0.0)
        {
            return Err(bad(j, v));
        }
        let l = label.first().copied().unwrap_or(f64::NAN);
        if !(0.0..10.0).contains(&l) || l.fract() != 0.0 {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "reporting an invalid label"
            )]
            return Err(DataError::LabelOutOfRange {
                path: t.path.clone(),
                index: i,
                value: l.max(0.0) as u64,
                classes: 10,
            });
        }
        inputs.extend_from_slice(px);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked to be an integer in 0..10"
        )]
        labels.push(l as u8);
    }
    Ok(Split {
        inputs,
        shape: vec![8, 8],
        labels,
        targets: Vec::new(),
    })
}

/// Digits as the peer CNN benchmark's trainer (`mnist_cnn.py`, `load_data(side, seed)`;
/// docs/CNN-BENCH.md) prepares them: pixels / 16, bilinearly upsampled
/// to `side x side` and clipped to [0, 1] when `side != 8`, then scikit-learn's
/// stratified 80/20 `train_test_split(random_state=seed)`, sample for sample.
///
/// # Errors
/// As [`digits_all`].
pub fn digits(data_dir: &Path, side: usize, seed: u32) -> Result<Dataset> {
    let mut all = digits_all(data_dir)?;
    all.scale(1.0 / 16.0);
    if side != 8 {
        all = all.resize(side, side, 0.0, 1.0)?;
    }
    let (train, test) = all.train_test_split(0.2, seed)?;
    Ok(Dataset {
        name: "digits",
        train,
        test,
    })
}

/// scikit-learn's diabetes, raw (`load_diabetes(scaled=False)`): 442 samples
/// of 10 features (age, sex, bmi, bp, s1..s6) and the disease-progression target.
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh sklearn`) or a format error.
pub fn diabetes(data_dir: &Path) -> Result<Split> {
    let opts = CsvOptions {
        header: Header::No,
        ..CsvOptions::default()
    };
    let x = sklearn_table(data_dir, "diabetes_data_raw.csv.gz", &opts)?;
    if x.cols != 10 {
        return Err(shape_err(&x.path, vec![442, 10], &x));
    }
    let y = sklearn_table(data_dir, "diabetes_target.csv.gz", &opts)?;
    if y.cols != 1 || y.rows != x.rows {
        return Err(shape_err(&y.path, vec![x.rows, 1], &y));
    }
    Ok(Split {
        inputs: x.values,
        shape: vec![10],
        labels: Vec::new(),
        targets: y.values,
    })
}

/// Diabetes with scikit-learn's default scaling (`load_diabetes()`): each
/// feature mean-centred and divided by `std * sqrt(n)` (population std).
///
/// # Errors
/// As [`diabetes`].
pub fn diabetes_scaled(data_dir: &Path) -> Result<Split> {
    let mut d = diabetes(data_dir)?;
    let z = crate::transform::ZScore::fit_columns(&d.inputs, 10)?;
    z.apply(&mut d.inputs);
    #[expect(clippy::cast_precision_loss, reason = "sample count")]
    let root_n = (d.len() as f64).sqrt();
    d.scale(1.0 / root_n);
    Ok(d)
}

/// A univariate time series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Short name, e.g. `"co2"`.
    pub name: &'static str,
    /// Time stamps: the file's first column where numeric (a year, or
    /// `yyyymmdd` for co2), or `year + (month - 1) / 12` for `elec_equip`.
    pub time: Vec<f64>,
    /// The observations.
    pub values: Vec<f64>,
}

impl Series {
    /// Windowed supervised data with a chronological split: windows are built
    /// with [`sliding_windows`] and the last `ceil(test_fraction * n)` windows
    /// (the latest targets) form the test split. Inputs have shape `[window]`.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] for bad sizes or fractions.
    pub fn windowed(&self, window: usize, horizon: usize, test_fraction: f64) -> Result<Dataset> {
        let (x, y) = sliding_windows(&self.values, window, horizon)?;
        let n = y.len();
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(DataError::InvalidParameter {
                op: "Series::windowed",
                param: "test_fraction",
                value: test_fraction,
                valid: "0 < test_fraction < 1",
            });
        }
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "window counts"
        )]
        let n_test = (test_fraction * n as f64).ceil() as usize;
        let n_train = n.saturating_sub(n_test);
        if n_train == 0 {
            #[expect(clippy::cast_precision_loss, reason = "reporting only")]
            return Err(DataError::InvalidParameter {
                op: "Series::windowed",
                param: "windows",
                value: n as f64,
                valid: "enough windows for a non-empty train split",
            });
        }
        let (xtr, xte) = x.split_at(n_train * window);
        let (ytr, yte) = y.split_at(n_train);
        let mk = |inputs: &[f64], targets: &[f64]| Split {
            inputs: inputs.to_vec(),
            shape: vec![window],
            labels: Vec::new(),
            targets: targets.to_vec(),
        };
        Ok(Dataset {
            name: self.name,
            train: mk(xtr, ytr),
            test: mk(xte, yte),
        })
    }
}

fn statsmodels_table(data_dir: &Path, file: &str, opts: &CsvOptions) -> Result<csv::Table> {
    let path = locate(&data_dir.join("statsmodels").join(file), "statsmodels")?;
    csv::read(&path, opts)
}

fn two_column_series(data_dir: &Path, name: &'static str, file: &str) -> Result<Series> {
    let opts = CsvOptions {
        header: Header::Yes,
        ..CsvOptions::default()
    };
    let t = statsmodels_table(data_dir, file, &opts)?;
    if t.cols != 2 {
        return Err(shape_err(&t.path, vec![0, 2], &t));
    }
    Ok(Series {
        name,
        time: t.column(0),
        values: t.column(1),
    })
}

/// Mauna Loa weekly CO2 (ppm), March 1958 – December 2001, 2284 weeks.
/// The 59 missing weeks are filled by linear interpolation between their
/// neighbours (statsmodels leaves them NaN).
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh statsmodels`) or a format error.
pub fn co2(data_dir: &Path) -> Result<Series> {
    let opts = CsvOptions {
        header: Header::Yes,
        missing: Missing::Nan,
        ..CsvOptions::default()
    };
    let t = statsmodels_table(data_dir, "co2.csv", &opts)?;
    if t.cols != 2 {
        return Err(shape_err(&t.path, vec![0, 2], &t));
    }
    let time = t.column(0);
    if let Some((i, &v)) = time.iter().enumerate().find(|(_, v)| v.is_nan()) {
        return Err(DataError::NonFinite {
            path: t.path.clone(),
            line: i + 2,
            column: 0,
            value: v,
        });
    }
    let mut values = t.column(1);
    fill_gaps(&mut values).ok_or(DataError::Empty {
        path: t.path.clone(),
    })?;
    Ok(Series {
        name: "co2",
        time,
        values,
    })
}

/// Linear interpolation over NaN runs; edges take the nearest value.
/// `None` when every value is NaN.
fn fill_gaps(v: &mut [f64]) -> Option<()> {
    let known: Vec<usize> = (0..v.len())
        .filter(|&i| v.get(i).is_some_and(|x| !x.is_nan()))
        .collect();
    let (&first, &last) = (known.first()?, known.last()?);
    let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(f64::NAN);
    let (a, b) = (at(v, first), at(v, last));
    for x in v.iter_mut().take(first) {
        *x = a;
    }
    for x in v.iter_mut().skip(last + 1) {
        *x = b;
    }
    for pair in known.windows(2) {
        let &[l, r] = pair else { continue };
        if r > l + 1 {
            let (vl, vr) = (at(v, l), at(v, r));
            #[expect(clippy::cast_precision_loss, reason = "short gaps")]
            let span = (r - l) as f64;
            for i in l + 1..r {
                #[expect(clippy::cast_precision_loss, reason = "short gaps")]
                let t = (i - l) as f64 / span;
                if let Some(x) = v.get_mut(i) {
                    *x = vl + (vr - vl) * t;
                }
            }
        }
    }
    Some(())
}

/// Yearly sunspot activity 1700–2008 (309 values).
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh statsmodels`) or a format error.
pub fn sunspots(data_dir: &Path) -> Result<Series> {
    two_column_series(data_dir, "sunspots", "sunspots.csv")
}

/// Yearly Nile flow at Aswan, 1871–1970 (100 values, 10^8 m^3).
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh statsmodels`) or a format error.
pub fn nile(data_dir: &Path) -> Result<Series> {
    two_column_series(data_dir, "nile", "nile.csv")
}

/// Euro-area monthly electrical equipment production index, January 1995 –
/// May 2016 (257 values).
///
/// # Errors
/// [`DataError::Missing`] (run `scripts/fetch-datasets.sh statsmodels`) or a format error.
pub fn elec_equip(data_dir: &Path) -> Result<Series> {
    let opts = CsvOptions {
        header: Header::Yes,
        columns: Some(vec![1]),
        ..CsvOptions::default()
    };
    let t = statsmodels_table(data_dir, "elec_equip.csv", &opts)?;
    let n = t.rows;
    #[expect(clippy::cast_precision_loss, reason = "month counts")]
    let time = (0..n).map(|i| 1995.0 + i as f64 / 12.0).collect();
    Ok(Series {
        name: "elec_equip",
        time,
        values: t.values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    type TestResult = std::result::Result<(), Box<dyn Error>>;

    fn split(n: usize) -> Split {
        Split {
            inputs: (0..n * 4).map(|v| v as f64).collect(),
            shape: vec![2, 2],
            labels: (0..n).map(|i| (i % 2) as u8).collect(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn split_accessors() -> TestResult {
        let s = split(10);
        assert_eq!((s.len(), s.sample_len()), (10, 4));
        assert_eq!(s.sample(1), Some(&[4.0, 5.0, 6.0, 7.0][..]));
        assert_eq!(s.sample(10), None);
        let sel = s.select(&[3, 0])?;
        assert_eq!(sel.labels, vec![1, 0]);
        assert_eq!(sel.inputs[..4], [12.0, 13.0, 14.0, 15.0]);
        assert!(s.select(&[10]).is_err());
        assert_eq!(s.label_counts(2), vec![5, 5]);
        let (tr, te) = s.train_test_split(0.2, 0)?;
        assert_eq!((tr.len(), te.len()), (8, 2));
        assert_eq!(te.label_counts(2), vec![1, 1]);
        let up = s.resize(3, 3, 0.0, 100.0)?;
        assert_eq!((up.len(), up.shape.clone()), (10, vec![3, 3]));
        assert_eq!(
            up.sample(0),
            Some(&[0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0][..])
        );
        Ok(())
    }

    #[test]
    fn fill_gaps_interpolates() {
        let mut v = vec![f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        assert_eq!(fill_gaps(&mut v), Some(()));
        assert_eq!(v, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(fill_gaps(&mut [f64::NAN]), None);
    }

    #[test]
    fn windowed_is_chronological() -> TestResult {
        let s = Series {
            name: "t",
            time: (0..10).map(f64::from).collect(),
            values: (0..10).map(f64::from).collect(),
        };
        let d = s.windowed(3, 1, 0.3)?;
        assert_eq!((d.train.len(), d.test.len()), (4, 3));
        assert_eq!(d.train.targets, vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d.test.targets, vec![7.0, 8.0, 9.0]);
        assert_eq!(d.test.sample(0), Some(&[4.0, 5.0, 6.0][..]));
        Ok(())
    }

    #[test]
    fn missing_files_say_how_to_fetch() -> TestResult {
        let dir = std::env::temp_dir().join("fhez-data-definitely-empty");
        let e = fashion_mnist(&dir).err().ok_or("loaded from nowhere")?;
        assert!(matches!(
            e,
            DataError::Missing {
                dataset: "fashion-mnist",
                ..
            }
        ));
        assert!(
            e.to_string()
                .contains("run `scripts/fetch-datasets.sh fashion-mnist`"),
            "{e}"
        );
        assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
        let e = co2(&dir).err().ok_or("loaded from nowhere")?;
        assert!(
            e.to_string()
                .contains("scripts/fetch-datasets.sh statsmodels"),
            "{e}"
        );
        let e = digits(&dir, 28, 0).err().ok_or("loaded from nowhere")?;
        assert!(
            e.to_string().contains("scripts/fetch-datasets.sh sklearn"),
            "{e}"
        );
        Ok(())
    }
}
