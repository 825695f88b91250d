//! Grouped bar charts (one group per workload or case, one bar per store or percentile) on a
//! log scale, drawn with plotters as SVG and PNG. The canvas is sized from the measured text,
//! so titles, labels and the legend always fit.

#![expect(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    reason = "pixel coordinates: non-negative and a few thousand at most"
)]

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::{Report, WorkloadResult};

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Drawing failed (in plotters or its backend).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The file being drawn.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// The chart has no bar with a positive value.
    #[error("chart {title:?}: nothing to draw (no positive value)")]
    Empty {
        /// The chart's title.
        title: String,
    },
}

/// A grouped bar chart: one group per category, one bar per series.
#[derive(Clone, Debug, Default)]
pub struct BarChart {
    /// Title, at the top.
    pub title: String,
    /// The value axis' label (" (log scale)" is added).
    pub y_label: String,
    /// Category names, along the x axis.
    pub groups: Vec<String>,
    /// Series: a name and one value per group (`None`, or a value ≤ 0: no bar).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// Series colours (a qualitative palette).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const FONT: &str = "sans-serif";
const TITLE_PX: u32 = 20;
const TEXT_PX: u32 = 14;
const BAR_PX: u32 = 14;
const MARGIN: u32 = 16;
const Y_AXIS_PX: u32 = 90;

/// The embedded font (`DejaVu` Sans): PNGs render the same text on every machine.
fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Only fails on a font that does not parse, which the embedded one does.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// `v` with a k/M/G suffix.
#[must_use]
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (d, s) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if (x - x.round()).abs() < 1e-9 {
        format!("{}{s}", x.round() as i64)
    } else {
        format!("{x:.1}{s}")
    }
}

/// An estimate of `text`'s width in pixels at `px` (`DejaVu` Sans averages 0.62 em a glyph);
/// used before a drawing area exists, with room to spare.
fn text_width(text: &str, px: u32) -> u32 {
    (text.chars().count() as f64 * f64::from(px) * 0.62).ceil() as u32
}

impl BarChart {
    /// Whether the chart has no bar to draw (no positive value): writing it is refused
    /// ([`ChartError::Empty`]); callers skip it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.y_range().is_none()
    }

    /// The positive values' range, widened to powers of ten.
    fn y_range(&self) -> Option<(f64, f64)> {
        let values = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().flatten().copied())
            .filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = values.fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
        })?;
        let lo = 10f64.powf(lo.log10().floor());
        let hi = 10f64.powf((hi.log10() + 1e-9).ceil()).max(lo * 10.0);
        Some((lo, hi))
    }

    /// Width and height: every group wide enough for its bars and its label, the whole wide
    /// enough for the title and the legend.
    fn size(&self) -> (u32, u32) {
        let bars = self.series.len().max(1) as u32 * BAR_PX + 16;
        let label = self
            .groups
            .iter()
            .map(|g| text_width(g, TEXT_PX) + 12)
            .max()
            .unwrap_or(0);
        let group = bars.max(label);
        let plot = group * self.groups.len().max(1) as u32;
        let legend: u32 = self
            .series
            .iter()
            .map(|(n, _)| text_width(n, TEXT_PX) + 34)
            .sum();
        let width = (Y_AXIS_PX + plot + 2 * MARGIN)
            .max(text_width(&self.title, TITLE_PX) + 2 * MARGIN)
            .max(legend + 2 * MARGIN);
        (width, 520)
    }

    /// Draws the chart on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let (lo, hi) = self.y_range().ok_or("nothing to draw")?;
        root.fill(&WHITE).map_err(err)?;
        let (width, _) = root.dim_in_pixel();
        let title = (FONT, TITLE_PX).into_font().color(&BLACK);
        root.draw(&Text::new(
            self.title.clone(),
            (width as i32 / 2, MARGIN as i32),
            title.pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
        // The legend, centred under the title.
        let text = (FONT, TEXT_PX).into_font().color(&BLACK);
        let legend: u32 = self
            .series
            .iter()
            .map(|(n, _)| text_width(n, TEXT_PX) + 34)
            .sum();
        let mut x = (width.saturating_sub(legend) / 2) as i32;
        let y = (MARGIN + TITLE_PX + 12) as i32;
        for (i, (name, _)) in self.series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            root.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], c.filled()))
                .map_err(err)?;
            root.draw(&Text::new(
                name.clone(),
                (x + 20, y + 7),
                text.pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
            x += (text_width(name, TEXT_PX) + 34) as i32;
        }
        let top = (MARGIN + TITLE_PX + 40) as i32;
        let body = root.margin(top, MARGIN as i32, MARGIN as i32, MARGIN as i32);
        let groups = self.groups.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&body)
            .x_label_area_size(TEXT_PX + 16)
            .y_label_area_size(Y_AXIS_PX)
            .build_cartesian_2d(0f64..groups, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc(format!("{} (log scale)", self.y_label))
            .y_label_formatter(&|v| si(*v))
            .label_style((FONT, TEXT_PX))
            .axis_desc_style((FONT, TEXT_PX))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(err)?;
        let n = self.series.len().max(1) as f64;
        let slot = 0.8 / n;
        for (s, (_, values)) in self.series.iter().enumerate() {
            let c = COLOURS[s % COLOURS.len()];
            let bars = values.iter().enumerate().filter_map(|(g, v)| {
                let v = (*v).filter(|v| v.is_finite() && *v > 0.0)?;
                let x0 = g as f64 + 0.1 + s as f64 * slot;
                Some(Rectangle::new([(x0, lo), (x0 + slot * 0.9, v)], c.filled()))
            });
            chart.draw_series(bars).map_err(err)?;
        }
        // Group names under the axis, at each group's centre.
        let label = text.pos(Pos::new(HPos::Center, VPos::Top));
        for (g, name) in self.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64 + 0.5, lo));
            root.draw(&Text::new(name.clone(), (px, py + 6), label.clone()))
                .map_err(err)?;
        }
        root.present().map_err(err)
    }

    fn check(&self) -> Result<(), ChartError> {
        match self.y_range() {
            Some(_) => Ok(()),
            None => Err(ChartError::Empty {
                title: self.title.clone(),
            }),
        }
    }

    /// Writes the chart as an SVG file.
    pub fn write_svg(&self, path: &Path) -> Result<(), ChartError> {
        self.check()?;
        font();
        let root = SVGBackend::new(path, self.size()).into_drawing_area();
        self.draw(&root).map_err(|message| ChartError::Draw {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Writes the chart as a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<(), ChartError> {
        self.check()?;
        font();
        let root = BitMapBackend::new(path, self.size()).into_drawing_area();
        self.draw(&root).map_err(|message| ChartError::Draw {
            path: path.to_path_buf(),
            message,
        })
    }
}

/// Writes `chart` as `STEM.svg` and `STEM.png`, where `file` is `STEM`, `STEM.svg` or
/// `STEM.png`. Returns the paths written.
pub fn write_both(file: &Path, chart: &BarChart) -> Result<Vec<PathBuf>, ChartError> {
    let stem = stem(file);
    let (svg, png) = (with_suffix(&stem, ".svg"), with_suffix(&stem, ".png"));
    chart.write_svg(&svg)?;
    chart.write_png(&png)?;
    Ok(vec![svg, png])
}

/// `file` without an `.svg` or `.png` extension.
#[must_use]
pub fn stem(file: &Path) -> PathBuf {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg" | "png") => file.with_extension(""),
        _ => file.to_path_buf(),
    }
}

/// `stem` with `suffix` appended to its file name (`x` + `-latency` = `x-latency`).
#[must_use]
pub fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The throughput chart of one report: ops/s per workload.
#[must_use]
pub fn throughput(report: &Report, title: String) -> BarChart {
    BarChart {
        title,
        y_label: "ops/s".into(),
        groups: names(&report.results),
        series: vec![(
            report.store.clone(),
            report
                .results
                .iter()
                .map(|r| Some(r.ops_per_sec()))
                .collect(),
        )],
    }
}

/// The latency chart of one report: p50, p99 and p99.9 per workload, in nanoseconds.
#[must_use]
pub fn latency(report: &Report, title: String) -> BarChart {
    let pick = |f: fn(&WorkloadResult) -> u64| -> Vec<Option<f64>> {
        report.results.iter().map(|r| Some(f(r) as f64)).collect()
    };
    BarChart {
        title,
        y_label: "latency, ns".into(),
        groups: names(&report.results),
        series: vec![
            ("p50".into(), pick(|r| r.latency.p50)),
            ("p99".into(), pick(|r| r.latency.p99)),
            ("p99.9".into(), pick(|r| r.latency.p999)),
        ],
    }
}

fn names(results: &[WorkloadResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| r.workload.name().to_string())
        .collect()
}
