//! The model API: a trained model (file or prefab), training, the plan for a packing, the
//! client (secret key) and the server (public bundle only), and the ciphertext messages
//! between them. Heavy work runs with the GIL released.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use fhez_ckks::{CkksClient, CkksParams, CkksServer};
use fhez_erray::PlainArray;
use fhez_model::bundle;
use fhez_model::model_file::MODEL_FILE_LIMIT;
use fhez_model::{CnnConfig, CtBatch, ModelFile, Task};
use fhez_nn::optim::{Adam, Optimizer};
use fhez_nn::{Graph, PackingChoice, PlanRequest, Tensor, TrainConfig, Trainer};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::arrays::{self, ArrayIn};
use crate::errors::{Attr, Class, OrRaise, Raised, shape_error};

/// Largest message, bundle or model read from bytes by default: 1 GiB, the wire format's
/// default limit (`fhez_ckks::wire::DEFAULT_LIMIT`).
pub(crate) const DEFAULT_LIMIT: usize = 1 << 30;

fn packing_of(name: &str) -> Result<PackingChoice, Raised> {
    match name {
        "batch-in-slots" | "batch" => Ok(PackingChoice::BatchInSlots),
        "single-input" | "single" => Ok(PackingChoice::SingleInput),
        other => Err(Raised::new(
            Class::Model,
            format!("unknown packing `{other}` (batch-in-slots or single-input)"),
        )
        .with("packing", Attr::Str(other.to_owned()))),
    }
}

fn release_of(name: &str) -> Result<fhez_nn::ReleaseChoice, Raised> {
    match name {
        "shared" => Ok(fhez_nn::ReleaseChoice::Shared),
        "private-only" => Ok(fhez_nn::ReleaseChoice::PrivateOnly),
        other => Err(Raised::new(
            Class::Model,
            format!("unknown release policy `{other}` (shared or private-only)"),
        )
        .with("release", Attr::Str(other.to_owned()))),
    }
}

fn packing_name(p: PackingChoice) -> &'static str {
    match p {
        PackingChoice::BatchInSlots => "batch-in-slots",
        PackingChoice::SingleInput => "single-input",
    }
}

fn bytes_utf8<'a>(data: &'a [u8], what: &'static str, limit: usize) -> Result<&'a str, Raised> {
    if data.len() > limit {
        return Err(Raised::new(
            Class::SizeLimit,
            format!(
                "{what} of {} bytes exceeds the limit of {limit} bytes",
                data.len()
            ),
        )
        .with("size", Attr::Int(data.len() as i128))
        .with("limit", Attr::Int(limit as i128)));
    }
    std::str::from_utf8(data).map_err(|e| {
        Raised::new(Class::InvalidBytes, format!("{what}: not UTF-8 ({e})"))
            .with("what", Attr::Str(what.to_owned()))
            .with("reason", Attr::Str("not UTF-8".to_owned()))
    })
}

/// Splits batched inputs `{name: array (n, shape…)}` into per-sample tensors in the order
/// of the graph's `Input` nodes; every input must have the same first axis.
fn samples(
    py: Python<'_>,
    graph: &Graph,
    inputs: &Bound<'_, PyDict>,
) -> PyResult<Vec<Vec<Tensor>>> {
    let mut columns: Vec<Vec<Tensor>> = Vec::new();
    let mut count: Option<usize> = None;
    for id in graph.inputs() {
        let name = graph.name(id);
        let Some(value) = inputs.get_item(name)? else {
            return Err(shape_error(format!("no array for input `{name}`")).into_py(py));
        };
        let a: ArrayIn<'_> = value.extract()?;
        let (shape, data) = arrays::read(&a);
        let Some((&n, per)) = shape.split_first() else {
            return Err(
                shape_error(format!("input `{name}` needs a batch axis first")).into_py(py),
            );
        };
        if *count.get_or_insert(n) != n {
            return Err(shape_error(format!(
                "input `{name}` has {n} samples, the others {}",
                count.unwrap_or(0)
            ))
            .into_py(py));
        }
        let size: usize = per.iter().product();
        let column = data
            .chunks(size.max(1))
            .map(|c| Tensor::new(per.to_vec(), c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .or_raise(py)?;
        columns.push(column);
    }
    let n = count.unwrap_or(0);
    let mut rows: Vec<Vec<Tensor>> = (0..n).map(|_| Vec::with_capacity(columns.len())).collect();
    for column in columns {
        for (row, t) in rows.iter_mut().zip(column) {
            row.push(t);
        }
    }
    Ok(rows)
}

/// Stacks per-sample outputs into one array per name (`(n, shape…)`).
fn stack_outputs<'py>(
    py: Python<'py>,
    outputs: &[fhez_nn::Outputs],
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let mut names: BTreeMap<&str, (Vec<usize>, Vec<f64>)> = BTreeMap::new();
    for out in outputs {
        for (name, t) in out {
            let entry = names
                .entry(name.as_str())
                .or_insert_with(|| (t.shape().to_vec(), Vec::new()));
            if entry.0 != t.shape() {
                return Err(
                    shape_error(format!("output `{name}` changes shape between samples"))
                        .into_py(py),
                );
            }
            entry.1.extend_from_slice(t.data());
        }
    }
    for (name, (shape, data)) in names {
        let mut full = vec![outputs.len()];
        full.extend(shape);
        dict.set_item(name, arrays::from_parts(py, &full, data)?)?;
    }
    Ok(dict)
}

/// A trained (or untrained) model: the graph with its weights, its encrypted inputs, the
/// decrypt boundary, the task (classifier labels or regressor scaling) and the plan
/// request. Load one with `Model.load` / `Model.from_json` / `Model.from_bytes`, or build
/// a prefab with `Model.cnn`.
#[pyclass(module = "fhez")]
pub(crate) struct Model {
    file: ModelFile,
    graph: Graph,
}

impl Model {
    fn from_file(py: Python<'_>, file: ModelFile) -> PyResult<Self> {
        let graph = file.graph().or_raise(py)?;
        Ok(Self { file, graph })
    }

    fn sync_file(&mut self, py: Python<'_>) -> PyResult<()> {
        let fresh = ModelFile::new(
            &self.file.name,
            &self.graph,
            &self
                .file
                .inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
            &self.file.output,
            self.file.task.clone(),
            self.file.plan,
        )
        .or_raise(py)?;
        self.file.graph = fresh.graph;
        Ok(())
    }
}

#[pymethods]
impl Model {
    /// Reads a model file (JSON, at most 64 MiB).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let file = py.detach(|| ModelFile::load(&path)).or_raise(py)?;
        Self::from_file(py, file)
    }

    /// A model from the text of a model file.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let file = bytes_utf8(text.as_bytes(), "model file", MODEL_FILE_LIMIT)
            .map(|_| ModelFile::from_json(text))
            .or_raise(py)?
            .or_raise(py)?;
        Self::from_file(py, file)
    }

    /// A model from the bytes written by `to_bytes` (the model file, UTF-8 JSON).
    #[staticmethod]
    #[pyo3(signature = (data, limit = MODEL_FILE_LIMIT))]
    fn from_bytes(py: Python<'_>, data: &[u8], limit: usize) -> PyResult<Self> {
        let text = bytes_utf8(data, "model file", limit.min(MODEL_FILE_LIMIT)).or_raise(py)?;
        let file = ModelFile::from_json(text).or_raise(py)?;
        Self::from_file(py, file)
    }

    /// The prefab image classifier: `filters` cross-correlations of `kernel` with `stride`
    /// over `input` images, one quadratic ReLU, one dense layer to `classes` logits.
    /// Planned (by default) for batches of `batch` images at `precision_bits` bits.
    #[staticmethod]
    #[pyo3(signature = (
        input = (28, 28), kernel = (7, 7), stride = (3, 3), filters = 4, classes = 10,
        *, labels = None, seed = 0, relu_q = 4.0, batch = 4096, precision_bits = 14,
        magnitude_bits = 8, name = "cnn"
    ))]
    #[expect(
        clippy::too_many_arguments,
        reason = "a Python constructor with keyword arguments"
    )]
    fn cnn(
        py: Python<'_>,
        input: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        filters: usize,
        classes: usize,
        labels: Option<Vec<String>>,
        seed: u64,
        relu_q: f64,
        batch: usize,
        precision_bits: u32,
        magnitude_bits: u32,
        name: &str,
    ) -> PyResult<Self> {
        let config = CnnConfig {
            input: [input.0, input.1],
            kernel: [kernel.0, kernel.1],
            stride: [stride.0, stride.1],
            filters,
            classes,
            relu_q,
        };
        let graph = config.build(seed).or_raise(py)?;
        let labels = labels.unwrap_or_else(|| (0..classes).map(|c| c.to_string()).collect());
        if labels.len() != classes {
            return Err(
                shape_error(format!("{} labels for {classes} classes", labels.len())).into_py(py),
            );
        }
        let request = PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch,
            precision_bits,
            magnitude_bits,
            standard: fhez_nn::SecurityStandard::Standard2018,
            key_budget: None,
        };
        let file = ModelFile::new(
            name,
            &graph,
            &["x"],
            "Decrypt",
            Task::Classifier { labels },
            request,
        )
        .or_raise(py)?;
        Ok(Self { file, graph })
    }

    /// Imports an ONNX network (a path or the file's bytes; at most 16 MiB): conv, dense,
    /// pooling, batch-norm and constant folding, exact polynomials; non-polynomial
    /// activations are replaced by polynomials fitted over the ranges observed on
    /// `calibration` (an array `(n, input shape…)`). The comparison with the exact graph on
    /// the calibration data (and the accuracies, given `labels`) lands in `metrics`.
    #[staticmethod]
    #[pyo3(signature = (
        source, calibration = None, *, labels = None, degree = None, max_error = None,
        name = "onnx", batch = 256, precision_bits = 25, magnitude_bits = 10
    ))]
    #[expect(
        clippy::too_many_arguments,
        reason = "a Python constructor with keyword arguments"
    )]
    fn from_onnx(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        calibration: Option<ArrayIn<'_>>,
        labels: Option<Vec<usize>>,
        degree: Option<usize>,
        max_error: Option<f64>,
        name: &str,
        batch: usize,
        precision_bits: u32,
        magnitude_bits: u32,
    ) -> PyResult<Self> {
        let limit = fhez_onnx::limits::MAX_FILE_BYTES;
        let bytes: Vec<u8> = if let Ok(b) = source.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            let path: PathBuf = source.extract()?;
            py.detach(|| -> Result<Vec<u8>, Raised> {
                let size = std::fs::metadata(&path)
                    .map_err(|e| Raised::new(Class::Fhez, format!("{}: {e}", path.display())))?
                    .len();
                if size > limit as u64 {
                    return Err(Raised::new(
                        Class::SizeLimit,
                        format!(
                            "{} is {size} bytes, over the limit of {limit}",
                            path.display()
                        ),
                    )
                    .with("size", Attr::Int(i128::from(size)))
                    .with(
                        "limit",
                        Attr::Int(i128::try_from(limit).unwrap_or(i128::MAX)),
                    ));
                }
                std::fs::read(&path)
                    .map_err(|e| Raised::new(Class::Fhez, format!("{}: {e}", path.display())))
            })
            .or_raise(py)?
        };
        if bytes.len() > limit {
            return Err(Raised::new(
                Class::SizeLimit,
                format!("ONNX bytes: {} over the limit of {limit}", bytes.len()),
            )
            .into_py(py));
        }
        let calibration = match calibration {
            Some(a) => {
                let (shape, data) = arrays::read(&a);
                let Some((&n, per)) = shape.split_first() else {
                    return Err(
                        shape_error("calibration needs a sample axis first".to_owned()).into_py(py),
                    );
                };
                let size: usize = per.iter().product();
                if n == 0 || size == 0 {
                    return Err(
                        shape_error(format!("calibration of shape {shape:?} is empty")).into_py(py),
                    );
                }
                Some(
                    data.chunks(size)
                        .map(|c| Tensor::new(vec![size], c.to_vec()))
                        .collect::<Result<Vec<_>, _>>()
                        .or_raise(py)?,
                )
            }
            None => None,
        };
        let options = fhez_onnx::ImportOptions {
            calibration,
            labels,
            degree,
            max_error,
            ..fhez_onnx::ImportOptions::default()
        };
        let request = PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch,
            precision_bits,
            magnitude_bits,
            standard: fhez_nn::SecurityStandard::Standard2018,
            key_budget: None,
        };
        let file = py
            .detach(|| {
                fhez_onnx::import(&bytes, &options).and_then(|m| m.model_file(name, request))
            })
            .or_raise(py)?;
        Self::from_file(py, file)
    }

    /// The model file as JSON text.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        self.file.to_json().or_raise(py)
    }

    /// The model file as bytes (UTF-8 JSON), for `Model.from_bytes`.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let text = self.file.to_json().or_raise(py)?;
        Ok(PyBytes::new(py, text.as_bytes()))
    }

    /// Writes the model file.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        self.file.save(&path).or_raise(py)
    }

    /// The model's short name.
    #[getter]
    fn name(&self) -> String {
        self.file.name.clone()
    }

    /// The encrypted inputs: `{name: per-sample shape}`.
    #[getter]
    fn inputs(&self) -> BTreeMap<String, Vec<usize>> {
        self.file
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.shape.clone()))
            .collect()
    }

    /// The name of the `Decrypt` node whose values the server returns.
    #[getter]
    fn output(&self) -> String {
        self.file.output.clone()
    }

    /// The class labels of a classifier, `None` for a regressor.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        match &self.file.task {
            Task::Classifier { labels } => Some(labels.clone()),
            Task::Regressor { .. } | _ => None,
        }
    }

    /// The recorded metrics (accuracy, loss, …).
    #[getter]
    fn metrics(&self) -> BTreeMap<String, f64> {
        self.file.metrics.clone()
    }

    /// Trains on plaintext for `epochs` epochs with Adam (learning rate `lr`), mini-batches
    /// of `batch_size`, shuffled under `seed`. `inputs` maps every `Input` node of the
    /// graph (for the prefab classifier: `x` images `(n, rows, cols)` and `y` class indices
    /// `(n,)`) to an array whose first axis is the sample. `progress(epoch, loss)` is
    /// called after each epoch. Returns the mean training loss of every epoch.
    #[expect(
        clippy::too_many_arguments,
        reason = "a Python method with keyword arguments"
    )]
    #[pyo3(signature = (inputs, *, epochs = 1, batch_size = 32, lr = 0.001, seed = 0, progress = None))]
    fn train(
        &mut self,
        py: Python<'_>,
        inputs: &Bound<'_, PyDict>,
        epochs: usize,
        batch_size: usize,
        lr: f64,
        seed: u64,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<f64>> {
        let data = samples(py, &self.graph, inputs)?;
        let config = TrainConfig {
            batch_size: batch_size.max(1),
            seed,
            shuffle: true,
            optimizer: Optimizer::Adam(Adam {
                alpha: lr,
                ..Adam::default()
            }),
        };
        let mut trainer = Trainer::new(&self.graph, config);
        let mut losses = Vec::with_capacity(epochs);
        for epoch in 1..=epochs {
            let graph = &mut self.graph;
            let loss = py.detach(|| trainer.epoch(graph, &data)).or_raise(py)?;
            losses.push(loss);
            if let Some(f) = &progress {
                f.call1((epoch, loss))?;
            }
            py.check_signals()?;
        }
        self.sync_file(py)?;
        Ok(losses)
    }

    /// Plaintext inference: `inputs` as for `train` (inputs the outputs do not need may be
    /// left out); returns `{output name: array (n, shape…)}` of every harvested output.
    fn infer<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut named: Vec<(String, Vec<usize>, Vec<f64>)> = Vec::new();
        for (k, v) in inputs.iter() {
            let name: String = k.extract()?;
            let a: ArrayIn<'_> = v.extract()?;
            let (shape, data) = arrays::read(&a);
            named.push((name, shape, data));
        }
        let graph = &self.graph;
        let outputs = py
            .detach(|| {
                let n = named
                    .first()
                    .and_then(|(_, s, _)| s.first().copied())
                    .unwrap_or(0);
                (0..n)
                    .map(|i| {
                        let sample = named
                            .iter()
                            .map(|(name, shape, data)| {
                                let per: Vec<usize> = shape.iter().skip(1).copied().collect();
                                let size: usize = per.iter().product();
                                let values = data
                                    .get(i * size..(i + 1) * size)
                                    .ok_or(fhez_nn::Error::InputCount {
                                        expected: n,
                                        found: shape.first().copied().unwrap_or(0),
                                    })?
                                    .to_vec();
                                Ok((name.as_str(), Tensor::new(per, values)?))
                            })
                            .collect::<fhez_nn::Result<Vec<_>>>()?;
                        graph.infer(&sample)
                    })
                    .collect::<fhez_nn::Result<Vec<_>>>()
            })
            .or_raise(py)?;
        stack_outputs(py, &outputs)
    }

    /// Plans the model for a packing: `"batch-in-slots"` (throughput: `batch` samples per
    /// ciphertext, default the model file's) or `"single-input"` (latency: one sample per
    /// ciphertext). The plan runs on the level simulator and picks secure parameters.
    /// `key_budget` (single-input): at most that many Galois keys, the other rotation steps
    /// composed from them as the plan records (default: the model file's, else one key
    /// per step).
    /// `release`: `"shared"` (the default unless the model file names another: decryptions
    /// may be shown to anyone, flooded) or `"private-only"` (decryptions never leave the
    /// client: no flooding, a smaller scale and ring; see SECURITY.md).
    #[pyo3(signature = (packing = "batch-in-slots", *, batch = None, precision_bits = None, key_budget = None, release = None))]
    fn plan(
        &self,
        py: Python<'_>,
        packing: &str,
        batch: Option<usize>,
        precision_bits: Option<u32>,
        key_budget: Option<usize>,
        release: Option<&str>,
    ) -> PyResult<EncryptedModel> {
        let choice = packing_of(packing).or_raise(py)?;
        let mut request = self.file.plan;
        if let Some(r) = release {
            request.release = release_of(r).or_raise(py)?;
        }
        if let Some(b) = batch {
            request.batch = b;
        }
        request.key_budget = key_budget.or(request.key_budget);
        if let Some(p) = precision_bits {
            request.precision_bits = p;
        }
        let graph = self.graph.clone();
        let model = py
            .detach(|| fhez_model::EncryptedModel::with_packing(graph, &request, choice))
            .or_raise(py)?;
        Ok(EncryptedModel {
            inner: Arc::new(Planned {
                model,
                file: self.file.clone(),
            }),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(name={:?}, inputs={:?}, output={:?}, nodes={})",
            self.file.name,
            self.file
                .inputs
                .iter()
                .map(|i| (&i.name, &i.shape))
                .collect::<Vec<_>>(),
            self.file.output,
            self.graph.len()
        )
    }
}

/// A model with its plan (shared by the client and the server objects made from it).
pub(crate) struct Planned {
    pub(crate) model: fhez_model::EncryptedModel,
    pub(crate) file: ModelFile,
}

/// A model planned for one packing: the parameters, levels and rotation keys it needs.
/// Make the client with `keygen`, the server with `Server(model, public_bundle)`.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct EncryptedModel {
    pub(crate) inner: Arc<Planned>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PlannedBytes {
    model: ModelFile,
    plan: fhez_nn::Plan,
    batch: usize,
}

#[pymethods]
impl EncryptedModel {
    /// The packing: `"batch-in-slots"` or `"single-input"`.
    #[getter]
    fn packing(&self) -> &'static str {
        packing_name(self.inner.model.packing())
    }

    /// The largest batch planned for (1 for single-input).
    #[getter]
    fn batch(&self) -> usize {
        self.inner.model.batch()
    }

    /// Multiplicative depth of the plan (levels a fresh ciphertext needs).
    #[getter]
    fn depth(&self) -> u32 {
        self.inner.model.plan().depth
    }

    /// log2 of the ring degree of the planned parameters.
    #[getter]
    fn log_n(&self) -> u32 {
        self.inner.model.plan().log_n
    }

    /// The release policy of the client's decryptions: `"shared"` (flooded) or
    /// `"private-only"` (no flooding: never show a decryption to anyone).
    #[getter]
    fn release(&self) -> Option<&'static str> {
        self.inner.model.plan().release().map(|r| r.choice().name())
    }

    /// Bits after the binary point the plan promises for decrypted outputs.
    #[getter]
    fn precision_bits(&self) -> Option<u32> {
        self.inner
            .model
            .plan()
            .release()
            .map(|r| r.precision_bits())
    }

    /// The rotation steps the server needs keys for.
    #[getter]
    fn rotation_steps(&self) -> Vec<i64> {
        self.inner
            .model
            .plan()
            .rotation_steps
            .iter()
            .copied()
            .collect()
    }

    /// The plan as JSON (parameters, levels, per-node costs).
    fn plan_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string_pretty(self.inner.model.plan())
            .map_err(|e| Raised::new(Class::Fhez, format!("plan JSON: {e}")).into_py(py))
    }

    /// The model file with its plan as bytes (UTF-8 JSON), for `EncryptedModel.from_bytes`:
    /// a server rebuilds the same plan without planning again.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let doc = PlannedBytes {
            model: self.inner.file.clone(),
            plan: self.inner.model.plan().clone(),
            batch: self.inner.model.batch(),
        };
        let text = serde_json::to_vec(&doc)
            .map_err(|e| Raised::new(Class::Fhez, format!("plan JSON: {e}")).into_py(py))?;
        Ok(PyBytes::new(py, &text))
    }

    /// Reads the bytes written by `to_bytes`.
    #[staticmethod]
    #[pyo3(signature = (data, limit = MODEL_FILE_LIMIT))]
    fn from_bytes(py: Python<'_>, data: &[u8], limit: usize) -> PyResult<Self> {
        let text = bytes_utf8(data, "planned model", limit.min(MODEL_FILE_LIMIT)).or_raise(py)?;
        let doc: PlannedBytes = serde_json::from_str(text).map_err(|e| {
            Raised::new(Class::InvalidBytes, format!("planned model: {e}"))
                .with("what", Attr::Str("planned model".to_owned()))
                .with("reason", Attr::Str(e.to_string()))
                .into_py(py)
        })?;
        // The model file is validated as when read from a file (limits, graph).
        let file = ModelFile::from_json(&doc.model.to_json().or_raise(py)?).or_raise(py)?;
        let graph = file.graph().or_raise(py)?;
        let model = fhez_model::EncryptedModel::with_plan(graph, doc.plan, doc.batch);
        Ok(Self {
            inner: Arc::new(Planned { model, file }),
        })
    }

    /// **Client.** Generates a secret key and the public bundle (public, relinearization and
    /// exactly the planned rotation keys) for the plan's secure parameters.
    ///
    /// `insecure_log_n` replaces the ring degree by `2**insecure_log_n` and switches the
    /// security check off: TOY PARAMETERS THAT PROTECT NOTHING, for tests only.
    #[pyo3(signature = (*, insecure_log_n = None))]
    fn keygen(&self, py: Python<'_>, insecure_log_n: Option<u32>) -> PyResult<Client> {
        let inner = Arc::clone(&self.inner);
        let client = py
            .detach(|| {
                let mut spec = inner.model.spec();
                if let Some(log_n) = insecure_log_n {
                    spec = fhez_ckks::CkksParamsSpec { log_n, ..spec }.insecure_for_testing();
                }
                let params = CkksParams::new(&spec)?;
                inner.model.keygen(&params)
            })
            .or_raise(py)?;
        Ok(Client {
            model: Arc::clone(&self.inner),
            keys: client,
            insecure: insecure_log_n.is_some(),
        })
    }

    fn __repr__(&self) -> String {
        let plan = self.inner.model.plan();
        format!(
            "EncryptedModel(name={:?}, packing={:?}, release={:?}, batch={}, log_n={}, depth={}, rotations={})",
            self.inner.file.name,
            packing_name(plan.packing),
            self.release().unwrap_or("none"),
            self.inner.model.batch(),
            plan.log_n,
            plan.depth,
            plan.rotation_steps.len()
        )
    }
}

/// Named inputs `{name: array}` (or one array for the model's only input) as plain arrays.
fn named_inputs(
    py: Python<'_>,
    planned: &Planned,
    inputs: &Bound<'_, PyAny>,
) -> PyResult<Vec<(String, PlainArray)>> {
    if let Ok(dict) = inputs.cast::<PyDict>() {
        let mut out = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let a: ArrayIn<'_> = v.extract()?;
            out.push((k.extract::<String>()?, arrays::plain(py, &a)?));
        }
        return Ok(out);
    }
    let a: ArrayIn<'_> = inputs.extract()?;
    let [only] = planned.file.inputs.as_slice() else {
        return Err(shape_error(format!(
            "the model has {} encrypted inputs: pass a dict {{name: array}}",
            planned.file.inputs.len()
        ))
        .into_py(py));
    };
    Ok(vec![(only.name.clone(), arrays::plain(py, &a)?)])
}

fn decrypted_dict<'py>(
    py: Python<'py>,
    planned: &Planned,
    values: Vec<(fhez_nn::NodeId, PlainArray)>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (id, x) in values {
        dict.set_item(planned.model.graph().name(id), arrays::to_numpy(py, x)?)?;
    }
    Ok(dict)
}

/// **The client**: holds the secret key. Encrypts inputs, decrypts the server's replies,
/// publishes the public bundle. The secret key never appears in a `repr` and the object
/// never pickles; `secret_key_bytes()` is the one explicit way out.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Client {
    model: Arc<Planned>,
    keys: CkksClient,
    insecure: bool,
}

#[pymethods]
impl Client {
    /// The public bundle (public key, relinearization key, the planned rotation keys, the
    /// parameters): all a server needs, nothing that decrypts.
    fn public_bundle<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let keys = self.keys.server_keys();
        let bytes = py
            .detach(|| bundle::public_bundle_to_bytes(&keys))
            .or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The secret key's bytes. SECRET MATERIAL: store it encrypted or not at all.
    fn secret_key_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = self.keys.secret_key().to_secret_bytes();
        PyBytes::new(py, &bytes)
    }

    /// A client from its secret key bytes and its public bundle (as written by
    /// `secret_key_bytes` and `public_bundle`), decrypting under the model's release
    /// policy. `insecure_for_testing` accepts toy parameters (tests only).
    #[staticmethod]
    #[pyo3(signature = (model, secret, bundle, *, insecure_for_testing = false))]
    fn from_bytes(
        py: Python<'_>,
        model: &EncryptedModel,
        secret: &[u8],
        bundle: &[u8],
        insecure_for_testing: bool,
    ) -> PyResult<Self> {
        let secret = zeroize::Zeroizing::new(secret.to_vec());
        let bundle = bundle.to_vec();
        let plan = model.inner.model.plan();
        let keys = py
            .detach(|| -> fhez_model::Result<CkksClient> {
                let policy = fhez_model::plan_release(plan)?;
                let keys = read_bundle(&bundle, DEFAULT_LIMIT, insecure_for_testing)?;
                let params = keys.params();
                let sk = fhez_ckks::SecretKey::from_secret_bytes(params, &secret)?;
                let client = CkksClient::from_parts(Arc::new(sk), keys)?;
                fhez_model::releasing_with(client, &policy)
            })
            .or_raise(py)?;
        Ok(Self {
            model: Arc::clone(&model.inner),
            keys,
            insecure: insecure_for_testing,
        })
    }

    /// Writes the keys into directory `path` as the command line does: `secret.key`
    /// (owner-only), `release.json` (the release policy) and `public/keys.fhez`. Refuses
    /// to overwrite a secret key.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let keys = &self.keys;
        py.detach(|| bundle::save_client_keys(&path, keys))
            .or_raise(py)
    }

    /// Reads keys written by `save` (or by `fhez keygen`), decrypting under the policy the
    /// directory records.
    #[staticmethod]
    #[pyo3(signature = (model, path, *, insecure_for_testing = false))]
    fn load(
        py: Python<'_>,
        model: &EncryptedModel,
        path: PathBuf,
        insecure_for_testing: bool,
    ) -> PyResult<Self> {
        let keys = py
            .detach(|| {
                if insecure_for_testing {
                    bundle::load_client_keys_insecure_for_testing(&path)
                } else {
                    bundle::load_client_keys(&path)
                }
            })
            .or_raise(py)?;
        Ok(Self {
            model: Arc::clone(&model.inner),
            keys,
            insecure: insecure_for_testing,
        })
    }

    /// Encrypts batched inputs: `{name: array (batch, shape…)}`, or one array for a model
    /// with one encrypted input. Returns the message for the server.
    fn encrypt(&self, py: Python<'_>, inputs: &Bound<'_, PyAny>) -> PyResult<Ciphertexts> {
        let named = named_inputs(py, &self.model, inputs)?;
        let (model, keys) = (&self.model.model, &self.keys);
        let batch = py
            .detach(|| {
                let refs: Vec<(&str, PlainArray)> =
                    named.iter().map(|(n, x)| (n.as_str(), x.clone())).collect();
                model.encrypt(keys, &refs)
            })
            .or_raise(py)?;
        Ok(Ciphertexts {
            inner: Arc::new(batch),
        })
    }

    /// Decrypts the server's reply: `{boundary node name: array (batch, shape…)}`.
    fn decrypt<'py>(&self, py: Python<'py>, reply: &Ciphertexts) -> PyResult<Bound<'py, PyDict>> {
        let (model, keys, batch) = (&self.model.model, &self.keys, &reply.inner);
        let values = py.detach(|| model.decrypt(keys, batch)).or_raise(py)?;
        decrypted_dict(py, &self.model, values)
    }

    /// Decrypts the reply and runs the rest of the graph on the client (softmax, argmax,
    /// …): `{output name: array (batch, shape…)}`. `plain_inputs` are batched plaintext
    /// inputs the rest of the graph reads (e.g. labels for a loss).
    #[pyo3(signature = (reply, plain_inputs = None))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        reply: &Ciphertexts,
        plain_inputs: Option<Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut plain = Vec::new();
        if let Some(d) = plain_inputs {
            for (k, v) in d.iter() {
                let a: ArrayIn<'_> = v.extract()?;
                plain.push((k.extract::<String>()?, arrays::plain(py, &a)?));
            }
        }
        let (model, keys, batch) = (&self.model.model, &self.keys, &reply.inner);
        let outputs = py
            .detach(|| {
                let refs: Vec<(&str, PlainArray)> =
                    plain.iter().map(|(n, x)| (n.as_str(), x.clone())).collect();
                model.decrypt_finish(keys, batch, &refs)
            })
            .or_raise(py)?;
        stack_outputs(py, &outputs)
    }

    /// Reads a message (typically the server's reply) under this client's parameters,
    /// refusing more than `limit` bytes.
    #[pyo3(signature = (data, limit = DEFAULT_LIMIT))]
    fn read(&self, py: Python<'_>, data: &[u8], limit: usize) -> PyResult<Ciphertexts> {
        let server = self.keys.server();
        read_message(py, &server, data, limit)
    }

    /// The release policy of this client's decryptions: `"shared"` (flooded),
    /// `"private-only"` (no flooding: never show a decryption to anyone), or `None` for an
    /// exact client.
    #[getter]
    fn release(&self) -> Option<&'static str> {
        fhez_model::policy_of(&self.keys).map(|r| r.choice().name())
    }

    /// The model this client was made for.
    #[getter]
    fn model(&self) -> EncryptedModel {
        EncryptedModel {
            inner: Arc::clone(&self.model),
        }
    }

    /// Refuses to pickle: a client holds the secret key; `secret_key_bytes()` is explicit.
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "fhez.Client holds a secret key and does not pickle; use secret_key_bytes() explicitly",
        ))
    }

    fn __repr__(&self) -> String {
        let p = self.keys.params();
        format!(
            "Client(model={:?}, log_n={}, levels={}, release={}, secret=<hidden>{})",
            self.model.file.name,
            p.log_n(),
            p.max_level(),
            self.release().unwrap_or("exact"),
            if self.insecure {
                ", INSECURE toy parameters"
            } else {
                ""
            }
        )
    }
}

fn read_bundle(
    bytes: &[u8],
    limit: usize,
    insecure_for_testing: bool,
) -> fhez_model::Result<Arc<fhez_ckks::ServerKeys>> {
    if insecure_for_testing {
        bundle::public_bundle_from_bytes_insecure_for_testing(bytes, limit)
    } else {
        bundle::public_bundle_from_bytes(bytes, limit)
    }
}

fn read_message(
    py: Python<'_>,
    server: &CkksServer,
    data: &[u8],
    limit: usize,
) -> PyResult<Ciphertexts> {
    let batch = py
        .detach(|| CtBatch::from_bytes(server, data, limit))
        .or_raise(py)?;
    Ok(Ciphertexts {
        inner: Arc::new(batch),
    })
}

/// **The server**: the planned model and a client's public bundle, nothing that decrypts.
/// `Server(model, bundle)` checks every key of the bundle against its parameters;
/// `insecure_for_testing` accepts toy parameters (tests only).
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Server {
    model: Arc<Planned>,
    server: CkksServer,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (model, bundle, *, limit = DEFAULT_LIMIT, insecure_for_testing = false))]
    fn new(
        py: Python<'_>,
        model: &EncryptedModel,
        bundle: &[u8],
        limit: usize,
        insecure_for_testing: bool,
    ) -> PyResult<Self> {
        let keys = py
            .detach(|| read_bundle(bundle, limit, insecure_for_testing))
            .or_raise(py)?;
        Ok(Self {
            model: Arc::clone(&model.inner),
            server: CkksServer::new(keys),
        })
    }

    /// Evaluates the model on the client's message up to the decrypt boundary; returns the
    /// reply for the client.
    fn evaluate(&self, py: Python<'_>, message: &Ciphertexts) -> PyResult<Ciphertexts> {
        let (model, server, batch) = (&self.model.model, &self.server, &message.inner);
        let reply = py.detach(|| model.evaluate(server, batch)).or_raise(py)?;
        Ok(Ciphertexts {
            inner: Arc::new(reply),
        })
    }

    /// Reads a client's message under this server's parameters, refusing more than `limit`
    /// bytes.
    #[pyo3(signature = (data, limit = DEFAULT_LIMIT))]
    fn read(&self, py: Python<'_>, data: &[u8], limit: usize) -> PyResult<Ciphertexts> {
        read_message(py, &self.server, data, limit)
    }

    fn __repr__(&self) -> String {
        let p = self.server.params();
        format!(
            "Server(model={:?}, log_n={}, levels={}, rotation_keys={})",
            self.model.file.name,
            p.log_n(),
            p.max_level(),
            self.server.keys().rotation_steps().len()
        )
    }
}

/// A message of named ciphertext arrays between client and server. `to_bytes()` for any
/// transport; read with `Server.read` / `Client.read`.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Ciphertexts {
    pub(crate) inner: Arc<CtBatch>,
}

#[pymethods]
impl Ciphertexts {
    /// The message in the wire format.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let batch = &self.inner;
        let bytes = py.detach(|| batch.to_bytes()).or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The names of the arrays, in order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The logical shape of every array, by name.
    #[getter]
    fn shapes(&self) -> BTreeMap<String, Vec<usize>> {
        self.inner
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.shape.clone()))
            .collect()
    }

    /// Total number of ciphertexts.
    #[getter]
    fn num_ciphertexts(&self) -> usize {
        self.inner.num_cts()
    }

    fn __len__(&self) -> usize {
        self.inner.entries.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Ciphertexts(names={:?}, ciphertexts={})",
            self.names(),
            self.inner.num_cts()
        )
    }
}
