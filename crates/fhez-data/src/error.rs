//! The crate's error type: every variant that concerns a file names it.

use std::path::PathBuf;

/// Result alias with [`DataError`] as the default error.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or preparing data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A dataset file is absent; the fix is to run the fetch script.
    #[error("{path}: not found; run `scripts/fetch-datasets.sh {dataset}` (or set FHEZ_DATA_DIR)")]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
        /// The argument to pass to `scripts/fetch-datasets.sh`.
        dataset: &'static str,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The gzip stream is corrupt or cut short.
    #[error("{path}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The (decompressed) content is larger than the loader accepts.
    #[error("{path}: {size} bytes exceed the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Bytes seen (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Fewer bytes than the header announces.
    #[error("{path}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header (or format) requires.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// More bytes than the header announces.
    #[error("{path}: {found} bytes but the header describes {expected}")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Bytes the header describes.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The IDX magic number is not the one expected.
    #[error("{path}: bad IDX magic 0x{found:08x}, expected 0x{expected:08x}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
        /// The magic number wanted.
        expected: u32,
    },
    /// The dimensions differ from what the dataset requires.
    #[error("{path}: shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// Required dimensions (0 = any).
        expected: Vec<usize>,
        /// Dimensions found.
        found: Vec<usize>,
    },
    /// Image and label files disagree on the number of samples.
    #[error("{images_path} holds {images} images but {labels_path} holds {labels} labels")]
    LabelCountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Number of images.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Number of labels.
        labels: usize,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {value} at index {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Sample index.
        index: usize,
        /// Label value.
        value: u64,
        /// Number of classes.
        classes: usize,
    },
    /// A CSV row has a different number of fields than the first row.
    #[error("{path}:{line}: {found} fields, expected {expected}")]
    Ragged {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Fields in the first data row.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A CSV field is not a number.
    #[error("{path}:{line}: field {column} is not a number: {text:?}")]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 0-based field index.
        column: usize,
        /// The offending text (at most 32 characters).
        text: String,
    },
    /// A CSV field is NaN, infinite or missing.
    #[error("{path}:{line}: field {column} is not finite ({value})")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 0-based field index.
        column: usize,
        /// The parsed value (NaN for an empty field).
        value: f64,
    },
    /// A file has no data rows.
    #[error("{path}: no data")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A file's content does not have the pinned SHA-256.
    #[error("{path}: sha256 {found}, expected {expected}; re-run `scripts/fetch-datasets.sh`")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Pinned digest (hex).
        expected: &'static str,
        /// Digest of the file's decompressed content (hex).
        found: String,
    },
    /// A parameter of a helper is out of its valid range.
    #[error("{op}: invalid {param} = {value} (valid: {valid})")]
    InvalidParameter {
        /// The function.
        op: &'static str,
        /// The parameter.
        param: &'static str,
        /// Its value.
        value: f64,
        /// The valid range, e.g. "0 < f < 1".
        valid: &'static str,
    },
    /// Two lengths that must agree do not.
    #[error("{op}: length {found}, expected {expected}")]
    LengthMismatch {
        /// The function.
        op: &'static str,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
}
