//! [`ModelFile`]: a trained model as one JSON document — the graph with its weights, what
//! the encrypted inputs are, what to plan for, and how to read the outputs. The CLI, the
//! examples and the inference service all exchange models in this form.

use std::collections::BTreeMap;
use std::path::Path;

use fhez_nn::nodes::Input;
use fhez_nn::{Graph, Node, PlanRequest};
use serde::{Deserialize, Serialize};

use crate::{EncryptedModel, Error, Result};

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "fhez-model";
/// The model file version written, and the only one read.
pub const MODEL_VERSION: u32 = 1;
/// Largest model file read, in bytes ([`fhez_nn::limits::MAX_FILE_BYTES`]).
pub const MODEL_FILE_LIMIT: usize = fhez_nn::limits::MAX_FILE_BYTES;

/// How to read the values at the decrypt boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Task {
    /// Logits of `labels.len()` classes; the prediction is the argmax.
    Classifier {
        /// Class names, in logit order.
        labels: Vec<String>,
    },
    /// Real-valued outputs.
    Regressor {
        /// Multiply decrypted outputs by this and add `offset` to undo target scaling.
        scale: f64,
        /// See `scale`.
        offset: f64,
    },
}

/// An input the client encrypts: its node name and per-sample shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedInput {
    /// The `Input` node's name.
    pub name: String,
    /// Per-sample shape.
    pub shape: Vec<usize>,
}

/// A trained model file (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Always [`MODEL_VERSION`].
    pub format_version: u32,
    /// A short name (used by the service's URLs).
    pub name: String,
    /// The data set it was trained on, if any (e.g. `fashion-mnist`).
    pub dataset: Option<String>,
    /// Output interpretation.
    pub task: Task,
    /// The inputs the client encrypts (batch-in-slots: one sample per slot).
    pub inputs: Vec<EncryptedInput>,
    /// The name of the `Decrypt` node whose values the server returns.
    pub output: String,
    /// What the parameters are planned for.
    pub plan: PlanRequest,
    /// Measured metrics (accuracy, loss, …) recorded by whoever trained it.
    pub metrics: BTreeMap<String, f64>,
    /// The graph (structure and weights), in `fhez_nn`'s graph JSON format.
    pub graph: serde_json::Value,
}

fn json_err(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |source| Error::Json {
        what: what.to_owned(),
        source,
    }
}

impl ModelFile {
    /// A model file for `graph` whose encrypted inputs are `inputs` (their shapes are read
    /// from the graph's `Input` nodes) and whose server output is the `Decrypt` node
    /// `output`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] for a name that is not an `Input` / `Decrypt` node of the
    /// graph, JSON errors for non-finite weights.
    pub fn new(
        name: &str,
        graph: &Graph,
        inputs: &[&str],
        output: &str,
        task: Task,
        plan: PlanRequest,
    ) -> Result<Self> {
        let inputs = inputs
            .iter()
            .map(|&n| {
                let shape = input_shape(graph, n)?;
                Ok(EncryptedInput {
                    name: n.to_owned(),
                    shape,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let file = Self {
            format: MODEL_FORMAT.to_owned(),
            format_version: MODEL_VERSION,
            name: name.to_owned(),
            dataset: None,
            task,
            inputs,
            output: output.to_owned(),
            plan,
            metrics: BTreeMap::new(),
            graph: serde_json::to_value(graph.to_config()).map_err(json_err("graph"))?,
        };
        file.check_output(graph)?;
        Ok(file)
    }

    fn check_output(&self, graph: &Graph) -> Result<()> {
        let id = graph.id(&self.output).map_err(|_| Error::UnknownNode {
            name: self.output.clone(),
        })?;
        match graph.node(id) {
            Some(Node::Decrypt(_)) => Ok(()),
            _ => Err(Error::Format {
                what: "model file",
                reason: format!("output `{}` is not a Decrypt node", self.output),
            }),
        }
    }

    /// The graph, rebuilt and validated.
    ///
    /// # Errors
    /// Graph errors naming the node, [`Error::Json`].
    pub fn graph(&self) -> Result<Graph> {
        let text = serde_json::to_string(&self.graph).map_err(json_err("graph"))?;
        Ok(Graph::from_json(&text)?)
    }

    /// The graph with its plan (made on `Sim` from [`ModelFile::plan`]).
    ///
    /// # Errors
    /// As [`ModelFile::graph`], planning errors.
    pub fn encrypted_model(&self) -> Result<EncryptedModel> {
        EncryptedModel::with_request(self.graph()?, &self.plan)
    }

    /// Per-sample element count of every encrypted input, in order.
    #[must_use]
    pub fn input_sizes(&self) -> Vec<usize> {
        self.inputs
            .iter()
            .map(|i| i.shape.iter().product())
            .collect()
    }

    /// Pretty JSON.
    ///
    /// # Errors
    /// [`Error::Json`].
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(json_err("model file"))
    }

    /// Parses and checks a model file: its size, format tag, version, the graph (with every
    /// count and shape against [`fhez_nn::limits`]), the planned batch against the widest
    /// tensor, the inputs' shapes and the output node. Nothing sized by the file is
    /// allocated before its limit is checked.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::Format`], graph errors ([`fhez_nn::Error::LimitExceeded`]
    /// for a count or shape over its limit).
    pub fn from_json(text: &str) -> Result<Self> {
        fhez_nn::limits::check("model file bytes", text.len(), MODEL_FILE_LIMIT)?;
        let file: Self = serde_json::from_str(text).map_err(json_err("model file"))?;
        if file.format != MODEL_FORMAT {
            return Err(Error::Format {
                what: "model file",
                reason: format!("format is {:?}, expected {MODEL_FORMAT:?}", file.format),
            });
        }
        if file.format_version != MODEL_VERSION {
            return Err(Error::Format {
                what: "model file",
                reason: format!(
                    "version {} is not supported (this build reads {MODEL_VERSION})",
                    file.format_version
                ),
            });
        }
        let graph = file.graph()?;
        fhez_nn::limits::check_batch(&graph, file.plan.batch)?;
        for input in &file.inputs {
            let shape = input_shape(&graph, &input.name)?;
            if shape != input.shape {
                return Err(Error::Format {
                    what: "model file",
                    reason: format!(
                        "input `{}` declared {:?} but the graph's node has {shape:?}",
                        input.name, input.shape
                    ),
                });
            }
        }
        if file.inputs.is_empty() {
            return Err(Error::Format {
                what: "model file",
                reason: "no encrypted inputs".to_owned(),
            });
        }
        file.check_output(&graph)?;
        Ok(file)
    }

    /// Reads and checks a model file ([`ModelFile::from_json`]), refusing files over
    /// [`MODEL_FILE_LIMIT`].
    ///
    /// # Errors
    /// [`Error::Io`] and as [`ModelFile::from_json`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::bundle::read_limited(path, MODEL_FILE_LIMIT)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Format {
            what: "model file",
            reason: format!("{} is not UTF-8", path.display()),
        })?;
        Self::from_json(&text).map_err(|e| {
            if let Error::Format { what, reason } = e {
                Error::Format {
                    what,
                    reason: format!("{}: {reason}", path.display()),
                }
            } else {
                e
            }
        })
    }

    /// Writes the model file (pretty JSON).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Json`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = self.to_json()?;
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }
}

fn input_shape(graph: &Graph, name: &str) -> Result<Vec<usize>> {
    let unknown = || Error::UnknownNode {
        name: name.to_owned(),
    };
    let id = graph.id(name).map_err(|_| unknown())?;
    match graph.node(id) {
        Some(Node::Input(Input { shape })) => Ok(shape.clone()),
        _ => Err(unknown()),
    }
}
