//! One sample replication over time: arrival rate, live replicas by pool,
//! queue depth, busy fraction.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, FONT, color, err, legend};
use crate::report::StrategySeries;

pub struct TimeseriesChart<'a> {
    pub series: &'a StrategySeries,
    /// The strategy's index (its colour).
    pub index: usize,
}

/// A named, coloured series of (seconds, value) points.
type Line = (String, RGBColor, Vec<(f64, f64)>);

/// Axis numbers without trailing zeros.
fn compact(y: f64) -> String {
    if y.abs() >= 100.0 || y.fract() == 0.0 {
        format!("{y:.0}")
    } else {
        format!("{y:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn hours_or_minutes(horizon_s: f64) -> (f64, &'static str) {
    if horizon_s > 6.0 * 3600.0 {
        (3600.0, "hours")
    } else {
        (60.0, "minutes")
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    unit: (f64, &str),
    t_max: f64,
    lines: &[Line],
) -> Result<(), String> {
    let y_max = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.15;
    let mut c = ChartBuilder::on(area)
        .caption(title, (FONT, 15))
        .margin(6)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..t_max / unit.0, 0.0..y_max)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc(unit.1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| compact(*y))
        .label_style((FONT, 11))
        .draw()
        .map_err(err)?;
    for (name, col, pts) in lines {
        let col = *col;
        let line: Vec<(f64, f64)> = pts.iter().map(|&(t, y)| (t / unit.0, y)).collect();
        let s = c
            .draw_series(LineSeries::new(line, col.stroke_width(2)))
            .map_err(err)?;
        if lines.len() > 1 {
            s.label(name.clone()).legend(move |(a, b)| {
                PathElement::new(vec![(a, b), (a + 18, b)], col.stroke_width(3))
            });
        }
    }
    if lines.len() > 1 {
        legend(&mut c, SeriesLabelPosition::UpperRight, 11)?;
    }
    Ok(())
}

impl Chart for TimeseriesChart<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let s = self.series;
        let t_max = s.samples.last().map_or(1.0, |x| x.t_s).max(1.0);
        let unit = hours_or_minutes(t_max);
        let panels = area.split_evenly((4, 1));
        let col = color(self.index);
        let pick = |f: &dyn Fn(&crate::simulation::TimeSample) -> f64| {
            s.samples.iter().map(|x| (x.t_s, f(x))).collect::<Vec<_>>()
        };
        panel(
            &panels[0],
            "Arrival rate (requests/s)",
            unit,
            t_max,
            &[(
                "arrivals".into(),
                col,
                pick(&|x| x.arrivals as f64 / s.interval_s),
            )],
        )?;
        let pools: Vec<Line> = s
            .pools
            .iter()
            .enumerate()
            .map(|(p, name)| {
                (
                    name.clone(),
                    color(p + 3),
                    pick(&|x| x.live_by_pool.get(p).copied().unwrap_or(0) as f64),
                )
            })
            .collect();
        if pools.is_empty() {
            panel(
                &panels[1],
                "Live replicas (API only: none)",
                unit,
                t_max,
                &[],
            )?;
        } else {
            panel(&panels[1], "Live replicas by pool", unit, t_max, &pools)?;
        }
        panel(
            &panels[2],
            "Requests waiting (queues and backlog)",
            unit,
            t_max,
            &[("queue".into(), col, pick(&|x| x.queue_depth as f64))],
        )?;
        panel(
            &panels[3],
            "Busy fraction of ready replicas",
            unit,
            t_max,
            &[("busy".into(), col, pick(&|x| x.busy_fraction))],
        )
    }
}
