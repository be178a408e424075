//! The application formats in the workspace's one outer framing ([`fhez_backend::frame`]):
//! the public key bundle (`FZPB`) and the ciphertext message (`FZCB`). Both carry the
//! parameter set's id in the frame, so a reader that knows its parameters refuses another
//! set before reading any section.
//!
//! Version 1 of both formats (before the common frame) had no header beyond
//! `magic | version u8 (1)`; its payload is byte for byte the version 2 payload. Stored key
//! directories and key stores hold version 1 bundles, so [`open`] still reads version 1 of
//! both (the caller's limit applies to the whole input); writers write version 2 only.

use fhez_backend::frame::{self, Expect, Format, Header};

use crate::Result;

/// The public key bundle: parameters, public, relinearization and Galois keys.
pub const BUNDLE: Format = Format {
    magic: *b"FZPB",
    version: 2,
    what: "public key bundle",
};

/// The frame kind of a public key bundle (the only kind of [`BUNDLE`]).
pub const KIND_PUBLIC_BUNDLE: u16 = 1;

/// The ciphertext message between client and server.
pub const MESSAGE: Format = Format {
    magic: *b"FZCB",
    version: 2,
    what: "ciphertext batch",
};

/// The frame kind of a ciphertext batch (the only kind of [`MESSAGE`]).
pub const KIND_CT_BATCH: u16 = 1;

/// Whether `bytes` are version 1 of `format` (`magic | 0x01`): version 2 and later write
/// the version as a little-endian u16, so their fifth byte is never 1.
#[must_use]
pub fn is_version_1(bytes: &[u8], format: &Format) -> bool {
    bytes.get(..4) == Some(&format.magic[..]) && bytes.get(4) == Some(&1)
}

/// The payload of `bytes` in `format`: version 2 through [`frame::open`] (header returned),
/// version 1 after its 5-byte header (no header returned: it has no kind, params id or
/// length). The whole input is checked against `expect.limit` first.
///
/// # Errors
/// `SizeLimit` over the limit, the frame's refusals.
pub fn open<'a>(
    bytes: &'a [u8],
    format: &Format,
    expect: Expect,
) -> Result<(Option<Header>, &'a [u8])> {
    let limit = usize::try_from(expect.limit).unwrap_or(usize::MAX);
    fhez_backend::wire::check_limit(format.what, bytes.len(), limit)?;
    if is_version_1(bytes, format) {
        return Ok((None, bytes.get(5..).unwrap_or_default()));
    }
    let (header, payload) =
        frame::open(bytes, format, expect).map_err(fhez_backend::Error::from)?;
    Ok((Some(header), payload))
}
