//! Timing helpers shared by the benchmark binaries: the statistics and repetition
//! rules of the peer harness (2 warm-ups, a time budget per operation, at least 30
//! repetitions, medians; docs/BENCHMARKS.md), so that fhez and its peers are measured the
//! same way.
#![forbid(unsafe_code)]

pub mod cnn;

use std::time::{Duration, Instant};

/// Median, min, p10, p90 and MAD of a sample, in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Number of repetitions.
    pub n: usize,
    /// Median.
    pub median_us: f64,
    /// Minimum.
    pub min_us: f64,
    /// 10th percentile.
    pub p10_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// Median absolute deviation.
    pub mad_us: f64,
}

impl Stats {
    /// The harness's JSON object for these statistics.
    pub fn to_json(&self) -> serde_json::Value {
        let r = |x: f64| (x * 100.0).round() / 100.0;
        serde_json::json!({
            "n": self.n, "median_us": r(self.median_us), "min_us": r(self.min_us),
            "p10_us": r(self.p10_us), "p90_us": r(self.p90_us), "mad_us": r(self.mad_us),
        })
    }
}

/// Linear-interpolated percentile of sorted data (the harness's definition).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() - 1) as f64 * p;
    let f = k.floor() as usize;
    let c = (f + 1).min(sorted.len() - 1);
    let (a, b) = (
        sorted.get(f).copied().unwrap_or(f64::NAN),
        sorted.get(c).copied().unwrap_or(f64::NAN),
    );
    a + (b - a) * (k - f as f64)
}

/// Statistics of a sample of microsecond timings.
pub fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let med = percentile(&samples, 0.5);
    let mut dev: Vec<f64> = samples.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    Stats {
        n: samples.len(),
        median_us: med,
        min_us: samples.first().copied().unwrap_or(f64::NAN),
        p10_us: percentile(&samples, 0.1),
        p90_us: percentile(&samples, 0.9),
        mad_us: percentile(&dev, 0.5),
    }
}

/// Repetition rule: warm-up calls, then repeat until the budget is spent and at
/// least `min_reps` samples exist, at most `max_reps`.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall-clock budget.
    pub time: Duration,
    /// Minimum repetitions.
    pub min_reps: usize,
    /// Maximum repetitions.
    pub max_reps: usize,
    /// Untimed warm-up calls.
    pub warmup: usize,
}

impl Budget {
    /// Cheap operations: `budget_s`, ≥ 30 and ≤ 3000 reps, 2 warm-ups.
    pub fn op(budget_s: f64) -> Self {
        Self {
            time: Duration::from_secs_f64(budget_s),
            min_reps: 30,
            max_reps: 3000,
            warmup: 2,
        }
    }
    /// Key generation: 4 s, ≥ 5 and ≤ 200 reps, 1 warm-up.
    pub fn key() -> Self {
        Self {
            time: Duration::from_secs(4),
            min_reps: 5,
            max_reps: 200,
            warmup: 1,
        }
    }
}

/// Times `f(setup())`, with `setup` outside the timed region.
pub fn bench<S, R>(
    budget: Budget,
    mut setup: impl FnMut() -> S,
    mut f: impl FnMut(S) -> R,
) -> Stats {
    for _ in 0..budget.warmup {
        std::hint::black_box(f(setup()));
    }
    let mut samples = Vec::new();
    let end = Instant::now() + budget.time;
    while samples.len() < budget.max_reps
        && (samples.len() < budget.min_reps || Instant::now() < end)
    {
        let input = setup();
        let t = Instant::now();
        std::hint::black_box(f(input));
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    stats(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_the_harness_definition() {
        let s = stats(vec![5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.n, 5);
        assert_eq!(s.median_us, 3.0);
        assert_eq!(s.min_us, 1.0);
        assert!((s.p10_us - 1.4).abs() < 1e-12);
        assert!((s.p90_us - 4.6).abs() < 1e-12);
        assert_eq!(s.mad_us, 1.0);
    }
}

/// The benchmark binaries' allocator: mimalloc keeps freed pages in thread-local
/// caches, where glibc's malloc returns the large polynomial buffers to the kernel
/// and page-faults them back on every operation.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
