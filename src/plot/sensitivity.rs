//! Tornado per strategy: Spearman rank correlation of total cost with each
//! uncertain input, largest effect on top.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err};
use crate::report::ReportData;

pub struct SensitivityChart<'a> {
    pub data: &'a ReportData,
}

impl SensitivityChart<'_> {
    /// Strategies whose cost varies at all (a fixed cost has no correlation).
    pub fn panels(&self) -> Vec<usize> {
        (0..self.data.summary.strategies.len())
            .filter(|&s| {
                self.data.summary.strategies[s]
                    .sensitivity
                    .iter()
                    .any(|x| x.spearman_total_cost.is_finite())
            })
            .collect()
    }
}

fn short(name: &str) -> String {
    if name.len() > 44 {
        format!("...{}", &name[name.len() - 41..])
    } else {
        name.to_string()
    }
}

impl Chart for SensitivityChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let panels = self.panels();
        if panels.is_empty() {
            return Ok(());
        }
        let areas = area.split_evenly((panels.len(), 1));
        for (a, &s) in areas.iter().zip(&panels) {
            let st = &d.summary.strategies[s];
            let mut rows: Vec<(String, f64)> = st
                .sensitivity
                .iter()
                .filter(|x| x.spearman_total_cost.is_finite())
                .map(|x| (short(&x.input), x.spearman_total_cost))
                .collect();
            // Smallest effect first: the segmented axis runs bottom to top.
            rows.sort_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
            let n = rows.len();
            let mut c = ChartBuilder::on(a)
                .caption(
                    format!(
                        "{}: rank correlation of total cost with each input",
                        st.name
                    ),
                    (FONT, 14),
                )
                .margin(6)
                .x_label_area_size(28)
                .y_label_area_size(300)
                .build_cartesian_2d(-1.0..1.0, (0..n).into_segmented())
                .map_err(err)?;
            c.configure_mesh()
                .disable_y_mesh()
                .y_labels(n)
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) => {
                        rows.get(*i).map(|r| r.0.clone()).unwrap_or_default()
                    }
                    _ => String::new(),
                })
                .x_label_formatter(&|x| format!("{x:+.1}"))
                .label_style((FONT, 11))
                .draw()
                .map_err(err)?;
            let col = color(s);
            c.draw_series(rows.iter().enumerate().map(|(i, (_, r))| {
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (*r, SegmentValue::Exact(i + 1)),
                    ],
                    col.mix(0.85).filled(),
                )
            }))
            .map_err(err)?;
        }
        Ok(())
    }
}
