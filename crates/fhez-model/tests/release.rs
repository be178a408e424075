//! Decryption for release is the client's default: `EncryptedModel::decrypt` floods and
//! rounds to the precision the plan promises, refuses a reply a server has probed, and exact
//! decryption is reachable only through `decrypt_exact`.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, reason = "test code")]

use fhez_ckks::{CkksCt, CkksParams, CkksParamsSpec, CkksServer, Complex64, Encoder, Evaluator};
use fhez_erray::PlainArray;
use fhez_model::EncryptedModel;
use fhez_nn::{PlanRequest, ReleaseChoice, ReleasePolicy, SecurityStandard, Tensor, prefab};

type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Adds `value` to slot `slot` of `ct` (what a probing server does to a reply).
fn probe(server: &CkksServer, ct: &CkksCt, slot: usize, value: Complex64) -> TestResult<CkksCt> {
    let params = server.params();
    let mut delta = vec![Complex64::new(0.0, 0.0); slot + 1];
    delta[slot] = value;
    let c = ct.ciphertext();
    let pt = Encoder::new(params).encode_complex(&delta, c.scale(), c.level())?;
    Ok(server.import(Evaluator::new(params).add_plain(c, &pt)?)?)
}

/// Whether `err`'s source chain holds the engine's reply rejection.
fn is_reply_rejection(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut e = Some(err);
    while let Some(x) = e {
        if let Some(fhez_ckks::Error::ReplyRejected { .. }) = x.downcast_ref::<fhez_ckks::Error>() {
            return true;
        }
        e = x.source();
    }
    false
}

#[test]
fn model_decrypts_for_release_and_refuses_a_probed_reply() -> TestResult {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7)?;
    let model = EncryptedModel::new(graph, 4, 20)?;
    let release = model.plan().release().unwrap();
    // The planner records the policy and budgets the flooding in the scale.
    assert_eq!(
        release.stat_security_bits(),
        Some(fhez_nn::plan::STAT_SECURITY_BITS)
    );
    assert_eq!(
        model.plan().log_scale,
        (20 + model.plan().log_n + 2 + fhez_nn::plan::flooding_bits(model.plan().log_n)).min(52)
    );
    // Toy parameters for a test: the plan's chain on a smaller ring, insecure.
    // DISCLAIMER: toy parameters, they protect nothing.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..model.spec()
    }
    .insecure_for_testing();
    let params = CkksParams::new(&spec)?;
    let client = model.keygen(&params)?;
    let policy = client.release().copied().unwrap();
    // The policy is the plan's (not re-derived from the toy parameters).
    let bits = release.precision_bits();
    assert_eq!(policy.precision_bits(), bits);
    assert!(policy.floods());
    assert!(bits >= 8, "{bits} bits promised");
    let server = CkksServer::new(client.server_keys());
    let x = PlainArray::from_fn(vec![4, 6, 2], |k| (k % 5) as f64 / 10.0 - 0.2)?;
    let sent = model.encrypt(&client, &[("x", x.clone())])?;
    let back = model.evaluate(&server, &sent)?;

    // Honest reply: rounded to the promised grid, within 2^-bits of the plaintext forward
    // (six flooding deviations ≤ 2^-(bits+1), rounding ≤ 2^-(bits+1), honest noise far less).
    let out = model.decrypt(&client, &back)?;
    let exact = model.decrypt_exact(&client, &back)?;
    let step = f64::from(bits).exp2();
    let (mut off_grid, mut moved) = (0, 0);
    for b in 0..4 {
        let sample = Tensor::new(vec![6, 2], x.data()[b * 12..(b + 1) * 12].to_vec())?;
        let want = model.graph().infer(&[("x", sample)])?["y_hat"].item();
        let got = out[0].1.data()[b];
        let e = exact[0].1.data()[b];
        assert_eq!((got * step).fract(), 0.0, "{got} not on the 2^-{bits} grid");
        assert!((got - want).abs() <= 1.0 / step, "{got} vs {want}");
        assert!((e - want).abs() <= 1.0 / step, "exact {e} vs {want}");
        off_grid += usize::from((e * step).fract() != 0.0);
        moved += usize::from(got != e);
    }
    assert!(
        off_grid > 0 && moved > 0,
        "the release equals the exact decryption"
    );

    // A probing server adds four times the reply bound to the imaginary part of a slot.
    let entry = &back.entries[0];
    let bound = policy.reply_bound(params.n(), entry.cts[0].scale());
    let mut probed = back.clone();
    probed.entries[0].cts[0] = probe(&server, &entry.cts[0], 1, Complex64::new(0.0, 4.0 * bound))?;
    let err = model.decrypt(&client, &probed).unwrap_err();
    assert!(is_reply_rejection(&err), "not a reply rejection: {err}");
    let err = model.decrypt_finish(&client, &probed, &[]).unwrap_err();
    assert!(is_reply_rejection(&err), "not a reply rejection: {err}");
    // Under the bound (an honest reply's noise can be that large) it is accepted.
    probed.entries[0].cts[0] = probe(&server, &entry.cts[0], 1, Complex64::new(0.0, bound / 4.0))?;
    model.decrypt(&client, &probed)?;
    // The named opt-in decrypts anything exactly.
    probed.entries[0].cts[0] = probe(&server, &entry.cts[0], 1, Complex64::new(0.0, 4.0 * bound))?;
    model.decrypt_exact(&client, &probed)?;
    Ok(())
}

/// A private-only plan (named in the request): keygen takes the plan's policy, decryption
/// is the exact one rounded to the promised bits (no flooding) and still refuses a probed
/// reply; the key directory records the policy, so loading the keys without the plan
/// keeps it.
#[test]
fn a_private_only_plan_rounds_without_flooding_and_its_keys_remember_it() -> TestResult {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7)?;
    let request = PlanRequest {
        release: ReleaseChoice::PrivateOnly,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let model = EncryptedModel::with_request(graph, &request)?;
    let plan = model.plan();
    assert_eq!(plan.log_scale, 20 + plan.log_n + fhez_nn::plan::NOISE_BITS);
    let Some(ReleasePolicy::PrivateOnly { precision_bits, .. }) = plan.release else {
        return Err("the plan does not record the private-only policy".into());
    };
    assert_eq!(precision_bits, 20);
    // DISCLAIMER: toy parameters, they protect nothing.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..model.spec()
    }
    .insecure_for_testing();
    let params = CkksParams::new(&spec)?;
    let client = model.keygen(&params)?;
    let policy = client.release().copied().unwrap();
    assert!(!policy.floods());
    assert_eq!(policy.precision_bits(), 20);
    assert_eq!(fhez_model::policy_of(&client), plan.release);

    let server = CkksServer::new(client.server_keys());
    let x = PlainArray::from_fn(vec![4, 6, 2], |k| (k % 5) as f64 / 10.0 - 0.2)?;
    let back = model.evaluate(&server, &model.encrypt(&client, &[("x", x)])?)?;
    let out = model.decrypt(&client, &back)?;
    let exact = model.decrypt_exact(&client, &back)?;
    let step = 2f64.powi(20);
    for (got, e) in out[0].1.data().iter().zip(exact[0].1.data()) {
        assert_eq!(
            *got,
            (e * step).round() / step,
            "not the exact value rounded"
        );
    }
    let entry = &back.entries[0];
    let bound = policy.reply_bound(params.n(), entry.cts[0].scale());
    let mut probed = back.clone();
    probed.entries[0].cts[0] = probe(&server, &entry.cts[0], 1, Complex64::new(0.0, 4.0 * bound))?;
    let err = model.decrypt(&client, &probed).unwrap_err();
    assert!(is_reply_rejection(&err), "not a reply rejection: {err}");

    // The key directory records the policy; a hostile policy file is a typed error.
    let dir = std::env::temp_dir().join(format!("fhez-release-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    fhez_model::bundle::save_client_keys(&dir, &client)?;
    assert_eq!(fhez_model::bundle::recorded_release(&dir)?, plan.release);
    let loaded = fhez_model::bundle::load_client_keys_insecure_for_testing(&dir)?;
    assert_eq!(loaded.release().copied(), Some(policy));
    std::fs::write(
        dir.join(fhez_model::bundle::RELEASE_FILE),
        br#"{"decryptions": "private-only", "stat_security_bits": 12, "noise_bound_bits": 9, "precision_bits": 20}"#,
    )?;
    assert!(matches!(
        fhez_model::bundle::load_client_keys_insecure_for_testing(&dir),
        Err(fhez_model::Error::Format { .. })
    ));
    // Without the record (a directory from before policies were recorded): shared, from
    // the parameters (flooded, or refused when the scale leaves no bit): never private.
    std::fs::remove_file(dir.join(fhez_model::bundle::RELEASE_FILE))?;
    match fhez_model::bundle::load_client_keys_insecure_for_testing(&dir) {
        Ok(c) => assert!(c.release().is_some_and(|d| d.floods())),
        Err(fhez_model::Error::NoReleasePrecision { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
