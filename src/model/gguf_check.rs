//! Bounds on a GGUF file, checked before candle builds anything from it.
//!
//! candle's GGUF reader checks each declared length against the bytes left
//! in the file, so no single string or array can ask for more than the file
//! holds. What it builds from those bytes is bigger, though: each element
//! of a metadata array becomes a 32-byte `Value`, so a 40 MB file holding
//! one array of bytes asks for well over a gigabyte; and the model's
//! hyperparameters size buffers before a single tensor is read (a
//! `llama.block_count` of four billion reserves four billion layers, a
//! `llama.rope.dimension_count` of four billion a table of that width).
//!
//! So loading takes two checks:
//!
//! * [`check_header`] walks the metadata and tensor table as raw bytes,
//!   skipping over values instead of building them, and refuses counts and
//!   lengths past [`limits`]. Anything it cannot parse it leaves to candle,
//!   which reads the same bytes and reports the problem itself.
//! * [`check_model`] runs on candle's parsed header: every tensor's data
//!   must lie inside the file, and the llama hyperparameters must agree with
//!   the tensors the file really has.

use candle_core::quantized::gguf_file::Content;
use std::io::{BufReader, Read, Seek};

/// What a GGUF header may declare. Real files stay far below: a 262,144-token
/// vocabulary is three arrays of that length, a chat template a few KB.
pub mod limits {
    /// Metadata entries (key-value pairs).
    pub const MAX_ENTRIES: u64 = 1 << 16;
    /// Elements of one metadata array, and of all of them together.
    pub const MAX_ARRAY_ELEMENTS: u64 = 1 << 24;
    /// Bytes of one metadata string, and of all of them together.
    pub const MAX_STRING_BYTES: u64 = 128 << 20;
    /// Tensors.
    pub const MAX_TENSORS: u64 = 1 << 16;
    /// Arrays nested in arrays (llama.cpp writes none).
    pub const MAX_ARRAY_DEPTH: usize = 4;
}

/// Walks the metadata and tensor table of the GGUF file read by `r`
/// (positioned at the start), refusing anything past [`limits`]. On return
/// `r`'s position is unspecified.
pub(crate) fn check_header<R: Read + Seek>(r: R) -> Result<(), String> {
    let mut w = Walker {
        r: BufReader::new(r),
        wide: true,
        elements: 0,
        string_bytes: 0,
    };
    match w.header() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(limit)) => Err(limit),
        // A file too short or malformed for the walk is left to candle,
        // which reports it.
        Err(_) => Ok(()),
    }
}

/// Reads the header as raw bytes. The outer `Result` is for bytes that do
/// not parse (left to candle), the inner one for limits exceeded.
struct Walker<R> {
    r: BufReader<R>,
    /// GGUF v2 and later write lengths as u64, v1 as u32.
    wide: bool,
    elements: u64,
    string_bytes: u64,
}

type Walk = std::io::Result<Result<(), String>>;

impl<R: Read + Seek> Walker<R> {
    fn u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0u8; 4];
        self.r.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        self.r.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn len(&mut self) -> std::io::Result<u64> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let n = i64::try_from(n).map_err(|_| std::io::ErrorKind::InvalidData)?;
        self.r.seek_relative(n)
    }

    fn header(&mut self) -> Walk {
        let magic = self.u32()?;
        if magic != 0x4655_4747 && magic != 0x4747_5546 {
            return Ok(Ok(()));
        }
        self.wide = self.u32()? != 1;
        let tensors = self.len()?;
        let entries = self.len()?;
        if entries > limits::MAX_ENTRIES {
            return Ok(Err(format!(
                "the header declares {entries} metadata entries, more than the {} formwork reads",
                limits::MAX_ENTRIES
            )));
        }
        if tensors > limits::MAX_TENSORS {
            return Ok(Err(format!(
                "the header declares {tensors} tensors, more than the {} formwork reads",
                limits::MAX_TENSORS
            )));
        }
        for _ in 0..entries {
            let key = match self.key()? {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            let ty = self.u32()?;
            // candle rounds the tensor data's start up to a multiple of the
            // alignment: zero would divide by zero.
            if key == "general.alignment" && (0..=5).contains(&ty) {
                let size = [1, 1, 2, 2, 4, 4][ty as usize];
                let mut b = [0u8; 8];
                self.r.read_exact(&mut b[..size])?;
                if u64::from_le_bytes(b) == 0 {
                    return Ok(Err("general.alignment is 0".into()));
                }
                continue;
            }
            if let Err(e) = self.value(ty, 0)? {
                return Ok(Err(e));
            }
        }
        for _ in 0..tensors {
            if let Err(e) = self.string("a tensor name")? {
                return Ok(Err(e));
            }
            let dims = self.u32()?;
            // candle refuses more than 4 dimensions itself; skip what is there.
            self.skip(u64::from(dims.min(4)) * if self.wide { 8 } else { 4 })?;
            self.skip(4 + 8)?; // type, offset
        }
        Ok(Ok(()))
    }

    /// Reads a metadata key (the keys that matter are short; longer ones
    /// are skipped and returned empty).
    fn key(&mut self) -> std::io::Result<Result<String, String>> {
        let n = self.len()?;
        if n > 256 {
            return Ok(self
                .skip_string(n, "a metadata key")?
                .map(|()| String::new()));
        }
        self.string_bytes += n;
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b)?;
        Ok(Ok(String::from_utf8_lossy(&b).into_owned()))
    }

    /// Skips a string, counting its bytes.
    fn string(&mut self, what: &str) -> Walk {
        let n = self.len()?;
        self.skip_string(n, what)
    }

    /// Skips the `n` bytes of a string, counting them.
    fn skip_string(&mut self, n: u64, what: &str) -> Walk {
        self.string_bytes = self.string_bytes.saturating_add(n);
        if n > limits::MAX_STRING_BYTES || self.string_bytes > limits::MAX_STRING_BYTES {
            return Ok(Err(format!(
                "{what} of {n} bytes takes the header's strings past the {} MiB formwork reads",
                limits::MAX_STRING_BYTES >> 20
            )));
        }
        self.skip(n)?;
        Ok(Ok(()))
    }

    /// Skips a value of GGUF type `ty`.
    fn value(&mut self, ty: u32, depth: usize) -> Walk {
        let fixed = match ty {
            0 | 1 | 7 => 1, // u8, i8, bool
            2 | 3 => 2,     // u16, i16
            4..=6 => 4,     // u32, i32, f32
            10..=12 => 8,   // u64, i64, f64
            8 => return self.string("a metadata string"),
            9 => 0,
            _ => return Err(std::io::ErrorKind::InvalidData.into()),
        };
        if fixed > 0 {
            self.skip(fixed)?;
            return Ok(Ok(()));
        }
        if depth >= limits::MAX_ARRAY_DEPTH {
            return Ok(Err(format!(
                "metadata arrays are nested more than {} deep",
                limits::MAX_ARRAY_DEPTH
            )));
        }
        let item = self.u32()?;
        let n = self.len()?;
        self.elements = self.elements.saturating_add(n);
        if n > limits::MAX_ARRAY_ELEMENTS || self.elements > limits::MAX_ARRAY_ELEMENTS {
            return Ok(Err(format!(
                "a metadata array of {n} elements takes the header past the {} array elements \
                 formwork reads",
                limits::MAX_ARRAY_ELEMENTS
            )));
        }
        let size = match item {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            _ => 0,
        };
        if size > 0 {
            self.skip(n.saturating_mul(size))?;
            return Ok(Ok(()));
        }
        for _ in 0..n {
            if let Err(e) = self.value(item, depth + 1)? {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

/// Checks candle's parsed header against the file: every tensor's data lies
/// inside its `file_len` bytes, and the llama hyperparameters that size
/// buffers agree with the tensors present.
/// Longest context a model file may declare.
const MAX_CONTEXT: u64 = 1 << 20;

pub(crate) fn check_model(c: &Content, file_len: u64) -> Result<(), String> {
    for (name, t) in &c.tensor_infos {
        let block = t.ggml_dtype.block_size() as u64;
        let elems = t
            .shape
            .dims()
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
            .filter(|n| n % block == 0);
        let bytes = elems.and_then(|n| (n / block).checked_mul(t.ggml_dtype.type_size() as u64));
        let end = bytes.and_then(|b| {
            c.tensor_data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(b))
        });
        if end.is_none_or(|e| e > file_len) {
            return Err(format!(
                "tensor {name:?} of shape {:?} does not lie inside the file's {file_len} bytes",
                t.shape.dims()
            ));
        }
    }
    // Hyperparameters live under the architecture's own prefix.
    let arch = c
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .map_or("llama", String::as_str);
    let get = |key: &str| {
        c.metadata
            .get(&format!("{arch}.{key}"))
            .and_then(|v| v.to_u32().ok())
            .map(u64::from)
    };
    let bad = |what: String| {
        Err(format!(
            "{what}; the file's hyperparameters are inconsistent"
        ))
    };
    let dims = |name: &str| c.tensor_infos.get(name).map(|t| t.shape.dims().to_vec());
    let heads = get("attention.head_count");
    let kv_heads = get("attention.head_count_kv");
    let width = get("embedding_length");
    if let Some(h) = heads {
        if h == 0 {
            return bad(format!("{arch}.attention.head_count is 0"));
        }
        if let Some(w) = width {
            if w % h != 0 {
                return bad(format!(
                    "{arch}.embedding_length {w} is not a multiple of {arch}.attention.head_count {h}"
                ));
            }
            // Qwen3 and Gemma give the head size; others derive it.
            let head = get("attention.key_length").unwrap_or(w / h);
            if let Some(rope) = get("rope.dimension_count") {
                if rope > head {
                    return bad(format!(
                        "{arch}.rope.dimension_count {rope} exceeds the head size {head}"
                    ));
                }
            }
        }
        if let Some(kv) = kv_heads {
            if kv == 0 || h % kv != 0 {
                return bad(format!(
                    "{arch}.attention.head_count_kv {kv} does not divide {arch}.attention.head_count {h}"
                ));
            }
        }
    }
    if let (Some(w), Some(d)) = (width, dims("token_embd.weight")) {
        if d.len() != 2 || d[1] as u64 != w {
            return bad(format!(
                "token_embd.weight has shape {d:?}, not [tokens, {w}] as {arch}.embedding_length says"
            ));
        }
    }
    if let Some(d) = dims("output.weight") {
        if d.len() != 2 {
            return bad(format!(
                "output.weight has shape {d:?}, not [tokens, width]"
            ));
        }
    }
    let tensors = c.tensor_infos.len() as u64;
    if let Some(blocks) = get("block_count") {
        // Each block has several tensors; a count past the tensors present
        // would only reserve room for layers that cannot be loaded.
        let first = ["blk.0.attn_q.weight", "blk.0.attn_qkv.weight"];
        if blocks > tensors || !first.iter().any(|n| c.tensor_infos.contains_key(*n)) && blocks > 0
        {
            return bad(format!(
                "{arch}.block_count is {blocks}, but the file holds {tensors} tensors"
            ));
        }
    }
    if let Some(experts) = get("expert_count") {
        if experts > tensors {
            return bad(format!(
                "{arch}.expert_count is {experts}, but the file holds {tensors} tensors"
            ));
        }
    }
    // Rotary tables are precomputed for the whole context.
    if let Some(n) = get("context_length") {
        if n > MAX_CONTEXT {
            return bad(format!(
                "{arch}.context_length is {n}, above the {MAX_CONTEXT} positions formwork runs"
            ));
        }
    }
    Ok(())
}
