//! IDX files (the MNIST format): a big-endian header `00 00 <type> <ndims>`,
//! `ndims` big-endian `u32` dimensions, then the row-major payload.
//!
//! Only the unsigned-byte type (`0x08`) is read: magic [`IMAGES_MAGIC`]
//! (`n x rows x cols`) and [`LABELS_MAGIC`] (`n`). Gzip is detected by its
//! magic bytes, so `*.gz` and raw files both load.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::io::{DEFAULT_LIMIT, read_maybe_gz};

/// Magic of an IDX file of `u8` images with 3 dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of `u8` labels with 1 dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A parsed IDX array of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxU8 {
    /// The dimensions from the header.
    pub dims: Vec<usize>,
    /// The row-major payload (`dims.iter().product()` bytes).
    pub data: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Parses IDX `bytes` (already decompressed) whose magic must be `magic`;
/// `path` is only used in errors.
///
/// # Errors
/// [`DataError::Truncated`] (short header or payload), [`DataError::BadMagic`],
/// [`DataError::TrailingBytes`], [`DataError::TooLarge`] (dimension product overflows).
pub fn parse(path: &Path, bytes: Vec<u8>, magic: u32) -> Result<IdxU8> {
    let found = len_u64(bytes.len());
    let truncated = |expected: u64| DataError::Truncated {
        path: path.to_path_buf(),
        expected,
        found,
    };
    let got_magic = be_u32(&bytes, 0).ok_or_else(|| truncated(4))?;
    if got_magic != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: got_magic,
            expected: magic,
        });
    }
    let ndims = usize::from(magic.to_be_bytes()[3]);
    let header = 4 + 4 * ndims;
    let mut dims = Vec::with_capacity(ndims);
    for k in 0..ndims {
        let d = be_u32(&bytes, 4 + 4 * k).ok_or_else(|| truncated(len_u64(header)))?;
        dims.push(usize::try_from(d).unwrap_or(usize::MAX));
    }
    let payload = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|p| p.checked_add(header))
        .ok_or(DataError::TooLarge {
            path: path.to_path_buf(),
            size: u64::MAX,
            limit: DEFAULT_LIMIT,
        })?;
    let expected = len_u64(payload);
    if bytes.len() < payload {
        return Err(truncated(expected));
    }
    if bytes.len() > payload {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    let mut data = bytes;
    data.drain(..header);
    Ok(IdxU8 { dims, data })
}

/// Reads an IDX image file (`0x00000803`) and checks that every image is
/// `rows x cols`. Returns the number of images and the pixels.
///
/// # Errors
/// Read errors, the [`parse`] errors and [`DataError::ShapeMismatch`].
pub fn read_images(path: &Path, rows: usize, cols: usize) -> Result<(usize, Vec<u8>)> {
    let idx = parse(path, read_maybe_gz(path, DEFAULT_LIMIT)?, IMAGES_MAGIC)?;
    match idx.dims.as_slice() {
        &[n, r, c] if r == rows && c == cols => Ok((n, idx.data)),
        other => Err(DataError::ShapeMismatch {
            path: path.to_path_buf(),
            expected: vec![0, rows, cols],
            found: other.to_vec(),
        }),
    }
}

/// Reads an IDX label file (`0x00000801`) and checks every label is below `classes`.
///
/// # Errors
/// Read errors, the [`parse`] errors and [`DataError::LabelOutOfRange`].
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>> {
    let idx = parse(path, read_maybe_gz(path, DEFAULT_LIMIT)?, LABELS_MAGIC)?;
    check_labels(path, &idx.data, classes)?;
    Ok(idx.data)
}

/// Fails on the first label `>= classes`.
pub(crate) fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<()> {
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &v)| usize::from(v) >= classes)
    {
        Some((index, &value)) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            value: u64::from(value),
            classes,
        }),
        None => Ok(()),
    }
}

/// Reads a matching image/label pair and checks the counts agree.
///
/// # Errors
/// The errors of [`read_images`], [`read_labels`] and [`DataError::LabelCountMismatch`].
pub fn read_pair(
    images_path: &Path,
    labels_path: &Path,
    rows: usize,
    cols: usize,
    classes: usize,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let (n, pixels) = read_images(images_path, rows, cols)?;
    let labels = read_labels(labels_path, classes)?;
    if labels.len() != n {
        return Err(DataError::LabelCountMismatch {
            images_path: images_path.to_path_buf(),
            images: n,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    Ok((pixels, labels))
}

/// Encodes an IDX `u8` file (used by tests and fixture writers).
#[must_use]
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let ndims = u8::try_from(dims.len()).unwrap_or(u8::MAX);
    let mut out = vec![0, 0, 0x08, ndims];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;
    use std::io::Write;
    use std::path::PathBuf;

    type TestResult = std::result::Result<(), Box<dyn Error>>;

    fn tmp(name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("fhez-data-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let p = dir.join(name);
        std::fs::write(&p, bytes)?;
        Ok(p)
    }

    fn gz(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes)?;
        e.finish()
    }

    fn images(n: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..n * 4 * 3).map(|i| (i % 251) as u8).collect();
        encode(&[n, 4, 3], &data)
    }

    #[test]
    fn reads_raw_and_gzip_images() -> TestResult {
        for (name, bytes) in [("raw-img", images(5)), ("gz-img.gz", gz(&images(5))?)] {
            let p = tmp(name, &bytes)?;
            let (n, px) = read_images(&p, 4, 3)?;
            assert_eq!(n, 5);
            assert_eq!(px.len(), 60);
            assert_eq!(px[13], 13);
        }
        Ok(())
    }

    #[test]
    fn reads_labels_and_pairs() -> TestResult {
        let img = tmp("pair-img", &images(3))?;
        let lab = tmp("pair-lab.gz", &gz(&encode(&[3], &[9, 0, 4]))?)?;
        let (px, labels) = read_pair(&img, &lab, 4, 3, 10)?;
        assert_eq!((px.len(), labels), (36, vec![9, 0, 4]));
        Ok(())
    }

    #[test]
    fn truncated_payload_and_header() -> TestResult {
        let mut b = images(2);
        b.truncate(b.len() - 1);
        let p = tmp("trunc", &b)?;
        match read_images(&p, 4, 3) {
            Err(DataError::Truncated {
                path,
                expected,
                found,
            }) => {
                assert_eq!(path, p);
                assert_eq!((expected, found), (16 + 24, 16 + 23));
            }
            other => panic!("{other:?}"),
        }
        let p = tmp("trunc-head", &images(2)[..10])?;
        assert!(matches!(
            read_images(&p, 4, 3),
            Err(DataError::Truncated {
                expected: 16,
                found: 10,
                ..
            })
        ));
        let p = tmp("trunc-magic", &[0, 0])?;
        assert!(matches!(
            read_labels(&p, 10),
            Err(DataError::Truncated {
                expected: 4,
                found: 2,
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn truncated_gzip_is_an_error_naming_the_file() -> TestResult {
        let z = gz(&images(50))?;
        let p = tmp("trunc.gz", &z[..z.len() / 2])?;
        let e = read_images(&p, 4, 3)
            .err()
            .ok_or("accepted a truncated gzip")?;
        assert!(
            matches!(e, DataError::Gzip { .. } | DataError::Truncated { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("trunc.gz"), "{e}");
        Ok(())
    }

    #[test]
    fn corrupted_gzip_fails_crc() -> TestResult {
        let mut z = gz(&images(50))?;
        let n = z.len();
        z[n - 6] ^= 0xff; // inside the CRC32 trailer
        let p = tmp("crc.gz", &z)?;
        assert!(matches!(read_images(&p, 4, 3), Err(DataError::Gzip { .. })));
        Ok(())
    }

    #[test]
    fn trailing_bytes() -> TestResult {
        let mut b = images(2);
        b.push(0);
        let p = tmp("trail", &b)?;
        assert!(matches!(
            read_images(&p, 4, 3),
            Err(DataError::TrailingBytes {
                expected: 40,
                found: 41,
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn wrong_magic() -> TestResult {
        let p = tmp("magic", &images(1))?;
        match read_labels(&p, 10) {
            Err(DataError::BadMagic {
                found, expected, ..
            }) => assert_eq!((found, expected), (IMAGES_MAGIC, LABELS_MAGIC)),
            other => panic!("{other:?}"),
        }
        let mut b = images(1);
        b[2] = 0x0d; // float type
        let p = tmp("magic-f32", &b)?;
        let e = read_images(&p, 4, 3).err().ok_or("accepted")?;
        assert_eq!(
            e.to_string(),
            format!(
                "{}: bad IDX magic 0x00000d03, expected 0x00000803",
                p.display()
            )
        );
        Ok(())
    }

    #[test]
    fn wrong_dims() -> TestResult {
        let p = tmp("dims", &images(2))?;
        match read_images(&p, 28, 28) {
            Err(DataError::ShapeMismatch {
                expected, found, ..
            }) => assert_eq!((expected, found), (vec![0, 28, 28], vec![2, 4, 3])),
            other => panic!("{other:?}"),
        }
        Ok(())
    }

    #[test]
    fn huge_dims_do_not_allocate() -> TestResult {
        let p = tmp("huge", &encode(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]))?;
        assert!(matches!(
            read_images(&p, u32::MAX as usize, u32::MAX as usize),
            Err(DataError::TooLarge { .. } | DataError::Truncated { .. })
        ));
        Ok(())
    }

    #[test]
    fn label_out_of_range() -> TestResult {
        let p = tmp("lab10", &encode(&[4], &[1, 2, 10, 3]))?;
        match read_labels(&p, 10) {
            Err(DataError::LabelOutOfRange {
                path,
                index,
                value,
                classes,
            }) => assert_eq!((path, index, value, classes), (p, 2, 10, 10)),
            other => panic!("{other:?}"),
        }
        Ok(())
    }

    #[test]
    fn label_count_mismatch() -> TestResult {
        let img = tmp("cnt-img", &images(3))?;
        let lab = tmp("cnt-lab", &encode(&[2], &[1, 2]))?;
        assert!(matches!(
            read_pair(&img, &lab, 4, 3, 10),
            Err(DataError::LabelCountMismatch {
                images: 3,
                labels: 2,
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn size_limit() -> TestResult {
        let p = tmp("limit.gz", &gz(&vec![0u8; 5000])?)?;
        assert!(matches!(
            read_maybe_gz(&p, 4096),
            Err(DataError::TooLarge { limit: 4096, .. })
        ));
        Ok(())
    }
}
