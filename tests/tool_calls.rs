//! Tool calls from the real default model (SmolLM2-135M-Instruct, fetched
//! as `formwork generate` fetches it) under structural tags: 10 prompts,
//! each with one function of JSONSchemaBench's BFCL schemas
//! (`tests/data/tool_calls.jsonl`), in the Hermes/Qwen `<tool_call>`
//! format.
//!
//! * `auto`: free text, with tool calls where the model starts one
//!   (`triggered_tags`). Every tool call in the output must parse and its
//!   arguments validate against the function's parameters.
//! * `required`: the output is one tool call (`at_least_one`,
//!   `stop_after_first`): each must parse and validate.
//!
//! The default model is 135M parameters and was not trained for tool
//! calls: in `auto` mode it answers all 10 prompts in text (the test
//! prints how many answers call the tool), so the calls checked are the
//! `required` ones.

use formwork::generate::{GenerateOptions, Generator};
use formwork::model::fetch::{default_model, FetchConfig};
use formwork::model::GgufModel;
use formwork::sampler::SamplerConfig;
use formwork::structural_tag_grammar;
use serde_json::{json, Value};

struct Tool {
    name: String,
    parameters: Value,
    prompt: String,
}

fn tools() -> Vec<Tool> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tool_calls.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Tool {
                name: v["name"].as_str().unwrap().into(),
                parameters: v["parameters"].clone(),
                prompt: v["prompt"].as_str().unwrap().into(),
            }
        })
        .collect()
}

const BEGIN: &str = "<tool_call>";
const END: &str = "</tool_call>";

/// The structural tag of one tool: `<tool_call>{"name": NAME,
/// "arguments": ARGS}</tool_call>`.
fn tag(tool: &Tool, required: bool) -> Value {
    json!({"type": "structural_tag", "format": {
        "type": "triggered_tags",
        "triggers": [BEGIN],
        "tags": [{
            "type": "tag",
            "begin": format!("{BEGIN}{{\"name\": \"{}\", \"arguments\": ", tool.name),
            "content": {"type": "json_schema", "json_schema": tool.parameters},
            "end": format!("}}{END}"),
        }],
        "at_least_one": required,
        "stop_after_first": required,
    }})
}

/// The tool calls in `text`: each must parse, name the tool and carry
/// arguments that validate. Returns how many there are.
fn check_calls(tool: &Tool, text: &str) -> usize {
    let validator = jsonschema::validator_for(&tool.parameters).unwrap();
    let mut n = 0;
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .unwrap_or_else(|| panic!("an unterminated tool call in {text:?}"));
        let call: Value = serde_json::from_str(&after[..end])
            .unwrap_or_else(|e| panic!("tool call {:?} is not JSON: {e}", &after[..end]));
        assert_eq!(call["name"], tool.name.as_str(), "{text:?}");
        assert!(
            validator.is_valid(&call["arguments"]),
            "arguments {} do not validate against {}",
            call["arguments"],
            tool.parameters
        );
        n += 1;
        rest = &after[end + END.len()..];
    }
    n
}

#[test]
fn tool_calls_from_the_default_model_validate() {
    let path = default_model(&FetchConfig::from_env()).expect("default model");
    let model = GgufModel::load(&path).unwrap();
    let template = model.chat().unwrap();
    let vocab = model.vocabulary().unwrap();
    let mut g = Generator::builder(model).vocabulary(vocab).build().unwrap();
    let opts = GenerateOptions {
        max_tokens: 96,
        sampler: SamplerConfig {
            temperature: 0.0,
            ..SamplerConfig::default()
        },
        ..GenerateOptions::default()
    };
    let (mut auto_calls, mut auto_with_calls) = (0, 0);
    for tool in tools() {
        let system = format!(
            "You answer every request by calling the function {name}; its parameters follow this JSON schema: {params}. \
             Reply with only the call: {BEGIN}{{\"name\": \"{name}\", \"arguments\": {{...}}}}{END}",
            name = tool.name,
            params = tool.parameters
        );
        let prompt =
            formwork::model::chat_prompt(template.as_ref(), Some(&system), &tool.prompt).unwrap();
        for required in [false, true] {
            let grammar = structural_tag_grammar(&tag(&tool, required)).unwrap();
            let compiled = g.env().compile(&grammar).unwrap();
            let out = g.generate(&prompt, Some(compiled), &opts).unwrap();
            let calls = check_calls(&tool, &out.text);
            println!(
                "{:<32} {:<8} {} call(s): {:?}",
                tool.name,
                if required { "required" } else { "auto" },
                calls,
                out.text
            );
            if required {
                assert_eq!(calls, 1, "required: one tool call in {:?}", out.text);
                assert!(out.text.starts_with(BEGIN), "{:?}", out.text);
            } else {
                auto_calls += calls;
                auto_with_calls += usize::from(calls > 0);
            }
        }
    }
    println!("auto: {auto_with_calls} of 10 answers call the tool ({auto_calls} calls), every call valid");
}
