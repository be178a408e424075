//! [`Sim`]: a data-free simulator of levels, scale, depth and rotation keys (the planner runs
//! on it, as Lattigo's `SimEvaluator`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::cost::{
    check_finite, check_plain_level, check_rows, check_values, combination_output, consume,
    plain_sum_level, product_levels, scalar_cost,
};
use crate::wire::Reader;
use crate::{
    Backend, BackendKind, Caps, Error, OpStats, Result, RotationSet, StatsRecorder, normalize_step,
};

/// The ciphertext format in the common frame ([`crate::frame`]; no params id).
const FORMAT: crate::frame::Format = crate::frame::Format {
    magic: *b"FZSM",
    version: 2,
    what: "sim ciphertext",
};
const KIND_CT: u16 = 1;

/// A simulated ciphertext: metadata only, no values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimCt {
    /// Current level (fresh = `max_level`).
    pub level: u32,
    /// log2 of the current scale; a managed backend keeps it at `log_scale`.
    pub log2_scale: f64,
    /// Multiplicative depth consumed so far (levels used on the deepest path).
    pub depth: u32,
}

/// A simulated encoded plaintext: the level it was encoded for, no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimPt {
    /// The ciphertext level it multiplies.
    pub level: u32,
}

/// Configuration of a [`Sim`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimConfig {
    /// Slots per ciphertext.
    pub slots: usize,
    /// Level of a fresh ciphertext.
    pub max_level: u32,
    /// log2 of the scale Δ.
    pub log_scale: f64,
    /// Rotation keys. [`RotationSet::All`] is *planning mode*: every step is accepted and
    /// recorded; [`RotationSet::Steps`] is *strict mode*: a missing step is
    /// [`Error::MissingGaloisKey`] (and is still recorded in the report).
    pub rotations: RotationSet,
}

impl SimConfig {
    /// Planning mode: all rotation steps accepted and recorded.
    #[must_use]
    pub fn planning(slots: usize, max_level: u32, log_scale: f64) -> Self {
        Self {
            slots,
            max_level,
            log_scale,
            rotations: RotationSet::All,
        }
    }

    /// Strict mode: only `steps` are available, like a real key set.
    #[must_use]
    pub fn strict(slots: usize, max_level: u32, log_scale: f64, steps: BTreeSet<i64>) -> Self {
        Self {
            slots,
            max_level,
            log_scale,
            rotations: RotationSet::Steps(steps),
        }
    }

    /// A simulator of a backend with these capabilities (strict when `caps` lists steps).
    #[must_use]
    pub fn from_caps(caps: &Caps) -> Self {
        Self {
            slots: caps.slots,
            max_level: caps.max_level,
            log_scale: caps.log_scale,
            rotations: caps.rotations.clone(),
        }
    }
}

/// What a [`Sim`] observed, accumulated over all clones of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// Largest depth of any ciphertext produced.
    pub depth_used: u32,
    /// Lowest level of any ciphertext produced (`max_level` if nothing was consumed).
    pub min_level: u32,
    /// Every non-identity rotation step requested, normalised to `[1, slots)`.
    pub rotation_steps: BTreeSet<i64>,
    /// Operation counters (key switches, mults, …).
    pub stats: OpStats,
}

#[derive(Debug)]
struct Log {
    depth_used: u32,
    min_level: u32,
    rotation_steps: BTreeSet<i64>,
}

/// Simulating backend: carries no data, follows the level rules of [`Backend`] exactly,
/// and records depth, minimum level, rotation steps and key switches. Has no
/// [`Decrypt`](crate::Decrypt) impl, so it also stands in for a server-side backend.
///
/// # Examples
/// ```
/// use fhez_backend::{Backend, Sim, SimConfig};
/// let sim = Sim::new(SimConfig::planning(1024, 5, 40.0))?;
/// let x = sim.encrypt(&[0.5; 8])?;
/// let y = sim.mul(&x, &x)?;
/// let _ = sim.rotate(&y, 3)?;
/// let report = sim.report();
/// assert_eq!(report.depth_used, 1);
/// assert_eq!(report.min_level, 4);
/// assert!(report.rotation_steps.contains(&3));
/// # Ok::<(), fhez_backend::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sim {
    caps: Caps,
    stats: StatsRecorder,
    log: Arc<Mutex<Log>>,
}

impl Sim {
    /// Creates a simulator.
    ///
    /// # Errors
    /// [`Error::Malformed`] if `slots` is 0 or `log_scale` is not finite and positive.
    pub fn new(config: SimConfig) -> Result<Self> {
        if config.slots == 0 {
            return Err(Error::Malformed {
                what: "sim config",
                reason: "slots must be positive",
            });
        }
        if !(config.log_scale.is_finite() && config.log_scale > 0.0) {
            return Err(Error::Malformed {
                what: "sim config",
                reason: "log_scale must be finite and positive",
            });
        }
        let log = Log {
            depth_used: 0,
            min_level: config.max_level,
            rotation_steps: BTreeSet::new(),
        };
        Ok(Self {
            caps: Caps::new(
                config.slots,
                config.max_level,
                config.log_scale,
                config.rotations,
            ),
            stats: StatsRecorder::new(),
            log: Arc::new(Mutex::new(log)),
        })
    }

    /// What was observed so far (shared by all clones).
    #[must_use]
    pub fn report(&self) -> SimReport {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        SimReport {
            depth_used: log.depth_used,
            min_level: log.min_level,
            rotation_steps: log.rotation_steps.clone(),
            stats: self.stats.snapshot(),
        }
    }

    fn produce(&self, level: u32, depth: u32) -> SimCt {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.depth_used = log.depth_used.max(depth);
        log.min_level = log.min_level.min(level);
        SimCt {
            level,
            log2_scale: self.caps.log_scale,
            depth,
        }
    }

    fn binary(&self, a: &SimCt, b: &SimCt) -> SimCt {
        self.produce(a.level.min(b.level), a.depth.max(b.depth))
    }
}

impl Backend for Sim {
    type Ct = SimCt;
    type Pt = SimPt;

    fn kind(&self) -> BackendKind {
        BackendKind::Sim
    }

    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn encrypt(&self, values: &[f64]) -> Result<SimCt> {
        check_values(values, self.caps.slots)?;
        Ok(self.produce(self.caps.max_level, 0))
    }

    fn add(&self, a: &SimCt, b: &SimCt) -> Result<SimCt> {
        Ok(self.binary(a, b))
    }

    fn sub(&self, a: &SimCt, b: &SimCt) -> Result<SimCt> {
        Ok(self.binary(a, b))
    }

    fn neg(&self, a: &SimCt) -> Result<SimCt> {
        Ok(*a)
    }

    fn add_plain(&self, a: &SimCt, b: &[f64]) -> Result<SimCt> {
        check_values(b, self.caps.slots)?;
        Ok(*a)
    }

    fn sub_plain(&self, a: &SimCt, b: &[f64]) -> Result<SimCt> {
        check_values(b, self.caps.slots)?;
        Ok(*a)
    }

    fn mul_plain(&self, a: &SimCt, b: &[f64]) -> Result<SimCt> {
        let level = consume("mul_plain", a.level, 1)?;
        check_values(b, self.caps.slots)?;
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(1);
        Ok(self.produce(level, a.depth + 1))
    }

    fn encode_plain(&self, values: &[f64], level: u32) -> Result<SimPt> {
        check_plain_level(level, self.caps.max_level)?;
        check_values(values, self.caps.slots)?;
        Ok(SimPt { level })
    }

    fn plain_bytes(&self, pt: &SimPt) -> usize {
        crate::cost::ckks_plain_bytes(self.caps.slots, pt.level)
    }

    fn plain_level(&self, pt: &SimPt) -> u32 {
        pt.level
    }

    fn mul_plain_sum(&self, terms: &[(&SimCt, &SimPt)]) -> Result<SimCt> {
        let levels: Vec<(u32, u32)> = terms.iter().map(|(c, p)| (c.level, p.level)).collect();
        let level = plain_sum_level(&levels)?;
        let depth = terms.iter().map(|(c, _)| c.depth).max().unwrap_or(0);
        self.stats.record_plain_mults(terms.len() as u64);
        self.stats.record_rescales(1);
        Ok(self.produce(level, depth + 1))
    }

    fn add_scalar(&self, a: &SimCt, s: f64) -> Result<SimCt> {
        check_finite(&[s])?;
        Ok(*a)
    }

    fn mul_scalar(&self, a: &SimCt, s: f64) -> Result<SimCt> {
        check_finite(&[s])?;
        let cost = scalar_cost(s);
        let level = consume("mul_scalar", a.level, cost)?;
        self.stats.record_plain_mults(1);
        self.stats.record_rescales(u64::from(cost));
        Ok(self.produce(level, a.depth + cost))
    }

    fn mul(&self, a: &SimCt, b: &SimCt) -> Result<SimCt> {
        let level = consume("mul", a.level.min(b.level), 1)?;
        self.stats.record_mult();
        self.stats.record_rescales(1);
        Ok(self.produce(level, a.depth.max(b.depth) + 1))
    }

    fn product_combinations(
        &self,
        pairs: &[(&SimCt, &SimCt)],
        rows: &[Vec<f64>],
    ) -> Result<Vec<SimCt>> {
        check_rows("product_combinations", pairs.len(), rows)?;
        let pair_levels: Vec<(u32, u32)> = pairs.iter().map(|(a, b)| (a.level, b.level)).collect();
        let levels = product_levels(&pair_levels)?;
        let depths: Vec<u32> = pairs
            .iter()
            .map(|(a, b)| a.depth.max(b.depth) + 1)
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let acc = combination_output(&levels, row)?;
            let depth = row
                .iter()
                .zip(&depths)
                .filter(|(w, _)| **w != 0.0)
                .map(|(&w, &d)| d + scalar_cost(w))
                .max()
                .or_else(|| depths.first().copied())
                .unwrap_or(0);
            self.stats.record_plain_mults(acc.kept.max(1) as u64);
            self.stats.record_rescales(u64::from(acc.rescaled));
            out.push(self.produce(acc.level, depth));
        }
        self.stats.record_deferred_mults(pairs.len() as u64);
        self.stats.record_rescales(pairs.len() as u64);
        self.stats.record_relinearizations(rows.len() as u64);
        Ok(out)
    }

    fn rotate(&self, a: &SimCt, step: i64) -> Result<SimCt> {
        let norm = normalize_step(step, self.caps.slots);
        if norm == 0 {
            return Ok(*a);
        }
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rotation_steps
            .insert(norm);
        if !self.caps.rotations.contains(norm, self.caps.slots) {
            return Err(Error::MissingGaloisKey { step: norm });
        }
        self.stats.record_rotations(1);
        Ok(*a)
    }

    fn rotate_hoisted(&self, a: &SimCt, steps: &[i64]) -> Result<Vec<SimCt>> {
        self.stats.record_hoisted();
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }

    fn level(&self, a: &SimCt) -> u32 {
        a.level
    }

    fn stats(&self) -> OpStats {
        self.stats.snapshot()
    }

    fn ct_to_bytes(&self, a: &SimCt) -> Result<Vec<u8>> {
        let mut w = crate::frame::Writer::new(&FORMAT, KIND_CT, &crate::frame::NO_PARAMS, 16);
        let out = w.payload();
        out.extend_from_slice(&a.level.to_le_bytes());
        out.extend_from_slice(&a.depth.to_le_bytes());
        out.extend_from_slice(&a.log2_scale.to_le_bytes());
        Ok(w.finish())
    }

    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> Result<SimCt> {
        const WHAT: &str = "sim ciphertext";
        let mut r = Reader::new(
            crate::frame::open_without_params(bytes, &FORMAT, KIND_CT, limit)?,
            WHAT,
        );
        let level = r.u32()?;
        let depth = r.u32()?;
        let log2_scale = r.f64()?;
        r.finish()?;
        if level > self.caps.max_level {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "level above max_level",
            });
        }
        if !log2_scale.is_finite() {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "non-finite scale",
            });
        }
        Ok(self.produce(level, depth))
    }
}
