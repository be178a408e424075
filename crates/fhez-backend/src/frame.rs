//! The one outer framing of every fhez byte format: a fixed 48-byte header, then exactly the
//! payload it declares.
//!
//! | offset | size | field         | value                                                  |
//! |-------:|-----:|---------------|--------------------------------------------------------|
//! | 0      | 4    | magic         | names the format ([`Format::magic`])                   |
//! | 4      | 2    | version       | the format's version (u16 LE)                          |
//! | 6      | 2    | kind          | what the payload holds, per format (u16 LE)            |
//! | 8      | 32   | params id     | the parameter set it belongs to, or [`NO_PARAMS`]      |
//! | 40     | 8    | `payload_len` | payload bytes that follow (u64 LE)                     |
//! | 48     | …    | payload       | exactly `payload_len` bytes                            |
//!
//! [`open`] checks, in this order and before the caller allocates anything for the payload:
//! header length, magic, version, kind, params id (when the caller knows it), the declared
//! length against the caller's limit, then against the bytes present (truncated or trailing
//! bytes). Every refusal is a [`FrameError`] carrying the numbers, never a panic. [`peek`]
//! reads a header of any format without judging it (what `fhez inspect` prints).

/// Size of the header in bytes.
pub const HEADER_LEN: usize = 48;

/// The params id written by formats that belong to no parameter set.
pub const NO_PARAMS: [u8; 32] = [0; 32];

/// One byte format: its magic, the version written (the only one read) and a name for
/// errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// The four bytes every object of the format starts with.
    pub magic: [u8; 4],
    /// The version written and accepted.
    pub version: u16,
    /// What an object of the format is, for errors ("public key bundle", …).
    pub what: &'static str,
}

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Magic bytes.
    pub magic: [u8; 4],
    /// Format version.
    pub version: u16,
    /// Kind tag (meaning defined by the format).
    pub kind: u16,
    /// Parameter set id, or [`NO_PARAMS`].
    pub params_id: [u8; 32],
    /// Declared payload length.
    pub payload_len: u64,
}

/// What the reader expects besides the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The kind tag required, or `None` to accept any (the caller dispatches on it).
    pub kind: Option<u16>,
    /// The params id required, or `None` when the caller does not know it yet.
    pub params_id: Option<[u8; 32]>,
    /// Largest payload accepted, in bytes.
    pub limit: u64,
}

/// Why [`open`] or [`peek`] refused the bytes. Deliberately exhaustive: a new refusal must
/// be mapped by every format that translates these into its own error type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header, or than the header plus the declared payload.
    #[error("truncated {what}: needs {needed} bytes, {available} present")]
    Truncated {
        /// The object.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// Another format's magic.
    #[error("not a {what}: magic {found:02x?}, expected {expected:02x?}")]
    BadMagic {
        /// The object expected.
        what: &'static str,
        /// Magic expected.
        expected: [u8; 4],
        /// Magic found.
        found: [u8; 4],
    },
    /// A version this build does not read.
    #[error("{what} version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The object.
        what: &'static str,
        /// Version found.
        found: u16,
        /// The version read.
        supported: u16,
    },
    /// Another kind of object of the format.
    #[error("{what}: kind {found}, expected kind {expected}")]
    WrongKind {
        /// The object.
        what: &'static str,
        /// Kind expected.
        expected: u16,
        /// Kind found.
        found: u16,
    },
    /// Another parameter set.
    #[error("{what} belongs to another parameter set")]
    ParamsMismatch {
        /// The object.
        what: &'static str,
        /// Params id expected.
        expected: [u8; 32],
        /// Params id found.
        found: [u8; 32],
    },
    /// The declared payload is over the caller's limit.
    #[error("{what} declares a payload of {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// The object.
        what: &'static str,
        /// Declared payload length.
        len: u64,
        /// The caller's limit.
        limit: u64,
    },
    /// Bytes after the declared payload.
    #[error("{what}: {extra} bytes after the declared payload")]
    TrailingBytes {
        /// The object.
        what: &'static str,
        /// Bytes beyond the payload.
        extra: u64,
    },
}

/// Encodes a header.
#[must_use]
pub fn header(format: &Format, kind: u16, params_id: &[u8; 32], payload_len: u64) -> [u8; 48] {
    let mut out = [0u8; HEADER_LEN];
    let fields: [&[u8]; 5] = [
        &format.magic,
        &format.version.to_le_bytes(),
        &kind.to_le_bytes(),
        params_id,
        &payload_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        if let Some(dst) = out.get_mut(at..at + field.len()) {
            dst.copy_from_slice(field);
        }
        at += field.len();
    }
    out
}

/// Builds a framed object whose payload length is known only at the end: the header is
/// written first with length 0, the payload appended to [`Writer::payload`], and
/// [`Writer::finish`] fills in the length.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts an object of `format` and `kind`; `capacity` is a hint for the payload size.
    #[must_use]
    pub fn new(format: &Format, kind: u16, params_id: &[u8; 32], capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN.saturating_add(capacity));
        buf.extend_from_slice(&header(format, kind, params_id, 0));
        Self { buf }
    }

    /// The payload written so far, to append to.
    pub fn payload(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The whole object, with the declared length set to the payload written.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len().saturating_sub(HEADER_LEN) as u64;
        if let Some(dst) = self.buf.get_mut(40..HEADER_LEN) {
            dst.copy_from_slice(&len.to_le_bytes());
        }
        self.buf
    }
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Reads the header of `bytes` without checking it against a format; the payload is neither
/// looked at nor required to be present (safe on secret material, cheap on huge input).
///
/// # Errors
/// [`FrameError::Truncated`] for fewer than [`HEADER_LEN`] bytes.
pub fn peek(bytes: &[u8]) -> Result<Header, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated {
            what: "framed object",
            needed: HEADER_LEN as u64,
            available: bytes.len() as u64,
        });
    }
    Ok(Header {
        magic: array(bytes, 0),
        version: u16::from_le_bytes(array(bytes, 4)),
        kind: u16::from_le_bytes(array(bytes, 6)),
        params_id: array(bytes, 8),
        payload_len: u64::from_le_bytes(array(bytes, 40)),
    })
}

/// Checks the header of `bytes` against `format` and `expect` and returns it with exactly the
/// payload. Order: header length, magic, version, kind, params id, declared length against
/// `expect.limit`, then against the bytes present.
///
/// # Errors
/// The first [`FrameError`] in that order.
pub fn open<'a>(
    bytes: &'a [u8],
    format: &Format,
    expect: Expect,
) -> Result<(Header, &'a [u8]), FrameError> {
    let what = format.what;
    let h = peek(bytes).map_err(|_| FrameError::Truncated {
        what,
        needed: HEADER_LEN as u64,
        available: bytes.len() as u64,
    })?;
    if h.magic != format.magic {
        return Err(FrameError::BadMagic {
            what,
            expected: format.magic,
            found: h.magic,
        });
    }
    if h.version != format.version {
        return Err(FrameError::UnsupportedVersion {
            what,
            found: h.version,
            supported: format.version,
        });
    }
    if let Some(expected) = expect.kind
        && h.kind != expected
    {
        return Err(FrameError::WrongKind {
            what,
            expected,
            found: h.kind,
        });
    }
    if let Some(expected) = expect.params_id
        && h.params_id != expected
    {
        return Err(FrameError::ParamsMismatch {
            what,
            expected,
            found: h.params_id,
        });
    }
    if h.payload_len > expect.limit {
        return Err(FrameError::TooLarge {
            what,
            len: h.payload_len,
            limit: expect.limit,
        });
    }
    let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
    let present = payload.len() as u64;
    if present < h.payload_len {
        return Err(FrameError::Truncated {
            what,
            needed: (HEADER_LEN as u64).saturating_add(h.payload_len),
            available: bytes.len() as u64,
        });
    }
    if present > h.payload_len {
        return Err(FrameError::TrailingBytes {
            what,
            extra: present - h.payload_len,
        });
    }
    Ok((h, payload))
}

/// [`open`] for a format whose objects name no parameter set ([`NO_PARAMS`] required),
/// after checking the whole input against `limit`; returns the payload.
///
/// # Errors
/// [`Error::SizeLimit`](crate::Error::SizeLimit) for input over `limit`, then the frame's
/// refusals as [`Error::Frame`](crate::Error::Frame).
pub fn open_without_params<'a>(
    bytes: &'a [u8],
    format: &Format,
    kind: u16,
    limit: usize,
) -> crate::Result<&'a [u8]> {
    crate::wire::check_limit(format.what, bytes.len(), limit)?;
    let expect = Expect {
        kind: Some(kind),
        params_id: Some(NO_PARAMS),
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    };
    Ok(open(bytes, format, expect)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Format = Format {
        magic: *b"FZTS",
        version: 3,
        what: "test object",
    };
    const ID: [u8; 32] = [7; 32];

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut w = Writer::new(&F, 2, &ID, payload.len());
        w.payload().extend_from_slice(payload);
        w.finish()
    }

    fn expect(limit: u64) -> Expect {
        Expect {
            kind: Some(2),
            params_id: Some(ID),
            limit,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let bytes = framed(b"hello");
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        assert_eq!(&bytes[..4], b"FZTS");
        assert_eq!(&bytes[4..8], &[3, 0, 2, 0]);
        assert_eq!(&bytes[40..48], &5u64.to_le_bytes());
        assert_eq!(bytes[..48], header(&F, 2, &ID, 5));
        let (h, payload) = open(&bytes, &F, expect(5)).unwrap();
        assert_eq!(payload, b"hello");
        assert_eq!((h.kind, h.params_id, h.payload_len), (2, ID, 5));
        assert_eq!(peek(&bytes[..48]), Ok(h), "peek needs the header only");
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = framed(b"hello");
        for cut in 0..bytes.len() {
            let needed = if cut < HEADER_LEN { 48 } else { 53 };
            assert_eq!(
                open(&bytes[..cut], &F, expect(1 << 20)),
                Err(FrameError::Truncated {
                    what: "test object",
                    needed,
                    available: cut as u64
                }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn length_lies_and_trailing_bytes_are_refused() {
        let mut bytes = framed(b"hello");
        bytes.push(0);
        assert_eq!(
            open(&bytes, &F, expect(100)),
            Err(FrameError::TrailingBytes {
                what: "test object",
                extra: 1
            })
        );
        // A declared length of 2^64 - 1: refused by the limit, before anything else.
        let mut lie = framed(b"hello");
        lie[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            open(&lie, &F, expect(1 << 30)),
            Err(FrameError::TooLarge {
                what: "test object",
                len: u64::MAX,
                limit: 1 << 30
            })
        );
        // Under the limit but longer than present.
        lie[40..48].copy_from_slice(&6u64.to_le_bytes());
        assert_eq!(
            open(&lie, &F, expect(1 << 30)),
            Err(FrameError::Truncated {
                what: "test object",
                needed: 54,
                available: 53
            })
        );
    }

    #[test]
    fn the_limit_applies_to_the_declared_payload() {
        let bytes = framed(b"hello");
        assert!(open(&bytes, &F, expect(5)).is_ok());
        assert_eq!(
            open(&bytes, &F, expect(4)),
            Err(FrameError::TooLarge {
                what: "test object",
                len: 5,
                limit: 4
            })
        );
    }

    #[test]
    fn magic_version_kind_and_params_are_checked_in_order() {
        let good = framed(b"x");
        let mut bad = good.clone();
        bad[0] = b'X';
        bad[4] = 9; // also a bad version: the magic is reported first
        assert_eq!(
            open(&bad, &F, expect(10)),
            Err(FrameError::BadMagic {
                what: "test object",
                expected: *b"FZTS",
                found: *b"XZTS"
            })
        );
        let mut bad = good.clone();
        bad[4] = 9;
        bad[6] = 5;
        assert_eq!(
            open(&bad, &F, expect(10)),
            Err(FrameError::UnsupportedVersion {
                what: "test object",
                found: 9,
                supported: 3
            })
        );
        let mut bad = good.clone();
        bad[6] = 5;
        bad[8] = 0;
        assert_eq!(
            open(&bad, &F, expect(10)),
            Err(FrameError::WrongKind {
                what: "test object",
                expected: 2,
                found: 5
            })
        );
        let any_kind = Expect {
            kind: None,
            ..expect(10)
        };
        assert!(open(&bad, &F, any_kind).is_err(), "params still checked");
        let mut bad = good.clone();
        bad[8] = 0;
        let mut found = ID;
        found[0] = 0;
        assert_eq!(
            open(&bad, &F, expect(10)),
            Err(FrameError::ParamsMismatch {
                what: "test object",
                expected: ID,
                found
            })
        );
        let unknown_params = Expect {
            params_id: None,
            ..expect(10)
        };
        assert!(open(&bad, &F, unknown_params).is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Every prefix of a valid object with every byte flipped in turn.
        let good = framed(&[1, 2, 3, 4]);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= flip;
                for cut in 0..=b.len() {
                    let _ = open(&b[..cut], &F, expect(1 << 20));
                    let _ = peek(&b[..cut]);
                }
            }
        }
    }
}
