//! Model runtime speed and agreement: the default model's forward pass,
//! prompt and greedy decoding, unconstrained, timed in CPU time (so that
//! load from other jobs cancels out), on formwork's native pass (the file's
//! Q4_1 weights) and on candle's (`Backend::Candle`, Q4_1 requantized to
//! Q8_0 at load). Prints CPU ms per prompt token and per decoded token for
//! each, and how often their greedy tokens agree, over the first prompts of
//! `tests/data/prompts.jsonl`.
//!
//! `cargo run --release --example runtime [-- PROMPTS [TOKENS [DUMP.json]]]` (default 8 prompts,
//! 64 tokens; `RUNTIME_MODEL=F.gguf` for another model). DUMP.json gets the prompts' token ids
//! and the runs' greedy tokens; `python/benches/runtime_vs_llama_cpp.py` runs this example and
//! llama.cpp on the same ids. Each run also prints a `RESULT {json}` line.
//! Threads: `CANDLE_NUM_THREADS` (both backends follow it). `RUNTIME_ONLY=native|candle` runs one.

use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::{chat_prompt, Backend, GgufModel, LanguageModel, LoadOptions};
use std::time::Instant;

fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

struct Run {
    prompt_tokens: usize,
    prompt_cpu: f64,
    prompt_wall: f64,
    decode_tokens: usize,
    decode_cpu: f64,
    decode_wall: f64,
    wall: f64,
    outputs: Vec<Vec<u32>>,
}

fn run(model: &mut GgufModel, prompts: &[Vec<u32>], tokens: usize) -> Run {
    let mut r = Run {
        prompt_tokens: 0,
        prompt_cpu: 0.0,
        prompt_wall: 0.0,
        decode_tokens: 0,
        decode_cpu: 0.0,
        decode_wall: 0.0,
        wall: 0.0,
        outputs: vec![],
    };
    let start = Instant::now();
    for p in prompts {
        // Every prompt is computed whole, as llama.cpp's are (the cache
        // would otherwise skip the chat template's shared system prefix).
        model.forget_cached_tokens();
        let (c, w) = (cpu_seconds(), Instant::now());
        let mut logits = model.forward(p, 0).unwrap();
        r.prompt_cpu += cpu_seconds() - c;
        r.prompt_wall += w.elapsed().as_secs_f64();
        r.prompt_tokens += p.len();
        let mut out = vec![];
        let (c, w) = (cpu_seconds(), Instant::now());
        for i in 0..tokens {
            let t = argmax(&logits);
            out.push(t);
            logits = model.forward(&[t], p.len() + i).unwrap();
        }
        r.decode_cpu += cpu_seconds() - c;
        r.decode_wall += w.elapsed().as_secs_f64();
        r.decode_tokens += tokens;
        r.outputs.push(out);
    }
    r.wall = start.elapsed().as_secs_f64();
    r
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n_prompts: usize = args.get(1).map_or(Ok(8), |s| s.parse())?;
    let tokens: usize = args.get(2).map_or(Ok(64), |s| s.parse())?;
    let path = match std::env::var_os("RUNTIME_MODEL") {
        Some(p) => p.into(),
        None => default_model(&FetchConfig::from_env())?,
    };
    let lines = include_str!("../tests/data/prompts.jsonl");
    let mut runs = vec![];
    let mut prompt_ids = vec![];
    let only = std::env::var("RUNTIME_ONLY").unwrap_or_default();
    for (name, backend) in [("native", Backend::Native), ("candle", Backend::Candle)] {
        if !only.is_empty() && only != name {
            continue;
        }
        let t = Instant::now();
        let mut model = GgufModel::load_with(
            &path,
            &LoadOptions {
                backend,
                ..LoadOptions::default()
            },
        )?;
        let load = t.elapsed().as_secs_f64();
        let template = model.chat()?;
        let vocab = model.vocabulary()?;
        let prompts: Vec<Vec<u32>> = lines
            .lines()
            .take(n_prompts)
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let text =
                    chat_prompt(template.as_ref(), None, v["prompt"].as_str().unwrap()).unwrap();
                vocab.encode(&text).unwrap()
            })
            .collect();
        let r = run(&mut model, &prompts, tokens);
        prompt_ids = prompts;
        println!(
            "{}: load {:.2} s; prompt {:.2} CPU ms/token ({} tokens); decode {:.2} CPU ms/token \
             ({:.1} tokens/CPU-s; {} tokens); wall {:.1} s",
            if backend == Backend::Native {
                "native"
            } else {
                "candle (Q4_1 requantized to Q8_0)"
            },
            load,
            1e3 * r.prompt_cpu / r.prompt_tokens as f64,
            r.prompt_tokens,
            1e3 * r.decode_cpu / r.decode_tokens as f64,
            r.decode_tokens as f64 / r.decode_cpu,
            r.decode_tokens,
            r.wall
        );
        let result = serde_json::json!({
            "backend": name,
            "prompt_tokens": r.prompt_tokens, "prompt_cpu": r.prompt_cpu, "prompt_wall": r.prompt_wall,
            "decode_tokens": r.decode_tokens, "decode_cpu": r.decode_cpu, "decode_wall": r.decode_wall,
        });
        println!("RESULT {result}");
        runs.push(r);
    }
    if let (Some(dump), [r]) = (args.get(3), &runs[..]) {
        let v = serde_json::json!({"prompts": prompt_ids, only.as_str(): r.outputs});
        std::fs::write(dump, v.to_string())?;
    }
    if runs.len() < 2 {
        return Ok(());
    }
    let (a, b) = (&runs[0].outputs, &runs[1].outputs);
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    let agree: usize = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).take_while(|(p, q)| p == q).count())
        .sum();
    println!(
        "greedy outputs identical: {same}/{} prompts; tokens before the first difference: {agree}/{}",
        a.len(),
        a.len() * tokens
    );
    if let Some(dump) = args.get(3) {
        let v = serde_json::json!({"prompts": prompt_ids, "native": a, "candle": b});
        std::fs::write(dump, v.to_string())?;
    }
    Ok(())
}
