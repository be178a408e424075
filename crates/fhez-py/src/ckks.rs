//! The CKKS layer for users' own computations, in the manner of TenSEAL: a `Context`
//! (parameters and keys) and encrypted `Tensor`s (`fhez_erray::Erray` in flat packing)
//! with `+ - *`, `dot`, `matmul`, `sum`, `rotate`, `polyval`. Rescaling, relinearization
//! and level alignment are done by the managed backend (`fhez_backend::Backend`).

use std::collections::BTreeSet;
use std::sync::Arc;

use fhez_backend::Backend;
use fhez_ckks::params::Preset;
use fhez_ckks::{CkksClient, CkksParams, CkksServer};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_model::CtBatch;
use numpy::PyArrayDyn;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::arrays::{self, ArrayIn};
use crate::errors::{Attr, Class, OrRaise, Raised};
use crate::model::{DEFAULT_LIMIT, EncryptedModel};

/// The keys of a context: a client's (secret key included) or a server's (public only).
#[derive(Clone)]
enum Keys {
    Client(CkksClient),
    Server(CkksServer),
}

impl Keys {
    fn params(&self) -> &Arc<CkksParams> {
        match self {
            Keys::Client(c) => c.params(),
            Keys::Server(s) => s.params(),
        }
    }

    fn server(&self) -> CkksServer {
        match self {
            Keys::Client(c) => c.server(),
            Keys::Server(s) => s.clone(),
        }
    }
}

/// A CKKS context: parameters and keys. `Context(preset)` generates a secret key, the
/// relinearization key and rotation keys (by default every power-of-two step, from which
/// any step is composed); `Context.from_plan(model)` makes exactly the keys a planned model
/// needs. `public()` drops the secret key (what a server holds); `public_bundle()` /
/// `Context.from_public_bundle(bytes)` carry it over any transport.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Context {
    keys: Keys,
    insecure: bool,
}

fn power_of_two_steps(slots: usize) -> Vec<i64> {
    let mut steps = Vec::new();
    let mut s = 1usize;
    while s < slots {
        steps.push(i64::try_from(s).unwrap_or(i64::MAX));
        s <<= 1;
    }
    steps
}

#[pymethods]
impl Context {
    /// A client context (secret key included) on a named parameter preset
    /// (`N13_QP218_128`: depth 2, the set of TenSEAL's usual `[60, 40, 40, 60]`;
    /// `N14_QP438_128`: depth 7; `N15_QP881_128`: depth 17; `TINY_INSECURE`: toy, tests
    /// only). `rotations` lists the rotation steps to make keys for (default: every power
    /// of two).
    #[new]
    #[pyo3(signature = (preset = "N13_QP218_128", *, rotations = None))]
    fn new(py: Python<'_>, preset: &str, rotations: Option<Vec<i64>>) -> PyResult<Self> {
        let Some(p) = Preset::from_name(preset) else {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            return Err(Raised::new(
                Class::Fhez,
                format!("unknown preset `{preset}` (one of {})", names.join(", ")),
            )
            .with("preset", Attr::Str(preset.to_owned()))
            .into_py(py));
        };
        let insecure = matches!(p, Preset::TinyInsecure);
        let keys = py
            .detach(|| -> fhez_ckks::Result<CkksClient> {
                let params = CkksParams::new(&p.spec())?;
                let steps = rotations.unwrap_or_else(|| power_of_two_steps(params.slots()));
                CkksClient::generate(&params, &steps)
            })
            .or_raise(py)?;
        Ok(Self {
            keys: Keys::Client(keys),
            insecure,
        })
    }

    /// A client context with exactly the parameters and rotation keys of a planned model
    /// (`insecure_log_n`: toy ring degree, tests only — see `EncryptedModel.keygen`).
    #[staticmethod]
    #[pyo3(signature = (model, *, insecure_log_n = None))]
    fn from_plan(
        py: Python<'_>,
        model: &EncryptedModel,
        insecure_log_n: Option<u32>,
    ) -> PyResult<Self> {
        let inner = Arc::clone(&model.inner);
        let keys = py
            .detach(|| -> fhez_model::Result<CkksClient> {
                let mut spec = inner.model.spec();
                if let Some(log_n) = insecure_log_n {
                    spec = fhez_ckks::CkksParamsSpec { log_n, ..spec }.insecure_for_testing();
                }
                let params = CkksParams::new(&spec)?;
                inner.model.keygen(&params)
            })
            .or_raise(py)?;
        Ok(Self {
            keys: Keys::Client(keys),
            insecure: insecure_log_n.is_some(),
        })
    }

    /// The server's view of this context: the same public keys, no secret key.
    fn public(&self) -> Self {
        Self {
            keys: Keys::Server(self.keys.server()),
            insecure: self.insecure,
        }
    }

    /// The public keys and parameters as bytes (`fhez_model::bundle` format).
    fn public_bundle<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let server = self.keys.server();
        let bytes = py
            .detach(|| fhez_model::bundle::public_bundle_to_bytes(server.keys()))
            .or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A public (server) context from `public_bundle()` bytes, refusing more than `limit`
    /// bytes; every key is checked against the parameters. `insecure_for_testing` accepts
    /// toy parameters (tests only).
    #[staticmethod]
    #[pyo3(signature = (data, *, limit = DEFAULT_LIMIT, insecure_for_testing = false))]
    fn from_public_bundle(
        py: Python<'_>,
        data: &[u8],
        limit: usize,
        insecure_for_testing: bool,
    ) -> PyResult<Self> {
        let keys = py
            .detach(|| {
                if insecure_for_testing {
                    fhez_model::bundle::public_bundle_from_bytes_insecure_for_testing(data, limit)
                } else {
                    fhez_model::bundle::public_bundle_from_bytes(data, limit)
                }
            })
            .or_raise(py)?;
        Ok(Self {
            keys: Keys::Server(CkksServer::new(keys)),
            insecure: insecure_for_testing,
        })
    }

    /// Whether this context holds the secret key (can decrypt).
    #[getter]
    fn is_private(&self) -> bool {
        matches!(self.keys, Keys::Client(_))
    }

    /// Slots per ciphertext (`N / 2`).
    #[getter]
    fn slots(&self) -> usize {
        self.keys.params().slots()
    }

    /// log2 of the ring degree.
    #[getter]
    fn log_n(&self) -> u32 {
        self.keys.params().log_n()
    }

    /// log2 of the default scale: values carry about `log_scale - log_n - 2` bits after
    /// the binary point through a few operations.
    #[getter]
    fn log_scale(&self) -> u32 {
        self.keys.params().log_scale()
    }

    /// The level of a fresh ciphertext (the number of rescales it can take).
    #[getter]
    fn max_level(&self) -> u32 {
        self.keys.params().max_level()
    }

    /// Encrypts an array (row-major over as many ciphertexts as needed). Needs the secret
    /// key's context (a public context cannot encrypt in this API).
    fn encrypt(slf: &Bound<'_, Self>, values: ArrayIn<'_>) -> PyResult<Tensor> {
        let py = slf.py();
        let this = slf.get();
        let Keys::Client(client) = &this.keys else {
            return Err(no_secret("encrypt").into_py(py));
        };
        let x = arrays::plain(py, &values)?;
        let e = py
            .detach(|| Erray::encrypt(client, &x, Packing::Flat))
            .or_raise(py)?;
        Ok(Tensor {
            ctx: slf.clone().unbind(),
            inner: Any::Client(e),
        })
    }

    /// Reads a tensor written by `Tensor.to_bytes` under this context's parameters,
    /// refusing more than `limit` bytes.
    #[pyo3(signature = (data, limit = DEFAULT_LIMIT))]
    fn tensor_from_bytes(slf: &Bound<'_, Self>, data: &[u8], limit: usize) -> PyResult<Tensor> {
        let py = slf.py();
        let this = slf.get();
        let keys = this.keys.clone();
        let inner = py
            .detach(|| -> Result<Any, Raised> {
                let server = keys.server();
                let batch = CtBatch::from_bytes(&server, data, limit)
                    .map_err(|e| crate::errors::from_model(&e))?;
                let [entry] = batch.entries.as_slice() else {
                    return Err(Raised::new(
                        Class::InvalidBytes,
                        format!(
                            "a tensor message holds one array, found {}",
                            batch.entries.len()
                        ),
                    )
                    .with("what", Attr::Str("tensor".to_owned()))
                    .with("reason", Attr::Str("not one array".to_owned())));
                };
                let one = CtBatch {
                    entries: vec![entry.clone()],
                };
                let missing = || Raised::new(Class::InvalidBytes, "empty tensor message".into());
                match &keys {
                    Keys::Client(c) => {
                        let v = one.bind(c).map_err(|e| crate::errors::from_model(&e))?;
                        v.into_iter()
                            .next()
                            .map(|(_, x)| Any::Client(x))
                            .ok_or_else(missing)
                    }
                    Keys::Server(s) => {
                        let v = one.bind(s).map_err(|e| crate::errors::from_model(&e))?;
                        v.into_iter()
                            .next()
                            .map(|(_, x)| Any::Server(x))
                            .ok_or_else(missing)
                    }
                }
            })
            .or_raise(py)?;
        Ok(Tensor {
            ctx: slf.clone().unbind(),
            inner,
        })
    }

    /// Refuses to pickle a private context: it holds the secret key.
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "fhez.Context does not pickle; send public_bundle() bytes (the secret key stays with its owner)",
        ))
    }

    fn __repr__(&self) -> String {
        let p = self.keys.params();
        format!(
            "Context(log_n={}, levels={}, slots={}, {}{})",
            p.log_n(),
            p.max_level(),
            p.slots(),
            if self.is_private() {
                "secret=<hidden>"
            } else {
                "public"
            },
            if self.insecure {
                ", INSECURE toy parameters"
            } else {
                ""
            }
        )
    }
}

fn no_secret(op: &str) -> Raised {
    Raised::new(
        Class::Fhez,
        format!("{op} needs the secret key: this is a public context"),
    )
}

/// An erray on either side.
#[derive(Clone)]
enum Any {
    Client(Erray<CkksClient>),
    Server(Erray<CkksServer>),
}

macro_rules! each {
    ($x:expr, |$e:ident| $body:expr) => {
        match $x {
            Any::Client($e) => ($body).map(Any::Client),
            Any::Server($e) => ($body).map(Any::Server),
        }
    };
}

/// The other operand of an arithmetic operation.
enum Operand {
    Tensor(Any),
    Scalar(f64),
    Plain(PlainArray),
}

/// An encrypted array (row-major in as many ciphertexts as needed). Arithmetic with another
/// tensor, a NumPy array (broadcast) or a number; products rescale and relinearize
/// automatically and operands at different levels are aligned.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Tensor {
    ctx: Py<Context>,
    inner: Any,
}

impl Tensor {
    fn operand(py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Operand> {
        if let Ok(t) = other.cast::<Tensor>() {
            return Ok(Operand::Tensor(t.get().inner.clone()));
        }
        if let Ok(s) = other.extract::<f64>() {
            return Ok(Operand::Scalar(s));
        }
        let a: ArrayIn<'_> = other.extract()?;
        Ok(Operand::Plain(arrays::plain(py, &a)?))
    }

    fn wrap(&self, py: Python<'_>, inner: Any) -> Self {
        Self {
            ctx: self.ctx.clone_ref(py),
            inner,
        }
    }

    fn binary(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: Op) -> PyResult<Self> {
        let rhs = Self::operand(py, other)?;
        let lhs = &self.inner;
        let out = py.detach(|| binary(lhs, &rhs, op)).or_raise(py)?;
        Ok(self.wrap(py, out))
    }

    fn unary(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Any) -> Result<Any, Raised> + Send,
    ) -> PyResult<Self> {
        let x = &self.inner;
        let out = py.detach(|| f(x)).or_raise(py)?;
        Ok(self.wrap(py, out))
    }
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    /// `other - self`.
    RSub,
}

fn er(e: fhez_erray::Error) -> Raised {
    crate::errors::from_erray(&e)
}

fn binary(lhs: &Any, rhs: &Operand, op: Op) -> Result<Any, Raised> {
    let out = match (lhs, rhs) {
        (Any::Client(a), Operand::Tensor(Any::Client(b))) => Any::Client(tt(a, b, op)?),
        (Any::Server(a), Operand::Tensor(Any::Server(b))) => Any::Server(tt(a, b, op)?),
        (_, Operand::Tensor(_)) => {
            return Err(Raised::new(
                Class::Fhez,
                "operands of a private and a public context cannot be combined".into(),
            ));
        }
        (x, Operand::Scalar(s)) => each!(x, |a| tp_scalar(a, *s, op))?,
        (x, Operand::Plain(p)) => each!(x, |a| tp_plain(a, p, op))?,
    };
    Ok(out)
}

fn tt<B: Backend>(a: &Erray<B>, b: &Erray<B>, op: Op) -> Result<Erray<B>, Raised> {
    match op {
        Op::Add => a.add(b),
        Op::Sub => a.sub(b),
        Op::Mul => a.mul(b),
        Op::RSub => b.sub(a),
    }
    .map_err(er)
}

fn tp_scalar<B: Backend>(a: &Erray<B>, s: f64, op: Op) -> Result<Erray<B>, Raised> {
    match op {
        Op::Add => a.add_scalar(s),
        Op::Sub => a.sub_scalar(s),
        Op::Mul => a.mul_scalar(s),
        Op::RSub => a.neg().and_then(|n| n.add_scalar(s)),
    }
    .map_err(er)
}

fn tp_plain<B: Backend>(a: &Erray<B>, p: &PlainArray, op: Op) -> Result<Erray<B>, Raised> {
    match op {
        Op::Add => a.add_plain(p),
        Op::Sub => a.sub_plain(p),
        Op::Mul => a.mul_plain(p),
        Op::RSub => a.neg().and_then(|n| n.add_plain(p)),
    }
    .map_err(er)
}

/// Rotates the slots of a one-ciphertext erray by `steps` in turn (padding cleaned first, so
/// that slots past the data read as zero).
fn rotate<B: Backend>(a: &Erray<B>, steps: &[i64]) -> Result<Erray<B>, Raised> {
    if a.cts().len() != 1 || a.ndim() != 1 {
        return Err(Raised::new(
            Class::Shape,
            format!(
                "rotate needs a 1-d tensor in one ciphertext, got shape {:?} in {} ciphertexts",
                a.shape(),
                a.cts().len()
            ),
        ));
    }
    let clean = a.clean_padding().map_err(er)?;
    let mut cts = clean.cts().to_vec();
    for &step in steps {
        cts = cts
            .iter()
            .map(|ct| clean.backend().rotate(ct, step))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::errors::from_backend(&e))?;
    }
    Erray::from_parts(clean.backend(), a.shape().to_vec(), Packing::Flat, cts).map_err(er)
}

/// The rotations that make a rotation by `step`: the step itself when its key exists,
/// otherwise its binary decomposition into power-of-two steps (all of whose keys must
/// exist).
fn rotation_path(step: i64, slots: usize, keys: &BTreeSet<i64>) -> Result<Vec<i64>, Raised> {
    let n = i64::try_from(slots).unwrap_or(i64::MAX);
    let norm = step.rem_euclid(n.max(1));
    if norm == 0 {
        return Ok(Vec::new());
    }
    if keys.contains(&norm) {
        return Ok(vec![norm]);
    }
    let path: Vec<i64> = (0..63)
        .map(|k| 1i64 << k)
        .filter(|bit| norm & bit != 0)
        .collect();
    if path.iter().all(|s| keys.contains(s)) {
        Ok(path)
    } else {
        Err(Raised::new(
            Class::MissingGaloisKey,
            format!("missing Galois key for rotation step {norm} (nor its power-of-two parts)"),
        )
        .with("step", Attr::Int(i128::from(norm))))
    }
}

/// The rotation steps `x (n,) @ W (n, m)` performs on `slots` slots, found by running it
/// on the level simulator (`fhez_backend::Sim`): make a context with these keys to use
/// `Tensor.matmul` / `Tensor.dot` with a matrix.
#[pyfunction]
pub(crate) fn matmul_rotations(
    py: Python<'_>,
    n: usize,
    m: usize,
    slots: usize,
) -> PyResult<Vec<i64>> {
    // The largest slot count of the parameter sets (N = 2^17); the matrix is allocated
    // only for shapes a flat matmul accepts (both sides at most `slots`).
    const MAX_SLOTS: usize = 1 << 16;
    if slots > MAX_SLOTS || n > slots || m > slots || n == 0 || m == 0 {
        return Err(Raised::new(
            Class::Shape,
            format!("matmul_rotations needs 0 < n, m <= slots <= {MAX_SLOTS}; got n = {n}, m = {m}, slots = {slots}"),
        )
        .into_py(py));
    }
    py.detach(|| -> Result<Vec<i64>, Raised> {
        let sim = fhez_backend::Sim::new(fhez_backend::SimConfig::planning(slots, 4, 40.0))
            .map_err(|e| crate::errors::from_backend(&e))?;
        let x =
            Erray::encrypt(&sim, &PlainArray::from_vec(vec![0.0; n]), Packing::Flat).map_err(er)?;
        // Non-zero weights: a transform skips the rotations of all-zero diagonals.
        let w = PlainArray::new(vec![n, m], vec![1.0; n.saturating_mul(m)]).map_err(er)?;
        x.matmul(&w).map_err(er)?;
        Ok(sim.report().rotation_steps.into_iter().collect())
    })
    .or_raise(py)
}

#[pymethods]
impl Tensor {
    /// Lets `numpy_array + tensor` reach `Tensor.__radd__` instead of broadcasting over an
    /// object array.
    #[classattr]
    fn __array_ufunc__() -> Option<()> {
        None
    }

    /// The logical shape.
    #[getter]
    fn shape(&self) -> Vec<usize> {
        match &self.inner {
            Any::Client(a) => a.shape().to_vec(),
            Any::Server(a) => a.shape().to_vec(),
        }
    }

    /// The current level (rescales left).
    #[getter]
    fn level(&self) -> u32 {
        match &self.inner {
            Any::Client(a) => a.level(),
            Any::Server(a) => a.level(),
        }
    }

    /// The number of ciphertexts.
    #[getter]
    fn num_ciphertexts(&self) -> usize {
        match &self.inner {
            Any::Client(a) => a.cts().len(),
            Any::Server(a) => a.cts().len(),
        }
    }

    /// The context the tensor was made under.
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<Context> {
        self.ctx.clone_ref(py)
    }

    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::Add)
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::Add)
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::Sub)
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::RSub)
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::Mul)
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.binary(py, other, Op::Mul)
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<Self> {
        self.unary(py, |x| each!(x, |a| a.neg().map_err(er)))
    }

    fn __matmul__(&self, py: Python<'_>, w: ArrayIn<'_>) -> PyResult<Self> {
        self.matmul(py, w)
    }

    /// `self @ w` with a plain matrix `w` of shape `(n, m)` (a 1-d tensor of length `n` in
    /// one ciphertext: baby-step giant-step diagonals). The context needs the keys of
    /// `fhez.matmul_rotations(n, m, slots)`.
    fn matmul(&self, py: Python<'_>, w: ArrayIn<'_>) -> PyResult<Self> {
        let w = arrays::plain(py, &w)?;
        self.unary(py, |x| each!(x, |a| a.matmul(&w).map_err(er)))
    }

    /// NumPy `dot` with a plain operand: the inner product over the last axis for a 1-d
    /// `w`, `matmul` for a 2-d `w`.
    fn dot(&self, py: Python<'_>, w: ArrayIn<'_>) -> PyResult<Self> {
        let w = arrays::plain(py, &w)?;
        self.unary(py, |x| each!(x, |a| a.dot(&w).map_err(er)))
    }

    /// The sum of every element (`axis=None`) or along one axis.
    #[pyo3(signature = (axis = None))]
    fn sum(&self, py: Python<'_>, axis: Option<usize>) -> PyResult<Self> {
        self.unary(py, |x| match axis {
            None => each!(x, |a| a.sum().map_err(er)),
            Some(k) => each!(x, |a| a.sum_axis(k).map_err(er)),
        })
    }

    /// Rotates the slots of a 1-d tensor held in one ciphertext: element `i` receives slot
    /// `(i + step) mod slots`, where slots past the tensor's length hold zero (positive
    /// steps rotate left). Uses the key of `step` or, failing that, composes the step from
    /// power-of-two keys (`MissingGaloisKey` when neither exists).
    fn rotate(&self, py: Python<'_>, step: i64) -> PyResult<Self> {
        let ctx = self.ctx.get();
        let keys = match &ctx.keys {
            Keys::Client(c) => c.server_keys().rotation_steps(),
            Keys::Server(s) => s.keys().rotation_steps(),
        };
        let path = rotation_path(step, ctx.keys.params().slots(), &keys).or_raise(py)?;
        self.unary(py, |x| each!(x, |a| rotate(a, &path)))
    }

    /// The polynomial `c[0] + c[1]·x + c[2]·x² + …`, evaluated elementwise at depth
    /// `ceil(log2(degree))` (+1 for non-unit leading terms; see `fhez_erray::poly`).
    fn polyval(&self, py: Python<'_>, coeffs: Vec<f64>) -> PyResult<Self> {
        self.unary(py, |x| each!(x, |a| a.polyval(&coeffs).map_err(er)))
    }

    /// `self ** k` for a positive integer `k` (square-and-multiply).
    fn __pow__(&self, py: Python<'_>, k: u32, modulo: Option<u32>) -> PyResult<Self> {
        if modulo.is_some() {
            return Err(PyTypeError::new_err(
                "pow() with a modulus is not defined for tensors",
            ));
        }
        self.unary(py, |x| each!(x, |a| a.pow(k).map_err(er)))
    }

    /// Decrypts to a NumPy array of the tensor's shape (needs the private context).
    fn decrypt<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let Any::Client(a) = &self.inner else {
            return Err(no_secret("decrypt").into_py(py));
        };
        let x = py.detach(|| a.decrypt()).or_raise(py)?;
        arrays::to_numpy(py, x)
    }

    /// The tensor in the wire format (read back with `Context.tensor_from_bytes`).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let x = &self.inner;
        let bytes = py
            .detach(|| {
                let batch = match x {
                    Any::Client(a) => CtBatch::from_errays([("tensor", a)]),
                    Any::Server(a) => CtBatch::from_errays([("tensor", a)]),
                };
                batch.to_bytes()
            })
            .or_raise(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!(
            "Tensor(shape={:?}, level={}, ciphertexts={})",
            self.shape(),
            self.level(),
            self.num_ciphertexts()
        )
    }
}
