//! Tokenize every line of a text file, repeatedly, on one thread: a harness for profilers.
//!
//! `cargo run --release --example tokenize_file -- tokenizer.json texts.txt [repeats] [native|crate]`

use std::time::Instant;

use staticemb_core::{TextEncoder, TokenScratch};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = std::fs::read_to_string(&args[1]).expect("tokenizer.json");
    let text = std::fs::read_to_string(&args[2]).expect("texts");
    let repeats: usize = args.get(3).map_or(5, |r| r.parse().expect("repeats"));
    let crate_only = args.get(4).is_some_and(|m| m == "crate");
    let lines: Vec<&str> = text.lines().collect();
    let start = Instant::now();
    let enc = TextEncoder::from_json(&json).expect("a tokenizer");
    println!(
        "load {:.3} s, backend {}",
        start.elapsed().as_secs_f64(),
        enc.backend()
    );
    let mut ids = Vec::new();
    let mut scratch = TokenScratch::default();
    let start = Instant::now();
    let mut tokens = 0;
    for _ in 0..repeats {
        for line in &lines {
            ids.clear();
            if crate_only {
                enc.push_token_ids_crate(line, &mut ids).unwrap();
            } else {
                enc.push_token_ids(line, &mut ids, &mut scratch).unwrap();
            }
            tokens += ids.len();
        }
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{} texts x {repeats}: {:.0} texts/s, {tokens} tokens",
        lines.len(),
        (lines.len() * repeats) as f64 / s
    );
}
