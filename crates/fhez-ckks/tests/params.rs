//! Parameter validation: security by default, presets, explicit primes, the level
//! convention and the serde spec.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use fhez_ckks::params::{ParamsWarning, max_log_qp_128, max_log_qp_128_2024};
use fhez_ckks::{CkksParams, CkksParamsSpec, Error, Preset, SecurityLevel};

#[test]
fn every_secure_preset_validates_under_its_bound() {
    for preset in Preset::ALL {
        let p = CkksParams::new(&preset.spec()).unwrap();
        if preset == Preset::TinyInsecure {
            assert_eq!(p.security(), SecurityLevel::InsecureForTesting);
            continue;
        }
        assert_eq!(p.security(), SecurityLevel::Tc128);
        let bound = f64::from(max_log_qp_128(p.log_n()).unwrap());
        assert!(
            p.log_qp() <= bound,
            "{}: {} > {bound}",
            preset.name(),
            p.log_qp()
        );
        assert!(
            p.warnings().is_empty(),
            "{}: {:?}",
            preset.name(),
            p.warnings()
        );
        assert_eq!(
            Preset::from_name(&preset.name().to_lowercase()),
            Some(preset)
        );
    }
}

#[test]
fn insecure_sets_are_rejected_unless_named_opt_in() {
    // SEAL-style [60,40,40,60] at N = 2^12 needs 200 bits; the bound is 109.
    let spec = CkksParamsSpec::from_seal_bits(12, &[60, 40, 40, 60], 40);
    match CkksParams::new(&spec) {
        Err(Error::InsecureParams {
            log_qp,
            max_for_n: 109,
            log_n: 12,
        }) => assert!(log_qp > 199.0 && log_qp < 201.0),
        other => panic!("expected InsecureParams, got {other:?}"),
    }
    let p = CkksParams::new(&spec.insecure_for_testing()).unwrap();
    assert_eq!(p.security(), SecurityLevel::InsecureForTesting);
    // The error message names the numbers.
    let msg = CkksParams::new(&CkksParamsSpec::from_seal_bits(12, &[60, 40, 40, 60], 40))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("109") && msg.contains("2^12"), "{msg}");
}

#[test]
fn exactly_at_the_bound_is_accepted_one_bit_over_is_not() {
    // 218 bits at N = 2^13: 60+60+49 +49 = 218 passes, 219 does not (prime sizes are
    // upper bounds, log2 of a b-bit prime is just under b).
    assert!(
        CkksParams::new(
            &CkksParamsSpec::new(13)
                .with_log_q(&[60, 49, 49])
                .with_log_p(&[60])
        )
        .is_ok()
    );
    assert!(matches!(
        CkksParams::new(
            &CkksParamsSpec::new(13)
                .with_log_q(&[60, 50, 50])
                .with_log_p(&[60])
        ),
        Err(Error::InsecureParams { .. })
    ));
}

#[test]
fn level_convention_fresh_is_max_and_zero_is_last() {
    let p = CkksParams::new(&Preset::N13Qp218.spec()).unwrap();
    assert_eq!(p.max_level(), 2);
    assert_eq!(p.q().len(), 3);
    assert!(p.log_q_at(0) < p.log_q_at(1) && p.log_q_at(1) < p.log_q_at(2));
    assert_eq!(p.slots(), 4096);
}

#[test]
fn explicit_primes_are_checked() {
    let good = CkksParams::new(&Preset::TinyInsecure.spec()).unwrap();
    let q = good.q().to_vec();
    let p = good.p().to_vec();
    let base = CkksParamsSpec::new(10)
        .with_log_scale(30)
        .insecure_for_testing();
    // The resolved spec rebuilds to the same id.
    let again = CkksParams::new(good.spec()).unwrap();
    assert_eq!(again.id(), good.id());
    assert_eq!(
        CkksParams::new(&base.clone().with_q(&q).with_p(&p))
            .unwrap()
            .id(),
        good.id()
    );
    // Not prime, not 1 mod 2N, duplicated.
    for bad_q in [vec![q[0] + 2], vec![(1 << 40) + 1 + 2], vec![q[0], q[0]]] {
        assert!(
            matches!(
                CkksParams::new(&base.clone().with_q(&bad_q).with_p(&p)),
                Err(Error::BadModulus { .. })
            ),
            "{bad_q:?}"
        );
    }
    // A special prime equal to a ciphertext prime.
    assert!(matches!(
        CkksParams::new(&base.clone().with_q(&q).with_p(&q[..1])),
        Err(Error::BadModulus { .. })
    ));
}

#[test]
fn out_of_range_sizes_are_typed_errors() {
    let cases = [
        CkksParamsSpec::new(9)
            .with_log_q(&[30])
            .with_log_p(&[30])
            .insecure_for_testing(),
        CkksParamsSpec::new(18)
            .with_log_q(&[30])
            .with_log_p(&[30])
            .insecure_for_testing(),
        CkksParamsSpec::new(10)
            .with_log_q(&[62])
            .with_log_p(&[30])
            .insecure_for_testing(),
        CkksParamsSpec::new(10)
            .with_log_q(&[])
            .with_log_p(&[30])
            .insecure_for_testing(),
        CkksParamsSpec::new(10)
            .with_log_q(&[30])
            .with_log_p(&[])
            .insecure_for_testing(),
        CkksParamsSpec::new(10)
            .with_log_q(&[40])
            .with_log_p(&[40])
            .with_log_scale(0)
            .insecure_for_testing(),
    ];
    for spec in cases {
        assert!(
            matches!(CkksParams::new(&spec), Err(Error::InvalidParam { .. })),
            "{spec:?}"
        );
    }
}

#[test]
fn warnings_for_weak_special_primes() {
    let spec = CkksParamsSpec::new(13)
        .with_log_q(&[60, 40, 40])
        .with_log_p(&[40])
        .with_log_scale(40);
    let p = CkksParams::new(&spec).unwrap();
    assert!(
        p.warnings()
            .iter()
            .any(|w| matches!(w, ParamsWarning::SmallSpecialModulus { .. }))
    );
}

#[test]
fn spec_json_round_trip_and_unknown_fields_rejected() {
    let spec = Preset::N14Qp438.spec();
    let json = serde_json::to_string(&spec).unwrap();
    let back: CkksParamsSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
    assert!(
        serde_json::from_str::<CkksParamsSpec>(r#"{"log_n":13,"log_scale":40,"bogus":1}"#).is_err()
    );
    // Security defaults to 128-bit when omitted.
    let s: CkksParamsSpec =
        serde_json::from_str(r#"{"log_n":13,"log_q":[60,40,40],"log_p":[60],"log_scale":40}"#)
            .unwrap();
    assert_eq!(s.security, SecurityLevel::Tc128);
}

#[test]
fn hybrid_key_switching_digits() {
    let p = CkksParams::new(&Preset::N15Qp881.spec()).unwrap();
    assert_eq!(p.digit_size(), 2);
    assert_eq!(p.digit_count(), 9);
    let p = CkksParams::new(&Preset::N13Qp218.spec()).unwrap();
    assert_eq!((p.digit_size(), p.digit_count()), (1, 3));
}

#[test]
fn guideline_2024_option_rejects_what_the_2018_table_allows() {
    // 60+40+56 + 60 = 216 bits at N = 2^13: within the 2018 bound (218), above the 2024
    // guideline value (214).
    let spec = CkksParamsSpec::new(13)
        .with_log_q(&[60, 40, 56])
        .with_log_p(&[60]);
    assert!(CkksParams::new(&spec).is_ok());
    match CkksParams::new(
        &spec
            .clone()
            .with_security(SecurityLevel::Tc128Guideline2024),
    ) {
        Err(Error::InsecureParams {
            log_qp,
            max_for_n,
            log_n,
        }) => {
            assert_eq!((max_for_n, log_n), (214, 13));
            assert!(log_qp > 214.0 && log_qp <= 216.0, "{log_qp}");
        }
        other => panic!("expected InsecureParams, got {other:?}"),
    }
    // Every secure preset fits the 2024 values too, and the option changes the id.
    for preset in [Preset::N13Qp218, Preset::N14Qp438, Preset::N15Qp881] {
        let strict = preset
            .spec()
            .with_security(SecurityLevel::Tc128Guideline2024);
        let params = CkksParams::new(&strict).unwrap();
        let bound = max_log_qp_128_2024(params.log_n()).unwrap();
        assert!(params.log_qp() <= f64::from(bound), "{}", preset.name());
        assert_ne!(params.id(), CkksParams::new(&preset.spec()).unwrap().id());
    }
}
