//! `fhez graph`: the model's network with the encryption plan on every node, as one
//! self-contained interactive HTML page, an SVG image or Graphviz DOT.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use fhez_graphview::Format;
use serde_json::json;

use crate::util;

/// Output format of `fhez graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`dot -Tpng g.dot -o g.png`).
    Dot,
    /// A standalone SVG image (details in each node's tooltip).
    Svg,
    /// One self-contained interactive page (works offline).
    Html,
}

impl From<GraphFormat> for Format {
    fn from(f: GraphFormat) -> Self {
        match f {
            GraphFormat::Dot => Self::Dot,
            GraphFormat::Svg => Self::Svg,
            GraphFormat::Html => Self::Html,
        }
    }
}

/// `fhez graph` options.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// Model file.
    pub model: PathBuf,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Output format (default: from the --out extension, else html).
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// The format asked for, or the one the file name implies (HTML when none does).
fn format_of(args: &GraphArgs) -> Format {
    args.format.map_or_else(
        || {
            args.out
                .extension()
                .and_then(|e| e.to_str())
                .and_then(|e| e.parse().ok())
                .unwrap_or(Format::Html)
        },
        Format::from,
    )
}

/// Renders the view of `model` and writes it to `out`; returns the bytes written.
pub fn write_view(model: &fhez_model::ModelFile, out: &Path, format: Format) -> Result<usize> {
    let text = fhez_model::graph_view(model, format)
        .with_context(|| format!("drawing the graph of model {}", model.name))?;
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    Ok(text.len())
}

/// Runs `fhez graph`.
pub fn run(args: &GraphArgs) -> Result<()> {
    let file = util::load_model(&args.model)?;
    let format = format_of(args);
    let bytes = write_view(&file, &args.out, format)?;
    let graph = file.graph()?;
    if args.json {
        return util::print_json(&json!({
            "model": file.name, "out": args.out, "format": format.extension(), "bytes": bytes,
            "nodes": graph.len(), "edges": graph.edges().len(),
        }));
    }
    outln!(
        "wrote {} ({format}, {}, {} nodes, {} edges)",
        args.out.display(),
        util::bytes(bytes),
        graph.len(),
        graph.edges().len()
    );
    Ok(())
}
