//! Tokenize every line of a text file, repeatedly, on one thread: a harness for profilers.
//!
//! `cargo run --release --example tokenize_file -- tokenizer.json texts.txt [repeats] [native|crate|pretok]`
//! (`pretok`: the crate's added-token extraction, normalizer and pre-tokenizer only, without the model).

use std::time::Instant;

use staticemb_core::{TextEncoder, TokenScratch};
use tokenizers::PreTokenizer;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = std::fs::read_to_string(&args[1]).expect("tokenizer.json");
    let text = std::fs::read_to_string(&args[2]).expect("texts");
    let repeats: usize = args.get(3).map_or(5, |r| r.parse().expect("repeats"));
    let mode = args.get(4).map_or("native", String::as_str);
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
            match mode {
                "crate" => enc.push_token_ids_crate(line, &mut ids).unwrap(),
                "pretok" => {
                    let tok = enc.tokenizer().unwrap();
                    let mut pre = tok
                        .get_added_vocabulary()
                        .extract_and_normalize(tok.get_normalizer(), line);
                    if let Some(pt) = tok.get_pre_tokenizer() {
                        pt.pre_tokenize(&mut pre).unwrap();
                    }
                    ids.push(0);
                }
                _ => enc.push_token_ids(line, &mut ids, &mut scratch).unwrap(),
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
