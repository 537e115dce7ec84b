//! Chat templates: a model's Jinja template (a GGUF's
//! `tokenizer.chat_template`, a `tokenizer_config.json`'s `chat_template`)
//! rendered the way Hugging Face's `apply_chat_template` renders it.
//!
//! The template is compiled once ([`ChatTemplate::new`]) with the settings
//! transformers uses (`trim_blocks`, `lstrip_blocks`, loop controls) and the
//! names templates expect: `messages`, `add_generation_prompt`,
//! `bos_token`, `eos_token`, `tools` (only when given, so that `tools is
//! defined` works as in Python), `raise_exception(msg)`, `strftime_now(fmt)`,
//! a `tojson` filter with Python's `json.dumps` output (no HTML escaping,
//! `indent=`), and Python string and dict methods (`.strip()`,
//! `.startswith()`, `.items()`, …) through minijinja's pycompat. A message's
//! fields beyond `role` and `content` (`tool_calls`, `name`, …) pass through
//! as they are.
//!
//! ```
//! use formwork::model::ChatTemplate;
//! use serde_json::json;
//! let t = ChatTemplate::new(
//!     "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}\n{% endfor %}\
//!      {% if add_generation_prompt %}<|assistant|>{% endif %}",
//!     "<s>",
//!     "</s>",
//! )?;
//! let prompt = t.render(&[json!({"role": "user", "content": " Hi "})], None, true)?;
//! assert_eq!(prompt, "<|user|>Hi\n<|assistant|>");
//! # Ok::<(), formwork::ModelError>(())
//! ```

use crate::error::ModelError;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value as Json;

/// A compiled chat template and the special tokens it is rendered with.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

fn template_err(what: &str, e: Error) -> ModelError {
    // minijinja's alternate form carries the line and the source excerpt.
    ModelError::Template(format!("{what}: {e:#}"))
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)`, as the
/// `tojson` of transformers' template environment.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    // Python's own keyword arguments, accepted and ignored where they change
    // nothing here.
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    let _: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let json: Json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    Ok(Value::from_safe_string(python_dumps(&json, indent, 0)))
}

/// `json.dumps` spacing: `", "` and `": "` on one line; with an indent,
/// one item per line and `": "`.
fn python_dumps(v: &Json, indent: Option<usize>, depth: usize) -> String {
    let pad = |d: usize| " ".repeat(indent.unwrap_or(0) * d);
    match v {
        Json::Array(items) if !items.is_empty() => {
            let parts: Vec<String> = items
                .iter()
                .map(|x| python_dumps(x, indent, depth + 1))
                .collect();
            match indent {
                None => format!("[{}]", parts.join(", ")),
                Some(_) => format!(
                    "[\n{}{}\n{}]",
                    pad(depth + 1),
                    parts.join(&format!(",\n{}", pad(depth + 1))),
                    pad(depth)
                ),
            }
        }
        Json::Object(map) if !map.is_empty() => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}: {}",
                        Json::String(k.clone()),
                        python_dumps(x, indent, depth + 1)
                    )
                })
                .collect();
            match indent {
                None => format!("{{{}}}", parts.join(", ")),
                Some(_) => format!(
                    "{{\n{}{}\n{}}}",
                    pad(depth + 1),
                    parts.join(&format!(",\n{}", pad(depth + 1))),
                    pad(depth)
                ),
            }
        }
        other => other.to_string(),
    }
}

impl ChatTemplate {
    /// Compiles `source` (Jinja) to be rendered with these BOS and EOS
    /// token texts. A template that does not parse is an error naming the
    /// line.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, ModelError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_function("strftime_now", |fmt: String| -> Result<Value, Error> {
            Ok(Value::from(strftime_now(&fmt)))
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| template_err("it does not parse", e))?;
        Ok(ChatTemplate {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
        })
    }

    /// The prompt for `messages` (objects with `role` and `content`, and
    /// any other fields the template reads), with the tools' JSON schemas
    /// if given, ending with the assistant's turn opened when
    /// `add_generation_prompt`. An error raised by the template (a role it
    /// does not accept, say) carries the template's message.
    pub fn render(
        &self,
        messages: &[Json],
        tools: Option<&[Json]>,
        add_generation_prompt: bool,
    ) -> Result<String, ModelError> {
        let t = self
            .env
            .get_template("chat")
            .map_err(|e| template_err("not compiled", e))?;
        let mut ctx = serde_json::Map::new();
        ctx.insert("messages".into(), Json::Array(messages.to_vec()));
        ctx.insert(
            "add_generation_prompt".into(),
            Json::Bool(add_generation_prompt),
        );
        ctx.insert("bos_token".into(), Json::String(self.bos.clone()));
        ctx.insert("eos_token".into(), Json::String(self.eos.clone()));
        if let Some(tools) = tools {
            ctx.insert("tools".into(), Json::Array(tools.to_vec()));
        }
        t.render(Value::from_serialize(&ctx))
            .map_err(|e| template_err("rendering failed", e))
    }
}

impl ChatTemplate {
    /// The prompt of a one-turn chat: an optional system message, then the
    /// user's `prompt`, with the assistant's turn opened.
    pub fn prompt(&self, system: Option<&str>, prompt: &str) -> Result<String, ModelError> {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(serde_json::json!({"role": "system", "content": s}));
        }
        messages.push(serde_json::json!({"role": "user", "content": prompt}));
        self.render(&messages, None, true)
    }
}

/// The prompt of a one-turn chat through `template`
/// ([`ChatTemplate::prompt`]), or `user` as it is without one.
pub fn chat_prompt(
    template: Option<&ChatTemplate>,
    system: Option<&str>,
    user: &str,
) -> Result<String, ModelError> {
    match template {
        Some(t) => t.prompt(system, user),
        None => Ok(user.to_string()),
    }
}

/// The current UTC date and time formatted with the `strftime` directives
/// templates use (`%d %b %Y` and the like).
fn strftime_now(fmt: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('-') => match chars.next() {
                Some('d') => out.push_str(&d.to_string()),
                Some('m') => out.push_str(&m.to_string()),
                Some(o) => out.push_str(&format!("%-{o}")),
                None => out.push_str("%-"),
            },
            Some('B') => out.push_str(month),
            Some('b') => out.push_str(&month[..3]),
            Some('A') => out.push_str(weekday),
            Some('a') => out.push_str(&weekday[..3]),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem % 3600 / 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Year, month (1-12) and day of the `days`-th day after 1970-01-01
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_429), (2025, 12, 7));
    }

    #[test]
    fn tojson_is_pythons() {
        let v = json!({"a": [1, "x<y"], "b": {}});
        assert_eq!(python_dumps(&v, None, 0), r#"{"a": [1, "x<y"], "b": {}}"#);
        assert_eq!(
            python_dumps(&json!({"a": [1]}), Some(2), 0),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn errors_say_where() {
        let e = ChatTemplate::new("{% for m in messages %}", "", "").unwrap_err();
        assert!(
            e.to_string().contains("chat template: it does not parse"),
            "{e}"
        );
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "").unwrap();
        let e = t.render(&[], None, true).unwrap_err();
        assert!(e.to_string().contains("roles must alternate"), "{e}");
    }
}
