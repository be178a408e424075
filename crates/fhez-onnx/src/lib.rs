#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod decode;
mod error;
mod fit;
mod import;
mod proto;

use std::collections::BTreeMap;
use std::fmt;

use fhez_model::{ModelFile, Task};
use fhez_nn::nodes::{Decrypt, Input};
use fhez_nn::{Graph, GraphBuilder, Node, PlanRequest, Tensor};

pub use decode::OPSETS;
pub use error::{Error, Result};
pub use fit::ERROR_GRID;

/// Explicit limits on what an ONNX file may declare, checked (with checked arithmetic)
/// before anything proportional to the declared value is allocated. `prost` decodes a
/// repeated message as one element per encoded element, so decoding itself allocates at
/// most a small constant times the file size (the bounded `MAX_FILE_BYTES`); the shallow
/// decoding of [`proto`] keeps that constant small for nodes, initializers and attributes.
pub mod limits {
    /// Largest ONNX file, in bytes (fhez runs networks of up to a few hundred thousand
    /// weights encrypted; LeNet-5 is 250 KB).
    pub const MAX_FILE_BYTES: usize = 16 << 20;
    /// Most nodes in a graph.
    pub const MAX_NODES: usize = 4096;
    /// Most initializers in a graph.
    pub const MAX_INITIALIZERS: usize = 4096;
    /// Most graph inputs, and separately outputs (initializers may be listed as inputs).
    pub const MAX_IO: usize = 4096;
    /// Most opset imports.
    pub const MAX_OPSETS: usize = 64;
    /// Most attributes of one node.
    pub const MAX_ATTRIBUTES: usize = 64;
    /// Most inputs, and separately outputs, of one node.
    pub const MAX_NODE_IO: usize = 64;
    /// Most values in one list attribute.
    pub const MAX_ATTRIBUTE_VALUES: usize = 1024;
    /// Largest tensor rank.
    pub const MAX_RANK: usize = 8;
    /// Most elements in one tensor (initializer, constant or activation).
    pub const MAX_TENSOR_ELEMENTS: usize = fhez_nn::limits::MAX_TENSOR_ELEMENTS;
}

/// What the client does to the decrypted output (an ONNX `Softmax`, `LogSoftmax` or `ArgMax`
/// at the end of the graph: none of them has an encrypted form, all are cheap in the clear).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientOutput {
    /// Softmax over the last axis.
    Softmax,
    /// Log-softmax over the last axis.
    LogSoftmax,
    /// Index of the largest value (one value out).
    ArgMax,
}

impl ClientOutput {
    /// Applies the operation to decrypted values.
    #[must_use]
    pub fn apply(self, v: &[f64]) -> Vec<f64> {
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        match self {
            Self::Softmax => v.iter().map(|x| (x - lse).exp()).collect(),
            Self::LogSoftmax => v.iter().map(|x| x - lse).collect(),
            #[expect(clippy::cast_precision_loss, reason = "class indices are small")]
            Self::ArgMax => vec![argmax(v) as f64],
        }
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if v.get(best).is_some_and(|b| x > b) {
            best = i;
        }
    }
    best
}

/// How to import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportOptions {
    /// Calibration inputs, one tensor per sample with the input's per-sample element count:
    /// the range each non-polynomial activation is fitted over is observed on them, and the
    /// report compares the exact and the imported graph on them.
    pub calibration: Option<Vec<Tensor>>,
    /// Class labels of the calibration samples (accuracy before and after replacement).
    pub labels: Option<Vec<usize>>,
    /// Fixed degree of every fitted polynomial (overrides `max_error`).
    pub degree: Option<usize>,
    /// Largest fit error accepted over the fitted range: the lowest degree reaching it is
    /// used, up to the depth budget. Default: 1 % of the activation's largest magnitude.
    pub max_error: Option<f64>,
    /// Depth budget of one fitted activation: degree at most `2^depth − 1`.
    pub max_activation_depth: u32,
    /// The fitted range is the observed range widened by this fraction of its width on each
    /// side (inputs just outside the calibration range stay where the fit holds).
    pub range_margin: f64,
    /// The input shape (batch axis first, batch 1) when the file's is symbolic.
    pub input_shape: Option<Vec<usize>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            calibration: None,
            labels: None,
            degree: None,
            max_error: None,
            max_activation_depth: 3,
            range_margin: 0.05,
            input_shape: None,
        }
    }
}

/// One activation replaced by a fitted polynomial.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    /// The fhez node name (the last ONNX node of the replaced function).
    pub node: String,
    /// The ONNX operators the polynomial replaces (e.g. `["Sigmoid"]` for a SiLU pair).
    pub ops: Vec<String>,
    /// The interval fitted over (observed input range plus the margin).
    pub range: (f64, f64),
    /// The polynomial's degree.
    pub degree: usize,
    /// `max |p − f|` over the interval (on [`ERROR_GRID`] points).
    pub max_error: f64,
}

/// Exact versus imported graph on the calibration data.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationReport {
    /// Samples compared.
    pub samples: usize,
    /// Largest absolute difference between the exact and the imported outputs.
    pub max_abs_diff: f64,
    /// Fraction of samples whose argmax agrees (classifiers; 1 for one output).
    pub agreement: f64,
    /// Accuracy of the exact graph against the labels, when given.
    pub accuracy_exact: Option<f64>,
    /// Accuracy of the imported graph against the labels, when given.
    pub accuracy_imported: Option<f64>,
}

/// What the import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Activations replaced by fitted polynomials.
    pub replaced: Vec<Replacement>,
    /// Constant maps folded into the layer before them (`"bn1 into conv1"`).
    pub folded: Vec<String>,
    /// Nodes dropped (`Identity`, `Dropout`).
    pub dropped: Vec<String>,
    /// The comparison on calibration data, when given.
    pub calibration: Option<CalibrationReport>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.replaced {
            writeln!(
                f,
                "replaced {} ({}) on [{:.4}, {:.4}]: degree {}, max fit error {:.3e}",
                r.node,
                r.ops.join("+"),
                r.range.0,
                r.range.1,
                r.degree,
                r.max_error
            )?;
        }
        for s in &self.folded {
            writeln!(f, "folded {s}")?;
        }
        for s in &self.dropped {
            writeln!(f, "dropped {s}")?;
        }
        if let Some(c) = &self.calibration {
            write!(
                f,
                "calibration ({} samples): max |exact - imported| {:.3e}, argmax agreement {:.2} %",
                c.samples,
                c.max_abs_diff,
                100.0 * c.agreement
            )?;
            if let (Some(a), Some(b)) = (c.accuracy_exact, c.accuracy_imported) {
                write!(
                    f,
                    ", accuracy exact {:.2} % -> imported {:.2} %",
                    100.0 * a,
                    100.0 * b
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// One node of the imported chain; `exact` is the function a fitted `poly` replaces.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub name: String,
    pub node: Node,
    pub exact: Option<fit::Expr>,
}

/// An imported model: the fhez graph (`Input` → layers → `Decrypt`), what the client does
/// after decryption, and the import report.
#[derive(Clone, Debug)]
pub struct Imported {
    graph: Graph,
    steps: Vec<Step>,
    input: String,
    input_shape: Vec<usize>,
    output: String,
    client: Option<ClientOutput>,
    report: ImportReport,
}

/// Imports an ONNX model (its bytes). See the crate documentation.
///
/// # Errors
/// [`Error`] naming the node, operator or value, with the numbers; never a panic.
pub fn import(bytes: &[u8], options: &ImportOptions) -> Result<Imported> {
    import::run(bytes, options)
}

fn finish(
    steps: Vec<Step>,
    mut report: ImportReport,
    input: String,
    input_shape: Vec<usize>,
    output: String,
    client: Option<ClientOutput>,
    options: &ImportOptions,
) -> Result<Imported> {
    let mut b = GraphBuilder::new();
    let mut prev = b.add(&input, Input::new(&input_shape))?;
    for s in &steps {
        let id = b.add(&s.name, s.node.clone())?;
        b.chain(&[prev, id])?;
        prev = id;
    }
    let mut out_name = output;
    while steps.iter().any(|s| s.name == out_name) || out_name == input {
        out_name.push('_');
    }
    let dec = b.add(&out_name, Decrypt {})?;
    b.chain(&[prev, dec])?;
    let graph = b.build()?;
    let mut imported = Imported {
        graph,
        steps,
        input,
        input_shape,
        output: out_name,
        client,
        report: ImportReport::default(),
    };
    if let Some(cal) = &options.calibration {
        report.calibration = Some(imported.compare(cal, options.labels.as_deref())?);
    }
    imported.report = report;
    Ok(imported)
}

impl Imported {
    /// The fhez graph.
    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The import report.
    #[must_use]
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// The `Input` node's name (the ONNX graph input's).
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The per-sample input shape (the ONNX shape without its batch axis).
    #[must_use]
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The `Decrypt` node's name (the ONNX graph output's, made unique).
    #[must_use]
    pub fn output(&self) -> &str {
        &self.output
    }

    /// What the client applies after decryption.
    #[must_use]
    pub fn client_output(&self) -> Option<ClientOutput> {
        self.client
    }

    /// The imported graph's plaintext output for one sample (flat), with the client
    /// operation applied: what an encrypted evaluation approximates.
    ///
    /// # Errors
    /// Shape errors of the graph.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<f64>> {
        let x = x.reshape(&self.input_shape)?;
        let out = self.graph.infer(&[(&self.input, x)])?;
        let v = out
            .get(&self.output)
            .map(|t| t.data().to_vec())
            .unwrap_or_default();
        Ok(self.client.map_or(v.clone(), |c| c.apply(&v)))
    }

    /// The same graph with every fitted polynomial replaced by the exact function it
    /// approximates (the ONNX graph's own output, in `f64`).
    ///
    /// # Errors
    /// Shape errors of the graph.
    pub fn forward_exact(&self, x: &Tensor) -> Result<Vec<f64>> {
        let mut v = x.reshape(&self.input_shape)?;
        for s in &self.steps {
            v = match &s.exact {
                Some(e) => v.map(|t| e.eval(t)),
                None => import::forward(&s.node, &v)?,
            };
        }
        let v = v.data().to_vec();
        Ok(self.client.map_or(v.clone(), |c| c.apply(&v)))
    }

    fn compare(&self, cal: &[Tensor], labels: Option<&[usize]>) -> Result<CalibrationReport> {
        if let Some(l) = labels
            && l.len() != cal.len()
        {
            return Err(Error::Calibration {
                reason: format!("{} labels for {} samples", l.len(), cal.len()),
            });
        }
        let (mut diff, mut agree, mut right_e, mut right_i) = (0.0f64, 0usize, 0usize, 0usize);
        for (i, x) in cal.iter().enumerate() {
            let (e, p) = (self.forward_exact(x)?, self.forward(x)?);
            for (a, b) in e.iter().zip(&p) {
                diff = diff.max((a - b).abs());
            }
            let (ae, ap) = (argmax(&e), argmax(&p));
            agree += usize::from(ae == ap);
            if let Some(l) = labels.and_then(|l| l.get(i)) {
                right_e += usize::from(ae == *l);
                right_i += usize::from(ap == *l);
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "sample counts are small")]
        let frac = |k: usize| k as f64 / cal.len().max(1) as f64;
        Ok(CalibrationReport {
            samples: cal.len(),
            max_abs_diff: diff,
            agreement: frac(agree),
            accuracy_exact: labels.map(|_| frac(right_e)),
            accuracy_imported: labels.map(|_| frac(right_i)),
        })
    }

    /// A fhez model file: a classifier with `classes` labels `"0"…` when the output is a
    /// vector (or ends in Softmax/LogSoftmax/ArgMax), else a regressor.
    ///
    /// # Errors
    /// [`Error::Model`] (as `ModelFile::new`).
    pub fn model_file(&self, name: &str, plan: PlanRequest) -> Result<ModelFile> {
        let outputs: usize = self
            .graph
            .id(&self.output)
            .ok()
            .and_then(|id| self.graph.shape(id, 0))
            .map_or(1, |s| s.iter().product());
        let task = if self.client.is_some() || outputs > 1 {
            Task::Classifier {
                labels: (0..outputs).map(|k| k.to_string()).collect(),
            }
        } else {
            Task::Regressor {
                scale: 1.0,
                offset: 0.0,
            }
        };
        let mut file = ModelFile::new(name, &self.graph, &[&self.input], &self.output, task, plan)?;
        let mut m = BTreeMap::new();
        #[expect(clippy::cast_precision_loss, reason = "node counts are small")]
        m.insert(
            "replaced_activations".to_owned(),
            self.report.replaced.len() as f64,
        );
        if let Some(e) = self
            .report
            .replaced
            .iter()
            .map(|r| r.max_error)
            .reduce(f64::max)
        {
            m.insert("max_fit_error".to_owned(), e);
        }
        if let Some(c) = &self.report.calibration {
            m.insert("calibration_agreement".to_owned(), c.agreement);
            if let (Some(a), Some(b)) = (c.accuracy_exact, c.accuracy_imported) {
                m.insert("calibration_accuracy_exact".to_owned(), a);
                m.insert("calibration_accuracy_imported".to_owned(), b);
            }
        }
        file.metrics = m;
        Ok(file)
    }
}
