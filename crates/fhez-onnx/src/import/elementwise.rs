//! Constants and elementwise operators: unary activations and Add/Sub/Mul/Div/Pow, kept as
//! a pending expression of one value (or folded into constants and affine maps).

use super::util::{attr, broadcast, broadcast_shape, limits_check, node_err, numel};
use super::{Act, Importer, Val};
use crate::decode::{self, Const, RawNode};
use crate::fit::Expr;
use crate::{Result, limits};

impl Importer<'_> {
    pub(super) fn constant(&mut self, n: &RawNode) -> Result<()> {
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

    pub(super) fn unary(&mut self, n: &RawNode) -> Result<()> {
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

    pub(super) fn binary(&mut self, n: &RawNode) -> Result<()> {
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
