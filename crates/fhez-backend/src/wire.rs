//! A tiny bounds-checked little-endian reader for the payloads of the framed formats
//! ([`crate::frame`] checks the header): [`Plain`](crate::Plain) and [`Sim`](crate::Sim)
//! ciphertexts, errays, key bundles and ciphertext messages.

use crate::{Error, Result};

/// Reads little-endian fields from a byte slice; every read is bounds-checked and fails with
/// [`Error::Malformed`] instead of panicking.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`; `what` names the object in errors.
    #[must_use]
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, what }
    }

    /// Bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`Error::Malformed`] ("truncated") if fewer remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Error::Malformed {
                what: self.what,
                reason: "truncated",
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a `u8`.
    ///
    /// # Errors
    /// Truncated input.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u16`.
    ///
    /// # Errors
    /// Truncated input.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u32`.
    ///
    /// # Errors
    /// Truncated input.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u64`.
    ///
    /// # Errors
    /// Truncated input.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a `u64` length and converts it to `usize`, rejecting values above `max`.
    ///
    /// # Errors
    /// Truncated input, or [`Error::Malformed`] ("length out of range").
    pub fn len_at_most(&mut self, max: usize) -> Result<usize> {
        let raw = self.u64()?;
        match usize::try_from(raw) {
            Ok(n) if n <= max => Ok(n),
            Ok(_) | Err(_) => Err(Error::Malformed {
                what: self.what,
                reason: "length out of range",
            }),
        }
    }

    /// Reads a little-endian IEEE-754 `f64`.
    ///
    /// # Errors
    /// Truncated input.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Checks that all input was consumed.
    ///
    /// # Errors
    /// [`Error::Malformed`] ("trailing bytes").
    pub fn finish(&self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed {
                what: self.what,
                reason: "trailing bytes",
            })
        }
    }
}

/// Rejects input longer than `limit` before any decoding.
///
/// # Errors
/// [`Error::SizeLimit`].
pub fn check_limit(what: &'static str, len: usize, limit: usize) -> Result<()> {
    if len > limit {
        Err(Error::SizeLimit { what, len, limit })
    } else {
        Ok(())
    }
}
