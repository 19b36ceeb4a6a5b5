//! The latency-over-time plot: one dot per client operation at its
//! invocation time, height its latency (log scale), colour its outcome;
//! fault periods shaded and labelled. Plain SVG written by hand.

use std::fmt::Write as _;

use crate::history::{pair, Op, OpType, Process, Value, F};

/// A shaded interval: (start ns, end ns, label).
pub type Period = (u64, u64, String);

/// Fault periods from the nemesis records: from each `fault` invocation to
/// the completion of the following `heal` (or the end of the history).
pub fn fault_periods(ops: &[Op]) -> Vec<Period> {
    let mut out = Vec::new();
    let mut open: Option<(u64, String)> = None;
    let end = ops.last().map_or(0, |o| o.time);
    for op in ops.iter().filter(|o| o.process == Process::Nemesis) {
        match (op.f, op.typ) {
            (F::Fault, OpType::Invoke) => {
                let label = match &op.value {
                    Value::Nemesis(n) => format!("{} {}", n.kind, n.targets.join(",")),
                    _ => "fault".into(),
                };
                if let Some((s, l)) = open.take() {
                    out.push((s, op.time, l));
                }
                open = Some((op.time, label));
            }
            (F::Heal, OpType::Ok | OpType::Info | OpType::Fail) => {
                if let Some((s, l)) = open.take() {
                    out.push((s, op.time, l));
                }
            }
            _ => {}
        }
    }
    if let Some((s, l)) = open {
        out.push((s, end, l));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the plot.
pub fn latency_svg(ops: &[Op], title: &str) -> String {
    const W: f64 = 1100.0;
    const H: f64 = 480.0;
    const L: f64 = 70.0;
    const R: f64 = 150.0;
    const T: f64 = 40.0;
    const B: f64 = 50.0;
    let pw = W - L - R;
    let ph = H - T - B;
    let completed = pair(ops).unwrap_or_default();
    let points: Vec<(f64, f64, OpType)> = completed
        .iter()
        .filter(|c| matches!(c.invoke.process, Process::Client(_)))
        .filter_map(|c| {
            let lat = c.latency_ns()?;
            Some((
                c.invoke.time as f64 / 1e9,
                (lat as f64 / 1e6).max(0.01),
                c.typ(),
            ))
        })
        .collect();
    let t_end = (ops.last().map_or(0, |o| o.time) as f64 / 1e9).max(1.0);
    let max_ms = points.iter().map(|p| p.1).fold(1.0f64, f64::max);
    let lo = -1.0f64; // 0.1 ms
    let hi = max_ms.log10().ceil().max(1.0);
    let x = |t: f64| L + t / t_end * pw;
    let y = |ms: f64| T + ph - (ms.log10().clamp(lo, hi) - lo) / (hi - lo) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{L}" y="22" font-size="15">{}</text>"#,
        esc(title)
    );
    for (i, (a, b, label)) in fault_periods(ops).iter().enumerate() {
        let (xa, xb) = (x(*a as f64 / 1e9), x(*b as f64 / 1e9));
        let _ = writeln!(
            s,
            r##"<rect x="{xa:.1}" y="{T}" width="{:.1}" height="{ph}" fill="#888" fill-opacity="0.18"><title>{}</title></rect>"##,
            (xb - xa).max(1.0),
            esc(label)
        );
        let ly = T + 12.0 + (i % 3) as f64 * 12.0;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{ly}" font-size="10" fill="#555">{}</text>"##,
            xa + 2.0,
            esc(label)
        );
    }
    // Axes and grid.
    let _ = writeln!(
        s,
        r#"<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        T + ph,
        L + pw,
        T + ph
    );
    let _ = writeln!(
        s,
        r#"<line x1="{L}" y1="{T}" x2="{L}" y2="{}" stroke="black"/>"#,
        T + ph
    );
    let mut d = lo as i32;
    while d <= hi as i32 {
        let ms = 10f64.powi(d);
        let yy = y(ms);
        let label = if ms >= 1000.0 {
            format!("{} s", ms / 1000.0)
        } else {
            format!("{ms} ms")
        };
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/>"##,
            L + pw
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
            L - 6.0,
            yy + 4.0
        );
        d += 1;
    }
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|st| t_end / st <= 12.0)
        .unwrap_or(1200.0);
    let mut t = 0.0;
    while t <= t_end {
        let xx = x(t);
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" y1="{}" x2="{xx:.1}" y2="{}" stroke="black"/>"#,
            T + ph,
            T + ph + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle">{t}</text>"#,
            T + ph + 18.0
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">time (s)</text>"#,
        L + pw / 2.0,
        H - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">latency</text>"#,
        T + ph / 2.0,
        T + ph / 2.0
    );
    // Points, fail and info on top of ok.
    let colour = |t: OpType| match t {
        OpType::Ok => "#2a9d2a",
        OpType::Fail => "#d62728",
        _ => "#ff9f1c",
    };
    for pass in [OpType::Ok, OpType::Fail, OpType::Info] {
        for (t, ms, typ) in points.iter().filter(|p| p.2 == pass) {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}" fill-opacity="0.6"/>"#,
                x(*t),
                y(*ms),
                colour(*typ)
            );
        }
    }
    // Legend.
    let lx = L + pw + 20.0;
    for (i, (typ, name)) in [
        (OpType::Ok, "ok"),
        (OpType::Fail, "fail"),
        (OpType::Info, "info"),
    ]
    .iter()
    .enumerate()
    {
        let ly = T + 10.0 + i as f64 * 18.0;
        let n = points.iter().filter(|p| p.2 == *typ).count();
        let _ = writeln!(
            s,
            r#"<circle cx="{lx}" cy="{ly}" r="4" fill="{}"/>"#,
            colour(*typ)
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{name} ({n})</text>"#,
            lx + 10.0,
            ly + 4.0
        );
    }
    let ly = T + 10.0 + 3.0 * 18.0;
    let _ = writeln!(
        s,
        r##"<rect x="{}" y="{}" width="10" height="10" fill="#888" fill-opacity="0.3"/><text x="{}" y="{}">fault</text>"##,
        lx - 5.0,
        ly - 5.0,
        lx + 10.0,
        ly + 4.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{NemesisValue, Recorder};

    #[test]
    fn periods_pair_faults_with_heals_and_svg_is_well_formed() {
        let rec = Recorder::new(std::time::Instant::now(), None);
        let nv = Value::Nemesis(NemesisValue {
            kind: "kill".into(),
            targets: vec!["n1".into()],
            detail: String::new(),
        });
        rec.record(
            Process::Client(0),
            OpType::Invoke,
            F::Add,
            Value::Element(1),
            Some("n1"),
            None,
        );
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Fault,
            nv.clone(),
            None,
            None,
        );
        rec.record(
            Process::Nemesis,
            OpType::Ok,
            F::Fault,
            nv.clone(),
            None,
            None,
        );
        rec.record(
            Process::Client(0),
            OpType::Info,
            F::Add,
            Value::Element(1),
            Some("n1"),
            Some("x".into()),
        );
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Heal,
            nv.clone(),
            None,
            None,
        );
        rec.record(Process::Nemesis, OpType::Ok, F::Heal, nv, None, None);
        let ops = rec.snapshot();
        let p = fault_periods(&ops);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, ops[1].time);
        assert_eq!(p[0].1, ops[5].time);
        assert_eq!(p[0].2, "kill n1");
        let svg = latency_svg(&ops, "t <1>");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;1&gt;"));
        assert!(svg.contains("info (1)"));
        assert_eq!(
            svg.matches("<circle").count(),
            1 + 3,
            "one point plus three legend dots"
        );
    }
}
