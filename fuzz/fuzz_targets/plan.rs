#![no_main]
//! `fhez::nn::Plan` from JSON (what the service publishes and a client encrypts by), then
//! every input layout's gather checked for the corpus ring (`TensorLayout::checked_gather`)
//! and, for a small input, the client's encryption from the plan alone: a hostile gather
//! (index out of range, longer than its period, period beyond the ring) must be an error
//! before anything is allocated for it; the key-budget rotation table is checked too.

use fhez::backend::Backend;
use fhez::erray::PlainArray;
use fhez::nn::{LayoutRole, Plan};
use libfuzzer_sys::fuzz_target;

/// Input elements up to which an accepted layout is also encrypted.
const ENCRYPT_ELEMENTS: usize = 1 << 12;

fuzz_target!(|data: &[u8]| {
    let Ok(plan) = serde_json::from_slice::<Plan>(data) else {
        return;
    };
    let client = fhez_fuzz::client();
    // A key-budget table naming steps it does not generate, cycles, wrong sums or huge
    // lists is an error, never a panic.
    let _ = plan.rotation_table(client.slots());
    for layout in plan.layouts.iter().filter(|l| l.role == LayoutRole::Input) {
        let checked = layout.checked_gather(client.slots());
        let from_plan = fhez::input_gather_of(&plan, &layout.node, client.slots());
        assert_eq!(checked.is_ok(), from_plan.is_ok(), "one check of one layout");
        let elements = layout
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        if checked.is_ok() && elements.is_some_and(|n| n > 0 && n <= ENCRYPT_ELEMENTS) {
            if let Ok(zeros) = PlainArray::full(layout.shape.clone(), 0.0) {
                let _ = layout.encrypt(client, &zeros);
            }
        }
    }
});
