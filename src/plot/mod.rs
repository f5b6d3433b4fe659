//! Charts, rendered to SVG and PNG in memory from finished report data.
//!
//! One file per chart; shared size, colours and fonts here. A chart never
//! computes a statistic: it draws what [`crate::report::ReportData`] (or a
//! sizing / break-even result) holds. PNG text uses an embedded DejaVu Sans
//! through ab_glyph, so nothing depends on system font libraries.

pub mod breakdown;
pub mod breakeven;
pub mod cost;
pub mod latency;
pub mod sensitivity;
pub mod sizing;
pub mod timeseries;

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::ReportData;

/// A rendered chart: `name.svg` and `name.png`.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
}

pub const FONT: &str = "sans-serif";
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 480;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The colour of series `i` (strategies keep their colour across charts).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

static FONT_ONCE: Once = Once::new();

fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font ships with the crate; it always parses.
            let _ = plotters::style::register_font(FONT, style, bytes);
        }
    });
}

/// Something that draws itself on any plotters backend.
pub trait Chart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Converts plotters' errors to text.
pub fn err<E: std::fmt::Display>(e: E) -> String {
    format!("cannot draw chart: {e}")
}

/// Renders a chart to SVG text and PNG bytes of `w` × `h` pixels.
pub fn render<C: Chart>(chart: &C, w: u32, h: u32) -> Result<(String, Vec<u8>), String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok((svg, encode_png(&rgb, w, h)?))
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| format!("cannot encode PNG: {e}"))?;
        writer
            .write_image_data(rgb)
            .map_err(|e| format!("cannot encode PNG: {e}"))?;
    }
    Ok(out)
}

pub fn figure<C: Chart>(
    name: &str,
    title: &str,
    chart: &C,
    w: u32,
    h: u32,
) -> Result<Figure, String> {
    let (svg, png) = render(chart, w, h)?;
    Ok(Figure {
        name: name.into(),
        title: title.into(),
        svg,
        png,
    })
}

/// Every chart of a run report.
pub fn report_figures(data: &ReportData) -> Result<Vec<Figure>, String> {
    let mut figs = vec![
        figure(
            "cost_distribution",
            "Cost per month: distribution over replications",
            &cost::CostChart { data },
            WIDTH,
            HEIGHT,
        )?,
        figure(
            "latency_cdf",
            "TTFT and TPOT over all requests of all replications",
            &latency::LatencyChart { data },
            WIDTH,
            HEIGHT,
        )?,
        figure(
            "cost_breakdown",
            "Mean cost per month by pool",
            &breakdown::BreakdownChart { data },
            WIDTH,
            120 + 60 * data.meta.strategies.len() as u32,
        )?,
    ];
    let tornado = sensitivity::SensitivityChart { data };
    let panels = tornado.panels().len() as u32;
    if panels > 0 {
        let rows = data.meta.inputs.len() as u32;
        figs.push(figure(
            "sensitivity",
            "Sensitivity (tornado): which unknown moves total cost",
            &tornado,
            WIDTH,
            panels * (70 + 28 * rows),
        )?);
    }
    for (i, series) in data.timeseries.iter().enumerate() {
        let name = format!("timeseries_{}", slug(&series.strategy));
        figs.push(figure(
            &name,
            &format!("Replication 0 over time: {}", series.strategy),
            &timeseries::TimeseriesChart { series, index: i },
            WIDTH,
            720,
        )?);
    }
    Ok(figs)
}

/// A file-name-safe form of a strategy name.
pub use crate::units::slug;

/// A range that plotters can draw: widened if empty or degenerate.
pub fn span(lo: f64, hi: f64) -> std::ops::Range<f64> {
    crate::report::padded_range(lo, hi)
}

/// Draws the series legend in the shared style.
pub fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, font_size))
        .position(position)
        .draw()
        .map_err(err)
}

/// Short money labels for axes.
pub fn money_label(x: &f64) -> String {
    crate::units::format_usd(*x)
}
