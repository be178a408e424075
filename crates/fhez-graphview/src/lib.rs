#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod escape;
mod layout;
mod render;
mod scene;
mod sink;

#[cfg(test)]
mod tests;

pub use escape::{dot_string, json_for_script, xml_text};
pub use scene::{Box as SceneBox, Link, Scene};

use std::fmt;
use std::str::FromStr;

use fhez_nn::{Graph, Plan};

/// Result alias of `fhez-graphview`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything building or rendering a view can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rendered document would exceed the size limit.
    #[error("the {format} graph view exceeds {limit} bytes (stopped at {bytes} bytes)")]
    TooLarge {
        /// Output format.
        format: Format,
        /// Bytes written when the limit was crossed.
        bytes: usize,
        /// The limit ([`Limits::max_bytes`]).
        limit: usize,
    },
    /// An unknown format name.
    #[error("unknown graph view format `{name}` (expected dot, svg or html)")]
    UnknownFormat {
        /// The name given.
        name: String,
    },
    /// JSON encoding of the node details failed.
    #[error("graph view JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Graphviz DOT (render with `dot -Tsvg`).
    Dot,
    /// A standalone SVG image (details in each node's tooltip).
    Svg,
    /// One self-contained interactive HTML page (inline SVG, CSS and script).
    Html,
}

impl Format {
    /// The usual file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Dot => "dot",
            Self::Svg => "svg",
            Self::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "dot" | "gv" => Ok(Self::Dot),
            "svg" => Ok(Self::Svg),
            "html" | "htm" => Ok(Self::Html),
            _ => Err(Error::UnknownFormat {
                name: s.chars().take(64).collect(),
            }),
        }
    }
}

/// Bounds on what a view renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest output document, in bytes.
    pub max_bytes: usize,
    /// Graphs with more nodes than this are shown as a per-layer summary.
    pub max_detailed_nodes: usize,
    /// Most columns of the summary view (layers are grouped into bands beyond it).
    pub max_summary_columns: usize,
}

/// Largest output by default: 16 MiB.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;
/// Node count above which the summary view is used by default.
pub const DEFAULT_MAX_DETAILED_NODES: usize = 300;
/// Summary columns by default.
pub const DEFAULT_MAX_SUMMARY_COLUMNS: usize = 48;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            max_detailed_nodes: DEFAULT_MAX_DETAILED_NODES,
            max_summary_columns: DEFAULT_MAX_SUMMARY_COLUMNS,
        }
    }
}

/// The chosen CKKS parameters shown in the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Title (the model's name).
    pub title: String,
    /// `log2 N`.
    pub log_n: u32,
    /// Slots per ciphertext.
    pub slots: usize,
    /// Bit sizes of the ciphertext primes.
    pub log_q: Vec<u32>,
    /// Bit sizes of the special primes.
    pub log_p: Vec<u32>,
    /// `log2` of the scale.
    pub log_scale: u32,
    /// Multiplicative depth of the plan.
    pub depth: u32,
    /// `Σ log_q + Σ log_p`.
    pub log_qp: u32,
    /// Security level, as the parameter check reports it.
    pub security: String,
    /// Samples per ciphertext.
    pub batch: usize,
}

impl Header {
    /// The header of `plan` (title, security and batch given by the caller).
    #[must_use]
    pub fn from_plan(title: &str, plan: &Plan, security: &str, batch: usize) -> Self {
        Self {
            title: title.to_owned(),
            log_n: plan.log_n,
            slots: plan.slots,
            log_q: plan.log_q.clone(),
            log_p: plan.log_p.clone(),
            log_scale: plan.log_scale,
            depth: plan.depth,
            log_qp: plan.log_qp,
            security: security.to_owned(),
            batch,
        }
    }

    /// One line: N, chain, scale, depth, security.
    #[must_use]
    pub fn summary_line(&self) -> String {
        format!(
            "N = 2^{} ({} slots) · q = {} bits · p = {} bits · scale 2^{} · depth {} · log2 QP = {} · security {} · batch {}",
            self.log_n,
            self.slots,
            chain(&self.log_q),
            chain(&self.log_p),
            self.log_scale,
            self.depth,
            self.log_qp,
            self.security,
            self.batch
        )
    }
}

/// `[60, 40×6]`: runs of equal primes collapsed.
fn chain(bits: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bits.get(i) {
        let run = bits
            .get(i..)
            .map_or(0, |r| r.iter().take_while(|&&x| x == b).count());
        parts.push(if run > 1 {
            format!("{b}×{run}")
        } else {
            b.to_string()
        });
        i += run.max(1);
    }
    format!("[{}]", parts.join(", "))
}

/// A model graph with its plan, ready to render.
#[derive(Clone, Debug)]
pub struct GraphView {
    scene: Scene,
    limits: Limits,
}

impl GraphView {
    /// Builds the view of `graph` under `plan` with the default [`Limits`].
    #[must_use]
    pub fn new(graph: &Graph, plan: &Plan, header: Header) -> Self {
        Self::with_limits(graph, plan, header, Limits::default())
    }

    /// Builds the view with explicit limits: more than `limits.max_detailed_nodes` nodes
    /// give the per-layer summary.
    #[must_use]
    pub fn with_limits(graph: &Graph, plan: &Plan, header: Header, limits: Limits) -> Self {
        let scene = if graph.len() > limits.max_detailed_nodes {
            scene::summary(graph, plan, header, limits.max_summary_columns)
        } else {
            scene::detailed(graph, plan, header)
        };
        let scene = layout::place(scene);
        Self { scene, limits }
    }

    /// The laid-out scene (boxes with positions, links, the critical path).
    #[must_use]
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// Renders in `format`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the document would exceed [`Limits::max_bytes`] (writing
    /// stops there, so memory stays bounded); [`Error::Json`].
    pub fn render(&self, format: Format) -> Result<String> {
        let mut out = sink::Sink::new(format, self.limits.max_bytes);
        match format {
            Format::Dot => render::dot(&self.scene, &mut out),
            Format::Svg => render::svg(&self.scene, &mut out, true),
            Format::Html => render::html(&self.scene, &mut out)?,
        }
        out.finish()
    }
}
