//! Charts and `report.html`: written beside `summary.json`, well-formed,
//! self-contained, and (where a browser is installed) rendered non-blank.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::*;

/// Runs the default scenario (few replications) once per test process.
fn report_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = fleetsim(
            dir.path(),
            &["run", "--replications", "12", "--quiet", "--out", "r"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        dir
    })
    .path()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(report_dir().join("r").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Decodes a PNG: (width, height, RGB(A) bytes, channels).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

/// Share of pixels that are not (near) white.
fn ink(rgb: &[u8], channels: usize) -> f64 {
    let n = rgb.len() / channels;
    let dark = rgb
        .chunks(channels)
        .filter(|p| p[0] < 235 || p[1] < 235 || p[2] < 235)
        .count();
    dark as f64 / n as f64
}

#[test]
fn every_chart_is_written_as_svg_and_png() {
    let charts = [
        "cost_distribution",
        "latency_cdf",
        "cost_breakdown",
        "sensitivity",
        "timeseries_always-on",
        "timeseries_hybrid",
        "timeseries_scale-to-zero",
        "timeseries_api-only",
    ];
    for c in charts {
        let svg = String::from_utf8(read(&format!("{c}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{c}.svg");
        let (w, h, px, ch) = decode_png(&read(&format!("{c}.png")));
        assert!(w >= 600 && h >= 100, "{c}.png is {w}x{h}");
        let share = ink(&px, ch);
        assert!(
            share > 0.01 && share < 0.9,
            "{c}.png has {:.1}% ink",
            share * 100.0
        );
    }
    // Axis labels with units.
    let svg = String::from_utf8(read("cost_distribution.svg")).unwrap();
    assert!(svg.contains("USD per month"));
    let svg = String::from_utf8(read("latency_cdf.svg")).unwrap();
    assert!(svg.contains("seconds (log scale)"));
}

#[test]
fn the_report_is_well_formed_and_self_contained() {
    let html = String::from_utf8(read("report.html")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&html);
    reader.config_mut().check_end_names = true;
    let mut depth = 0i64;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "report.html is not well-formed at byte {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    for needle in [
        "Key figures per strategy",
        "Paired comparison",
        "Uncertain inputs",
        "VaR95",
        "<svg",
        "[[strategy]]",
        // The default scenario draws mfu and mbu around the fitted values.
        "Fidelity of the engine model",
        "<li>step model constants mfu, mbu set by the scenario",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert_eq!(html.matches("<figure").count(), 8, "every chart inline");
    for external in ["http://", "https://", "src=\"", "<link", "<script"] {
        let hits: Vec<_> = html
            .match_indices(external)
            .filter(|(i, _)| !html[i.saturating_sub(20)..*i].contains("xmlns"))
            .collect();
        assert!(
            hits.is_empty(),
            "report refers to something outside itself: {external}"
        );
    }
}

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            let out = Command::new("which").arg(b).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = browser() else {
        // CI installs Chromium and sets FLEETSIM_REQUIRE_BROWSER=1: there a
        // missing browser fails. Elsewhere the skip is said on the terminal
        // (written past the test harness's capture, so it shows).
        assert!(
            std::env::var_os("FLEETSIM_REQUIRE_BROWSER").is_none(),
            "FLEETSIM_REQUIRE_BROWSER is set but no chromium is installed"
        );
        skipped(
            "report::the_report_renders_in_headless_chromium",
            "no chromium installed",
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let shot = profile.path().join("shot.png");
    let page = report_dir().join("r/report.html");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, px, ch) = decode_png(&std::fs::read(&shot).unwrap());
    assert!(w >= 1000 && h >= 1000);
    let share = ink(&px, ch);
    assert!(
        share > 0.03,
        "the rendered report is blank ({:.2}% ink)",
        share * 100.0
    );
}
