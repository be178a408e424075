//! A reader for NumPy `.npy` files: versions 1–3, little-endian `f8`, `f4`, `u1`, `i4`,
//! `i8`, C order. The values come back flat, in order, with the shape.
//!
//! The bytes are untrusted: the header length is checked against the bytes present, the
//! shape's element count is a checked product, and the body length must equal count × item
//! size exactly before anything is allocated, so the output is never larger than the input
//! (at most 8× for `u1`). Bad input is an [`NpyError`], never a panic.

/// The first six bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// What can be wrong with an `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not an .npy file")]
    NotNpy,
    /// Fewer bytes than the header needs.
    #[error("truncated .npy header: {needed} bytes needed, {found} present")]
    Truncated {
        /// Bytes the header needs.
        needed: u64,
        /// Bytes present.
        found: u64,
    },
    /// A major version other than 1, 2 or 3.
    #[error(".npy version {major} is not supported")]
    Version {
        /// The major version read.
        major: u8,
    },
    /// A header that is not the dictionary the format describes.
    #[error(".npy header: {reason}")]
    Header {
        /// What is wrong, as a fixed phrase.
        reason: &'static str,
    },
    /// Fortran (column-major) order.
    #[error(".npy in Fortran order is not supported (save it in C order)")]
    FortranOrder,
    /// A dtype this reader does not convert.
    #[error(".npy dtype {descr:?} is not supported (use float64, float32, uint8, int32 or int64)")]
    Dtype {
        /// The `descr` string read.
        descr: String,
    },
    /// A shape whose element count (or byte count) overflows.
    #[error(".npy shape {shape:?} overflows")]
    Overflow {
        /// The shape read.
        shape: Vec<usize>,
    },
    /// A body whose length is not what the shape and dtype need.
    #[error(".npy body holds {found} bytes, the shape {shape:?} needs {expected}")]
    Body {
        /// The shape read.
        shape: Vec<usize>,
        /// Bytes the shape and dtype need.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = header.get(at.checked_add(key.len())?.checked_add(2)?..)?;
    let colon = rest.find(':')?;
    rest.get(colon + 1..).map(str::trim_start)
}

fn header_err(reason: &'static str) -> NpyError {
    NpyError::Header { reason }
}

fn le<const K: usize>(bytes: &[u8], at: usize) -> Result<[u8; K], NpyError> {
    bytes
        .get(at..at + K)
        .and_then(|b| b.try_into().ok())
        .ok_or(NpyError::Truncated {
            needed: (at + K) as u64,
            found: bytes.len() as u64,
        })
}

/// Parses a `.npy` file into its shape and flat values.
///
/// # Errors
/// [`NpyError`] for anything that is not a supported, self-consistent `.npy` file.
pub fn parse_shaped(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>), NpyError> {
    if !bytes.starts_with(MAGIC) {
        return Err(NpyError::NotNpy);
    }
    let major = le::<1>(bytes, 6)?[0];
    let (len, start): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes(le(bytes, 8)?)), 10),
        2 | 3 => {
            let v = u32::from_le_bytes(le(bytes, 8)?);
            (usize::try_from(v).map_err(|_| header_err("length"))?, 12)
        }
        major => return Err(NpyError::Version { major }),
    };
    let end = start.saturating_add(len);
    let header = bytes.get(start..end).ok_or(NpyError::Truncated {
        needed: end as u64,
        found: bytes.len() as u64,
    })?;
    let header = std::str::from_utf8(header).map_err(|_| header_err("not text"))?;
    let descr = field(header, "descr").ok_or(header_err("no descr"))?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or(header_err("descr is not a string"))?;
    let fortran = field(header, "fortran_order").ok_or(header_err("no fortran_order"))?;
    if fortran.starts_with("True") {
        return Err(NpyError::FortranOrder);
    }
    let shape_text = field(header, "shape").ok_or(header_err("no shape"))?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or(header_err("shape is not a tuple"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| header_err("shape is not a tuple of integers"))?;
    let width: usize = match descr {
        "<f8" | "<i8" => 8,
        "<f4" | "<i4" => 4,
        "|u1" | "<u1" => 1,
        other => {
            return Err(NpyError::Dtype {
                descr: other.to_owned(),
            });
        }
    };
    let expected = shape
        .iter()
        .try_fold(width, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError::Overflow {
            shape: shape.clone(),
        })?;
    let body = bytes.get(end..).unwrap_or(&[]);
    if body.len() != expected {
        return Err(NpyError::Body {
            shape,
            expected: expected as u64,
            found: body.len() as u64,
        });
    }
    let values = body
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            if let Some(dst) = b.get_mut(..width) {
                dst.copy_from_slice(c);
            }
            let [b0, b1, b2, b3, ..] = b;
            match descr {
                "<f8" => f64::from_le_bytes(b),
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "int64 data is converted to the nearest f64, as NumPy's astype does"
                )]
                "<i8" => i64::from_le_bytes(b) as f64,
                "<f4" => f64::from(f32::from_le_bytes([b0, b1, b2, b3])),
                "<i4" => f64::from(i32::from_le_bytes([b0, b1, b2, b3])),
                _ => f64::from(b0),
            }
        })
        .collect();
    Ok((shape, values))
}

/// The flat values of a `.npy` file.
///
/// # Errors
/// As [`parse_shaped`].
pub fn parse(bytes: &[u8]) -> Result<Vec<f64>, NpyError> {
    Ok(parse_shaped(bytes)?.1)
}

/// Writes values as a version-1 `.npy` file of `<f8` in C order (what
/// [`parse_shaped`] reads back exactly).
///
/// # Errors
/// [`NpyError::Body`] when `values` does not hold the shape's element count,
/// [`NpyError::Overflow`] when that count overflows, [`NpyError::Header`] when the
/// header does not fit the version-1 16-bit length.
pub fn write_f64(shape: &[usize], values: &[f64]) -> Result<Vec<u8>, NpyError> {
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError::Overflow {
            shape: shape.to_vec(),
        })?;
    if count != values.len() {
        return Err(NpyError::Body {
            shape: shape.to_vec(),
            expected: (count as u64).saturating_mul(8),
            found: (values.len() as u64).saturating_mul(8),
        });
    }
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims.join(""))
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(|_| header_err("too long"))?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let bytes = write_f64(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let (shape, v) = parse_shaped(&bytes).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let one = write_f64(&[3], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(parse_shaped(&one).unwrap().0, vec![3]);
        assert!(matches!(
            parse(&bytes[..bytes.len() - 1]),
            Err(NpyError::Body {
                expected: 48,
                found: 47,
                ..
            })
        ));
        assert!(matches!(
            parse(&bytes[..9]),
            Err(NpyError::Truncated {
                needed: 10,
                found: 9
            })
        ));
        let f4 = String::from_utf8_lossy(&bytes).replace("<f8", "<f4");
        assert!(parse(f4.as_bytes()).is_err());
        assert!(write_f64(&[2, 2], &[1.0]).is_err());
    }

    #[test]
    fn an_overflowing_shape_is_an_error_not_an_allocation() {
        let header =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        assert!(matches!(parse(&bytes), Err(NpyError::Overflow { .. })));
        // One element fewer than the shape needs is a body error naming both lengths.
        let small = header.replace("(4294967296, 4294967296)", "(2, 2)");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&u16::try_from(small.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(small.as_bytes());
        bytes.extend_from_slice(&[0; 24]);
        assert!(matches!(
            parse(&bytes),
            Err(NpyError::Body {
                expected: 32,
                found: 24,
                ..
            })
        ));
    }
}
