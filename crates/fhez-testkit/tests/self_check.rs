//! The suite must catch broken backends: a wrapper around `Plain` that is wrong in values
//! (`Skewed`) or in level accounting (`Leaky`) has to fail the relevant cases.

use fhez_backend::{Backend, BackendKind, Caps, Decrypt, OpStats, Plain, PlainCt, PlainPt, Result};
use fhez_testkit::{Harness, cases};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// `mul_scalar` is off by 1e-3.
    Skewed,
    /// `mul_plain` consumes no level.
    Leaky,
}

#[derive(Clone, Debug)]
struct Faulty {
    inner: Plain,
    fault: Fault,
}

impl Backend for Faulty {
    type Ct = PlainCt;
    type Pt = PlainPt;
    fn kind(&self) -> BackendKind {
        BackendKind::Ckks
    }
    fn caps(&self) -> &Caps {
        self.inner.caps()
    }
    fn encrypt(&self, v: &[f64]) -> Result<PlainCt> {
        self.inner.encrypt(v)
    }
    fn add(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        self.inner.add(a, b)
    }
    fn sub(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        self.inner.sub(a, b)
    }
    fn neg(&self, a: &PlainCt) -> Result<PlainCt> {
        self.inner.neg(a)
    }
    fn add_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        self.inner.add_plain(a, b)
    }
    fn sub_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        self.inner.sub_plain(a, b)
    }
    fn mul_plain(&self, a: &PlainCt, b: &[f64]) -> Result<PlainCt> {
        let prod = self.inner.mul_plain(a, b)?;
        if self.fault == Fault::Leaky && self.inner.level(a) == self.caps().max_level {
            // Same values, but back at the fresh level: a level leak.
            return self.inner.encrypt(&self.inner.decrypt(&prod)?);
        }
        Ok(prod)
    }
    fn encode_plain(&self, v: &[f64], level: u32) -> Result<PlainPt> {
        self.inner.encode_plain(v, level)
    }
    fn plain_level(&self, pt: &PlainPt) -> u32 {
        self.inner.plain_level(pt)
    }
    fn plain_bytes(&self, pt: &PlainPt) -> usize {
        self.inner.plain_bytes(pt)
    }
    fn mul_plain_sum(&self, terms: &[(&PlainCt, &PlainPt)]) -> Result<PlainCt> {
        let sum = self.inner.mul_plain_sum(terms)?;
        if self.fault == Fault::Leaky
            && terms
                .first()
                .is_some_and(|(a, _)| self.inner.level(a) == self.caps().max_level)
        {
            // Same values, but back at the fresh level: a level leak.
            return self.inner.encrypt(&self.inner.decrypt(&sum)?);
        }
        Ok(sum)
    }
    fn add_scalar(&self, a: &PlainCt, s: f64) -> Result<PlainCt> {
        self.inner.add_scalar(a, s)
    }
    fn mul_scalar(&self, a: &PlainCt, s: f64) -> Result<PlainCt> {
        let out = self.inner.mul_scalar(a, s)?;
        if self.fault == Fault::Skewed {
            return self.inner.add_scalar(&out, 1e-3);
        }
        Ok(out)
    }
    fn mul(&self, a: &PlainCt, b: &PlainCt) -> Result<PlainCt> {
        self.inner.mul(a, b)
    }
    fn product_combinations(
        &self,
        pairs: &[(&PlainCt, &PlainCt)],
        rows: &[Vec<f64>],
    ) -> Result<Vec<PlainCt>> {
        self.inner.product_combinations(pairs, rows)
    }
    fn rotate(&self, a: &PlainCt, step: i64) -> Result<PlainCt> {
        self.inner.rotate(a, step)
    }
    fn level(&self, a: &PlainCt) -> u32 {
        self.inner.level(a)
    }
    fn stats(&self) -> OpStats {
        self.inner.stats()
    }
    fn ct_to_bytes(&self, a: &PlainCt) -> Result<Vec<u8>> {
        self.inner.ct_to_bytes(a)
    }
    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> Result<PlainCt> {
        self.inner.ct_from_bytes(bytes, limit)
    }
}

impl Decrypt for Faulty {
    fn decrypt(&self, a: &PlainCt) -> Result<Vec<f64>> {
        self.inner.decrypt(a)
    }
}

fn faulty(fault: Fault) -> Faulty {
    Faulty {
        inner: Plain::new(64).with_max_level(6),
        fault,
    }
}

#[test]
fn skewed_values_are_caught() {
    let h = Harness::decrypting(faulty(Fault::Skewed), 1e-9);
    let err = h.check(&cases::Scalars).expect_err("skew must be detected");
    assert!(err.contains("scalars on ckks"), "{err}");
    assert!(err.contains("seed"), "{err}");
    // Cases without non-integer scalars still pass.
    h.check(&cases::AddSubNeg).expect("unaffected case");
}

#[test]
fn leaky_levels_are_caught_without_decryption() {
    let h = Harness::accounting_only(faulty(Fault::Leaky));
    let err = h
        .check(&cases::PlainBroadcast)
        .expect_err("leak must be detected");
    assert!(err.contains("levels differ"), "{err}");
}

#[test]
fn leaky_plain_sums_are_caught_without_decryption() {
    let h = Harness::accounting_only(faulty(Fault::Leaky));
    let err = h
        .check(&cases::PlainSum)
        .expect_err("a lazy sum that keeps its level must be detected");
    // The leaked level makes the next product's plaintext (encoded one level down) mismatch
    // on the faulty backend only.
    assert!(err.contains("[plain_sum on ckks] outcomes differ"), "{err}");
}
