//! Node kinds: one file per kind, all implementing [`Layer`], gathered in the serde enum
//! [`Node`].
//!
//! Every node has a plain-`f64` training path ([`Layer::forward`] / [`Layer::backward`], one
//! sample at a time, caches returned to the caller's [`Tape`](crate::Tape)) and a generic
//! encrypted path ([`Layer::forward_enc`]) over `Erray<B>` with
//! [`Packing::BatchInSlots`](fhez_erray::Packing::BatchInSlots): the erray's first axis is the
//! batch, the rest is the per-sample shape the plain path sees.

mod activation;
mod argmax;
mod boundary;
mod cc;
mod conv;
mod dense;
mod input;
mod onehot;
mod poly;
mod pool;
mod queue;
mod relu;
mod reshape;
mod rnn;
mod sigmoid;
mod softmax;
mod square;
mod sum;
pub(crate) mod window;

pub use activation::Linear;
pub use argmax::Argmax;
pub use boundary::{Decrypt, Encrypt, Io, Rotate};
pub use cc::{CrossCorrelation, CrossCorrelationConfig};
pub use conv::{Conv, MAX_CONV_MATRIX};
pub use dense::{Dense, DenseConfig};
pub use input::Input;
pub use onehot::{OneHotDecode, OneHotEncode};
pub use poly::{MAX_POLY_DEGREE, Poly};
pub use pool::AvgPool;
pub use queue::{Dequeue, Enqueue};
pub use relu::Relu;
pub use reshape::Reshape;
pub use rnn::{Rnn, RnnConfig};
pub use sigmoid::Sigmoid;
pub use softmax::Softmax;
pub use square::Square;
pub use sum::Sum;

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use crate::graph::SingleLinear;
use crate::loss::{CategoricalCrossEntropy, Mae, Mse};
use crate::{Cost, Error, Result, Tensor};

/// Output of a plain forward pass of one node on one sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Forward {
    /// One tensor per output port.
    pub outputs: Vec<Tensor>,
    /// What backward needs (stored in the caller's tape).
    pub cache: Vec<Tensor>,
}

/// Output of a plain backward pass of one node on one sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backward {
    /// Gradient of the loss w.r.t. each input port.
    pub inputs: Vec<Tensor>,
    /// Gradient w.r.t. each parameter, in [`Layer::params`] order.
    pub params: Vec<Tensor>,
}

/// What every node kind implements.
pub trait Layer {
    /// Stable kind name (the `kind` field of the JSON format).
    const KIND: &'static str;

    /// Number of input and output ports.
    fn ports(&self) -> (usize, usize);

    /// Per-sample output shapes for per-sample input shapes.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the inputs do not fit the configuration.
    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>>;

    /// Plain forward pass of one sample.
    ///
    /// # Errors
    /// Shape errors.
    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward>;

    /// Plain backward pass: `grads` holds one gradient per output port (zeros where nothing
    /// flows back), `cache` is what [`Layer::forward`] returned.
    ///
    /// # Errors
    /// Shape errors (a cache from another node).
    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward>;

    /// Trainable parameters with their names.
    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        Vec::new()
    }

    /// Trainable parameters, mutable, in [`Layer::params`] order.
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }

    /// Declared encrypted cost.
    fn cost(&self) -> Cost;

    /// Checks stored parameters against the configuration.
    ///
    /// # Errors
    /// [`Error::WeightShape`] naming `node`, or [`Error::InvalidConfig`].
    fn validate(&self, node: &str) -> Result<()> {
        let _ = node;
        Ok(())
    }

    /// Encrypted forward pass over a batch (batch-in-slots errays).
    ///
    /// # Errors
    /// Erray/backend errors; client-only nodes return [`Error::NotEncryptable`].
    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>>;
}

/// Checks a parameter's shape.
pub(crate) fn check_param(
    node: &str,
    param: &'static str,
    t: &Tensor,
    expected: &[usize],
) -> Result<()> {
    if t.shape() == expected {
        Ok(())
    } else {
        Err(Error::WeightShape {
            node: node.to_owned(),
            param,
            expected: expected.to_vec(),
            found: t.shape().to_vec(),
        })
    }
}

/// The single input of a one-input node.
pub(crate) fn one<'a, T: ?Sized>(inputs: &[&'a T]) -> Result<&'a T> {
    match inputs {
        [x] => Ok(x),
        _ => Err(Error::InputCount {
            expected: 1,
            found: inputs.len(),
        }),
    }
}

/// The two inputs of a two-input node.
pub(crate) fn two<'a, T: ?Sized>(inputs: &[&'a T]) -> Result<(&'a T, &'a T)> {
    match inputs {
        [a, b] => Ok((a, b)),
        _ => Err(Error::InputCount {
            expected: 2,
            found: inputs.len(),
        }),
    }
}

/// The single gradient / cache entry.
pub(crate) fn first(ts: &[Tensor]) -> Result<&Tensor> {
    ts.first().ok_or(Error::InputCount {
        expected: 1,
        found: 0,
    })
}

/// Erray shape `(batch, sample…)` → the per-sample shape.
pub(crate) fn sample_shape<B: Backend>(x: &Erray<B>) -> &[usize] {
    x.shape().get(1..).unwrap_or(&[])
}

/// Whether `x` is a single-input erray (one sample per ciphertext, shape `(1, sample…)`).
pub(crate) fn is_single_input<B: Backend>(x: &Erray<B>) -> bool {
    matches!(x.packing(), fhez_erray::Packing::SingleInput { .. })
}

/// Batch size of an erray (its leading axis).
pub(crate) fn batch_of<B: Backend>(x: &Erray<B>) -> usize {
    x.shape().first().copied().unwrap_or(1)
}

/// Per-sample shape → erray shape with the batch axis in front.
pub(crate) fn with_batch(batch: usize, shape: &[usize]) -> Vec<usize> {
    let mut s = Vec::with_capacity(shape.len() + 1);
    s.push(batch);
    s.extend_from_slice(shape);
    s
}

macro_rules! node_enum {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One node of a graph: a kind plus its configuration and weights. Serialised as
        /// `{"kind": "<kind>", …fields}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum Node {
            $(
                #[doc = concat!("See [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        /// Every `kind` the loader accepts.
        pub const KINDS: &[&str] = &[$(<$ty as Layer>::KIND),*];

        $(
            impl From<$ty> for Node {
                fn from(n: $ty) -> Self {
                    Self::$variant(n)
                }
            }
        )*

        impl Node {
            /// The kind name.
            #[must_use]
            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Layer>::KIND),* }
            }

            /// Input and output port counts.
            #[must_use]
            pub fn ports(&self) -> (usize, usize) {
                match self { $(Self::$variant(n) => n.ports()),* }
            }

            /// See [`Layer::out_shapes`].
            ///
            /// # Errors
            /// As [`Layer::out_shapes`].
            pub fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
                match self { $(Self::$variant(n) => n.out_shapes(inputs)),* }
            }

            /// See [`Layer::forward`].
            ///
            /// # Errors
            /// As [`Layer::forward`].
            pub fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
                match self { $(Self::$variant(n) => n.forward(inputs)),* }
            }

            /// See [`Layer::backward`].
            ///
            /// # Errors
            /// As [`Layer::backward`].
            pub fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
                match self { $(Self::$variant(n) => n.backward(grads, cache)),* }
            }

            /// See [`Layer::params`].
            #[must_use]
            pub fn params(&self) -> Vec<(&'static str, &Tensor)> {
                match self { $(Self::$variant(n) => n.params()),* }
            }

            /// See [`Layer::params_mut`].
            pub fn params_mut(&mut self) -> Vec<&mut Tensor> {
                match self { $(Self::$variant(n) => n.params_mut()),* }
            }

            /// See [`Layer::cost`].
            #[must_use]
            pub fn cost(&self) -> Cost {
                match self { $(Self::$variant(n) => n.cost()),* }
            }

            /// See [`Layer::validate`].
            ///
            /// # Errors
            /// As [`Layer::validate`].
            pub fn validate(&self, node: &str) -> Result<()> {
                match self { $(Self::$variant(n) => n.validate(node)),* }
            }

            /// See [`Layer::forward_enc`].
            ///
            /// # Errors
            /// As [`Layer::forward_enc`].
            pub fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
                match self { $(Self::$variant(n) => n.forward_enc(inputs)),* }
            }

            /// The node's single-input lowering as one linear map, scaled by `scale`, for the
            /// nodes that are one ([`Dense`], [`CrossCorrelation`], [`Conv`], [`AvgPool`]) on a
            /// single-input `x`; `None` otherwise. Their [`Layer::forward_enc`] applies
            /// exactly this map with `scale = 1`.
            ///
            /// # Errors
            /// Shape and planning errors of the node.
            pub fn single_linear<B: Backend>(
                &self,
                x: &Erray<B>,
                scale: f64,
            ) -> Result<Option<SingleLinear>> {
                match self {
                    Self::Dense(n) => n.single_linear(x, scale),
                    Self::Cc(n) => n.single_linear(x, scale),
                    Self::Conv(n) => n.single_linear(x, scale),
                    Self::AvgPool(n) => n.single_linear(x, scale),
                    _ => Ok(None),
                }
            }

            /// The ascending coefficients `[c0, c1, c2]` of a quadratic activation
            /// ([`Relu`], or a [`Poly`] of exactly three coefficients) with `c2 ≠ 0`, which single-input evaluation folds into the linear
            /// map before it ([`Graph::folds_activation`](crate::Graph::folds_activation));
            /// `None` for every other node.
            #[must_use]
            pub fn quadratic(&self) -> Option<[f64; 3]> {
                match self {
                    Self::Relu(n) => {
                        let c = n.coefficients();
                        (c[2] != 0.0 && c.iter().all(|v| v.is_finite())).then_some(c)
                    }
                    Self::Poly(n) => match n.coeffs.as_slice() {
                        &[c0, c1, c2] if c2 != 0.0 && [c0, c1, c2].iter().all(|v| v.is_finite()) => {
                            Some([c0, c1, c2])
                        }
                        _ => None,
                    },
                    _ => None,
                }
            }
        }
    };
}

node_enum! {
    Input(Input),
    Io(Io),
    Dense(Dense),
    Cc(CrossCorrelation),
    Conv(Conv),
    AvgPool(AvgPool),
    Rnn(Rnn),
    Relu(Relu),
    Sigmoid(Sigmoid),
    Square(Square),
    Poly(Poly),
    Reshape(Reshape),
    Linear(Linear),
    Softmax(Softmax),
    Argmax(Argmax),
    Cce(CategoricalCrossEntropy),
    Mse(Mse),
    Mae(Mae),
    Sum(Sum),
    Enqueue(Enqueue),
    Dequeue(Dequeue),
    OneHotEncode(OneHotEncode),
    OneHotDecode(OneHotDecode),
    Encrypt(Encrypt),
    Decrypt(Decrypt),
    Rotate(Rotate),
}

impl Node {
    /// Whether this node is a loss (training seeds its output gradient with 1).
    #[must_use]
    pub fn is_loss(&self) -> bool {
        matches!(self, Self::Cce(_) | Self::Mse(_) | Self::Mae(_))
    }
}

/// The error of a client-only node reached on ciphertexts (the graph adds the name).
pub(crate) fn client_only(kind: &'static str) -> Error {
    Error::NotEncryptable {
        node: String::new(),
        kind,
    }
}
