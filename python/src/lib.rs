//! `formwork._core`: the native module of the Python package.
//!
//! Thin wrappers over the library: a [`Tokenizer`] holds an
//! `Arc<TokenEnv>`, a [`Grammar`] the grammar IR built from its source, a
//! [`CompiledGrammar`] the shared compiled tables, and a [`Matcher`] one
//! sequence's state. Masks are written straight into caller-owned int32
//! buffers (bit `i % 32` of word `i / 32` is token `i`). Long operations
//! (compiling, masks) release the GIL, and every call into the library runs
//! under `catch_unwind`, so a Rust panic surfaces as a `FormworkError`,
//! never as an abort or a `PanicException`.

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

mod limit;
use limit::TokenLimit;

create_exception!(
    _core,
    FormworkError,
    PyException,
    "Base class of every error formwork raises."
);
create_exception!(
    _core,
    GrammarError,
    FormworkError,
    "A grammar, regex or JSON Schema that cannot be built or compiled."
);
create_exception!(
    _core,
    InvalidSchemaError,
    GrammarError,
    "A JSON Schema that is not valid JSON or not a schema."
);
create_exception!(
    _core,
    UnsupportedSchemaError,
    GrammarError,
    "A JSON Schema keyword or shape formwork cannot enforce (see `lenient=True`)."
);
create_exception!(
    _core,
    TokenizerError,
    FormworkError,
    "A tokenizer that cannot be loaded or used."
);
create_exception!(
    _core,
    MatcherError,
    FormworkError,
    "A matcher operation that failed (budget exceeded, rollback too far, ...)."
);
create_exception!(
    _core,
    TokenIdError,
    MatcherError,
    "A token id outside the tokenizer's logits width."
);
create_exception!(
    _core,
    TerminatedError,
    MatcherError,
    "An operation on a matcher that already accepted EOS (reset() or rollback() first)."
);
create_exception!(
    _core,
    BitmaskError,
    FormworkError,
    "A bitmask of the wrong shape, dtype or memory layout."
);

/// Runs `f`, turning a panic into a `FormworkError`.
fn guarded<R>(f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(FormworkError::new_err(format!(
                "internal error in formwork (please report it): {msg}"
            )))
        }
    }
}

fn grammar_err(e: formwork::GrammarError) -> PyErr {
    use formwork::GrammarError as G;
    match &e {
        G::UnsupportedSchema { .. } => UnsupportedSchemaError::new_err(e.to_string()),
        G::InvalidSchema { .. } => InvalidSchemaError::new_err(e.to_string()),
        _ => GrammarError::new_err(e.to_string()),
    }
}

fn matcher_err(e: formwork::MatcherError) -> PyErr {
    use formwork::MatcherError as M;
    match &e {
        M::TokenOutOfRange { .. } => TokenIdError::new_err(e.to_string()),
        M::Stopped => TerminatedError::new_err(e.to_string()),
        _ => MatcherError::new_err(e.to_string()),
    }
}

/// Most compiled grammars a tokenizer keeps in its cache.
const CACHE_SIZE: usize = 64;

/// Compiled grammars by grammar key, and the keys oldest first.
type CompileCache = (
    HashMap<String, Arc<formwork::CompiledGrammar>>,
    VecDeque<String>,
);

/// A tokenizer's vocabulary with every token's bytes, and what is shared
/// across the grammars compiled for it (token trie, lexeme DFA cache, and a
/// bounded cache of compiled grammars). Load it once per model.
#[pyclass(frozen, module = "formwork._core")]
struct Tokenizer {
    env: Arc<formwork::TokenEnv>,
    cache: Mutex<CompileCache>,
}

impl Tokenizer {
    fn from_vocab(vocab: formwork::Vocabulary) -> Tokenizer {
        Tokenizer {
            env: Arc::new(formwork::TokenEnv::new(vocab)),
            cache: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }
}

fn eos_strings(eos: Option<Vec<u32>>) -> Option<Vec<String>> {
    eos.map(|ids| ids.iter().map(u32::to_string).collect())
}

fn finish_vocab(
    vocab: formwork::Vocabulary,
    eos: Option<Vec<String>>,
    vocab_size: Option<usize>,
) -> Result<formwork::Vocabulary, formwork::VocabError> {
    let mut vocab = vocab;
    if let Some(eos) = eos {
        let names: Vec<&str> = eos.iter().map(String::as_str).collect();
        vocab = vocab.with_eos(&names)?;
    }
    if let Some(w) = vocab_size {
        if w != vocab.logits_width() {
            vocab = vocab.with_logits_width(w)?;
        }
    }
    Ok(vocab)
}

#[pymethods]
impl Tokenizer {
    /// Loads a Hugging Face `tokenizer.json` (plain or `.json.gz`).
    ///
    /// `eos_token_ids` replaces the end-of-sequence set (found by name
    /// otherwise); `vocab_size` is the model's logits width when it is
    /// larger than the vocabulary.
    #[staticmethod]
    #[pyo3(signature = (path, *, eos_token_ids=None, vocab_size=None))]
    fn from_file(
        py: Python<'_>,
        path: std::path::PathBuf,
        eos_token_ids: Option<Vec<u32>>,
        vocab_size: Option<usize>,
    ) -> PyResult<Tokenizer> {
        let eos = eos_strings(eos_token_ids);
        py.detach(|| {
            guarded(|| {
                let v = match &eos {
                    Some(e) => {
                        let names: Vec<&str> = e.iter().map(String::as_str).collect();
                        formwork::Vocabulary::from_file_with_eos(&path, &names)
                    }
                    None => formwork::Vocabulary::from_file(&path),
                }
                .and_then(|v| finish_vocab(v, None, vocab_size))
                .map_err(|e| TokenizerError::new_err(e.to_string()))?;
                Ok(Tokenizer::from_vocab(v))
            })
        })
    }

    /// The tokenizer of a `tokenizer.json` given as a string (what
    /// `tokenizers.Tokenizer.to_str()` returns). See `from_file`.
    #[staticmethod]
    #[pyo3(signature = (json, *, eos_token_ids=None, vocab_size=None))]
    fn from_json(
        py: Python<'_>,
        json: String,
        eos_token_ids: Option<Vec<u32>>,
        vocab_size: Option<usize>,
    ) -> PyResult<Tokenizer> {
        let eos = eos_strings(eos_token_ids);
        py.detach(|| {
            guarded(|| {
                let v = match &eos {
                    Some(e) => {
                        let names: Vec<&str> = e.iter().map(String::as_str).collect();
                        formwork::Vocabulary::from_json_bytes_with_eos(
                            json.as_bytes(),
                            "(from Python)",
                            &names,
                        )
                    }
                    None => formwork::Vocabulary::from_json_bytes(json.as_bytes(), "(from Python)"),
                }
                .and_then(|v| finish_vocab(v, None, vocab_size))
                .map_err(|e| TokenizerError::new_err(e.to_string()))?;
                Ok(Tokenizer::from_vocab(v))
            })
        })
    }

    /// The tokenizer stored in a GGUF model file's metadata (byte-level BPE
    /// models, e.g. SmolLM2, Llama 3, Qwen; the weights are not loaded).
    #[staticmethod]
    #[pyo3(signature = (path, *, vocab_size=None))]
    fn from_gguf(
        py: Python<'_>,
        path: std::path::PathBuf,
        vocab_size: Option<usize>,
    ) -> PyResult<Tokenizer> {
        py.detach(|| {
            guarded(|| {
                let v = formwork::model::gguf_vocabulary(&path)
                    .map_err(|e| TokenizerError::new_err(e.to_string()))?;
                let v = finish_vocab(v, None, vocab_size)
                    .map_err(|e| TokenizerError::new_err(e.to_string()))?;
                Ok(Tokenizer::from_vocab(v))
            })
        })
    }

    /// The tokenizer of a Hugging Face `transformers` fast tokenizer (its
    /// `backend_tokenizer`). `vocab_size` is the model's logits width
    /// (`model.config.vocab_size`), which may exceed `len(hf_tokenizer)`.
    /// The EOS set is the tokenizer's `eos_token_id` if it has one.
    #[staticmethod]
    #[pyo3(signature = (hf_tokenizer, vocab_size=None))]
    fn from_transformers(
        py: Python<'_>,
        hf_tokenizer: &Bound<'_, PyAny>,
        vocab_size: Option<usize>,
    ) -> PyResult<Tokenizer> {
        let backend = hf_tokenizer.getattr("backend_tokenizer").map_err(|_| {
            TokenizerError::new_err(
                "only fast tokenizers are supported (load it with use_fast=True): \
                 it has no backend_tokenizer",
            )
        })?;
        let json: String = backend.call_method0("to_str")?.extract()?;
        let eos: Option<u32> = hf_tokenizer
            .getattr("eos_token_id")
            .ok()
            .and_then(|e| e.extract().ok());
        Tokenizer::from_json(py, json, eos.map(|e| vec![e]), vocab_size)
    }

    /// Width of the logits vector (at least the number of tokens); bitmasks
    /// have `ceil(vocab_size / 32)` int32 words per row.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.env.vocab().logits_width()
    }

    /// Number of token ids in the vocabulary (highest id + 1).
    #[getter]
    fn num_tokens(&self) -> usize {
        self.env.vocab().len()
    }

    /// The end-of-sequence token ids.
    #[getter]
    fn eos_token_ids(&self) -> Vec<u32> {
        self.env.vocab().eos_tokens().to_vec()
    }

    /// The token ids of `text` (the tokenizer's own encoding).
    fn encode(&self, py: Python<'_>, text: &str) -> PyResult<Vec<u32>> {
        py.detach(|| {
            guarded(|| {
                self.env
                    .vocab()
                    .encode(text)
                    .map_err(|e| TokenizerError::new_err(e.to_string()))
            })
        })
    }

    /// The bytes token `id` produces (empty for special tokens).
    fn token_bytes<'py>(&self, py: Python<'py>, id: u32) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.env.vocab().token_bytes(id))
    }

    fn __repr__(&self) -> String {
        format!(
            "Tokenizer(num_tokens={}, vocab_size={}, eos_token_ids={:?})",
            self.env.vocab().len(),
            self.env.vocab().logits_width(),
            self.env.vocab().eos_tokens()
        )
    }
}

/// A constraint, checked when it is made (an invalid schema or regex raises
/// here): build one with `Grammar.json_schema`, `Grammar.regex`,
/// `Grammar.pest`, `Grammar.any_json` or `Grammar.choice`, then `compile` it
/// for a tokenizer.
#[pyclass(frozen, module = "formwork._core")]
struct Grammar {
    grammar: Arc<formwork::grammar::Grammar>,
    /// What the grammar was built from (kind, source, options): the cache key.
    key: String,
    warnings: Vec<(String, String)>,
}

fn parse_whitespace(s: &str) -> PyResult<formwork::Whitespace> {
    match s {
        "compact" => Ok(formwork::Whitespace::Compact),
        "flexible" => Ok(formwork::Whitespace::Flexible),
        _ => Err(GrammarError::new_err(format!(
            "whitespace must be \"compact\" or \"flexible\", not {s:?}"
        ))),
    }
}

fn parse_order(s: &str) -> PyResult<formwork::PropertyOrder> {
    match s {
        "schema" => Ok(formwork::PropertyOrder::Schema),
        "any" => Ok(formwork::PropertyOrder::Any),
        _ => Err(GrammarError::new_err(format!(
            "property_order must be \"schema\" or \"any\", not {s:?}"
        ))),
    }
}

fn parse_spelling(s: &str) -> PyResult<formwork::Spelling> {
    match s {
        "any" => Ok(formwork::Spelling::Any),
        "canonical" => Ok(formwork::Spelling::Canonical),
        _ => Err(GrammarError::new_err(format!(
            "spelling must be \"any\" or \"canonical\", not {s:?}"
        ))),
    }
}

/// Escapes `s` for use as a literal inside a regex.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~ \t\n\r".contains(c) {
            match c {
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                ' ' => out.push(' '),
                _ => {
                    out.push('\\');
                    out.push(c);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Grammar {
    fn plain(
        key: String,
        g: Result<formwork::grammar::Grammar, formwork::GrammarError>,
    ) -> PyResult<Grammar> {
        Ok(Grammar {
            grammar: Arc::new(g.map_err(grammar_err)?),
            key,
            warnings: Vec::new(),
        })
    }
}

#[pymethods]
impl Grammar {
    /// Output valid for a JSON Schema (a str of JSON or a dict).
    ///
    /// `whitespace`: "compact" (none, the default) or "flexible" (any JSON
    /// whitespace). `property_order`: "schema" (the order of `properties`,
    /// the default) or "any". `spelling`: "any" (every JSON spelling, the
    /// default) or "canonical" (known keys and integers spelled one way,
    /// for generation). `max_whitespace` bounds a run of flexible
    /// whitespace. With `lenient=True` a keyword that cannot be enforced is
    /// dropped and listed in `warnings` instead of raising
    /// `UnsupportedSchemaError`.
    #[staticmethod]
    #[pyo3(signature = (schema, *, whitespace="compact", property_order="schema", spelling="any", max_whitespace=None, lenient=false))]
    fn json_schema(
        py: Python<'_>,
        schema: &Bound<'_, PyAny>,
        whitespace: &str,
        property_order: &str,
        spelling: &str,
        max_whitespace: Option<u32>,
        lenient: bool,
    ) -> PyResult<Grammar> {
        let text: String = if schema.is_instance_of::<PyString>() {
            schema.extract()?
        } else {
            py.import("json")?
                .call_method1("dumps", (schema,))?
                .extract()?
        };
        let options = formwork::SchemaOptions {
            whitespace: parse_whitespace(whitespace)?,
            property_order: parse_order(property_order)?,
            spelling: parse_spelling(spelling)?,
            max_whitespace,
            ..formwork::SchemaOptions::default()
        };
        let key = format!(
            "schema\0{whitespace}\0{property_order}\0{spelling}\0{max_whitespace:?}\0{lenient}\0{text}"
        );
        py.detach(|| {
            guarded(|| {
                let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    InvalidSchemaError::new_err(format!("the schema is not valid JSON: {e}"))
                })?;
                let (g, warnings) = if lenient {
                    formwork::json_schema_lenient(&value, &options).map_err(grammar_err)?
                } else {
                    (
                        formwork::json_schema(&value, &options).map_err(grammar_err)?,
                        Vec::new(),
                    )
                };
                Ok(Grammar {
                    grammar: Arc::new(g),
                    key,
                    warnings: warnings
                        .into_iter()
                        .map(|w| (w.pointer, w.message))
                        .collect(),
                })
            })
        })
    }

    /// Output that fully matches the regular expression `pattern` (Rust
    /// `regex` syntax, anchored at both ends).
    #[staticmethod]
    fn regex(py: Python<'_>, pattern: String) -> PyResult<Grammar> {
        let key = format!("regex\0{pattern}");
        py.detach(|| guarded(|| Grammar::plain(key, formwork::regex_grammar(&pattern))))
    }

    /// Output in the language of a pest grammar, from rule `start` (by
    /// default the grammar's first rule).
    #[staticmethod]
    #[pyo3(signature = (text, start=None))]
    fn pest(py: Python<'_>, text: String, start: Option<String>) -> PyResult<Grammar> {
        let key = format!("pest\0{start:?}\0{text}");
        py.detach(|| {
            guarded(|| Grammar::plain(key, formwork::pest_grammar(&text, start.as_deref())))
        })
    }

    /// Output in the language of a GBNF grammar (llama.cpp's format), from
    /// rule `root`.
    #[staticmethod]
    #[pyo3(signature = (text, root="root".to_string()))]
    fn gbnf(py: Python<'_>, text: String, root: String) -> PyResult<Grammar> {
        let key = format!("gbnf\0{root}\0{text}");
        py.detach(|| guarded(|| Grammar::plain(key, formwork::gbnf_grammar_rooted(&text, &root))))
    }

    /// Output in the language of a Lark grammar, as llguidance reads Lark
    /// (vLLM's and SGLang's `grammar` with the llguidance backend).
    #[staticmethod]
    fn lark(py: Python<'_>, text: String) -> PyResult<Grammar> {
        let key = format!("lark\0{text}");
        py.detach(|| guarded(|| Grammar::plain(key, formwork::lark_grammar(&text))))
    }

    /// Output in the language of an XGrammar EBNF grammar, from rule `root`.
    #[staticmethod]
    #[pyo3(signature = (text, root="root".to_string()))]
    fn ebnf(py: Python<'_>, text: String, root: String) -> PyResult<Grammar> {
        let key = format!("ebnf\0{root}\0{text}");
        py.detach(|| guarded(|| Grammar::plain(key, formwork::ebnf_grammar(&text, &root))))
    }

    /// Output following an XGrammar structural tag (a str of JSON or a
    /// dict): free text with tool calls whose arguments follow their
    /// schemas.
    #[staticmethod]
    fn structural_tag(py: Python<'_>, tag: Bound<'_, PyAny>) -> PyResult<Grammar> {
        let text = match tag.extract::<String>() {
            Ok(s) => s,
            Err(_) => py
                .import("json")?
                .call_method1("dumps", (tag,))?
                .extract::<String>()?,
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| GrammarError::new_err(format!("structural tag is not JSON: {e}")))?;
        let key = format!("structural_tag\0{text}");
        py.detach(|| guarded(|| Grammar::plain(key, formwork::structural_tag_grammar(&value))))
    }

    /// Any JSON value (compact or with whitespace, as JSON allows).
    #[staticmethod]
    fn any_json() -> PyResult<Grammar> {
        guarded(|| Grammar::plain("json".into(), Ok(formwork::json_grammar())))
    }

    /// Exactly one of the given strings.
    #[staticmethod]
    fn choice(py: Python<'_>, options: Vec<String>) -> PyResult<Grammar> {
        if options.is_empty() {
            return Err(GrammarError::new_err("choice() needs at least one option"));
        }
        let pattern = options
            .iter()
            .map(|o| regex_escape(o))
            .collect::<Vec<_>>()
            .join("|");
        Grammar::regex(py, format!("(?:{pattern})"))
    }

    /// Keywords a lenient JSON Schema grammar left out, as
    /// (JSON pointer, reason) pairs; empty otherwise.
    #[getter]
    fn warnings(&self) -> Vec<(String, String)> {
        self.warnings.clone()
    }

    fn __repr__(&self) -> String {
        let kind = self.key.split('\0').next().unwrap_or("");
        format!("Grammar({kind})")
    }
}

/// A grammar compiled for one tokenizer: immutable, shareable between
/// threads and requests. Make matchers from it with `Matcher(compiled)`.
#[pyclass(frozen, module = "formwork._core")]
struct CompiledGrammar {
    compiled: Arc<formwork::CompiledGrammar>,
    tokenizer: Py<Tokenizer>,
}

#[pymethods]
impl CompiledGrammar {
    /// The tokenizer this grammar was compiled for.
    #[getter]
    fn tokenizer(&self, py: Python<'_>) -> Py<Tokenizer> {
        self.tokenizer.clone_ref(py)
    }
}

/// Compiles `grammar` for `tokenizer` (releasing the GIL). Results are kept
/// in a bounded per-tokenizer cache keyed by the grammar's source and
/// options, so compiling the same constraint again is free.
#[pyfunction]
fn compile(
    py: Python<'_>,
    grammar: &Bound<'_, Grammar>,
    tokenizer: &Bound<'_, Tokenizer>,
) -> PyResult<CompiledGrammar> {
    let g = grammar.get();
    let t = tokenizer.get();
    let hit = t.cache.lock().ok().and_then(|c| c.0.get(&g.key).cloned());
    let compiled = match hit {
        Some(c) => c,
        None => {
            let env = t.env.clone();
            let ir = g.grammar.clone();
            let c = py.detach(|| {
                guarded(|| {
                    let c = env.compile(&ir).map_err(grammar_err)?;
                    // Its first mask, once, for every matcher of it.
                    let _ = formwork::Matcher::prepare(c.clone(), &env);
                    Ok(c)
                })
            })?;
            if let Ok(mut cache) = t.cache.lock() {
                if !cache.0.contains_key(&g.key) {
                    if cache.1.len() >= CACHE_SIZE {
                        if let Some(old) = cache.1.pop_front() {
                            cache.0.remove(&old);
                        }
                    }
                    cache.1.push_back(g.key.clone());
                    cache.0.insert(g.key.clone(), c.clone());
                }
            }
            c
        }
    };
    Ok(CompiledGrammar {
        compiled,
        tokenizer: tokenizer.clone().unbind(),
    })
}

/// One sequence's state under a compiled grammar: computes the bitmask of
/// allowed next tokens, accepts tokens, rolls back.
#[pyclass(module = "formwork._core")]
struct Matcher {
    inner: formwork::Matcher,
    compiled: Py<CompiledGrammar>,
    /// The last mask, reused from call to call so that a step allocates
    /// nothing (see `formwork::try_compute_masks_into`).
    scratch: formwork::TokenMask,
    /// The token limit the output must close within, if one was given.
    limit: Option<TokenLimit>,
}

/// A C-contiguous int32 bitmask (numpy array, or a CPU torch tensor
/// through `.numpy()`, which shares its memory) of shape `[batch, words]`
/// or `[words]`.
fn bitmask_array<'py>(
    bitmask: &Bound<'py, PyAny>,
    words: usize,
) -> PyResult<Bound<'py, PyArrayDyn<i32>>> {
    let obj = if bitmask.is_instance_of::<numpy::PyUntypedArray>() {
        bitmask.clone()
    } else if bitmask.hasattr("numpy")? && bitmask.hasattr("device")? {
        bitmask.call_method0("numpy").map_err(|e| {
            BitmaskError::new_err(format!(
                "the bitmask tensor must be on the CPU (a device tensor cannot be written in \
                 place): {e}"
            ))
        })?
    } else {
        return Err(BitmaskError::new_err(format!(
            "the bitmask must be a numpy array or a CPU torch tensor, not {}",
            bitmask.get_type().name()?
        )));
    };
    let untyped = obj.cast::<numpy::PyUntypedArray>()?;
    let arr = obj.cast::<PyArrayDyn<i32>>().map_err(|_| {
        BitmaskError::new_err(format!(
            "the bitmask must have dtype int32, not {}",
            untyped.dtype()
        ))
    })?;
    let shape = arr.shape();
    if shape.is_empty() || shape.len() > 2 || shape[shape.len() - 1] != words {
        return Err(BitmaskError::new_err(format!(
            "the bitmask must have shape [batch, {words}] (ceil(vocab_size / 32) int32 words \
             per row), not {shape:?}"
        )));
    }
    if !arr.is_c_contiguous() {
        return Err(BitmaskError::new_err("the bitmask must be C-contiguous"));
    }
    Ok(arr.clone())
}

fn rows_of(arr: &Bound<'_, PyArrayDyn<i32>>) -> usize {
    let shape = arr.shape();
    if shape.len() == 2 {
        shape[0]
    } else {
        1
    }
}

fn write_row(arr: &Bound<'_, PyArrayDyn<i32>>, row: usize, words: &[u32]) -> PyResult<()> {
    let mut rw = arr.try_readwrite().map_err(|e| {
        BitmaskError::new_err(format!(
            "the bitmask cannot be written (read-only or in use): {e}"
        ))
    })?;
    let slice = rw
        .as_slice_mut()
        .map_err(|_| BitmaskError::new_err("the bitmask must be C-contiguous"))?;
    let n = words.len();
    for (d, &s) in slice[row * n..(row + 1) * n].iter_mut().zip(words) {
        *d = s as i32;
    }
    Ok(())
}

/// The token `limit` forces next, if any.
fn forced_by_limit(
    m: &mut formwork::Matcher,
    limit: &mut Option<TokenLimit>,
) -> PyResult<Option<u32>> {
    match limit {
        Some(l) => l.forced(m).map_err(matcher_err),
        None => Ok(None),
    }
}

impl Matcher {
    fn check_live(&self) -> PyResult<()> {
        if self.inner.is_stopped() {
            return Err(TerminatedError::new_err(
                "the matcher has terminated (EOS was accepted); reset() or rollback() it first",
            ));
        }
        Ok(())
    }

    fn words(&self) -> usize {
        self.inner.vocabulary().logits_width().div_ceil(32)
    }

    fn check_id(&self, id: i64) -> PyResult<u32> {
        let width = self.inner.vocabulary().logits_width();
        if id < 0 || id as u64 >= width as u64 {
            return Err(TokenIdError::new_err(format!(
                "token id {id} is outside the logits width {width}"
            )));
        }
        Ok(id as u32)
    }
}

#[pymethods]
impl Matcher {
    /// A matcher at the start of `compiled`. With `max_tokens`, the masks
    /// steer the output to end, complete, within that many accepted tokens:
    /// near the limit they allow only the next token of the shortest
    /// completion (pass the engine's own `max_tokens`).
    #[new]
    #[pyo3(signature = (compiled, max_tokens=None))]
    fn new(compiled: &Bound<'_, CompiledGrammar>, max_tokens: Option<usize>) -> PyResult<Matcher> {
        let c = compiled.get();
        let env = c.tokenizer.get().env.clone();
        let inner = guarded(|| Ok(formwork::Matcher::new(c.compiled.clone(), &env)))?;
        let scratch = formwork::TokenMask::new(inner.vocabulary().logits_width());
        Ok(Matcher {
            inner,
            compiled: compiled.clone().unbind(),
            scratch,
            limit: max_tokens.map(TokenLimit::new),
        })
    }

    /// Writes the allowed next tokens into row `index` of `bitmask`, an
    /// int32 array (numpy, or CPU torch) of shape
    /// `[batch, ceil(vocab_size / 32)]`, in place: bit `i % 32` of word
    /// `i // 32` is set when token `i` is allowed. EOS is allowed when the
    /// output is complete. Raises `TerminatedError` after EOS was accepted.
    #[pyo3(signature = (bitmask, index=0))]
    fn fill_next_token_bitmask(
        &mut self,
        py: Python<'_>,
        bitmask: &Bound<'_, PyAny>,
        index: usize,
    ) -> PyResult<()> {
        let arr = bitmask_array(bitmask, self.words())?;
        let rows = rows_of(&arr);
        if index >= rows {
            return Err(BitmaskError::new_err(format!(
                "index {index} is outside the bitmask's {rows} rows"
            )));
        }
        self.check_live()?;
        let (inner, scratch, limit) = (&mut self.inner, &mut self.scratch, &mut self.limit);
        py.detach(|| {
            guarded(|| {
                if let Some(t) = forced_by_limit(inner, limit)? {
                    scratch.clear();
                    scratch.insert(t);
                    return Ok(());
                }
                inner.try_compute_mask_into(scratch).map_err(matcher_err)
            })
        })?;
        write_row(&arr, index, self.scratch.as_words())
    }

    /// Accepts token `id` if the grammar allows it: True, and the state
    /// moves on; False, and the state is unchanged, if it is not allowed.
    /// Raises `TokenIdError` for an id outside the logits width and
    /// `TerminatedError` after EOS was accepted.
    fn accept_token(&mut self, id: i64) -> PyResult<bool> {
        let id = self.check_id(id)?;
        self.check_live()?;
        guarded(|| match self.inner.commit(id) {
            Ok(()) => Ok(true),
            Err(formwork::MatcherError::TokenNotAllowed { .. }) => Ok(false),
            Err(e) => Err(matcher_err(e)),
        })
    }

    /// Accepts the tokens `ids` in order: True if all were allowed; False,
    /// and the state is unchanged, if one was not.
    fn accept_tokens(&mut self, ids: Vec<i64>) -> PyResult<bool> {
        let ids = ids
            .into_iter()
            .map(|i| self.check_id(i))
            .collect::<PyResult<Vec<u32>>>()?;
        self.check_live()?;
        guarded(|| {
            for (n, &id) in ids.iter().enumerate() {
                let r = if self.inner.is_stopped() {
                    Err(formwork::MatcherError::Stopped)
                } else {
                    self.inner.commit(id)
                };
                if let Err(e) = r {
                    self.inner.rollback(n).map_err(matcher_err)?;
                    return match e {
                        formwork::MatcherError::TokenNotAllowed { .. }
                        | formwork::MatcherError::Stopped => Ok(false),
                        e => Err(matcher_err(e)),
                    };
                }
            }
            Ok(true)
        })
    }

    /// Undoes the last `num_tokens` accepted tokens (EOS included).
    #[pyo3(signature = (num_tokens=1))]
    fn rollback(&mut self, num_tokens: usize) -> PyResult<()> {
        guarded(|| self.inner.rollback(num_tokens).map_err(matcher_err))
    }

    /// True once EOS was accepted (the output is complete and ended).
    fn is_terminated(&self) -> bool {
        self.inner.is_stopped()
    }

    /// True if the output so far is complete (EOS would be allowed).
    fn is_accepting(&mut self) -> PyResult<bool> {
        guarded(|| Ok(self.inner.is_accepting()))
    }

    /// Number of tokens accepted (and not rolled back).
    #[getter]
    fn num_accepted(&self) -> usize {
        self.inner.committed()
    }

    /// Tokens that must come next whatever the model picks (they can be
    /// fed without sampling); empty when there is a choice.
    fn forced_tokens(&mut self, py: Python<'_>) -> PyResult<Vec<u32>> {
        let inner = &mut self.inner;
        py.detach(|| guarded(|| Ok(inner.forced_tokens())))
    }

    /// The bytes every continuation must start with.
    fn forced_bytes<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let inner = &mut self.inner;
        let b = py.detach(|| guarded(|| Ok(inner.forced_bytes())))?;
        Ok(pyo3::types::PyBytes::new(py, &b))
    }

    /// The text every continuation must start with (the forced bytes, up to
    /// the last complete UTF-8 character); "" when there is a choice.
    fn jump_forward_string(&mut self, py: Python<'_>) -> PyResult<String> {
        let inner = &mut self.inner;
        let b = py.detach(|| guarded(|| Ok(inner.forced_bytes())))?;
        let valid = match std::str::from_utf8(&b) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        Ok(String::from_utf8_lossy(&b[..valid]).into_owned())
    }

    /// Back to the start of the grammar.
    fn reset(&mut self, py: Python<'_>) -> PyResult<()> {
        let c = self.compiled.get();
        let env = c.tokenizer.get().env.clone();
        let _ = py;
        self.inner = guarded(|| Ok(formwork::Matcher::new(c.compiled.clone(), &env)))?;
        if let Some(limit) = &mut self.limit {
            limit.reset();
        }
        Ok(())
    }

    /// An independent copy of this matcher in its current state.
    fn copy(&self, py: Python<'_>) -> PyResult<Matcher> {
        Ok(Matcher {
            inner: guarded(|| Ok(self.inner.clone()))?,
            compiled: self.compiled.clone_ref(py),
            scratch: self.scratch.clone(),
            limit: self.limit.clone(),
        })
    }

    /// The compiled grammar this matcher follows.
    #[getter]
    fn compiled(&self, py: Python<'_>) -> Py<CompiledGrammar> {
        self.compiled.clone_ref(py)
    }
}

/// Fills row `indices[i]` (by default row `i`) of `bitmask` with the mask of
/// `matchers[i]`, computing all masks in parallel on every core with the GIL
/// released. Same layout and errors as `Matcher.fill_next_token_bitmask`.
#[pyfunction]
#[pyo3(signature = (matchers, bitmask, indices=None))]
fn fill_next_token_bitmask_batch(
    py: Python<'_>,
    matchers: &Bound<'_, PyList>,
    bitmask: &Bound<'_, PyAny>,
    indices: Option<Vec<usize>>,
) -> PyResult<()> {
    let mut refs: Vec<PyRefMut<'_, Matcher>> = Vec::with_capacity(matchers.len());
    for m in matchers.iter() {
        let m = m.cast::<Matcher>()?;
        refs.push(m.try_borrow_mut().map_err(|_| {
            MatcherError::new_err("a matcher appears twice in the batch (or is in use)")
        })?);
    }
    if refs.is_empty() {
        return Ok(());
    }
    let words = refs[0].words();
    if refs.iter().any(|m| m.words() != words) {
        return Err(BitmaskError::new_err(
            "the matchers' tokenizers have different vocab sizes",
        ));
    }
    let arr = bitmask_array(bitmask, words)?;
    let rows = rows_of(&arr);
    let indices = indices.unwrap_or_else(|| (0..refs.len()).collect());
    if indices.len() != refs.len() {
        return Err(BitmaskError::new_err(format!(
            "{} indices for {} matchers",
            indices.len(),
            refs.len()
        )));
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
        return Err(BitmaskError::new_err(format!(
            "index {bad} is outside the bitmask's {rows} rows"
        )));
    }
    for m in &refs {
        m.check_live()?;
    }
    let mut rw = arr.try_readwrite().map_err(|e| {
        BitmaskError::new_err(format!(
            "the bitmask cannot be written (read-only or in use): {e}"
        ))
    })?;
    let slice = rw
        .as_slice_mut()
        .map_err(|_| BitmaskError::new_err("the bitmask must be C-contiguous"))?;
    let mut rows: Vec<Option<&mut [i32]>> = slice.chunks_mut(words).map(Some).collect();
    let mut sinks = Vec::with_capacity(indices.len());
    let mut inner: Vec<&mut formwork::Matcher> = Vec::with_capacity(indices.len());
    for (m, &row) in refs.iter_mut().zip(&indices) {
        let sink = rows[row].take().ok_or_else(|| {
            BitmaskError::new_err(format!("row {row} appears twice in the indices"))
        })?;
        let m = &mut **m;
        // Rows a token limit forces are written here (rare: near the limit).
        if let Some(t) = forced_by_limit(&mut m.inner, &mut m.limit)? {
            sink.fill(0);
            sink[t as usize / 32] = (1u32 << (t % 32)) as i32;
            continue;
        }
        sinks.push(sink);
        inner.push(&mut m.inner);
    }
    // Each mask is copied into its row by the thread that computed it.
    let status = py.detach(|| {
        guarded(|| {
            Ok(formwork::try_compute_masks_with(
                &mut inner,
                &mut sinks,
                |mask, row| {
                    for (d, &s) in row.iter_mut().zip(mask.as_words()) {
                        *d = s as i32;
                    }
                },
            ))
        })
    })?;
    for r in status {
        r.map_err(matcher_err)?;
    }
    Ok(())
}

/// The mask from the library's `Matcher::compute_mask`, as a list of
/// uint32 words (for parity tests; not part of the API).
#[pyfunction]
fn _rust_mask_words(py: Python<'_>, matcher: &Bound<'_, Matcher>) -> PyResult<Vec<u32>> {
    let mut m = matcher.try_borrow_mut()?;
    let inner = &mut m.inner;
    py.detach(|| guarded(|| Ok(inner.compute_mask().as_words().to_vec())))
}

/// Panics inside the library boundary (tests that a panic becomes a
/// `FormworkError`; not part of the API).
#[pyfunction]
fn _panic_for_test() -> PyResult<()> {
    guarded(|| panic!("deliberate panic"))
}

/// The native part of the formwork package; import `formwork` instead.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Tokenizer>()?;
    m.add_class::<Grammar>()?;
    m.add_class::<CompiledGrammar>()?;
    m.add_class::<Matcher>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(fill_next_token_bitmask_batch, m)?)?;
    m.add_function(wrap_pyfunction!(_rust_mask_words, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add("FormworkError", py.get_type::<FormworkError>())?;
    m.add("GrammarError", py.get_type::<GrammarError>())?;
    m.add("InvalidSchemaError", py.get_type::<InvalidSchemaError>())?;
    m.add(
        "UnsupportedSchemaError",
        py.get_type::<UnsupportedSchemaError>(),
    )?;
    m.add("TokenizerError", py.get_type::<TokenizerError>())?;
    m.add("MatcherError", py.get_type::<MatcherError>())?;
    m.add("TokenIdError", py.get_type::<TokenIdError>())?;
    m.add("TerminatedError", py.get_type::<TerminatedError>())?;
    m.add("BitmaskError", py.get_type::<BitmaskError>())?;
    Ok(())
}
