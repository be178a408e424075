//! Writing and checking the 48-byte envelope.

use super::codec::{Reader, Writer};
use super::{ENVELOPE_LEN, Envelope, FORMAT_VERSION, MAGIC, ObjectKind, WireError};
use crate::params::ParamsId;

/// Starts an encoding: the envelope for a payload of `payload_len` bytes, in a
/// buffer sized for the whole object.
pub(crate) fn start(kind: ObjectKind, params_id: ParamsId, payload_len: usize) -> Writer {
    let mut w = Writer::with_capacity(ENVELOPE_LEN.saturating_add(payload_len));
    w.bytes(&MAGIC);
    w.u16(FORMAT_VERSION);
    w.u16(kind.tag());
    w.bytes(&params_id.0);
    w.u64(payload_len as u64);
    w
}

/// Reads the envelope: length, magic, version and kind tag. The payload is not
/// looked at (nor required to be present), so this is safe on secret keys and
/// cheap on huge inputs: what a future `fhez inspect` prints.
///
/// # Errors
/// [`WireError::Truncated`] for fewer than 48 bytes, [`WireError::BadMagic`],
/// [`WireError::UnsupportedVersion`], [`WireError::UnknownKind`].
pub fn peek_envelope(bytes: &[u8]) -> Result<Envelope, WireError> {
    let mut r = Reader::new(bytes);
    if r.remaining() < ENVELOPE_LEN as u64 {
        return Err(WireError::Truncated {
            needed: ENVELOPE_LEN as u64,
            available: r.remaining(),
        });
    }
    let magic = r.array::<4>()?;
    if magic != MAGIC {
        return Err(WireError::BadMagic { found: magic });
    }
    let version = r.u16()?;
    if version != FORMAT_VERSION {
        return Err(WireError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let kind = ObjectKind::try_from(r.u16()?)?;
    let params_id = ParamsId(r.array::<32>()?);
    let payload_len = r.u64()?;
    Ok(Envelope {
        kind,
        version,
        params_id,
        payload_len,
    })
}

/// Checks the envelope of `bytes` against what the caller expects and returns a
/// reader over exactly the payload. Order: length, magic, version, kind, params
/// id (when `params_id` is given), payload length against `limit`, then against
/// the bytes present (truncated or trailing).
pub(crate) fn open(
    bytes: &[u8],
    kind: ObjectKind,
    params_id: Option<ParamsId>,
    limit: u64,
) -> Result<(Envelope, Reader<'_>), WireError> {
    let env = peek_envelope(bytes)?;
    if env.kind != kind {
        return Err(WireError::WrongKind {
            expected: kind,
            found: env.kind,
        });
    }
    if let Some(expected) = params_id
        && env.params_id != expected
    {
        return Err(WireError::ParamsMismatch {
            expected,
            found: env.params_id,
        });
    }
    if env.payload_len > limit {
        return Err(WireError::TooLarge {
            len: env.payload_len,
            limit,
        });
    }
    let (_, payload) = bytes
        .split_at_checked(ENVELOPE_LEN)
        .ok_or(WireError::Truncated {
            needed: ENVELOPE_LEN as u64,
            available: bytes.len() as u64,
        })?;
    let present = payload.len() as u64;
    if present < env.payload_len {
        return Err(WireError::Truncated {
            needed: (ENVELOPE_LEN as u64).saturating_add(env.payload_len),
            available: bytes.len() as u64,
        });
    }
    if present > env.payload_len {
        return Err(WireError::TrailingBytes {
            extra: present - env.payload_len,
        });
    }
    Ok((env, Reader::new(payload)))
}
