//! `formwork serve`: OpenAI's HTTP API over a GGUF model, with every
//! structured output constrained by formwork's masks.
//!
//! The pieces, in the order a request meets them:
//!
//! * [`api`]: the wire format. Request bodies are read within `--max-body`
//!   and checked in steps, each failure an error in OpenAI's shape with
//!   its status (400 syntax or values, 422 shape, 404 model, 413 size).
//! * [`prompt`]: messages through the model's chat template.
//! * [`grammars`] and [`tools`]: the request's constraint (a JSON schema,
//!   a regex, a grammar, a choice, or tool calls as a structural tag),
//!   compiled once per distinct constraint and kept in a bounded LRU.
//! * [`worker`]: `--parallel` slots, each with its own copy of the model,
//!   fed from one queue; past `parallel + queue` requests the answer is 429.
//!   A request that outlives `--timeout`, or whose client goes away, is
//!   stopped between two forward passes.
//! * [`metrics`]: what `/metrics` reports.
//!
//! The HTTP side runs on a small tokio runtime; generation runs on the
//! slots' own threads so that a long generation never holds up other
//! connections, `/health` or `/metrics`. SIGTERM (or Ctrl-C) stops
//! accepting connections, lets the requests in flight finish, then exits.

mod api;
mod grammars;
mod metrics;
mod prompt;
mod tools;
mod worker;

use crate::args::ServeArgs;
use crate::output::{note, Failure};
use api::{parse_body, ApiError, ChatRequest, CompletionRequest, Prompt, Sampling};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use formwork::generate::{GenerateOptions, Generation, Generator, StopReason};
use formwork::model::GgufModel;
use formwork::sampler::SamplerConfig;
use formwork::{ModelError, Vocabulary};
use grammars::{grammar_error, Constraint, GrammarCache};
use metrics::Metrics;
use prompt::Prompter;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tools::Choice;
use worker::{Event, Job, Pool};

/// Everything the handlers share.
struct Server {
    model_id: String,
    created: u64,
    api_key: Option<String>,
    max_body: usize,
    timeout: Duration,
    default_max_tokens: usize,
    pool: Pool,
    prompter: Prompter,
    grammars: GrammarCache,
    metrics: Arc<Metrics>,
    slots: usize,
}

type Shared = Arc<Server>;

/// `formwork serve`.
pub fn command(a: ServeArgs) -> Result<(), Failure> {
    let path = match &a.model {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            formwork::model::fetch::default_model(&formwork::model::fetch::FetchConfig::from_env())
                .map_err(|e| e.to_string())?
        }
    };
    let slots = usize::from(a.parallel);
    note!("formwork: loading {} ({slots} slot(s)) ...", path.display());
    let t = Instant::now();
    let mut generators: Vec<Generator<GgufModel>> = Vec::with_capacity(slots);
    let mut prompter = None;
    for _ in 0..slots {
        let model = GgufModel::load(&path).map_err(|e| e.to_string())?;
        if prompter.is_none() {
            let template = model.chat().map_err(|e| e.to_string())?;
            prompter = Some(Prompter::new(template, model.chat_template()));
        }
        let builder = Generator::builder(model);
        let g = match generators.first() {
            Some(first) => builder.env(first.env().clone()).build(),
            None => {
                let vocab = match &a.tokenizer {
                    Some(tk) => Vocabulary::from_file(tk).map_err(|e| e.to_string())?,
                    None => builder.model().vocabulary().map_err(|e| e.to_string())?,
                };
                builder.vocabulary(vocab).build()
            }
        }
        .map_err(|e| e.to_string())?;
        generators.push(g);
    }
    note!("formwork: loaded in {:.1} s", t.elapsed().as_secs_f64());
    let model_id = a.served_model_name.clone().unwrap_or_else(|| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        name.strip_suffix(".gguf").unwrap_or(&name).to_string()
    });
    let metrics = Arc::new(Metrics::default());
    let server = Arc::new(Server {
        model_id,
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        api_key: a.api_key.clone().filter(|k| !k.is_empty()),
        max_body: a.max_body,
        timeout: Duration::from_secs(a.timeout.max(1)),
        default_max_tokens: a.default_max_tokens.max(1),
        pool: Pool::start(generators, a.queue, metrics.clone()),
        prompter: prompter.expect("at least one slot"),
        grammars: GrammarCache::new(a.grammar_cache),
        metrics,
        slots,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    let result = rt.block_on(listen(server.clone(), &a.host, a.port));
    server.pool.shut_down();
    result
}

async fn listen(server: Shared, host: &str, port: u16) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model_one))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()) })
        .with_state(server);
    note!("formwork: listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("the server failed: {e}"))?;
    note!("formwork: stopped");
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    note!("formwork: shutting down; finishing the requests in flight");
}

impl Server {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(key) = &self.api_key else {
            return Ok(());
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), key.as_bytes()) => Ok(()),
            _ => Err(ApiError::unauthorized()),
        }
    }

    fn check_model(&self, asked: Option<&str>) -> Result<(), ApiError> {
        match asked {
            None => Err(ApiError::invalid("model", "the request needs a `model`")),
            Some(m) if m == self.model_id => Ok(()),
            Some(m) => Err(ApiError::model_not_found(m, &self.model_id)),
        }
    }

    /// The body, within `--max-body`.
    async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(ApiError::too_large(self.max_body));
        }
        axum::body::to_bytes(body, self.max_body)
            .await
            .map_err(|_| ApiError::too_large(self.max_body))
    }

    /// `Retry-After` for a 429: about when the requests ahead of a new one
    /// will have left a slot free (mean time per request × requests
    /// inside ÷ slots), between 1 and 60 seconds.
    fn retry_after(&self) -> u64 {
        let a = self.pool.admission();
        let ahead = (a.queued() + a.running()) as f64;
        let secs = self.metrics.mean_generation_seconds() * ahead / self.slots as f64;
        secs.ceil().clamp(1.0, 60.0) as u64
    }
}

/// Compares keys without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Records the answer in the metrics.
fn finish(s: &Server, endpoint: &str, t: Instant, r: Result<Response, ApiError>) -> Response {
    let response = match r {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    s.metrics.request(
        endpoint,
        response.status().as_u16(),
        t.elapsed().as_secs_f64(),
    );
    response
}

async fn health(State(s): State<Shared>) -> Response {
    api::axum_json(&json!({
        "status": "ok",
        "model": s.model_id,
        "slots": s.slots,
        "running": s.pool.admission().running(),
        "queued": s.pool.admission().queued(),
    }))
}

async fn metrics_text(State(s): State<Shared>) -> Response {
    let a = s.pool.admission();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(a.queued(), a.running(), s.slots),
    )
        .into_response()
}

fn model_object(s: &Server) -> Value {
    json!({"id": s.model_id, "object": "model", "created": s.created, "owned_by": "formwork"})
}

async fn models(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let t = Instant::now();
    let r = s
        .authorize(&headers)
        .map(|()| api::axum_json(&json!({"object": "list", "data": [model_object(&s)]})));
    finish(&s, "models", t, r)
}

async fn model_one(
    State(s): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let t = Instant::now();
    let r = s.authorize(&headers).and_then(|()| {
        s.check_model(Some(&id))?;
        Ok(api::axum_json(&model_object(&s)))
    });
    finish(&s, "models", t, r)
}

/// A fresh id for a response or a tool call.
fn new_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{prefix}{:016x}{n:04x}",
        t.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What one request asks the slots to do, before it is queued.
struct Plan {
    prompt: String,
    constraint: Option<(Constraint, &'static str)>,
    sampling: Sampling,
    top_logprobs: usize,
    stream: bool,
}

/// A queued job: its events and what keeps it alive.
struct Running {
    events: UnboundedReceiver<Event>,
    cancel: Arc<AtomicBool>,
    deadline: tokio::time::Instant,
    warnings: Vec<String>,
    watchdog: tokio::task::JoinHandle<()>,
}

/// Dropping a `Running` (its handler's future dropped by hyper because the
/// client went away, or its stream's body dropped) cancels the job.
impl Drop for Running {
    fn drop(&mut self) {
        self.watchdog.abort();
        // Whoever held this is done with the job: stop it if it still runs.
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Admits, compiles the constraint and queues the job.
async fn start(s: &Shared, plan: Plan) -> Result<Running, ApiError> {
    let ticket = s
        .pool
        .admit()
        .ok_or_else(|| ApiError::overloaded(s.retry_after()))?;
    let deadline = tokio::time::Instant::now() + s.timeout;
    let (grammar, warnings) = match plan.constraint {
        None => (None, Vec::new()),
        Some((c, param)) => {
            let server = s.clone();
            let t = Instant::now();
            let compiled = tokio::time::timeout_at(
                deadline,
                tokio::task::spawn_blocking(move || server.grammars.get(&c, server.pool.env())),
            )
            .await
            .map_err(|_| ApiError::timeout(s.timeout.as_secs()))?
            .map_err(|e| ApiError::internal(format!("compiling the constraint failed: {e}")))?;
            let (compiled, hit) = compiled.map_err(|e| grammar_error(param, &e))?;
            s.metrics.grammar_cache(hit);
            if !hit {
                s.metrics.compile_seconds(t.elapsed().as_secs_f64());
            }
            (Some(compiled.grammar), compiled.warnings)
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let sp = &plan.sampling;
    let max_tokens = if sp.max_tokens_given {
        sp.max_tokens
    } else {
        // No max_tokens: the server's default, or what the context has
        // room for after the prompt if that is less.
        let prompt_len = s
            .pool
            .env()
            .vocab()
            .tokenizer()
            .encode(plan.prompt.as_str(), false)
            .map(|e| e.len())
            .unwrap_or(0);
        sp.max_tokens
            .min(s.pool.context_length().saturating_sub(prompt_len))
            .max(1)
    };
    let opts = GenerateOptions {
        max_tokens,
        sampler: SamplerConfig {
            temperature: sp.temperature,
            top_k: sp.top_k,
            top_p: sp.top_p,
            seed: sp.seed,
            top_logprobs: plan.top_logprobs,
        },
        stop: sp.stop.clone(),
        cancel: Some(cancel.clone()),
        ..GenerateOptions::default()
    };
    let (tx, rx) = unbounded_channel();
    let job = Job {
        prompt: plan.prompt,
        grammar,
        opts,
        n: sp.n,
        stream: plan.stream,
        events: tx,
        ticket: Some(ticket),
    };
    if !s.pool.submit(job) {
        return Err(ApiError::unavailable("the server is shutting down"));
    }
    let flag = cancel.clone();
    let watchdog = tokio::spawn(async move {
        tokio::time::sleep_until(deadline).await;
        flag.store(true, Ordering::Relaxed);
    });
    Ok(Running {
        events: rx,
        cancel,
        deadline,
        warnings,
        watchdog,
    })
}

/// A failed generation as an answer.
fn model_error(e: ModelError, s: &Server, deadline: tokio::time::Instant) -> ApiError {
    match e {
        ModelError::ContextFull { .. } => {
            ApiError::invalid_code("messages", "context_length_exceeded", e.to_string())
        }
        ModelError::Cancelled if tokio::time::Instant::now() >= deadline => {
            ApiError::timeout(s.timeout.as_secs())
        }
        ModelError::Cancelled => ApiError::unavailable("the generation was cancelled"),
        other => ApiError::internal(other.to_string()),
    }
}

/// Waits for every choice of a non-streamed job.
async fn collect(
    s: &Server,
    mut run: Running,
    n: usize,
) -> Result<(Vec<Generation>, Vec<String>), ApiError> {
    let mut outs: Vec<Option<Generation>> = (0..n).map(|_| None).collect();
    let mut left = n;
    while left > 0 {
        match run.events.recv().await {
            Some(Event::Done { index, generation }) => {
                if let Some(slot) = outs.get_mut(index) {
                    if slot.is_none() {
                        left -= 1;
                    }
                    *slot = Some(*generation);
                }
            }
            Some(Event::Text { .. }) => {}
            Some(Event::Failed(e)) => return Err(model_error(e, s, run.deadline)),
            None => return Err(model_error(ModelError::Cancelled, s, run.deadline)),
        }
    }
    let gens: Vec<Generation> = outs.into_iter().flatten().collect();
    for g in &gens {
        s.metrics.tokens(
            g.prompt_tokens,
            g.tokens.len(),
            g.forced_tokens,
            g.timings.mask_ms / 1e3,
        );
    }
    Ok((gens, std::mem::take(&mut run.warnings)))
}

fn finish_reason(g: &Generation) -> &'static str {
    match g.stop {
        StopReason::MaxTokens | StopReason::Closed => "length",
        StopReason::Eos | StopReason::StopString(_) | StopReason::Complete => "stop",
    }
}

fn usage(gens: &[Generation]) -> Value {
    let prompt = gens.first().map_or(0, |g| g.prompt_tokens);
    let completion: usize = gens.iter().map(|g| g.tokens.len()).sum();
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// A token's text and bytes for logprobs.
fn token_entry(vocab: &Vocabulary, t: u32, lp: f32) -> Value {
    let bytes = vocab.token_bytes(t);
    json!({"token": String::from_utf8_lossy(bytes), "logprob": lp, "bytes": bytes})
}

/// Chat logprobs: `{"content": [{token, logprob, bytes, top_logprobs}]}`.
/// A forced token (the constraint left no other) has logprob 0: its
/// probability under the constrained distribution is 1.
fn chat_logprobs(vocab: &Vocabulary, g: &Generation, top: usize) -> Value {
    let content: Vec<Value> = g
        .tokens
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let lp = g.logprobs.get(i).copied().flatten().unwrap_or(0.0);
            let mut e = token_entry(vocab, t, lp);
            let alts: Vec<Value> = g
                .top_logprobs
                .get(i)
                .map(|v| {
                    v.iter()
                        .take(top)
                        .map(|&(a, l)| token_entry(vocab, a, l))
                        .collect()
                })
                .unwrap_or_default();
            e["top_logprobs"] = Value::Array(alts);
            e
        })
        .collect();
    json!({"content": content})
}

/// The request's tools and what `tool_choice` makes of them.
struct ToolPlan {
    tools: Vec<tools::Tool>,
    choice: Choice,
}

impl ToolPlan {
    fn calls_tools(&self) -> bool {
        self.choice != Choice::None
    }
}

/// A tool-call grammar that failed to compile, blamed on the first tool
/// whose `parameters` fail alone (the error then names it and the
/// keyword's pointer inside it).
fn blame_tool(e: ApiError, tools: &[tools::Tool]) -> ApiError {
    for (i, t) in tools.iter().enumerate() {
        if let Err(err) = formwork::json_schema(&t.parameters, &grammars::schema_options()) {
            let mut blamed = grammar_error(&format!("tools[{i}].function.parameters"), &err);
            blamed.message = format!("tool {:?}: {}", t.name, blamed.message);
            return blamed;
        }
    }
    e
}

/// The assistant message of a chat choice.
fn chat_message(g: &Generation, tool_plan: &ToolPlan) -> (Value, bool) {
    if !tool_plan.calls_tools() {
        return (json!({"role": "assistant", "content": g.text}), false);
    }
    let (content, calls) = tools::split_calls(&g.text);
    let mut m = json!({
        "role": "assistant",
        "content": if content.is_empty() { Value::Null } else { json!(content) },
    });
    if !calls.is_empty() {
        m["tool_calls"] = tool_calls_json(&calls, false);
    }
    (m, !calls.is_empty())
}

fn tool_calls_json(calls: &[tools::Call], indexed: bool) -> Value {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = json!({
                    "id": new_id("call_"),
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                });
                if indexed {
                    v["index"] = json!(i);
                }
                v
            })
            .collect(),
    )
}

async fn chat(State(s): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let t = Instant::now();
    let r = chat_inner(&s, &headers, body).await;
    finish(&s, "chat_completions", t, r)
}

async fn chat_inner(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    s.authorize(headers)?;
    let bytes = s.read_body(headers, body).await?;
    let req: ChatRequest = parse_body(&bytes)?;
    s.check_model(req.common.model.as_deref())?;
    let sampling = req.common.sampling(s.default_max_tokens)?;
    let top_logprobs = match req.top_logprobs {
        Some(k) if !(0..=api::MAX_TOP_LOGPROBS).contains(&k) => {
            return Err(ApiError::invalid(
                "top_logprobs",
                format!(
                    "top_logprobs must be between 0 and {}, not {k}",
                    api::MAX_TOP_LOGPROBS
                ),
            ))
        }
        Some(k) => k as usize,
        None => 0,
    };
    let tool_list = tools::read_tools(req.tools.as_deref().unwrap_or(&[]))?;
    let choice = tools::read_choice(req.tool_choice.as_ref(), &tool_list)?;
    let tool_plan = ToolPlan {
        tools: tool_list,
        choice,
    };
    let given = Constraint::from_request(&req.common)?;
    let tag = tools::structural_tag(
        &tool_plan.tools,
        &tool_plan.choice,
        req.parallel_tool_calls.unwrap_or(true),
    );
    let constraint = match (tag, given) {
        (Some(_), Some(g)) => {
            return Err(ApiError::invalid(
                g.param,
                format!(
                    "{} cannot be combined with tool calls here; send tool_choice \"none\" to constrain the text, \
                     or drop {}",
                    g.param, g.param
                ),
            ))
        }
        (Some(tag), None) => Some((Constraint::StructuralTag(tag), "tools")),
        (None, Some(g)) => Some((g.constraint, g.param)),
        (None, None) => None,
    };
    let prompt = s.prompter.chat(
        &req.messages,
        tool_plan
            .calls_tools()
            .then_some(tool_plan.tools.as_slice()),
    )?;
    let n = sampling.n;
    let stream = req.common.stream;
    let logprobs = req.logprobs;
    let run = match start(
        s,
        Plan {
            prompt,
            constraint,
            sampling,
            top_logprobs: if logprobs { top_logprobs } else { 0 },
            stream: stream && !tool_plan.calls_tools(),
        },
    )
    .await
    {
        Ok(run) => run,
        Err(e) if e.param.as_deref() == Some("tools") => {
            return Err(blame_tool(e, &tool_plan.tools))
        }
        Err(e) => return Err(e),
    };
    if stream {
        let include_usage = req.common.include_usage();
        return Ok(stream_chat(
            s.clone(),
            run,
            n,
            tool_plan,
            logprobs.then_some(top_logprobs),
            include_usage,
        ));
    }
    let (gens, warnings) = collect(s, run, n).await?;
    let vocab = s.pool.env().vocab().clone();
    let choices: Vec<Value> = gens
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (message, called) = chat_message(g, &tool_plan);
            json!({
                "index": i,
                "message": message,
                "logprobs": if logprobs { chat_logprobs(&vocab, g, top_logprobs) } else { Value::Null },
                "finish_reason": if called { "tool_calls" } else { finish_reason(g) },
            })
        })
        .collect();
    let mut body = json!({
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": s.model_id,
        "system_fingerprint": concat!("formwork-", env!("CARGO_PKG_VERSION")),
        "choices": choices,
        "usage": usage(&gens),
    });
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    Ok(api::axum_json(&body))
}

/// An SSE response fed by a task that turns the job's events into chunks.
fn sse(
    make: impl FnOnce(
        tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>,
    ) -> tokio::task::JoinHandle<()>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    make(tx);
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn data(v: &Value) -> Result<Bytes, Infallible> {
    Ok(Bytes::from(format!("data: {v}\n\n")))
}

/// Sends a job's events as SSE chunks: `opening` first, then a chunk for
/// each piece of text and the chunks of each finished choice (counting its
/// tokens in the metrics), the usage if asked for, and `[DONE]`. A failed
/// generation ends the stream with an error object; a client gone away ends
/// it early, and dropping `run` then cancels the job.
#[allow(clippy::too_many_arguments)]
async fn pump_events(
    s: Shared,
    mut run: Running,
    n: usize,
    include_usage: bool,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>,
    opening: Vec<Value>,
    usage_chunk: Value,
    text: impl Fn(usize, String) -> Value,
    done: impl Fn(usize, &Generation) -> Vec<Value>,
) {
    for c in opening {
        if tx.send(data(&c)).await.is_err() {
            return;
        }
    }
    let mut gens = Vec::new();
    let mut left = n;
    while left > 0 {
        let out = match run.events.recv().await {
            Some(Event::Text { index, text: t }) => vec![text(index, t)],
            Some(Event::Done { index, generation }) => {
                left -= 1;
                let g = *generation;
                s.metrics.tokens(
                    g.prompt_tokens,
                    g.tokens.len(),
                    g.forced_tokens,
                    g.timings.mask_ms / 1e3,
                );
                let out = done(index, &g);
                gens.push(g);
                out
            }
            Some(Event::Failed(e)) => {
                let err = model_error(e, &s, run.deadline);
                let _ = tx.send(data(&err.body())).await;
                return;
            }
            None => return,
        };
        for c in out {
            if tx.send(data(&c)).await.is_err() {
                return;
            }
        }
    }
    if include_usage {
        let mut c = usage_chunk;
        c["usage"] = usage(&gens);
        let _ = tx.send(data(&c)).await;
    }
    let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
}

fn stream_chat(
    s: Shared,
    run: Running,
    n: usize,
    tool_plan: ToolPlan,
    logprobs: Option<usize>,
    include_usage: bool,
) -> Response {
    let id = new_id("chatcmpl-");
    let created = unix_now();
    let model = s.model_id.clone();
    let chunk = move |choices: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": model,
            "system_fingerprint": concat!("formwork-", env!("CARGO_PKG_VERSION")),
            "choices": choices,
        })
    };
    let vocab = s.pool.env().vocab().clone();
    let opening = (0..n)
        .map(|i| {
            chunk(json!([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]))
        })
        .collect();
    let usage_chunk = chunk(json!([]));
    let text_chunk = chunk.clone();
    let text = move |index: usize, text: String| {
        text_chunk(
            json!([{"index": index, "delta": {"content": text}, "logprobs": null, "finish_reason": null}]),
        )
    };
    let done = move |index: usize, g: &Generation| {
        let mut out = Vec::new();
        let mut reason = finish_reason(g);
        if tool_plan.calls_tools() {
            let (content, calls) = tools::split_calls(&g.text);
            let mut delta = json!({});
            if !content.is_empty() {
                delta["content"] = json!(content);
            }
            if !calls.is_empty() {
                delta["tool_calls"] = tool_calls_json(&calls, true);
                reason = "tool_calls";
            }
            out.push(chunk(
                json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]),
            ));
        }
        let lp = match logprobs {
            Some(top) => chat_logprobs(&vocab, g, top),
            None => Value::Null,
        };
        out.push(chunk(
            json!([{"index": index, "delta": {}, "logprobs": lp, "finish_reason": reason}]),
        ));
        out
    };
    sse(move |tx| {
        tokio::spawn(pump_events(
            s,
            run,
            n,
            include_usage,
            tx,
            opening,
            usage_chunk,
            text,
            done,
        ))
    })
}

async fn completions(State(s): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let t = Instant::now();
    let r = completions_inner(&s, &headers, body).await;
    finish(&s, "completions", t, r)
}

/// The legacy API's logprobs: tokens, their logprobs, the alternatives as
/// maps, and each token's offset in the text.
fn completion_logprobs(vocab: &Vocabulary, g: &Generation, top: usize, offset: usize) -> Value {
    let mut tokens = Vec::new();
    let mut lps = Vec::new();
    let mut tops = Vec::new();
    let mut offsets = Vec::new();
    let mut at = offset;
    for (i, &t) in g.tokens.iter().enumerate() {
        let text = String::from_utf8_lossy(vocab.token_bytes(t)).into_owned();
        offsets.push(at);
        at += text.len();
        tokens.push(text);
        lps.push(g.logprobs.get(i).copied().flatten().unwrap_or(0.0));
        let mut m = serde_json::Map::new();
        for &(a, l) in g
            .top_logprobs
            .get(i)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .take(top)
        {
            m.insert(
                String::from_utf8_lossy(vocab.token_bytes(a)).into_owned(),
                json!(l),
            );
        }
        tops.push(Value::Object(m));
    }
    json!({"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets})
}

async fn completions_inner(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    s.authorize(headers)?;
    let bytes = s.read_body(headers, body).await?;
    let req: CompletionRequest = parse_body(&bytes)?;
    s.check_model(req.common.model.as_deref())?;
    let sampling = req.common.sampling(s.default_max_tokens)?;
    let prompt = match req.prompt {
        Prompt::One(p) => p,
        Prompt::Many(mut v) if v.len() == 1 => v.remove(0),
        Prompt::Many(_) => {
            return Err(ApiError::invalid(
                "prompt",
                "give one prompt per request (a string or a list of one)",
            ))
        }
    };
    let top = match req.logprobs {
        Some(k) if !(0..=5).contains(&k) => {
            return Err(ApiError::invalid(
                "logprobs",
                format!("logprobs must be between 0 and 5, not {k}"),
            ))
        }
        Some(k) => Some(k as usize),
        None => None,
    };
    let constraint = Constraint::from_request(&req.common)?.map(|g| (g.constraint, g.param));
    let n = sampling.n;
    let stream = req.common.stream;
    let echo = req.echo.then(|| prompt.clone());
    let run = start(
        s,
        Plan {
            prompt,
            constraint,
            sampling,
            top_logprobs: top.unwrap_or(0),
            stream,
        },
    )
    .await?;
    if stream {
        let include_usage = req.common.include_usage();
        let id = new_id("cmpl-");
        let created = unix_now();
        let model = s.model_id.clone();
        let chunk = move |choices: Value| json!({"id": id, "object": "text_completion", "created": created, "model": model, "choices": choices});
        let opening = match &echo {
            Some(p) => (0..n)
                .map(|i| {
                    chunk(json!([{"index": i, "text": p, "logprobs": null, "finish_reason": null}]))
                })
                .collect(),
            None => Vec::new(),
        };
        let usage_chunk = chunk(json!([]));
        let text_chunk = chunk.clone();
        let text = move |index: usize, text: String| {
            text_chunk(
                json!([{"index": index, "text": text, "logprobs": null, "finish_reason": null}]),
            )
        };
        let done = move |index: usize, g: &Generation| {
            vec![chunk(
                json!([{"index": index, "text": "", "logprobs": null, "finish_reason": finish_reason(g)}]),
            )]
        };
        let s = s.clone();
        return Ok(sse(move |tx| {
            tokio::spawn(pump_events(
                s,
                run,
                n,
                include_usage,
                tx,
                opening,
                usage_chunk,
                text,
                done,
            ))
        }));
    }
    let (gens, warnings) = collect(s, run, n).await?;
    let vocab = s.pool.env().vocab().clone();
    let prefix = echo.unwrap_or_default();
    let choices: Vec<Value> = gens
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({
                "index": i,
                "text": format!("{prefix}{}", g.text),
                "logprobs": match top {
                    Some(k) => completion_logprobs(&vocab, g, k, prefix.len()),
                    None => Value::Null,
                },
                "finish_reason": finish_reason(g),
            })
        })
        .collect();
    let mut body = json!({
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": unix_now(),
        "model": s.model_id,
        "choices": choices,
        "usage": usage(&gens),
    });
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    Ok(api::axum_json(&body))
}
