//! The key budget of a single-input plan: which rotation steps get their own Galois key and
//! which compose from others, decided once here and recorded in the plan
//! ([`Plan::rotation_compose`]); keygen generates exactly [`Plan::rotation_steps`] and
//! evaluation rotates through [`Plan::rotation_table`].

use std::collections::{BTreeMap, BTreeSet};

use fhez_backend::{Sim, SimConfig};
use fhez_erray::RotationTable;

use super::{PackingChoice, Plan, SIM_LEVELS, simulate};
use crate::{Error, Graph, Result, TransformCache};

/// Rounds of "pin the steps rotated outside the transforms, choose again" before giving up
/// (each round pins at least one more step).
const PIN_ROUNDS: usize = 4;

impl Plan {
    /// The rotation table evaluation uses on a ring of `ring_slots` slots:
    /// [`RotationTable::exact`] without a key budget, otherwise [`Plan::rotation_compose`]
    /// checked against the generated keys ([`RotationTable::from_parts`]): a plan read from
    /// a file is refused before use when an entry names a step it does not generate, refers
    /// to a composed step, does not sum to its step modulo the slots, or is too long.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] for more key steps than [`fhez_erray::MAX_TABLE_STEPS`];
    /// [`Error::Erray`] (`RotationTable`, `SlotsNotPowerOfTwo`) for a broken table.
    pub fn rotation_table(&self, ring_slots: usize) -> Result<RotationTable> {
        if self.rotation_steps.len() > fhez_erray::MAX_TABLE_STEPS {
            return Err(Error::LimitExceeded {
                what: "rotation key steps in a plan",
                found: self.rotation_steps.len(),
                limit: fhez_erray::MAX_TABLE_STEPS,
            });
        }
        if self.rotation_compose.is_empty() {
            return Ok(RotationTable::exact());
        }
        Ok(RotationTable::from_parts(
            &self.rotation_steps,
            &self.rotation_compose,
            ring_slots,
        )?)
    }
}

/// Re-plans the keys of the single-input `plan` under `budget`: the graph runs on `Sim`
/// once with exact keys, recording every transform's rotations by step; the keys are
/// chosen for that multiset ([`RotationTable::choose`], steps rotated outside the
/// transforms keep their own keys); a second run through the chosen table gives the true
/// per-node rotations and key switches and the keys actually used.
pub(super) fn with_key_budget(
    graph: &Graph,
    mut plan: Plan,
    budget: usize,
    nominal: u32,
) -> Result<Plan> {
    let slots = plan.slots;
    let run = |cache: &TransformCache<Sim>| -> Result<(Vec<super::NodeCost>, BTreeSet<i64>)> {
        let sim = Sim::new(SimConfig::planning(slots, SIM_LEVELS, f64::from(nominal)))?;
        let (_, nodes, _) = simulate(graph, &sim, PackingChoice::SingleInput, 1, Some(cache))?;
        Ok((nodes, sim.report().rotation_steps))
    };
    let exact = TransformCache::recording_rotation_uses();
    let (_, all) = run(&exact)?;
    let uses = exact.rotation_uses();
    let mut pinned: BTreeSet<i64> = all.difference(&key_set(&uses)).copied().collect();
    for _ in 0..PIN_ROUNDS {
        let (table, keys) = RotationTable::choose(&uses, &pinned, budget, slots)?;
        let cache = TransformCache::with_rotations(table.clone());
        let (nodes, used) = run(&cache)?;
        let outside: BTreeSet<i64> = used.difference(&keys).copied().collect();
        if outside.is_empty() {
            plan.nodes = nodes;
            plan.rotation_steps = used;
            plan.rotation_compose = table.entries().clone();
            plan.key_budget = Some(budget);
            plan.rotation_table(slots)?;
            return Ok(plan);
        }
        pinned.extend(outside);
    }
    Err(fhez_erray::Error::KeyBudget {
        budget,
        steps: pinned.len(),
        reason: "the steps rotated outside the transforms did not settle",
    }
    .into())
}

fn key_set(uses: &BTreeMap<i64, u64>) -> BTreeSet<i64> {
    uses.keys().copied().collect()
}
