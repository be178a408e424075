//! The little-endian byte codec: a growable [`Writer`] and a checked [`Reader`]
//! that never panics and never allocates more than the bytes it was given.

use fhez_math::{Ntt, Poly};

use super::WireError;

/// Appends little-endian values to a byte buffer.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer whose buffer can hold `capacity` bytes without reallocating.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub(crate) fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }

    pub(crate) fn f64(&mut self, x: f64) {
        self.u64(x.to_bits());
    }

    /// Writes every residue of `poly`, limb-major, as u64 LE.
    pub(crate) fn poly(&mut self, poly: &Poly<Ntt>) {
        self.u64_slice(poly.as_slice());
    }

    /// Writes `src` as consecutive u64 LE, through one resize and a tight loop
    /// (compiles to a plain copy on little-endian targets).
    pub(crate) fn u64_slice(&mut self, src: &[u64]) {
        let start = self.buf.len();
        self.buf.resize(start + src.len() * 8, 0);
        if let Some(dst) = self.buf.get_mut(start..) {
            let (chunks, _) = dst.as_chunks_mut::<8>();
            for (d, &x) in chunks.iter_mut().zip(src) {
                *d = x.to_le_bytes();
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads little-endian values from a byte slice; every read is checked.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    /// Bytes consumed so far (for error offsets).
    pos: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            pos: 0,
        }
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> u64 {
        self.rest.len() as u64
    }

    /// Takes the next `len` bytes.
    pub(crate) fn take(&mut self, len: u64) -> Result<&'a [u8], WireError> {
        let truncated = WireError::Truncated {
            needed: self.pos.saturating_add(len),
            available: self.pos.saturating_add(self.remaining()),
        };
        let len = usize::try_from(len).map_err(|_| truncated.clone())?;
        let (head, tail) = self.rest.split_at_checked(len).ok_or(truncated)?;
        self.rest = tail;
        self.pos = self.pos.saturating_add(len as u64);
        Ok(head)
    }

    pub(crate) fn array<const K: usize>(&mut self) -> Result<[u8; K], WireError> {
        let head = self.take(K as u64)?;
        let mut out = [0u8; K];
        out.copy_from_slice(head);
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        self.array::<8>().map(u64::from_le_bytes)
    }

    pub(crate) fn f64(&mut self) -> Result<f64, WireError> {
        self.u64().map(f64::from_bits)
    }

    /// Reads a scale: finite and positive.
    pub(crate) fn scale(&mut self) -> Result<f64, WireError> {
        let scale = self.f64()?;
        if scale.is_finite() && scale > 0.0 {
            Ok(scale)
        } else {
            Err(WireError::BadScale {
                bits: scale.to_bits(),
            })
        }
    }

    /// Reads a polynomial of `moduli.len()` limbs of `n` residues, each below the
    /// modulus of its limb. The bytes are checked to be present before the
    /// coefficient buffer is allocated.
    pub(crate) fn poly(&mut self, n: usize, moduli: &[u64]) -> Result<Poly<Ntt>, WireError> {
        let count = (n as u64)
            .checked_mul(moduli.len() as u64)
            .and_then(|c| c.checked_mul(8))
            .ok_or(WireError::Truncated {
                needed: u64::MAX,
                available: self.remaining(),
            })?;
        let bytes = self.take(count)?;
        let mut data = Vec::with_capacity(n * moduli.len());
        if n > 0 {
            for (limb, (limb_bytes, &q)) in bytes
                .chunks_exact(n.saturating_mul(8))
                .zip(moduli)
                .enumerate()
            {
                let (words, _) = limb_bytes.as_chunks::<8>();
                let start = data.len();
                data.extend(words.iter().map(|w| u64::from_le_bytes(*w)));
                // Separate validation pass: keeps the copy loop branch-free.
                if let Some(values) = data.get(start..)
                    && let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| **v >= q)
                {
                    return Err(WireError::CoefficientOutOfRange {
                        limb: u32::try_from(limb).unwrap_or(u32::MAX),
                        index: index as u64,
                        value,
                        modulus: q,
                    });
                }
            }
        }
        Poly::from_vec(n, data).map_err(|_| WireError::BadDegree {
            found: n as u64,
            expected: n as u64,
        })
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes {
                extra: self.remaining(),
            })
        }
    }
}
