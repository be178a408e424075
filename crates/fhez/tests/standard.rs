//! The planner under the 2024 guideline values: its table is the one the parameter check
//! uses, a 2024 plan passes the 2024 check, and the default (2018) plans do not change.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use fhez::ckks::params::{max_log_qp_128, max_log_qp_128_2024};
use fhez::ckks::{CkksParams, SecurityLevel};
use fhez::nn::plan::{SECURE_LOG_QP, SECURE_LOG_QP_2024, plan_with};
use fhez::nn::{PlanRequest, SecurityStandard, prefab};
use fhez::spec_from_plan;

#[test]
fn planner_tables_are_the_parameter_checks_tables() {
    for (log_n, max) in SECURE_LOG_QP {
        assert_eq!(max_log_qp_128(log_n), Some(max), "2018, N = 2^{log_n}");
    }
    for (log_n, max) in SECURE_LOG_QP_2024 {
        assert_eq!(max_log_qp_128_2024(log_n), Some(max), "2024, N = 2^{log_n}");
    }
}

#[test]
fn a_plan_under_2024_passes_the_2024_check_and_the_default_is_unchanged() {
    // The original's two-group graph (depth 2), batch 4: at 33 and 34 bits of precision its
    // 2018 chain (two 48- or 49-bit primes between 60-bit ones) lands in N = 2^13's gap
    // between the tables (214 < log QP <= 218), elsewhere in the sweep it does not.
    let graph = prefab::basic(1).unwrap();
    let mut differ = 0;
    for (precision_bits, magnitude_bits) in (8..=34).flat_map(|p| (8..=16).map(move |m| (p, m))) {
        let request = PlanRequest {
            release: fhez::nn::ReleaseChoice::Shared,
            batch: 4,
            precision_bits,
            magnitude_bits,
            standard: SecurityStandard::Standard2018,
            key_budget: None,
        };
        let old = plan_with(&graph, &request).unwrap();
        let new = plan_with(
            &graph,
            &PlanRequest {
                standard: SecurityStandard::Guideline2024,
                ..request
            },
        )
        .unwrap();
        // Default plans: the 2018 table and the default security level, as before.
        assert_eq!(old.standard, SecurityStandard::Standard2018);
        assert!(old.log_qp <= max_log_qp_128(old.log_n).unwrap());
        assert_eq!(spec_from_plan(&old).security, SecurityLevel::Tc128);
        // 2024 plans: within the 2024 bound, checked by the engine against the 2024 table.
        assert_eq!(new.standard, SecurityStandard::Guideline2024);
        let bound = max_log_qp_128_2024(new.log_n).unwrap();
        assert!(
            new.log_qp <= bound,
            "{precision_bits}: {} > {bound}",
            new.log_qp
        );
        let spec = spec_from_plan(&new);
        assert_eq!(spec.security, SecurityLevel::Tc128Guideline2024);
        let params = CkksParams::new(&spec).unwrap();
        assert!(params.log_qp() <= f64::from(bound));
        // Same chain shape; a larger ring exactly when the 2018 choice exceeds 2024's bound.
        assert_eq!(new.depth, old.depth);
        if old.log_qp > max_log_qp_128_2024(old.log_n).unwrap() {
            assert!(new.log_n > old.log_n, "{precision_bits}");
            differ += 1;
        } else {
            assert_eq!(new.log_n, old.log_n, "{precision_bits}");
        }
    }
    assert!(differ > 0, "no request in the sweep separates the tables");
}

#[test]
fn the_standard_defaults_to_2018_in_model_files() {
    let absent: PlanRequest =
        serde_json::from_str(r#"{"batch": 4, "precision_bits": 20, "magnitude_bits": 10}"#)
            .unwrap();
    assert_eq!(absent.standard, SecurityStandard::Standard2018);
    let given: PlanRequest = serde_json::from_str(
        r#"{"batch": 4, "precision_bits": 20, "magnitude_bits": 10, "standard": "2024"}"#,
    )
    .unwrap();
    assert_eq!(given.standard, SecurityStandard::Guideline2024);
    assert!(
        serde_json::from_str::<PlanRequest>(
            r#"{"batch": 4, "precision_bits": 20, "magnitude_bits": 10, "standard": "2030"}"#
        )
        .is_err()
    );
}
