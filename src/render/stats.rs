//! `autonomy stats` as text: the plan counts, the duration percentiles, exec resource use
//! and the per-directory table.

use crate::ops::stats::{Percentiles, Stats};
use std::fmt::Write;

pub fn render_text(s: &Stats, window: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plans proposed {window}:");
    let p = &s.plans;
    for (label, n) in [
        ("proposed", p.proposed),
        ("approved", p.approved),
        ("declined", p.declined),
        ("rejected", p.rejected),
        ("applied", p.applied),
        ("failed", p.failed),
        ("rolled back", p.rolled_back),
        ("still open", p.open),
    ] {
        let _ = writeln!(out, "  {label:<12} {n:>8}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Approval latency  {}",
        pct(&s.approval_latency_s, "plan", &seconds)
    );
    let _ = writeln!(
        out,
        "Apply duration    {}",
        pct(&s.apply_ms, "run", &millis)
    );
    let _ = writeln!(
        out,
        "Verify duration   {}",
        pct(&s.verify_ms, "run", &millis)
    );
    let e = &s.exec;
    if e.steps == 0 {
        let _ = writeln!(out, "Exec steps        none recorded");
    } else {
        let _ = writeln!(
            out,
            "Exec steps        {} in {}: CPU {} (user {}, sys {}), peak memory {}",
            e.steps,
            crate::util::text::count(e.runs, "run"),
            millis(e.cpu_ms),
            millis(e.user_ms),
            millis(e.sys_ms),
            e.max_rss_kib
                .map(|k| super::diff::human_size(k.max(0) as u64 * 1024))
                .unwrap_or_else(|| "not recorded".into())
        );
    }
    let _ = writeln!(out);
    if s.directories.is_empty() {
        let _ = writeln!(out, "By directory (depth {}): no plans", s.depth);
        return out;
    }
    let _ = writeln!(out, "By directory (depth {}):", s.depth);
    let width = s
        .directories
        .iter()
        .map(|d| d.dir.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let _ = writeln!(
        out,
        "  {:<width$} {:>7} {:>16} {:>8} {:>16}",
        "directory", "plans", "rolled back", "failed", "failed verifies"
    );
    for d in &s.directories {
        let _ = writeln!(
            out,
            "  {:<width$} {:>7} {:>16} {:>8} {:>16}",
            d.dir,
            d.plans,
            format!("{} ({:.0}%)", d.rolled_back, d.rollback_rate * 100.0),
            d.failed,
            format!(
                "{} ({:.0}%)",
                d.failed_verifies,
                d.failed_verify_rate * 100.0
            ),
        );
    }
    out
}

fn pct(p: &Percentiles, unit: &str, fmt: &dyn Fn(i64) -> String) -> String {
    match (p.p50, p.p95) {
        (Some(a), Some(b)) => format!(
            "p50 {}, p95 {}, max {} ({})",
            fmt(a),
            fmt(b),
            fmt(p.max.unwrap_or(b)),
            crate::util::text::count(p.count, unit)
        ),
        _ => "none recorded".into(),
    }
}

fn millis(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn seconds(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}
