//! The [`Erray`] type: construction, accessors, padding hygiene.

use std::fmt;
use std::sync::Arc;

use fhez_backend::{Backend, Decrypt};

use crate::par::map_range;
use crate::shape::size_of;
use crate::{Error, Gather, Packing, PlainArray, Result};

/// An n-dimensional array of reals encrypted (or simulated) on backend `B`.
///
/// It holds a backend handle, a shape, an explicit [`Packing`] and the ciphertexts. All
/// operations return [`Result`]; none panic on bad input.
///
/// # Examples
/// ```
/// use fhez_backend::Plain;
/// use fhez_erray::{Erray, Packing, PlainArray};
///
/// let backend = Plain::new(8);
/// let x = PlainArray::new(vec![4, 2], vec![1., 2., 3., 4., 5., 6., 7., 8.])?;
/// let e = Erray::encrypt(&backend, &x, Packing::BatchInSlots { batch: 4 })?;
/// let y = ((&e * &e)? + 1.0)?;                    // ct×ct product, then a scalar
/// let s = y.sum_axis(1)?;                          // adds ciphertexts: no rotation
/// assert_eq!(s.decrypt()?.data(), &[7., 27., 63., 115.]);
/// # Ok::<(), fhez_erray::Error>(())
/// ```
pub struct Erray<B: Backend> {
    pub(crate) backend: B,
    pub(crate) shape: Vec<usize>,
    pub(crate) packing: Packing,
    pub(crate) cts: Vec<B::Ct>,
    /// Whether padding slots are known to be zero.
    pub(crate) clean: bool,
    /// The input layout of a single-input erray whose slots hold a [`Gather`] of its
    /// elements instead of the row-major layout: only a transform composed with this
    /// gather reads it ([`crate::LinearTransform::compose_gather`]).
    pub(crate) gather: Option<Arc<Gather>>,
}

impl<B: Backend> Clone for Erray<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            shape: self.shape.clone(),
            packing: self.packing,
            cts: self.cts.clone(),
            clean: self.clean,
            gather: self.gather.clone(),
        }
    }
}

impl<B: Backend> fmt::Debug for Erray<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Erray")
            .field("backend", &self.backend.kind())
            .field("shape", &self.shape)
            .field("packing", &self.packing)
            .field("cts", &self.cts.len())
            .field("level", &self.level())
            .field("gathered", &self.gather.is_some())
            .finish()
    }
}

impl<B: Backend> Erray<B> {
    /// Encrypts `data` with `packing`.
    ///
    /// # Errors
    /// Invalid shape for the packing, `TooManyValues` (batch larger than the slots), or
    /// backend errors (non-finite values).
    pub fn encrypt(backend: &B, data: &PlainArray, packing: Packing) -> Result<Self> {
        let vectors = packing.layout(data.shape(), backend.slots(), data.data())?;
        let cts = map_range(vectors.len(), |c| {
            let v = vectors.get(c).map_or(&[][..], Vec::as_slice);
            Ok(backend.encrypt(v)?)
        })?;
        Ok(Self {
            backend: backend.clone(),
            shape: data.shape().to_vec(),
            packing,
            cts,
            clean: true,
            gather: None,
        })
    }

    /// Encrypts one sample `data` (shape `(1, …)`) laid out by `gather`: one period of
    /// [`Gather::apply`] of its row-major elements, repeated over the slots, as
    /// [`Packing::SingleInput`] with the gather's period. Only a transform composed with the
    /// same gather ([`crate::LinearTransform::compose_gather`]) reads the result.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `data` does not hold `gather.source_len()` values;
    /// [`Error::InvalidShape`] when the period exceeds the slots; backend errors.
    pub fn encrypt_gathered(backend: &B, data: &PlainArray, gather: &Gather) -> Result<Self> {
        let slots = gather.layout(data.data(), backend.slots())?;
        let packing = Packing::SingleInput {
            period: gather.period(),
        };
        packing.validate(data.shape(), backend.slots())?;
        Ok(Self {
            backend: backend.clone(),
            shape: data.shape().to_vec(),
            packing,
            cts: vec![backend.encrypt(&slots)?],
            clean: true,
            gather: Some(Arc::new(gather.clone())),
        })
    }

    /// Marks this single-input erray as laid out by `gather` (an input received from a
    /// client that encrypted with [`Erray::encrypt_gathered`], rebuilt by
    /// [`Erray::from_parts`]).
    ///
    /// # Errors
    /// [`Error::PackingUnsupported`] unless the erray is single-input;
    /// [`Error::ShapeMismatch`] unless its period is the gather's and it holds
    /// `gather.source_len()` elements.
    pub fn with_gather(mut self, gather: Arc<Gather>) -> Result<Self> {
        let Packing::SingleInput { period } = self.packing else {
            return Err(Error::PackingUnsupported {
                op: "with_gather",
                packing: self.packing.name(),
            });
        };
        if period != gather.period() {
            return Err(Error::ShapeMismatch {
                op: "with_gather (period)",
                lhs: vec![period],
                rhs: vec![gather.period()],
            });
        }
        if self.size()? != gather.source_len() {
            return Err(Error::ShapeMismatch {
                op: "with_gather",
                lhs: self.shape.clone(),
                rhs: vec![gather.source_len()],
            });
        }
        self.gather = Some(gather);
        Ok(self)
    }

    /// The gather laying out this erray's elements, when it is a gathered input
    /// ([`Erray::encrypt_gathered`], [`Erray::with_gather`]).
    #[must_use]
    pub fn gather(&self) -> Option<&Gather> {
        self.gather.as_deref()
    }

    /// Assembles an erray from ciphertexts already laid out with `packing` (padding slots
    /// are assumed dirty).
    ///
    /// # Errors
    /// Invalid shape, or [`Error::ShapeMismatch`] if the ciphertext count is wrong.
    pub fn from_parts(
        backend: &B,
        shape: Vec<usize>,
        packing: Packing,
        cts: Vec<B::Ct>,
    ) -> Result<Self> {
        let expected = packing.num_cts(&shape, backend.slots())?;
        if expected != cts.len() {
            return Err(Error::ShapeMismatch {
                op: "from_parts",
                lhs: shape,
                rhs: vec![cts.len()],
            });
        }
        Ok(Self {
            backend: backend.clone(),
            shape,
            packing,
            cts,
            clean: false,
            gather: None,
        })
    }

    /// Same packing and backend, new shape and ciphertexts.
    /// A gathered erray stays gathered (its slots keep the gather's layout).
    pub(crate) fn with_cts(&self, shape: Vec<usize>, cts: Vec<B::Ct>, clean: bool) -> Self {
        Self {
            backend: self.backend.clone(),
            shape,
            packing: self.packing,
            cts,
            clean,
            gather: self.gather.clone(),
        }
    }

    /// The logical shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    #[must_use]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of logical elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether there are no elements (never true for a valid erray).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packing.
    #[must_use]
    pub fn packing(&self) -> Packing {
        self.packing
    }

    /// The backend handle.
    #[must_use]
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The ciphertexts, in packing order.
    #[must_use]
    pub fn cts(&self) -> &[B::Ct] {
        &self.cts
    }

    /// Consumes the erray, returning its ciphertexts.
    #[must_use]
    pub fn into_cts(self) -> Vec<B::Ct> {
        self.cts
    }

    /// Lowest level among the ciphertexts (the level the next operation starts from).
    #[must_use]
    pub fn level(&self) -> u32 {
        self.cts
            .iter()
            .map(|c| self.backend.level(c))
            .min()
            .unwrap_or(self.backend.caps().max_level)
    }

    /// Whether some ciphertext has slots outside the layout.
    #[must_use]
    pub fn has_padding(&self) -> bool {
        let slots = self.backend.slots();
        (0..self.cts.len()).any(|c| self.packing.padding_mask(&self.shape, slots, c).is_some())
    }

    /// Whether padding slots are known to hold zeros.
    #[must_use]
    pub fn is_padding_clean(&self) -> bool {
        self.clean || !self.has_padding()
    }

    /// Zeroes padding slots (one level on ciphertexts that have padding) unless they are
    /// already known to be zero.
    ///
    /// # Errors
    /// `LevelExhausted` when masking is needed at level 0.
    pub fn clean_padding(&self) -> Result<Self> {
        self.check_not_gathered("clean_padding")?;
        if self.is_padding_clean() {
            return Ok(self.clone());
        }
        let slots = self.backend.slots();
        let cts = map_range(self.cts.len(), |c| {
            let ct = self.ct(c)?;
            match self.packing.padding_mask(&self.shape, slots, c) {
                Some(mask) => Ok(self.backend.mul_plain(ct, &mask)?),
                None => Ok(ct.clone()),
            }
        })?;
        Ok(self.with_cts(self.shape.clone(), cts, true))
    }

    /// Ciphertext `c` (internal invariant: `c < cts.len()`).
    pub(crate) fn ct(&self, c: usize) -> Result<&B::Ct> {
        self.cts.get(c).ok_or_else(|| Error::ShapeMismatch {
            op: "ciphertext index",
            lhs: self.shape.clone(),
            rhs: vec![c],
        })
    }

    /// An erray of zeros with the same shape, packing and level (multiplies by 0, which is
    /// free; works on a server that cannot encrypt).
    ///
    /// # Errors
    /// Backend errors.
    pub fn zeros_like(&self) -> Result<Self> {
        let cts = map_range(self.cts.len(), |c| {
            Ok(self.backend.mul_scalar(self.ct(c)?, 0.0)?)
        })?;
        Ok(self.with_cts(self.shape.clone(), cts, true))
    }

    /// [`Error::PackingUnsupported`] for a gathered erray: `op` reads the row-major layout.
    pub(crate) fn check_not_gathered(&self, op: &'static str) -> Result<()> {
        match self.gather {
            Some(_) => Err(Error::PackingUnsupported {
                op,
                packing: "gathered single-input",
            }),
            None => Ok(()),
        }
    }

    /// Number of elements checked for overflow (internal).
    pub(crate) fn size(&self) -> Result<usize> {
        size_of(&self.shape)
    }
}

impl<B: Decrypt> Erray<B> {
    /// Decrypts to a [`PlainArray`] of the logical shape, for release
    /// ([`Decrypt::decrypt_release`]): a CKKS client made for a plan floods, rounds, and
    /// refuses a reply whose padding slots (when they are known to be zero) or imaginary
    /// parts carry more than the expected noise.
    ///
    /// # Errors
    /// Backend errors, among them the engine's reply rejection.
    pub fn decrypt(&self) -> Result<PlainArray> {
        self.check_not_gathered("decrypt")?;
        let slots = self.backend.slots();
        let vectors = map_range(self.cts.len(), |c| {
            Ok(self
                .backend
                .decrypt_release(self.ct(c)?, self.release_slots(c))?)
        })?;
        let data = self.packing.unlayout(&self.shape, slots, &vectors)?;
        PlainArray::new(self.shape.clone(), data)
    }

    /// Decrypts **exactly** ([`Decrypt::decrypt_exact`]): debugging and precision
    /// measurements only; a CKKS exact decryption reveals the noise.
    ///
    /// # Errors
    /// Backend errors.
    pub fn decrypt_exact(&self) -> Result<PlainArray> {
        self.check_not_gathered("decrypt_exact")?;
        let vectors = map_range(self.cts.len(), |c| {
            Ok(self.backend.decrypt_exact(self.ct(c)?)?)
        })?;
        let data = self
            .packing
            .unlayout(&self.shape, self.backend.slots(), &vectors)?;
        PlainArray::new(self.shape.clone(), data)
    }

    /// The slots of ciphertext `c` a release decryption returns and checks as used: the
    /// packing's used slots when the padding is known to be zero (and the packing has no
    /// copies), otherwise every slot (only imaginary parts are checked).
    fn release_slots(&self, c: usize) -> usize {
        let slots = self.backend.slots();
        match self.packing {
            Packing::BatchInSlots { .. } | Packing::Flat if self.clean => self
                .packing
                .used_slots(&self.shape, slots, c)
                .max(1)
                .min(slots),
            Packing::BatchInSlots { .. } | Packing::Flat | Packing::SingleInput { .. } => slots,
        }
    }
}
