//! Chat messages to a prompt, through the model's own chat template.
//!
//! OpenAI's messages are brought to the shape Hugging Face templates
//! expect: content parts joined into one string, `developer` read as
//! `system`, a tool call's `arguments` given as an object. A template that
//! does not render tools (SmolLM2's does not) gets them described in the
//! system message, and earlier calls and their results written as the
//! model would write and read them (`<tool_call>…</tool_call>`,
//! `<tool_response>…</tool_response>`), so a conversation with tool turns
//! renders under any template.

use super::api::ApiError;
use super::tools::{call_text, system_text, Tool};
use formwork::model::ChatTemplate;
use serde_json::{json, Map, Value};

/// Renders prompts for one model.
pub struct Prompter {
    template: Option<ChatTemplate>,
    renders_tools: bool,
    renders_tool_calls: bool,
}

impl Prompter {
    /// `source` is the template's Jinja text (used to see which fields it reads).
    pub fn new(template: Option<ChatTemplate>, source: Option<&str>) -> Prompter {
        let source = source.unwrap_or("");
        Prompter {
            template,
            renders_tools: source.contains("tools"),
            renders_tool_calls: source.contains("tool_calls"),
        }
    }

    /// The prompt for `messages`, ending with the assistant's turn opened.
    /// `tools` are described to the model when given.
    pub fn chat(&self, messages: &[Value], tools: Option<&[Tool]>) -> Result<String, ApiError> {
        if messages.is_empty() {
            return Err(ApiError::invalid("messages", "messages must not be empty"));
        }
        let mut msgs = Vec::with_capacity(messages.len() + 1);
        for (i, m) in messages.iter().enumerate() {
            msgs.push(self.message(i, m)?);
        }
        let tools = tools.filter(|t| !t.is_empty());
        let mut tool_values = None;
        if let Some(tools) = tools {
            if self.renders_tools && self.template.is_some() {
                tool_values = Some(tools.iter().map(|t| t.raw.clone()).collect::<Vec<_>>());
            } else {
                let text = system_text(tools);
                match msgs.first_mut() {
                    Some(first) if first["role"] == "system" => {
                        let old = first["content"].as_str().unwrap_or("").to_string();
                        first["content"] = json!(format!("{old}\n\n{text}").trim_start());
                    }
                    _ => msgs.insert(0, json!({"role": "system", "content": text})),
                }
            }
        }
        match &self.template {
            Some(t) => t
                .render(&msgs, tool_values.as_deref(), true)
                .map_err(|e| ApiError::invalid("messages", e.to_string())),
            None => {
                let mut s = String::new();
                for m in &msgs {
                    s.push_str(&format!(
                        "{}: {}\n",
                        m["role"].as_str().unwrap_or(""),
                        m["content"].as_str().unwrap_or("")
                    ));
                }
                s.push_str("assistant:");
                Ok(s)
            }
        }
    }

    /// One message, normalised.
    fn message(&self, i: usize, m: &Value) -> Result<Value, ApiError> {
        let param = format!("messages[{i}]");
        let obj = m
            .as_object()
            .ok_or_else(|| ApiError::invalid(&param, "each message must be an object"))?;
        let role = obj
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid(&param, "a message needs a string \"role\""))?;
        let role = match role {
            "developer" => "system",
            "system" | "user" | "assistant" | "tool" | "function" => role,
            other => {
                return Err(ApiError::invalid(
                    &format!("{param}.role"),
                    format!(
                        "unknown role {other:?}: use system, developer, user, assistant or tool"
                    ),
                ))
            }
        };
        let mut content = text_content(obj.get("content"), &param)?;
        let mut out = Map::new();
        for (k, v) in obj {
            if k != "role" && k != "content" && k != "tool_calls" {
                out.insert(k.clone(), v.clone());
            }
        }
        let calls = obj.get("tool_calls").and_then(Value::as_array);
        let mut role = role.to_string();
        if let Some(calls) = calls.filter(|c| !c.is_empty()) {
            let mut read = Vec::new();
            for (j, c) in calls.iter().enumerate() {
                let name = c
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            &format!("{param}.tool_calls[{j}]"),
                            "a tool call needs function.name",
                        )
                    })?;
                let args = match c.pointer("/function/arguments") {
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!(s)),
                    Some(v) => v.clone(),
                    None => json!({}),
                };
                read.push((c.clone(), name.to_string(), args));
            }
            if self.renders_tool_calls {
                let calls: Vec<Value> = read
                    .into_iter()
                    .map(|(mut c, _, args)| {
                        c["function"]["arguments"] = args;
                        c
                    })
                    .collect();
                out.insert("tool_calls".into(), Value::Array(calls));
            } else {
                for (_, name, args) in read {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&call_text(&name, &args));
                }
            }
        }
        if (role == "tool" || role == "function") && !self.renders_tool_calls {
            role = "user".into();
            content = format!("<tool_response>\n{content}\n</tool_response>");
        }
        out.insert("role".into(), json!(role));
        out.insert("content".into(), json!(content));
        Ok(Value::Object(out))
    }
}

/// A message's content as one string: a string, null, or text parts.
fn text_content(content: Option<&Value>, param: &str) -> Result<String, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut s = String::new();
            for p in parts {
                match (p.get("type").and_then(Value::as_str), p.get("text")) {
                    (Some("text"), Some(Value::String(t))) => s.push_str(t),
                    (Some(other), _) => {
                        return Err(ApiError::invalid(
                            &format!("{param}.content"),
                            format!(
                                "content parts of type {other:?} are not supported (text only)"
                            ),
                        ))
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            &format!("{param}.content"),
                            "each content part needs a \"type\"",
                        ))
                    }
                }
            }
            Ok(s)
        }
        Some(_) => Err(ApiError::invalid(
            &format!("{param}.content"),
            "content must be a string, null or a list of text parts",
        )),
    }
}
