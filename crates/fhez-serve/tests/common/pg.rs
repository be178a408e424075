//! A PostgreSQL server for the tests of the shared key store.
//!
//! `FHEZ_TEST_POSTGRES_URL=postgresql://user@host:port/db`: use that server (the user must
//! be allowed to create databases). `FHEZ_TEST_POSTGRES=1`: start one per test from the
//! installed binaries (`/usr/lib/postgresql/15/bin`, or `FHEZ_PG_BIN`) in a scratch
//! directory, as user `postgres` when the tests run as root; a missing binary then fails
//! the test. Neither set: [`postgres`] returns `None` and the test says it skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::temp_dir;

/// A database for one test, on a server the harness may own.
pub struct TestPg {
    /// URL of the test's own database.
    pub url: String,
    server: Option<OwnServer>,
}

struct OwnServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnServer {
    fn cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        let out = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

impl TestPg {
    /// Stops the server (fast shutdown: connections are closed). Only for a server the
    /// harness started.
    pub fn stop(&self) {
        let s = self.server.as_ref().expect("a server the harness started");
        s.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    /// Starts it again after [`TestPg::stop`].
    pub fn start(&self) {
        let s = self.server.as_ref().expect("a server the harness started");
        s.pg_ctl(&["-w", "-t", "60", "start"]);
    }

    /// Whether the harness owns the server (so it may stop and start it).
    pub fn owned(&self) -> bool {
        self.server.is_some()
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            let _ = s
                .cmd("pg_ctl")
                .arg("-D")
                .arg(&s.data)
                .args(["-m", "immediate", "stop"])
                .output();
            let _ = std::fs::remove_dir_all(s.data.parent().unwrap_or(&s.data));
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Creates database `name` through `admin_url`.
fn create_db(admin_url: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(admin_url, postgres::NoTls) {
            Ok(mut c) => {
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                    .unwrap();
                c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
                return;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "connecting to {admin_url}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A fresh database named after `tag`, or `None` (with a note on stderr) when no
/// PostgreSQL is configured for the tests.
pub fn postgres(tag: &str) -> Option<TestPg> {
    let db = format!("fhez_{}_{}", tag.replace('-', "_"), std::process::id());
    if let Ok(url) = std::env::var("FHEZ_TEST_POSTGRES_URL") {
        create_db(&url, &db);
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        return Some(TestPg {
            url: format!("{base}/{db}"),
            server: None,
        });
    }
    if std::env::var("FHEZ_TEST_POSTGRES").is_err() {
        eprintln!(
            "skipped: no PostgreSQL for this test (set FHEZ_TEST_POSTGRES=1 or FHEZ_TEST_POSTGRES_URL)"
        );
        return None;
    }
    let bin = std::env::var("FHEZ_PG_BIN").map_or_else(
        |_| PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    );
    assert!(
        bin.join("initdb").is_file() && bin.join("pg_ctl").is_file(),
        "FHEZ_TEST_POSTGRES is set but {} has no initdb and pg_ctl (apt-get install postgresql, or set FHEZ_PG_BIN)",
        bin.display()
    );
    let dir = temp_dir(&format!("pg-{tag}"));
    let data = dir.join("data");
    let as_postgres = is_root();
    if as_postgres {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "chown {}", dir.display());
    }
    let server = OwnServer {
        bin,
        data: data.clone(),
        port: free_port(),
        as_postgres,
    };
    let out = server
        .cmd("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "fhez", "--no-sync"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.pg_ctl(&["-w", "-t", "60", "start"]);
    let admin = format!("postgresql://fhez@127.0.0.1:{}/postgres", server.port);
    create_db(&admin, &db);
    Some(TestPg {
        url: format!("postgresql://fhez@127.0.0.1:{}/{db}", server.port),
        server: Some(server),
    })
}
