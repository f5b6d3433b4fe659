//! `fleetsim size`: each candidate's median cost per month against its risk
//! of missing the SLO target (1 − P(SLO met)); the required confidence is a
//! vertical line, the chosen candidate a ring.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, FONT, color, err, legend, money_label, span};
use crate::sizing::SizingResult;

pub struct SizingChart<'a> {
    pub result: &'a SizingResult,
}

impl Chart for SizingChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let r = self.result;
        let mut strategies: Vec<&str> = Vec::new();
        for c in &r.candidates {
            if !strategies.contains(&c.strategy.as_str()) {
                strategies.push(&c.strategy);
            }
        }
        let costs: Vec<f64> = r
            .candidates
            .iter()
            .map(|c| c.cost_per_month_p50_usd)
            .filter(|x| x.is_finite())
            .collect();
        let y = span(
            costs.iter().cloned().fold(f64::INFINITY, f64::min),
            costs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        );
        let mut c = ChartBuilder::on(area)
            .caption(format!("Cost against SLO risk (target: SLO attainment >= {} in >= {:.0}% of replications)", r.target.slo_attainment, r.target.confidence * 100.0), (FONT, 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.02..1.02, y)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("risk of missing the SLO target: share of replications below it")
            .y_desc("median cost per month (USD)")
            .y_label_formatter(&money_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        let risk_limit = 1.0 - r.target.confidence;
        let (y0, y1) = (
            c.plotting_area().get_y_range().start,
            c.plotting_area().get_y_range().end,
        );
        c.draw_series(LineSeries::new(
            vec![(risk_limit, y0), (risk_limit, y1)],
            BLACK.mix(0.6).stroke_width(1),
        ))
        .map_err(err)?
        .label("allowed risk")
        .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], BLACK.stroke_width(1)));
        for (i, s) in strategies.iter().enumerate() {
            let col = color(i);
            let pts: Vec<((f64, f64), &str)> = r
                .candidates
                .iter()
                .filter(|c| c.strategy == *s)
                .map(|c| {
                    (
                        (1.0 - c.prob_slo_met, c.cost_per_month_p50_usd),
                        c.label.as_str(),
                    )
                })
                .collect();
            c.draw_series(pts.iter().map(|(p, _)| Circle::new(*p, 5, col.filled())))
                .map_err(err)?
                .label(s.to_string())
                .legend(move |(a, b)| Circle::new((a + 8, b), 5, col.filled()));
            // Each point says which candidate it is.
            // (to the left near the right edge, where it would be cut off).
            c.draw_series(pts.iter().map(|(p, label)| {
                let right = p.0 > 0.75;
                let style = (FONT, 11).into_font().color(&col).pos(Pos::new(
                    if right { HPos::Right } else { HPos::Left },
                    VPos::Center,
                ));
                EmptyElement::at(*p)
                    + Text::new(label.to_string(), (if right { -9 } else { 9 }, 0), style)
            }))
            .map_err(err)?;
        }
        if let Some(best) = r.best() {
            c.draw_series(std::iter::once(Circle::new(
                (1.0 - best.prob_slo_met, best.cost_per_month_p50_usd),
                11,
                BLACK.stroke_width(2),
            )))
            .map_err(err)?
            .label("cheapest that meets the target")
            .legend(|(a, b)| Circle::new((a + 8, b), 6, BLACK.stroke_width(2)));
        }
        legend(&mut c, SeriesLabelPosition::UpperRight, 12)?;
        Ok(())
    }
}
