#![no_main]
//! `fhez::ModelFile::from_json` (the loader every command and the service share), then
//! planning when the accepted model is small enough to plan within a fuzz iteration.

use fhez::ModelFile;
use libfuzzer_sys::fuzz_target;

/// Batch × widest tensor up to which an accepted model is also planned (planning runs the
/// graph on the simulator, linear in this product).
const PLAN_ELEMENTS: usize = 1 << 12;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = ModelFile::from_json(text) else {
        return;
    };
    let graph = file.graph().expect("an accepted model's graph rebuilds");
    if file.plan.batch.max(1).saturating_mul(graph.widest_tensor()) <= PLAN_ELEMENTS {
        let _ = file.encrypted_model();
    }
});
