//! Rust errors as Python exceptions: one class per kind, the numbers as attributes.
//!
//! Every error of the layers is walked down to its cause (a `LevelExhausted` of the CKKS
//! engine arrives wrapped in the backend's `Engine`, an erray error, a graph error naming
//! the node and the model error); the class is chosen from the cause, the message is the
//! whole chain's `Display`, and the numbers of the cause become attributes of the
//! exception (plus `node` when a graph node was named on the way).

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{PyErr, Python, create_exception};

create_exception!(
    fhez,
    FhezError,
    PyException,
    "Base class of every error raised by fhez."
);
create_exception!(
    fhez,
    InvalidBytes,
    FhezError,
    "Bytes that do not decode (truncated, bad magic or version, wrong kind, trailing bytes, \
     bad coefficients). Attributes: `what`, `reason`."
);
create_exception!(
    fhez,
    SizeLimit,
    InvalidBytes,
    "Input larger than the size limit, refused before anything is allocated. Attributes: \
     `size`, `limit`."
);
create_exception!(
    fhez,
    InsecureParams,
    FhezError,
    "A parameter set that opts out of the 128-bit security check, refused by every reader \
     of bytes received from someone else. Attribute: `log_n`."
);
create_exception!(
    fhez,
    ParamsMismatch,
    FhezError,
    "Objects made under different parameter sets were combined."
);
create_exception!(
    fhez,
    LevelExhausted,
    FhezError,
    "The operation needs more levels than the ciphertext has left. Attributes: `needed`, \
     `available` (and `node` when a graph node was evaluated)."
);
create_exception!(
    fhez,
    MissingGaloisKey,
    FhezError,
    "No rotation key for this step (keys are generated for the planned steps only). \
     Attribute: `step`."
);
create_exception!(
    fhez,
    TooManyValues,
    FhezError,
    "More values than the ciphertext has slots. Attributes: `len`, `slots`."
);
create_exception!(
    fhez,
    NonFiniteValue,
    FhezError,
    "A NaN or infinite input value. Attribute: `index`."
);
create_exception!(
    fhez,
    ShapeError,
    FhezError,
    "Shapes or packings that do not fit the operation."
);
create_exception!(
    fhez,
    PlanMismatch,
    FhezError,
    "The parameters cannot run the plan. Attributes: `what`, `needed`, `found`."
);
create_exception!(
    fhez,
    BatchTooLarge,
    FhezError,
    "A batch larger than the one planned for. Attributes: `batch`, `planned`."
);
create_exception!(
    fhez,
    UnknownNode,
    FhezError,
    "A name that is not a node of the graph. Attribute: `name`."
);
create_exception!(
    fhez,
    ServiceError,
    FhezError,
    "The inference service refused a request or could not be reached. Attributes, for an \
     answer of the server: `status` (HTTP), `code`, `reason`."
);
create_exception!(
    fhez,
    ModelError,
    FhezError,
    "A graph, training or planning error (invalid configuration, non-finite values, a \
     model file over its limits, no secure parameters for the depth)."
);

/// An attribute value of an exception.
pub(crate) enum Attr {
    /// An integer (counts, levels, steps, sizes).
    Int(i128),
    /// A text (names, reasons).
    Str(String),
}

/// The exception class of a cause.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    Fhez,
    InvalidBytes,
    SizeLimit,
    InsecureParams,
    ParamsMismatch,
    LevelExhausted,
    MissingGaloisKey,
    TooManyValues,
    NonFiniteValue,
    Shape,
    PlanMismatch,
    BatchTooLarge,
    UnknownNode,
    Model,
    Service,
}

/// A classified error: class, attributes and message.
pub(crate) struct Raised {
    class: Class,
    attrs: Vec<(&'static str, Attr)>,
    message: String,
}

impl Raised {
    /// An error raised by the binding itself.
    pub(crate) fn new(class: Class, message: String) -> Self {
        Self {
            class,
            attrs: Vec::new(),
            message,
        }
    }

    /// Adds an attribute.
    pub(crate) fn with(mut self, name: &'static str, value: Attr) -> Self {
        self.attrs.push((name, value));
        self
    }

    fn set(&mut self, class: Class, attrs: Vec<(&'static str, Attr)>) {
        self.class = class;
        self.attrs.extend(attrs);
    }

    /// The Python exception.
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        let err = match self.class {
            Class::Fhez => FhezError::new_err(self.message),
            Class::InvalidBytes => InvalidBytes::new_err(self.message),
            Class::SizeLimit => SizeLimit::new_err(self.message),
            Class::InsecureParams => InsecureParams::new_err(self.message),
            Class::ParamsMismatch => ParamsMismatch::new_err(self.message),
            Class::LevelExhausted => LevelExhausted::new_err(self.message),
            Class::MissingGaloisKey => MissingGaloisKey::new_err(self.message),
            Class::TooManyValues => TooManyValues::new_err(self.message),
            Class::NonFiniteValue => NonFiniteValue::new_err(self.message),
            Class::Shape => ShapeError::new_err(self.message),
            Class::PlanMismatch => PlanMismatch::new_err(self.message),
            Class::BatchTooLarge => BatchTooLarge::new_err(self.message),
            Class::UnknownNode => UnknownNode::new_err(self.message),
            Class::Model => ModelError::new_err(self.message),
            Class::Service => ServiceError::new_err(self.message),
        };
        let value = err.value(py);
        for (name, attr) in self.attrs {
            // Setting an attribute on a fresh exception instance cannot fail short of
            // memory exhaustion; the exception is raised either way.
            let _ = match attr {
                Attr::Int(v) => value.setattr(name, v),
                Attr::Str(s) => value.setattr(name, s),
            };
        }
        err
    }
}

fn int(v: impl Into<i128>) -> Attr {
    Attr::Int(v.into())
}

fn size(v: usize) -> Attr {
    Attr::Int(i128::try_from(v).unwrap_or(i128::MAX))
}

fn text(v: impl Into<String>) -> Attr {
    Attr::Str(v.into())
}

/// Classifies an error of the model layer (and everything under it).
pub(crate) fn from_model(e: &fhez_model::Error) -> Raised {
    let mut r = Raised::new(Class::Fhez, e.to_string());
    model(e, &mut r);
    r
}

/// Classifies an error of the graph layer.
pub(crate) fn from_nn(e: &fhez_nn::Error) -> Raised {
    let mut r = Raised::new(Class::Model, e.to_string());
    nn(e, &mut r);
    r
}

/// Classifies an error of the erray layer.
pub(crate) fn from_erray(e: &fhez_erray::Error) -> Raised {
    let mut r = Raised::new(Class::Fhez, e.to_string());
    erray(e, &mut r);
    r
}

/// Classifies an error of the backend layer.
pub(crate) fn from_backend(e: &fhez_backend::Error) -> Raised {
    let mut r = Raised::new(Class::Fhez, e.to_string());
    backend(e, &mut r);
    r
}

/// Classifies an error of the CKKS engine.
pub(crate) fn from_ckks(e: &fhez_ckks::Error) -> Raised {
    let mut r = Raised::new(Class::Fhez, e.to_string());
    ckks(e, &mut r);
    r
}

fn model(e: &fhez_model::Error, r: &mut Raised) {
    use fhez_model::Error as E;
    match e {
        E::Nn(e) => nn(e, r),
        E::Ckks(e) => ckks(e, r),
        E::Backend(e) => backend(e, r),
        E::Erray(e) => erray(e, r),
        E::PlanMismatch {
            what,
            needed,
            found,
        } => r.set(
            Class::PlanMismatch,
            vec![
                ("what", text(*what)),
                ("needed", int(*needed)),
                ("found", int(*found)),
            ],
        ),
        E::BatchTooLarge { batch, planned } => r.set(
            Class::BatchTooLarge,
            vec![("batch", size(*batch)), ("planned", size(*planned))],
        ),
        E::UnknownNode { name } => r.set(Class::UnknownNode, vec![("name", text(name))]),
        E::NeedsClient { node, .. } => r.set(Class::Model, vec![("node", text(node))]),
        E::PackingMismatch {
            node,
            planned,
            found,
        } => r.set(
            Class::Shape,
            vec![
                ("node", text(node)),
                ("planned", text(planned)),
                ("found", text(found)),
            ],
        ),
        E::Json { what, .. } => r.set(
            Class::InvalidBytes,
            vec![("what", text(what)), ("reason", text(e.to_string()))],
        ),
        E::Format { what, reason } => r.set(
            Class::InvalidBytes,
            vec![("what", text(*what)), ("reason", text(reason))],
        ),
        E::NoReleasePrecision {
            log_n,
            log_scale,
            needed,
        } => r.set(
            Class::PlanMismatch,
            vec![
                ("log_n", int(i64::from(*log_n))),
                ("log_scale", int(i64::from(*log_scale))),
                ("needed", int(i64::from(*needed))),
            ],
        ),
        E::GraphView(_) | E::Io { .. } => r.set(Class::Fhez, Vec::new()),
        _ => r.set(Class::Fhez, Vec::new()),
    }
}

fn nn(e: &fhez_nn::Error, r: &mut Raised) {
    use fhez_nn::Error as E;
    match e {
        E::Erray(e) => erray(e, r),
        E::Backend(e) => backend(e, r),
        E::AtNode { node, source, .. } => {
            r.attrs.push(("node", text(node)));
            nn(source, r);
        }
        E::DepthExhausted {
            node,
            needed,
            available,
            ..
        } => r.set(
            Class::LevelExhausted,
            vec![
                ("node", text(node)),
                ("needed", int(*needed)),
                ("available", int(*available)),
            ],
        ),
        E::ShapeMismatch { .. } | E::WeightShape { .. } | E::InputCount { .. } => {
            r.set(Class::Shape, Vec::new());
        }
        E::UnknownNode { name } => r.set(Class::UnknownNode, vec![("name", text(name))]),
        E::Json(_) | E::UnsupportedVersion { .. } => r.set(
            Class::InvalidBytes,
            vec![("what", text("graph")), ("reason", text(e.to_string()))],
        ),
        E::LimitExceeded { what, found, limit } => r.set(
            Class::SizeLimit,
            vec![
                ("what", text(*what)),
                ("size", size(*found)),
                ("limit", size(*limit)),
            ],
        ),
        E::InvalidConfig { .. }
        | E::DuplicateNode { .. }
        | E::UnknownNodeKind { .. }
        | E::NodeConfig { .. }
        | E::DanglingEdge { .. }
        | E::PortOutOfRange { .. }
        | E::PortGap { .. }
        | E::PortTaken { .. }
        | E::Cycle { .. }
        | E::NotEncryptable { .. }
        | E::NoLoss
        | E::NonFinite { .. }
        | E::NoSecureParams { .. }
        | E::PrimeTooLarge { .. }
        | _ => r.set(Class::Model, Vec::new()),
    }
}

fn erray(e: &fhez_erray::Error, r: &mut Raised) {
    use fhez_erray::Error as E;
    match e {
        E::Backend(e) => backend(e, r),
        E::ShapeMismatch { .. }
        | E::PackingUnsupported { .. }
        | E::PackingMismatch { .. }
        | E::AxisOutOfRange { .. }
        | E::IndexOutOfBounds { .. }
        | E::InvalidShape { .. }
        | E::SlotsNotPowerOfTwo { .. }
        | _ => r.set(Class::Shape, Vec::new()),
    }
}

fn backend(e: &fhez_backend::Error, r: &mut Raised) {
    use fhez_backend::Error as E;
    match e {
        E::LevelExhausted {
            op,
            needed,
            available,
        } => r.set(
            Class::LevelExhausted,
            vec![
                ("op", text(*op)),
                ("needed", int(*needed)),
                ("available", int(*available)),
            ],
        ),
        E::MissingGaloisKey { step } => {
            r.set(Class::MissingGaloisKey, vec![("step", int(*step))]);
        }
        E::TooManyValues { len, slots } => r.set(
            Class::TooManyValues,
            vec![("len", size(*len)), ("slots", size(*slots))],
        ),
        E::NonFinite { index } => r.set(Class::NonFiniteValue, vec![("index", size(*index))]),
        E::LengthMismatch { .. } => r.set(Class::Shape, Vec::new()),
        E::SizeLimit { what, len, limit } => r.set(
            Class::SizeLimit,
            vec![
                ("what", text(*what)),
                ("size", size(*len)),
                ("limit", size(*limit)),
            ],
        ),
        E::Malformed { what, reason } => r.set(
            Class::InvalidBytes,
            vec![("what", text(*what)), ("reason", text(*reason))],
        ),
        E::Frame(f) => r.set(
            Class::InvalidBytes,
            vec![("what", text("message")), ("reason", text(f.to_string()))],
        ),
        E::Engine(inner) => match inner.downcast_ref::<fhez_ckks::Error>() {
            Some(c) => ckks(c, r),
            None => r.set(Class::Fhez, Vec::new()),
        },
        E::LevelMismatch {
            op,
            expected,
            found,
        } => r.set(
            Class::LevelExhausted,
            vec![
                ("op", text(*op)),
                ("expected", int(i64::from(*expected))),
                ("found", int(i64::from(*found))),
            ],
        ),
        E::Unsupported { .. } => r.set(Class::Fhez, Vec::new()),
        _ => r.set(Class::Fhez, Vec::new()),
    }
}

fn ckks(e: &fhez_ckks::Error, r: &mut Raised) {
    use fhez_ckks::Error as E;
    match e {
        E::Wire(w) => wire(w, r),
        E::InsecureParams { log_n, .. } => {
            r.set(Class::InsecureParams, vec![("log_n", int(*log_n))]);
        }
        E::LevelExhausted {
            op,
            needed,
            available,
        } => r.set(
            Class::LevelExhausted,
            vec![
                ("op", text(*op)),
                ("needed", int(*needed)),
                ("available", int(*available)),
            ],
        ),
        E::MissingGaloisKey { step } => {
            r.set(Class::MissingGaloisKey, vec![("step", int(*step))]);
        }
        E::ParamsMismatch { .. } => r.set(Class::ParamsMismatch, Vec::new()),
        E::TooManyValues { len, slots } => r.set(
            Class::TooManyValues,
            vec![("len", size(*len)), ("slots", size(*slots))],
        ),
        E::Math(_)
        | E::Encoding(_)
        | E::InvalidParam { .. }
        | E::BadModulus { .. }
        | E::LevelIncrease { .. }
        | E::ScaleOverflow { .. }
        | E::ScaleMismatch { .. }
        | E::MissingConjugationKey
        | E::CiphertextSize { .. }
        | E::ValueTooLarge { .. }
        | E::ReplyRejected { .. }
        | E::FloodingTooLarge { .. }
        | E::OsRng { .. }
        | E::Unencodable { .. }
        | _ => r.set(Class::Fhez, Vec::new()),
    }
}

fn wire(e: &fhez_ckks::wire::WireError, r: &mut Raised) {
    use fhez_ckks::wire::WireError as W;
    match e {
        W::InsecureParams { log_n } => {
            r.set(Class::InsecureParams, vec![("log_n", int(*log_n))]);
        }
        W::ParamsMismatch { .. } => r.set(Class::ParamsMismatch, Vec::new()),
        W::TooLarge { len, limit } => r.set(
            Class::SizeLimit,
            vec![
                ("what", text("payload")),
                ("size", int(*len)),
                ("limit", int(*limit)),
            ],
        ),
        W::Truncated { .. }
        | W::BadMagic { .. }
        | W::UnsupportedVersion { .. }
        | W::UnknownKind { .. }
        | W::WrongKind { .. }
        | W::TrailingBytes { .. }
        | W::LengthMismatch { .. }
        | W::BadLevel { .. }
        | W::BadDegree { .. }
        | W::CoefficientOutOfRange { .. }
        | W::BadScale { .. }
        | W::BadPolyCount { .. }
        | W::BadSecretCoefficient { .. }
        | W::BadGaloisElement { .. }
        | W::UnorderedGaloisElement { .. }
        | W::BadParamsJson { .. }
        | _ => r.set(
            Class::InvalidBytes,
            vec![
                ("what", text("wire object")),
                ("reason", text(e.to_string())),
            ],
        ),
    }
}

/// Conversion of every layer's error into a Python exception (the GIL must be held).
pub(crate) trait IntoPyErr {
    /// The Python exception.
    fn into_pyerr(self, py: Python<'_>) -> PyErr;
}

impl IntoPyErr for fhez_model::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        from_model(&self).into_py(py)
    }
}

impl IntoPyErr for fhez_nn::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        from_nn(&self).into_py(py)
    }
}

impl IntoPyErr for fhez_erray::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        from_erray(&self).into_py(py)
    }
}

impl IntoPyErr for fhez_backend::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        from_backend(&self).into_py(py)
    }
}

impl IntoPyErr for fhez_ckks::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        from_ckks(&self).into_py(py)
    }
}

impl IntoPyErr for fhez_onnx::Error {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        use fhez_onnx::Error as E;
        match &self {
            E::Nn(e) => from_nn(e).into_py(py),
            E::Model(e) => from_model(e).into_py(py),
            E::Limit { what, found, limit } => Raised::new(Class::SizeLimit, self.to_string())
                .with("what", Attr::Str((*what).to_owned()))
                .with(
                    "size",
                    Attr::Int(i128::try_from(*found).unwrap_or(i128::MAX)),
                )
                .with(
                    "limit",
                    Attr::Int(i128::try_from(*limit).unwrap_or(i128::MAX)),
                )
                .into_py(py),
            E::Decode { what, reason } => Raised::new(Class::InvalidBytes, self.to_string())
                .with("what", Attr::Str((*what).to_owned()))
                .with("reason", Attr::Str(reason.clone()))
                .into_py(py),
            E::NoGraph => Raised::new(Class::InvalidBytes, self.to_string())
                .with("what", Attr::Str("ONNX model".to_owned()))
                .into_py(py),
            E::Opset { .. }
            | E::Input { .. }
            | E::Unsupported { .. }
            | E::Node { .. }
            | E::Initializer { .. }
            | E::NeedsCalibration { .. }
            | E::Calibration { .. }
            | _ => Raised::new(Class::Model, self.to_string()).into_py(py),
        }
    }
}

impl IntoPyErr for Raised {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        self.into_py(py)
    }
}

impl IntoPyErr for PyErr {
    fn into_pyerr(self, _py: Python<'_>) -> PyErr {
        self
    }
}

/// `Result` → `PyResult` with the GIL held.
pub(crate) trait OrRaise<T> {
    /// The value, or the error as a Python exception.
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: IntoPyErr> OrRaise<T> for Result<T, E> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.into_pyerr(py))
    }
}

/// A shape error raised by the binding (NumPy input of the wrong shape or dtype).
pub(crate) fn shape_error(message: String) -> Raised {
    Raised::new(Class::Shape, message)
}

/// Registers the exception classes on the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FhezError", py.get_type::<FhezError>())?;
    m.add("InvalidBytes", py.get_type::<InvalidBytes>())?;
    m.add("SizeLimit", py.get_type::<SizeLimit>())?;
    m.add("InsecureParams", py.get_type::<InsecureParams>())?;
    m.add("ParamsMismatch", py.get_type::<ParamsMismatch>())?;
    m.add("LevelExhausted", py.get_type::<LevelExhausted>())?;
    m.add("MissingGaloisKey", py.get_type::<MissingGaloisKey>())?;
    m.add("TooManyValues", py.get_type::<TooManyValues>())?;
    m.add("NonFiniteValue", py.get_type::<NonFiniteValue>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("PlanMismatch", py.get_type::<PlanMismatch>())?;
    m.add("BatchTooLarge", py.get_type::<BatchTooLarge>())?;
    m.add("UnknownNode", py.get_type::<UnknownNode>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ServiceError", py.get_type::<ServiceError>())?;
    Ok(())
}
