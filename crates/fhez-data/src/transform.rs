//! Image resampling, sliding windows and normalisation.

use crate::error::{DataError, Result};

fn check_len(op: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(DataError::LengthMismatch {
            op,
            expected,
            found,
        })
    }
}

/// Interpolation points and weights of one axis, as `scipy.ndimage.zoom(order=1)`
/// (default `grid_mode=False`): output `o` samples input coordinate
/// `o * (n_in - 1) / (n_out - 1)`; the neighbour past the edge is the constant 0
/// (it only ever gets weight 0).
fn axis(n_in: usize, n_out: usize) -> Vec<(usize, Option<usize>, f64)> {
    #[expect(clippy::cast_precision_loss, reason = "image sides are small")]
    let zoom = if n_out > 1 {
        (n_in as f64 - 1.0) / (n_out as f64 - 1.0)
    } else {
        1.0
    };
    (0..n_out)
        .map(|o| {
            #[expect(clippy::cast_precision_loss, reason = "image sides are small")]
            let c = o as f64 * zoom;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "c is in [0, n_in - 1]"
            )]
            let i0 = (c.floor() as usize).min(n_in.saturating_sub(1));
            #[expect(clippy::cast_precision_loss, reason = "image sides are small")]
            let t = c - i0 as f64;
            let i1 = (i0 + 1 < n_in).then_some(i0 + 1);
            (i0, i1, t)
        })
        .collect()
}

/// Bilinear upsampling (or downsampling) of one row-major `h x w` image to
/// `out_h x out_w`, identical (to rounding) to
/// `np.clip(scipy.ndimage.zoom(image, out/in, order=1), 0, 1)` without the clip:
/// this is how the peer benchmark turns the 8x8 digits into 28x28 images.
///
/// # Errors
/// [`DataError::LengthMismatch`] when `image.len() != h * w`;
/// [`DataError::InvalidParameter`] for a zero size.
pub fn upsample_bilinear(
    image: &[f64],
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
) -> Result<Vec<f64>> {
    let op = "upsample_bilinear";
    if h == 0 || w == 0 || out_h == 0 || out_w == 0 {
        return Err(DataError::InvalidParameter {
            op,
            param: "size",
            value: 0.0,
            valid: "all sides > 0",
        });
    }
    check_len(op, h * w, image.len())?;
    let px = |r: Option<usize>, c: Option<usize>| -> f64 {
        match (r, c) {
            (Some(r), Some(c)) => image.get(r * w + c).copied().unwrap_or(0.0),
            _ => 0.0,
        }
    };
    let ys = axis(h, out_h);
    let xs = axis(w, out_w);
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(r0, r1, ty) in &ys {
        for &(c0, c1, tx) in &xs {
            let (wy0, wy1, wx0, wx1) = (1.0 - ty, ty, 1.0 - tx, tx);
            let v = px(Some(r0), Some(c0)) * wy0 * wx0
                + px(Some(r0), c1) * wy0 * wx1
                + px(r1, Some(c0)) * wy1 * wx0
                + px(r1, c1) * wy1 * wx1;
            out.push(v);
        }
    }
    Ok(out)
}

/// Upsamples an 8x8 image to 28x28 exactly as the peer benchmark does
/// (`np.clip(zoom(im, 28 / 8, order=1), 0, 1)`): bilinear, then clipped to [0, 1].
///
/// # Errors
/// [`DataError::LengthMismatch`] when `image.len() != 64`.
pub fn upsample_to_28x28(image: &[f64]) -> Result<Vec<f64>> {
    let mut v = upsample_bilinear(image, 8, 8, 28, 28)?;
    for x in &mut v {
        *x = x.clamp(0.0, 1.0);
    }
    Ok(v)
}

/// Supervised windows over a series: sample `i` has inputs
/// `series[i .. i + window]` and target `series[i + window + horizon - 1]`
/// (`horizon = 1` is the next value). Returns `(inputs, targets)`, inputs
/// row-major `n x window`, `n = len - window - horizon + 1`.
///
/// # Errors
/// [`DataError::InvalidParameter`] for `window == 0`, `horizon == 0` or a
/// series too short for one window.
pub fn sliding_windows(
    series: &[f64],
    window: usize,
    horizon: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let op = "sliding_windows";
    #[expect(clippy::cast_precision_loss, reason = "reporting only")]
    let bad = |param, value: usize, valid| DataError::InvalidParameter {
        op,
        param,
        value: value as f64,
        valid,
    };
    if window == 0 {
        return Err(bad("window", window, "window >= 1"));
    }
    if horizon == 0 {
        return Err(bad("horizon", horizon, "horizon >= 1"));
    }
    let span = window + horizon;
    if series.len() < span {
        return Err(bad(
            "series length",
            series.len(),
            "length >= window + horizon",
        ));
    }
    let n = series.len() + 1 - span;
    let mut inputs = Vec::with_capacity(n * window);
    let mut targets = Vec::with_capacity(n);
    for (i, w) in series.windows(span).enumerate() {
        inputs.extend(w.iter().take(window));
        if let Some(&t) = series.get(i + span - 1) {
            targets.push(t);
        }
    }
    Ok((inputs, targets))
}

/// Mean and standard deviation (population, `ddof = 0`) for z-scoring,
/// fitted on training data only. A zero deviation is replaced by 1 (as
/// scikit-learn's `StandardScaler` does), so constant features map to 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ZScore {
    /// Per-feature means (one entry for a global fit).
    pub mean: Vec<f64>,
    /// Per-feature standard deviations (one entry for a global fit).
    pub std: Vec<f64>,
}

fn mean_std<'a>(values: impl Iterator<Item = &'a f64> + Clone) -> (f64, f64) {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), &v| (n + 1, s + v));
    if n == 0 {
        return (0.0, 1.0);
    }
    #[expect(clippy::cast_precision_loss, reason = "sample counts")]
    let nf = n as f64;
    let mean = sum / nf;
    let var = values.map(|&v| (v - mean) * (v - mean)).sum::<f64>() / nf;
    let std = var.sqrt();
    (mean, if std > 0.0 { std } else { 1.0 })
}

impl ZScore {
    /// One mean/std over all of `values` (e.g. a time series' training part).
    #[must_use]
    pub fn fit_global(values: &[f64]) -> Self {
        let (m, s) = mean_std(values.iter());
        Self {
            mean: vec![m],
            std: vec![s],
        }
    }

    /// Per-feature statistics of row-major `values` with `features` columns.
    ///
    /// # Errors
    /// [`DataError::LengthMismatch`] when `values.len()` is not a multiple of `features`.
    pub fn fit_columns(values: &[f64], features: usize) -> Result<Self> {
        if features == 0 || !values.len().is_multiple_of(features) {
            return Err(DataError::LengthMismatch {
                op: "ZScore::fit_columns",
                expected: features.max(1) * (values.len() / features.max(1)),
                found: values.len(),
            });
        }
        let (mean, std) = (0..features)
            .map(|j| mean_std(values.iter().skip(j).step_by(features)))
            .unzip();
        Ok(Self { mean, std })
    }

    /// Standardises `values` in place (row-major; the statistics are cycled over columns).
    pub fn apply(&self, values: &mut [f64]) {
        for (v, (m, s)) in values
            .iter_mut()
            .zip(self.mean.iter().zip(&self.std).cycle())
        {
            *v = (*v - m) / s;
        }
    }

    /// Undoes [`ZScore::apply`] for a value of feature `j` (e.g. a predicted target).
    #[must_use]
    pub fn invert(&self, value: f64, j: usize) -> f64 {
        let k = if self.mean.len() == 1 { 0 } else { j };
        match (self.mean.get(k), self.std.get(k)) {
            (Some(m), Some(s)) => value * s + m,
            _ => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    type TestResult = std::result::Result<(), Box<dyn Error>>;

    /// Reference: SciPy 1.17.1,
    /// `np.clip(zoom(im, 28 / 8, order=1), 0, 1)` with `im[i, j] = ((3i + 5j) % 17) / 16`.
    #[test]
    fn upsample_matches_scipy_zoom() -> TestResult {
        let im: Vec<f64> = (0..64)
            .map(|k| f64::from(((k / 8) * 3 + (k % 8) * 5) % 17) / 16.0)
            .collect();
        let z = upsample_to_28x28(&im)?;
        assert_eq!(z.len(), 784);
        for ((r, c), want) in [
            ((0, 0), 0.0),
            ((0, 1), 0.081_018_518_518_518_53),
            ((1, 0), 0.048_611_111_111_111_12),
            ((5, 9), 0.618_055_555_555_555_8),
            ((13, 27), 0.694_444_444_444_444_4),
            ((27, 27), 0.3125),
            ((26, 3), 0.444_444_444_444_444_36),
            ((14, 14), 0.752_314_814_814_814_7),
        ] {
            let got = z[r * 28 + c];
            assert!((got - want).abs() < 1e-14, "({r},{c}): {got} vs {want}");
        }
        let sum: f64 = z.iter().sum();
        let sq: f64 = z.iter().map(|v| v * v).sum();
        assert!((sum - 391.701_646_090_535).abs() < 1e-10, "{sum}");
        assert!((sq - 227.896_587_591_567_08).abs() < 1e-10, "{sq}");
        Ok(())
    }

    #[test]
    fn upsample_identity_and_errors() -> TestResult {
        let im: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(upsample_bilinear(&im, 3, 4, 3, 4)?, im);
        assert!(matches!(
            upsample_to_28x28(&im),
            Err(DataError::LengthMismatch {
                expected: 64,
                found: 12,
                ..
            })
        ));
        assert!(upsample_bilinear(&im, 3, 4, 0, 4).is_err());
        Ok(())
    }

    #[test]
    fn windows() -> TestResult {
        let s: Vec<f64> = (0..6).map(f64::from).collect();
        let (x, y) = sliding_windows(&s, 3, 1)?;
        assert_eq!(x, vec![0., 1., 2., 1., 2., 3., 2., 3., 4.]);
        assert_eq!(y, vec![3., 4., 5.]);
        let (x, y) = sliding_windows(&s, 2, 3)?;
        assert_eq!(x, vec![0., 1., 1., 2.]);
        assert_eq!(y, vec![4., 5.]);
        assert!(sliding_windows(&s, 6, 1).is_err());
        assert!(sliding_windows(&s, 0, 1).is_err());
        assert!(sliding_windows(&s, 2, 0).is_err());
        Ok(())
    }

    #[test]
    fn zscore() -> TestResult {
        let z = ZScore::fit_columns(&[1.0, 10.0, 3.0, 10.0], 2)?;
        assert_eq!(z.mean, vec![2.0, 10.0]);
        assert_eq!(z.std, vec![1.0, 1.0]);
        let mut v = vec![3.0, 12.0];
        z.apply(&mut v);
        assert_eq!(v, vec![1.0, 2.0]);
        assert_eq!(z.invert(1.0, 0), 3.0);
        let g = ZScore::fit_global(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((g.mean[0], g.std[0]), (5.0, 2.0));
        assert!(ZScore::fit_columns(&[1.0, 2.0, 3.0], 2).is_err());
        Ok(())
    }
}
