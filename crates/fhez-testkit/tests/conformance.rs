//! The conformance suite on the in-process backends.

use std::collections::BTreeSet;

use fhez_backend::{Plain, RotationSet, Sim, SimConfig};
use fhez_testkit::backend_suite;

backend_suite!(plain, decrypt: Plain::new(64), tolerance: fhez_testkit::tolerance::exact);
backend_suite!(
    plain_budgeted,
    decrypt: Plain::new(32).with_max_level(3),
    tolerance: fhez_testkit::tolerance::from_log_scale,
);
backend_suite!(sim, accounting_only: Sim::new(SimConfig::planning(64, 4, 40.0)).expect("sim"));
backend_suite!(
    sim_tight,
    accounting_only: Sim::new(SimConfig::planning(16, 2, 30.0)).expect("sim"),
);

/// Strict rotation keys: the suite's rotations are missing, so every rotating case must fail
/// with the same `MissingGaloisKey` on Plain, Sim and the backend.
fn strict_steps() -> BTreeSet<i64> {
    [1, 2, 4].into_iter().collect()
}
backend_suite!(
    plain_strict_keys,
    decrypt: Plain::new(64).with_rotations(RotationSet::Steps(strict_steps())),
    tolerance: fhez_testkit::tolerance::exact,
);
backend_suite!(
    sim_strict_keys,
    accounting_only: Sim::new(SimConfig::strict(64, 4, 40.0, strict_steps())).expect("sim"),
);
