//! Writers and readers of every public object (the secret key lives in
//! `secret.rs`, behind its explicitly named API).

use std::collections::BTreeMap;
use std::sync::Arc;

use fhez_math::{Ntt, Poly};

use super::codec::{Reader, Writer};
use super::envelope;
use super::{ObjectKind, WireError};
use crate::Result;
use crate::ciphertext::Ciphertext;
use crate::keys::{GaloisKeys, PublicKey, RelinKey};
use crate::params::{CkksParams, CkksParamsSpec};
use crate::plaintext::Plaintext;
use crate::rlwe::{KeySwitchKey, expand_uniform};
use crate::symmetric::SeededCiphertext;

/// A generous bound on the number of primes in a params payload, checked before
/// the spec is validated (which enforces the real, smaller bound) so that a
/// hostile payload cannot make validation quadratic.
const MAX_PARAMS_PRIMES: usize = 256;

/// The largest params payload accepted, whatever the caller's limit: the canonical JSON of
/// the largest valid set (64 + 64 primes of up to 19 digits) is under 3 KiB.
pub const MAX_PARAMS_BYTES: u64 = 16 * 1024;

/// Size of a seed on the wire.
const SEED_LEN: u64 = 32;

// ---------------------------------------------------------------- helpers

/// Bytes of a polynomial of `limbs` limbs of `n` residues.
fn poly_bytes(n: usize, limbs: usize) -> u64 {
    (n as u64).saturating_mul(limbs as u64).saturating_mul(8)
}

/// Bytes of an encoded polynomial (what `Writer::poly` writes).
fn encoded_poly_len(p: &Poly<Ntt>) -> usize {
    p.as_slice().len().saturating_mul(8)
}

/// `x` as a u32 count, or a length error.
fn count_u32(what: &'static str, x: usize) -> Result<u32, WireError> {
    u32::try_from(x).map_err(|_| WireError::LengthMismatch {
        what,
        expected: u64::from(u32::MAX),
        found: x as u64,
    })
}

/// Writer-side check that a polynomial has `limbs` limbs (writing anything else
/// would produce bytes no reader accepts).
fn check_limbs(what: &'static str, p: &Poly<Ntt>, limbs: usize) -> Result<(), WireError> {
    if p.limbs() == limbs {
        Ok(())
    } else {
        Err(WireError::LengthMismatch {
            what,
            expected: limbs as u64,
            found: p.limbs() as u64,
        })
    }
}

/// Reads a level and checks it against the parameters.
fn read_level(r: &mut Reader<'_>, params: &CkksParams) -> Result<u32, WireError> {
    let level = r.u32()?;
    let max_level = params.max_level();
    if level > max_level {
        return Err(WireError::BadLevel { level, max_level });
    }
    Ok(level)
}

/// The moduli of a ciphertext at `level` (already checked ≤ max level).
fn q_moduli(params: &CkksParams, level: u32) -> Result<&[u64], WireError> {
    params
        .q()
        .get(..=level as usize)
        .ok_or(WireError::BadLevel {
            level,
            max_level: params.max_level(),
        })
}

/// The moduli of Q_L·P: the q primes, then the p primes.
fn qp_moduli(params: &CkksParams) -> Vec<u64> {
    params.q().iter().chain(params.p()).copied().collect()
}

/// Fails unless exactly `expected` payload bytes are left (checked before any
/// allocation that depends on counts read from the input).
fn expect_remaining(r: &Reader<'_>, what: &'static str, expected: u64) -> Result<(), WireError> {
    if r.remaining() == expected {
        Ok(())
    } else {
        Err(WireError::LengthMismatch {
            what,
            expected,
            found: r.remaining(),
        })
    }
}

/// Number of key-switching digits the parameters give a key.
fn key_digits(params: &CkksParams) -> Result<usize> {
    Ok(params.ks_plan(params.max_level())?.digits.len())
}

// ---------------------------------------------------------------- params

/// Encodes a parameter set: its [`spec`](CkksParams::spec) (explicit primes) as JSON.
///
/// # Errors
/// Only if JSON serialization fails (it does not for a validated spec).
pub fn params_to_bytes(params: &CkksParams) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(params.spec()).map_err(|e| json_error(&e))?;
    let mut w = envelope::start(ObjectKind::Params, params.id(), json.len());
    w.bytes(&json);
    Ok(w.into_vec())
}

fn json_error(e: &serde_json::Error) -> WireError {
    WireError::BadParamsJson {
        line: e.line() as u64,
        column: e.column() as u64,
    }
}

/// Decodes a parameter set, rebuilding every table with [`CkksParams::new`], and
/// checks that the rebuilt id equals the envelope's.
///
/// # Errors
/// A [`WireError`] for a bad envelope, a payload above `limit` or above
/// [`MAX_PARAMS_BYTES`] (checked before anything is parsed), invalid JSON, a spec given by
/// bit sizes rather than explicit primes, or an id mismatch; the errors of
/// [`CkksParams::new`] for a spec that does not validate; [`WireError::InsecureParams`] for a
/// spec that opts out of the security check (refused before any table is built; tests read
/// such sets with [`params_from_bytes_insecure_for_testing`]).
pub fn params_from_bytes(bytes: &[u8], limit: u64) -> Result<Arc<CkksParams>> {
    read_params(bytes, limit, false)
}

/// As [`params_from_bytes`], also accepting sets that opted out of the security check
/// ([`crate::SecurityLevel::InsecureForTesting`]). For tests only: such parameters protect
/// nothing, and a reader of untrusted bytes must not accept them.
///
/// # Errors
/// As [`params_from_bytes`], without [`WireError::InsecureParams`].
pub fn params_from_bytes_insecure_for_testing(bytes: &[u8], limit: u64) -> Result<Arc<CkksParams>> {
    read_params(bytes, limit, true)
}

fn read_params(bytes: &[u8], limit: u64, allow_insecure: bool) -> Result<Arc<CkksParams>> {
    let limit = limit.min(MAX_PARAMS_BYTES);
    let (env, mut r) = envelope::open(bytes, ObjectKind::Params, None, limit)?;
    let json = r.take(r.remaining())?;
    let spec: CkksParamsSpec = serde_json::from_slice(json).map_err(|e| json_error(&e))?;
    // The canonical encoding lists explicit primes only; also bounds the work
    // validation does before its own length checks.
    for (what, len, max) in [
        ("params log_q entries", spec.log_q.len(), 0),
        ("params log_p entries", spec.log_p.len(), 0),
        ("params q primes", spec.q.len(), MAX_PARAMS_PRIMES),
        ("params p primes", spec.p.len(), MAX_PARAMS_PRIMES),
    ] {
        if len > max {
            return Err(WireError::LengthMismatch {
                what,
                expected: max as u64,
                found: len as u64,
            }
            .into());
        }
    }
    if !allow_insecure && spec.security == crate::SecurityLevel::InsecureForTesting {
        return Err(WireError::InsecureParams { log_n: spec.log_n }.into());
    }
    let params = CkksParams::new(&spec)?;
    if params.id() != env.params_id {
        return Err(WireError::ParamsMismatch {
            expected: env.params_id,
            found: params.id(),
        }
        .into());
    }
    Ok(params)
}

// ---------------------------------------------------------------- plaintext

/// Encodes a plaintext: `level u32 | scale u64 | poly`.
///
/// # Errors
/// [`WireError::LengthMismatch`] if the polynomial does not have `level + 1` limbs.
pub fn plaintext_to_bytes(pt: &Plaintext) -> Result<Vec<u8>> {
    check_limbs("plaintext limbs", &pt.poly, pt.level as usize + 1)?;
    let payload = 4 + 8 + encoded_poly_len(&pt.poly);
    let mut w = envelope::start(ObjectKind::Plaintext, pt.params_id, payload);
    w.u32(pt.level);
    w.f64(pt.scale);
    w.poly(&pt.poly);
    Ok(w.into_vec())
}

/// Decodes a plaintext of `params`, with a payload of at most `limit` bytes.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input.
pub fn plaintext_from_bytes(params: &CkksParams, bytes: &[u8], limit: u64) -> Result<Plaintext> {
    let (_, mut r) = envelope::open(bytes, ObjectKind::Plaintext, Some(params.id()), limit)?;
    let level = read_level(&mut r, params)?;
    let scale = r.scale()?;
    let moduli = q_moduli(params, level)?;
    expect_remaining(
        &r,
        "plaintext payload bytes",
        poly_bytes(params.n(), moduli.len()),
    )?;
    let poly = r.poly(params.n(), moduli)?;
    r.finish()?;
    Ok(Plaintext {
        poly,
        level,
        scale,
        params_id: params.id(),
    })
}

// ---------------------------------------------------------------- ciphertexts

/// Encodes a ciphertext: `level u32 | scale u64 | count u32 | count polys`.
///
/// # Errors
/// [`WireError::BadPolyCount`] unless it has 2 or 3 polynomials,
/// [`WireError::LengthMismatch`] if a polynomial does not have `level + 1` limbs.
pub fn ciphertext_to_bytes(ct: &Ciphertext) -> Result<Vec<u8>> {
    let count = count_u32("ciphertext polynomials", ct.polys.len())?;
    if !(2..=3).contains(&count) {
        return Err(WireError::BadPolyCount { found: count }.into());
    }
    let mut payload = 4 + 8 + 4;
    for p in &ct.polys {
        check_limbs("ciphertext limbs", p, ct.level as usize + 1)?;
        payload += encoded_poly_len(p);
    }
    let mut w = envelope::start(ObjectKind::Ciphertext, ct.params_id, payload);
    w.u32(ct.level);
    w.f64(ct.scale);
    w.u32(count);
    for p in &ct.polys {
        w.poly(p);
    }
    Ok(w.into_vec())
}

/// Decodes a ciphertext of `params`, with a payload of at most `limit` bytes.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input.
pub fn ciphertext_from_bytes(params: &CkksParams, bytes: &[u8], limit: u64) -> Result<Ciphertext> {
    let (_, mut r) = envelope::open(bytes, ObjectKind::Ciphertext, Some(params.id()), limit)?;
    let level = read_level(&mut r, params)?;
    let scale = r.scale()?;
    let count = r.u32()?;
    if !(2..=3).contains(&count) {
        return Err(WireError::BadPolyCount { found: count }.into());
    }
    let moduli = q_moduli(params, level)?;
    let each = poly_bytes(params.n(), moduli.len());
    expect_remaining(
        &r,
        "ciphertext payload bytes",
        each.saturating_mul(u64::from(count)),
    )?;
    let polys = (0..count)
        .map(|_| r.poly(params.n(), moduli))
        .collect::<Result<Vec<_>, _>>()?;
    r.finish()?;
    Ok(Ciphertext {
        polys,
        level,
        scale,
        params_id: params.id(),
    })
}

/// Encodes a seed-compressed ciphertext: `level u32 | scale u64 | seed | c0`.
///
/// # Errors
/// [`WireError::LengthMismatch`] if `c0` does not have `level + 1` limbs.
pub fn seeded_ciphertext_to_bytes(ct: &SeededCiphertext) -> Result<Vec<u8>> {
    check_limbs("seeded ciphertext limbs", &ct.c0, ct.level as usize + 1)?;
    let payload = 4 + 8 + 32 + encoded_poly_len(&ct.c0);
    let mut w = envelope::start(ObjectKind::SeededCiphertext, ct.params_id, payload);
    w.u32(ct.level);
    w.f64(ct.scale);
    w.bytes(&ct.seed);
    w.poly(&ct.c0);
    Ok(w.into_vec())
}

/// Decodes a seed-compressed ciphertext of `params` (payload at most `limit`
/// bytes); [`SeededCiphertext::expand`] regenerates `c1`.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input.
pub fn seeded_ciphertext_from_bytes(
    params: &CkksParams,
    bytes: &[u8],
    limit: u64,
) -> Result<SeededCiphertext> {
    let (_, mut r) = envelope::open(
        bytes,
        ObjectKind::SeededCiphertext,
        Some(params.id()),
        limit,
    )?;
    let level = read_level(&mut r, params)?;
    let scale = r.scale()?;
    let seed = r.array::<32>()?;
    let moduli = q_moduli(params, level)?;
    expect_remaining(
        &r,
        "seeded ciphertext payload bytes",
        poly_bytes(params.n(), moduli.len()),
    )?;
    let c0 = r.poly(params.n(), moduli)?;
    r.finish()?;
    Ok(SeededCiphertext {
        c0,
        seed,
        level,
        scale,
        params_id: params.id(),
    })
}

// ---------------------------------------------------------------- keys

/// Encodes a public key: `seed | b` (b over Q_L·P).
///
/// # Errors
/// Infallible for keys made by this crate.
pub fn public_key_to_bytes(pk: &PublicKey) -> Result<Vec<u8>> {
    let payload = 32 + encoded_poly_len(&pk.b);
    let mut w = envelope::start(ObjectKind::PublicKey, pk.params_id, payload);
    w.bytes(&pk.seed);
    w.poly(&pk.b);
    Ok(w.into_vec())
}

/// Decodes a public key of `params` (payload at most `limit` bytes) and
/// regenerates its uniform half from the seed.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input.
pub fn public_key_from_bytes(params: &CkksParams, bytes: &[u8], limit: u64) -> Result<PublicKey> {
    let (_, mut r) = envelope::open(bytes, ObjectKind::PublicKey, Some(params.id()), limit)?;
    let moduli = qp_moduli(params);
    expect_remaining(
        &r,
        "public key payload bytes",
        SEED_LEN.saturating_add(poly_bytes(params.n(), moduli.len())),
    )?;
    let seed = r.array::<32>()?;
    let b = r.poly(params.n(), &moduli)?;
    r.finish()?;
    let a = expand_uniform(params, &seed, 0)?;
    Ok(PublicKey {
        b,
        a,
        seed,
        params_id: params.id(),
    })
}

/// Encoded length of a key-switching key.
fn ksk_len(k: &KeySwitchKey) -> usize {
    32 + 4 + k.b.iter().map(encoded_poly_len).sum::<usize>()
}

fn write_ksk(w: &mut Writer, k: &KeySwitchKey) -> Result<(), WireError> {
    w.bytes(&k.seed);
    w.u32(count_u32("key-switching digits", k.b.len())?);
    for b in &k.b {
        w.poly(b);
    }
    Ok(())
}

/// Bytes of one encoded key-switching key of `params` with `digits` digits.
fn ksk_bytes(params: &CkksParams, digits: usize) -> u64 {
    let limbs = params.q().len() + params.p().len();
    (SEED_LEN + 4).saturating_add(poly_bytes(params.n(), limbs).saturating_mul(digits as u64))
}

/// Reads a key-switching key; the caller has checked that enough bytes remain.
fn read_ksk(
    r: &mut Reader<'_>,
    params: &CkksParams,
    moduli: &[u64],
    digits: usize,
) -> Result<KeySwitchKey> {
    let seed = r.array::<32>()?;
    let found = r.u32()?;
    if u64::from(found) != digits as u64 {
        return Err(WireError::LengthMismatch {
            what: "key-switching digits",
            expected: digits as u64,
            found: u64::from(found),
        }
        .into());
    }
    let b = (0..digits)
        .map(|_| r.poly(params.n(), moduli))
        .collect::<Result<Vec<_>, _>>()?;
    let a = (0..digits as u64)
        .map(|j| expand_uniform(params, &seed, j))
        .collect::<Result<Vec<_>>>()?;
    Ok(KeySwitchKey {
        b,
        a,
        seed,
        params_id: params.id(),
    })
}

/// Encodes a relinearization key: `seed | digits u32 | b_0 … b_{d-1}`.
///
/// # Errors
/// Infallible for keys made by this crate.
pub fn relin_key_to_bytes(rk: &RelinKey) -> Result<Vec<u8>> {
    let mut w = envelope::start(ObjectKind::RelinKey, rk.0.params_id, ksk_len(&rk.0));
    write_ksk(&mut w, &rk.0)?;
    Ok(w.into_vec())
}

/// Decodes a relinearization key of `params` (payload at most `limit` bytes) and
/// regenerates its uniform halves from the seed.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input.
pub fn relin_key_from_bytes(params: &CkksParams, bytes: &[u8], limit: u64) -> Result<RelinKey> {
    let (_, mut r) = envelope::open(bytes, ObjectKind::RelinKey, Some(params.id()), limit)?;
    let digits = key_digits(params)?;
    let moduli = qp_moduli(params);
    expect_remaining(
        &r,
        "relinearization key payload bytes",
        ksk_bytes(params, digits),
    )?;
    let key = read_ksk(&mut r, params, &moduli, digits)?;
    r.finish()?;
    Ok(RelinKey(key))
}

/// Encodes Galois keys: `count u32 | count × (element u32 | key-switching key)`,
/// in increasing element order.
///
/// # Errors
/// [`WireError::LengthMismatch`] for more than `u32::MAX` keys or elements.
pub fn galois_keys_to_bytes(gk: &GaloisKeys) -> Result<Vec<u8>> {
    let payload = 4 + gk.keys.values().map(|k| 4 + ksk_len(k)).sum::<usize>();
    let mut w = envelope::start(ObjectKind::GaloisKeys, gk.params_id, payload);
    w.u32(count_u32("Galois keys", gk.keys.len())?);
    for (&g, k) in &gk.keys {
        w.u32(count_u32("Galois element", g)?);
        write_ksk(&mut w, k)?;
    }
    debug_assert_eq!(w.len(), super::ENVELOPE_LEN + payload);
    Ok(w.into_vec())
}

/// Decodes Galois keys of `params` (payload at most `limit` bytes) and
/// regenerates their uniform halves from the seeds.
///
/// # Errors
/// A [`WireError`] for any malformed, truncated, oversized or mismatched input,
/// including an even, too large, repeated or out-of-order Galois element.
pub fn galois_keys_from_bytes(params: &CkksParams, bytes: &[u8], limit: u64) -> Result<GaloisKeys> {
    let (_, mut r) = envelope::open(bytes, ObjectKind::GaloisKeys, Some(params.id()), limit)?;
    let count = r.u32()?;
    let n = params.n() as u64;
    // There are only N odd elements below 2N.
    if u64::from(count) > n {
        return Err(WireError::LengthMismatch {
            what: "Galois key count (at most N)",
            expected: n,
            found: u64::from(count),
        }
        .into());
    }
    let digits = key_digits(params)?;
    let each = 4u64.saturating_add(ksk_bytes(params, digits));
    expect_remaining(
        &r,
        "Galois keys payload bytes",
        each.saturating_mul(u64::from(count)),
    )?;
    let moduli = qp_moduli(params);
    let two_n = 2 * n;
    let mut keys = BTreeMap::new();
    for _ in 0..count {
        let element = r.u32()?;
        let g = u64::from(element);
        if g % 2 == 0 || g >= two_n {
            return Err(WireError::BadGaloisElement { element: g, two_n }.into());
        }
        if let Some(&previous) = keys.keys().next_back()
            && element as usize <= previous
        {
            return Err(WireError::UnorderedGaloisElement {
                element: g,
                previous: previous as u64,
            }
            .into());
        }
        let key = read_ksk(&mut r, params, &moduli, digits)?;
        keys.insert(element as usize, key);
    }
    r.finish()?;
    Ok(GaloisKeys {
        keys,
        params_id: params.id(),
    })
}
