//! The graph view in a real browser: headless Chromium (Debian package `chromium`) loads
//! the page `fhez graph` writes for `models/fashion-mnist.json`, with `#select=ID` in the
//! URL; the page's script selects that node, and the DOM Chromium dumps after loading must
//! show every node and edge drawn (counted by the page from the rendered geometry) and
//! the node's plan figures in the details panel.
//!
//! Skipped with a message when no browser is installed, unless `FHEZ_REQUIRE_BROWSER=1`
//! (set by `.ci/run`, which installs it). `FHEZ_CHROMIUM` names another binary.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fhez_model::ModelFile;

const BIN: &str = env!("CARGO_BIN_EXE_fhez");

/// A browser that does not finish loading a local page within this is hung: fail rather
/// than block CI. (Not a timing assertion: a normal load takes a few seconds.)
const HANG: Duration = Duration::from_secs(180);

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fashion-mnist.json")
}

fn browser() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("FHEZ_CHROMIUM").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(b)).filter(|b| b.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates = vec![PathBuf::from("/usr/bin/chromium")];
    for dir in std::env::split_paths(&path) {
        candidates.push(dir.join("chromium"));
        candidates.push(dir.join("chromium-browser"));
    }
    candidates.into_iter().find(|c| c.is_file())
}

fn browser_or_skip() -> Option<PathBuf> {
    let found = browser();
    if found.is_none() {
        let required = std::env::var("FHEZ_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "FHEZ_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)"
        );
        eprintln!(
            "SKIPPED the browser test: no Chromium (/usr/bin/chromium, chromium in PATH or \
             FHEZ_CHROMIUM); install the Debian package `chromium`"
        );
    }
    found
}

/// Chromium's serialised DOM of `url` after the load event.
fn dump_dom(browser: &Path, url: &str, profile: &Path) -> String {
    let out_path = profile.with_extension("dom.html");
    let out_file = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(&out_path).unwrap()
}

/// The value of `attr="…"` on the `<body>` element.
fn body_attr<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let start = dom.find("<body")?;
    let end = start + dom[start..].find('>')?;
    let tag = &dom[start..end];
    let key = format!("{attr}=\"");
    let at = tag.find(&key)? + key.len();
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
}

/// The text of `<dd data-key="KEY">…</dd>` in the details panel.
fn detail<'a>(dom: &'a str, key: &str) -> Option<&'a str> {
    let open = format!("<dd data-key=\"{key}\">");
    let at = dom.find(&open)? + open.len();
    let len = dom[at..].find("</dd>")?;
    Some(&dom[at..at + len])
}

#[test]
fn chromium_renders_every_node_and_edge_and_shows_the_plan_of_a_selected_node() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fhez-graph-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("fashion-mnist-graph.html");
    let out = Command::new(BIN)
        .args([
            "graph",
            model().to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The expected figures, from the library's own plan of the same file.
    let file = ModelFile::load(&model()).unwrap();
    let m = file.encrypted_model().unwrap();
    let graph = m.graph();
    let page = page.canonicalize().unwrap();
    for name in ["ReLU", "Dense", "CC-3"] {
        let id = graph.id(name).unwrap();
        let cost = m.plan().nodes.iter().find(|n| n.name == name).unwrap();
        let url = format!("file://{}#select={id}", page.display());
        let dom = dump_dom(&browser, &url, &dir.join(format!("profile-{id}")));
        assert_eq!(
            body_attr(&dom, "data-ready"),
            Some("1"),
            "the script did not finish"
        );
        let nodes = graph.len().to_string();
        let edges = graph.edges().len().to_string();
        assert_eq!(body_attr(&dom, "data-rendered-nodes"), Some(nodes.as_str()));
        assert_eq!(body_attr(&dom, "data-rendered-links"), Some(edges.as_str()));
        assert_eq!(
            body_attr(&dom, "data-selected"),
            Some(id.to_string().as_str())
        );
        assert_eq!(detail(&dom, "name"), Some(name));
        for (key, want) in [
            ("level_in", cost.level_in.to_string()),
            ("level_out", cost.level_out.to_string()),
            ("depth", cost.depth_out.to_string()),
            ("rotations", cost.rotations.to_string()),
            ("key_switches", cost.key_switches.to_string()),
        ] {
            assert_eq!(detail(&dom, key), Some(want.as_str()), "{name}: {key}");
        }
        assert!(
            dom.contains(&format!(
                "class=\"node encrypted critical selected\" id=\"node-{id}\""
            )) || dom.contains(&format!(
                "class=\"node encrypted selected\" id=\"node-{id}\""
            )),
            "{name} is not marked selected"
        );
    }
}
