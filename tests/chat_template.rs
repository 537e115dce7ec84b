//! Chat templates render as Hugging Face transformers' `apply_chat_template`
//! does: every case of `tests/data/chat_templates.json` (written by
//! `tests/data/make_chat_templates.py` with transformers) — single turns,
//! system messages, several turns, tools and tool calls, with and without
//! the generation prompt — gives the same text, or the same refusal.
//! SmolLM2's and Qwen3's templates are vendored; Llama 3's and Gemma 3's are
//! read from ../shared/models.

mod common;

use formwork::model::ChatTemplate;
use serde_json::Value;
use std::io::Read;

fn fixture() -> Value {
    let text = std::fs::read_to_string(common::data_dir().join("chat_templates.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn shared_template(name: &str) -> String {
    let dir = common::shared_models_dir().join(name);
    let plain = dir.join("tokenizer_config.json");
    let text = if plain.exists() {
        std::fs::read_to_string(plain).unwrap()
    } else {
        let f = std::fs::File::open(dir.join("tokenizer_config.json.gz")).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    v["chat_template"].as_str().unwrap().to_string()
}

/// Renders every case of `template`; returns how many were checked.
fn check(name: &str, source: &str) -> usize {
    let f = fixture();
    let t = &f["templates"][name];
    let template = ChatTemplate::new(
        source,
        t["bos"].as_str().unwrap(),
        t["eos"].as_str().unwrap(),
    )
    .unwrap();
    let mut n = 0;
    for case in f["cases"].as_array().unwrap() {
        if case["template"] != name {
            continue;
        }
        let messages = case["messages"].as_array().unwrap();
        let tools = case["tools"].as_array().map(Vec::as_slice);
        let add = case["add_generation_prompt"].as_bool().unwrap();
        let got = template.render(messages, tools, add);
        let label = format!(
            "{name}/{}/tools={}/gen={add}",
            case["conversation"],
            tools.is_some()
        );
        match (&case["text"], &case["error"]) {
            (Value::String(want), _) => assert_eq!(got.unwrap(), *want, "{label}"),
            (_, Value::String(want)) => {
                let e = got.expect_err(&label).to_string();
                assert!(e.contains(want.as_str()), "{label}: {e}");
            }
            _ => panic!("{label}: the case has neither text nor error"),
        }
        n += 1;
    }
    n
}

fn vendored(name: &str) -> String {
    fixture()["templates"][name]["source"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn smollm2_renders_as_transformers() {
    assert_eq!(check("smollm2", &vendored("smollm2")), 12);
}

#[test]
fn qwen3_renders_as_transformers_with_tools() {
    assert_eq!(check("qwen3", &vendored("qwen3")), 12);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs ../shared/models (Llama 3 licence)"
)]
fn llama3_renders_as_transformers() {
    assert_eq!(check("llama3", &shared_template("llama3")), 12);
}

#[test]
#[cfg_attr(
    not(formwork_shared),
    ignore = "needs ../shared/models (Gemma licence)"
)]
fn gemma3_renders_as_transformers() {
    assert_eq!(check("gemma3", &shared_template("gemma3")), 12);
}
