//! Fixtures shared by the service's integration tests: the model files, scratch
//! directories and a server on an ephemeral loopback port.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test fixtures: each test binary uses a subset, and a broken fixture should fail loudly"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use fhez_model::{ModelFile, Task};
use fhez_nn::{PlanRequest, prefab};
use fhez_serve::fixture::bars_model;
use fhez_serve::{ServeError, Server, ServerConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod pg;

/// What a test returns.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Samples per batch of the bars model.
pub const BATCH: usize = 4;

/// The bars classifier (`fhez_serve::fixture`), planned once per test binary.
pub fn bars_file() -> ModelFile {
    static FILE: OnceLock<ModelFile> = OnceLock::new();
    FILE.get_or_init(|| bars_model("bars", BATCH).unwrap())
        .clone()
}

/// A second model with another (secure) parameter set (deeper: depth 6) and another input
/// shape.
pub fn regressor_file() -> ModelFile {
    static FILE: OnceLock<ModelFile> = OnceLock::new();
    FILE.get_or_init(|| {
        let graph = prefab::cnn_regressor((6, 2), 3, 3, 7).unwrap();
        let request = PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch: 2,
            precision_bits: 20,
            magnitude_bits: 20,
            standard: fhez_nn::SecurityStandard::Standard2018,
            key_budget: None,
        };
        let task = Task::Regressor {
            scale: 2.0,
            offset: 1.0,
        };
        ModelFile::new("toy-regressor", &graph, &["x"], "Decrypt", task, request).unwrap()
    })
    .clone()
}

/// An empty scratch directory named after the test binary and `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let name = format!(
        "fhez-serve-{}-{tag}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    );
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server running on a loopback port until [`Running::stop`].
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal and returns the server's task, still running its drain.
    pub fn signal(self) -> JoinHandle<Result<(), ServeError>> {
        let _ = self.stop.send(());
        self.handle
    }

    /// Graceful shutdown; fails the test if the server returned an error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// Starts a server for `models` with its key store at `db` (2 evaluation slots), after
/// `tweak` has adjusted the configuration.
pub async fn start_with(
    models: Vec<ModelFile>,
    db: PathBuf,
    tweak: impl FnOnce(&mut ServerConfig),
) -> Running {
    let mut config = ServerConfig::new(models);
    config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.db_path = db;
    config.max_in_flight = 2;
    tweak(&mut config);
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    Running { addr, stop, handle }
}

/// Asserts that a reply of `status_got` with `bytes` to `url` is the documented JSON error
/// with `status` and `code` whose message contains `needle`.
pub fn assert_json_error(
    url: &str,
    status_got: u16,
    bytes: &[u8],
    status: u16,
    code: &str,
    needle: &str,
) {
    let err: fhez_serve::api::ErrorBody = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{url}: not a JSON error ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    });
    eprintln!("{status_got} {}: {}", err.error.code, err.error.message);
    assert_eq!(status_got, status, "{url}: {}", err.error.message);
    assert_eq!(err.error.code, code, "{url}: {}", err.error.message);
    assert!(
        err.error.message.contains(needle),
        "{url}: message {:?} should mention {needle:?}",
        err.error.message
    );
}
