//! Statistics and clocks of the JSON report.
#![expect(
    clippy::indexing_slicing,
    reason = "percentile indices are bounded by the sample length"
)]

use std::time::Instant;

use serde_json::{Value, json};

/// Summary of a sample of millisecond timings (n, median, mean, p10, p90, min; the
/// harness's linear-interpolated percentiles, rounded to 0.01 ms).
pub fn summary_ms(xs: &[f64]) -> Value {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return json!({"n": 0});
    }
    let pct = |p: f64| {
        let kk = (n - 1) as f64 * p;
        let f = kk.floor() as usize;
        let c = (f + 1).min(n - 1);
        s[f] + (s[c] - s[f]) * (kk - f as f64)
    };
    let r = |x: f64| (x * 100.0).round() / 100.0;
    let mean = s.iter().sum::<f64>() / n as f64;
    json!({"n": n, "median_ms": r(pct(0.5)), "mean_ms": r(mean), "p10_ms": r(pct(0.1)),
           "p90_ms": r(pct(0.9)), "min_ms": r(s[0])})
}

/// CPU seconds used by this process so far (all threads; user + system, from
/// `/proc/self/stat`, 10 ms ticks): on a shared machine this is what the work costs,
/// independent of how long other tenants kept the cores busy. 0 where unavailable.
pub fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after the command: state(0) … utime(11) stime(12)
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Milliseconds elapsed since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
