//! Render-time benchmark for `scripts/bench-documents` (not a test): renders
//! the sample quotation N times and prints the median and p99 in ms as JSON.

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let document = kuota_documents::samples::quotation();
    // The first render builds the engine and loads the fonts; measured apart.
    let started = std::time::Instant::now();
    let first = kuota_documents::render(&document).map(|pdf| pdf.len()).unwrap_or(0);
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = std::time::Instant::now();
            let _ = kuota_documents::render(&document);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{{\"runs\":{runs},\"first_ms\":{first_ms:.1},\"median_ms\":{:.2},\"p99_ms\":{:.2},\"pdf_bytes\":{first}}}",
        at(0.5),
        at(0.99)
    );
}
