//! Mean cost per month by pool (and API overflow), stacked per strategy.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err, legend, money_label};
use crate::report::ReportData;

pub struct BreakdownChart<'a> {
    pub data: &'a ReportData,
}

impl Chart for BreakdownChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let n = d.meta.strategies.len();
        // One colour per distinct part name across strategies.
        let mut names: Vec<&str> = Vec::new();
        for parts in &d.cost_breakdown {
            for (p, _) in parts {
                if !names.contains(&p.as_str()) {
                    names.push(p);
                }
            }
        }
        let total_max = d
            .cost_breakdown
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|p| p.1)
                    .filter(|x| x.is_finite())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
            .max(1.0);
        let mut c = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..total_max * 1.15, (0..n).into_segmented())
            .map_err(err)?;
        c.configure_mesh()
            .disable_y_mesh()
            .x_desc("mean USD per month")
            .x_label_formatter(&money_label)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => d.meta.strategies.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (k, name) in names.iter().enumerate() {
            let col = color(k + 3);
            let mut bars = Vec::new();
            for (s, parts) in d.cost_breakdown.iter().enumerate() {
                let before: f64 = parts
                    .iter()
                    .take_while(|p| p.0 != *name)
                    .map(|p| p.1)
                    .filter(|x| x.is_finite())
                    .sum();
                if let Some((_, v)) = parts.iter().find(|p| p.0 == *name)
                    && v.is_finite()
                    && *v > 0.0
                {
                    bars.push(Rectangle::new(
                        [
                            (before, SegmentValue::Exact(s)),
                            (before + v, SegmentValue::Exact(s + 1)),
                        ],
                        col.mix(0.85).filled(),
                    ));
                }
            }
            c.draw_series(bars)
                .map_err(err)?
                .label(name.to_string())
                .legend(move |(a, b)| Rectangle::new([(a, b - 5), (a + 14, b + 5)], col.filled()));
        }
        legend(&mut c, SeriesLabelPosition::UpperRight, 12)?;
        Ok(())
    }
}
