//! [`EncryptedModel`]: a trained graph plus its plan, split into the client's and the
//! server's steps.

use std::sync::{Arc, Mutex, PoisonError};

use fhez_backend::Backend;
use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec, CkksServer, ParamsId};
use fhez_erray::{Erray, Gather, Packing, PlainArray};
use fhez_nn::{
    EncRun, Graph, LayoutRole, NodeId, Outputs, PackingChoice, PackingSpec, Plan, PlanRequest,
    TransformCache,
};

use crate::message::CtBatch;
use crate::timed::{NodeTiming, forward_enc_timed_owned};
use crate::{Error, Result, check_params, keygen, spec_from_plan};

/// The server's transform cache and the parameter set it was filled under.
type ServerTransforms = (ParamsId, TransformCache<CkksServer>);

/// A trained [`Graph`] with its [`Plan`] for batches of up to `batch` samples.
///
/// The roles are separated by type: the client steps take a [`CkksClient`] (secret key),
/// the server steps take a [`CkksServer`] only — which has no
/// [`Decrypt`](fhez_backend::Decrypt) impl, so nothing the server runs can decrypt:
///
/// ```compile_fail
/// fn server_peeks(model: &fhez_model::EncryptedModel, server: &fhez_ckks::CkksServer, out: &fhez_model::CtBatch) {
///     let _ = model.decrypt(server, out); // error: expected `&CkksClient`, found `&CkksServer`
/// }
/// ```
///
/// # Examples
///
/// ```
/// use fhez_ckks::{CkksParams, CkksServer};
/// use fhez_erray::PlainArray;
/// use fhez_nn::{Tensor, prefab};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = prefab::cnn_regressor((6, 2), 3, 3, 7)?; // depth 6 (CC, ReLU, Dense, ReLU)
/// let model = fhez_model::EncryptedModel::new(graph, 4, 20)?;
/// // Toy parameters for a doc test: the plan's chain on a smaller ring, insecure.
/// // DISCLAIMER: toy parameters, they protect nothing.
/// let spec = fhez_ckks::CkksParamsSpec { log_n: 10, ..model.spec() }.insecure_for_testing();
/// let client = model.keygen(&CkksParams::new(&spec)?)?;            // client
/// let server = CkksServer::new(client.server_keys());                // server: public keys only
/// let x = PlainArray::from_fn(vec![4, 6, 2], |k| (k % 5) as f64 / 10.0)?;
/// let sent = model.encrypt(&client, &[("x", x.clone())])?;           // client → server
/// let back = model.evaluate(&server, &sent)?;                        // server → client
/// let out = model.decrypt_finish(&client, &back, &[])?;              // client
/// let sample = Tensor::new(vec![6, 2], x.data()[..12].to_vec())?;
/// let want = model.graph().infer(&[("x", sample)])?;
/// assert!((out[0]["y_hat"].item() - want["y_hat"].item()).abs() < 1e-2);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct EncryptedModel {
    graph: Graph,
    plan: Plan,
    batch: usize,
    /// The server's encoded single-input transforms, for the parameter set they were
    /// encoded under (filled by the first evaluation, shared by clones).
    transforms: Arc<Mutex<Option<ServerTransforms>>>,
}

impl EncryptedModel {
    /// Plans `graph` for batches of `batch` samples at `precision_bits` bits of precision
    /// ([`fhez_nn::plan()`]).
    ///
    /// # Errors
    /// Planning errors.
    pub fn new(graph: Graph, batch: usize, precision_bits: u32) -> Result<Self> {
        let plan = fhez_nn::plan(&graph, batch, precision_bits)?;
        Ok(Self::with_plan(graph, plan, batch))
    }

    /// As [`EncryptedModel::new`] with a full [`PlanRequest`].
    ///
    /// # Errors
    /// Planning errors.
    pub fn with_request(graph: Graph, request: &PlanRequest) -> Result<Self> {
        let plan = fhez_nn::plan::plan_with(&graph, request)?;
        Ok(Self::with_plan(graph, plan, request.batch))
    }

    /// Plans `graph` with the chosen packing: [`PackingChoice::BatchInSlots`] as
    /// [`EncryptedModel::with_request`], [`PackingChoice::SingleInput`] (one sample per
    /// ciphertext, `request.batch` ignored) with [`fhez_nn::plan_single_input`]. The client
    /// and server calls are the same for both packings.
    ///
    /// # Errors
    /// Planning errors.
    pub fn with_packing(
        graph: Graph,
        request: &PlanRequest,
        packing: PackingChoice,
    ) -> Result<Self> {
        match packing {
            PackingChoice::BatchInSlots => Self::with_request(graph, request),
            PackingChoice::SingleInput => {
                let plan = fhez_nn::plan_single_input(&graph, request)?;
                Ok(Self::with_plan(graph, plan, 1))
            }
        }
    }

    /// A model from a plan made elsewhere (e.g. loaded from JSON). A single-input plan
    /// always has `batch = 1`.
    #[must_use]
    pub fn with_plan(graph: Graph, plan: Plan, batch: usize) -> Self {
        let batch = match plan.packing {
            PackingChoice::BatchInSlots => batch.max(1),
            PackingChoice::SingleInput => 1,
        };
        Self {
            graph,
            plan,
            batch,
            transforms: Arc::new(Mutex::new(None)),
        }
    }

    /// The server's transform cache for `params`: the one filled so far when it was filled
    /// under the same parameter set, otherwise a new, empty one (replacing it) rotating
    /// through the plan's checked rotation table ([`Plan::rotation_table`]).
    fn transform_cache(
        &self,
        params: ParamsId,
        slots: usize,
    ) -> Result<TransformCache<CkksServer>> {
        let table = self.plan.rotation_table(slots)?;
        let mut slot = self
            .transforms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((id, cache)) if *id == params => Ok(cache.clone()),
            Some(_) | None => {
                let cache = TransformCache::with_rotations(table);
                *slot = Some((params, cache.clone()));
                Ok(cache)
            }
        }
    }

    /// **Server.** Bytes of the single-input transforms encoded so far (their diagonals are
    /// encoded once, at the first evaluation, for the levels the plan meets, and reused by
    /// every later one); 0 before the first evaluation and for batch-in-slots plans.
    #[must_use]
    pub fn prepared_bytes(&self) -> usize {
        self.transforms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |(_, c)| c.plain_bytes())
    }

    /// **Server.** Number of single-input transforms encoded so far (see
    /// [`EncryptedModel::prepared_bytes`]).
    #[must_use]
    pub fn prepared_transforms(&self) -> usize {
        self.transforms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |(_, c)| c.len())
    }

    /// The packing the plan was made for.
    #[must_use]
    pub fn packing(&self) -> PackingChoice {
        self.plan.packing
    }

    /// The graph.
    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The plan.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The largest batch planned for.
    #[must_use]
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The secure parameter spec of the plan ([`spec_from_plan`]).
    #[must_use]
    pub fn spec(&self) -> CkksParamsSpec {
        spec_from_plan(&self.plan)
    }

    /// **Client.** Generates the keys for `params` with exactly the plan's rotation steps.
    ///
    /// # Errors
    /// [`Error::PlanMismatch`] when `params` has too few levels or slots; key-generation
    /// errors.
    pub fn keygen(&self, params: &Arc<CkksParams>) -> Result<CkksClient> {
        keygen(&self.plan, params, self.batch)
    }

    /// **Client.** Encrypts batched inputs `(batch, shape…)` by input name: batch-in-slots,
    /// or for a single-input plan one sample (`batch = 1`) per ciphertext, laid out as the
    /// plan's input layout says.
    ///
    /// # Errors
    /// [`Error::BatchTooLarge`], [`Error::UnknownNode`], encryption errors.
    pub fn encrypt(&self, client: &CkksClient, inputs: &[(&str, PlainArray)]) -> Result<CtBatch> {
        let mut errays = Vec::with_capacity(inputs.len());
        for (name, x) in inputs {
            let packing = self.input_packing(name, x)?;
            let e = match input_gather_of(&self.plan, name, client.slots())? {
                Some(g) => Erray::encrypt_gathered(client, x, &g)?,
                None => Erray::encrypt(client, x, packing)?,
            };
            errays.push((*name, e));
        }
        Ok(CtBatch::from_errays(errays.iter().map(|(n, x)| (*n, x))))
    }

    /// **Client.** As [`EncryptedModel::encrypt`], straight into the message wire format
    /// with seed-compressed ciphertexts (half the bytes of [`CtBatch::to_bytes`]; the
    /// server expands them in [`CtBatch::from_bytes`]).
    ///
    /// # Errors
    /// As [`EncryptedModel::encrypt`].
    pub fn encrypt_seeded_bytes(
        &self,
        client: &CkksClient,
        inputs: &[(&str, PlainArray)],
    ) -> Result<Vec<u8>> {
        for (name, _) in inputs {
            self.graph.id(name).map_err(|_| Error::UnknownNode {
                name: (*name).to_owned(),
            })?;
        }
        encrypt_seeded_with_plan(client, &self.plan, self.batch, inputs)
    }

    /// The packing input `name` is encrypted with ([`input_packing_of`] the plan).
    fn input_packing(&self, name: &str, x: &PlainArray) -> Result<Packing> {
        self.graph.id(name).map_err(|_| Error::UnknownNode {
            name: name.to_owned(),
        })?;
        input_packing_of(&self.plan, self.batch, name, x.shape())
    }

    /// Checks the packing of every entry of `message` against the plan: the plan's layout of
    /// the entry's node in `role` when the plan records one, else the plan's packing. A
    /// batch-in-slots entry fits a batch-in-slots plan (its batch is checked against the
    /// planned batch); a single-input entry fits a single-input plan with the same period
    /// (the period decides where every value sits; for an output the kind alone is checked).
    ///
    /// # Errors
    /// [`Error::PackingMismatch`] naming the node, the planned and the found packing;
    /// [`Error::BatchTooLarge`].
    pub fn check_message(&self, message: &CtBatch, role: LayoutRole) -> Result<()> {
        for e in &message.entries {
            let planned = match self.plan.layout(&e.name, role) {
                Some(l) => l.packing,
                None => match self.plan.packing {
                    PackingChoice::BatchInSlots => PackingSpec::BatchInSlots { batch: self.batch },
                    PackingChoice::SingleInput => PackingSpec::SingleInput { period: 0 },
                },
            };
            let fits = match (planned, e.packing) {
                (PackingSpec::BatchInSlots { .. }, Packing::BatchInSlots { batch }) => {
                    if batch > self.batch {
                        return Err(Error::BatchTooLarge {
                            batch,
                            planned: self.batch,
                        });
                    }
                    true
                }
                (PackingSpec::SingleInput { period: p }, Packing::SingleInput { period }) => {
                    p == period || p == 0 || role == LayoutRole::Output
                }
                (PackingSpec::Flat, Packing::Flat) => true,
                (PackingSpec::BatchInSlots { .. }, Packing::Flat | Packing::SingleInput { .. })
                | (PackingSpec::SingleInput { .. }, Packing::Flat | Packing::BatchInSlots { .. })
                | (PackingSpec::Flat, Packing::BatchInSlots { .. } | Packing::SingleInput { .. }) => {
                    false
                }
            };
            if !fits {
                return Err(Error::PackingMismatch {
                    node: e.name.clone(),
                    planned: describe_spec(planned),
                    found: describe(e.packing),
                });
            }
        }
        Ok(())
    }

    /// **Server.** Evaluates every node up to the decrypt boundary with evaluation keys
    /// only; returns the ciphertexts arriving at each `Decrypt` node (named by it).
    ///
    /// # Errors
    /// [`Error::PlanMismatch`], graph errors naming the node (a `Rotate` — a re-encryption
    /// round trip — is reported as not encryptable: it needs the client).
    pub fn evaluate(&self, server: &CkksServer, inputs: &CtBatch) -> Result<CtBatch> {
        Ok(self.evaluate_timed(server, inputs)?.0)
    }

    /// **Server.** As [`EncryptedModel::evaluate`], also returning each node's wall-clock
    /// time and levels, in execution order.
    ///
    /// # Errors
    /// As [`EncryptedModel::evaluate`].
    pub fn evaluate_timed(
        &self,
        server: &CkksServer,
        inputs: &CtBatch,
    ) -> Result<(CtBatch, Vec<NodeTiming>)> {
        self.evaluate_timed_owned(server, inputs.clone())
    }

    /// **Server.** As [`EncryptedModel::evaluate`], consuming the inputs: each input
    /// ciphertext is freed once the last node reading it ran, as every intermediate is, so
    /// the peak memory is that of the live ciphertexts only (the borrowing form keeps every
    /// input alive in the caller's message).
    ///
    /// # Errors
    /// As [`EncryptedModel::evaluate`].
    pub fn evaluate_owned(&self, server: &CkksServer, inputs: CtBatch) -> Result<CtBatch> {
        Ok(self.evaluate_timed_owned(server, inputs)?.0)
    }

    /// **Server.** As [`EncryptedModel::evaluate_timed`], consuming the inputs
    /// ([`EncryptedModel::evaluate_owned`]).
    ///
    /// # Errors
    /// As [`EncryptedModel::evaluate`].
    pub fn evaluate_timed_owned(
        &self,
        server: &CkksServer,
        inputs: CtBatch,
    ) -> Result<(CtBatch, Vec<NodeTiming>)> {
        check_params(&self.plan, server.params(), self.batch)?;
        self.check_message(&inputs, LayoutRole::Input)?;
        let slots = server.slots();
        let (names, arrays): (Vec<String>, Vec<Erray<CkksServer>>) = inputs
            .into_bound(server)?
            .into_iter()
            .map(|(name, x)| {
                // A gathered input carries no gather on the wire: the plan's is attached.
                let x = match input_gather_of(&self.plan, &name, slots)? {
                    Some(g) => x.with_gather(Arc::new(g))?,
                    None => x,
                };
                Ok((name, x))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let named: Vec<(&str, Erray<CkksServer>)> =
            names.iter().map(String::as_str).zip(arrays).collect();
        let mut refresh = |_: &Erray<CkksServer>| -> fhez_nn::Result<Erray<CkksServer>> {
            Err(fhez_nn::Error::NotEncryptable {
                node: String::new(),
                kind: "rotate",
            })
        };
        let cache = self.transform_cache(server.params().id(), server.slots())?;
        let (run, timings) =
            forward_enc_timed_owned(&self.graph, named, &mut refresh, Some(&cache))?;
        Ok((self.boundary(&run), timings))
    }

    fn boundary(&self, run: &EncRun<CkksServer>) -> CtBatch {
        CtBatch::from_errays(run.boundary.iter().map(|(id, x)| (self.graph.name(*id), x)))
    }

    /// **Client.** Decrypts the boundary values returned by the server for release
    /// ([`Erray::decrypt`] with the client's release policy, which [`EncryptedModel::keygen`]
    /// sets): noise flooding, rounding to the promised precision, and the reply check —
    /// a reply whose unused slots or imaginary parts carry more than the expected noise
    /// (a server probing the client) is refused with the engine's
    /// [`ReplyRejected`](fhez_ckks::Error::ReplyRejected) before anything is revealed.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], decryption errors, the reply rejection.
    pub fn decrypt(
        &self,
        client: &CkksClient,
        outputs: &CtBatch,
    ) -> Result<Vec<(NodeId, PlainArray)>> {
        self.decrypt_with(client, outputs, Erray::decrypt)
    }

    /// **Client, debugging only.** Decrypts the boundary values **exactly**
    /// ([`Erray::decrypt_exact`]): no flooding, rounding or reply check. Exact decryptions
    /// reveal the noise, and enough of them the secret key: never show them to anyone who
    /// may see the ciphertexts.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], decryption errors.
    pub fn decrypt_exact(
        &self,
        client: &CkksClient,
        outputs: &CtBatch,
    ) -> Result<Vec<(NodeId, PlainArray)>> {
        self.decrypt_with(client, outputs, Erray::decrypt_exact)
    }

    fn decrypt_with(
        &self,
        client: &CkksClient,
        outputs: &CtBatch,
        decrypt: fn(&Erray<CkksClient>) -> fhez_erray::Result<PlainArray>,
    ) -> Result<Vec<(NodeId, PlainArray)>> {
        self.check_message(outputs, LayoutRole::Output)?;
        outputs
            .bind(client)?
            .into_iter()
            .map(|(name, x)| {
                let id = self
                    .graph
                    .id(&name)
                    .map_err(|_| Error::UnknownNode { name })?;
                Ok((id, decrypt(&x)?))
            })
            .collect()
    }

    /// **Client.** Decrypts and runs the rest of the graph (softmax, argmax, …) per sample
    /// ([`Graph::finish`]); `plain_inputs` are batched plaintext inputs by name.
    ///
    /// # Errors
    /// As [`EncryptedModel::decrypt`] and [`Graph::finish`].
    pub fn decrypt_finish(
        &self,
        client: &CkksClient,
        outputs: &CtBatch,
        plain_inputs: &[(&str, PlainArray)],
    ) -> Result<Vec<Outputs>> {
        let decrypted = self.decrypt(client, outputs)?;
        Ok(self.graph.finish(&decrypted, plain_inputs)?)
    }
}

/// A packing with its numbers, for [`Error::PackingMismatch`].
fn describe(p: Packing) -> String {
    match p {
        Packing::BatchInSlots { batch } => format!("batch-in-slots (batch {batch})"),
        Packing::SingleInput { period } => format!("single-input (period {period})"),
        Packing::Flat => "flat".to_owned(),
    }
}

/// As [`describe`] for a plan's layout (period 0: the plan records none).
fn describe_spec(p: PackingSpec) -> String {
    match p {
        PackingSpec::BatchInSlots { batch } => format!("batch-in-slots (batch up to {batch})"),
        PackingSpec::SingleInput { period: 0 } => "single-input".to_owned(),
        PackingSpec::SingleInput { period } => format!("single-input (period {period})"),
        PackingSpec::Flat => "flat".to_owned(),
    }
}

/// **Client, with the plan alone.** The packing input `name` with data of `shape` (batch
/// axis first) is encrypted with under `plan`: the plan's input layout of `name` (a
/// batch-in-slots layout takes the data's batch, at most `planned_batch`; a single-input
/// layout takes one sample, with the layout's period), or, for a plan without layouts,
/// the plan's packing.
///
/// # Errors
/// [`Error::BatchTooLarge`].
pub fn input_packing_of(
    plan: &Plan,
    planned_batch: usize,
    name: &str,
    shape: &[usize],
) -> Result<Packing> {
    let batch = shape.first().copied().unwrap_or(1);
    let spec = plan.layout(name, LayoutRole::Input).map(|l| l.packing);
    let planned = match plan.packing {
        PackingChoice::BatchInSlots => planned_batch,
        PackingChoice::SingleInput => 1,
    };
    if batch > planned {
        return Err(Error::BatchTooLarge { batch, planned });
    }
    Ok(match (spec, plan.packing) {
        (Some(PackingSpec::BatchInSlots { .. }), _) | (None, PackingChoice::BatchInSlots) => {
            Packing::BatchInSlots { batch }
        }
        (Some(PackingSpec::SingleInput { period }), _) => Packing::SingleInput { period },
        (Some(PackingSpec::Flat), _) => Packing::Flat,
        (None, PackingChoice::SingleInput) => {
            Packing::single_input(shape.iter().product::<usize>())
        }
    })
}

/// **Client and server, with the plan alone.** The gather input `name` is laid out by under
/// `plan` on a ring of `slots` slots (the plan's input layout's
/// [`gather`](fhez_nn::TensorLayout::gather), checked: a hostile plan's index out of
/// range, layout longer than its period or period beyond the ring is an error here, before
/// anything is allocated for it); `None` for a row-major input or a plan without one.
///
/// # Errors
/// [`Error::Nn`] wrapping the gather's check.
pub fn input_gather_of(plan: &Plan, name: &str, slots: usize) -> Result<Option<Gather>> {
    match plan.layout(name, LayoutRole::Input) {
        Some(l) => Ok(l.checked_gather(slots)?),
        None => Ok(None),
    }
}

/// **Client, with the plan alone.** Encrypts batched inputs `(batch, shape…)` by name as
/// a seed-compressed message laid out as `plan` says ([`input_packing_of`],
/// [`input_gather_of`]); what a client
/// that holds the published plan but no weights sends.
///
/// # Errors
/// [`Error::BatchTooLarge`], layout and encryption errors.
pub fn encrypt_seeded_with_plan(
    client: &CkksClient,
    plan: &Plan,
    planned_batch: usize,
    inputs: &[(&str, PlainArray)],
) -> Result<Vec<u8>> {
    let packed = inputs
        .iter()
        .map(|(name, x)| {
            Ok((
                *name,
                x,
                input_packing_of(plan, planned_batch, name, x.shape())?,
                input_gather_of(plan, name, client.slots())?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    CtBatch::encrypt_seeded_bytes_gathered(client, &packed)
}
