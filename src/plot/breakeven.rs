//! `fleetsim breakeven`: cost per 1M output tokens against monthly volume,
//! per strategy (median line, p5–p95 band), against the API's price.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err, legend, money_label};
use crate::breakeven::BreakevenResult;

pub struct BreakevenChart<'a> {
    pub result: &'a BreakevenResult,
}

fn tokens_label(x: &f64) -> String {
    let a = x.abs();
    if a >= 1e12 {
        format!("{:.0}T", x / 1e12)
    } else if a >= 1e9 {
        format!("{:.0}B", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.0}M", x / 1e6)
    } else if a >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

impl Chart for BreakevenChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let r = self.result;
        let xs: Vec<f64> = r
            .points
            .iter()
            .map(|p| p.monthly_output_tokens)
            .filter(|x| *x > 0.0 && x.is_finite())
            .collect();
        let ys: Vec<f64> = r
            .points
            .iter()
            .flat_map(|p| {
                p.strategies
                    .iter()
                    .flat_map(|b| [b.p5, b.p95])
                    .chain([p.api_per_m_output.p50])
            })
            .filter(|y| *y > 0.0 && y.is_finite())
            .collect();
        let (x0, x1) = (
            xs.iter().cloned().fold(f64::INFINITY, f64::min),
            xs.iter().cloned().fold(0.0, f64::max),
        );
        let (y0, y1) = (
            ys.iter().cloned().fold(f64::INFINITY, f64::min),
            ys.iter().cloned().fold(0.0, f64::max),
        );
        if !(x0.is_finite() && y0.is_finite()) {
            return Err("no volumes to draw".into());
        }
        let mut c = ChartBuilder::on(area)
            .caption(
                "Cost per 1M output tokens against monthly volume",
                (FONT, 18),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (x0 / 1.2..x1 * 1.2).log_scale(),
                (y0 / 1.5..y1 * 1.5).log_scale(),
            )
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("output tokens per month (log scale)")
            .y_desc("USD per 1M output tokens (log scale)")
            .x_label_formatter(&tokens_label)
            .y_label_formatter(&money_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (k, name) in r.strategies.iter().enumerate() {
            if r.crossovers.iter().all(|x| &x.strategy != name) {
                continue; // the API-only plan is the reference line
            }
            let col = color(k);
            let band: Vec<(f64, f64)> = r
                .points
                .iter()
                .map(|p| (p.monthly_output_tokens, p.strategies[k].p95))
                .chain(
                    r.points
                        .iter()
                        .rev()
                        .map(|p| (p.monthly_output_tokens, p.strategies[k].p5)),
                )
                .filter(|(x, y)| *x > 0.0 && *y > 0.0 && y.is_finite())
                .collect();
            c.draw_series(std::iter::once(Polygon::new(band, col.mix(0.18).filled())))
                .map_err(err)?;
            let line: Vec<(f64, f64)> = r
                .points
                .iter()
                .map(|p| (p.monthly_output_tokens, p.strategies[k].p50))
                .filter(|(x, y)| *x > 0.0 && *y > 0.0 && y.is_finite())
                .collect();
            c.draw_series(LineSeries::new(line, col.stroke_width(2)))
                .map_err(err)?
                .label(format!("{name} (median, p5-p95 band)"))
                .legend(move |(a, b)| {
                    PathElement::new(vec![(a, b), (a + 18, b)], col.stroke_width(3))
                });
            // Each volume: a filled dot where it meets the SLO, a cross where
            // it fails it or is overloaded (a price it cannot deliver).
            let marks = r
                .points
                .iter()
                .map(|p| {
                    (
                        p.monthly_output_tokens,
                        p.strategies[k].p50,
                        p.checks[k].passes,
                    )
                })
                .filter(|(x, y, _)| *x > 0.0 && *y > 0.0 && y.is_finite());
            for (x, y, passes) in marks {
                if passes {
                    c.draw_series(std::iter::once(Circle::new((x, y), 4, col.filled())))
                        .map_err(err)?;
                } else {
                    c.draw_series(std::iter::once(Cross::new((x, y), 5, col.stroke_width(2))))
                        .map_err(err)?;
                }
            }
            // Its capacity limit: the last volume at which it meets the SLO.
            if let Some(cap) = r
                .crossovers
                .iter()
                .find(|x| &x.strategy == name)
                .and_then(|x| x.capacity_volume)
                .filter(|cap| *cap < x1)
            {
                c.draw_series(DashedLineSeries::new(
                    [(cap, y0 / 1.5), (cap, y1 * 1.5)],
                    6,
                    4,
                    col.stroke_width(1),
                ))
                .map_err(err)?
                .label(format!("{name}: meets the SLO up to here (x: fails it)"))
                .legend(move |(a, b)| {
                    PathElement::new(vec![(a, b), (a + 18, b)], col.stroke_width(1))
                });
            }
        }
        let api: Vec<(f64, f64)> = r
            .points
            .iter()
            .map(|p| (p.monthly_output_tokens, p.api_per_m_output.p50))
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .collect();
        c.draw_series(LineSeries::new(api, BLACK.stroke_width(2)))
            .map_err(err)?
            .label("API (median)")
            .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], BLACK.stroke_width(2)));
        legend(&mut c, SeriesLabelPosition::UpperRight, 12)?;
        Ok(())
    }
}
