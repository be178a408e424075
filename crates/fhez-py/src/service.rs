//! The client of the HTTP inference service (`fhez-serve`): a `Session` keeps the keys of
//! one model in a key directory and registers the public bundle with the server once.
//! Each call runs the async client on a runtime owned by the object, with the GIL released.

use std::path::PathBuf;
use std::sync::Arc;

use fhez_model::Task;
use fhez_serve::{ClientError, SamplePrediction};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{self, ArrayIn};
use crate::errors::{Attr, Class, OrRaise, Raised, shape_error};

fn classify(e: &ClientError) -> Raised {
    match e {
        ClientError::Fhez(inner) => crate::errors::from_model(inner),
        ClientError::Api {
            status,
            code,
            message,
        } => Raised::new(Class::Service, e.to_string())
            .with("status", Attr::Int(i128::from(*status)))
            .with("code", Attr::Str(code.clone()))
            .with("reason", Attr::Str(message.clone())),
        ClientError::BadUrl { .. }
        | ClientError::Http { .. }
        | ClientError::BadAnswer { .. }
        | ClientError::KeysForOtherParams { .. }
        | ClientError::Input { .. }
        | ClientError::Io { .. }
        | ClientError::Task(_)
        | _ => Raised::new(Class::Service, e.to_string()),
    }
}

impl crate::errors::IntoPyErr for ClientError {
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        classify(&self).into_py(py)
    }
}

fn runtime(py: Python<'_>) -> PyResult<Arc<tokio::runtime::Runtime>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| Raised::new(Class::Service, format!("async runtime: {e}")).into_py(py))
}

/// A client of an fhez inference server (`fhez serve`). Holds no key: open a `Session`
/// per model to predict.
#[pyclass(module = "fhez", frozen)]
pub(crate) struct ServiceClient {
    client: fhez_serve::Client,
    rt: Arc<tokio::runtime::Runtime>,
}

#[pymethods]
impl ServiceClient {
    /// A client of the server at `url` (`http://host:port`).
    #[new]
    fn new(py: Python<'_>, url: &str) -> PyResult<Self> {
        let client = fhez_serve::Client::new(url).or_raise(py)?;
        Ok(Self {
            client,
            rt: runtime(py)?,
        })
    }

    /// The names of the models the server serves.
    fn models(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let (rt, client) = (&self.rt, &self.client);
        let models = py.detach(|| rt.block_on(client.models())).or_raise(py)?;
        Ok(models.into_iter().map(|m| m.name).collect())
    }

    /// Opens a session for `model`: loads the keys of directory `keys` (or generates them
    /// for the model's parameters and saves them there) and registers the public bundle
    /// unless the server already has it. The secret key never leaves `keys`.
    fn session(&self, py: Python<'_>, model: &str, keys: PathBuf) -> PyResult<Session> {
        let (rt, client) = (&self.rt, self.client.clone());
        let session = py
            .detach(|| rt.block_on(fhez_serve::Session::open(client, model, &keys)))
            .or_raise(py)?;
        Ok(Session {
            session,
            rt: Arc::clone(&self.rt),
        })
    }

    fn __repr__(&self) -> String {
        format!("ServiceClient(url={:?})", self.client.base_url())
    }
}

/// Keys for one model on one server (see `ServiceClient.session`).
#[pyclass(module = "fhez", frozen)]
pub(crate) struct Session {
    session: fhez_serve::Session,
    rt: Arc<tokio::runtime::Runtime>,
}

#[pymethods]
impl Session {
    /// Encrypts `samples` (`(n, shape...)`), has the server evaluate them (in chunks of the
    /// model's batch size) and decrypts: one dict per sample, `{"index", "label",
    /// "logits"}` for a classifier, `{"values"}` for a regressor.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        samples: ArrayIn<'py>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let (shape, data) = arrays::read(&samples);
        let Some((&n, per)) = shape.split_first() else {
            return Err(shape_error("samples need a batch axis first".into()).into_py(py));
        };
        let size: usize = per.iter().product();
        let rows: Vec<Vec<f64>> = data
            .chunks(size.max(1))
            .take(n)
            .map(<[f64]>::to_vec)
            .collect();
        let (rt, session) = (&self.rt, &self.session);
        let predictions = py
            .detach(|| rt.block_on(session.predict(&rows)))
            .or_raise(py)?;
        predictions
            .into_iter()
            .map(|p| {
                let d = PyDict::new(py);
                match p {
                    SamplePrediction::Class {
                        index,
                        label,
                        logits,
                    } => {
                        d.set_item("index", index)?;
                        d.set_item("label", label)?;
                        d.set_item("logits", arrays::from_parts(py, &[logits.len()], logits)?)?;
                    }
                    SamplePrediction::Values { values } => {
                        d.set_item("values", arrays::from_parts(py, &[values.len()], values)?)?;
                    }
                }
                Ok(d)
            })
            .collect()
    }

    /// The server's key id of this session's public bundle.
    #[getter]
    fn key_id(&self) -> String {
        self.session.key_id().to_owned()
    }

    /// The model's class labels, `None` for a regressor.
    #[getter]
    fn labels(&self) -> Option<Vec<String>> {
        match &self.session.info().task {
            Task::Classifier { labels } => Some(labels.clone()),
            Task::Regressor { .. } | _ => None,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Session(model={:?}, key_id={:?}, secret=<in the key directory>)",
            self.session.info().name,
            self.session.key_id()
        )
    }
}
