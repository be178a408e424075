//! The wire format of a [`CtBatch`] (client ↔ server messages).
//!
//! ```text
//! frame header: magic "FZCB" | version u16 (2) | kind u16 (1) | params id [u8; 32]
//!             | payload_len u64
//! payload:      entries u32
//! | entries × ( name_len u16 | name UTF-8 | packing u8 (0 flat, 1 batch-in-slots,
//!               2 single-input) | batch or period u64 | ndim u32 | dims u64 × ndim
//!             | count u64 | count × (len u64 | fhez wire ciphertext) )
//! ```
//!
//! The frame ([`fhez_backend::frame`], format [`crate::frames::MESSAGE`]) carries the
//! parameter set of the ciphertexts, or [`NO_PARAMS`] in a message without any; a reader
//! refuses another parameter set before reading an entry. Version 1 messages
//! (`magic | 0x01 | payload`, no frame) are still read ([`crate::frames`]).
//!
//! Each ciphertext is a full `Ciphertext` or, from a client, a `SeededCiphertext` (half
//! the bytes: the uniform half is regenerated from a 32-byte seed). Reading checks the
//! size limit first; the entry count, name length and dimensions against fixed bounds;
//! the ciphertext count against the shape, packing and slot count *before* allocating;
//! then every ciphertext through the validating wire readers (envelope, parameter set,
//! limb counts, coefficients below their moduli, canonical scale).

use fhez_backend::Backend;
use fhez_backend::frame::{self, Expect, FrameError, NO_PARAMS};
use fhez_backend::wire::Reader;
use fhez_ckks::wire::{self, ObjectKind};
use fhez_ckks::{CkksClient, CkksCt, CkksServer, SeededCiphertext};
use fhez_erray::{Packing, PlainArray};
use rayon::prelude::*;

use crate::frames::{KIND_CT_BATCH, MESSAGE};
use crate::message::{CtBatch, CtEntry};
use crate::{Error, Result};

const WHAT: &str = MESSAGE.what;
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

fn start(entries: usize, params_id: &[u8; 32]) -> Result<frame::Writer> {
    if entries > MAX_ENTRIES {
        return Err(malformed("too many entries"));
    }
    let mut w = frame::Writer::new(&MESSAGE, KIND_CT_BATCH, params_id, 0);
    w.payload()
        .extend_from_slice(&(entries as u32).to_le_bytes());
    Ok(w)
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
        let params_id = self
            .entries
            .iter()
            .flat_map(|e| e.cts.first())
            .next()
            .map_or(NO_PARAMS, |ct| ct.ciphertext().params_id().0);
        let mut w = start(self.entries.len(), &params_id)?;
        let out = w.payload();
        for e in &self.entries {
            check_name(&e.name)?;
            put_entry_header(out, &e.name, &e.shape, e.packing, e.cts.len());
            for ct in &e.cts {
                put_blob(out, &wire::ciphertext_to_bytes(ct.ciphertext())?);
            }
        }
        Ok(w.finish())
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
        let packed: Vec<(&str, &PlainArray, Packing)> = inputs
            .iter()
            .map(|(name, x)| {
                let batch = x.shape().first().copied().unwrap_or(1);
                (*name, x, Packing::BatchInSlots { batch })
            })
            .collect();
        Self::encrypt_seeded_bytes_packed(client, &packed)
    }

    /// **Client.** As [`CtBatch::encrypt_seeded_bytes`], each input laid out with its own
    /// packing (batch-in-slots, or single-input: one sample per ciphertext); see
    /// [`EncryptedModel::encrypt_seeded_bytes`](crate::EncryptedModel::encrypt_seeded_bytes),
    /// which takes the packings from the plan.
    ///
    /// # Errors
    /// Layout and encryption errors.
    pub fn encrypt_seeded_bytes_packed(
        client: &CkksClient,
        inputs: &[(&str, &PlainArray, Packing)],
    ) -> Result<Vec<u8>> {
        let laid: Vec<_> = inputs.iter().map(|&(n, x, p)| (n, x, p, None)).collect();
        Self::encrypt_seeded_bytes_gathered(client, &laid)
    }

    /// As [`CtBatch::encrypt_seeded_bytes_packed`], an input with a gather laid out by it
    /// ([`fhez_erray::Erray::encrypt_gathered`]; its packing must be single-input with the
    /// gather's period, which the message records).
    ///
    /// # Errors
    /// As [`CtBatch::encrypt_seeded_bytes_packed`]; the gather's layout errors.
    pub fn encrypt_seeded_bytes_gathered(
        client: &CkksClient,
        inputs: &[(&str, &PlainArray, Packing, Option<fhez_erray::Gather>)],
    ) -> Result<Vec<u8>> {
        let mut w = start(inputs.len(), &client.params().id().0)?;
        let out = w.payload();
        for (name, x, packing, gather) in inputs {
            let (name, packing) = (*name, *packing);
            check_name(name)?;
            let vectors = match gather {
                Some(g) => {
                    if packing != (Packing::SingleInput { period: g.period() }) {
                        return Err(fhez_erray::Error::PackingUnsupported {
                            op: "gathered message entry",
                            packing: packing.name(),
                        }
                        .into());
                    }
                    packing.validate(x.shape(), client.slots())?;
                    vec![g.layout(x.data(), client.slots())?]
                }
                None => packing.layout(x.shape(), client.slots(), x.data())?,
            };
            put_entry_header(out, name, x.shape(), packing, vectors.len());
            for v in &vectors {
                let ct = client.encrypt_seeded(v)?;
                put_blob(out, &wire::seeded_ciphertext_to_bytes(&ct)?);
            }
        }
        Ok(w.finish())
    }

    /// Decodes a message for `server`'s parameter set, rejecting input over `limit` bytes.
    /// Seeded ciphertexts are expanded; every ciphertext is imported (canonical scale
    /// checked) so the result is ready to evaluate. [`CtBatch::decode`] then
    /// [`DecodedBatch::expand`], in one call.
    ///
    /// # Errors
    /// `SizeLimit` / `Malformed` backend errors naming the problem, the wire readers' typed
    /// errors (wrong kind, other parameter set, bad coefficients, …).
    pub fn from_bytes(server: &CkksServer, bytes: &[u8], limit: usize) -> Result<Self> {
        Self::decode(server, bytes, limit)?.expand(server)
    }

    /// The first half of [`CtBatch::from_bytes`]: every check of the message and of each
    /// ciphertext, but seeded ciphertexts stay seeded (half the memory of an expanded one).
    /// A server that drops the request bytes before [`DecodedBatch::expand`] never holds
    /// the bytes and the expanded ciphertexts at once.
    ///
    /// # Errors
    /// As [`CtBatch::from_bytes`], except the seed expansion's.
    pub fn decode(server: &CkksServer, bytes: &[u8], limit: usize) -> Result<DecodedBatch> {
        let expect = Expect {
            kind: Some(KIND_CT_BATCH),
            params_id: None,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        };
        let (header, payload) = crate::frames::open(bytes, &MESSAGE, expect)?;
        let ours = server.params().id().0;
        // Another parameter set is refused before any entry is read; a message that
        // names none may hold no ciphertext (each entry's count is checked before its
        // ciphertexts are read).
        let anonymous = match header {
            Some(h) if h.params_id == ours => false,
            Some(h) if h.params_id == NO_PARAMS => true,
            Some(h) => return Err(params_mismatch(ours, h.params_id)),
            None => false,
        };
        let mut r = Reader::new(payload, WHAT);
        let n_entries = r.u32()? as usize;
        if n_entries > MAX_ENTRIES {
            return Err(malformed("too many entries"));
        }
        let mut entries = Vec::with_capacity(n_entries);
        for _ in 0..n_entries {
            entries.push(read_entry(server, &mut r, limit, anonymous)?);
        }
        r.finish()?;
        Ok(DecodedBatch { entries })
    }
}

/// A ciphertext as it arrived: seeded (its uniform half still a seed) or full.
#[derive(Debug)]
enum Arrived {
    Seeded(SeededCiphertext),
    Full(CkksCt),
}

/// One decoded entry of a [`DecodedBatch`].
#[derive(Debug)]
struct DecodedEntry {
    name: String,
    shape: Vec<usize>,
    packing: Packing,
    cts: Vec<Arrived>,
}

/// A checked message whose seeded ciphertexts are not expanded yet
/// ([`CtBatch::decode`]).
#[derive(Debug)]
pub struct DecodedBatch {
    entries: Vec<DecodedEntry>,
}

impl DecodedBatch {
    /// Expands the seeded ciphertexts (in parallel), each seeded form consumed by its
    /// expansion (`c0` moves, only `c1` is new), and imports them (canonical scale checked).
    ///
    /// # Errors
    /// Seed expansion and import errors.
    pub fn expand(self, server: &CkksServer) -> Result<CtBatch> {
        let entries = self
            .entries
            .into_iter()
            .map(|e| {
                let cts = e
                    .cts
                    .into_par_iter()
                    .map(|ct| match ct {
                        Arrived::Seeded(s) => Ok(server.import(s.into_expanded(server.params())?)?),
                        Arrived::Full(c) => Ok(c),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(CtEntry {
                    name: e.name,
                    shape: e.shape,
                    packing: e.packing,
                    cts,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CtBatch { entries })
    }
}

/// One ciphertext of an entry, seeded or full, through the validating wire readers.
fn read_ct(server: &CkksServer, blob: &[u8], limit: usize) -> Result<Arrived> {
    let kind = wire::peek_envelope(blob)
        .map_err(fhez_ckks::Error::from)?
        .kind;
    if kind == ObjectKind::SeededCiphertext {
        let lim = u64::try_from(limit).unwrap_or(u64::MAX);
        let seeded = wire::seeded_ciphertext_from_bytes(server.params(), blob, lim)?;
        Ok(Arrived::Seeded(seeded))
    } else if kind == ObjectKind::Ciphertext {
        Ok(Arrived::Full(server.ct_from_bytes(blob, limit)?))
    } else {
        Err(malformed(
            "an entry holds an object that is not a ciphertext",
        ))
    }
}

fn params_mismatch(expected: [u8; 32], found: [u8; 32]) -> Error {
    fhez_backend::Error::from(FrameError::ParamsMismatch {
        what: WHAT,
        expected,
        found,
    })
    .into()
}

/// Reads one entry; `anonymous`: the frame names no parameter set, so the entry may hold
/// no ciphertext.
fn read_entry(
    server: &CkksServer,
    r: &mut Reader<'_>,
    limit: usize,
    anonymous: bool,
) -> Result<DecodedEntry> {
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
    if anonymous && count > 0 {
        return Err(params_mismatch(server.params().id().0, NO_PARAMS));
    }
    let mut blobs = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.len_at_most(r.remaining())?;
        blobs.push(r.take(len)?);
    }
    // Decoded on the worker threads that evaluate them later: their buffers come from those
    // threads' allocator arenas, where the outputs of the first layer reuse them once freed.
    let cts = blobs
        .into_par_iter()
        .map(|blob| read_ct(server, blob, limit))
        .collect::<Result<Vec<_>>>()?;
    Ok(DecodedEntry {
        name,
        shape,
        packing,
        cts,
    })
}
