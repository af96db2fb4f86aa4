//! SVG plots with `plotters`: a run's rate and latency over time, and RFC 2544's throughput and
//! latency against frame size. (SVG only: PNG needs a font rasteriser the build does not carry;
//! convert with `rsvg-convert` if a PNG is needed.)

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;
use crate::rfc2544::Rfc2544Report;

const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

fn check(path: &Path) -> Result<(), String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => Ok(()),
        _ => Err("plots are written as SVG: name the file .svg (rsvg-convert makes a PNG)".into()),
    }
}

fn e<E: std::fmt::Debug>(x: E) -> String {
    format!("{x:?}")
}

/// Rate (tx and rx Mpps per port) and latency (p50 and p99 per port) over time.
pub fn run(r: &Report, path: &Path) -> Result<(), String> {
    check(path)?;
    let root = SVGBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let (top, bottom) = root.split_vertically(350);
    let secs = r.series.len().max(1) as f64;
    let max_rate = r
        .series
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| p.tx.max(p.rx)))
        .max()
        .unwrap_or(1) as f64
        / 1e6;
    let mut c = ChartBuilder::on(&top)
        .caption("rate per port (Mpps)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..secs, 0.0..max_rate * 1.1 + 1e-9)
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("second")
        .y_desc("Mpps")
        .draw()
        .map_err(e)?;
    for (pi, port) in r.ports.iter().enumerate() {
        for (k, rx) in [false, true].iter().enumerate() {
            let color = COLORS[(2 * pi + k) % COLORS.len()];
            let pts: Vec<(f64, f64)> = r
                .series
                .iter()
                .filter_map(|s| {
                    s.ports.get(pi).map(|p| {
                        (
                            f64::from(s.second) + 0.5,
                            if *rx { p.rx } else { p.tx } as f64 / 1e6,
                        )
                    })
                })
                .collect();
            c.draw_series(LineSeries::new(pts, color))
                .map_err(e)?
                .label(format!("{} {}", port.name, if *rx { "rx" } else { "tx" }))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color));
        }
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    let max_lat = r
        .series
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| p.p99_ns))
        .max()
        .unwrap_or(1) as f64
        / 1e3;
    let mut c = ChartBuilder::on(&bottom)
        .caption("latency per receiving port (us)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..secs, 0.0..max_lat * 1.1 + 1e-9)
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("second")
        .y_desc("us")
        .draw()
        .map_err(e)?;
    for (pi, port) in r.ports.iter().enumerate() {
        for (k, p99) in [false, true].iter().enumerate() {
            let color = COLORS[(2 * pi + k) % COLORS.len()];
            let pts: Vec<(f64, f64)> = r
                .series
                .iter()
                .filter_map(|s| {
                    s.ports.get(pi).filter(|p| p.rx > 0).map(|p| {
                        (
                            f64::from(s.second) + 0.5,
                            if *p99 { p.p99_ns } else { p.p50_ns } as f64 / 1e3,
                        )
                    })
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            c.draw_series(LineSeries::new(pts, color))
                .map_err(e)?
                .label(format!(
                    "{} {}",
                    port.name,
                    if *p99 { "p99" } else { "p50" }
                ))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color));
        }
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Throughput (percent of line rate and Mpps) and latency (p50/p99 at 50 % and 90 % of the
/// throughput) against frame size.
pub fn rfc2544(r: &Rfc2544Report, path: &Path) -> Result<(), String> {
    check(path)?;
    let root = SVGBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let (top, bottom) = root.split_vertically(350);
    let sizes: Vec<f64> = r.sizes.iter().map(|s| f64::from(s.size)).collect();
    let xmax = sizes.iter().copied().fold(64.0, f64::max) * 1.05;
    let mpps_max = r
        .sizes
        .iter()
        .map(|s| s.throughput_pps / 1e6)
        .fold(0.0, f64::max);
    let mut c = ChartBuilder::on(&top)
        .caption(
            "RFC 2544 throughput (Mpps; label: % of line rate)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, 0.0..mpps_max * 1.2 + 1e-9)
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("frame size (bytes)")
        .y_desc("Mpps")
        .draw()
        .map_err(e)?;
    let pts: Vec<(f64, f64)> = r
        .sizes
        .iter()
        .map(|s| (f64::from(s.size), s.throughput_pps / 1e6))
        .collect();
    c.draw_series(LineSeries::new(pts.clone(), BLUE))
        .map_err(e)?;
    c.draw_series(r.sizes.iter().map(|s| {
        let p = (f64::from(s.size), s.throughput_pps / 1e6);
        EmptyElement::at(p)
            + Circle::new((0, 0), 3, BLUE.filled())
            + Text::new(
                format!("{:.1}%", s.throughput_pct),
                (5, -12),
                ("sans-serif", 12),
            )
    }))
    .map_err(e)?;
    let lat = |s: &crate::rfc2544::SizeResult, f: f64, p99: bool| {
        s.latency
            .iter()
            .find(|l| l.of_throughput_pct == f)
            .map(|l| if p99 { l.trial.p99_ns } else { l.trial.p50_ns } as f64 / 1e3)
    };
    let lmax = r
        .sizes
        .iter()
        .filter_map(|s| lat(s, 90.0, true).or(lat(s, 100.0, true)))
        .fold(0.0, f64::max);
    let mut c = ChartBuilder::on(&bottom)
        .caption(
            "latency (us) at 50 % and 90 % of throughput",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, 0.0..lmax * 1.2 + 1e-9)
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("frame size (bytes)")
        .y_desc("us")
        .draw()
        .map_err(e)?;
    for (k, (f, p99)) in [(50.0, false), (50.0, true), (90.0, false), (90.0, true)]
        .into_iter()
        .enumerate()
    {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<(f64, f64)> = r
            .sizes
            .iter()
            .filter_map(|s| lat(s, f, p99).map(|v| (f64::from(s.size), v)))
            .collect();
        c.draw_series(LineSeries::new(pts, color))
            .map_err(e)?
            .label(format!("{} at {f}%", if p99 { "p99" } else { "p50" }))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}
