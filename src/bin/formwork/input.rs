//! Reading the command line's inputs: files and stdin (bounded in size),
//! inline-or-file JSON Schemas, tokenizers.

use formwork::{json_error_message, Vocabulary};

/// The tokenizer at `path`; `eos`, if not empty, replaces its EOS tokens
/// (names or ids).
pub fn load_vocab(path: &str, eos: &[String]) -> Result<Vocabulary, String> {
    let v = Vocabulary::from_file(path).map_err(|e| e.to_string())?;
    if eos.is_empty() {
        Ok(v)
    } else {
        let names: Vec<&str> = eos.iter().map(String::as_str).collect();
        v.with_eos(&names).map_err(|e| e.to_string())
    }
}

/// The most read from one input file or stdin: 64 MiB, far above any real
/// schema, grammar or document to repair, and well within memory once parsed
/// (about ten times the text).
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads UTF-8 text of at most [`MAX_INPUT_BYTES`], through a bound rather
/// than by a reported size (`/dev/zero` and pipes have none).
pub fn read_text(r: impl std::io::Read) -> Result<String, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    r.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "larger than {} MiB, the most formwork reads",
            MAX_INPUT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// The text of the file at `path` (see [`read_text`]).
pub fn read_file(path: &str) -> Result<String, String> {
    read_text(std::fs::File::open(path).map_err(|e| e.to_string())?)
}

/// A JSON Schema given as inline JSON (an object, an array, `true` or
/// `false`) or as the path of a file holding it.
pub fn schema_arg(s: &str) -> Result<serde_json::Value, String> {
    let inline =
        s.trim_start().starts_with(['{', '[']) || s.trim() == "true" || s.trim() == "false";
    let (text, what) = if inline {
        (s.to_string(), "the --schema JSON".to_string())
    } else {
        let text = read_file(s).map_err(|e| format!("cannot read schema file {s}: {e}"))?;
        (text, format!("schema file {s}"))
    };
    serde_json::from_str(&text).map_err(|e| format!("{what}: {}", json_error_message(&e)))
}
