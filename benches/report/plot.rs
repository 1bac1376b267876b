//! Throughput against threads, one SVG per workload, drawn with plotters.

use crate::results::{is_ours, Workload};
use plotters::prelude::*;
use std::path::Path;

/// Draws `workload` into `path`: a line per competitor (ours thicker), the rate on a logarithmic
/// axis (the competitors of one workload can differ a hundredfold: the chart holds `log10` of
/// the rate and labels it with the rate), the thread counts evenly spaced.
pub(crate) fn throughput_svg(path: &Path, title: &str, workload: &Workload) -> Result<(), String> {
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (760, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let rates = workload
            .rates
            .values()
            .map(|r| (r.per_second / 1e6).log10());
        let (min, max) = rates.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
        // Thread counts evenly spaced by their index (1, 2, 4, 8 would crowd a linear axis).
        let columns = workload.threads.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .right_y_label_area_size(0)
            // Two empty columns on the right hold the legend.
            .build_cartesian_2d(-1..columns + 2, (min - 0.15)..(max + 0.15))?;
        let thread_label = |x: &i32| {
            let t = usize::try_from(*x)
                .ok()
                .and_then(|i| workload.threads.get(i));
            t.map_or_else(String::new, u32::to_string)
        };
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc("million operations / s")
            .x_labels(workload.threads.len() + 4)
            .x_label_formatter(&thread_label)
            .y_labels(8)
            .y_label_formatter(&|y| crate::markdown::significant(10f64.powf(*y)))
            .light_line_style(WHITE)
            .draw()?;
        for (i, competitor) in workload.competitors.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let width = if is_ours(competitor) { 3 } else { 1 };
            let points: Vec<(i32, f64)> = (0..columns)
                .zip(&workload.threads)
                .filter_map(|(x, &t)| {
                    Some((x, (workload.rate(competitor, t)?.per_second / 1e6).log10()))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))?
                .label(competitor.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(width))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("{}: {e}", path.display()))
}

/// Line colours, distinct from each other on white.
const COLORS: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(0, 0, 0),
];
