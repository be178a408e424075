//! PNG plots of a training run: loss / accuracy curves and the confusion matrix.
//!
//! Text needs a font: the first of a few common system TrueType fonts is used (or the file
//! named by `FHEZ_FONT`). Without one (or with `FHEZ_FONT=none`) the plots are drawn
//! without text.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::train::Epoch;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font once; `true` when text can be drawn.
fn have_font() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let env = std::env::var("FHEZ_FONT").ok();
        if env.as_deref() == Some("none") {
            return false;
        }
        let candidates = env
            .iter()
            .map(String::as_str)
            .chain(FONT_PATHS.iter().copied());
        for path in candidates {
            if path.is_empty() {
                continue;
            }
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

fn err(what: &str, path: &Path) -> impl Fn(String) -> anyhow::Error {
    let msg = format!("drawing {what} {}", path.display());
    move |e| anyhow!("{msg}: {e}")
}

/// Training curves: losses (left) and test accuracy (right, classifiers).
pub fn curves(path: &Path, history: &[Epoch]) -> Result<()> {
    let fail = err("training curves", path);
    let text = have_font();
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (left, right) = root.split_horizontally(500);
    let n = history.len().max(2) as f64;
    let xs = |f: fn(&Epoch) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|e| (e.epoch as f64, f(e))).collect()
    };
    let train = xs(|e| e.train_loss);
    let test = xs(|e| e.test_loss);
    let top = train
        .iter()
        .chain(&test)
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    {
        let mut b = ChartBuilder::on(&left);
        b.margin(15);
        if text {
            b.caption("loss", ("sans-serif", 20))
                .x_label_area_size(35)
                .y_label_area_size(50);
        }
        let mut chart = b
            .build_cartesian_2d(1.0..n, 0.0..top)
            .map_err(|e| fail(e.to_string()))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("epoch");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| fail(e.to_string()))?;
        let s = chart
            .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?;
        if text {
            s.label("train")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        }
        let s = chart
            .draw_series(LineSeries::new(test, RED.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?;
        if text {
            s.label("test")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE.mix(0.8))
                .draw()
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    let acc: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|e| Some((e.epoch as f64, e.test_accuracy? * 100.0)))
        .collect();
    if !acc.is_empty() {
        let lo = acc.iter().map(|p| p.1).fold(100.0, f64::min);
        let lo = (lo - 5.0).clamp(0.0, 95.0);
        let mut b = ChartBuilder::on(&right);
        b.margin(15);
        if text {
            b.caption("test accuracy (%)", ("sans-serif", 20))
                .x_label_area_size(35)
                .y_label_area_size(50);
        }
        let mut chart = b
            .build_cartesian_2d(1.0..n, lo..100.0)
            .map_err(|e| fail(e.to_string()))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("epoch");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(acc.clone(), GREEN.stroke_width(2)))
            .map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(acc.iter().map(|&p| Circle::new(p, 4, GREEN.filled())))
            .map_err(|e| fail(e.to_string()))?;
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Confusion matrix `[true][predicted]`, rows normalised, counts written in the cells.
pub fn confusion(path: &Path, m: &[Vec<usize>], labels: &[String]) -> Result<()> {
    let fail = err("confusion matrix", path);
    let text = have_font();
    let k = m.len();
    // A segmented 0..last has last + 1 segments: one per class.
    let last = k.saturating_sub(1);
    let root = BitMapBackend::new(path, (720, 680)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let mut b = ChartBuilder::on(&root);
    b.margin(15);
    if text {
        b.caption(
            "confusion matrix (rows: true, columns: predicted)",
            ("sans-serif", 18),
        )
        .x_label_area_size(40)
        .y_label_area_size(110);
    }
    let mut chart = b
        .build_cartesian_2d((0..last).into_segmented(), (0..last).into_segmented())
        .map_err(|e| fail(e.to_string()))?;
    let name = |i: usize| labels.get(i).cloned().unwrap_or_else(|| i.to_string());
    // Axes only with text (a segmented axis asked for zero labels never finishes drawing).
    if text {
        let xl = |x: &SegmentValue<usize>| match x {
            SegmentValue::CenterOf(i) => i.to_string(),
            SegmentValue::Exact(_) | SegmentValue::Last => String::new(),
        };
        let yl = |y: &SegmentValue<usize>| match y {
            SegmentValue::CenterOf(i) => name(k.saturating_sub(1).saturating_sub(*i)),
            SegmentValue::Exact(_) | SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&xl)
            .y_label_formatter(&yl)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }
    for (t, row) in m.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let y = k.saturating_sub(1).saturating_sub(t);
        for (p, &c) in row.iter().enumerate() {
            let v = c as f64 / total;
            let shade = (255.0 * (1.0 - v)) as u8;
            let color = RGBColor(shade, shade, 255);
            let (x0, x1) = (SegmentValue::Exact(p), SegmentValue::Exact(p + 1));
            let (y0, y1) = (SegmentValue::Exact(y), SegmentValue::Exact(y + 1));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    color.filled(),
                )))
                .map_err(|e| fail(e.to_string()))?;
            if text && c > 0 {
                let ink = if v > 0.5 { WHITE } else { BLACK };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series(std::iter::once(Text::new(
                        c.to_string(),
                        (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)),
                        style,
                    )))
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}
