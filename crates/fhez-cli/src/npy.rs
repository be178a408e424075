//! A reader for NumPy `.npy` files: versions 1–3, little-endian `f8`, `f4`, `u1`, `i4`,
//! `i8`, C order. The values come back flat, in order.

use anyhow::{Context, Result, bail};

/// The first six bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = header.get(at + key.len() + 2..)?;
    let colon = rest.find(':')?;
    rest.get(colon + 1..).map(str::trim_start)
}

/// Parses a `.npy` file into its flat values and shape.
pub fn parse_shaped(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>)> {
    if !bytes.starts_with(MAGIC) {
        bail!("not an .npy file");
    }
    let major = *bytes.get(6).context("truncated .npy header")?;
    let (len, start) = match major {
        1 => {
            let b: [u8; 2] = bytes
                .get(8..10)
                .and_then(|b| b.try_into().ok())
                .context("truncated .npy header")?;
            (usize::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let b: [u8; 4] = bytes
                .get(8..12)
                .and_then(|b| b.try_into().ok())
                .context("truncated .npy header")?;
            let v = u32::from_le_bytes(b);
            (usize::try_from(v)?, 12)
        }
        v => bail!(".npy version {v} is not supported"),
    };
    let header = bytes
        .get(start..start + len)
        .context("truncated .npy header")?;
    let header = std::str::from_utf8(header).context(".npy header is not text")?;
    let descr = field(header, "descr").context(".npy header has no descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .context(".npy descr is not a string")?;
    let fortran = field(header, "fortran_order").context(".npy header has no fortran_order")?;
    if fortran.starts_with("True") {
        bail!(".npy in Fortran order is not supported (save it in C order)");
    }
    let shape_text = field(header, "shape").context(".npy header has no shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .context(".npy shape is not a tuple")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .context(".npy shape is not a tuple of integers")?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .context(".npy shape overflows")?;
    let body = bytes.get(start + len..).unwrap_or(&[]);
    let width = match descr {
        "<f8" | "<i8" => 8,
        "<f4" | "<i4" => 4,
        "|u1" | "<u1" => 1,
        other => bail!(
            ".npy dtype {other:?} is not supported (use float64, float32, uint8, int32 or int64)"
        ),
    };
    if body.len() != count.checked_mul(width).context(".npy size overflows")? {
        bail!(
            ".npy body holds {} bytes, the shape {shape:?} needs {}",
            body.len(),
            count * width
        );
    }
    let values = body
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 8];
            if let Some(dst) = b.get_mut(..width) {
                dst.copy_from_slice(c);
            }
            match descr {
                "<f8" => f64::from_le_bytes(b),
                "<i8" => i64::from_le_bytes(b) as f64,
                "<f4" => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                "<i4" => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                _ => f64::from(b[0]),
            }
        })
        .collect();
    Ok((shape, values))
}

/// The flat values of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Vec<f64>> {
    Ok(parse_shaped(bytes)?.1)
}

/// Writes values as a version-1 `.npy` file of `<f8` (for the tests).
#[cfg(test)]
pub fn write_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
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
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let bytes = write_f64(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let (shape, v) = parse_shaped(&bytes).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let one = write_f64(&[3], &[1.0, 2.0, 3.0]);
        assert_eq!(parse_shaped(&one).unwrap().0, vec![3]);
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse(&bytes[..9]).is_err());
        let f4 = String::from_utf8_lossy(&bytes).replace("<f8", "<f4");
        assert!(parse(f4.as_bytes()).is_err());
    }
}
