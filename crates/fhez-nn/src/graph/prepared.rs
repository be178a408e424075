//! Single-input lowering of the linear nodes as one [`LinearTransform`] each
//! ([`SingleLinear`]), and the [`TransformCache`] that keeps them encoded for the levels a
//! model meets, so a server encodes every diagonal once, not per request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use fhez_backend::Backend;
use fhez_erray::{Erray, LinearTransform, PreparedTransform, RotationTable};

use super::NodeId;
use crate::Result;

/// A node's single-input linear map: reshape the input to `input_shape`, apply `transform`
/// (output shape `output_shape`), reshape to the node's output `node_shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct SingleLinear {
    /// The diagonal transform.
    pub transform: LinearTransform,
    /// Shape the input erray is viewed as.
    pub input_shape: Vec<usize>,
    /// Shape of the transform's output.
    pub output_shape: Vec<usize>,
    /// Shape of the node's output erray.
    pub node_shape: Vec<usize>,
}

impl SingleLinear {
    /// Applies the map to `x` (one level), encoding the diagonals for `x`'s level; rotations
    /// go through `table` (the plan's, [`RotationTable::exact`] without a key budget).
    ///
    /// # Errors
    /// Erray errors (shapes, packing, levels, keys).
    pub fn apply<B: Backend>(&self, x: &Erray<B>, table: &RotationTable) -> Result<Erray<B>> {
        let y = x.reshape(&self.input_shape)?.linear_transform(
            &self.transform,
            self.output_shape.clone(),
            table,
        )?;
        Ok(y.reshape(&self.node_shape)?)
    }
}

/// One cached entry: the map's shapes and its diagonals encoded for one level.
#[derive(Debug)]
struct Entry<B: Backend> {
    prepared: PreparedTransform<B>,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    node_shape: Vec<usize>,
}

/// `(node, input level, input period, whether the input is gathered)`.
type Key = (NodeId, u32, usize, bool);

/// Encoded single-input transforms of one graph for one backend, keyed by node, input level
/// and input period, filled on first use by [`Graph::forward_enc_cached`](super::Graph::forward_enc_cached)
/// and shared by clones. It is only valid for the graph (same weights) and the parameter
/// set it was filled with. Its transforms rotate through one [`RotationTable`] (the plan's
/// key-budget decision; [`RotationTable::exact`] by default).
pub struct TransformCache<B: Backend> {
    entries: Arc<Mutex<BTreeMap<Key, Arc<Entry<B>>>>>,
    /// Per outer node of a composed pair: whether the composition was found cheaper.
    decisions: Arc<Mutex<BTreeMap<Key, bool>>>,
    rotations: Arc<RotationTable>,
    /// Rotations by step of every transform applied so far, as with exact keys; `None`
    /// (nothing recorded) unless made by [`TransformCache::recording_rotation_uses`].
    uses: Option<Arc<Mutex<BTreeMap<i64, u64>>>>,
}

impl<B: Backend> Clone for TransformCache<B> {
    fn clone(&self) -> Self {
        Self {
            entries: Arc::clone(&self.entries),
            decisions: Arc::clone(&self.decisions),
            rotations: Arc::clone(&self.rotations),
            uses: self.uses.clone(),
        }
    }
}

impl<B: Backend> Default for TransformCache<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> std::fmt::Debug for TransformCache<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformCache")
            .field("transforms", &self.len())
            .field("plain_bytes", &self.plain_bytes())
            .finish()
    }
}

impl<B: Backend> TransformCache<B> {
    /// An empty cache whose transforms use every rotation step's own key.
    #[must_use]
    pub fn new() -> Self {
        Self::with_rotations(RotationTable::exact())
    }

    /// An empty cache whose transforms rotate through `table` (a plan's
    /// [`Plan::rotation_table`](crate::Plan::rotation_table)).
    #[must_use]
    pub fn with_rotations(table: RotationTable) -> Self {
        Self {
            entries: Arc::new(Mutex::new(BTreeMap::new())),
            decisions: Arc::new(Mutex::new(BTreeMap::new())),
            rotations: Arc::new(table),
            uses: None,
        }
    }

    /// An empty cache with exact keys that also records every applied transform's
    /// rotations by step ([`TransformCache::rotation_uses`]): the planner's first run under
    /// a key budget. Evaluation caches do not record.
    #[must_use]
    pub fn recording_rotation_uses() -> Self {
        Self {
            uses: Some(Arc::new(Mutex::new(BTreeMap::new()))),
            ..Self::new()
        }
    }

    /// The rotation table the transforms use.
    #[must_use]
    pub fn rotations(&self) -> &RotationTable {
        &self.rotations
    }

    /// Rotations by step that the transforms applied so far perform with exact keys (each
    /// application's [`LinearTransform::rotation_uses`]): what a key budget is chosen for.
    /// Empty unless the cache was made by [`TransformCache::recording_rotation_uses`].
    #[must_use]
    pub fn rotation_uses(&self) -> BTreeMap<i64, u64> {
        self.uses.as_ref().map_or_else(BTreeMap::new, |u| {
            u.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Arc<Entry<B>>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of encoded transforms.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is encoded yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Bytes of all encoded diagonals ([`PreparedTransform::plain_bytes`] summed).
    #[must_use]
    pub fn plain_bytes(&self) -> usize {
        self.lock()
            .values()
            .map(|e| e.prepared.plain_bytes())
            .fold(0, usize::saturating_add)
    }

    /// The decision kept for node `id` on inputs like `x` (level, period, gathered), made
    /// by `decide` on first use.
    ///
    /// # Errors
    /// Errors of `decide`.
    pub fn decide(
        &self,
        id: NodeId,
        x: &Erray<B>,
        decide: impl FnOnce() -> Result<bool>,
    ) -> Result<bool> {
        let period = match x.packing() {
            fhez_erray::Packing::SingleInput { period } => period,
            fhez_erray::Packing::Flat | fhez_erray::Packing::BatchInSlots { .. } => 0,
        };
        let key = (id, x.level(), period, x.gather().is_some());
        let known = self
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        match known {
            Some(d) => Ok(d),
            None => {
                let d = decide()?;
                self.decisions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, d);
                Ok(d)
            }
        }
    }

    /// Applies node `id`'s single-input map to `x`: the encoded transform for `x`'s level and
    /// period, built by `plan` and encoded on first use. `Ok(None)` when `plan` gives none
    /// (the node is not a single-input linear map).
    ///
    /// # Errors
    /// Errors of `plan`, of encoding (`LevelExhausted` at level 0) and of the application.
    pub fn apply(
        &self,
        id: NodeId,
        x: &Erray<B>,
        plan: impl FnOnce() -> Result<Option<SingleLinear>>,
    ) -> Result<Option<Erray<B>>> {
        let level = x.level();
        let period = match x.packing() {
            fhez_erray::Packing::SingleInput { period } => period,
            fhez_erray::Packing::Flat | fhez_erray::Packing::BatchInSlots { .. } => {
                return Ok(None);
            }
        };
        let key = (id, level, period, x.gather().is_some());
        let cached = self.lock().get(&key).cloned();
        let entry = match cached {
            Some(e) => e,
            None => {
                let Some(l) = plan()? else {
                    return Ok(None);
                };
                let prepared = l.transform.prepare(x.backend(), level)?;
                let e = Arc::new(Entry {
                    prepared,
                    input_shape: l.input_shape,
                    output_shape: l.output_shape,
                    node_shape: l.node_shape,
                });
                self.lock().insert(key, Arc::clone(&e));
                e
            }
        };
        if let Some(uses) = &self.uses {
            let mut uses = uses.lock().unwrap_or_else(PoisonError::into_inner);
            for (s, c) in entry.prepared.rotation_uses() {
                let e = uses.entry(i64::try_from(s).unwrap_or(0)).or_insert(0);
                *e = e.saturating_add(u64::try_from(c).unwrap_or(u64::MAX));
            }
        }
        let y = x.reshape(&entry.input_shape)?.linear_transform_prepared(
            &entry.prepared,
            entry.output_shape.clone(),
            &self.rotations,
        )?;
        Ok(Some(y.reshape(&entry.node_shape)?))
    }
}
