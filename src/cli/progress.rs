//! What a long export shows while it runs: one line per stage on a terminal (indicatif,
//! through tracing-indicatif so log lines print above the bars instead of through them), a
//! plain log line every few seconds otherwise, nothing with `--quiet`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressStyle;
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::source::Source;
use crate::stages::Progress;

/// Seconds between plain progress lines when stderr is not a terminal
/// (`RUNLAKE_PROGRESS_SECS` overrides; 0 turns them off).
const LOG_EVERY_SECS: f64 = 10.0;

/// A running display; `finish` clears the bars before the summary prints.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    pub fn start(progress: Progress, source: Source, tty: bool, quiet: bool) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = (!quiet).then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || match tty {
                true => bars(&progress, &source, &stop),
                false => log_lines(&progress, &source, &stop),
            })
        });
        Display { stop, thread }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn rate(n: u64, secs: f64) -> String {
    let r = n as f64 / secs.max(1e-3);
    if r >= 100.0 {
        format!("{r:.0}/s")
    } else {
        format!("{r:.1}/s")
    }
}

/// The status line of every stage: `tool_runs  query_runs  12,345 runs  (812/s)`.
pub fn stage_lines(progress: &Progress, secs: f64) -> Vec<String> {
    progress
        .stages()
        .iter()
        .map(|s| {
            let n = if s.kind == "sink" {
                s.items_in
            } else {
                s.items_out
            };
            format!(
                "{:<16} {:<15} {:>9} {:<13} ({})",
                s.id,
                s.kind,
                n,
                s.unit,
                rate(n, secs)
            )
        })
        .collect()
}

fn requests_line(source: &Source, secs: f64) -> String {
    let r = source.stats();
    format!(
        "requests {} ({}), retries {}, 429s {}, {:.1} MB",
        r.requests,
        rate(r.requests, secs),
        r.retries,
        r.throttled,
        r.bytes as f64 / 1e6
    )
}

fn bars(progress: &Progress, source: &Source, stop: &AtomicBool) {
    let started = Instant::now();
    let top = tracing::info_span!("load", indicatif.pb_show = true);
    top.pb_set_style(
        &ProgressStyle::with_template("{spinner:.green} windows {pos}/{len} {wide_bar:.cyan/blue} {elapsed_precise} ETA {eta}\n  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    top.pb_start();
    let mut lines: Vec<tracing::Span> = vec![];
    let line_style = ProgressStyle::with_template("  {msg}").expect("valid template");
    while !stop.load(Ordering::Relaxed) {
        let secs = started.elapsed().as_secs_f64();
        let (done, total) = progress.windows();
        top.pb_set_length(total.max(1));
        top.pb_set_position(done);
        top.pb_set_message(&requests_line(source, secs));
        let texts = stage_lines(progress, secs);
        if lines.len() != texts.len() {
            // A new child bar shows right under its parent: create them last stage first so
            // they read in pipeline order.
            lines.clear();
            for _ in &texts {
                let span = tracing::info_span!(parent: &top, "stage", indicatif.pb_show = true);
                span.pb_set_style(&line_style);
                span.pb_start();
                lines.push(span);
            }
            lines.reverse();
        }
        for (line, text) in lines.iter().zip(texts) {
            line.pb_set_message(&text);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Dropping the spans removes their bars: the terminal is left clean for the summary.
    drop(lines);
    drop(top);
}

fn log_lines(progress: &Progress, source: &Source, stop: &AtomicBool) {
    let every = std::env::var("RUNLAKE_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(LOG_EVERY_SECS);
    if every <= 0.0 {
        return;
    }
    let started = Instant::now();
    let mut next = Duration::from_secs_f64(every);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() < next {
            continue;
        }
        next += Duration::from_secs_f64(every);
        let secs = started.elapsed().as_secs_f64();
        let (done, total) = progress.windows();
        let stages = stage_lines(progress, secs)
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; ");
        tracing::info!(
            "progress: windows {done}/{total}; {stages}; {}",
            requests_line(source, secs)
        );
    }
}
