//! Layered layout, left to right: one column per layer (longest path from an input, or a
//! band of layers in the summary view); inside a column, boxes are ordered by a fixed
//! number of barycenter sweeps (each box moves towards the mean row of its neighbours in
//! the previous column), ties broken by the previous order, so the result depends on the
//! graph only. O((boxes + links) · log boxes) per sweep. The summary view wraps its columns
//! into blocks of [`WRAP`], stacked top to bottom.

use std::collections::BTreeMap;

use crate::scene::Scene;

/// Box width.
pub(crate) const BOX_W: f64 = 210.0;
/// Box height.
pub(crate) const BOX_H: f64 = 62.0;
/// Horizontal gap between columns.
pub(crate) const GAP_X: f64 = 120.0;
/// Vertical gap between boxes.
pub(crate) const GAP_Y: f64 = 22.0;
/// Margin around the drawing.
pub(crate) const MARGIN: f64 = 24.0;
/// Height reserved above the boxes for the header and legend of the standalone SVG.
pub(crate) const TOP: f64 = 96.0;

const SWEEPS: usize = 4;
/// Columns per block of the summary view.
pub(crate) const WRAP: usize = 8;
/// Vertical gap between blocks of the summary view.
const BLOCK_GAP: f64 = 60.0;

fn to_f64(n: usize) -> f64 {
    // Row and column counts are far below 2^52: exact.
    n as f64
}

/// Sorts one column by the mean row of each box's neighbours (`nbrs`), keeping boxes
/// without neighbours where they were.
fn sweep(col: &mut [usize], nbrs: &[Vec<usize>], row: &mut [f64]) {
    let mut keyed: Vec<(f64, f64, usize)> = col
        .iter()
        .map(|&b| {
            let own = row.get(b).copied().unwrap_or(0.0);
            let ns = nbrs.get(b).map_or(&[][..], Vec::as_slice);
            let bary = if ns.is_empty() {
                own
            } else {
                ns.iter()
                    .map(|&n| row.get(n).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / to_f64(ns.len())
            };
            (bary, own, b)
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    for (r, (slot, (_, _, b))) in col.iter_mut().zip(keyed).enumerate() {
        *slot = b;
        if let Some(x) = row.get_mut(b) {
            *x = to_f64(r);
        }
    }
}

/// Fills in every box's position and the drawing size.
pub(crate) fn place(mut scene: Scene) -> Scene {
    let n = scene.boxes.len();
    let mut by_col: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for b in &scene.boxes {
        by_col.entry(b.column).or_default().push(b.index);
    }
    let mut columns: Vec<Vec<usize>> = by_col.into_values().collect();
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for l in &scene.links {
        if let Some(p) = preds.get_mut(l.to) {
            p.push(l.from);
        }
        if let Some(s) = succs.get_mut(l.from) {
            s.push(l.to);
        }
    }
    let mut row = vec![0.0; n];
    for col in &columns {
        for (r, &b) in col.iter().enumerate() {
            if let Some(x) = row.get_mut(b) {
                *x = to_f64(r);
            }
        }
    }
    for _ in 0..SWEEPS {
        for col in columns.iter_mut().skip(1) {
            sweep(col, &preds, &mut row);
        }
        for col in columns.iter_mut().rev().skip(1) {
            sweep(col, &succs, &mut row);
        }
    }
    // The summary view wraps its bands into blocks of WRAP columns, one block under the
    // other (a long chain reads like lines of text instead of one very wide row).
    let wrap = if scene.summary.is_some() {
        WRAP
    } else {
        columns.len().max(1)
    };
    let mut top = TOP;
    let mut width = 0.0f64;
    for (b, block) in columns.chunks(wrap).enumerate() {
        if b > 0 {
            top += BLOCK_GAP;
        }
        let rows = block.iter().map(Vec::len).max().unwrap_or(0);
        for (c, col) in block.iter().enumerate() {
            let offset = to_f64(rows.saturating_sub(col.len())) * (BOX_H + GAP_Y) / 2.0;
            for (r, &i) in col.iter().enumerate() {
                if let Some(bx) = scene.boxes.get_mut(i) {
                    bx.x = MARGIN + to_f64(c) * (BOX_W + GAP_X);
                    bx.y = top + offset + to_f64(r) * (BOX_H + GAP_Y);
                }
            }
        }
        let cols = to_f64(block.len());
        width = width.max(2.0 * MARGIN + cols * BOX_W + (cols - 1.0).max(0.0) * GAP_X);
        top += to_f64(rows) * (BOX_H + GAP_Y);
    }
    scene.width = width.max(640.0);
    scene.height = top + MARGIN;
    scene
}
