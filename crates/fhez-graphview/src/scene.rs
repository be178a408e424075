//! What is drawn: boxes (nodes, or groups of nodes in the summary view) with their
//! figures and details, links between them, and the critical (deepest) path.

use std::collections::{BTreeMap, BTreeSet};

use fhez_nn::graph::Edge;
use fhez_nn::plan::NodeCost;
use fhez_nn::{Graph, Plan};

use crate::Header;

/// One figure of a box's details: a stable key (the HTML `data-key`), a label and a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    /// Stable key (`level_in`, `key_switches`, …).
    pub key: &'static str,
    /// Human label.
    pub label: &'static str,
    /// Value as text.
    pub value: String,
}

/// One drawn box: a node, or in the summary view a group of nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Box {
    /// Position in [`Scene::boxes`].
    pub index: usize,
    /// Graph node id (detailed view) or group number (summary view).
    pub id: usize,
    /// First line: the node's name (full; renderers shorten it).
    pub title: String,
    /// Second line: kind and parameter count.
    pub subtitle: String,
    /// Third line: the plan figures in short.
    pub figures: String,
    /// Style class: `input`, `encrypted`, `decrypt`, `client` or `group`.
    pub class: &'static str,
    /// Everything shown when the box is selected.
    pub details: Vec<Detail>,
    /// Layout column (layer).
    pub column: usize,
    /// Left edge, set by the layout.
    pub x: f64,
    /// Top edge, set by the layout.
    pub y: f64,
    /// On the critical (deepest) path.
    pub critical: bool,
}

/// A drawn link between two boxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Source box index.
    pub from: usize,
    /// Target box index.
    pub to: usize,
    /// Label: the shape carried, or the number of edges in the summary view.
    pub label: String,
    /// Graph edges this link stands for.
    pub count: usize,
    /// On the critical (deepest) path.
    pub critical: bool,
}

/// Boxes and links with the header; positions filled by the layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// Parameters shown in the header.
    pub header: Header,
    /// Boxes.
    pub boxes: Vec<Box>,
    /// Links.
    pub links: Vec<Link>,
    /// `Some((nodes, edges))` of the whole graph when this is the per-layer summary.
    pub summary: Option<(usize, usize)>,
    /// Drawing width.
    pub width: f64,
    /// Drawing height.
    pub height: f64,
}

fn shape_text(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".to_owned();
    }
    shape
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

fn detail(key: &'static str, label: &'static str, value: impl ToString) -> Detail {
    Detail {
        key,
        label,
        value: value.to_string(),
    }
}

/// The deepest encrypted path: it ends at the deepest node feeding a decrypt (or, when no
/// decrypt is reached, the deepest node), ties going to the later node in execution order;
/// it runs back through the predecessor with the largest depth (ties: the smallest id) to
/// an input, and forward to the decrypt.
fn critical_path(graph: &Graph, adj: &Adjacency<'_>, cost: &[Option<&NodeCost>]) -> Vec<usize> {
    let depth = |id: usize| cost.get(id).copied().flatten().map(|c| c.depth_out);
    let is_kind = |id: usize, kind: &str| graph.node(id).is_some_and(|n| n.kind() == kind);
    let feeds_decrypt = |id: usize| adj.outgoing(id).iter().any(|e| is_kind(e.to, "decrypt"));
    let deepest = |filter: &dyn Fn(usize) -> bool| {
        let mut end: Option<(u32, usize)> = None;
        for &id in graph.order() {
            if let Some(d) = depth(id).filter(|_| filter(id))
                && end.is_none_or(|(best, _)| d >= best)
            {
                end = Some((d, id));
            }
        }
        end
    };
    let end = deepest(&feeds_decrypt).or_else(|| deepest(&|_| true));
    let Some((_, end)) = end else {
        return Vec::new();
    };
    let mut path = vec![end];
    let mut seen = BTreeSet::from([end]);
    let mut cur = end;
    loop {
        let preds: BTreeSet<usize> = adj.incoming(cur).iter().map(|e| e.from).collect();
        // Predecessors with plan figures first (deepest, then smallest id), else an input.
        let next = preds
            .iter()
            .filter_map(|&p| depth(p).map(|d| (d, p)))
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, p)| p)
            .or_else(|| preds.iter().copied().find(|&p| is_kind(p, "input")));
        match next {
            Some(p) if seen.insert(p) => {
                path.push(p);
                cur = p;
            }
            Some(_) | None => break,
        }
    }
    path.reverse();
    let decrypt = adj
        .outgoing(end)
        .iter()
        .map(|e| e.to)
        .filter(|&t| is_kind(t, "decrypt"))
        .min();
    path.extend(decrypt);
    path
}

/// Incoming and outgoing edges per node (built once: O(nodes + edges)).
struct Adjacency<'g> {
    incoming: Vec<Vec<&'g Edge>>,
    outgoing: Vec<Vec<&'g Edge>>,
}

impl<'g> Adjacency<'g> {
    fn new(graph: &'g Graph) -> Self {
        let mut incoming = vec![Vec::new(); graph.len()];
        let mut outgoing = vec![Vec::new(); graph.len()];
        for e in graph.edges() {
            if let Some(v) = incoming.get_mut(e.to) {
                v.push(e);
            }
            if let Some(v) = outgoing.get_mut(e.from) {
                v.push(e);
            }
        }
        Self { incoming, outgoing }
    }

    fn incoming(&self, id: usize) -> &[&'g Edge] {
        self.incoming.get(id).map_or(&[], Vec::as_slice)
    }

    fn outgoing(&self, id: usize) -> &[&'g Edge] {
        self.outgoing.get(id).map_or(&[], Vec::as_slice)
    }
}

/// One box per node, one link per edge.
pub(crate) fn detailed(graph: &Graph, plan: &Plan, header: Header) -> Scene {
    let adj = Adjacency::new(graph);
    let by_name: BTreeMap<&str, &NodeCost> =
        plan.nodes.iter().map(|c| (c.name.as_str(), c)).collect();
    let cost: Vec<Option<&NodeCost>> = (0..graph.len())
        .map(|id| by_name.get(graph.name(id)).copied())
        .collect();
    let path = critical_path(graph, &adj, &cost);
    let on_path: BTreeSet<usize> = path.iter().copied().collect();
    let path_links: BTreeSet<(usize, usize)> = path
        .windows(2)
        .filter_map(|w| Some((*w.first()?, *w.get(1)?)))
        .collect();
    // Longest-path layers along the topological order.
    let mut column = vec![0usize; graph.len()];
    for &id in graph.order() {
        let c = adj
            .incoming(id)
            .iter()
            .filter_map(|e| column.get(e.from).map(|c| c.saturating_add(1)))
            .max()
            .unwrap_or(0);
        if let Some(slot) = column.get_mut(id) {
            *slot = c;
        }
    }
    let mut boxes = Vec::with_capacity(graph.len());
    for id in 0..graph.len() {
        let Some(node) = graph.node(id) else {
            continue;
        };
        let kind = node.kind();
        let name = graph.name(id).to_owned();
        let params = node
            .params()
            .iter()
            .fold(0usize, |acc, (_, t)| acc.saturating_add(t.len()));
        let mut ins: Vec<(usize, String)> = adj
            .incoming(id)
            .iter()
            .map(|e| {
                (
                    e.to_port,
                    shape_text(graph.shape(e.from, e.from_port).unwrap_or(&[])),
                )
            })
            .collect();
        ins.sort();
        let outs: Vec<String> = (0..node.ports().1)
            .filter_map(|p| graph.shape(id, p).map(shape_text))
            .collect();
        let c = cost.get(id).copied().flatten();
        let class = match (kind, c) {
            ("input", _) => "input",
            ("decrypt", _) => "decrypt",
            (_, Some(_)) => "encrypted",
            (_, None) => "client",
        };
        let runs_on = match class {
            "input" => "input (encrypted by the client when it reaches a decrypt)",
            "decrypt" => "boundary: the client decrypts here",
            "encrypted" => "ciphertexts (server)",
            _ => "plaintext (client)",
        };
        let mut details = vec![
            detail("id", "id", id),
            detail("name", "name", &name),
            detail("kind", "kind", kind),
            detail("runs_on", "runs on", runs_on),
            detail(
                "input_shapes",
                "input shapes",
                if ins.is_empty() {
                    "none".to_owned()
                } else {
                    ins.iter()
                        .map(|(_, s)| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            detail("output_shapes", "output shapes", outs.join(", ")),
            detail("parameters", "parameters", params),
        ];
        let figures = if let Some(c) = c {
            details.extend([
                detail("level_in", "level in", c.level_in),
                detail("level_out", "level out", c.level_out),
                detail("levels", "levels consumed", c.consumed),
                detail("declared_depth", "declared depth", c.declared.depth),
                detail("depth", "depth (cumulative)", c.depth_out),
                detail("rotations", "rotations", c.rotations),
                detail("relinearizations", "relinearizations", c.relinearizations),
                detail("key_switches", "key switches", c.key_switches),
            ]);
            let mut f = format!(
                "L {}→{} · depth {} · KS {}",
                c.level_in, c.level_out, c.depth_out, c.key_switches
            );
            if c.rotations > 0 {
                f.push_str(&format!(" · rot {}", c.rotations));
            }
            f
        } else {
            match class {
                "input" => "input".to_owned(),
                "decrypt" => "decrypt → client".to_owned(),
                _ => "plaintext, on the client".to_owned(),
            }
        };
        details.push(detail(
            "critical",
            "critical path",
            if on_path.contains(&id) { "yes" } else { "no" },
        ));
        boxes.push(Box {
            index: boxes.len(),
            id,
            title: name,
            subtitle: if params > 0 {
                format!("{kind} · {params} params")
            } else {
                kind.to_owned()
            },
            figures,
            class,
            details,
            column: column.get(id).copied().unwrap_or(0),
            x: 0.0,
            y: 0.0,
            critical: on_path.contains(&id),
        });
    }
    let links = graph
        .edges()
        .iter()
        .map(|e| Link {
            from: e.from,
            to: e.to,
            label: shape_text(graph.shape(e.from, e.from_port).unwrap_or(&[])),
            count: 1,
            critical: path_links.contains(&(e.from, e.to)),
        })
        .collect();
    Scene {
        header,
        boxes,
        links,
        summary: None,
        width: 0.0,
        height: 0.0,
    }
}

#[derive(Default)]
struct Group {
    kind: String,
    class: &'static str,
    band: usize,
    first_column: usize,
    last_column: usize,
    names: Vec<String>,
    count: usize,
    params: u64,
    level_in: Option<u32>,
    level_out: Option<u32>,
    depth: Option<u32>,
    rotations: u64,
    relinearizations: u64,
    key_switches: u64,
    critical: bool,
}

fn value<'a>(b: &'a Box, key: &str) -> Option<&'a str> {
    b.details
        .iter()
        .find(|d| d.key == key)
        .map(|d| d.value.as_str())
}

fn number(b: &Box, key: &str) -> Option<u64> {
    value(b, key).and_then(|v| v.parse().ok())
}

/// The per-layer summary of a detailed scene: nodes of one kind in one band of layers
/// become one box; links between groups carry their edge count. At most `max_columns`
/// columns (layers are grouped into equal bands beyond that).
pub(crate) fn summary(detailed: &Scene, max_columns: usize) -> Scene {
    let columns = detailed
        .boxes
        .iter()
        .map(|b| b.column)
        .max()
        .map_or(1, |c| c.saturating_add(1));
    let band_width = columns.div_ceil(max_columns.max(1)).max(1);
    let mut groups: BTreeMap<(usize, &'static str, String), Group> = BTreeMap::new();
    let mut member = Vec::with_capacity(detailed.boxes.len());
    for b in &detailed.boxes {
        let kind = value(b, "kind").unwrap_or("").to_owned();
        let band = b.column / band_width;
        let key = (band, b.class, kind.clone());
        member.push(key.clone());
        let g = groups.entry(key).or_insert_with(|| Group {
            kind,
            class: b.class,
            band,
            first_column: b.column,
            last_column: b.column,
            ..Group::default()
        });
        g.first_column = g.first_column.min(b.column);
        g.last_column = g.last_column.max(b.column);
        g.count = g.count.saturating_add(1);
        if g.names.len() < 5 {
            g.names.push(crate::escape::truncate(&b.title, 40));
        }
        g.params = g
            .params
            .saturating_add(number(b, "parameters").unwrap_or(0));
        let level = |k| number(b, k).and_then(|v| u32::try_from(v).ok());
        if let Some(l) = level("level_in") {
            g.level_in = Some(g.level_in.map_or(l, |x| x.max(l)));
        }
        if let Some(l) = level("level_out") {
            g.level_out = Some(g.level_out.map_or(l, |x| x.min(l)));
        }
        if let Some(d) = level("depth") {
            g.depth = Some(g.depth.map_or(d, |x| x.max(d)));
        }
        g.rotations = g
            .rotations
            .saturating_add(number(b, "rotations").unwrap_or(0));
        g.relinearizations = g
            .relinearizations
            .saturating_add(number(b, "relinearizations").unwrap_or(0));
        g.key_switches = g
            .key_switches
            .saturating_add(number(b, "key_switches").unwrap_or(0));
        g.critical |= b.critical;
    }
    let index: BTreeMap<&(usize, &'static str, String), usize> =
        groups.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let mut boxes = Vec::with_capacity(groups.len());
    for (i, g) in groups.values().enumerate() {
        let layers = if g.first_column == g.last_column {
            format!("layer {}", g.first_column)
        } else {
            format!("layers {}–{}", g.first_column, g.last_column)
        };
        let mut details = vec![
            detail("id", "group", i),
            detail("kind", "kind", &g.kind),
            detail("nodes", "nodes", g.count),
            detail("layers", "layers", &layers),
            detail("parameters", "parameters", g.params),
        ];
        let figures = match (g.level_in, g.level_out, g.depth) {
            (Some(li), Some(lo), Some(d)) => {
                details.extend([
                    detail("level_in", "highest level in", li),
                    detail("level_out", "lowest level out", lo),
                    detail("depth", "deepest depth", d),
                    detail("rotations", "rotations (sum)", g.rotations),
                    detail(
                        "relinearizations",
                        "relinearizations (sum)",
                        g.relinearizations,
                    ),
                    detail("key_switches", "key switches (sum)", g.key_switches),
                ]);
                format!("L {li}→{lo} · depth {d} · KS {}", g.key_switches)
            }
            _ => match g.class {
                "input" => "input".to_owned(),
                "decrypt" => "decrypt → client".to_owned(),
                _ => "plaintext, on the client".to_owned(),
            },
        };
        let mut names = g.names.join(", ");
        if g.count > g.names.len() {
            names.push_str(", …");
        }
        details.push(detail("members", "nodes (first)", names));
        details.push(detail(
            "critical",
            "critical path",
            if g.critical { "yes" } else { "no" },
        ));
        boxes.push(Box {
            index: i,
            id: i,
            title: format!("{} × {}", g.count, g.kind),
            subtitle: format!("{layers} · {} params", g.params),
            figures,
            class: if g.count > 1 { "group" } else { g.class },
            details,
            column: g.band,
            x: 0.0,
            y: 0.0,
            critical: g.critical,
        });
    }
    let mut agg: BTreeMap<(usize, usize), (usize, bool)> = BTreeMap::new();
    for l in &detailed.links {
        let (Some(a), Some(b)) = (member.get(l.from), member.get(l.to)) else {
            continue;
        };
        let (Some(&ga), Some(&gb)) = (index.get(a), index.get(b)) else {
            continue;
        };
        if ga == gb {
            continue;
        }
        let e = agg.entry((ga, gb)).or_insert((0, false));
        e.0 = e.0.saturating_add(l.count);
        e.1 |= l.critical;
    }
    let links = agg
        .into_iter()
        .map(|((from, to), (count, critical))| Link {
            from,
            to,
            label: if count == 1 {
                "1 edge".to_owned()
            } else {
                format!("{count} edges")
            },
            count,
            critical,
        })
        .collect();
    Scene {
        header: detailed.header.clone(),
        boxes,
        links,
        summary: Some((detailed.boxes.len(), detailed.links.len())),
        width: 0.0,
        height: 0.0,
    }
}
