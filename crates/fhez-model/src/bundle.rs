//! Key material on disk and on the wire: the **public bundle** a client hands to a server
//! (parameters, public, relinearization and Galois keys — nothing secret), and the client's
//! key directory.
//!
//! Public bundle layout (all integers little-endian), in the workspace's one outer framing
//! ([`fhez_backend::frame`], format [`crate::frames::BUNDLE`]):
//!
//! ```text
//! frame header: magic "FZPB" | version u16 (2) | kind u16 (1) | params id [u8; 32]
//!             | payload_len u64
//! payload:      4 × (len u64 | fhez wire object)
//! ```
//!
//! The four objects are, in order, the parameter set, the public key, the relinearization
//! key and the Galois keys, each in the `fhez_ckks::wire` format; the frame's params id is
//! the parameter set's. Reading checks the size limit first, then the frame, then every
//! length against the bytes present, then each object with its own validating reader under
//! the bundle's parameter set, whose id must be the frame's. Version 1 bundles
//! (`magic | 0x01 | payload`, no frame) are still read ([`crate::frames`]).
//!
//! Key directory layout ([`save_client_keys`], [`load_client_keys`]):
//!
//! ```text
//! DIR/secret.key            the secret key (mode 0600 on Unix) — never leaves the client
//! DIR/release.json          the release policy the keys were made for (the plan's:
//!                           shared, or the named private-only opt-out); absent in older
//!                           directories: shared, from the parameters
//! DIR/public/keys.fhez      the public bundle — the only file a server needs
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fhez_backend::frame::{self, Expect, FrameError};
use fhez_backend::wire::Reader;
use fhez_ckks::wire;
use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec, SecretKey, SecurityLevel, ServerKeys};

use crate::frames::{BUNDLE, KIND_PUBLIC_BUNDLE};
use crate::{Error, Result};

const WHAT: &str = BUNDLE.what;

fn expect(limit: usize) -> Expect {
    Expect {
        kind: Some(KIND_PUBLIC_BUNDLE),
        params_id: None,
        limit: u64::try_from(limit).unwrap_or(u64::MAX),
    }
}

/// The frame's params id must be its params section's (version 1 has none).
fn check_frame_params(header: Option<&frame::Header>, params: &CkksParams) -> Result<()> {
    match header {
        Some(h) if h.params_id != params.id().0 => {
            Err(fhez_backend::Error::from(FrameError::ParamsMismatch {
                what: WHAT,
                expected: params.id().0,
                found: h.params_id,
            })
            .into())
        }
        Some(_) | None => Ok(()),
    }
}

/// File name of the secret key inside a key directory.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Sub-directory of a key directory that holds what a server may see.
pub const PUBLIC_DIR: &str = "public";
/// File name of the public bundle inside [`PUBLIC_DIR`].
pub const PUBLIC_BUNDLE_FILE: &str = "keys.fhez";
/// File name of the recorded release policy inside a key directory
/// ([`fhez_nn::ReleasePolicy`] as JSON).
pub const RELEASE_FILE: &str = "release.json";
/// Largest [`RELEASE_FILE`] read, in bytes (the policy is four small fields).
pub const RELEASE_FILE_LIMIT: usize = 4 << 10;

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
    let total = parts.iter().map(|p| p.len() + 8).sum::<usize>();
    let mut w = frame::Writer::new(&BUNDLE, KIND_PUBLIC_BUNDLE, &keys.params().id().0, total);
    for part in &parts {
        w.payload()
            .extend_from_slice(&(part.len() as u64).to_le_bytes());
        w.payload().extend_from_slice(part);
    }
    Ok(w.finish())
}

/// Decodes a public bundle written by [`public_bundle_to_bytes`], rejecting input longer
/// than `limit` bytes. Every key is checked against the bundle's parameter set.
///
/// A bundle whose parameter set opts out of the security check
/// ([`SecurityLevel::InsecureForTesting`]) is refused before anything is built; tests read
/// such bundles with [`public_bundle_from_bytes_insecure_for_testing`].
///
/// # Errors
/// `SizeLimit` and `Malformed` backend errors (truncated, bad magic or version, trailing
/// bytes), the wire readers' typed errors (among them
/// [`fhez_ckks::wire::WireError::InsecureParams`]), [`fhez_ckks::Error::ParamsMismatch`].
pub fn public_bundle_from_bytes(bytes: &[u8], limit: usize) -> Result<Arc<ServerKeys>> {
    read_bundle(bytes, limit, false)
}

/// As [`public_bundle_from_bytes`], also accepting a parameter set that opted out of the
/// security check. For tests only: such parameters protect nothing, and no reader of a
/// bundle received from someone else may accept them.
///
/// # Errors
/// As [`public_bundle_from_bytes`], without the refusal of insecure parameters.
pub fn public_bundle_from_bytes_insecure_for_testing(
    bytes: &[u8],
    limit: usize,
) -> Result<Arc<ServerKeys>> {
    read_bundle(bytes, limit, true)
}

fn read_bundle(bytes: &[u8], limit: usize, allow_insecure: bool) -> Result<Arc<ServerKeys>> {
    let (header, payload) = crate::frames::open(bytes, &BUNDLE, expect(limit))?;
    let mut r = Reader::new(payload, WHAT);
    let lim = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut part = || -> Result<&[u8]> {
        let len = r.len_at_most(r.remaining())?;
        Ok(r.take(len)?)
    };
    let params = if allow_insecure {
        wire::params_from_bytes_insecure_for_testing(part()?, lim)?
    } else {
        wire::params_from_bytes(part()?, lim)?
    };
    check_frame_params(header.as_ref(), &params)?;
    let pk = wire::public_key_from_bytes(&params, part()?, lim)?;
    let rk = wire::relin_key_from_bytes(&params, part()?, lim)?;
    let gk = wire::galois_keys_from_bytes(&params, part()?, lim)?;
    r.finish()?;
    Ok(Arc::new(ServerKeys::new(params, pk, rk, gk)?))
}

/// Largest params section (the first object of a bundle, envelope included) that
/// [`public_bundle_for_params`] reads, in bytes. The canonical encoding of a parameter set
/// is its spec with explicit primes as JSON: about 20 bytes per prime, and the wire reader
/// allows at most 256 primes of each kind (`fhez_ckks::wire`), so 16 KiB holds any set the
/// wire format accepts.
pub const PARAMS_SECTION_LIMIT: usize = 16 << 10;

/// Why [`public_bundle_for_params`] refused a bundle. The variants before `Keys` are
/// decided from the params section alone, before anything is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleRefusal {
    /// The framing (size limit, magic, version, section lengths, trailing bytes) or the
    /// params section's envelope or JSON is invalid.
    #[error("invalid public key bundle: {0}")]
    Malformed(#[source] Error),
    /// The params section is larger than [`PARAMS_SECTION_LIMIT`].
    #[error("the params section of the bundle is {len} bytes, over the limit of {limit}")]
    ParamsTooLarge {
        /// Its length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The first section is another kind of wire object.
    #[error("the first section of the bundle is {found}, not a parameter set")]
    NotParams {
        /// The kind found.
        found: &'static str,
    },
    /// The parameter set opts out of the 128-bit security check.
    #[error(
        "the bundle's parameter set opts out of the 128-bit security check (`insecure_for_testing`); it is never accepted from the wire"
    )]
    Insecure,
    /// The params section names (or contains) another parameter set than the expected one.
    #[error("the bundle's parameter set is {found}, expected {expected}")]
    ParamsMismatch {
        /// Hex id of the expected parameter set.
        expected: String,
        /// Hex id the bundle's params section carries.
        found: String,
    },
    /// The keys do not decode under the expected parameter set.
    #[error("invalid key in the public key bundle: {0}")]
    Keys(#[source] Error),
}

/// Decodes a public bundle received from someone else, for the known parameter set
/// `params`, which is reused: nothing is built from the bundle's own parameters.
///
/// Order, each step before any allocation that depends on the bundle: the size `limit`,
/// the framing, the params section's length against [`PARAMS_SECTION_LIMIT`], its kind,
/// its JSON spec, the security field (insecure sets are refused), its id against
/// `params.id()` and its spec against `params.spec()`; only then the keys, each checked by
/// its wire reader under `params`.
///
/// # Errors
/// [`BundleRefusal`].
pub fn public_bundle_for_params(
    bytes: &[u8],
    limit: usize,
    params: &Arc<CkksParams>,
) -> Result<Arc<ServerKeys>, BundleRefusal> {
    let framing = |e: fhez_backend::Error| BundleRefusal::Malformed(e.into());
    let (header, payload) =
        crate::frames::open(bytes, &BUNDLE, expect(limit)).map_err(BundleRefusal::Malformed)?;
    let mut r = Reader::new(payload, WHAT);
    let params_len = r.len_at_most(r.remaining()).map_err(framing)?;
    if params_len > PARAMS_SECTION_LIMIT {
        return Err(BundleRefusal::ParamsTooLarge {
            len: params_len as u64,
            limit: PARAMS_SECTION_LIMIT as u64,
        });
    }
    let section = r.take(params_len).map_err(framing)?;
    let spec = params_section_spec(section, params)?;
    if let Some(h) = header
        && h.params_id != params.id().0
    {
        return Err(BundleRefusal::ParamsMismatch {
            expected: params.id().to_hex(),
            found: fhez_ckks::ParamsId(h.params_id).to_hex(),
        });
    }
    if spec != *params.spec() {
        return Err(BundleRefusal::Malformed(Error::Format {
            what: WHAT,
            reason: format!(
                "the params section carries the id {} but another parameter set",
                params.id().to_hex()
            ),
        }));
    }
    let lim = u64::try_from(limit).unwrap_or(u64::MAX);
    let keys = |e: fhez_ckks::Error| BundleRefusal::Keys(e.into());
    let mut part = || -> Result<&[u8], BundleRefusal> {
        let len = r.len_at_most(r.remaining()).map_err(framing)?;
        r.take(len).map_err(framing)
    };
    let pk = wire::public_key_from_bytes(params, part()?, lim).map_err(keys)?;
    let rk = wire::relin_key_from_bytes(params, part()?, lim).map_err(keys)?;
    let gk = wire::galois_keys_from_bytes(params, part()?, lim).map_err(keys)?;
    r.finish().map_err(framing)?;
    Ok(Arc::new(
        ServerKeys::new(Arc::clone(params), pk, rk, gk).map_err(keys)?,
    ))
}

/// The spec of a params section, checked for kind, length, security and id against
/// `params` (nothing built).
fn params_section_spec(
    section: &[u8],
    params: &CkksParams,
) -> Result<CkksParamsSpec, BundleRefusal> {
    let malformed = |reason: String| BundleRefusal::Malformed(Error::Format { what: WHAT, reason });
    let env = wire::peek_envelope(section)
        .map_err(|e| BundleRefusal::Malformed(fhez_ckks::Error::from(e).into()))?;
    if env.kind != wire::ObjectKind::Params {
        return Err(BundleRefusal::NotParams {
            found: env.kind.name(),
        });
    }
    let payload = section.get(wire::ENVELOPE_LEN..).unwrap_or_default();
    if env.payload_len != payload.len() as u64 {
        return Err(malformed(format!(
            "the params envelope announces {} payload bytes, the section holds {}",
            env.payload_len,
            payload.len()
        )));
    }
    let spec: CkksParamsSpec = serde_json::from_slice(payload)
        .map_err(|e| malformed(format!("the parameter set is not valid JSON: {e}")))?;
    if spec.security == SecurityLevel::InsecureForTesting {
        return Err(BundleRefusal::Insecure);
    }
    if env.params_id != params.id() {
        return Err(BundleRefusal::ParamsMismatch {
            expected: params.id().to_hex(),
            found: env.params_id.to_hex(),
        });
    }
    Ok(spec)
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
/// owner only, its release policy ([`RELEASE_FILE`], when it has one) and the public bundle
/// in `dir/public/`. Refuses to overwrite an existing secret key (that would orphan every
/// ciphertext made under it).
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
    if let Some(policy) = crate::policy_of(client) {
        let release = dir.join(RELEASE_FILE);
        let json = serde_json::to_vec_pretty(&policy).map_err(|e| Error::Format {
            what: "release policy",
            reason: e.to_string(),
        })?;
        std::fs::write(&release, json).map_err(io(&release))?;
    }
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
/// Insecure parameter sets are refused, as by [`public_bundle_from_bytes`].
///
/// # Errors
/// [`Error::Io`] and the errors of [`public_bundle_from_bytes`].
pub fn load_server_keys(path: &Path, limit: usize) -> Result<Arc<ServerKeys>> {
    load_bundle(path, limit, false)
}

/// As [`load_server_keys`], also accepting a parameter set that opted out of the security
/// check. For tests only.
///
/// # Errors
/// As [`load_server_keys`], without the refusal of insecure parameters.
pub fn load_server_keys_insecure_for_testing(path: &Path, limit: usize) -> Result<Arc<ServerKeys>> {
    load_bundle(path, limit, true)
}

fn load_bundle(path: &Path, limit: usize, allow_insecure: bool) -> Result<Arc<ServerKeys>> {
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
    read_bundle(&bytes, limit, allow_insecure)
}

/// Reads a client's keys written by [`save_client_keys`]. Insecure parameter sets are
/// refused, as by [`public_bundle_from_bytes`]. The client decrypts under the release
/// policy the directory records ([`recorded_release`], [`crate::releasing_with`]), or for
/// a directory that records none, for release under its parameters ([`crate::releasing`]).
///
/// # Errors
/// [`Error::Io`], wire errors, [`fhez_ckks::Error::ParamsMismatch`] when the secret key
/// belongs to another parameter set than the bundle, [`Error::NoReleasePrecision`], the
/// errors of [`recorded_release`].
pub fn load_client_keys(dir: &Path) -> Result<CkksClient> {
    client_keys(dir, false)
}

/// As [`load_client_keys`], also accepting a parameter set that opted out of the security
/// check. For tests only.
///
/// # Errors
/// As [`load_client_keys`], without the refusal of insecure parameters.
pub fn load_client_keys_insecure_for_testing(dir: &Path) -> Result<CkksClient> {
    client_keys(dir, true)
}

/// As [`load_client_keys`] without the release policy: the client's [`Decrypt`] is exact.
/// Only for the latency engine ([`crate::latency`]), whose parameter sets do not budget the
/// decryption's flooding; every other client path uses [`load_client_keys`].
///
/// [`Decrypt`]: fhez_backend::Decrypt
///
/// # Errors
/// As [`load_client_keys`], without [`Error::NoReleasePrecision`].
pub fn load_client_keys_exact(dir: &Path) -> Result<CkksClient> {
    exact_client_keys(dir, false)
}

fn client_keys(dir: &Path, allow_insecure: bool) -> Result<CkksClient> {
    let policy = recorded_release(dir)?;
    let client = exact_client_keys(dir, allow_insecure)?;
    match policy {
        Some(p) => crate::releasing_with(client, &p),
        None => crate::releasing(client),
    }
}

/// The release policy key directory `dir` records ([`RELEASE_FILE`]); `None` when it
/// records none (a directory written before policies were recorded).
///
/// # Errors
/// [`Error::Io`]; [`Error::Format`] for a file over [`RELEASE_FILE_LIMIT`] or not a policy.
pub fn recorded_release(dir: &Path) -> Result<Option<fhez_nn::ReleasePolicy>> {
    let path = dir.join(RELEASE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_limited(&path, RELEASE_FILE_LIMIT)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Format {
            what: "release policy",
            reason: format!("{}: {e}", path.display()),
        })
}

fn exact_client_keys(dir: &Path, allow_insecure: bool) -> Result<CkksClient> {
    let keys = load_bundle(
        &public_bundle_path(dir),
        wire::DEFAULT_LIMIT as usize,
        allow_insecure,
    )?;
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
