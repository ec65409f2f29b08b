//! Render-time benchmark for `scripts/bench-documents` (not a test): renders
//! the sample quotation N times and prints the median and p99 in ms as JSON.
//! A failed render ends the run with an error rather than counting as fast.

fn main() -> Result<(), kuota_documents::RenderError> {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200).max(1);
    let document = kuota_documents::samples::quotation();
    // The first render builds the engine and loads the fonts; measured apart.
    let started = std::time::Instant::now();
    let pdf_bytes = kuota_documents::render(&document)?.len();
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        std::hint::black_box(kuota_documents::render(&document)?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{{\"runs\":{runs},\"first_ms\":{first_ms:.1},\"median_ms\":{:.2},\"p99_ms\":{:.2},\"pdf_bytes\":{pdf_bytes}}}",
        at(0.5),
        at(0.99)
    );
    Ok(())
}
