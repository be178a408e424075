//! Key material on disk and on the wire: the **public bundle** a client hands to a server
//! (parameters, public, relinearization and Galois keys — nothing secret), and the client's
//! key directory.
//!
//! Public bundle layout (all integers little-endian):
//!
//! ```text
//! magic "FZPB" | version u8 (1) | 4 × (len u64 | fhez wire object)
//! ```
//!
//! The four objects are, in order, the parameter set, the public key, the relinearization
//! key and the Galois keys, each in the `fhez_ckks::wire` format. Reading checks the size
//! limit first, then every length against the bytes present, then each object with its own
//! validating reader under the bundle's parameter set.
//!
//! Key directory layout ([`save_client_keys`], [`load_client_keys`]):
//!
//! ```text
//! DIR/secret.key            the secret key (mode 0600 on Unix) — never leaves the client
//! DIR/public/keys.fhez      the public bundle — the only file a server needs
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fhez_backend::wire::{Reader, check_limit};
use fhez_ckks::wire;
use fhez_ckks::{CkksClient, CkksParams, SecretKey, ServerKeys};

use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"FZPB";
const VERSION: u8 = 1;
const WHAT: &str = "public key bundle";

/// File name of the secret key inside a key directory.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Sub-directory of a key directory that holds what a server may see.
pub const PUBLIC_DIR: &str = "public";
/// File name of the public bundle inside [`PUBLIC_DIR`].
pub const PUBLIC_BUNDLE_FILE: &str = "keys.fhez";

/// Encodes the evaluation keys of a client as one public bundle.
///
/// # Errors
/// Wire encoding errors.
pub fn public_bundle_to_bytes(keys: &ServerKeys) -> Result<Vec<u8>> {
    let parts = [
        wire::params_to_bytes(keys.params())?,
        wire::public_key_to_bytes(keys.public_key())?,
        wire::relin_key_to_bytes(keys.relin_key())?,
        wire::galois_keys_to_bytes(keys.galois_keys())?,
    ];
    let total = parts.iter().map(|p| p.len() + 8).sum::<usize>() + MAGIC.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for part in &parts {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// Decodes a public bundle written by [`public_bundle_to_bytes`], rejecting input longer
/// than `limit` bytes. Every key is checked against the bundle's parameter set.
///
/// # Errors
/// `SizeLimit` and `Malformed` backend errors (truncated, bad magic or version, trailing
/// bytes), the wire readers' typed errors, [`fhez_ckks::Error::ParamsMismatch`].
pub fn public_bundle_from_bytes(bytes: &[u8], limit: usize) -> Result<Arc<ServerKeys>> {
    check_limit(WHAT, bytes.len(), limit)?;
    let mut r = Reader::open(bytes, limit, WHAT, MAGIC, VERSION)?;
    let lim = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut part = || -> Result<&[u8]> {
        let len = r.len_at_most(r.remaining())?;
        Ok(r.take(len)?)
    };
    let params = wire::params_from_bytes(part()?, lim)?;
    let pk = wire::public_key_from_bytes(&params, part()?, lim)?;
    let rk = wire::relin_key_from_bytes(&params, part()?, lim)?;
    let gk = wire::galois_keys_from_bytes(&params, part()?, lim)?;
    r.finish()?;
    Ok(Arc::new(ServerKeys::new(params, pk, rk, gk)?))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Path of the public bundle of key directory `dir`.
#[must_use]
pub fn public_bundle_path(dir: &Path) -> PathBuf {
    dir.join(PUBLIC_DIR).join(PUBLIC_BUNDLE_FILE)
}

/// Writes a client's keys into `dir` (created if missing): the secret key, readable by the
/// owner only, and the public bundle in `dir/public/`. Refuses to overwrite an existing
/// secret key (that would orphan every ciphertext made under it).
///
/// # Errors
/// [`Error::Io`] (including an existing `secret.key`), wire encoding errors.
pub fn save_client_keys(dir: &Path, client: &CkksClient) -> Result<()> {
    let public = dir.join(PUBLIC_DIR);
    std::fs::create_dir_all(&public).map_err(io(&public))?;
    let bytes = public_bundle_to_bytes(&client.server_keys())?;
    // The secret first: `create_new` fails on an existing key before anything is touched.
    let secret = dir.join(SECRET_KEY_FILE);
    write_secret(&secret, &client.secret_key().to_secret_bytes())?;
    let bundle = public_bundle_path(dir);
    std::fs::write(&bundle, bytes).map_err(io(&bundle))
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a public bundle from a file, or from a key directory / its `public/` directory.
///
/// # Errors
/// [`Error::Io`] and the errors of [`public_bundle_from_bytes`].
pub fn load_server_keys(path: &Path, limit: usize) -> Result<Arc<ServerKeys>> {
    let file = if path.is_dir() {
        let inner = path.join(PUBLIC_BUNDLE_FILE);
        if inner.is_file() {
            inner
        } else {
            public_bundle_path(path)
        }
    } else {
        path.to_owned()
    };
    let bytes = read_limited(&file, limit)?;
    public_bundle_from_bytes(&bytes, limit)
}

/// Reads a client's keys written by [`save_client_keys`].
///
/// # Errors
/// [`Error::Io`], wire errors, [`fhez_ckks::Error::ParamsMismatch`] when the secret key
/// belongs to another parameter set than the bundle.
pub fn load_client_keys(dir: &Path) -> Result<CkksClient> {
    let keys = load_server_keys(&public_bundle_path(dir), wire::DEFAULT_LIMIT as usize)?;
    let secret = dir.join(SECRET_KEY_FILE);
    let params: &Arc<CkksParams> = keys.params();
    let bytes = zeroize::Zeroizing::new(read_limited(&secret, params.n() + 64)?);
    let sk = SecretKey::from_secret_bytes(params, &bytes)?;
    Ok(CkksClient::from_parts(Arc::new(sk), keys)?)
}

/// Reads a whole file, refusing files over `limit` bytes before reading them.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`] for a file over the limit.
pub fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    if len > limit as u64 {
        return Err(Error::Format {
            what: "file",
            reason: format!(
                "{} is {len} bytes, over the limit of {limit}",
                path.display()
            ),
        });
    }
    std::fs::read(path).map_err(io(path))
}
