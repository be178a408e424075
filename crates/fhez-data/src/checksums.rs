//! SHA-256 of the decompressed content of every file `scripts/fetch-datasets.sh`
//! installs (the same constants as the script, which also names each file's download
//! source).

use std::path::Path;

use crate::error::Result;
use crate::io::{locate, verify_sha256};

/// `(dataset, file name under data/<dataset>/, sha256 of the decompressed bytes)`.
pub const FILES: &[(&str, &str, &str)] = &[
    (
        "fashion-mnist",
        "train-images-idx3-ubyte.gz",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    (
        "fashion-mnist",
        "train-labels-idx1-ubyte.gz",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    (
        "fashion-mnist",
        "t10k-images-idx3-ubyte.gz",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    (
        "fashion-mnist",
        "t10k-labels-idx1-ubyte.gz",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    (
        "mnist",
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "mnist",
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "mnist",
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "mnist",
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    (
        "sklearn",
        "digits.csv.gz",
        "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
    ),
    (
        "sklearn",
        "iris.csv",
        "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449",
    ),
    (
        "sklearn",
        "breast_cancer.csv",
        "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    ),
    (
        "sklearn",
        "diabetes_data_raw.csv.gz",
        "86badf50b4f9436ddd1e497dc0ae1b93166f8120221ee7dca4634fe849f3be7c",
    ),
    (
        "sklearn",
        "diabetes_target.csv.gz",
        "244713a551f62a291a354212d8a048adec6cb1244b2bc44e66a0698f5006d26d",
    ),
    (
        "sklearn",
        "wine_data.csv",
        "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
    ),
    (
        "sklearn",
        "linnerud_exercise.csv",
        "cb8d8c24937643fa2459682efb86c5e667bcd6dd93109eef81964d9e9f11bf8c",
    ),
    (
        "sklearn",
        "linnerud_physiological.csv",
        "2bf7e05c1cd7d0adf0eca1e456941f624bed0a4fc96694d60d0ff7853ec5fcf7",
    ),
    (
        "statsmodels",
        "co2.csv",
        "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
    ),
    (
        "statsmodels",
        "sunspots.csv",
        "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
    ),
    (
        "statsmodels",
        "nile.csv",
        "88e97bea7249e5832a85e41aec6ce4b8f7b1b14aae930c8363da7f193286b598",
    ),
    (
        "statsmodels",
        "elec_equip.csv",
        "fb0e86774484d2c9179374377041600ffd25ea0236aeaf7d293bf2df5ae86369",
    ),
    (
        "statsmodels",
        "macrodata.csv",
        "d93c0d3a7a77ef83c3af14e46032bb1d02ae3a512b22ab94159a8ca226fcf708",
    ),
];

/// The Debian `python3-sklearn` variant of `diabetes_data_raw.csv.gz`
/// (the script's fallback route; differs only in float formatting).
pub const DIABETES_RAW_DEB: &str =
    "ec2683754c379fdffc39f53922c475eff67e2fb9c94c7c27207b7c4371d51726";

/// Verifies every pinned file of `dataset` (e.g. `"mnist"`) under `data_dir`.
///
/// # Errors
/// [`crate::DataError::Missing`] or [`crate::DataError::ChecksumMismatch`] naming the file.
pub fn verify(data_dir: &Path, dataset: &'static str) -> Result<()> {
    for &(d, file, sha) in FILES.iter().filter(|(d, ..)| *d == dataset) {
        let path = locate(&data_dir.join(d).join(file), dataset)?;
        match verify_sha256(&path, sha) {
            Err(e) if file == "diabetes_data_raw.csv.gz" => {
                verify_sha256(&path, DIABETES_RAW_DEB).map_err(|_| e)?;
            }
            other => other?,
        }
    }
    Ok(())
}
