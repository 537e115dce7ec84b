//! The `formwork` command line.

use clap::{Parser, Subcommand};
use formwork::{
    bench::Bench, json_schema_grammar, regex_grammar, CompiledGrammar, Matcher, TokenTrie,
    Vocabulary,
};
use std::io::BufReader;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "formwork",
    version,
    about = "Constrained decoding: token masks from regexes, JSON and grammars"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show, token by token, how many tokens the constraint allows and whether
    /// the text's own tokens are among them.
    Mask {
        /// Hugging Face tokenizer.json (plain or .gz).
        #[arg(long)]
        tokenizer: String,
        /// Constrain to this regex (whole output).
        #[arg(long, conflicts_with = "schema")]
        regex: Option<String>,
        /// Constrain to this JSON Schema (file path, or inline JSON).
        #[arg(long)]
        schema: Option<String>,
        /// The text to check.
        #[arg(long)]
        text: String,
        /// EOS token name(s) or id(s), replacing the defaults.
        #[arg(long)]
        eos: Vec<String>,
    },
    /// Run the shared benchmark protocol (peer-bench/README.md) on a case file.
    Bench {
        #[arg(long)]
        tokenizer: String,
        #[arg(long)]
        cases: String,
        /// Per-case results (JSON lines); default stdout.
        #[arg(long)]
        out: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// EOS token (name or id) checked at the end of each instance.
        #[arg(long)]
        eos: Option<String>,
    },
}

fn load_vocab(path: &str, eos: &[String]) -> Result<Vocabulary, String> {
    let v = Vocabulary::from_file(path).map_err(|e| e.to_string())?;
    if eos.is_empty() {
        Ok(v)
    } else {
        let names: Vec<&str> = eos.iter().map(String::as_str).collect();
        v.with_eos(&names).map_err(|e| e.to_string())
    }
}

fn schema_arg(s: &str) -> Result<serde_json::Value, String> {
    let text =
        if s.trim_start().starts_with(['{', '[']) || s.trim() == "true" || s.trim() == "false" {
            s.to_string()
        } else {
            std::fs::read_to_string(s).map_err(|e| format!("cannot read schema file {s}: {e}"))?
        };
    serde_json::from_str(&text).map_err(|e| format!("schema {s} is not valid JSON: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Mask {
            tokenizer,
            regex,
            schema,
            text,
            eos,
        } => {
            let vocab = Arc::new(load_vocab(&tokenizer, &eos)?);
            let trie = Arc::new(TokenTrie::new(&vocab));
            let g = match (regex, schema) {
                (Some(r), None) => regex_grammar(&r).map_err(|e| e.to_string())?,
                (None, Some(s)) => {
                    json_schema_grammar(&schema_arg(&s)?).map_err(|e| e.to_string())?
                }
                _ => return Err("give exactly one of --regex or --schema".into()),
            };
            let g = Arc::new(CompiledGrammar::new(&g).map_err(|e| e.to_string())?);
            let mut m = Matcher::new(g, vocab.clone(), trie);
            let toks = vocab.encode(&text).map_err(|e| e.to_string())?;
            println!("{:>5}  {:>8}  {:>7}  token", "step", "allowed", "ok");
            for (i, &t) in toks.iter().enumerate() {
                let mask = m.compute_mask();
                let ok = mask.contains(t);
                println!(
                    "{i:>5}  {:>8}  {:>7}  {t} {:?}",
                    mask.count(),
                    if ok { "yes" } else { "NO" },
                    String::from_utf8_lossy(vocab.token_bytes(t))
                );
                if !ok {
                    return Err(format!(
                        "token {i} ({t}) is not allowed; the text does not match the constraint"
                    ));
                }
                m.commit(t).map_err(|e| e.to_string())?;
            }
            let mask = m.compute_mask();
            let eos_ok = vocab.eos_tokens().iter().any(|&e| mask.contains(e));
            println!(
                "  end  {:>8}  {:>7}  EOS",
                mask.count(),
                if eos_ok { "yes" } else { "NO" }
            );
            if !eos_ok {
                return Err("the text is a valid prefix but not complete (EOS not allowed)".into());
            }
            Ok(())
        }
        Cmd::Bench {
            tokenizer,
            cases,
            out,
            limit,
            eos,
        } => {
            let vocab = load_vocab(&tokenizer, &eos.iter().cloned().collect::<Vec<_>>())?;
            let eos_id = vocab.eos_tokens()[0];
            let vocab = Arc::new(vocab);
            let trie = Arc::new(TokenTrie::new(&vocab));
            eprintln!(
                "formwork bench | tokenizer {tokenizer} vocab={} eos={eos_id} {:?} | trie nodes={}",
                vocab.len(),
                vocab.token_name(eos_id),
                trie.node_count()
            );
            let bench = Bench {
                vocab,
                trie,
                eos: eos_id,
            };
            let input = BufReader::new(
                std::fs::File::open(&cases).map_err(|e| format!("open {cases}: {e}"))?,
            );
            let mut w: Box<dyn std::io::Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&p).map_err(|e| format!("create {p}: {e}"))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            bench.run(input, &mut *w, limit).map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
