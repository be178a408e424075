//! The versioned JSON format of a graph with its weights.
//!
//! ```json
//! { "format_version": 1,
//!   "nodes": [ { "name": "x", "kind": "input", "shape": [28, 28] },
//!              { "name": "dense", "kind": "dense", "d_in": 784, "d_out": 10,
//!                "weights": { "shape": [784, 10], "data": [ … ] },
//!                "bias": { "shape": [10], "data": [ … ] } } ],
//!   "edges": [ { "from": 0, "from_port": 0, "to": 1, "to_port": 0 } ] }
//! ```
//!
//! Loading checks, in order: the version; every node's `name` and `kind` (unknown kinds are
//! [`Error::UnknownNodeKind`]); each node's fields for its kind (unknown or missing fields
//! are [`Error::NodeConfig`] naming the node); then everything [`GraphBuilder::build`]
//! checks — the [`limits`](crate::limits) on file bytes, nodes, edges, ports, ranks and
//! tensor elements (before anything they size is allocated), dangling edges, port ranges, gaps and duplicates, cycles, weight shapes against
//! the configuration, and shape propagation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Edge, Graph, GraphBuilder};
use crate::nodes::{KINDS, Node};
use crate::{Error, Result, limits};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One node of the file: its name and its kind-tagged configuration and weights.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeEntry {
    /// Unique node name.
    pub name: String,
    /// Kind, configuration and weights.
    #[serde(flatten)]
    pub node: Node,
}

/// A serialisable graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphConfig {
    /// Must be [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Nodes; their position is their id.
    pub nodes: Vec<NodeEntry>,
    /// Edges between explicit ports.
    pub edges: Vec<Edge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    format_version: u32,
    nodes: Vec<Value>,
    edges: Vec<Edge>,
}

fn text_field(
    map: &serde_json::Map<String, Value>,
    key: &'static str,
    node: &str,
) -> Result<String> {
    match map.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) | None => Err(Error::UnknownNodeKind {
            node: node.to_owned(),
            kind: format!("<missing or non-string `{key}`>"),
        }),
    }
}

impl GraphConfig {
    /// Parses and checks a JSON document (see the module docs), returning a built graph.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::UnsupportedVersion`], [`Error::UnknownNodeKind`],
    /// [`Error::NodeConfig`], and the [`GraphBuilder::build`] errors.
    pub fn load(json: &str) -> Result<Graph> {
        limits::check("graph file bytes", json.len(), limits::MAX_FILE_BYTES)?;
        let raw: RawConfig = serde_json::from_str(json)?;
        limits::check("graph nodes", raw.nodes.len(), limits::MAX_NODES)?;
        limits::check("graph edges", raw.edges.len(), limits::MAX_EDGES)?;
        if raw.format_version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: raw.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let mut builder = GraphBuilder::new();
        for (i, value) in raw.nodes.into_iter().enumerate() {
            let Value::Object(mut map) = value else {
                return Err(Error::UnknownNodeKind {
                    node: format!("#{i}"),
                    kind: "<not an object>".to_owned(),
                });
            };
            let name = text_field(&map, "name", &format!("#{i}"))?;
            let kind = text_field(&map, "kind", &name)?;
            if !KINDS.contains(&kind.as_str()) {
                return Err(Error::UnknownNodeKind { node: name, kind });
            }
            map.remove("name");
            let node: Node =
                serde_json::from_value(Value::Object(map)).map_err(|source| Error::NodeConfig {
                    node: name.clone(),
                    kind: kind.clone(),
                    source,
                })?;
            builder.add(&name, node)?;
        }
        builder.edges = raw.edges;
        builder.build()
    }
}

impl Graph {
    /// The serialisable form (structure and weights).
    #[must_use]
    pub fn to_config(&self) -> GraphConfig {
        GraphConfig {
            format_version: FORMAT_VERSION,
            nodes: (0..self.len())
                .filter_map(|id| {
                    Some(NodeEntry {
                        name: self.name(id).to_owned(),
                        node: self.node(id)?.clone(),
                    })
                })
                .collect(),
            edges: self.edges().to_vec(),
        }
    }

    /// Pretty JSON of [`Graph::to_config`].
    ///
    /// # Errors
    /// [`Error::Json`] (non-finite weights cannot be written).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.to_config())?)
    }

    /// Loads a graph written by [`Graph::to_json`]; see [`GraphConfig::load`].
    ///
    /// # Errors
    /// As [`GraphConfig::load`].
    pub fn from_json(json: &str) -> Result<Self> {
        GraphConfig::load(json)
    }
}
