//! Cost per month per strategy: overlaid histograms and CDFs, with the API
//! baseline's median as a reference line. The bins, CDF steps and median
//! come ready from [`crate::report::CostDistribution`].

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err, legend, money_label};
use crate::report::ReportData;

pub struct CostChart<'a> {
    pub data: &'a ReportData,
}

impl Chart for CostChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let cd = &d.cost_distribution;
        let x = cd.axis.clone();
        let width = cd.bin_width;
        let hist = &cd.histogram;
        let api_median = cd.api_median;
        let ymax = hist.iter().flatten().cloned().fold(0.0, f64::max).max(0.05) * 1.1;
        let mut c = ChartBuilder::on(&left)
            .caption("Cost per month (histogram)", (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x.clone(), 0.0..ymax)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("USD per month")
            .y_desc("share of replications")
            .x_labels(6)
            .x_label_formatter(&money_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (i, h) in hist.iter().enumerate() {
            let mut pts = Vec::with_capacity(2 * h.len() + 2);
            for (b, v) in h.iter().enumerate() {
                let x0 = x.start + b as f64 * width;
                pts.push((x0, *v));
                pts.push((x0 + width, *v));
            }
            let col = color(i);
            c.draw_series(LineSeries::new(pts, col.stroke_width(2)))
                .map_err(err)?
                .label(d.meta.strategies[i].clone())
                .legend(move |(a, b)| {
                    PathElement::new(vec![(a, b), (a + 18, b)], col.stroke_width(3))
                });
        }
        if api_median.is_finite() {
            c.draw_series(LineSeries::new(
                vec![(api_median, 0.0), (api_median, ymax)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?
            .label("API baseline (median)")
            .legend(|(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], BLACK.stroke_width(1)));
        }
        legend(&mut c, SeriesLabelPosition::UpperRight, 12)?;

        // Empirical CDFs.
        let mut c = ChartBuilder::on(&right)
            .caption("Cost per month (CDF)", (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x.clone(), 0.0..1.0)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("USD per month")
            .y_desc("P(cost <= x)")
            .x_labels(6)
            .x_label_formatter(&money_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (i, pts) in cd.ecdf.iter().enumerate() {
            c.draw_series(LineSeries::new(pts.clone(), color(i).stroke_width(2)))
                .map_err(err)?;
        }
        if api_median.is_finite() {
            c.draw_series(LineSeries::new(
                vec![(api_median, 0.0), (api_median, 1.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}
