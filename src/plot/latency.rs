//! TTFT and TPOT CDFs per strategy over every request of every replication.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err, legend};
use crate::report::ReportData;
use crate::units::format_duration;

pub struct LatencyChart<'a> {
    pub data: &'a ReportData,
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    cdfs: &[Vec<(f64, f64)>],
    names: &[String],
    slo: Option<f64>,
) -> Result<(), String> {
    let pts: Vec<f64> = cdfs
        .iter()
        .flatten()
        .map(|p| p.0)
        .filter(|x| *x > 0.0 && x.is_finite())
        .collect();
    let lo = pts.iter().cloned().fold(f64::INFINITY, f64::min).max(1e-4);
    let hi = pts.iter().cloned().fold(0.0, f64::max).max(lo * 10.0);
    let (lo, hi) = if lo.is_finite() {
        (lo / 1.5, hi * 1.5)
    } else {
        (1e-3, 10.0)
    };
    let mut c = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("seconds (log scale)")
        .y_desc("share of requests")
        .x_label_formatter(&|x| format_duration(*x))
        .label_style((FONT, 12))
        .draw()
        .map_err(err)?;
    for (i, cdf) in cdfs.iter().enumerate() {
        let col = color(i);
        let line: Vec<(f64, f64)> = cdf.iter().map(|&(x, q)| (x.max(lo), q)).collect();
        c.draw_series(LineSeries::new(line, col.stroke_width(2)))
            .map_err(err)?
            .label(names[i].clone())
            .legend(move |(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], col.stroke_width(3)));
    }
    if let Some(s) = slo.filter(|s| *s > lo && *s < hi) {
        c.draw_series(LineSeries::new(
            vec![(s, 0.0), (s, 1.0)],
            BLACK.mix(0.6).stroke_width(1),
        ))
        .map_err(err)?
        .label("SLO")
        .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], BLACK.stroke_width(1)));
    }
    legend(&mut c, SeriesLabelPosition::LowerRight, 12)?;
    Ok(())
}

impl Chart for LatencyChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        panel(
            &left,
            "Time to first token (CDF)",
            &d.ttft_cdf,
            &d.meta.strategies,
            Some(d.meta.slo_ttft_s),
        )?;
        panel(
            &right,
            "Time per output token (CDF)",
            &d.tpot_cdf,
            &d.meta.strategies,
            Some(d.meta.slo_tpot_s),
        )
    }
}
