//! formwork's own forward pass for the Llama family of decoders: Llama and
//! SmolLM2, Qwen2/2.5 and Qwen3.
//!
//! These models differ only in details (biases on the query/key/value
//! projections for Qwen2, per-head norms of queries and keys for Qwen3, the
//! pairing of rotary dimensions), so one implementation with a few switches
//! covers them, read from the GGUF's metadata and tensor names as
//! llama.cpp reads them.
//!
//! The pass works on plain `f32` buffers rather than tensors: a 135M-
//! parameter model spends a few milliseconds per token, so per-operation
//! allocation and dispatch would be a large share. Matrix products go
//! through [`QMatrix`] (the file's quantized blocks, SIMD kernels). Every
//! row of a pass carries its own sequence and position, so the same code
//! runs a prompt (many positions of one sequence, as matrix-matrix
//! products), one decode step, and a step of several sequences at once
//! (several samples of one prompt).
//!
//! The key/value cache of a sequence grows by amortised doubling (no copy
//! of the whole cache per step) and is truncated when a position is fed
//! again.

use super::quant::{dot_f32, Parallel, QMatrix};
use candle_core::quantized::gguf_file;
use std::io::{Read, Seek, SeekFrom};

/// How the rotary embedding pairs dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RopeStyle {
    /// Pairs `(2i, 2i + 1)`: Llama GGUFs (whose converter permutes the
    /// query and key weights for it).
    Interleaved,
    /// Pairs `(i, i + d/2)`: Qwen.
    Neox,
}

struct Config {
    dim: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rope_dim: usize,
    rope_style: RopeStyle,
    /// Inverse frequencies of the rotary pairs, scaling applied.
    inv_freq: Vec<f32>,
    eps: f32,
}

struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    wo: QMatrix,
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate: QMatrix,
    up: QMatrix,
    down: QMatrix,
}

/// The key/value cache of one sequence: per layer, `[position][kv_dim]`.
#[derive(Clone, Default)]
pub(crate) struct KvCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    len: usize,
}

/// One row of a pass: feed `token` at `pos` of sequence `seq`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub(crate) seq: usize,
    pub(crate) pos: usize,
    pub(crate) token: u32,
}

/// A loaded model of the Llama family.
pub(crate) struct Decoder {
    config: Config,
    embed: QMatrix,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// `None`: the output shares the embedding's weights.
    output: Option<QMatrix>,
    par: Parallel,
    /// The caches of the sequences in flight; sequence 0 is the default one.
    caches: Vec<KvCache>,
}

/// The `general.architecture` values this decoder runs.
pub(crate) const ARCHITECTURES: &[&str] = &["llama", "qwen2", "qwen3"];

impl Decoder {
    /// Loads the model of `content` (its tensors read from `reader`), with
    /// `threads` threads for its products.
    pub(crate) fn load<R: Read + Seek>(
        arch: &str,
        content: &gguf_file::Content,
        reader: &mut R,
        threads: usize,
    ) -> Result<Decoder, String> {
        let meta = |key: &str| content.metadata.get(&format!("{arch}.{key}"));
        let int = |key: &str| -> Result<usize, String> {
            meta(key)
                .and_then(|v| {
                    v.to_u32()
                        .ok()
                        .or_else(|| v.to_u64().ok().map(|v| v as u32))
                })
                .map(|v| v as usize)
                .ok_or_else(|| format!("metadata {arch}.{key} is missing or not an integer"))
        };
        let float = |key: &str| meta(key).and_then(|v| v.to_f32().ok());
        let dim = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
        let layers_n = int("block_count")?;
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(format!(
                "{heads} attention heads cannot share {kv_heads} key/value heads"
            ));
        }
        let head_dim = int("attention.key_length").unwrap_or(dim / heads);
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(format!("head dimension {head_dim} is not even"));
        }
        let rope_dim = int("rope.dimension_count")
            .unwrap_or(head_dim)
            .min(head_dim)
            & !1;
        let theta = float("rope.freq_base").unwrap_or(10_000.0);
        let eps = float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5);
        let rope_style = if arch == "llama" {
            RopeStyle::Interleaved
        } else {
            RopeStyle::Neox
        };
        let mut tensors = Tensors { content, reader };
        // Linear position scaling, and Llama 3's per-frequency factors.
        let linear = match meta("rope.scaling.type").and_then(|v| v.to_string().ok()) {
            None => 1.0,
            Some(t) if t == "none" => 1.0,
            Some(t) if t == "linear" => float("rope.scaling.factor").unwrap_or(1.0),
            Some(t) => return Err(format!("rope scaling {t:?} is not supported")),
        };
        let factors = if content.tensor_infos.contains_key("rope_freqs.weight") {
            Some(tensors.vector("rope_freqs.weight")?)
        } else {
            None
        };
        let inv_freq = (0..rope_dim / 2)
            .map(|i| {
                let f = 1.0 / theta.powf(2.0 * i as f32 / rope_dim as f32) / linear;
                match &factors {
                    Some(fs) => f / fs.get(i).copied().unwrap_or(1.0),
                    None => f,
                }
            })
            .collect();
        let config = Config {
            dim,
            heads,
            kv_heads,
            head_dim,
            rope_dim,
            rope_style,
            inv_freq,
            eps,
        };
        let embed = tensors.matrix("token_embd.weight")?;
        if embed.cols() != dim {
            return Err(format!(
                "token_embd.weight has rows of {}, the model's width is {dim}",
                embed.cols()
            ));
        }
        let q_dim = heads * head_dim;
        let kv_dim = kv_heads * head_dim;
        let mut layers = Vec::with_capacity(layers_n);
        for i in 0..layers_n {
            let name = |t: &str| format!("blk.{i}.{t}");
            let has = |t: &str| content.tensor_infos.contains_key(&name(t));
            let mut opt = |t: &str| -> Result<Option<Vec<f32>>, String> {
                if has(t) {
                    tensors.vector(&name(t)).map(Some)
                } else {
                    Ok(None)
                }
            };
            let bq = opt("attn_q.bias")?;
            let bk = opt("attn_k.bias")?;
            let bv = opt("attn_v.bias")?;
            let q_norm = opt("attn_q_norm.weight")?;
            let k_norm = opt("attn_k_norm.weight")?;
            let layer = Layer {
                attn_norm: tensors.vector(&name("attn_norm.weight"))?,
                wq: tensors.matrix(&name("attn_q.weight"))?,
                wk: tensors.matrix(&name("attn_k.weight"))?,
                wv: tensors.matrix(&name("attn_v.weight"))?,
                wo: tensors.matrix(&name("attn_output.weight"))?,
                bq,
                bk,
                bv,
                q_norm,
                k_norm,
                ffn_norm: tensors.vector(&name("ffn_norm.weight"))?,
                gate: tensors.matrix(&name("ffn_gate.weight"))?,
                up: tensors.matrix(&name("ffn_up.weight"))?,
                down: tensors.matrix(&name("ffn_down.weight"))?,
            };
            let shapes = [
                ("attn_q.weight", &layer.wq, q_dim, dim),
                ("attn_k.weight", &layer.wk, kv_dim, dim),
                ("attn_v.weight", &layer.wv, kv_dim, dim),
                ("attn_output.weight", &layer.wo, dim, q_dim),
                ("ffn_gate.weight", &layer.gate, layer.gate.rows(), dim),
                ("ffn_up.weight", &layer.up, layer.gate.rows(), dim),
                ("ffn_down.weight", &layer.down, dim, layer.gate.rows()),
            ];
            for (t, m, rows, cols) in shapes {
                if m.rows() != rows || m.cols() != cols {
                    return Err(format!(
                        "{} is {}×{}, expected {rows}×{cols}",
                        name(t),
                        m.rows(),
                        m.cols()
                    ));
                }
            }
            let lens = [
                ("attn_norm.weight", Some(&layer.attn_norm), dim),
                ("ffn_norm.weight", Some(&layer.ffn_norm), dim),
                ("attn_q.bias", layer.bq.as_ref(), q_dim),
                ("attn_k.bias", layer.bk.as_ref(), kv_dim),
                ("attn_v.bias", layer.bv.as_ref(), kv_dim),
                ("attn_q_norm.weight", layer.q_norm.as_ref(), head_dim),
                ("attn_k_norm.weight", layer.k_norm.as_ref(), head_dim),
            ];
            for (t, v, len) in lens {
                if let Some(v) = v {
                    if v.len() != len {
                        return Err(format!(
                            "{} has {} values, expected {len}",
                            name(t),
                            v.len()
                        ));
                    }
                }
            }
            layers.push(layer);
        }
        let norm = tensors.vector("output_norm.weight")?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(tensors.matrix("output.weight")?)
        } else {
            None
        };
        if norm.len() != dim || output.as_ref().is_some_and(|o| o.cols() != dim) {
            return Err("output_norm.weight or output.weight does not match the width".into());
        }
        Ok(Decoder {
            config,
            embed,
            layers,
            norm,
            output,
            par: Parallel::new(threads),
            caches: vec![KvCache::default()],
        })
    }

    /// Makes sequence `to`'s cache a copy of `from`'s (`false` if `from`
    /// does not exist).
    pub(crate) fn fork(&mut self, from: usize, to: usize) -> bool {
        let Some(src) = self.caches.get(from).cloned() else {
            return false;
        };
        if to >= self.caches.len() {
            self.caches.resize_with(to + 1, KvCache::default);
        }
        self.caches[to] = src;
        true
    }

    fn output(&self) -> &QMatrix {
        self.output.as_ref().unwrap_or(&self.embed)
    }

    /// Runs `rows` and returns the logits after each row listed in
    /// `logits_for` (indices into `rows`), concatenated. Rows of the same
    /// sequence must be in position order; a sequence's cache is cut back
    /// to its first position here, so feeding a position again replaces it.
    pub(crate) fn forward(
        &mut self,
        rows: &[Row],
        logits_for: &[usize],
    ) -> Result<Vec<f32>, String> {
        let c = &self.config;
        let (dim, hd) = (c.dim, c.head_dim);
        let q_dim = c.heads * hd;
        let kv_dim = c.kv_heads * hd;
        let m = rows.len();
        let vocab = self.embed.rows();
        for r in rows {
            if r.token as usize >= vocab {
                return Err(format!(
                    "token id {} is out of range ({vocab} tokens)",
                    r.token
                ));
            }
            if r.seq >= self.caches.len() {
                self.caches.resize_with(r.seq + 1, KvCache::default);
            }
        }
        // Cut each sequence back to its first fed position.
        for (s, cache) in self.caches.iter_mut().enumerate() {
            if let Some(first) = rows.iter().filter(|r| r.seq == s).map(|r| r.pos).min() {
                if first > cache.len {
                    return Err(format!(
                        "position {first} fed with only {} positions cached",
                        cache.len
                    ));
                }
                cache.len = first;
            }
        }
        for (s, cache) in self.caches.iter_mut().enumerate() {
            let fed = rows.iter().filter(|r| r.seq == s).count();
            if fed == 0 {
                continue;
            }
            let new_len = cache.len + fed;
            if cache.keys.len() != self.layers.len() {
                cache.keys = vec![Vec::new(); self.layers.len()];
                cache.values = vec![Vec::new(); self.layers.len()];
            }
            for buf in cache.keys.iter_mut().chain(cache.values.iter_mut()) {
                buf.resize(new_len * kv_dim, 0.0);
            }
        }

        let mut x = vec![0f32; m * dim];
        for (j, r) in rows.iter().enumerate() {
            self.embed
                .row_to_f32(r.token as usize, &mut x[j * dim..(j + 1) * dim]);
        }
        let (cos, sin) = rope_tables(c, rows);
        let mut h = vec![0f32; m * dim];
        let mut q = vec![0f32; m * q_dim];
        let mut k = vec![0f32; m * kv_dim];
        let mut v = vec![0f32; m * kv_dim];
        let mut att = vec![0f32; m * q_dim];
        let mut o = vec![0f32; m * dim];
        let ff = self.layers.first().map_or(0, |l| l.gate.rows());
        let mut g = vec![0f32; m * ff];
        let mut u = vec![0f32; m * ff];
        for (li, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, c.eps, &mut h);
            layer.wq.matmul(&h, m, &mut q, &self.par);
            layer.wk.matmul(&h, m, &mut k, &self.par);
            layer.wv.matmul(&h, m, &mut v, &self.par);
            add_bias(&mut q, layer.bq.as_deref());
            add_bias(&mut k, layer.bk.as_deref());
            add_bias(&mut v, layer.bv.as_deref());
            if let Some(w) = &layer.q_norm {
                rms_norm_heads(&mut q, w, c.eps);
            }
            if let Some(w) = &layer.k_norm {
                rms_norm_heads(&mut k, w, c.eps);
            }
            rope(c, &mut q, c.heads, &cos, &sin);
            rope(c, &mut k, c.kv_heads, &cos, &sin);
            for (j, r) in rows.iter().enumerate() {
                let cache = &mut self.caches[r.seq];
                let at = r.pos * kv_dim;
                cache.keys[li][at..at + kv_dim].copy_from_slice(&k[j * kv_dim..(j + 1) * kv_dim]);
                cache.values[li][at..at + kv_dim].copy_from_slice(&v[j * kv_dim..(j + 1) * kv_dim]);
            }
            attention(c, &self.caches, li, rows, &q, &mut att, &self.par);
            layer.wo.matmul(&att, m, &mut o, &self.par);
            for (x, o) in x.iter_mut().zip(&o) {
                *x += o;
            }
            rms_norm(&x, &layer.ffn_norm, c.eps, &mut h);
            layer.gate.matmul(&h, m, &mut g, &self.par);
            layer.up.matmul(&h, m, &mut u, &self.par);
            for (g, u) in g.iter_mut().zip(&u) {
                *g = silu(*g) * u;
            }
            layer.down.matmul(&g, m, &mut o, &self.par);
            for (x, o) in x.iter_mut().zip(&o) {
                *x += o;
            }
        }
        for (s, cache) in self.caches.iter_mut().enumerate() {
            if let Some(last) = rows.iter().filter(|r| r.seq == s).map(|r| r.pos).max() {
                cache.len = last + 1;
            }
        }
        // Only the rows whose logits are wanted go through the output.
        let n = logits_for.len();
        let mut last = vec![0f32; n * dim];
        for (i, &j) in logits_for.iter().enumerate() {
            rms_norm(
                &x[j * dim..(j + 1) * dim],
                &self.norm,
                c.eps,
                &mut last[i * dim..(i + 1) * dim],
            );
        }
        let out = self.output();
        let mut logits = vec![0f32; n * out.rows()];
        out.matmul(&last, n, &mut logits, &self.par);
        Ok(logits)
    }
}

/// Reads tensors of a GGUF file by name.
struct Tensors<'a, R> {
    content: &'a gguf_file::Content,
    reader: &'a mut R,
}

impl<R: Read + Seek> Tensors<'_, R> {
    fn bytes(
        &mut self,
        name: &str,
    ) -> Result<(candle_core::quantized::GgmlDType, Vec<usize>, Vec<u8>), String> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        let dims = info.shape.dims().to_vec();
        let elems: usize = dims.iter().product();
        let block = info.ggml_dtype.block_size();
        if !elems.is_multiple_of(block) {
            return Err(format!(
                "tensor {name} has {elems} values, not whole blocks"
            ));
        }
        let len = elems / block * info.ggml_dtype.type_size();
        let at = self.content.tensor_data_offset + info.offset;
        self.reader
            .seek(SeekFrom::Start(at))
            .map_err(|e| format!("cannot read tensor {name}: {e}"))?;
        let mut bytes = vec![0u8; len];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|e| format!("cannot read tensor {name}: {e}"))?;
        Ok((info.ggml_dtype, dims, bytes))
    }

    fn matrix(&mut self, name: &str) -> Result<QMatrix, String> {
        let (dtype, dims, bytes) = self.bytes(name)?;
        let [rows, cols] = dims[..] else {
            return Err(format!(
                "tensor {name} has shape {dims:?}, expected a matrix"
            ));
        };
        QMatrix::from_ggml(dtype, rows, cols, &bytes).map_err(|e| format!("{name}: {}", e.0))
    }

    fn vector(&mut self, name: &str) -> Result<Vec<f32>, String> {
        let (dtype, dims, bytes) = self.bytes(name)?;
        let n: usize = dims.iter().product();
        let m = QMatrix::from_ggml(dtype, 1, n, &bytes).map_err(|e| format!("{name}: {}", e.0))?;
        let mut v = vec![0f32; n];
        m.row_to_f32(0, &mut v);
        Ok(v)
    }
}

fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let ss = dot_f32(xr, xr) / d as f32;
        let scale = 1.0 / (ss + eps).sqrt();
        for ((o, &x), &w) in or.iter_mut().zip(xr).zip(w) {
            *o = x * scale * w;
        }
    }
}

/// RMS norm of each head (`w.len()` values) in place.
fn rms_norm_heads(x: &mut [f32], w: &[f32], eps: f32) {
    let d = w.len();
    for xr in x.chunks_exact_mut(d) {
        let ss = dot_f32(xr, xr) / d as f32;
        let scale = 1.0 / (ss + eps).sqrt();
        for (x, &w) in xr.iter_mut().zip(w) {
            *x = *x * scale * w;
        }
    }
}

fn add_bias(x: &mut [f32], bias: Option<&[f32]>) {
    if let Some(b) = bias {
        for row in x.chunks_exact_mut(b.len()) {
            for (x, b) in row.iter_mut().zip(b) {
                *x += b;
            }
        }
    }
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// Cosines and sines of each row's rotary angles (`rows × rope_dim/2`).
fn rope_tables(c: &Config, rows: &[Row]) -> (Vec<f32>, Vec<f32>) {
    let half = c.rope_dim / 2;
    let mut cos = Vec::with_capacity(rows.len() * half);
    let mut sin = Vec::with_capacity(rows.len() * half);
    for r in rows {
        for &f in &c.inv_freq {
            // In f64: positions times frequencies lose digits in f32.
            let a = r.pos as f64 * f as f64;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    (cos, sin)
}

/// Rotates the first `rope_dim` dimensions of each of `heads` heads per row.
fn rope(c: &Config, x: &mut [f32], heads: usize, cos: &[f32], sin: &[f32]) {
    let (hd, half) = (c.head_dim, c.rope_dim / 2);
    for (j, row) in x.chunks_exact_mut(heads * hd).enumerate() {
        let (cos, sin) = (
            &cos[j * half..(j + 1) * half],
            &sin[j * half..(j + 1) * half],
        );
        for head in row.chunks_exact_mut(hd) {
            for i in 0..half {
                let (a, b) = match c.rope_style {
                    RopeStyle::Interleaved => (2 * i, 2 * i + 1),
                    RopeStyle::Neox => (i, i + half),
                };
                let (x0, x1) = (head[a], head[b]);
                head[a] = x0 * cos[i] - x1 * sin[i];
                head[b] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

/// Causal attention of each row's query heads over its sequence's cache,
/// into `out` (`rows × heads·head_dim`).
fn attention(
    c: &Config,
    caches: &[KvCache],
    layer: usize,
    rows: &[Row],
    q: &[f32],
    out: &mut [f32],
    par: &Parallel,
) {
    let hd = c.head_dim;
    let kv_dim = c.kv_heads * hd;
    let group = c.heads / c.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let items = rows.len() * c.heads;
    let out_ptr = OutPtr(out.as_mut_ptr());
    let longest = rows.iter().map(|r| r.pos + 1).max().unwrap_or(0);
    // Small passes (a decode step) are not worth the pool's hand-off.
    let grain = if rows.len() * longest < 4096 {
        items
    } else {
        1
    };
    par.for_ranges(items, grain, |range| {
        let mut scores = vec![0f32; longest];
        for item in range {
            let (j, h) = (item / c.heads, item % c.heads);
            let r = rows[j];
            let cache = &caches[r.seq];
            let (keys, values) = (&cache.keys[layer], &cache.values[layer]);
            let g = h / group;
            let qh = &q[(j * c.heads + h) * hd..(j * c.heads + h + 1) * hd];
            let n = r.pos + 1;
            let mut max = f32::NEG_INFINITY;
            for (t, s) in scores[..n].iter_mut().enumerate() {
                let kt = &keys[t * kv_dim + g * hd..t * kv_dim + (g + 1) * hd];
                *s = dot_f32(qh, kt) * scale;
                max = max.max(*s);
            }
            let mut sum = 0f32;
            for s in &mut scores[..n] {
                *s = (*s - max).exp();
                sum += *s;
            }
            // SAFETY: each (row, head) item owns its slice of `out`.
            let oh =
                unsafe { std::slice::from_raw_parts_mut(out_ptr.at((j * c.heads + h) * hd), hd) };
            oh.fill(0.0);
            for (t, &s) in scores[..n].iter().enumerate() {
                let w = s / sum;
                let vt = &values[t * kv_dim + g * hd..t * kv_dim + (g + 1) * hd];
                for (o, &v) in oh.iter_mut().zip(vt) {
                    *o += w * v;
                }
            }
        }
    });
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: workers write disjoint slices of a buffer that outlives them.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    fn at(self, i: usize) -> *mut f32 {
        // SAFETY: callers index within the buffer.
        unsafe { self.0.add(i) }
    }
}
