//! Log-log charts of a figure against dataset size, one line per engine, as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::engines::BoxError;

/// One engine's points: (assignments, value, extrapolated).
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64, bool)>,
}

/// The decade at or below `v`, and the one at or above.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    )
}

/// Measured points joined by solid lines, extrapolated ones by dashes with hollow markers.
pub fn log_log(path: &Path, title: &str, y_label: &str, series: &[Series]) -> Result<(), BoxError> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x_lo, x_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let (y_lo, y_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    if x_lo > x_hi {
        return Err("nothing to plot".into());
    }
    // Sizes are decades already: a margin either side, no empty decade.
    let (x_lo, x_hi) = (x_lo / 1.5, x_hi * 1.5);
    let (y_lo, y_hi) = decades(y_lo, y_hi);

    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("assignments")
        .y_desc(y_label)
        .x_label_formatter(&|x| si(*x))
        .y_label_formatter(&|y| si(*y))
        .draw()?;

    for s in series {
        let color = s.color;
        let measured: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| !p.2)
            .map(|p| (p.0, p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(
                measured.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(measured.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        // Dashes from the last measured point through the extrapolated ones.
        let mut guessed: Vec<(f64, f64)> = measured.last().copied().into_iter().collect();
        guessed.extend(s.points.iter().filter(|p| p.2).map(|p| (p.0, p.1)));
        if guessed.len() > 1 {
            chart.draw_series(DashedLineSeries::new(
                guessed.clone(),
                6,
                4,
                color.stroke_width(2),
            ))?;
            chart.draw_series(
                guessed
                    .iter()
                    .skip(1)
                    .map(|&p| Circle::new(p, 4, color.stroke_width(2))),
            )?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

/// 10000 → "10 k", 0.0002 → "200 µ" (axis labels).
pub fn si(v: f64) -> String {
    let units = [
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1.0, ""),
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
    ];
    for (scale, unit) in units {
        if v.abs() >= scale {
            let n = v / scale;
            let text = if n >= 10.0 || n.fract() == 0.0 {
                format!("{n:.0}")
            } else {
                format!("{n:.1}")
            };
            return if unit.is_empty() {
                text
            } else {
                format!("{text} {unit}")
            };
        }
    }
    format!("{v}")
}
