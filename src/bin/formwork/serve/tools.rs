//! Tool calls: OpenAI's `tools` and `tool_choice` as a structural tag, and
//! the calls read back out of the text.
//!
//! The model writes a call in the Hermes/Qwen syntax, which most open
//! chat models were trained on:
//!
//! ```text
//! <tool_call>
//! {"name": "get_weather", "arguments": {"city": "Paris"}}
//! </tool_call>
//! ```
//!
//! Each tool is a tag whose begin string carries the name (so the name is
//! forced and always one of the tools) and whose content is the tool's
//! `parameters` schema. `auto` lets free text run until `<tool_call>`
//! (XGrammar's `triggered_tags`); `required` and a named function allow
//! only calls (`tags_with_separator`, at least one); `parallel_tool_calls:
//! false` stops after the first call.

use super::api::ApiError;
use serde_json::{json, Map, Value};

pub const BEGIN: &str = "<tool_call>";
pub const END: &str = "</tool_call>";

/// A function the model may call.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Value,
    /// The tool as the request gave it (for the chat template).
    pub raw: Value,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    None,
    Auto,
    Required,
    Named(String),
}

/// Reads `tools`; every entry must be a function with a name.
pub fn read_tools(tools: &[Value]) -> Result<Vec<Tool>, ApiError> {
    let mut out: Vec<Tool> = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let param = format!("tools[{i}]");
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return Err(ApiError::invalid(
                &param,
                "each tool must be {\"type\": \"function\", \"function\": {...}}",
            ));
        }
        let f = t
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::invalid(&param, "a tool needs a \"function\" object"))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid(&param, "a function needs a non-empty \"name\""))?;
        if out.iter().any(|o| o.name == name) {
            return Err(ApiError::invalid(
                &param,
                format!("two tools are named {name:?}"),
            ));
        }
        let parameters = match f.get("parameters") {
            None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
            Some(p) => p.clone(),
        };
        out.push(Tool {
            name: name.to_string(),
            description: f
                .get("description")
                .and_then(Value::as_str)
                .map(String::from),
            parameters,
            raw: t.clone(),
        });
    }
    Ok(out)
}

/// Reads `tool_choice` (default: `auto` with tools, `none` without).
pub fn read_choice(choice: Option<&Value>, tools: &[Tool]) -> Result<Choice, ApiError> {
    let c = match choice {
        None | Some(Value::Null) => {
            return Ok(if tools.is_empty() {
                Choice::None
            } else {
                Choice::Auto
            })
        }
        Some(Value::String(s)) => match s.as_str() {
            "none" => Choice::None,
            "auto" => Choice::Auto,
            "required" => Choice::Required,
            other => {
                return Err(ApiError::invalid(
                    "tool_choice",
                    format!("tool_choice {other:?}: use none, auto, required or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}"),
                ))
            }
        },
        Some(v) => {
            let name = v
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "tool_choice",
                        "a named tool_choice is {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    )
                })?;
            Choice::Named(name.to_string())
        }
    };
    if c != Choice::None && tools.is_empty() {
        return Err(ApiError::invalid(
            "tool_choice",
            "tool_choice asks for a tool call but the request has no tools",
        ));
    }
    if let Choice::Named(n) = &c {
        if !tools.iter().any(|t| &t.name == n) {
            return Err(ApiError::invalid(
                "tool_choice",
                format!("tool_choice names {n:?}, which is not among the tools"),
            ));
        }
    }
    Ok(c)
}

/// The begin string of a call to `name`.
fn begin(name: &str) -> String {
    format!("{BEGIN}\n{{\"name\": {}, \"arguments\": ", json!(name))
}

/// The structural tag for `choice` over `tools` (`None` for [`Choice::None`]).
pub fn structural_tag(tools: &[Tool], choice: &Choice, parallel: bool) -> Option<Value> {
    let tag = |t: &Tool| {
        json!({
            "type": "tag",
            "begin": begin(&t.name),
            "content": {"type": "json_schema", "json_schema": t.parameters},
            "end": format!("}}\n{END}"),
        })
    };
    let format = match choice {
        Choice::None => return None,
        Choice::Auto => json!({
            "type": "triggered_tags",
            "triggers": [BEGIN],
            "tags": tools.iter().map(tag).collect::<Vec<_>>(),
            "at_least_one": false,
            "stop_after_first": !parallel,
        }),
        Choice::Required | Choice::Named(_) => {
            let tags: Vec<Value> = tools
                .iter()
                .filter(|t| match choice {
                    Choice::Named(n) => &t.name == n,
                    _ => true,
                })
                .map(tag)
                .collect();
            json!({
                "type": "tags_with_separator",
                "tags": tags,
                "separator": "\n",
                "at_least_one": true,
                "stop_after_first": !parallel,
            })
        }
    };
    Some(json!({"type": "structural_tag", "format": format}))
}

/// A call read from the output.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    /// The arguments' JSON text.
    pub arguments: String,
}

/// Splits generated text into its free text and its tool calls. A call
/// that does not parse (cut short by `max_tokens`) stays in the text.
pub fn split_calls(text: &str) -> (String, Vec<Call>) {
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else { break };
        let parsed: Option<Call> = serde_json::from_str::<Value>(after[..end].trim())
            .ok()
            .and_then(|v| {
                let name = v.get("name")?.as_str()?.to_string();
                let args = v.get("arguments")?;
                Some(Call {
                    name,
                    arguments: args.to_string(),
                })
            });
        match parsed {
            Some(call) => {
                content.push_str(&rest[..start]);
                calls.push(call);
            }
            None => content.push_str(&rest[..start + BEGIN.len() + end + END.len()]),
        }
        rest = &after[end + END.len()..];
    }
    content.push_str(rest);
    (content.trim().to_string(), calls)
}

/// The system text that describes the tools to a model whose chat template
/// does not render `tools` itself (Hermes' wording).
pub fn system_text(tools: &[Tool]) -> String {
    let mut s = String::from(
        "You may call one or more functions to assist with the user query. \
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
    );
    for t in tools {
        let mut f = Map::new();
        f.insert("name".into(), json!(t.name));
        if let Some(d) = &t.description {
            f.insert("description".into(), json!(d));
        }
        f.insert("parameters".into(), t.parameters.clone());
        s.push_str(&json!({"type": "function", "function": f}).to_string());
        s.push('\n');
    }
    s.push_str(
        "</tools>\nFor each function call, return a json object with function name and \
         arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    s
}

/// A call as the text the model writes for it (for earlier turns of a
/// conversation, under a template that does not render `tool_calls`).
pub fn call_text(name: &str, arguments: &Value) -> String {
    format!("{}{arguments}}}\n{END}", begin(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_split_from_text() {
        let text = "Let me look.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>";
        let (content, calls) = split_calls(text);
        assert_eq!(content, "Let me look.");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "f");
        assert_eq!(calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(calls[1].name, "g");
    }

    #[test]
    fn a_broken_call_stays_text() {
        let (content, calls) = split_calls("x <tool_call>{oops</tool_call> y");
        assert!(calls.is_empty());
        assert_eq!(content, "x <tool_call>{oops</tool_call> y");
    }

    #[test]
    fn call_text_is_what_the_grammar_writes() {
        let t = call_text("f", &json!({"a": 1}));
        let (_, calls) = split_calls(&t);
        assert_eq!(calls[0].name, "f");
    }
}
