//! File reading shared by the loaders: size limit, gzip detection, checksums.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// Default limit on the decompressed size of one file (256 MiB; MNIST's
/// largest file is 47 MB).
pub const DEFAULT_LIMIT: u64 = 256 << 20;

/// The two gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file, gunzipping it when it starts with `1f 8b`, and fails
/// with [`DataError::TooLarge`] when the (decompressed) content exceeds
/// `limit` bytes.
///
/// # Errors
/// [`DataError::Io`], [`DataError::Gzip`], [`DataError::TooLarge`].
pub fn read_maybe_gz(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = {
        let file = std::fs::File::open(path).map_err(io)?;
        let mut raw = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut raw)
            .map_err(io)?;
        raw
    };
    let bytes = if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        out
    } else {
        raw
    };
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit,
        });
    }
    Ok(bytes)
}

/// Returns `path` when it exists, else `path` + `.gz` when that exists, else
/// [`DataError::Missing`] naming `path` and the fetch-script argument.
///
/// # Errors
/// [`DataError::Missing`].
pub fn locate(path: &Path, dataset: &'static str) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let mut gz = path.as_os_str().to_os_string();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::Missing {
        path: path.to_path_buf(),
        dataset,
    })
}

/// Lower-case hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks that the decompressed content of `path` has SHA-256 `expected`.
///
/// # Errors
/// [`DataError::ChecksumMismatch`] or a read error.
pub fn verify_sha256(path: &Path, expected: &'static str) -> Result<()> {
    let found = sha256_hex(&read_maybe_gz(path, DEFAULT_LIMIT)?);
    if found == expected {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected,
            found,
        })
    }
}
