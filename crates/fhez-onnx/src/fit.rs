//! Elementwise functions of one activation ([`Expr`]): the exact value, the exact polynomial
//! when there is one, and a least-squares fit in the Chebyshev basis over an interval
//! (discrete orthogonality on Chebyshev nodes of the first kind: Mason & Handscomb,
//! *Chebyshev Polynomials*, §6.3), converted to the power basis `Erray::polyval` evaluates.

/// Grid points the maximum fit error is measured on.
pub const ERROR_GRID: usize = 4001;

/// An elementwise function of the activation `X` it is applied to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    /// The activation itself.
    X,
    /// A constant.
    C(f64),
    /// Sum.
    Add(Box<Expr>, Box<Expr>),
    /// Difference.
    Sub(Box<Expr>, Box<Expr>),
    /// Product.
    Mul(Box<Expr>, Box<Expr>),
    /// Quotient.
    Div(Box<Expr>, Box<Expr>),
    /// Integer power.
    Pow(Box<Expr>, u32),
    /// `max(0, ·)`.
    Relu(Box<Expr>),
    /// Logistic sigmoid.
    Sigmoid(Box<Expr>),
    /// Hyperbolic tangent.
    Tanh(Box<Expr>),
    /// Error function.
    Erf(Box<Expr>),
    /// GELU (`tanh` form when the flag is set).
    Gelu(Box<Expr>, bool),
}

impl Expr {
    /// The value at `x`.
    pub(crate) fn eval(&self, x: f64) -> f64 {
        match self {
            Self::X => x,
            Self::C(c) => *c,
            Self::Add(a, b) => a.eval(x) + b.eval(x),
            Self::Sub(a, b) => a.eval(x) - b.eval(x),
            Self::Mul(a, b) => a.eval(x) * b.eval(x),
            Self::Div(a, b) => a.eval(x) / b.eval(x),
            Self::Pow(a, k) => a.eval(x).powi(i32::try_from(*k).unwrap_or(i32::MAX)),
            Self::Relu(a) => a.eval(x).max(0.0),
            Self::Sigmoid(a) => 1.0 / (1.0 + (-a.eval(x)).exp()),
            Self::Tanh(a) => a.eval(x).tanh(),
            Self::Erf(a) => erf(a.eval(x)),
            Self::Gelu(a, tanh) => {
                let v = a.eval(x);
                if *tanh {
                    let k = (2.0 / std::f64::consts::PI).sqrt();
                    0.5 * v * (1.0 + (k * (v + 0.044_715 * v * v * v)).tanh())
                } else {
                    0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))
                }
            }
        }
    }

    /// Ascending power-basis coefficients when the function is a polynomial of degree at
    /// most `max_degree` (sums, products, integer powers, division by a constant).
    pub(crate) fn poly(&self, max_degree: usize) -> Option<Vec<f64>> {
        let p = match self {
            Self::X => vec![0.0, 1.0],
            Self::C(c) => vec![*c],
            Self::Add(a, b) => add(&a.poly(max_degree)?, &b.poly(max_degree)?, 1.0),
            Self::Sub(a, b) => add(&a.poly(max_degree)?, &b.poly(max_degree)?, -1.0),
            Self::Mul(a, b) => mul(&a.poly(max_degree)?, &b.poly(max_degree)?),
            Self::Div(a, b) => match b.poly(max_degree)?.as_slice() {
                [c] if *c != 0.0 => a.poly(max_degree)?.iter().map(|v| v / c).collect(),
                _ => return None,
            },
            Self::Pow(a, k) => {
                let base = a.poly(max_degree)?;
                let mut acc = vec![1.0];
                for _ in 0..*k {
                    acc = mul(&acc, &base);
                    if degree(&acc) > max_degree {
                        return None;
                    }
                }
                acc
            }
            Self::Relu(_) | Self::Sigmoid(_) | Self::Tanh(_) | Self::Erf(_) | Self::Gelu(..) => {
                return None;
            }
        };
        (degree(&p) <= max_degree).then_some(p)
    }
}

/// Index of the last non-zero coefficient (0 for the zero polynomial).
pub(crate) fn degree(p: &[f64]) -> usize {
    p.iter().rposition(|&c| c != 0.0).unwrap_or(0)
}

fn add(a: &[f64], b: &[f64], sign: f64) -> Vec<f64> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).copied().unwrap_or(0.0) + sign * b.get(i).copied().unwrap_or(0.0))
        .collect()
}

fn mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; (a.len() + b.len()).saturating_sub(1).max(1)];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if let Some(o) = out.get_mut(i + j) {
                *o += x * y;
            }
        }
    }
    out
}

/// Horner evaluation of ascending coefficients.
pub(crate) fn polyval(p: &[f64], x: f64) -> f64 {
    p.iter().rev().fold(0.0, |acc, &c| acc * x + c)
}

/// `erf(x)` by the series `erf(x) = 2/√π · e^(−x²) · Σ_n 2^n x^(2n+1) / (1·3·…·(2n+1))`
/// (Abramowitz & Stegun 7.1.6; every term positive, so no cancellation), ±1 beyond |x| = 6
/// (where `1 − erf` is below 2e-17).
pub(crate) fn erf(x: f64) -> f64 {
    if !x.is_finite() {
        return x.signum();
    }
    if x.abs() > 6.0 {
        return x.signum();
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while term.abs() > 1e-17 * sum.abs() && n < 400.0 {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
}

/// The degree-`d` least-squares fit of `f` over `[lo, hi]` in the Chebyshev basis, as
/// ascending power-basis coefficients in `x`.
pub(crate) fn chebyshev_fit(f: &dyn Fn(f64) -> f64, lo: f64, hi: f64, d: usize) -> Vec<f64> {
    let m = (8 * (d + 1)).max(256);
    let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
    #[expect(clippy::cast_precision_loss, reason = "m and k are small")]
    let coef: Vec<f64> = (0..=d)
        .map(|k| {
            let s: f64 = (0..m)
                .map(|j| {
                    let theta = std::f64::consts::PI * (j as f64 + 0.5) / m as f64;
                    f(mid + half * theta.cos()) * (k as f64 * theta).cos()
                })
                .sum();
            let c = 2.0 * s / m as f64;
            if k == 0 { 0.5 * c } else { c }
        })
        .collect();
    // Σ c_k T_k(t) in powers of t.
    let mut in_t = vec![0.0; d + 1];
    let (mut prev, mut cur) = (vec![1.0], vec![0.0, 1.0]);
    for (k, c) in coef.iter().enumerate() {
        let tk = if k == 0 { &prev } else { &cur };
        for (i, v) in tk.iter().enumerate() {
            if let Some(o) = in_t.get_mut(i) {
                *o += c * v;
            }
        }
        if k >= 1 {
            let next = add(&mul(&[0.0, 2.0], &cur), &prev, -1.0);
            prev = std::mem::replace(&mut cur, next);
        }
    }
    // Substitute t = (x − mid) / half.
    let lin = [-mid / half, 1.0 / half];
    let mut out = vec![0.0; d + 1];
    let mut power = vec![1.0];
    for a in &in_t {
        for (i, v) in power.iter().enumerate() {
            if let Some(o) = out.get_mut(i) {
                *o += a * v;
            }
        }
        power = mul(&power, &lin);
    }
    out
}

/// `max |p(x) − f(x)|` over [`ERROR_GRID`] evenly spaced points of `[lo, hi]`.
pub(crate) fn max_error(f: &dyn Fn(f64) -> f64, p: &[f64], lo: f64, hi: f64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "grid index is small")]
    (0..ERROR_GRID)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / (ERROR_GRID - 1) as f64;
            (polyval(p, x) - f(x)).abs()
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // erf(0.5), erf(1), erf(2), erf(3) to 15 digits (A&S table 7.1).
        for (x, want) in [
            (0.5, 0.520_499_877_813_047),
            (1.0, 0.842_700_792_949_715),
            (2.0, 0.995_322_265_018_953),
            (3.0, 0.999_977_909_503_001),
        ] {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14);
        }
    }

    #[test]
    fn a_polynomial_is_fitted_exactly_and_relu_error_shrinks_with_degree() {
        let cubic = |x: f64| 0.5 - 2.0 * x + 0.25 * x * x * x;
        let p = chebyshev_fit(&cubic, -3.0, 5.0, 3);
        for (a, b) in p.iter().zip([0.5, -2.0, 0.0, 0.25]) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
        let relu = |x: f64| x.max(0.0);
        let e: Vec<f64> = [2, 4, 8]
            .iter()
            .map(|&d| max_error(&relu, &chebyshev_fit(&relu, -4.0, 4.0, d), -4.0, 4.0))
            .collect();
        // The Chebyshev series of |t| on [-1, 1] has a_2k = (−1)^(k+1)·4/(π(4k² − 1)); its
        // tail after an even degree d sums to at most 2/(π(d + 1)). relu(x) on [−4, 4] is
        // 2·(t + |t|) with t = x/4, so its truncation error is at most 4/(π(d + 1)); the
        // discrete fit on 256 nodes adds aliasing well under half of that.
        assert!(e[0] > e[1] && e[1] > e[2], "{e:?}");
        assert!(e[2] < 1.5 * 4.0 / (std::f64::consts::PI * 9.0), "{e:?}");
    }

    #[test]
    fn expressions_expand_to_polynomials_when_they_are_one() {
        let sq = Expr::Mul(Box::new(Expr::X), Box::new(Expr::X));
        assert_eq!(sq.poly(7), Some(vec![0.0, 0.0, 1.0]));
        let silu = Expr::Mul(
            Box::new(Expr::X),
            Box::new(Expr::Sigmoid(Box::new(Expr::X))),
        );
        assert_eq!(silu.poly(7), None);
        assert!((silu.eval(1.0) - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-15);
        let p = Expr::Div(
            Box::new(Expr::Pow(Box::new(Expr::X), 3)),
            Box::new(Expr::C(2.0)),
        );
        assert_eq!(p.poly(7), Some(vec![0.0, 0.0, 0.0, 0.5]));
        assert_eq!(p.poly(2), None);
    }
}
