//! The 48-byte envelope: the workspace's one outer framing ([`fhez_backend::frame`]) with the
//! magic `b"FHEZ"`, the object kind as the frame's kind and the parameter set's id as its
//! params id. Frame errors are reported as the [`WireError`] variants of the same meaning.

use fhez_backend::frame::{self, FrameError};

use super::codec::{Reader, Writer};
use super::{ENVELOPE_LEN, Envelope, FORMAT_VERSION, MAGIC, ObjectKind, WireError};
use crate::params::ParamsId;

/// The frame format of every wire object.
pub(crate) const FORMAT: frame::Format = frame::Format {
    magic: MAGIC,
    version: FORMAT_VERSION,
    what: "fhez wire object",
};

/// Starts an encoding: the envelope for a payload of `payload_len` bytes, in a
/// buffer sized for the whole object.
pub(crate) fn start(kind: ObjectKind, params_id: ParamsId, payload_len: usize) -> Writer {
    let mut w = Writer::with_capacity(ENVELOPE_LEN.saturating_add(payload_len));
    w.bytes(&frame::header(
        &FORMAT,
        kind.tag(),
        &params_id.0,
        payload_len as u64,
    ));
    w
}

/// The [`WireError`] of the same meaning as a frame error.
fn wire_error(e: FrameError) -> WireError {
    match e {
        FrameError::Truncated {
            needed, available, ..
        } => WireError::Truncated { needed, available },
        FrameError::BadMagic { found, .. } => WireError::BadMagic { found },
        FrameError::UnsupportedVersion {
            found, supported, ..
        } => WireError::UnsupportedVersion { found, supported },
        FrameError::WrongKind {
            expected, found, ..
        } => match (ObjectKind::try_from(expected), ObjectKind::try_from(found)) {
            (Ok(expected), Ok(found)) => WireError::WrongKind { expected, found },
            (Err(e), _) | (_, Err(e)) => e,
        },
        FrameError::ParamsMismatch {
            expected, found, ..
        } => WireError::ParamsMismatch {
            expected: ParamsId(expected),
            found: ParamsId(found),
        },
        FrameError::TooLarge { len, limit, .. } => WireError::TooLarge { len, limit },
        FrameError::TrailingBytes { extra, .. } => WireError::TrailingBytes { extra },
    }
}

/// Reads the envelope: length, magic, version and kind tag. The payload is not
/// looked at (nor required to be present), so this is safe on secret keys and
/// cheap on huge inputs: what `fhez inspect` prints.
///
/// # Errors
/// [`WireError::Truncated`] for fewer than 48 bytes, [`WireError::BadMagic`],
/// [`WireError::UnsupportedVersion`], [`WireError::UnknownKind`].
pub fn peek_envelope(bytes: &[u8]) -> Result<Envelope, WireError> {
    let h = frame::peek(bytes).map_err(wire_error)?;
    if h.magic != MAGIC {
        return Err(WireError::BadMagic { found: h.magic });
    }
    if h.version != FORMAT_VERSION {
        return Err(WireError::UnsupportedVersion {
            found: h.version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(Envelope {
        kind: ObjectKind::try_from(h.kind)?,
        version: h.version,
        params_id: ParamsId(h.params_id),
        payload_len: h.payload_len,
    })
}

/// Checks the envelope of `bytes` against what the caller expects and returns a
/// reader over exactly the payload. Order: length, magic, version, kind (known, then the
/// expected one), params id (when `params_id` is given), payload length against `limit`,
/// then against the bytes present (truncated or trailing).
pub(crate) fn open(
    bytes: &[u8],
    kind: ObjectKind,
    params_id: Option<ParamsId>,
    limit: u64,
) -> Result<(Envelope, Reader<'_>), WireError> {
    let env = peek_envelope(bytes)?;
    let expect = frame::Expect {
        kind: Some(kind.tag()),
        params_id: params_id.map(|id| id.0),
        limit,
    };
    let (_, payload) = frame::open(bytes, &FORMAT, expect).map_err(wire_error)?;
    Ok((env, Reader::new(payload)))
}
