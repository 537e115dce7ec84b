//! `formwork serve` end to end, over raw HTTP/1.1 from the standard
//! library, with the default model (fetched as `formwork generate`
//! fetches it): what a plain `cargo test --release` can check without
//! Python. The official `openai` SDK's tests are in `tests/serve/` (run by
//! `.ci/run`).
//!
//! * a `json_schema` response validates, and a tool call's arguments
//!   validate against the tool's parameters;
//! * each bad request gets OpenAI's error shape with its status (400, 401,
//!   404, 413, 422, 429), and the server keeps serving;
//! * a client that disconnects mid-stream cancels its generation, a
//!   request past `--timeout` gets 504, and SIGTERM lets the request in
//!   flight finish before the server exits 0.

use formwork::model::fetch::{default_model, FetchConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
    model: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let path = default_model(&FetchConfig::from_env()).expect("default model");
        let mut child = Command::new(env!("CARGO_BIN_EXE_formwork"))
            .args(["serve", "--port", "0", "--model"])
            .arg(&path)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("formwork: listening on http://") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let mut s = Server {
            child,
            port,
            model: String::new(),
        };
        let key = extra
            .iter()
            .position(|a| *a == "--api-key")
            .map(|i| format!("Authorization: Bearer {}", extra[i + 1]));
        let (status, body) = s.get(
            "/v1/models",
            &key.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(status, 200, "{body}");
        s.model = body["data"][0]["id"].as_str().unwrap().to_string();
        s
    }

    /// Sends one request on a fresh connection and reads the whole answer.
    fn raw(&self, request: &[u8]) -> (u16, String, String) {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
        // A server may answer (413) before reading a huge body: a failed
        // write is then fine, the answer is what counts.
        let _ = c.write_all(request);
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_string(), body.to_string())
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> (u16, String, String) {
        let mut r = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        for h in headers {
            r.extend_from_slice(h.as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(body);
        self.raw(&r)
    }

    fn get(&self, path: &str, headers: &[&str]) -> (u16, Value) {
        let (status, _, body) = self.request("GET", path, headers, b"");
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, _, text) = self.request("POST", path, &[], body.to_string().as_bytes());
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
        )
    }

    fn chat(&self, extra: Value) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": "Describe a person as JSON."}],
            "max_tokens": 48,
            "temperature": 0,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    /// A normal request still succeeds.
    fn still_serves(&self) {
        let (status, body) =
            self.post("/v1/chat/completions", &self.chat(json!({"max_tokens": 4})));
        assert_eq!(status, 200, "{body}");
    }

    /// Waits until no generation runs (the slot of an answered request is
    /// freed a moment after its answer).
    fn wait_idle(&self) {
        let t = Instant::now();
        loop {
            let (_, h) = self.get("/health", &[]);
            if h["running"] == 0 && h["queued"] == 0 {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the server stays busy: {h}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until a generation runs (or `request` has already finished):
    /// a fixed sleep is not enough on a loaded machine. Call
    /// [`wait_idle`](Self::wait_idle) before starting `request`.
    fn wait_running<T>(&self, request: &std::thread::ScopedJoinHandle<'_, T>) {
        let t = Instant::now();
        while !request.is_finished() {
            let (_, h) = self.get("/health", &[]);
            if h["running"].as_u64().unwrap_or(0) > 0 {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no generation started: {h}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(mut self) -> std::process::ExitStatus {
        self.sigterm();
        self.child.wait().unwrap()
    }

    fn sigterm(&self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }
}

impl Drop for Server {
    /// A failed test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["type"].is_string(), "{body}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "{body}"
    );
}

#[test]
fn schemas_tools_and_bad_requests() {
    let s = Server::start(&["--parallel", "1", "--queue", "2", "--max-body", "1048576"]);
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
        "required": ["name", "age"],
        "additionalProperties": false,
    });
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": schema}}})),
    );
    assert_eq!(status, 200, "{body}");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    let v: Value = serde_json::from_str(text).unwrap();
    assert!(jsonschema::is_valid(&schema, &v), "{text}");
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let params = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": params}}],
            "tool_choice": "required",
        })),
    );
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{body}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(jsonschema::is_valid(&params, &args), "{args}");

    // llama-server's top-level `grammar` (GBNF) and `json_object` with a `schema`.
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({"grammar": "root ::= (\"yes\" | \"no\") \".\""})),
    );
    assert_eq!(status, 200, "{body}");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text == "yes." || text == "no.", "{text}");
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({"response_format": {"type": "json_object", "schema": schema}})),
    );
    assert_eq!(status, 200, "{body}");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        jsonschema::is_valid(&schema, &serde_json::from_str(text).unwrap()),
        "{text}"
    );

    // Bad requests: each gets its status and OpenAI's error shape.
    let (status, _, text) = s.request("POST", "/v1/chat/completions", &[], b"{not json");
    assert_error(status, &serde_json::from_str(&text).unwrap(), 400);
    let (status, body) = s.post("/v1/chat/completions", &s.chat(json!({"messages": "hi"})));
    assert_error(status, &body, 422);
    let (status, body) = s.post("/v1/chat/completions", &s.chat(json!({"model": "gpt-9"})));
    assert_error(status, &body, 404);
    let (status, body) = s.post("/v1/chat/completions", &s.chat(json!({"max_tokens": -5})));
    assert_error(status, &body, 400);
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true, "schema": {"type": 5}}}})),
    );
    assert_error(status, &body, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("/type"),
        "{body}"
    );
    let (status, body) = s.post(
        "/v1/chat/completions",
        &s.chat(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true,
            "schema": {"type": "object", "properties": {"a": {"$ref": "http://example.com/a.json"}}}}}})),
    );
    assert_error(status, &body, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/properties/a/$ref"),
        "{body}"
    );
    let big = vec![b'a'; 2 << 20];
    let (status, _, text) = s.request("POST", "/v1/chat/completions", &[], &big);
    assert_error(status, &serde_json::from_str(&text).unwrap(), 413);
    let (status, body) = s.get("/nowhere", &[]);
    assert_error(status, &body, 404);
    s.still_serves();

    let (status, _, metrics) = s.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("formwork_requests_total{endpoint=\"chat_completions\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("formwork_mask_duration_seconds_count"),
        "{metrics}"
    );
    assert!(s.stop().success());
}

#[test]
fn api_key_queue_timeout_disconnect_and_shutdown() {
    let s = Server::start(&[
        "--parallel",
        "1",
        "--queue",
        "0",
        "--api-key",
        "sekrit",
        "--timeout",
        "3",
    ]);
    let auth = "Authorization: Bearer sekrit";
    let post = |body: &Value, headers: &[&str]| {
        let (status, _, text) = s.request(
            "POST",
            "/v1/chat/completions",
            headers,
            body.to_string().as_bytes(),
        );
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let small = s.chat(json!({"max_tokens": 2}));
    assert_error(post(&small, &[]).0, &post(&small, &[]).1, 401);
    let (status, body) = post(&small, &["Authorization: Bearer wrong"]);
    assert_error(status, &body, 401);
    assert_eq!(post(&small, &[auth]).0, 200);
    // /health needs no key (load balancers probe it).
    assert_eq!(s.get("/health", &[]).0, 200);

    // One slot and no queue: a second request while one runs gets 429.
    // At least 3,000 letters: far longer than --timeout 5 allows.
    let long = s.chat(json!({"max_tokens": 1800, "guided_regex": "[a-z ]{3000,}"}));
    s.wait_idle();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| post(&long, &[auth]));
        s.wait_running(&first);
        let (status, _, text) = s.request(
            "POST",
            "/v1/chat/completions",
            &[auth],
            small.to_string().as_bytes(),
        );
        let head_and_body = text;
        assert_eq!(status, 429, "{head_and_body}");
        // The first runs into --timeout 5: 504.
        let (status, body) = first.join().unwrap();
        assert_error(status, &body, 504);
    });

    // A streaming client that goes away mid-stream frees its slot.
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let body = s
        .chat(json!({"max_tokens": 1800, "stream": true, "guided_regex": "[a-z ]{3000,}"}))
        .to_string();
    write!(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut buf = [0u8; 512];
    let n = c.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
    drop(c);
    let t = Instant::now();
    loop {
        let (_, h) = s.get("/health", &[]);
        // Queued counts too: the answer's headers go out before a slot
        // takes the job.
        if h["running"] == 0 && h["queued"] == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the generation still runs after its client left: {h}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(post(&small, &[auth]).0, 200);

    // SIGTERM while a request runs: it finishes, then the server exits 0.
    // 60 letters: long enough to be running when the signal comes.
    let body = s.chat(json!({"max_tokens": 80, "guided_regex": "[a-z]{60}"}));
    s.wait_idle();
    std::thread::scope(|scope| {
        let running = scope.spawn(|| post(&body, &[auth]));
        s.wait_running(&running);
        s.sigterm();
        let (status, body) = running.join().unwrap();
        assert_eq!(status, 200, "{body}");
    });
    let mut s = s;
    assert!(s.child.wait().unwrap().success());
}
