//! The three renderers. Every string from the model goes through [`crate::escape`].

use std::fmt::Write as _;

use crate::Result;
use crate::escape::{dot_string, json_for_script, truncate, xml_text};
use crate::layout::{BOX_H, BOX_W, MARGIN};
use crate::scene::{Box, Link, Scene};
use crate::sink::Sink;

/// Characters of each box line shown (the full text is in the details).
const TITLE_CHARS: usize = 28;
const LINE_CHARS: usize = 32;

/// Style classes, their fill and stroke colours and their legend text.
const CLASSES: [(&str, &str, &str, &str); 5] = [
    ("input", "#e3f4e1", "#3b8a34", "input"),
    ("encrypted", "#e1ecfa", "#2f62a8", "on ciphertexts (server)"),
    ("decrypt", "#fdecd9", "#b8641a", "decrypt boundary"),
    ("client", "#eeeeee", "#707070", "plaintext (client)"),
    ("group", "#efe4f7", "#7447a0", "group of nodes (summary)"),
];
const CRITICAL: &str = "#c62828";

fn colours(class: &str) -> (&'static str, &'static str) {
    CLASSES
        .iter()
        .find(|c| c.0 == class)
        .map_or(("#ffffff", "#000000"), |c| (c.1, c.2))
}

fn details_text(b: &Box) -> String {
    b.details
        .iter()
        .map(|d| format!("{}: {}", d.label, d.value))
        .collect::<Vec<_>>()
        .join("\n")
}

fn subtitle(scene: &Scene) -> Option<String> {
    scene.summary.map(|(nodes, edges)| {
        format!(
            "summary view: {nodes} nodes and {edges} edges grouped by layer and kind ({} boxes)",
            scene.boxes.len()
        )
    })
}

/// Graphviz DOT.
pub(crate) fn dot(scene: &Scene, out: &mut Sink) {
    out.push("digraph fhez {\n");
    let mut label = format!("{}\n{}", scene.header.title, scene.header.summary_line());
    if let Some(s) = subtitle(scene) {
        label.push('\n');
        label.push_str(&s);
    }
    out.push(&format!(
        "  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label={}];\n",
        dot_string(&label)
    ));
    out.push(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n",
    );
    out.push("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for b in &scene.boxes {
        let (fill, stroke) = colours(b.class);
        let text = format!(
            "{}\n{}\n{}",
            truncate(&b.title, TITLE_CHARS * 2),
            b.subtitle,
            b.figures
        );
        let _ = writeln!(
            out,
            "  b{} [label={}, tooltip={}, fillcolor=\"{fill}\", color=\"{}\", penwidth={}];",
            b.index,
            dot_string(&text),
            dot_string(&details_text(b)),
            if b.critical { CRITICAL } else { stroke },
            if b.critical { "3" } else { "1" }
        );
    }
    for l in &scene.links {
        let _ = writeln!(
            out,
            "  b{} -> b{} [label={}{}];",
            l.from,
            l.to,
            dot_string(&l.label),
            if l.critical {
                format!(", color=\"{CRITICAL}\", penwidth=3")
            } else {
                String::new()
            }
        );
    }
    out.push("}\n");
}

pub(crate) const SVG_CSS: &str = r#"
#fhez-graph { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; background: #fff; }
#fhez-graph .node rect { stroke-width: 1.4; }
#fhez-graph .node.critical rect { stroke: #c62828; stroke-width: 3; }
#fhez-graph .node.selected rect { stroke: #111; stroke-width: 3.5; }
#fhez-graph .node { cursor: pointer; }
#fhez-graph .node text { fill: #111; pointer-events: none; }
#fhez-graph .t1 { font-size: 13px; font-weight: 600; }
#fhez-graph .t2 { font-size: 11px; fill: #444; }
#fhez-graph .t3 { font-size: 11px; font-variant-numeric: tabular-nums; }
#fhez-graph .link path { fill: none; stroke: #8a8a8a; stroke-width: 1.2; }
#fhez-graph .link.critical path { stroke: #c62828; stroke-width: 3; }
#fhez-graph .link.incident path { stroke: #111; stroke-width: 2.2; }
#fhez-graph .link text { font-size: 10px; fill: #555; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
#fhez-graph .head .title { font-size: 18px; font-weight: 700; }
#canvas #fhez-graph .head { display: none; }
#canvas #fhez-graph .head { display: none; }
#fhez-graph .head .params, #fhez-graph .legend text { font-size: 12px; fill: #222; }
"#;

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

fn link_geometry(scene: &Scene, l: &Link) -> Option<(String, f64, f64)> {
    let a = scene.boxes.get(l.from)?;
    let b = scene.boxes.get(l.to)?;
    let (x1, y1) = (a.x + BOX_W, a.y + BOX_H / 2.0);
    let (x2, y2) = (b.x, b.y + BOX_H / 2.0);
    let (c1x, c2x) = (x1 + 60.0, x2 - 60.0);
    let d = format!(
        "M{} {} C{} {} {} {} {} {}",
        fmt(x1),
        fmt(y1),
        fmt(c1x),
        fmt(y1),
        fmt(c2x),
        fmt(y2),
        fmt(x2),
        fmt(y2)
    );
    // The label sits at t = 0.7 of the cubic, near the target, where fanned-out edges
    // have separated.
    let t: f64 = 0.7;
    let u = 1.0 - t;
    let bx = u * u * u * x1 + 3.0 * u * u * t * c1x + 3.0 * u * t * t * c2x + t * t * t * x2;
    let by = u * u * u * y1 + 3.0 * u * u * t * y1 + 3.0 * u * t * t * y2 + t * t * t * y2;
    Some((d, bx, by - 4.0))
}

/// The SVG drawing. `standalone`: an image file (fixed size, CSS inside); otherwise the
/// element inlined in the HTML page (fills its container).
pub(crate) fn svg(scene: &Scene, out: &mut Sink, standalone: bool) {
    let (w, h) = (fmt(scene.width), fmt(scene.height));
    if standalone {
        out.push("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"fhez-graph\" viewBox=\"0 0 {w} {h}\" "
    );
    if standalone {
        let _ = write!(out, "width=\"{w}\" height=\"{h}\" ");
    } else {
        out.push("width=\"100%\" height=\"100%\" preserveAspectRatio=\"xMidYMin meet\" ");
    }
    let _ = writeln!(
        out,
        "role=\"img\" aria-label=\"{}\">",
        xml_text(&format!("graph of {}", scene.header.title))
    );
    if standalone {
        out.push("<style>");
        out.push(SVG_CSS);
        out.push("</style>\n");
    }
    out.push("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#8a8a8a\"/></marker>");
    let _ = writeln!(
        out,
        "<marker id=\"arrow-critical\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"5\" markerHeight=\"5\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"{CRITICAL}\"/></marker></defs>"
    );
    out.push("<g id=\"viewport\">\n");
    // Header and legend.
    let _ = writeln!(
        out,
        "<g class=\"head\"><text class=\"title\" x=\"{m}\" y=\"{y1}\">{}</text><text class=\"params\" x=\"{m}\" y=\"{y2}\">{}</text>{}</g>",
        xml_text(&truncate(&scene.header.title, 120)),
        xml_text(&scene.header.summary_line()),
        subtitle(scene).map_or(String::new(), |s| format!(
            "<text class=\"params\" x=\"{}\" y=\"{}\">{}</text>",
            fmt(MARGIN + 420.0),
            fmt(MARGIN + 2.0),
            xml_text(&s)
        )),
        m = fmt(MARGIN),
        y1 = fmt(MARGIN + 2.0),
        y2 = fmt(MARGIN + 22.0),
    );
    out.push("<g class=\"legend\">");
    let mut x = MARGIN;
    let y = MARGIN + 40.0;
    for (class, fill, stroke, text) in CLASSES {
        if class == "group" && scene.summary.is_none() {
            continue;
        }
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"18\" height=\"12\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\">{text}</text>",
            fmt(x),
            fmt(y),
            fmt(x + 24.0),
            fmt(y + 10.5)
        );
        x += 36.0 + 6.5 * to_f64(text.chars().count());
    }
    let _ = write!(
        out,
        "<path d=\"M{} {}h22\" stroke=\"{CRITICAL}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">critical (deepest) path</text>",
        fmt(x),
        fmt(y + 6.0),
        fmt(x + 28.0),
        fmt(y + 10.5)
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\">L a→b: level in → out (fresh = {}, last = 0) · depth: cumulative multiplicative depth · KS: key switches (relinearizations + rotations) · rot: rotations</text></g>",
        fmt(MARGIN),
        fmt(y + 30.0),
        scene.header.depth
    );
    out.push("<g class=\"links\">\n");
    // A fan of links with one label (16 filters reading one 28×28 input) shows it once;
    // every link keeps it in its tooltip.
    let mut labelled = std::collections::BTreeSet::new();
    for (i, l) in scene.links.iter().enumerate() {
        let Some((d, lx, ly)) = link_geometry(scene, l) else {
            continue;
        };
        let label = xml_text(&truncate(&l.label, LINE_CHARS));
        let fresh_from = labelled.insert((0, l.from, l.label.as_str()));
        let fresh_to = labelled.insert((1, l.to, l.label.as_str()));
        let text = if fresh_from && fresh_to {
            format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                fmt(lx),
                fmt(ly)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<g class=\"link{}\" data-index=\"{i}\" data-from=\"{}\" data-to=\"{}\"><title>{label}</title><path d=\"{d}\" marker-end=\"url(#{})\"/>{text}</g>",
            if l.critical { " critical" } else { "" },
            l.from,
            l.to,
            if l.critical {
                "arrow-critical"
            } else {
                "arrow"
            },
        );
    }
    out.push("</g>\n<g class=\"nodes\">\n");
    for b in &scene.boxes {
        let (fill, stroke) = colours(b.class);
        let _ = writeln!(
            out,
            "<g class=\"node {}{}\" id=\"node-{}\" data-id=\"{}\" data-index=\"{}\" tabindex=\"0\" role=\"button\" aria-label=\"{}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\"/><text class=\"t1\" x=\"{}\" y=\"{}\">{}</text><text class=\"t2\" x=\"{}\" y=\"{}\">{}</text><text class=\"t3\" x=\"{}\" y=\"{}\">{}</text></g>",
            b.class,
            if b.critical { " critical" } else { "" },
            b.id,
            b.id,
            b.index,
            xml_text(&truncate(&b.title, 80)),
            xml_text(&details_text(b)),
            fmt(b.x),
            fmt(b.y),
            fmt(BOX_W),
            fmt(BOX_H),
            fmt(b.x + 10.0),
            fmt(b.y + 19.0),
            xml_text(&truncate(&b.title, TITLE_CHARS)),
            fmt(b.x + 10.0),
            fmt(b.y + 36.0),
            xml_text(&truncate(&b.subtitle, LINE_CHARS)),
            fmt(b.x + 10.0),
            fmt(b.y + 53.0),
            xml_text(&truncate(&b.figures, LINE_CHARS + 4)),
        );
    }
    out.push("</g>\n</g>\n</svg>\n");
}

fn to_f64(n: usize) -> f64 {
    // Legend text lengths: exact.
    n as f64
}

const PAGE_CSS: &str = r#"
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111; display: flex; flex-direction: column; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; }
header h1 { font-size: 17px; margin: 0 0 2px 0; }
header p { margin: 0; font-size: 13px; color: #333; }
#toolbar { display: flex; gap: 6px; align-items: center; padding: 6px 14px; border-bottom: 1px solid #eee; font-size: 12px; color: #555; }
#toolbar button { font: inherit; padding: 2px 10px; border: 1px solid #bbb; border-radius: 4px; background: #fafafa; cursor: pointer; }
main { flex: 1; display: flex; min-height: 0; }
#canvas { flex: 1; min-width: 0; overflow: hidden; touch-action: none; cursor: grab; }
#canvas.dragging { cursor: grabbing; }
aside { width: 320px; border-left: 1px solid #ddd; padding: 10px 14px; overflow: auto; font-size: 13px; }
aside h2 { font-size: 15px; margin: 0 0 8px 0; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 3px 10px; margin: 0; }
dt { color: #555; }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.print-table { display: none; }
@media print {
  @page { size: landscape; margin: 12mm; }
  html, body { height: auto; display: block; }
  #toolbar, aside { display: none; }
  main { display: block; }
  #canvas { overflow: visible; height: auto; }
  #canvas svg { width: 100%; height: auto; }
  .print-table { display: table; border-collapse: collapse; width: 100%; font-size: 9pt; margin-top: 10mm; page-break-before: always; }
  .print-table th, .print-table td { border: 1px solid #999; padding: 2px 4px; text-align: left; }
  .print-table tr { page-break-inside: avoid; }
}
"#;

const PAGE_JS: &str = include_str!("view.js");

/// The keys of the print table's columns.
const TABLE: [(&str, &str); 11] = [
    ("name", "name"),
    ("kind", "kind"),
    ("input_shapes", "in"),
    ("output_shapes", "out"),
    ("parameters", "params"),
    ("level_in", "level in"),
    ("level_out", "level out"),
    ("depth", "depth"),
    ("rotations", "rot"),
    ("relinearizations", "relin"),
    ("key_switches", "KS"),
];

/// The self-contained interactive page.
pub(crate) fn html(scene: &Scene, out: &mut Sink) -> Result<()> {
    let title = xml_text(&scene.header.title);
    out.push("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be fetched: the page is self-contained and works offline.
    out.push("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    let _ = writeln!(out, "<title>fhez graph: {title}</title>");
    out.push("<style>");
    out.push(PAGE_CSS);
    out.push(SVG_CSS);
    out.push("</style>\n</head>\n<body>\n");
    let _ = writeln!(
        out,
        "<header><h1>{title}</h1><p class=\"params\">{}</p>{}</header>",
        xml_text(&scene.header.summary_line()),
        subtitle(scene).map_or(String::new(), |s| format!("<p>{}</p>", xml_text(&s)))
    );
    out.push("<div id=\"toolbar\"><button id=\"zoom-in\" type=\"button\" title=\"zoom in\">+</button><button id=\"zoom-out\" type=\"button\" title=\"zoom out\">&#8722;</button><button id=\"fit\" type=\"button\">fit</button><span>drag to pan · wheel to zoom · click a node (or Tab + Enter) for its figures</span></div>\n");
    out.push("<main>\n<div id=\"canvas\">\n");
    svg(scene, out, false);
    out.push("</div>\n<aside id=\"details\" aria-live=\"polite\"><h2 id=\"details-title\">Details</h2><p id=\"details-empty\">Select a node to see its kind, shapes, parameters and plan figures.</p><dl id=\"details-list\"></dl></aside>\n</main>\n");
    // All figures as a table, shown only when printed.
    out.push("<table class=\"print-table\"><thead><tr>");
    for (_, head) in TABLE {
        let _ = write!(out, "<th>{head}</th>");
    }
    out.push("</tr></thead><tbody>\n");
    for b in &scene.boxes {
        out.push("<tr>");
        for (key, _) in TABLE {
            let v = b
                .details
                .iter()
                .find(|d| d.key == key)
                .map_or("", |d| d.value.as_str());
            let _ = write!(out, "<td>{}</td>", xml_text(v));
        }
        out.push("</tr>\n");
    }
    out.push("</tbody></table>\n");
    let data: Vec<serde_json::Value> = scene
        .boxes
        .iter()
        .map(|b| {
            serde_json::json!({
                "id": b.id,
                "title": b.title,
                "details": b.details.iter().map(|d| [d.key, d.label, d.value.as_str()]).collect::<Vec<_>>(),
            })
        })
        .collect();
    let json = serde_json::to_string(&serde_json::json!({ "boxes": data }))?;
    out.push("<script type=\"application/json\" id=\"fhez-data\">");
    out.push(&json_for_script(&json));
    out.push("</script>\n<script>");
    out.push(PAGE_JS);
    out.push("</script>\n</body>\n</html>\n");
    Ok(())
}
