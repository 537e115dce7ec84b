//! A tiny random-weight llama GGUF written by the tests themselves, for fast
//! generation tests that need no download: the shape of the well-known
//! `llama-2-tiny-random.gguf` (1 layer, d = 8, 2 heads, feed-forward 32,
//! F16 matrices, F32 norms, context 4,096), with logits as wide as a vocabulary
//! the tests pass (the vendored 32,000-token Mistral one, say). Its output is
//! gibberish; what the tests check is the constraint, the sampler and the
//! stop reasons, not the text.

use super::Rng;
use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

const DIM: usize = 8;
const FFN: usize = 32;
const HEADS: u32 = 2;
const CONTEXT: u32 = 4096;

/// A tensor of `shape` with weights uniform in [-1, 1), stored as `dtype`.
fn random(rng: &mut Rng, shape: &[usize], dtype: GgmlDType) -> QTensor {
    let n = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect();
    let t = Tensor::from_vec(data, shape, &Device::Cpu).unwrap();
    QTensor::quantize(&t, dtype).unwrap()
}

/// Writes the model with `vocab` logits and weights drawn from `seed` to
/// `path` (overwriting it).
pub fn write_tiny_llama(path: &Path, vocab: usize, seed: u64) {
    let mut rng = Rng(seed);
    let f16 = GgmlDType::F16;
    let f32 = GgmlDType::F32;
    let tensors: Vec<(&str, QTensor)> = vec![
        ("token_embd.weight", random(&mut rng, &[vocab, DIM], f16)),
        ("blk.0.attn_q.weight", random(&mut rng, &[DIM, DIM], f16)),
        ("blk.0.attn_k.weight", random(&mut rng, &[DIM, DIM], f16)),
        ("blk.0.attn_v.weight", random(&mut rng, &[DIM, DIM], f16)),
        (
            "blk.0.attn_output.weight",
            random(&mut rng, &[DIM, DIM], f16),
        ),
        ("blk.0.ffn_gate.weight", random(&mut rng, &[FFN, DIM], f16)),
        ("blk.0.ffn_up.weight", random(&mut rng, &[FFN, DIM], f16)),
        ("blk.0.ffn_down.weight", random(&mut rng, &[DIM, FFN], f16)),
        ("blk.0.attn_norm.weight", random(&mut rng, &[DIM], f32)),
        ("blk.0.ffn_norm.weight", random(&mut rng, &[DIM], f32)),
        ("output_norm.weight", random(&mut rng, &[DIM], f32)),
        ("output.weight", random(&mut rng, &[vocab, DIM], f16)),
    ];
    use gguf_file::Value;
    let metadata = [
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("formwork tiny random".into())),
        ("llama.context_length", Value::U32(CONTEXT)),
        ("llama.embedding_length", Value::U32(DIM as u32)),
        ("llama.block_count", Value::U32(1)),
        ("llama.feed_forward_length", Value::U32(FFN as u32)),
        ("llama.rope.dimension_count", Value::U32(DIM as u32 / HEADS)),
        ("llama.attention.head_count", Value::U32(HEADS)),
        ("llama.attention.head_count_kv", Value::U32(HEADS)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
    ];
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (*k, t)).collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
    std::io::Write::flush(&mut file).unwrap();
}

/// The tiny model for the vendored Mistral vocabulary (32,000 logits), under
/// cargo's scratch directory. Written once per test process (to a temporary
/// name, then renamed, as test binaries may run side by side); the bytes are
/// always the same.
pub fn tiny_mistral_model() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("tiny-llama-32000.gguf");
        let tmp = dir.join(format!("tiny-llama-32000.gguf.{}", std::process::id()));
        write_tiny_llama(&tmp, 32_000, 0x7157_a11a);
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
    .clone()
}
