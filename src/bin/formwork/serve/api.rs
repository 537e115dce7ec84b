//! The wire format: OpenAI's request fields as the server reads them, and
//! its error shape.
//!
//! Requests are read in two steps so that each failure gets OpenAI's
//! status: a body that is not JSON is a 400; JSON that does not fit the
//! request's shape (a field of the wrong type) is a 422, with serde's
//! message naming the field; values of the right type but out of range (a
//! negative `max_tokens`) are a 400 from [`ChatRequest::check`]. Fields
//! the server does not use are accepted and ignored, as OpenAI's SDKs send
//! some (`user`, `metadata`, `store`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// An error answered in OpenAI's shape:
/// `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds for a `Retry-After` header (429 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// 400: a request whose values are wrong.
    pub fn invalid(param: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        if !param.is_empty() {
            e.param = Some(param.to_string());
        }
        e
    }

    /// 400 with a machine-readable code.
    pub fn invalid_code(param: &str, code: &'static str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::invalid(param, message);
        e.code = Some(code);
        e
    }

    /// 422: JSON that does not fit the request's shape.
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            message,
        )
    }

    pub fn unauthorized() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "missing or wrong API key: send `Authorization: Bearer <key>` with the server's --api-key",
        );
        e.code = Some("invalid_api_key");
        e
    }

    pub fn model_not_found(asked: &str, served: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("the model `{asked}` does not exist; this server serves `{served}`"),
        );
        e.param = Some("model".into());
        e.code = Some("model_not_found");
        e
    }

    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("no route {path}; see /v1/models, /v1/chat/completions, /v1/completions, /health, /metrics"),
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is larger than {limit} bytes (the server's --max-body)"),
        )
    }

    pub fn overloaded(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "every slot is busy and the queue is full; retry later",
        );
        e.code = Some("server_busy");
        e.retry_after = Some(retry_after);
        e
    }

    pub fn timeout(secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout_error",
            format!("the request took longer than the server's --timeout of {secs} s"),
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum_json(&self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(s.max(1)));
        }
        r
    }
}

/// A JSON response body (axum's `Json` needs its `json` feature, which
/// brings more than this).
pub fn axum_json(v: &Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Reads a request body: JSON syntax first (400), then the shape (422).
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "",
            format!(
                "the body is not valid JSON: {}",
                formwork::json_error_message(&e)
            ),
        )
    })?;
    if !v.is_object() {
        return Err(ApiError::unprocessable("the body must be a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| ApiError::unprocessable(e.to_string()))
}

/// `response_format`.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    /// llama-server also reads a `schema` here.
    JsonObject {
        #[serde(default)]
        schema: Option<Value>,
    },
    JsonSchema {
        json_schema: JsonSchemaFormat,
    },
}

#[derive(Deserialize, Debug, Clone)]
pub struct JsonSchemaFormat {
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// vLLM's `structured_outputs` (and the older `guided_*` fields); its
/// other fields (`backend`, whitespace options) are accepted and ignored.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct StructuredOutputs {
    pub regex: Option<String>,
    pub choice: Option<Vec<String>>,
    pub json: Option<Value>,
    pub grammar: Option<String>,
    pub structural_tag: Option<Value>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// `stop`: one string or a list.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// What chat and completion requests share: sampling, limits, output
/// constraints.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Common {
    pub model: Option<String>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<i64>,
    pub seed: Option<i64>,
    pub n: Option<i64>,
    pub stop: Option<Stop>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub response_format: Option<ResponseFormat>,
    pub structured_outputs: Option<StructuredOutputs>,
    pub guided_json: Option<Value>,
    pub guided_regex: Option<String>,
    pub guided_choice: Option<Vec<String>>,
    pub guided_grammar: Option<String>,
    /// llama-server's fields: a GBNF grammar and a JSON schema.
    pub grammar: Option<String>,
    pub json_schema: Option<Value>,
}

/// `POST /v1/chat/completions`.
#[derive(Deserialize, Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<Value>,
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub logprobs: bool,
    pub top_logprobs: Option<i64>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
}

/// `prompt`: one string or a list of one.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Prompt {
    One(String),
    Many(Vec<String>),
}

/// `POST /v1/completions`.
#[derive(Deserialize, Debug, Clone)]
pub struct CompletionRequest {
    pub prompt: Prompt,
    #[serde(flatten)]
    pub common: Common,
    /// The legacy API's logprobs: how many alternatives per token (0-5).
    pub logprobs: Option<i64>,
    #[serde(default)]
    pub echo: bool,
}

/// Sampling and limits, checked.
#[derive(Debug, Clone)]
pub struct Sampling {
    pub max_tokens: usize,
    /// Whether the request set `max_tokens` (else it is the server's
    /// default, lowered to what the context has room for).
    pub max_tokens_given: bool,
    pub temperature: f32,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub seed: u64,
    pub n: usize,
    pub stop: Vec<String>,
}

/// The most samples one request may ask for.
pub const MAX_N: i64 = 16;
/// The most alternatives per token (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: i64 = 20;

impl Common {
    /// Checks the values and fills defaults.
    pub fn sampling(&self, default_max_tokens: usize) -> Result<Sampling, ApiError> {
        let max_tokens = match (self.max_completion_tokens, self.max_tokens) {
            (Some(m), _) => ("max_completion_tokens", m),
            (None, Some(m)) => ("max_tokens", m),
            (None, None) => ("", default_max_tokens as i64),
        };
        if max_tokens.1 < 1 {
            return Err(ApiError::invalid(
                max_tokens.0,
                format!("{} must be at least 1, not {}", max_tokens.0, max_tokens.1),
            ));
        }
        let temperature = self.temperature.unwrap_or(1.0);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(ApiError::invalid(
                "temperature",
                format!("temperature must be between 0 and 2, not {temperature}"),
            ));
        }
        let top_p = match self.top_p {
            Some(p) if !(p > 0.0 && p <= 1.0) => {
                return Err(ApiError::invalid(
                    "top_p",
                    format!("top_p must be above 0 and at most 1, not {p}"),
                ))
            }
            Some(p) if p < 1.0 => Some(p as f32),
            _ => None,
        };
        let top_k = match self.top_k {
            Some(k) if k < -1 => {
                return Err(ApiError::invalid(
                    "top_k",
                    format!("top_k must be -1 (off) or above 0, not {k}"),
                ))
            }
            Some(k) if k > 0 => Some(k as usize),
            _ => None,
        };
        let n = self.n.unwrap_or(1);
        if !(1..=MAX_N).contains(&n) {
            return Err(ApiError::invalid(
                "n",
                format!("n must be between 1 and {MAX_N}, not {n}"),
            ));
        }
        let seed = match self.seed {
            Some(s) => s as u64,
            None => {
                // No seed: a different one per request.
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                t ^ (t >> 29)
            }
        };
        let stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        };
        if stop.len() > 4 || stop.iter().any(String::is_empty) {
            return Err(ApiError::invalid(
                "stop",
                "stop takes at most 4 strings, none of them empty",
            ));
        }
        Ok(Sampling {
            max_tokens: max_tokens.1.min(i64::from(u32::MAX)) as usize,
            max_tokens_given: !max_tokens.0.is_empty(),
            temperature: temperature as f32,
            top_p,
            top_k,
            seed,
            n: n as usize,
            stop,
        })
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }
}
