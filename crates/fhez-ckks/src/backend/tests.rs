use std::sync::{Arc, OnceLock};

use fhez_backend::{Backend, Decrypt, Error as BError, Plain};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::{CkksParams, Preset};

/// Keys for steps 1, -1 and 2 on the tiny preset, generated once.
fn tiny() -> CkksClient {
    static CLIENT: OnceLock<CkksClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let params = CkksParams::new(&Preset::TinyInsecure.spec()).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(7);
            CkksClient::generate_with_rng(&params, &[1, -1, 2], &mut rng).unwrap()
        })
        .with_fresh_stats()
}

fn input(k: usize, slots: usize) -> Vec<f64> {
    (0..slots)
        .map(|i| ((i * 7 + k * 13) % 17) as f64 / 17.0 - 0.45)
        .collect()
}

fn max_err(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
}

fn check(c: &CkksClient, ct: &CkksCt, want: &[f64], tol: f64) {
    let got = c.decrypt(ct).unwrap();
    let err = max_err(&got, want);
    assert!(err < tol, "error {err:e} ≥ {tol:e}");
    // The managed invariant: the scale is the canonical one of the level.
    assert_eq!(ct.scale(), c.server().scale_at(ct.level()).unwrap());
}

#[test]
fn levels_values_and_stats_follow_the_rules() {
    let c = tiny();
    let n = c.slots();
    let max = c.caps().max_level;
    let (a, b) = (input(1, n), input(2, n));
    let x = c.encrypt(&a).unwrap();
    let y = c.encrypt(&b).unwrap();
    assert_eq!(c.level(&x), max);

    let s = c.add(&x, &y).unwrap();
    let want: Vec<f64> = a.iter().zip(&b).map(|(p, q)| p + q).collect();
    assert_eq!(c.level(&s), max);
    check(&c, &s, &want, 1e-5);

    let m = c.mul_plain(&x, &b).unwrap();
    let want_m: Vec<f64> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
    assert_eq!(c.level(&m), max - 1);
    check(&c, &m, &want_m, 1e-5);

    let free = c.mul_scalar(&x, -3.0).unwrap();
    assert_eq!(c.level(&free), max);
    check(
        &c,
        &free,
        &a.iter().map(|v| -3.0 * v).collect::<Vec<_>>(),
        1e-5,
    );

    let costly = c.mul_scalar(&x, 0.3).unwrap();
    assert_eq!(c.level(&costly), max - 1);
    check(
        &c,
        &costly,
        &a.iter().map(|v| 0.3 * v).collect::<Vec<_>>(),
        1e-5,
    );

    // Mixed levels: the higher operand is brought down exactly.
    let mixed = c.sub(&y, &m).unwrap();
    assert_eq!(c.level(&mixed), max - 1);
    let want_mixed: Vec<f64> = b.iter().zip(&want_m).map(|(p, q)| p - q).collect();
    check(&c, &mixed, &want_mixed, 1e-5);

    let before = c.stats();
    let p = c.mul(&y, &m).unwrap();
    let d = c.stats() - before;
    assert_eq!((d.key_switches, d.mults, d.rescales), (1, 1, 1));
    assert_eq!(c.level(&p), max - 2);
    let want_p: Vec<f64> = b.iter().zip(&want_m).map(|(p, q)| p * q).collect();
    check(&c, &p, &want_p, 1e-5);

    let before = c.stats();
    let r = c.rotate(&p, 1).unwrap();
    let l = c.rotate(&p, -1).unwrap();
    let same = c.rotate(&p, n as i64).unwrap();
    let d = c.stats() - before;
    assert_eq!((d.key_switches, d.rotations), (2, 2));
    assert_eq!(c.level(&r), max - 2);
    let mut want_r = want_p.clone();
    want_r.rotate_left(1);
    check(&c, &r, &want_r, 1e-5);
    let mut want_l = want_p.clone();
    want_l.rotate_right(1);
    check(&c, &l, &want_l, 1e-5);
    check(&c, &same, &want_p, 1e-5);

    let before = c.stats();
    let hs = c.rotate_hoisted(&x, &[0, 2, -1]).unwrap();
    let d = c.stats() - before;
    assert_eq!((d.key_switches, d.rotations, d.hoisted), (2, 2, 1));
    for (h, k) in hs.iter().zip([0usize, 2, n - 1]) {
        let mut w = a.clone();
        w.rotate_left(k);
        check(&c, h, &w, 1e-5);
    }

    let neg = c
        .neg(&c.add_scalar(&c.add_plain(&x, &b).unwrap(), 0.25).unwrap())
        .unwrap();
    assert_eq!(c.level(&neg), max);
    let want_neg: Vec<f64> = a.iter().zip(&b).map(|(p, q)| -(p + q + 0.25)).collect();
    check(&c, &neg, &want_neg, 1e-5);
}

#[test]
fn level_exhaustion_is_reported_before_the_engine() {
    let c = tiny();
    let mut x = c.encrypt(&[0.5]).unwrap();
    for _ in 0..c.caps().max_level {
        x = c.mul(&x, &x).unwrap();
    }
    assert_eq!(c.level(&x), 0);
    let err = |r: fhez_backend::Result<CkksCt>| match r {
        Err(BError::LevelExhausted {
            op,
            needed: 1,
            available: 0,
        }) => op,
        other => panic!("expected LevelExhausted, got {other:?}"),
    };
    assert_eq!(err(c.mul(&x, &x)), "mul");
    assert_eq!(err(c.mul_plain(&x, &[1.0])), "mul_plain");
    assert_eq!(err(c.mul_scalar(&x, 0.5)), "mul_scalar");
    assert_eq!(err(c.linear_combination(&[&x], &[0.5])), "mul_scalar");
    // Free operations still work at level 0.
    let y = c.mul_scalar(&c.add(&x, &x).unwrap(), 4.0).unwrap();
    check(&c, &y, &[8.0 * 0.5f64.powi(8)], 1e-4);
}

#[test]
fn missing_rotation_keys_are_typed_errors() {
    let c = tiny();
    let n = c.slots() as i64;
    let steps: Vec<i64> = c.server_keys().rotation_steps().into_iter().collect();
    assert_eq!(steps, vec![1, 2, n - 1]);
    let x = c.encrypt(&[1.0, 2.0]).unwrap();
    // 3 = 1 + 2 could be composed, but only exact keys are offered (Sim agrees).
    assert!(matches!(
        c.rotate(&x, 3),
        Err(BError::MissingGaloisKey { step: 3 })
    ));
    assert!(matches!(
        c.rotate(&x, -2),
        Err(BError::MissingGaloisKey { step }) if step == n - 2
    ));
    assert!(matches!(
        c.rotate_hoisted(&x, &[1, 4]),
        Err(BError::MissingGaloisKey { step: 4 })
    ));
    assert!(c.caps().rotations.contains(-1, c.slots()));
    assert!(!c.caps().rotations.contains(3, c.slots()));
}

#[test]
fn linear_combination_matches_the_default_level_rule() {
    let c = tiny();
    let n = c.slots();
    let max = c.caps().max_level;
    let plain = Plain::new(n).with_max_level(max);
    let vals: Vec<Vec<f64>> = (0..4).map(|k| input(k, n)).collect();
    // Ciphertexts at levels max, max-1, max-2, max (both backends).
    let fresh: Vec<CkksCt> = vals.iter().map(|v| c.encrypt(v).unwrap()).collect();
    let one = vec![1.0; n];
    let cts = [
        fresh[0].clone(),
        c.mul_plain(&fresh[1], &one).unwrap(),
        c.mul_plain(&c.mul_plain(&fresh[2], &one).unwrap(), &one)
            .unwrap(),
        fresh[3].clone(),
    ];
    let pfresh: Vec<_> = vals.iter().map(|v| plain.encrypt(v).unwrap()).collect();
    let pcts = [
        pfresh[0].clone(),
        plain.mul_plain(&pfresh[1], &one).unwrap(),
        plain
            .mul_plain(&plain.mul_plain(&pfresh[2], &one).unwrap(), &one)
            .unwrap(),
        pfresh[3].clone(),
    ];
    let weight_sets: [[f64; 4]; 6] = [
        [0.5, -0.25, 0.75, 1.5],
        [2.0, -1.0, 3.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.3, 0.0, 2.0, 0.0],
        [1.0, 0.0, 0.0, 0.1],
        [0.0, 0.7, 0.0, 5.0],
    ];
    for w in &weight_sets {
        let refs: Vec<&CkksCt> = cts.iter().collect();
        let prefs: Vec<_> = pcts.iter().collect();
        let got = c.linear_combination(&refs, w).unwrap();
        let want = plain.linear_combination(&prefs, w).unwrap();
        assert_eq!(c.level(&got), plain.level(&want), "weights {w:?}");
        check(&c, &got, &plain.decrypt(&want).unwrap(), 1e-5);
    }
    assert!(matches!(
        c.linear_combination(&[&cts[0]], &[1.0, 2.0]),
        Err(BError::LengthMismatch { .. })
    ));
    assert!(matches!(
        c.linear_combination(&[&cts[0]], &[f64::NAN]),
        Err(BError::NonFinite { index: 0 })
    ));
}

#[test]
fn scales_stay_canonical_through_a_deep_chain() {
    let c = tiny();
    let server = c.server();
    let params = Arc::clone(c.params());
    let delta = params.default_scale();
    // Deviation bound of the ladder: the largest |q_l/Δ − 1|.
    let bound = params
        .q()
        .iter()
        .skip(1)
        .map(|&q| (q as f64 / delta - 1.0).abs())
        .fold(0.0, f64::max);
    for l in 0..=params.max_level() {
        let s = server.scale_at(l).unwrap();
        assert!((s / delta - 1.0).abs() <= bound, "level {l}");
    }
    assert_eq!(server.scale_at(0), Some(delta));
    // Depth 3 (all levels) mixing ct×ct, plaintext and scalar products, and additions
    // of operands at different levels: every result has the canonical scale.
    let n = c.slots();
    let a = input(5, n);
    let x = c.encrypt(&a).unwrap();
    let x2 = c.mul(&x, &x).unwrap();
    let t = c.add(&c.mul_scalar(&x, 0.5).unwrap(), &x2).unwrap();
    let t = c.mul(&t, &x).unwrap();
    let t = c.sub(&c.mul_plain(&t, &a).unwrap(), &x).unwrap();
    assert_eq!(c.level(&t), 0);
    let want: Vec<f64> = a.iter().map(|v| (0.5 * v + v * v) * v * v - v).collect();
    check(&c, &t, &want, 1e-5);
}

#[test]
fn server_keys_let_a_server_evaluate_for_the_client() {
    let c = tiny();
    let keys = c.server_keys();
    let server = CkksServer::new(Arc::clone(&keys));
    assert_eq!(server.caps(), c.caps());
    assert_eq!(server.stats(), fhez_backend::OpStats::default());
    // Encrypted by the server (public key), evaluated, shipped back, decrypted by the client.
    let x = server.encrypt(&[0.25, -0.5]).unwrap();
    let y = server.mul(&x, &x).unwrap();
    let bytes = server.ct_to_bytes(&y).unwrap();
    let back = c.ct_from_bytes(&bytes, bytes.len()).unwrap();
    assert_eq!(back, y);
    check(&c, &back, &[0.0625, 0.25], 1e-5);
    assert!(matches!(
        c.ct_from_bytes(&bytes, bytes.len() - 1),
        Err(BError::SizeLimit { .. })
    ));
    // A raw ciphertext with a foreign scale is refused.
    let mut raw = y.clone().into_ciphertext();
    raw.set_scale(raw.scale() * 2.0);
    assert!(matches!(server.import(raw), Err(BError::Malformed { .. })));
    // The keys of another parameter set are refused.
    let other = CkksParams::new(&Preset::TinyInsecure.spec().with_log_scale(29)).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let sk = crate::SecretKey::generate(&other, &mut rng).unwrap();
    let pk = sk.public_key(&mut rng).unwrap();
    assert!(
        ServerKeys::new(
            Arc::clone(keys.params()),
            pk,
            keys.relin_key().clone(),
            keys.galois_keys().clone()
        )
        .is_err()
    );
    assert!(!format!("{keys:?}").contains("SecretKey"));
}

#[test]
fn seeded_generation_is_deterministic() {
    let params = CkksParams::new(&Preset::TinyInsecure.spec()).unwrap();
    let keys = |seed| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        CkksClient::generate_with_rng(&params, &[3], &mut rng)
            .unwrap()
            .server_keys()
    };
    let (a, b) = (keys(9), keys(9));
    assert_eq!(a.public_key(), b.public_key());
    assert_eq!(a.galois_keys(), b.galois_keys());
    assert_ne!(a.public_key(), keys(10).public_key());
}

#[test]
fn engine_errors_map_to_typed_backend_errors() {
    let e: BError = crate::Error::MissingGaloisKey { step: 5 }.into();
    assert!(matches!(e, BError::MissingGaloisKey { step: 5 }));
    let e: BError = crate::Error::TooManyValues { len: 9, slots: 8 }.into();
    assert!(matches!(e, BError::TooManyValues { len: 9, slots: 8 }));
    let e: BError = crate::Error::LevelIncrease { from: 1, to: 2 }.into();
    assert!(matches!(e, BError::Engine(_)));
    let c = tiny();
    assert!(matches!(
        c.encrypt(&vec![0.0; c.slots() + 1]),
        Err(BError::TooManyValues { .. })
    ));
    assert!(matches!(
        c.encrypt(&[1.0, f64::INFINITY]),
        Err(BError::NonFinite { index: 1 })
    ));
}

#[test]
fn ladder_deviation_is_bounded_on_every_preset() {
    for preset in Preset::ALL {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let delta = params.default_scale();
        let ladder = scale_ladder(&params);
        assert_eq!(ladder.len(), params.max_level() as usize + 1);
        assert_eq!(ladder.first(), Some(&delta));
        let eps = params
            .q()
            .iter()
            .skip(1)
            .map(|&q| (q as f64 / delta - 1.0).abs())
            .fold(0.0, f64::max);
        for (l, pair) in ladder.windows(2).enumerate() {
            let (lo, hi) = (pair[0], pair[1]);
            // A product of two level-(l+1) scales, rescaled, is the level-l scale.
            let q = params.q()[l + 1] as f64;
            assert!(
                (hi * hi / q / lo - 1.0).abs() < 1e-12,
                "{preset:?} level {l}"
            );
            assert!(
                (hi / delta - 1.0).abs() <= eps,
                "{preset:?} level {}",
                l + 1
            );
        }
        if preset == Preset::N13Qp218 {
            assert!(eps < 1.0 / 1_048_576.0);
        }
    }
}

#[test]
fn shared_decryption_of_a_reply_floods_rounds_and_checks() {
    let c = tiny();
    let slots = c.caps().slots;
    let x = [0.25, -0.5, 0.125];
    let mut values = vec![0.0; slots];
    values[..3].copy_from_slice(&x);
    let ct = c.encrypt(&values).unwrap();
    let sum = c.add(&ct, &ct).unwrap();
    let policy = crate::SharedDecryption::new(4, 256.0, 12, 3).unwrap();
    let got = c.decrypt_shared(&sum, &policy).unwrap();
    let n = c.server().params().n();
    let tolerance = 6.0 * policy.output_std(n, sum.scale()) + 2f64.powi(-13);
    assert_eq!(got.len(), 3);
    for (g, v) in got.iter().zip(x) {
        assert!((g - 2.0 * v).abs() < tolerance, "{g} vs {}", 2.0 * v);
        assert_eq!(g * 4096.0, (g * 4096.0).round());
    }
    // A reply with a value in slot 3 (unused under the policy) is refused.
    let probe = c
        .encrypt(&values.iter().map(|v| v + 0.5).collect::<Vec<_>>())
        .unwrap();
    assert!(matches!(
        c.decrypt_shared(&probe, &policy),
        Err(crate::Error::ReplyRejected {
            slot: 3,
            imaginary: false,
            ..
        })
    ));
}

/// The N = 2^13 secure preset (Δ = 2^40), no rotation keys, generated once.
fn n13() -> CkksClient {
    static CLIENT: OnceLock<CkksClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let params = CkksParams::new(&Preset::N13Qp218.spec()).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(13);
            CkksClient::generate_with_rng(&params, &[], &mut rng).unwrap()
        })
        .with_fresh_stats()
}

/// Lazy relinearization (`product_combinations`) against eager (`mul` per product, then
/// `linear_combinations`): same levels, one key switch per output instead of one per product,
/// and errors under bounds derived from the parameters.
///
/// The bounds, in worst-slot rounding units `e_l = N/Δ_l` (a rounding polynomial `r0 + r1·s`
/// with coefficients in `[−½, ½]` has slot values up to about `N/Δ` over all slots, see
/// `crates/fhez-testkit/tests/ckks.rs`): each input carries `e_top` from encryption, which a
/// square turns into `2|x|·e_top`; the output's own rescale and key switch add `2·e_t`. Eager
/// also rescales every product at `Δ_p` (`e_p` each, weighted by `|w_i|`). Lazy combines the
/// products before any rescale at scale `≈ Δ²`, where rounding (even of the `s²` part, whose
/// slots are `√N` times those of `s`) is negligible, so its bound has no per-product term:
///
/// - eager: `Σ_i |w_ji|·(2|x_i|·e_top + e_p) + 2·e_t`
/// - lazy: `Σ_i |w_ji|·2|x_i|·e_top + 2·e_t`
///
/// Rescaling each 3-polynomial product at `Δ_p` first (the CNN bench's former private
/// pipeline) measures about 2.5e-6 here, 50 times over the lazy bound.
#[test]
fn lazy_relinearization_matches_eager_within_the_noise_bound() {
    let c = n13();
    let params = Arc::clone(c.params());
    let n = c.slots();
    let big_n = params.n() as f64;
    let top = c.caps().max_level;
    let e = |level: u32| big_n / c.server().scale_at(level).unwrap();
    let d_in = 32;
    let d_out = 4;
    let xs: Vec<Vec<f64>> = (0..d_in).map(|k| input(k, n)).collect();
    let cts: Vec<CkksCt> = xs.iter().map(|x| c.encrypt(x).unwrap()).collect();
    let rows: Vec<Vec<f64>> = (0..d_out)
        .map(|j| {
            (0..d_in)
                .map(|i| ((i * 5 + j * 11) % 23) as f64 / 23.0 - 0.5)
                .collect()
        })
        .collect();
    let pairs: Vec<(&CkksCt, &CkksCt)> = cts.iter().map(|x| (x, x)).collect();

    let before = c.stats();
    let lazy = c.product_combinations(&pairs, &rows).unwrap();
    let lazy_stats = c.stats() - before;
    let before = c.stats();
    let squares: Vec<CkksCt> = cts.iter().map(|x| c.mul(x, x).unwrap()).collect();
    let refs: Vec<&CkksCt> = squares.iter().collect();
    let eager = c.linear_combinations(&refs, &rows).unwrap();
    let eager_stats = c.stats() - before;

    assert_eq!(lazy_stats.key_switches, d_out as u64);
    assert_eq!(eager_stats.key_switches, d_in as u64);
    assert_eq!(lazy_stats.mults, eager_stats.mults);
    let (p, t) = (top - 1, top - 2);
    for (j, row) in rows.iter().enumerate() {
        let (l, g) = (&lazy[j], &eager[j]);
        assert_eq!((c.level(l), c.level(g)), (t, t));
        let want: Vec<f64> = (0..n)
            .map(|s| row.iter().zip(&xs).map(|(w, x)| w * x[s] * x[s]).sum())
            .collect();
        let bound = |rescale_units: f64| -> f64 {
            (0..n)
                .map(|s| {
                    row.iter()
                        .zip(&xs)
                        .map(|(w, x)| w.abs() * (2.0 * x[s].abs() * e(top) + rescale_units * e(p)))
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
                + 2.0 * e(t)
        };
        let err_lazy = max_err(&c.decrypt(l).unwrap(), &want);
        let err_eager = max_err(&c.decrypt(g).unwrap(), &want);
        let (b_lazy, b_eager) = (bound(0.0), bound(1.0));
        eprintln!(
            "output {j}: lazy {err_lazy:.3e} (bound {b_lazy:.3e}), eager {err_eager:.3e} (bound {b_eager:.3e})"
        );
        assert!(err_lazy < b_lazy, "lazy {err_lazy:e} ≥ {b_lazy:e}");
        assert!(err_eager < b_eager, "eager {err_eager:e} ≥ {b_eager:e}");
    }
}

/// Multi-output combinations agree with one `linear_combination` per row: same levels and
/// values within the rounding of one extra rescale, for rows landing at different levels.
#[test]
fn linear_combinations_match_single_combinations() {
    let c = tiny();
    let n = c.slots();
    let top = c.caps().max_level;
    let x = c.encrypt(&input(1, n)).unwrap();
    let y = c
        .mul_scalar(&c.encrypt(&input(2, n)).unwrap(), 0.5)
        .unwrap();
    let rows = vec![
        vec![2.0, -3.0],
        vec![0.25, 0.5],
        vec![0.0, 0.0],
        vec![3.0, 0.0],
    ];
    let many = c.linear_combinations(&[&x, &y], &rows).unwrap();
    let levels: Vec<u32> = many.iter().map(|m| c.level(m)).collect();
    assert_eq!(levels, vec![top - 1, top - 2, top, top]);
    for (row, got) in rows.iter().zip(&many) {
        let one = c.linear_combination(&[&x, &y], row).unwrap();
        assert_eq!(c.level(&one), c.level(got));
        let want = c.decrypt(&one).unwrap();
        check(&c, got, &want, 1e-5);
    }
    let err = c.linear_combinations(&[&x, &y], &[vec![1.0]]).unwrap_err();
    assert!(matches!(
        err,
        BError::LengthMismatch {
            expected: 2,
            found: 1,
            ..
        }
    ));
}
