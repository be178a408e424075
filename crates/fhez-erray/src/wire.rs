//! Erray serialization: a small versioned envelope around the backend's own ciphertext
//! encoding.
//!
//! ```text
//! frame header: magic "FZER" | version u16 (2) | kind u16 (1) | params id (zero)
//!             | payload_len u64
//! payload:      packing u8 (0 flat, 1 batch-in-slots) | batch u64
//!             | flags u8 (bit 0: padding clean) | ndim u32 | dims u64 × ndim
//!             | ct_count u64 | (len u64 | backend ciphertext bytes) × ct_count
//! ```
//!
//! All integers little-endian; the header is the workspace's one outer framing
//! ([`fhez_backend::frame`]; an erray names no parameter set, its ciphertexts do). On read,
//! the total size is checked against the caller's limit first, then the frame, and every
//! count and length against the bytes actually remaining before allocating;
//! the shape must agree with the packing and the ciphertext count (flat packing writes, and
//! only accepts, a batch of 0: every erray has one encoding); each ciphertext goes
//! through the backend's validating `ct_from_bytes`. Bad input is a typed error, never a panic.

use fhez_backend::Backend;
use fhez_backend::frame::{self, NO_PARAMS};
use fhez_backend::wire::Reader;

use crate::{Erray, Error, Packing, Result};

/// The erray format in the common frame.
pub const FORMAT: frame::Format = frame::Format {
    magic: *b"FZER",
    version: 2,
    what: "erray",
};
/// The frame kind of an erray (the only kind of [`FORMAT`]).
pub const KIND_ERRAY: u16 = 1;
/// Largest number of dimensions accepted on read.
pub const MAX_NDIM: usize = 32;
const WHAT: &str = "erray";

fn malformed(reason: &'static str) -> Error {
    fhez_backend::Error::Malformed { what: WHAT, reason }.into()
}

impl<B: Backend> Erray<B> {
    /// Serializes shape, packing and ciphertexts.
    ///
    /// # Errors
    /// Backend serialization errors.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = frame::Writer::new(&FORMAT, KIND_ERRAY, &NO_PARAMS, 0);
        let out = w.payload();
        let (tag, batch) = match self.packing {
            Packing::Flat => (0u8, 0u64),
            Packing::BatchInSlots { batch } => (1u8, batch as u64),
            Packing::SingleInput { period } => (2u8, period as u64),
        };
        out.push(tag);
        out.extend_from_slice(&batch.to_le_bytes());
        out.push(u8::from(self.clean));
        out.extend_from_slice(&(self.shape.len() as u32).to_le_bytes());
        for &d in &self.shape {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out.extend_from_slice(&(self.cts.len() as u64).to_le_bytes());
        for ct in &self.cts {
            let bytes = self.backend.ct_to_bytes(ct)?;
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        Ok(w.finish())
    }

    /// Reads an erray written by [`Erray::to_bytes`] for `backend`, rejecting input longer
    /// than `limit` bytes.
    ///
    /// # Errors
    /// `SizeLimit`, `Frame` (truncated, length lie, bad magic/version/kind, a params id, trailing
    /// bytes), `Malformed` (bad packing, inconsistent shape or counts, trailing bytes inside the
    /// payload), and the backend's ciphertext validation errors.
    pub fn from_bytes(backend: &B, bytes: &[u8], limit: usize) -> Result<Self> {
        let payload = frame::open_without_params(bytes, &FORMAT, KIND_ERRAY, limit)?;
        let mut r = Reader::new(payload, WHAT);
        let tag = r.u8()?;
        let batch = r.len_at_most(usize::MAX)?;
        let packing = match (tag, batch) {
            (0, 0) => Packing::Flat,
            // The writer puts 0 there: any other batch is a second encoding of one erray.
            (0, _) => return Err(malformed("flat packing with a non-zero batch")),
            (1, _) => Packing::BatchInSlots { batch },
            (2, _) => Packing::SingleInput { period: batch },
            _ => return Err(malformed("unknown packing")),
        };
        let clean = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(malformed("unknown flags")),
        };
        let ndim = usize::try_from(r.u32()?).map_err(|_| malformed("ndim out of range"))?;
        if ndim > MAX_NDIM || ndim.saturating_mul(8) > r.remaining() {
            return Err(malformed("ndim out of range"));
        }
        let shape = (0..ndim)
            .map(|_| r.len_at_most(usize::MAX))
            .collect::<fhez_backend::Result<Vec<_>>>()?;
        let count = r.len_at_most(r.remaining() / 8)?;
        let expected = packing
            .num_cts(&shape, backend.slots())
            .map_err(|_| malformed("shape inconsistent with packing"))?;
        if expected != count {
            return Err(malformed("ciphertext count inconsistent with shape"));
        }
        let mut cts = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.len_at_most(r.remaining())?;
            cts.push(backend.ct_from_bytes(r.take(len)?, limit)?);
        }
        r.finish()?;
        Ok(Self {
            backend: backend.clone(),
            shape,
            packing,
            cts,
            clean,
            // The bytes carry no gather: the receiver attaches its plan's (`with_gather`).
            gather: None,
        })
    }
}
