//! The release policy is a plan value: shared (flooding paid for in the scale) by default,
//! private-only (no flooding bits) by a named opt-out; old plans and model files read as
//! before.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, reason = "test code")]

use std::collections::BTreeSet;

use fhez_nn::plan::{NOISE_BITS, flooding_bits, noise_bound_bits, plan_with};
use fhez_nn::{
    Plan, PlanRequest, Release, ReleaseChoice, ReleasePolicy, SecurityStandard, plan_single_input,
    prefab,
};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn request(release: ReleaseChoice, batch: usize, precision_bits: u32) -> PlanRequest {
    PlanRequest {
        release,
        batch,
        precision_bits,
        magnitude_bits: 20,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    }
}

/// `basic(1)` at 25 bits, depth 2: shared needs 25 + 13 + 2 + 23 = 63 > 52 bits at
/// N = 2^13 (capped: 60 + 2·52 + 60 = 224 > 218) and lands at N = 2^14; private needs
/// 25 + 13 + 2 = 40 bits, so 60 + 2·40 + 60 = 200 ≤ 218 fits N = 2^13 and promises all 25.
#[test]
fn private_only_drops_the_flooding_bits_and_fits_a_smaller_ring() -> TestResult {
    let g = prefab::basic(1)?;
    let shared = plan_with(&g, &request(ReleaseChoice::Shared, 8, 25))?;
    assert_eq!((shared.log_n, shared.log_q.clone()), (14, vec![60, 52, 52]));
    assert_eq!(
        shared.release,
        Some(ReleasePolicy::Shared(Release {
            stat_security_bits: 12,
            noise_bound_bits: noise_bound_bits(14),
            precision_bits: 12,
        }))
    );
    let private = plan_with(&g, &request(ReleaseChoice::PrivateOnly, 8, 25))?;
    assert_eq!(private.log_scale, 25 + 13 + NOISE_BITS);
    assert_eq!(
        (private.log_n, private.log_q.clone(), private.log_p.clone()),
        (13, vec![60, 40, 40], vec![60])
    );
    assert_eq!(private.log_qp, 200);
    assert_eq!(
        private.release,
        Some(ReleasePolicy::PrivateOnly {
            noise_bound_bits: noise_bound_bits(13),
            precision_bits: 25,
        })
    );
    assert_eq!(private.release().map(|r| r.precision_bits()), Some(25));
    assert_eq!(private.release().and_then(|r| r.stat_security_bits()), None);
    // Same circuit: only the numbers of the chain differ.
    assert_eq!(
        (private.depth, &private.rotation_steps),
        (shared.depth, &shared.rotation_steps)
    );
    Ok(())
}

/// `cnn_classifier(10, 1)` at 24 bits, depth 6: private needs a 24 + 14 + 2 = 40-bit
/// scale at N = 2^14 (N = 2^13's 39-bit scale makes 59 + 6·39 + 60 = 353 > 218): 360 bits
/// instead of the shared plan's 432, all 24 bits promised instead of 12.
#[test]
fn private_only_numbers_of_the_cnn_classifier() -> TestResult {
    let g = prefab::cnn_classifier(10, 1)?;
    let p = plan_with(&g, &request(ReleaseChoice::PrivateOnly, 4096, 24))?;
    assert_eq!((p.depth, p.log_n, p.log_scale, p.log_qp), (6, 14, 40, 360));
    assert_eq!(p.log_q, vec![60, 40, 40, 40, 40, 40, 40]);
    assert_eq!(p.release().map(|r| r.precision_bits()), Some(24));
    let shared = plan_with(&g, &request(ReleaseChoice::Shared, 4096, 24))?;
    assert_eq!(
        (shared.log_n, shared.log_scale, shared.log_qp),
        (14, 52, 432)
    );
    // The scale differs by exactly the flooding's bits where neither is capped.
    let (p10, s10) = (
        plan_with(&g, &request(ReleaseChoice::PrivateOnly, 4096, 10))?,
        plan_with(&g, &request(ReleaseChoice::Shared, 4096, 10))?,
    );
    assert_eq!(p10.log_n, s10.log_n);
    assert_eq!(s10.log_scale - p10.log_scale, flooding_bits(14));
    Ok(())
}

/// Single-input plans follow the same rule: `basic(1)` single-input has depth 3; at 14
/// bits private needs a 29-bit scale, 49 + 3·29 + 60 = 196 ≤ 218 at N = 2^13, where shared
/// needs 52 bits (capped), 60 + 3·52 + 60 = 276: N = 2^14.
#[test]
fn single_input_plans_take_the_policy_too() -> TestResult {
    let g = prefab::basic(1)?;
    let private = plan_single_input(&g, &request(ReleaseChoice::PrivateOnly, 1, 14))?;
    let shared = plan_single_input(&g, &request(ReleaseChoice::Shared, 1, 14))?;
    assert_eq!((private.depth, shared.depth), (3, 3));
    assert_eq!((private.log_n, private.log_qp), (13, 196));
    assert_eq!(shared.log_n, 14);
    assert_eq!(
        private.release.map(|r| r.choice()),
        Some(ReleaseChoice::PrivateOnly)
    );
    assert_eq!(
        shared.release.map(|r| r.choice()),
        Some(ReleaseChoice::Shared)
    );
    Ok(())
}

/// Requests and plans written before the opt-out read exactly as before; the shared
/// policy is written as before; the private one must be named and is refused by a
/// reader that knows only [`Release`].
#[test]
fn serde_compatibility_of_requests_and_plans() -> TestResult {
    let old: PlanRequest =
        serde_json::from_str(r#"{"batch": 8, "precision_bits": 25, "magnitude_bits": 20}"#)?;
    assert_eq!(old, request(ReleaseChoice::Shared, 8, 25));
    let written = serde_json::to_value(old)?;
    assert!(written.get("release").is_none(), "shared is not written");
    let named: PlanRequest = serde_json::from_str(
        r#"{"batch": 8, "precision_bits": 25, "magnitude_bits": 20, "release": "private-only"}"#,
    )?;
    assert_eq!(named.release, ReleaseChoice::PrivateOnly);
    assert_eq!(serde_json::to_value(named)?["release"], "private-only");
    assert!(
        serde_json::from_str::<PlanRequest>(
            r#"{"batch": 8, "precision_bits": 25, "magnitude_bits": 20, "release": "private"}"#
        )
        .is_err()
    );

    let g = prefab::basic(1)?;
    let shared = plan_with(&g, &request(ReleaseChoice::Shared, 8, 25))?;
    let json = serde_json::to_value(&shared)?;
    // The shared policy is the old `Release` object, field for field.
    let as_old: Release = serde_json::from_value(json["release"].clone())?;
    assert_eq!(Some(ReleasePolicy::Shared(as_old)), shared.release);
    assert_eq!(
        json["release"]
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect::<BTreeSet<_>>()),
        Some(BTreeSet::from([
            "noise_bound_bits",
            "precision_bits",
            "stat_security_bits"
        ]))
    );
    // An older plan without the field: the shared policy its scale allows.
    let mut absent = json.clone();
    absent.as_object_mut().unwrap().remove("release");
    let read: Plan = serde_json::from_value(absent)?;
    assert_eq!(read.release, None);
    assert_eq!(read.release(), shared.release);

    let private = plan_with(&g, &request(ReleaseChoice::PrivateOnly, 8, 25))?;
    let pj = serde_json::to_value(&private)?;
    assert_eq!(pj["release"]["decryptions"], "private-only");
    assert!(serde_json::from_value::<Release>(pj["release"].clone()).is_err());
    assert_eq!(serde_json::from_value::<Plan>(pj.clone())?, private);
    // Mixed forms are refused: a private policy with flooding bits, a shared one without.
    let mut mixed = pj["release"].clone();
    mixed["stat_security_bits"] = 12.into();
    assert!(serde_json::from_value::<ReleasePolicy>(mixed).is_err());
    let mut bare = json["release"].clone();
    bare.as_object_mut().unwrap().remove("stat_security_bits");
    assert!(serde_json::from_value::<ReleasePolicy>(bare).is_err());
    Ok(())
}
