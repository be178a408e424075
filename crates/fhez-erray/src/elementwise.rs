//! Elementwise arithmetic with numpy broadcasting.
//!
//! Which broadcasts are supported:
//!
//! - **erray ∘ plain array / scalar**: every numpy broadcast whose result shape can be held by
//!   the erray's packing. The plaintext side is just laid out in the packing.
//! - **erray ∘ erray** (and an erray operand that must be stretched): under
//!   [`Packing::BatchInSlots`], any broadcast of the *non-batch* axes is free (ciphertexts are
//!   reused); stretching the batch axis would need slot replication and is
//!   [`Error::PackingUnsupported`]. Under [`Packing::Flat`], only broadcasts that add leading
//!   axes of size 1 (a pure reshape) are supported; anything else needs data movement across
//!   slots and is `PackingUnsupported`.
//! - Both operands must have the same packing ([`Error::PackingMismatch`] otherwise).

use fhez_backend::Backend;

use crate::par::map_range;
use crate::shape::{broadcast_map, broadcast_shapes, size_of};
use crate::{Erray, Error, Packing, PlainArray, Result};

#[derive(Clone, Copy)]
enum BinOp {
    Add,
    Sub,
    Mul,
}

impl BinOp {
    fn name(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Sub => "sub",
            Self::Mul => "mul",
        }
    }
}

impl<B: Backend> Erray<B> {
    /// numpy `broadcast_to` where the packing makes it free (see the module docs).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes do not broadcast; [`Error::PackingUnsupported`]
    /// where the packing would need slot movement.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        if shape == self.shape.as_slice() {
            return Ok(self.clone());
        }
        let map = broadcast_map("broadcast_to", &self.shape, shape)?;
        let unsupported = Error::PackingUnsupported {
            op: "broadcast_to (needs slot replication)",
            packing: self.packing.name(),
        };
        match self.packing {
            Packing::Flat | Packing::SingleInput { .. } => {
                if size_of(shape)? != self.len() {
                    return Err(unsupported);
                }
                Ok(self.with_cts(shape.to_vec(), self.cts.clone(), self.clean))
            }
            Packing::BatchInSlots { batch } => {
                if shape.len() != self.shape.len() || shape.first() != Some(&batch) {
                    return Err(unsupported);
                }
                // Ciphertext c of the target holds target elements (b, rest) with
                // flat = b * inner + c; its source ciphertext is map[c] (b = 0).
                let inner = size_of(shape)? / batch;
                let cts = map
                    .iter()
                    .take(inner)
                    .map(|&src| self.ct(src).cloned())
                    .collect::<Result<Vec<_>>>()?;
                Ok(self.with_cts(shape.to_vec(), cts, self.clean))
            }
        }
    }

    fn zip_erray(&self, other: &Self, op: BinOp) -> Result<Self> {
        if self.gather != other.gather {
            self.check_not_gathered(op.name())?;
            other.check_not_gathered(op.name())?;
        }
        if self.packing.name() != other.packing.name() {
            return Err(Error::PackingMismatch {
                op: op.name(),
                lhs: self.packing.name(),
                rhs: other.packing.name(),
            });
        }
        let shape = broadcast_shapes(op.name(), &self.shape, &other.shape)?;
        let a = self.broadcast_to(&shape)?;
        let b = other.broadcast_to(&shape)?;
        if a.packing != b.packing {
            return Err(Error::ShapeMismatch {
                op: op.name(),
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        let be = &self.backend;
        let cts = map_range(a.cts.len(), |c| {
            let (x, y) = (a.ct(c)?, b.ct(c)?);
            Ok(match op {
                BinOp::Add => be.add(x, y)?,
                BinOp::Sub => be.sub(x, y)?,
                BinOp::Mul => be.mul(x, y)?,
            })
        })?;
        let clean = match op {
            BinOp::Add | BinOp::Sub => a.clean && b.clean,
            BinOp::Mul => a.clean || b.clean,
        };
        Ok(a.with_cts(shape, cts, clean))
    }

    fn zip_plain(&self, other: &PlainArray, op: BinOp) -> Result<Self> {
        self.check_not_gathered(op.name())?;
        let shape = broadcast_shapes(op.name(), &self.shape, other.shape())?;
        let a = self.broadcast_to(&shape)?;
        let p = other.broadcast_to(&shape)?;
        let vectors = a.packing.layout(&shape, a.backend.slots(), p.data())?;
        let be = &self.backend;
        let cts = map_range(a.cts.len(), |c| {
            let x = a.ct(c)?;
            let v = vectors.get(c).map_or(&[][..], Vec::as_slice);
            Ok(match op {
                BinOp::Add => be.add_plain(x, v)?,
                BinOp::Sub => be.sub_plain(x, v)?,
                BinOp::Mul => be.mul_plain(x, v)?,
            })
        })?;
        let clean = matches!(op, BinOp::Mul) || a.clean;
        Ok(a.with_cts(shape, cts, clean))
    }

    /// `self + other` (ct + ct) with broadcasting. No level.
    ///
    /// # Errors
    /// Shape/packing errors (see the module docs) and backend errors.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_erray(other, BinOp::Add)
    }

    /// `self − other` with broadcasting. No level.
    ///
    /// # Errors
    /// As [`Erray::add`].
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_erray(other, BinOp::Sub)
    }

    /// `self ⊙ other`: ct×ct products with broadcasting. One level.
    ///
    /// # Errors
    /// As [`Erray::add`], plus `LevelExhausted`.
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.zip_erray(other, BinOp::Mul)
    }

    /// `self + p` with a plaintext array, broadcasting. No level.
    ///
    /// # Errors
    /// Shape errors and backend errors (non-finite values).
    pub fn add_plain(&self, p: &PlainArray) -> Result<Self> {
        self.zip_plain(p, BinOp::Add)
    }

    /// `self − p` with a plaintext array, broadcasting. No level.
    ///
    /// # Errors
    /// As [`Erray::add_plain`].
    pub fn sub_plain(&self, p: &PlainArray) -> Result<Self> {
        self.zip_plain(p, BinOp::Sub)
    }

    /// `self ⊙ p` with a plaintext array, broadcasting. One level; padding becomes clean.
    ///
    /// # Errors
    /// As [`Erray::add_plain`], plus `LevelExhausted`.
    pub fn mul_plain(&self, p: &PlainArray) -> Result<Self> {
        self.zip_plain(p, BinOp::Mul)
    }

    /// `self + s`. No level. Padding slots stay untouched (the scalar is added through a
    /// masked plaintext when the layout has padding).
    ///
    /// # Errors
    /// Backend errors (non-finite `s`).
    pub fn add_scalar(&self, s: f64) -> Result<Self> {
        let be = &self.backend;
        let slots = be.slots();
        let cts = map_range(self.cts.len(), |c| {
            let x = self.ct(c)?;
            Ok(match self.packing.padding_mask(&self.shape, slots, c) {
                Some(mask) => {
                    let v: Vec<f64> = mask.iter().map(|m| m * s).collect();
                    be.add_plain(x, &v)?
                }
                None => be.add_scalar(x, s)?,
            })
        })?;
        Ok(self.with_cts(self.shape.clone(), cts, self.clean))
    }

    /// `self − s`. No level.
    ///
    /// # Errors
    /// As [`Erray::add_scalar`].
    pub fn sub_scalar(&self, s: f64) -> Result<Self> {
        self.add_scalar(-s)
    }

    /// `s · self`. Free for integers `|s| ≤ 2^20`, else one level.
    ///
    /// # Errors
    /// Backend errors (`LevelExhausted`, non-finite `s`).
    pub fn mul_scalar(&self, s: f64) -> Result<Self> {
        let cts = map_range(self.cts.len(), |c| {
            Ok(self.backend.mul_scalar(self.ct(c)?, s)?)
        })?;
        Ok(self.with_cts(self.shape.clone(), cts, self.clean))
    }

    /// `−self`. No level.
    ///
    /// # Errors
    /// Backend errors.
    pub fn neg(&self) -> Result<Self> {
        let cts = map_range(self.cts.len(), |c| Ok(self.backend.neg(self.ct(c)?)?))?;
        Ok(self.with_cts(self.shape.clone(), cts, self.clean))
    }
}
