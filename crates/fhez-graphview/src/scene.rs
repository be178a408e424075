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

/// What both views need per node, computed once in O(nodes + edges): plan figures,
/// longest-path layer, critical-path membership.
struct Facts<'a> {
    cost: Vec<Option<&'a NodeCost>>,
    column: Vec<usize>,
    on_path: Vec<bool>,
    path_links: BTreeSet<(usize, usize)>,
}

fn facts<'a>(graph: &Graph, plan: &'a Plan) -> Facts<'a> {
    let adj = Adjacency::new(graph);
    let by_name: BTreeMap<&str, &NodeCost> =
        plan.nodes.iter().map(|c| (c.name.as_str(), c)).collect();
    let cost: Vec<Option<&NodeCost>> = (0..graph.len())
        .map(|id| by_name.get(graph.name(id)).copied())
        .collect();
    let path = critical_path(graph, &adj, &cost);
    let mut on_path = vec![false; graph.len()];
    for &id in &path {
        if let Some(p) = on_path.get_mut(id) {
            *p = true;
        }
    }
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
    Facts {
        cost,
        column,
        on_path,
        path_links,
    }
}

/// The style class of a node.
fn class_of(kind: &str, cost: Option<&NodeCost>) -> &'static str {
    match (kind, cost) {
        ("input", _) => "input",
        ("decrypt", _) => "decrypt",
        (_, Some(_)) => "encrypted",
        (_, None) => "client",
    }
}

/// Short figures of a node or group without plan figures.
fn plain_figures(class: &str) -> String {
    match class {
        "input" => "input".to_owned(),
        "decrypt" => "decrypt → client".to_owned(),
        _ => "plaintext, on the client".to_owned(),
    }
}

fn param_count(node: &fhez_nn::Node) -> u64 {
    node.params().iter().fold(0u64, |acc, (_, t)| {
        acc.saturating_add(u64::try_from(t.len()).unwrap_or(u64::MAX))
    })
}

/// One box per node, one link per edge.
pub(crate) fn detailed(graph: &Graph, plan: &Plan, header: Header) -> Scene {
    let adj = Adjacency::new(graph);
    let Facts {
        cost,
        column,
        on_path,
        path_links,
    } = facts(graph, plan);
    let on_path = |id: usize| on_path.get(id).copied().unwrap_or(false);
    let mut boxes = Vec::with_capacity(graph.len());
    for id in 0..graph.len() {
        let Some(node) = graph.node(id) else {
            continue;
        };
        let kind = node.kind();
        let name = graph.name(id).to_owned();
        let params = param_count(node);
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
        let class = class_of(kind, c);
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
            plain_figures(class)
        };
        details.push(detail(
            "critical",
            "critical path",
            if on_path(id) { "yes" } else { "no" },
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
            critical: on_path(id),
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
    kind: &'static str,
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

/// The per-layer summary: nodes of one kind in one band of layers become one box; links
/// between groups carry their edge count. At most `max_columns` columns (layers are
/// grouped into equal bands beyond that). Built from the graph directly, so memory stays
/// proportional to the nodes, not to their rendered details.
pub(crate) fn summary(graph: &Graph, plan: &Plan, header: Header, max_columns: usize) -> Scene {
    let f = facts(graph, plan);
    let columns = f.column.iter().max().map_or(1, |c| c.saturating_add(1));
    let band_width = columns.div_ceil(max_columns.max(1)).max(1);
    let mut groups: BTreeMap<(usize, &'static str, &'static str), Group> = BTreeMap::new();
    let mut member = Vec::with_capacity(graph.len());
    for id in 0..graph.len() {
        let Some(node) = graph.node(id) else {
            member.push(None);
            continue;
        };
        let kind = node.kind();
        let cost = f.cost.get(id).copied().flatten();
        let class = class_of(kind, cost);
        let column = f.column.get(id).copied().unwrap_or(0);
        let band = column / band_width;
        let key = (band, class, kind);
        member.push(Some(key));
        let g = groups.entry(key).or_insert_with(|| Group {
            kind,
            class,
            band,
            first_column: column,
            last_column: column,
            ..Group::default()
        });
        g.first_column = g.first_column.min(column);
        g.last_column = g.last_column.max(column);
        g.count = g.count.saturating_add(1);
        if g.names.len() < 5 {
            g.names.push(crate::escape::truncate(graph.name(id), 40));
        }
        g.params = g.params.saturating_add(param_count(node));
        if let Some(c) = cost {
            g.level_in = Some(g.level_in.map_or(c.level_in, |x| x.max(c.level_in)));
            g.level_out = Some(g.level_out.map_or(c.level_out, |x| x.min(c.level_out)));
            g.depth = Some(g.depth.map_or(c.depth_out, |x| x.max(c.depth_out)));
            g.rotations = g.rotations.saturating_add(c.rotations);
            g.relinearizations = g.relinearizations.saturating_add(c.relinearizations);
            g.key_switches = g.key_switches.saturating_add(c.key_switches);
        }
        g.critical |= f.on_path.get(id).copied().unwrap_or(false);
    }
    let index: BTreeMap<(usize, &'static str, &'static str), usize> =
        groups.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut boxes = Vec::with_capacity(groups.len());
    for (i, g) in groups.values().enumerate() {
        let layers = if g.first_column == g.last_column {
            format!("layer {}", g.first_column)
        } else {
            format!("layers {}–{}", g.first_column, g.last_column)
        };
        let mut details = vec![
            detail("id", "group", i),
            detail("kind", "kind", g.kind),
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
            _ => plain_figures(g.class),
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
    let group_of = |id: usize| {
        member
            .get(id)
            .copied()
            .flatten()
            .and_then(|k| index.get(&k))
    };
    let mut agg: BTreeMap<(usize, usize), (usize, bool)> = BTreeMap::new();
    for e in graph.edges() {
        let (Some(&ga), Some(&gb)) = (group_of(e.from), group_of(e.to)) else {
            continue;
        };
        if ga == gb {
            continue;
        }
        let entry = agg.entry((ga, gb)).or_insert((0, false));
        entry.0 = entry.0.saturating_add(1);
        entry.1 |= f.path_links.contains(&(e.from, e.to));
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
        header,
        boxes,
        links,
        summary: Some((graph.len(), graph.edges().len())),
        width: 0.0,
        height: 0.0,
    }
}
