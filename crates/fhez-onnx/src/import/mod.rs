//! The graph conversion: ONNX nodes in order, a chain of fhez nodes out. One file per
//! operator family: `chain` (elementwise expressions made chain steps, affine maps folded),
//! `window` (Conv, AveragePool), `dense` (Gemm/MatMul, BatchNormalization), `shape`
//! (Flatten, Reshape, Transpose, Squeeze, Unsqueeze), `elementwise` (Constant, unary and
//! binary operators); attribute and broadcasting helpers in `util`.

mod chain;
mod dense;
mod elementwise;
mod shape;
mod util;
mod window;

use std::collections::{HashMap, HashSet};

use fhez_nn::nodes::Reshape;
use fhez_nn::{Node, Tensor};

use crate::decode::{self, Const, RawNode};
use crate::fit::Expr;
use crate::{ClientOutput, Error, ImportOptions, ImportReport, Imported, Result, Step, limits};
use util::{attr_i, limits_check, node_err, numel};

/// A computed value: an elementwise function `expr` of the output of the first `tip` steps
/// of the chain, with ONNX shape `shape` (batch axis first), read from the base through the
/// flat permutation `perm` (from a `Transpose`) when there is one.
#[derive(Clone, Debug)]
struct Act {
    tip: usize,
    shape: Vec<usize>,
    base_shape: Vec<usize>,
    expr: Expr,
    perm: Option<Vec<usize>>,
    /// The ONNX nodes of `expr`: (name, operator) of each.
    ops: Vec<(String, String)>,
    /// Set by Softmax / LogSoftmax / ArgMax: nothing but the graph output may follow.
    client: Option<ClientOutput>,
}

#[derive(Clone, Debug)]
enum Val {
    Const(Const),
    Act(Act),
}

struct Importer<'a> {
    opts: &'a ImportOptions,
    vals: HashMap<String, Val>,
    steps: Vec<Step>,
    names: HashSet<String>,
    input_name: String,
    input_shape: Vec<usize>,
    report: ImportReport,
    /// Calibration outputs after the first `cache.0` steps (steps before the last never change).
    cache: Option<(usize, Vec<Tensor>)>,
}

impl<'a> Importer<'a> {
    fn unique(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "node" } else { base };
        let mut name = base.to_owned();
        let mut k = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn push(&mut self, name: &str, node: Node, exact: Option<Expr>) -> Result<()> {
        node.validate(name)?;
        let name = self.unique(name);
        self.steps.push(Step { name, node, exact });
        Ok(())
    }

    fn val(&self, n: &RawNode, i: usize) -> Result<&Val> {
        let name = n
            .inputs
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| node_err(n, format!("input {i} is missing")))?;
        self.vals.get(name).ok_or_else(|| {
            node_err(
                n,
                format!("input `{name}` is not computed before this node"),
            )
        })
    }

    fn opt_const(&self, n: &RawNode, i: usize) -> Result<Option<Const>> {
        if n.inputs.get(i).is_none_or(String::is_empty) {
            return Ok(None);
        }
        match self.val(n, i)? {
            Val::Const(c) => Ok(Some(c.clone())),
            Val::Act(_) => Err(node_err(
                n,
                format!("input {i} must be a constant (an initializer), not a computed value"),
            )),
        }
    }

    fn konst(&self, n: &RawNode, i: usize) -> Result<Const> {
        self.opt_const(n, i)?
            .ok_or_else(|| node_err(n, format!("input {i} is missing")))
    }

    fn act(&self, n: &RawNode, i: usize) -> Result<Act> {
        match self.val(n, i)? {
            Val::Act(a) => {
                if a.client.is_some() {
                    return Err(node_err(
                        n,
                        "follows a Softmax/LogSoftmax/ArgMax, which fhez runs on the client at \
                         the output only",
                    ));
                }
                Ok(a.clone())
            }
            Val::Const(_) => Err(node_err(
                n,
                format!("input {i} must be computed from the graph input"),
            )),
        }
    }

    fn set(&mut self, n: &RawNode, v: Val) -> Result<()> {
        let out = n
            .outputs
            .first()
            .ok_or_else(|| node_err(n, "has no output"))?;
        self.vals.insert(out.clone(), v);
        Ok(())
    }

    /// The chain output shape (per sample) after all steps.
    fn tip_shape(&self) -> Result<Vec<usize>> {
        let mut shape = self.input_shape.clone();
        for s in &self.steps {
            shape = s
                .node
                .out_shapes(&[&shape])?
                .into_iter()
                .next()
                .unwrap_or_default();
        }
        Ok(shape)
    }

    /// A fresh value at the current tip with ONNX shape `shape`.
    fn fresh(&self, shape: Vec<usize>) -> Result<Act> {
        fhez_nn::limits::check_shape(shape.get(1..).unwrap_or(&[]))?;
        Ok(Act {
            tip: self.steps.len(),
            shape,
            base_shape: self.tip_shape()?,
            expr: Expr::X,
            perm: None,
            ops: Vec::new(),
            client: None,
        })
    }

    fn last_name(&self) -> String {
        self.steps
            .last()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// Appends a reshape when the chain's shape differs from the per-sample ONNX shape.
    fn shaped(&mut self, a: &Act) -> Result<()> {
        let want = a.shape.get(1..).unwrap_or(&[]).to_vec();
        if self.tip_shape()? != want {
            let name = format!("{}_reshape", self.last_name());
            self.push(&name, Node::Reshape(Reshape { shape: want }), None)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &RawNode) -> Result<()> {
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(Error::Unsupported {
                node: n.name.clone(),
                op: format!("{}:{}", n.domain, n.op),
                hint: "only the default ONNX domain is imported".into(),
            });
        }
        match n.op.as_str() {
            "Identity" | "Dropout" => {
                let v = self.val(n, 0)?.clone();
                self.report.dropped.push(format!("{} ({})", n.name, n.op));
                self.set(n, v)
            }
            "Constant" => self.constant(n),
            "Conv" => self.conv(n),
            "Gemm" | "MatMul" => self.gemm(n),
            "BatchNormalization" => self.batchnorm(n),
            "AveragePool" | "GlobalAveragePool" => self.avgpool(n),
            "Flatten" | "Reshape" | "Transpose" | "Squeeze" | "Unsqueeze" => self.reshape(n),
            "Add" | "Sub" | "Mul" | "Div" | "Pow" => self.binary(n),
            "Relu" | "Sigmoid" | "Tanh" | "Erf" | "Gelu" | "Neg" => self.unary(n),
            "Softmax" | "LogSoftmax" | "ArgMax" => {
                let mut a = self.act(n, 0)?;
                let axis = attr_i(n, "axis", if n.op == "ArgMax" { 0 } else { -1 });
                let rank = i64::try_from(a.shape.len()).unwrap_or(i64::MAX);
                if !(axis == rank - 1 || axis == -1 || (rank == 2 && axis == 1)) {
                    return Err(node_err(
                        n,
                        format!("axis {axis} of a rank-{rank} tensor: only the last axis"),
                    ));
                }
                a.client = Some(match n.op.as_str() {
                    "Softmax" => ClientOutput::Softmax,
                    "LogSoftmax" => ClientOutput::LogSoftmax,
                    _ => ClientOutput::ArgMax,
                });
                self.set(n, Val::Act(a))
            }
            "MaxPool" | "GlobalMaxPool" => Err(Error::Unsupported {
                node: n.name.clone(),
                op: n.op.clone(),
                hint: "a maximum has no exact encrypted form; use AveragePool (AvgPool2d) instead"
                    .into(),
            }),
            _ => Err(Error::Unsupported {
                node: n.name.clone(),
                op: n.op.clone(),
                hint: "no encrypted form in fhez; supported: Conv, Gemm, MatMul, \
                       BatchNormalization, AveragePool, GlobalAveragePool, Flatten, Reshape, \
                       Transpose, Add/Sub/Mul/Div/Pow with constants, Relu, Sigmoid, Tanh, Gelu, \
                       Erf, Identity, Dropout, Softmax/LogSoftmax/ArgMax at the output"
                    .into(),
            }),
        }
    }
}

/// One node's plain forward on one sample.
pub(crate) fn forward(node: &Node, x: &Tensor) -> Result<Tensor> {
    Ok(node
        .forward(&[x])?
        .outputs
        .into_iter()
        .next()
        .unwrap_or_else(|| Tensor::zeros(&[0])))
}

/// Runs the import.
pub(crate) fn run(bytes: &[u8], opts: &ImportOptions) -> Result<Imported> {
    let g = decode::graph(bytes)?;
    let mut vals = HashMap::new();
    for t in &g.initializers {
        vals.insert(t.name.clone(), Val::Const(decode::tensor(t, &t.name)?));
    }
    let inputs: Vec<_> = g
        .inputs
        .iter()
        .filter(|v| !vals.contains_key(&v.name))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(Error::Input {
            name: inputs
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: format!(
                "{} graph inputs besides initializers (exactly one is supported)",
                inputs.len()
            ),
        });
    };
    let shape = input_shape(input, opts)?;
    let per: Vec<usize> = shape.get(1..).unwrap_or(&[]).to_vec();
    fhez_nn::limits::check_shape(&per)?;
    let calibration = match &opts.calibration {
        Some(c) => Some(split_calibration(c, &per)?),
        None => None,
    };
    let opts_cal = ImportOptions {
        calibration,
        ..opts.clone()
    };
    let mut imp = Importer {
        opts: &opts_cal,
        vals,
        steps: Vec::new(),
        names: HashSet::from([input.name.clone()]),
        input_name: input.name.clone(),
        input_shape: per.clone(),
        report: ImportReport::default(),
        cache: None,
    };
    let first = imp.fresh(shape)?;
    imp.vals.insert(input.name.clone(), Val::Act(first));
    for n in &g.nodes {
        imp.node(n)?;
    }
    let [output] = g.outputs.as_slice() else {
        return Err(Error::Input {
            name: g
                .outputs
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: format!(
                "{} graph outputs (exactly one is supported)",
                g.outputs.len()
            ),
        });
    };
    let out = match imp.vals.get(&output.name) {
        Some(Val::Act(a)) => a.clone(),
        _ => {
            return Err(Error::Input {
                name: output.name.clone(),
                reason: "the output is not computed from the input".into(),
            });
        }
    };
    let client = out.client;
    let pseudo = RawNode {
        name: output.name.clone(),
        op: "output".into(),
        domain: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: Vec::new(),
    };
    let a = imp.materialize(
        &pseudo,
        Act {
            client: None,
            ..out
        },
        false,
    )?;
    imp.shaped(&a)?;
    let Importer {
        steps,
        report,
        input_name,
        input_shape,
        ..
    } = imp;
    crate::finish(
        steps,
        report,
        input_name,
        input_shape,
        output.name.clone(),
        client,
        &opts_cal,
    )
}

fn input_shape(v: &crate::proto::ValueInfo, opts: &ImportOptions) -> Result<Vec<usize>> {
    let bad = |reason: String| Error::Input {
        name: v.name.clone(),
        reason,
    };
    if let Some(s) = &opts.input_shape {
        return Ok(s.clone());
    }
    let dims = v
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .ok_or_else(|| bad("no tensor shape (pass a fixed input shape)".into()))?;
    limits_check("input rank", dims.dim.len(), limits::MAX_RANK)?;
    let mut shape = Vec::with_capacity(dims.dim.len());
    for (i, d) in dims.dim.iter().enumerate() {
        match (d.dim_value, &d.dim_param) {
            (Some(v), _) if v > 0 => {
                shape.push(usize::try_from(v).map_err(|_| bad(format!("dimension {i} is {v}")))?)
            }
            (_, Some(p)) if !p.is_empty() => {
                return Err(bad(format!(
                    "dimension {i} is symbolic (`{p}`); pass a fixed input shape"
                )));
            }
            (Some(v), _) => return Err(bad(format!("dimension {i} is {v}"))),
            _ => {
                return Err(bad(format!(
                    "dimension {i} has no value; pass a fixed input shape"
                )));
            }
        }
    }
    if shape.first() != Some(&1) {
        return Err(bad(format!(
            "shape {shape:?}: the first (batch) dimension must be 1"
        )));
    }
    Ok(shape)
}

/// Splits a `(N, sample…)` calibration tensor into `N` samples of the input's shape.
fn split_calibration(c: &[Tensor], per: &[usize]) -> Result<Vec<Tensor>> {
    let want = numel(per);
    c.iter()
        .enumerate()
        .map(|(i, t)| {
            if t.len() == want {
                Ok(t.reshape(per)?)
            } else {
                Err(Error::Calibration {
                    reason: format!(
                        "sample {i} has {} values, the input {per:?} needs {want}",
                        t.len()
                    ),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
