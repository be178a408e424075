//! The wire format of a [`CtBatch`] (client ↔ server messages).
//!
//! ```text
//! magic "FZCB" | version u8 (1) | entries u32
//! | entries × ( name_len u16 | name UTF-8 | packing u8 (0 flat, 1 batch-in-slots)
//!             | batch u64 | ndim u32 | dims u64 × ndim
//!             | count u64 | count × (len u64 | fhez wire ciphertext) )
//! ```
//!
//! Each ciphertext is a full `Ciphertext` or, from a client, a `SeededCiphertext` (half
//! the bytes: the uniform half is regenerated from a 32-byte seed). Reading checks the
//! size limit first; the entry count, name length and dimensions against fixed bounds;
//! the ciphertext count against the shape, packing and slot count *before* allocating;
//! then every ciphertext through the validating wire readers (envelope, parameter set,
//! limb counts, coefficients below their moduli, canonical scale).

use fhez_backend::Backend;
use fhez_backend::wire::{Reader, check_limit};
use fhez_ckks::wire::{self, ObjectKind};
use fhez_ckks::{CkksClient, CkksServer};
use fhez_erray::{Packing, PlainArray};

use crate::message::{CtBatch, CtEntry};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"FZCB";
const VERSION: u8 = 1;
const WHAT: &str = "ciphertext batch";
/// Most entries (named arrays) a message may hold.
pub const MAX_ENTRIES: usize = 64;
/// Longest entry name, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most dimensions of an entry.
pub const MAX_NDIM: usize = 16;

fn malformed(reason: &'static str) -> Error {
    fhez_backend::Error::Malformed { what: WHAT, reason }.into()
}

/// Writes the header of one entry.
fn put_entry_header(
    out: &mut Vec<u8>,
    name: &str,
    shape: &[usize],
    packing: Packing,
    count: usize,
) {
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let (tag, batch) = match packing {
        Packing::Flat => (0u8, 0u64),
        Packing::BatchInSlots { batch } => (1u8, batch as u64),
        Packing::SingleInput { period } => (2u8, period as u64),
    };
    out.push(tag);
    out.extend_from_slice(&batch.to_le_bytes());
    out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
    for &d in shape {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    out.extend_from_slice(&(count as u64).to_le_bytes());
}

fn put_blob(out: &mut Vec<u8>, blob: &[u8]) {
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    out.extend_from_slice(blob);
}

fn start(entries: usize) -> Result<Vec<u8>> {
    if entries > MAX_ENTRIES {
        return Err(malformed("too many entries"));
    }
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(entries as u32).to_le_bytes());
    Ok(out)
}

fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(malformed("entry name too long"));
    }
    Ok(())
}

impl CtBatch {
    /// Encodes the message with full ciphertexts.
    ///
    /// # Errors
    /// Wire encoding errors; `Malformed` for more than [`MAX_ENTRIES`] entries or a name
    /// over [`MAX_NAME_LEN`] bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = start(self.entries.len())?;
        for e in &self.entries {
            check_name(&e.name)?;
            put_entry_header(&mut out, &e.name, &e.shape, e.packing, e.cts.len());
            for ct in &e.cts {
                put_blob(&mut out, &wire::ciphertext_to_bytes(ct.ciphertext())?);
            }
        }
        Ok(out)
    }

    /// **Client.** Encrypts batched inputs `(batch, shape…)` by name, batch-in-slots, as
    /// seed-compressed ciphertexts, straight into the wire format (half the bytes of
    /// [`CtBatch::to_bytes`]; the server expands them in [`CtBatch::from_bytes`]).
    ///
    /// # Errors
    /// Layout and encryption errors.
    pub fn encrypt_seeded_bytes(
        client: &CkksClient,
        inputs: &[(&str, PlainArray)],
    ) -> Result<Vec<u8>> {
        let mut out = start(inputs.len())?;
        for (name, x) in inputs {
            check_name(name)?;
            let batch = x.shape().first().copied().unwrap_or(1);
            let packing = Packing::BatchInSlots { batch };
            let vectors = packing.layout(x.shape(), client.slots(), x.data())?;
            put_entry_header(&mut out, name, x.shape(), packing, vectors.len());
            for v in &vectors {
                let ct = client.encrypt_seeded(v)?;
                put_blob(&mut out, &wire::seeded_ciphertext_to_bytes(&ct)?);
            }
        }
        Ok(out)
    }

    /// Decodes a message for `server`'s parameter set, rejecting input over `limit` bytes.
    /// Seeded ciphertexts are expanded; every ciphertext is imported (canonical scale
    /// checked) so the result is ready to evaluate.
    ///
    /// # Errors
    /// `SizeLimit` / `Malformed` backend errors naming the problem, the wire readers' typed
    /// errors (wrong kind, other parameter set, bad coefficients, …).
    pub fn from_bytes(server: &CkksServer, bytes: &[u8], limit: usize) -> Result<Self> {
        check_limit(WHAT, bytes.len(), limit)?;
        let mut r = Reader::open(bytes, limit, WHAT, MAGIC, VERSION)?;
        let n_entries = r.u32()? as usize;
        if n_entries > MAX_ENTRIES {
            return Err(malformed("too many entries"));
        }
        let mut entries = Vec::with_capacity(n_entries);
        for _ in 0..n_entries {
            entries.push(read_entry(server, &mut r, limit)?);
        }
        r.finish()?;
        Ok(Self { entries })
    }
}

fn read_entry(server: &CkksServer, r: &mut Reader<'_>, limit: usize) -> Result<CtEntry> {
    let name_len = usize::from(r.u16()?);
    if name_len > MAX_NAME_LEN {
        return Err(malformed("entry name too long"));
    }
    let name = std::str::from_utf8(r.take(name_len)?)
        .map_err(|_| malformed("entry name is not UTF-8"))?
        .to_owned();
    let packing = match (r.u8()?, r.len_at_most(usize::MAX)?) {
        (0, 0) => Packing::Flat,
        // The writer puts 0 there: any other batch is a second encoding of the same entry.
        (0, _) => return Err(malformed("flat packing with a non-zero batch")),
        (1, batch) => Packing::BatchInSlots { batch },
        (2, period) => Packing::SingleInput { period },
        _ => return Err(malformed("unknown packing")),
    };
    let ndim = r.u32()? as usize;
    if ndim > MAX_NDIM {
        return Err(malformed("too many dimensions"));
    }
    let shape = (0..ndim)
        .map(|_| r.len_at_most(1 << 32))
        .collect::<fhez_backend::Result<Vec<_>>>()?;
    let count = r.len_at_most(r.remaining() / 8)?;
    let expected = packing
        .num_cts(&shape, server.slots())
        .map_err(|_| malformed("shape inconsistent with packing"))?;
    if expected != count {
        return Err(malformed("ciphertext count inconsistent with shape"));
    }
    let lim = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut cts = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.len_at_most(r.remaining())?;
        let blob = r.take(len)?;
        let kind = wire::peek_envelope(blob)
            .map_err(fhez_ckks::Error::from)?
            .kind;
        let ct = if kind == ObjectKind::SeededCiphertext {
            let seeded = wire::seeded_ciphertext_from_bytes(server.params(), blob, lim)?;
            server.import(seeded.expand(server.params())?)?
        } else if kind == ObjectKind::Ciphertext {
            server.ct_from_bytes(blob, limit)?
        } else {
            return Err(malformed(
                "an entry holds an object that is not a ciphertext",
            ));
        };
        cts.push(ct);
    }
    Ok(CtEntry {
        name,
        shape,
        packing,
        cts,
    })
}
