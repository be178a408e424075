//! The graph conversion: ONNX nodes in order, a chain of fhez nodes out.

use std::collections::{HashMap, HashSet};

use fhez_nn::nodes::{AvgPool, Conv, Dense, Poly, Reshape};
use fhez_nn::{Node, Tensor};

use crate::decode::{self, Const, RawNode};
use crate::fit::{self, Expr};
use crate::proto::Attribute;
use crate::{
    ClientOutput, Error, ImportOptions, ImportReport, Imported, Replacement, Result, Step, limits,
};

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

fn node_err(n: &RawNode, reason: impl Into<String>) -> Error {
    Error::Node {
        node: n.name.clone(),
        op: n.op.clone(),
        reason: reason.into(),
    }
}

fn attr<'n>(n: &'n RawNode, name: &str) -> Option<&'n Attribute> {
    n.attrs.iter().find(|a| a.name == name)
}

fn attr_i(n: &RawNode, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

fn attr_f(n: &RawNode, name: &str, default: f64) -> f64 {
    attr(n, name).map_or(default, |a| f64::from(a.f))
}

fn attr_ints(n: &RawNode, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn to_usizes(n: &RawNode, what: &str, v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| usize::try_from(x).map_err(|_| node_err(n, format!("{what} {x} is negative"))))
        .collect()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}

/// Broadcasts `c` to `shape` (numpy rules; `c` may not grow the shape).
fn broadcast(c: &Const, shape: &[usize]) -> Option<Vec<f64>> {
    if c.shape.len() > shape.len() {
        // Leading ones may be dropped.
        let extra = c.shape.len() - shape.len();
        if c.shape.get(..extra)?.iter().any(|&d| d != 1) {
            return None;
        }
        let trimmed = Const {
            shape: c.shape.get(extra..)?.to_vec(),
            data: c.data.clone(),
        };
        return broadcast(&trimmed, shape);
    }
    let off = shape.len() - c.shape.len();
    for (i, &d) in c.shape.iter().enumerate() {
        let s = *shape.get(off + i)?;
        if d != 1 && d != s {
            return None;
        }
    }
    let n = numel(shape);
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let mut k = 0usize;
        for (i, &d) in c.shape.iter().enumerate() {
            let v = if d == 1 { 0 } else { *idx.get(off + i)? };
            k = k * d + v;
        }
        out.push(*c.data.get(k)?);
        for (t, &s) in idx.iter_mut().zip(shape).rev() {
            *t += 1;
            if *t < s {
                break;
            }
            *t = 0;
        }
    }
    Some(out)
}

/// The output shape of numpy broadcasting two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = if i + a.len() >= n {
                a.get(i + a.len() - n).copied()
            } else {
                Some(1)
            };
            let y = if i + b.len() >= n {
                b.get(i + b.len() - n).copied()
            } else {
                Some(1)
            };
            match (x?, y?) {
                (p, q) if p == q || q == 1 => Some(p),
                (1, q) => Some(q),
                _ => None,
            }
        })
        .collect()
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

    /// Calibration outputs of the first `k` steps (the fitted chain), per sample.
    fn calib_at(&mut self, k: usize) -> Result<Option<Vec<Tensor>>> {
        let Some(cal) = &self.opts.calibration else {
            return Ok(None);
        };
        let stable = k.saturating_sub(1);
        let (mut at, mut xs) = match self.cache.take() {
            Some((at, xs)) if at <= stable => (at, xs),
            _ => (0, cal.clone()),
        };
        while at < stable {
            let node = &self.steps.get(at).ok_or(Error::NoGraph)?.node;
            xs = xs
                .iter()
                .map(|x| forward(node, x))
                .collect::<Result<Vec<_>>>()?;
            at += 1;
        }
        self.cache = Some((at, xs.clone()));
        if k > stable {
            let node = &self.steps.get(stable).ok_or(Error::NoGraph)?.node;
            xs = xs
                .iter()
                .map(|x| forward(node, x))
                .collect::<Result<Vec<_>>>()?;
        }
        Ok(Some(xs))
    }

    /// Makes `a` a plain chain output (expr applied, no pending permutation unless
    /// `allow_perm`): appends a `poly` step (exact or fitted) when needed.
    fn materialize(&mut self, n: &RawNode, a: Act, allow_perm: bool) -> Result<Act> {
        if a.tip != self.steps.len() {
            return Err(node_err(
                n,
                "the graph branches here (a value is used after a later layer); only chains of \
                 layers with elementwise branches are supported",
            ));
        }
        if a.perm.is_some() && !allow_perm {
            return Err(node_err(
                n,
                "follows a Transpose that reorders the data; only a Gemm/MatMul can absorb it",
            ));
        }
        if a.expr == Expr::X {
            return Ok(a);
        }
        let label = a
            .ops
            .last()
            .map_or_else(|| n.name.clone(), |(name, _)| name.clone());
        let max_deg = fhez_nn::nodes::MAX_POLY_DEGREE;
        if let Some(p) = a.expr.poly(max_deg) {
            if fit::degree(&p) <= 1
                && self.fold_affine(
                    p.first().copied().unwrap_or(0.0),
                    p.get(1).copied().unwrap_or(0.0),
                )?
            {
                self.report
                    .folded
                    .push(format!("{label} into {}", self.last_name()));
            } else {
                self.push(&label, Node::Poly(Poly { coeffs: p }), None)?;
            }
        } else {
            let op_names: Vec<String> = a.ops.iter().map(|(_, o)| o.clone()).collect();
            let xs = self
                .calib_at(a.tip)?
                .ok_or_else(|| Error::NeedsCalibration {
                    node: label.clone(),
                    op: op_names.join("+"),
                })?;
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for x in &xs {
                for &v in x.data() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::Calibration {
                    reason: format!("the input of `{label}` is not finite on the calibration data"),
                });
            }
            let margin = (hi - lo).max(1e-3) * self.opts.range_margin;
            let (lo, hi) = (lo - margin, hi + margin);
            let f = |x: f64| a.expr.eval(x);
            let max_d = (1usize << self.opts.max_activation_depth.min(5)) - 1;
            let (coeffs, err) = match self.opts.degree {
                Some(d) => {
                    let d = d.clamp(1, max_deg);
                    let p = fit::chebyshev_fit(&f, lo, hi, d);
                    let e = fit::max_error(&f, &p, lo, hi);
                    (p, e)
                }
                None => {
                    let scale = fit::max_error(&f, &[0.0], lo, hi).max(1e-12);
                    let target = self.opts.max_error.unwrap_or(0.01 * scale);
                    let mut best = None;
                    for d in 1..=max_d.max(1) {
                        let p = fit::chebyshev_fit(&f, lo, hi, d);
                        let e = fit::max_error(&f, &p, lo, hi);
                        let done = e <= target;
                        best = Some((p, e));
                        if done {
                            break;
                        }
                    }
                    best.ok_or(Error::NoGraph)?
                }
            };
            let degree = fit::degree(&coeffs);
            self.report.replaced.push(Replacement {
                node: label.clone(),
                ops: op_names,
                range: (lo, hi),
                degree,
                max_error: err,
            });
            self.push(&label, Node::Poly(Poly { coeffs }), Some(a.expr.clone()))?;
        }
        let mut out = self.fresh(a.shape)?;
        out.perm = a.perm;
        Ok(out)
    }

    fn last_name(&self) -> String {
        self.steps
            .last()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// Folds `y = c1·x + c0` into the last step when it is a conv or dense layer.
    fn fold_affine(&mut self, c0: f64, c1: f64) -> Result<bool> {
        let Some(last) = self.steps.last_mut() else {
            return Ok(false);
        };
        if let Node::Conv(c) = &mut last.node {
            c.weights = c.weights.map(|v| v * c1);
            c.bias = c.bias.map(|v| v * c1 + c0);
            return Ok(true);
        }
        if let Node::Dense(d) = &mut last.node {
            d.weights = d.weights.map(|v| v * c1);
            d.bias = d.bias.map(|v| v * c1 + c0);
            return Ok(true);
        }
        Ok(false)
    }

    /// `y = m ⊙ x + c` with `m`, `c` per element of the per-sample shape: folded into the last
    /// conv (per channel) or dense layer when `a` is its plain output, else a diagonal dense
    /// layer (one level).
    fn affine(&mut self, n: &RawNode, a: Act, m: &[f64], c: &[f64]) -> Result<Act> {
        let foldable =
            a.expr == Expr::X && a.perm.is_none() && a.tip == self.steps.len() && a.tip > 0;
        if foldable {
            let per = a.base_shape.iter().skip(1).product::<usize>().max(1);
            let last_name = self.last_name();
            let folded = match self.steps.last_mut().map(|s| &mut s.node) {
                Some(Node::Conv(conv)) => fold_conv(conv, m, c, per),
                Some(Node::Dense(d)) => {
                    fold_dense(d, m, c);
                    true
                }
                _ => false,
            };
            if folded {
                self.report
                    .folded
                    .push(format!("{} into {last_name}", n.name));
                return self.fresh(a.shape);
            }
        }
        let a = self.materialize(n, a, false)?;
        let k = m.len();
        limits_check(
            "diagonal layer entries",
            k.saturating_mul(k),
            fhez_nn::nodes::MAX_CONV_MATRIX,
        )?;
        let mut w = vec![0.0; k * k];
        for (i, &v) in m.iter().enumerate() {
            if let Some(x) = w.get_mut(i * k + i) {
                *x = v;
            }
        }
        let dense = Dense {
            d_in: k,
            d_out: k,
            weights: Tensor::new(vec![k, k], w)?,
            bias: Tensor::new(vec![k], c.to_vec())?,
        };
        self.push(&n.name, Node::Dense(dense), None)?;
        self.fresh(a.shape)
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

    fn constant(&mut self, n: &RawNode) -> Result<()> {
        let c = if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
            decode::tensor(t, &n.name)?
        } else if let Some(a) = attr(n, "value_float") {
            Const {
                shape: vec![],
                data: vec![f64::from(a.f)],
            }
        } else if let Some(a) = attr(n, "value_floats") {
            Const {
                shape: vec![a.floats.len()],
                data: a.floats.iter().map(|&v| f64::from(v)).collect(),
            }
        } else if let Some(a) = attr(n, "value_int") {
            #[expect(clippy::cast_precision_loss, reason = "shape constants are small")]
            let v = a.i as f64;
            Const {
                shape: vec![],
                data: vec![v],
            }
        } else if let Some(a) = attr(n, "value_ints") {
            #[expect(clippy::cast_precision_loss, reason = "shape constants are small")]
            let d = a.ints.iter().map(|&v| v as f64).collect();
            Const {
                shape: vec![a.ints.len()],
                data: d,
            }
        } else {
            return Err(node_err(n, "no value attribute this importer reads"));
        };
        self.set(n, Val::Const(c))
    }

    fn conv(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let w = self.konst(n, 1)?;
        let b = self.opt_const(n, 2)?;
        if attr_i(n, "group", 1) != 1 {
            return Err(node_err(
                n,
                format!("group = {} (only 1)", attr_i(n, "group", 1)),
            ));
        }
        let k = w.shape.len().saturating_sub(2);
        if k == 0 || a.shape.len() != k + 2 {
            return Err(node_err(
                n,
                format!("weights {:?} do not fit input {:?}", w.shape, a.shape),
            ));
        }
        if let Some(d) = attr_ints(n, "dilations")
            && d.iter().any(|&v| v != 1)
        {
            return Err(node_err(n, format!("dilations {d:?} (only 1)")));
        }
        let auto = attr(n, "auto_pad").map(|a| String::from_utf8_lossy(&a.s).into_owned());
        if auto
            .as_deref()
            .is_some_and(|s| s != "NOTSET" && s != "VALID")
        {
            return Err(node_err(
                n,
                format!("auto_pad {} (use explicit pads)", auto.unwrap_or_default()),
            ));
        }
        let (stride, pads) = stride_and_pads(n, k)?;
        let padding = symmetric(n, &pads, k)?;
        let a = self.materialize(n, a, false)?;
        self.shaped(&a)?;
        let f_n = *w.shape.first().unwrap_or(&0);
        let bias = match b {
            Some(b) if b.data.len() == f_n => b.data,
            Some(b) => {
                return Err(node_err(
                    n,
                    format!("bias has {} values for {f_n} filters", b.data.len()),
                ));
            }
            None => vec![0.0; f_n],
        };
        let conv = Conv {
            stride,
            padding,
            weights: Tensor::new(w.shape.clone(), w.data)?,
            bias: Tensor::new(vec![f_n], bias)?,
        };
        let node = Node::Conv(conv);
        let mut out = node
            .out_shapes(&[a.shape.get(1..).unwrap_or(&[])])
            .map_err(|e| node_err(n, e.to_string()))?;
        let mut shape = vec![1];
        shape.append(out.first_mut().ok_or(Error::NoGraph)?);
        self.push(&n.name, node, None)?;
        let v = self.fresh(shape)?;
        self.set(n, Val::Act(v))
    }

    fn gemm(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let b = self.konst(n, 1)?;
        let gemm = n.op == "Gemm";
        let (alpha, beta) = if gemm {
            (attr_f(n, "alpha", 1.0), attr_f(n, "beta", 1.0))
        } else {
            (1.0, 1.0)
        };
        if gemm && attr_i(n, "transA", 0) != 0 {
            return Err(node_err(n, "transA = 1 (the batch axis must stay first)"));
        }
        let trans_b = gemm && attr_i(n, "transB", 0) != 0;
        let (k_in, n_out) = match (a.shape.as_slice(), b.shape.as_slice()) {
            ([1, k], [r, c]) if !trans_b && r == k => (*k, *c),
            ([1, k], [r, c]) if trans_b && c == k => (*k, *r),
            _ => {
                return Err(node_err(
                    n,
                    format!(
                        "operands {:?} and {:?} (expects (1, K) and a (K, N) constant)",
                        a.shape, b.shape
                    ),
                ));
            }
        };
        limits_check(
            "dense weights",
            k_in.saturating_mul(n_out),
            limits::MAX_TENSOR_ELEMENTS,
        )?;
        let a = self.materialize(n, a, true)?;
        let mut w = vec![0.0; k_in * n_out];
        for i in 0..k_in {
            let row = a.perm.as_ref().and_then(|p| p.get(i).copied()).unwrap_or(i);
            for j in 0..n_out {
                let v = if trans_b {
                    b.data.get(j * k_in + i)
                } else {
                    b.data.get(i * n_out + j)
                };
                if let Some(x) = w.get_mut(row * n_out + j) {
                    *x = alpha * v.copied().unwrap_or(0.0);
                }
            }
        }
        let bias = match self.opt_const(n, 2)? {
            Some(c) if gemm => broadcast(&c, &[n_out])
                .ok_or_else(|| {
                    node_err(
                        n,
                        format!("C of shape {:?} does not broadcast to ({n_out},)", c.shape),
                    )
                })?
                .into_iter()
                .map(|v| beta * v)
                .collect(),
            _ => vec![0.0; n_out],
        };
        let dense = Dense {
            d_in: k_in,
            d_out: n_out,
            weights: Tensor::new(vec![k_in, n_out], w)?,
            bias: Tensor::new(vec![n_out], bias)?,
        };
        self.push(&n.name, Node::Dense(dense), None)?;
        let v = self.fresh(vec![1, n_out])?;
        self.set(n, Val::Act(v))
    }

    fn batchnorm(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let [s, b, mean, var] = [1, 2, 3, 4].map(|i| self.konst(n, i));
        let (s, b, mean, var) = (s?, b?, mean?, var?);
        let eps = attr_f(n, "epsilon", 1e-5);
        let ch = *a
            .shape
            .get(1)
            .ok_or_else(|| node_err(n, "input has no channel axis"))?;
        if [&s, &b, &mean, &var].iter().any(|c| c.data.len() != ch) {
            return Err(node_err(
                n,
                format!("parameters must have {ch} values (one per channel)"),
            ));
        }
        let m: Vec<f64> = s
            .data
            .iter()
            .zip(&var.data)
            .map(|(s, v)| s / (v + eps).sqrt())
            .collect();
        let c: Vec<f64> = b
            .data
            .iter()
            .zip(&mean.data)
            .zip(&m)
            .map(|((b, mu), m)| b - mu * m)
            .collect();
        let mut cshape = vec![1, ch];
        cshape.resize(a.shape.len().max(2), 1);
        let per = a.shape.get(1..).unwrap_or(&[]);
        let mb = broadcast(
            &Const {
                shape: cshape.clone(),
                data: m,
            },
            per,
        )
        .ok_or_else(|| node_err(n, "shape"))?;
        let cb = broadcast(
            &Const {
                shape: cshape,
                data: c,
            },
            per,
        )
        .ok_or_else(|| node_err(n, "shape"))?;
        let out = self.affine(n, a, &mb, &cb)?;
        self.set(n, Val::Act(out))
    }

    fn avgpool(&mut self, n: &RawNode) -> Result<()> {
        let a = self.act(n, 0)?;
        let spatial = a.shape.get(2..).unwrap_or(&[]).to_vec();
        let ch = *a
            .shape
            .get(1)
            .ok_or_else(|| node_err(n, "input has no channel axis"))?;
        let k = spatial.len();
        if k == 0 || a.shape.first() != Some(&1) {
            return Err(node_err(
                n,
                format!("input {:?} must be (1, C, spatial…)", a.shape),
            ));
        }
        let (kernel, stride, pads) = if n.op == "GlobalAveragePool" {
            (spatial.clone(), vec![1; k], vec![0; 2 * k])
        } else {
            let kernel = to_usizes(
                n,
                "kernel",
                &attr_ints(n, "kernel_shape").ok_or_else(|| node_err(n, "no kernel_shape"))?,
            )?;
            let (stride, pads) = stride_and_pads(n, k)?;
            if attr_i(n, "ceil_mode", 0) != 0 {
                return Err(node_err(n, "ceil_mode = 1 (only 0)"));
            }
            (kernel, stride, pads)
        };
        if kernel.len() != k || stride.len() != k {
            return Err(node_err(
                n,
                "kernel_shape/strides need one entry per spatial axis",
            ));
        }
        let padding = symmetric(n, &pads, k)?;
        let a = self.materialize(n, a, false)?;
        self.shaped(&a)?;
        let include = attr_i(n, "count_include_pad", 0) != 0;
        let per_sample = a.shape.get(1..).unwrap_or(&[]).to_vec();
        let node = if padding.iter().all(|&p| p == 0) {
            let mut kk = vec![1];
            kk.extend(&kernel);
            let mut ss = vec![1];
            ss.extend(&stride);
            Node::AvgPool(AvgPool {
                kernel: kk,
                stride: ss,
            })
        } else {
            // Depthwise: filter f reads channel f only; every tap weighs 1/count, where count
            // is the kernel size (count_include_pad) or the window's cells inside the input.
            let klen = numel(&kernel);
            limits_check(
                "pool weights",
                ch.saturating_mul(ch).saturating_mul(klen),
                limits::MAX_TENSOR_ELEMENTS,
            )?;
            if include {
                let mut w = vec![0.0; ch * ch * klen];
                #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
                let inv = 1.0 / klen as f64;
                for f in 0..ch {
                    for t in 0..klen {
                        if let Some(x) = w.get_mut((f * ch + f) * klen + t) {
                            *x = inv;
                        }
                    }
                }
                let mut ws = vec![ch, ch];
                ws.extend(&kernel);
                Node::Conv(Conv {
                    stride: stride.clone(),
                    padding: padding.clone(),
                    weights: Tensor::new(ws, w)?,
                    bias: Tensor::zeros(&[ch]),
                })
            } else {
                exclude_pad_dense(n, &per_sample, &kernel, &stride, &padding)?
            }
        };
        let out = if let Node::Dense(_) = &node {
            let mut s = vec![ch];
            s.extend(pool_out(&spatial, &kernel, &stride, &padding));
            s
        } else {
            node.out_shapes(&[&per_sample])
                .map_err(|e| node_err(n, e.to_string()))?
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        self.push(&n.name, node, None)?;
        let mut shape = vec![1];
        shape.extend(out);
        let v = self.fresh(shape)?;
        self.set(n, Val::Act(v))
    }

    fn reshape(&mut self, n: &RawNode) -> Result<()> {
        let mut a = self.act(n, 0)?;
        let total = numel(&a.shape);
        let shape: Vec<usize> = match n.op.as_str() {
            "Flatten" => {
                let axis = attr_i(n, "axis", 1);
                if axis != 0 && axis != 1 {
                    return Err(node_err(
                        n,
                        format!("axis {axis} (only 0 or 1: the batch axis stays)"),
                    ));
                }
                vec![1, total]
            }
            "Reshape" => {
                let target = self.konst(n, 1)?;
                let mut known = 1usize;
                let mut infer = None;
                let mut out = Vec::with_capacity(target.data.len());
                for (i, &v) in target.data.iter().enumerate() {
                    #[expect(clippy::cast_possible_truncation, reason = "checked integral below")]
                    let d = v as i64;
                    let d = match d {
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            1
                        }
                        0 => *a
                            .shape
                            .get(i)
                            .ok_or_else(|| node_err(n, "0 copies a missing axis"))?,
                        d => {
                            usize::try_from(d).map_err(|_| node_err(n, format!("dimension {d}")))?
                        }
                    };
                    known = known.saturating_mul(d);
                    out.push(d);
                }
                if let Some(i) = infer {
                    if known == 0 || !total.is_multiple_of(known) {
                        return Err(node_err(
                            n,
                            format!("cannot reshape {:?} to {:?}", a.shape, target.data),
                        ));
                    }
                    if let Some(x) = out.get_mut(i) {
                        *x = total / known;
                    }
                }
                out
            }
            "Transpose" => {
                let rank = a.shape.len();
                let perm = match attr_ints(n, "perm") {
                    Some(p) => to_usizes(n, "perm", &p)?,
                    None => (0..rank).rev().collect(),
                };
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(node_err(
                        n,
                        format!("perm {perm:?} is not a permutation of {rank} axes"),
                    ));
                }
                let out: Vec<usize> = perm
                    .iter()
                    .map(|&p| a.shape.get(p).copied().unwrap_or(1))
                    .collect();
                limits_check("transpose elements", total, limits::MAX_TENSOR_ELEMENTS)?;
                let flat = transpose_map(&a.shape, &perm);
                if flat.iter().enumerate().any(|(i, &j)| i != j) {
                    let composed = match &a.perm {
                        Some(old) => flat
                            .iter()
                            .map(|&j| old.get(j).copied().unwrap_or(j))
                            .collect(),
                        None => flat,
                    };
                    a.perm = Some(composed);
                }
                out
            }
            "Squeeze" | "Unsqueeze" => {
                let axes = match attr_ints(n, "axes") {
                    Some(v) => v,
                    None => self
                        .opt_const(n, 1)?
                        .map(|c| {
                            c.data
                                .iter()
                                .map(|&v| {
                                    #[expect(
                                        clippy::cast_possible_truncation,
                                        reason = "axes are small"
                                    )]
                                    let v = v as i64;
                                    v
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                if axes.contains(&0) {
                    return Err(node_err(n, "axis 0 (the batch axis) must stay"));
                }
                let mut s = a.shape.clone();
                if n.op == "Squeeze" {
                    if axes.is_empty() {
                        let mut t = vec![1];
                        t.extend(s.iter().skip(1).filter(|&&d| d != 1));
                        t
                    } else {
                        let rank = i64::try_from(s.len()).unwrap_or(0);
                        let mut idx: Vec<usize> = axes
                            .iter()
                            .filter_map(|&x| usize::try_from(if x < 0 { x + rank } else { x }).ok())
                            .collect();
                        idx.sort_unstable();
                        for &i in idx.iter().rev() {
                            if s.get(i) == Some(&1) {
                                s.remove(i);
                            } else {
                                return Err(node_err(
                                    n,
                                    format!("axis {i} of {:?} is not 1", a.shape),
                                ));
                            }
                        }
                        s
                    }
                } else {
                    let rank = i64::try_from(s.len() + axes.len()).unwrap_or(0);
                    let mut idx: Vec<usize> = axes
                        .iter()
                        .filter_map(|&x| usize::try_from(if x < 0 { x + rank } else { x }).ok())
                        .collect();
                    idx.sort_unstable();
                    for &i in &idx {
                        if i > s.len() {
                            return Err(node_err(n, format!("axis {i} out of range")));
                        }
                        s.insert(i, 1);
                    }
                    s
                }
            }
            _ => return Err(node_err(n, "not a shape operator")),
        };
        limits_check("tensor rank", shape.len(), limits::MAX_RANK)?;
        if numel(&shape) != total || shape.first() != Some(&1) {
            return Err(node_err(
                n,
                format!(
                    "cannot reshape {:?} to {shape:?} (the batch axis must stay 1)",
                    a.shape
                ),
            ));
        }
        a.shape = shape;
        self.set(n, Val::Act(a))
    }

    fn unary(&mut self, n: &RawNode) -> Result<()> {
        let mut a = self.act(n, 0)?;
        let x = Box::new(a.expr.clone());
        a.expr = match n.op.as_str() {
            "Relu" => Expr::Relu(x),
            "Sigmoid" => Expr::Sigmoid(x),
            "Tanh" => Expr::Tanh(x),
            "Erf" => Expr::Erf(x),
            "Neg" => Expr::Sub(Box::new(Expr::C(0.0)), x),
            _ => {
                let approx =
                    attr(n, "approximate").map(|a| String::from_utf8_lossy(&a.s).into_owned());
                Expr::Gelu(x, approx.as_deref() == Some("tanh"))
            }
        };
        if n.op != "Neg" {
            a.ops.push((n.name.clone(), n.op.clone()));
        }
        self.set(n, Val::Act(a))
    }

    fn binary(&mut self, n: &RawNode) -> Result<()> {
        let (l, r) = (self.val(n, 0)?.clone(), self.val(n, 1)?.clone());
        let op = n.op.as_str();
        let combine = |x: Expr, y: Expr| -> Result<Expr> {
            Ok(match op {
                "Add" => Expr::Add(Box::new(x), Box::new(y)),
                "Sub" => Expr::Sub(Box::new(x), Box::new(y)),
                "Mul" => Expr::Mul(Box::new(x), Box::new(y)),
                "Div" => Expr::Div(Box::new(x), Box::new(y)),
                _ => {
                    let k = if let Expr::C(e) = y
                        && (0.0..=8.0).contains(&e)
                        && e.fract() == 0.0
                    {
                        e
                    } else {
                        return Err(node_err(n, "exponent must be a constant integer 0..=8"));
                    };
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked 0..=8 integral"
                    )]
                    let k = k as u32;
                    Expr::Pow(Box::new(x), k)
                }
            })
        };
        let out = match (l, r) {
            (Val::Const(a), Val::Const(b)) => {
                let shape = broadcast_shape(&a.shape, &b.shape)
                    .ok_or_else(|| node_err(n, "shapes do not broadcast"))?;
                limits_check(
                    "constant elements",
                    numel(&shape),
                    limits::MAX_TENSOR_ELEMENTS,
                )?;
                let (x, y) = (broadcast(&a, &shape), broadcast(&b, &shape));
                let (x, y) = (
                    x.ok_or_else(|| node_err(n, "shape"))?,
                    y.ok_or_else(|| node_err(n, "shape"))?,
                );
                let data = x
                    .iter()
                    .zip(&y)
                    .map(|(&p, &q)| combine(Expr::C(p), Expr::C(q)).map(|e| e.eval(0.0)))
                    .collect::<Result<Vec<_>>>()?;
                Val::Const(Const { shape, data })
            }
            (Val::Act(a), Val::Act(b)) => {
                if a.tip != b.tip
                    || a.perm != b.perm
                    || a.shape != b.shape
                    || a.client.is_some()
                    || b.client.is_some()
                {
                    return Err(node_err(
                        n,
                        "both operands are computed on different paths; only elementwise functions of one value are supported",
                    ));
                }
                let mut ops = a.ops.clone();
                ops.extend(b.ops.iter().filter(|o| !a.ops.contains(o)).cloned());
                Val::Act(Act {
                    expr: combine(a.expr, b.expr)?,
                    ops,
                    ..a
                })
            }
            (Val::Act(a), Val::Const(c)) | (Val::Const(c), Val::Act(a)) => {
                let act_left = matches!(self.val(n, 0)?, Val::Act(_));
                if a.client.is_some() {
                    return Err(node_err(n, "follows a Softmax/LogSoftmax/ArgMax"));
                }
                if c.data.len() == 1 {
                    let k = Expr::C(*c.data.first().unwrap_or(&0.0));
                    let e = if act_left {
                        combine(a.expr.clone(), k)?
                    } else {
                        combine(k, a.expr.clone())?
                    };
                    let mut a = a;
                    a.expr = e;
                    Val::Act(a)
                } else {
                    if op == "Pow" || (op == "Div" && !act_left) {
                        return Err(node_err(
                            n,
                            "a non-scalar constant here is not an affine map",
                        ));
                    }
                    if a.perm.is_some() {
                        return Err(node_err(
                            n,
                            "a per-element constant after a reordering Transpose",
                        ));
                    }
                    let per = a.shape.get(1..).unwrap_or(&[]).to_vec();
                    let full = broadcast_shape(&a.shape, &c.shape);
                    if full.as_deref() != Some(a.shape.as_slice()) {
                        return Err(node_err(
                            n,
                            format!(
                                "constant {:?} would broadcast {:?} to a larger shape",
                                c.shape, a.shape
                            ),
                        ));
                    }
                    let mut cs = c.clone();
                    if cs.shape.len() == a.shape.len() && cs.shape.first() == Some(&1) {
                        cs.shape.remove(0);
                    }
                    let v = broadcast(&cs, &per).ok_or_else(|| {
                        node_err(
                            n,
                            format!("constant {:?} does not broadcast to {per:?}", c.shape),
                        )
                    })?;
                    let len = v.len();
                    let (m, k): (Vec<f64>, Vec<f64>) = match (op, act_left) {
                        ("Add", _) => (vec![1.0; len], v),
                        ("Sub", true) => (vec![1.0; len], v.iter().map(|x| -x).collect()),
                        ("Sub", false) => (vec![-1.0; len], v),
                        ("Mul", _) => (v, vec![0.0; len]),
                        _ => (v.iter().map(|x| 1.0 / x).collect(), vec![0.0; len]),
                    };
                    if m.iter().any(|x| !x.is_finite()) {
                        return Err(node_err(n, "division by zero"));
                    }
                    let a = if a.expr == Expr::X {
                        a
                    } else {
                        self.materialize(n, a, false)?
                    };
                    Val::Act(self.affine(n, a, &m, &k)?)
                }
            }
        };
        self.set(n, out)
    }
}

/// Folds `y = m ⊙ x + c` into a conv when `m` and `c` are constant over each output
/// channel's plane of `per` elements.
fn fold_conv(conv: &mut Conv, m: &[f64], c: &[f64], per: usize) -> bool {
    let planes_equal = |v: &[f64]| {
        v.chunks(per)
            .all(|p| p.iter().all(|x| Some(x) == p.first()))
    };
    if !(planes_equal(m) && planes_equal(c)) {
        return false;
    }
    let f_n = conv.bias.len();
    let klen = conv.weights.len() / f_n.max(1);
    for (f, w) in conv.weights.data_mut().chunks_mut(klen.max(1)).enumerate() {
        let s = m.get(f * per).copied().unwrap_or(1.0);
        w.iter_mut().for_each(|v| *v *= s);
    }
    for (f, b) in conv.bias.data_mut().iter_mut().enumerate() {
        *b = *b * m.get(f * per).copied().unwrap_or(1.0) + c.get(f * per).copied().unwrap_or(0.0);
    }
    true
}

/// Folds `y = m ⊙ x + c` (per output) into a dense layer.
fn fold_dense(d: &mut Dense, m: &[f64], c: &[f64]) {
    let cols = d.d_out;
    for row in d.weights.data_mut().chunks_mut(cols.max(1)) {
        for (j, v) in row.iter_mut().enumerate() {
            *v *= m.get(j).copied().unwrap_or(1.0);
        }
    }
    for (j, b) in d.bias.data_mut().iter_mut().enumerate() {
        *b = *b * m.get(j).copied().unwrap_or(1.0) + c.get(j).copied().unwrap_or(0.0);
    }
}

fn limits_check(what: &'static str, found: usize, limit: usize) -> Result<()> {
    if found <= limit {
        Ok(())
    } else {
        Err(Error::Limit { what, found, limit })
    }
}

/// A windowed node's `strides` (default 1 per spatial axis) and `pads` (default 0 at both
/// ends of each of the `k` axes), as read by Conv and AveragePool.
fn stride_and_pads(n: &RawNode, k: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let stride = to_usizes(
        n,
        "stride",
        &attr_ints(n, "strides").unwrap_or_else(|| vec![1; k]),
    )?;
    let pads = to_usizes(
        n,
        "pad",
        &attr_ints(n, "pads").unwrap_or_else(|| vec![0; 2 * k]),
    )?;
    Ok((stride, pads))
}

/// Symmetric padding from ONNX `pads` (`[begin…, end…]`).
fn symmetric(n: &RawNode, pads: &[usize], k: usize) -> Result<Vec<usize>> {
    if pads.len() != 2 * k {
        return Err(node_err(n, format!("pads {pads:?} need {} entries", 2 * k)));
    }
    let (b, e) = pads.split_at(k);
    if b != e {
        return Err(node_err(
            n,
            format!("asymmetric pads {pads:?} (only equal begin and end)"),
        ));
    }
    Ok(b.to_vec())
}

fn pool_out(spatial: &[usize], kernel: &[usize], stride: &[usize], pad: &[usize]) -> Vec<usize> {
    spatial
        .iter()
        .zip(kernel)
        .zip(stride.iter().zip(pad))
        .map(|((&d, &k), (&s, &p))| (d + 2 * p).saturating_sub(k) / s.max(1) + 1)
        .collect()
}

/// Average pooling with zero padding whose border windows divide by the cells inside the
/// input (`count_include_pad = 0`), as one dense layer on the flattened input.
fn exclude_pad_dense(
    n: &RawNode,
    per: &[usize],
    kernel: &[usize],
    stride: &[usize],
    pad: &[usize],
) -> Result<Node> {
    let (ch, spatial) = per
        .split_first()
        .ok_or_else(|| node_err(n, "no channel axis"))?;
    let out = pool_out(spatial, kernel, stride, pad);
    let (inp, outp) = (numel(spatial), numel(&out));
    let (d_in, d_out) = (ch.saturating_mul(inp), ch.saturating_mul(outp));
    limits_check(
        "pool matrix entries",
        d_in.saturating_mul(d_out),
        fhez_nn::nodes::MAX_CONV_MATRIX,
    )?;
    let mut w = vec![0.0; d_in * d_out];
    let rank = spatial.len();
    let mut opos = vec![0usize; rank];
    for o in 0..outp {
        let mut r = o;
        for (t, &d) in opos.iter_mut().zip(&out).rev() {
            *t = r % d.max(1);
            r /= d.max(1);
        }
        let mut cells = Vec::new();
        for kidx in 0..numel(kernel) {
            let mut r = kidx;
            let mut flat = 0usize;
            let mut inside = true;
            let mut kpos = vec![0usize; rank];
            for (t, &k) in kpos.iter_mut().zip(kernel).rev() {
                *t = r % k.max(1);
                r /= k.max(1);
            }
            for t in 0..rank {
                let (ot, kt, st, pt, d) = (
                    opos.get(t).copied().unwrap_or(0),
                    kpos.get(t).copied().unwrap_or(0),
                    stride.get(t).copied().unwrap_or(1),
                    pad.get(t).copied().unwrap_or(0),
                    spatial.get(t).copied().unwrap_or(1),
                );
                match (ot * st + kt).checked_sub(pt) {
                    Some(x) if x < d => flat = flat * d + x,
                    _ => inside = false,
                }
            }
            if inside {
                cells.push(flat);
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
        let inv = 1.0 / cells.len().max(1) as f64;
        for c in 0..*ch {
            for &i in &cells {
                if let Some(x) = w.get_mut((c * inp + i) * d_out + c * outp + o) {
                    *x = inv;
                }
            }
        }
    }
    Ok(Node::Dense(Dense {
        d_in,
        d_out,
        weights: Tensor::new(vec![d_in, d_out], w)?,
        bias: Tensor::zeros(&[d_out]),
    }))
}

/// For a transpose of `shape` by `perm`: output flat index → input flat index.
fn transpose_map(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let out_shape: Vec<usize> = perm
        .iter()
        .map(|&p| shape.get(p).copied().unwrap_or(1))
        .collect();
    let mut in_strides = vec![1usize; shape.len()];
    for t in (0..shape.len().saturating_sub(1)).rev() {
        let next =
            in_strides.get(t + 1).copied().unwrap_or(1) * shape.get(t + 1).copied().unwrap_or(1);
        if let Some(s) = in_strides.get_mut(t) {
            *s = next;
        }
    }
    let total = numel(shape);
    let mut map = Vec::with_capacity(total);
    let mut idx = vec![0usize; out_shape.len()];
    for _ in 0..total {
        let flat: usize = idx
            .iter()
            .zip(perm)
            .map(|(&i, &p)| i * in_strides.get(p).copied().unwrap_or(0))
            .sum();
        map.push(flat);
        for (t, &s) in idx.iter_mut().zip(&out_shape).rev() {
            *t += 1;
            if *t < s {
                break;
            }
            *t = 0;
        }
    }
    map
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
#[allow(clippy::panic, reason = "test code")]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::{
        Dimension, GraphShallow, NodeShallow, Tensor as TensorProto, TensorShape, TensorType,
        TypeProto, ValueInfo,
    };

    fn value(name: &str, dims: &[i64]) -> Vec<u8> {
        ValueInfo {
            name: name.to_owned(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorType {
                    elem_type: 1,
                    shape: Some(TensorShape {
                        dim: dims
                            .iter()
                            .map(|&d| Dimension {
                                dim_value: Some(d),
                                dim_param: None,
                            })
                            .collect(),
                    }),
                }),
            }),
        }
        .encode_to_vec()
    }

    /// `x (1, 1, side, side)` → Conv with `filters` 1×1 filters → Add of a per-channel
    /// constant `(1, filters, 1, 1)` → `y`.
    fn conv_model(side: i64, filters: i64) -> Vec<u8> {
        let conv = NodeShallow {
            input: vec!["x".into(), "w".into()],
            output: vec!["h".into()],
            name: "wide".into(),
            op_type: "Conv".into(),
            ..NodeShallow::default()
        };
        let add = NodeShallow {
            input: vec!["h".into(), "c".into()],
            output: vec!["y".into()],
            name: "shift".into(),
            op_type: "Add".into(),
            ..NodeShallow::default()
        };
        let count = usize::try_from(filters).unwrap_or(0);
        let w = TensorProto {
            dims: vec![filters, 1, 1, 1],
            data_type: 1,
            name: "w".into(),
            float_data: vec![0.5; count],
            ..TensorProto::default()
        };
        let c = TensorProto {
            dims: vec![1, filters, 1, 1],
            name: "c".into(),
            ..w.clone()
        };
        let graph = GraphShallow {
            node: vec![conv.encode_to_vec(), add.encode_to_vec()],
            initializer: vec![w.encode_to_vec(), c.encode_to_vec()],
            input: vec![value("x", &[1, 1, side, side])],
            output: vec![value("y", &[1, filters, side, side])],
        };
        crate::proto::model_bytes(&graph)
    }

    #[test]
    fn a_layer_output_over_the_tensor_limit_is_refused_before_it_is_allocated() {
        let small = run(&conv_model(4, 3), &ImportOptions::default());
        assert!(small.is_ok(), "{:?}", small.err().map(|e| e.to_string()));
        // 2^20 filters of a 64 × 64 plane: 2^32 elements, over the 2^24 limit. Refused when
        // the conv's output shape is known, before the Add broadcasts its constant to it
        // (2^32 values).
        match run(&conv_model(64, 1 << 20), &ImportOptions::default()) {
            Err(Error::Nn(fhez_nn::Error::LimitExceeded { what, found, .. })) => {
                assert_eq!((what, found), ("tensor elements", 1 << 32));
            }
            Err(e) => panic!("expected the tensor limit, got {e}"),
            Ok(_) => panic!("expected the tensor limit"),
        }
    }
}
