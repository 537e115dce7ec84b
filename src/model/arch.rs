//! The model families a GGUF file may hold, each run by its
//! `candle-transformers` quantized implementation. The family comes from
//! the file's `general.architecture`; an unknown one is an error naming it
//! and the supported ones.

use super::gemma3 as quantized_gemma3;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Result, Tensor};
use candle_transformers::models::{
    quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3,
};
use std::io::{Read, Seek};

/// The `general.architecture` values formwork runs.
pub const SUPPORTED: &[&str] = &["llama", "qwen2", "qwen3", "phi3", "gemma3", "gemma2"];

/// One loaded model of a supported family.
pub(super) enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
}

/// The context length the family's implementation takes from `content`
/// (`{arch}.context_length`), capped where candle's implementation caps it
/// (`on_candle`; formwork's own pass has no cap of its own).
pub(super) fn context_length(
    arch: &str,
    content: &gguf_file::Content,
    on_candle: bool,
) -> Option<usize> {
    let key = format!("{arch}.context_length");
    let n = content.metadata.get(&key)?.to_u32().ok()? as usize;
    Some(match arch {
        // candle's llama precomputes rotary tables for this many positions.
        "llama" if on_candle => n.min(quantized_llama::MAX_SEQ_LEN),
        _ => n,
    })
}

impl Weights {
    pub(super) fn load<R: Read + Seek>(
        arch: &str,
        content: gguf_file::Content,
        reader: &mut R,
    ) -> Result<Weights> {
        let cpu = &Device::Cpu;
        Ok(match arch {
            "llama" => Weights::Llama(quantized_llama::ModelWeights::from_gguf(
                content, reader, cpu,
            )?),
            "qwen2" => Weights::Qwen2(quantized_qwen2::ModelWeights::from_gguf(
                content, reader, cpu,
            )?),
            "qwen3" => Weights::Qwen3(quantized_qwen3::ModelWeights::from_gguf(
                content, reader, cpu,
            )?),
            "phi3" => Weights::Phi3(quantized_phi3::ModelWeights::from_gguf(
                false, content, reader, cpu,
            )?),
            "gemma3" | "gemma2" => Weights::Gemma3(quantized_gemma3::ModelWeights::from_gguf(
                content, reader, cpu,
            )?),
            other => candle_core::bail!(
                "architecture {other:?} is not supported (supported: {})",
                SUPPORTED.join(", ")
            ),
        })
    }

    /// Logits after the last of `x`'s tokens (`[1, n]`), fed at `pos`.
    pub(super) fn forward(&mut self, x: &Tensor, pos: usize) -> Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(x, pos),
            Weights::Qwen2(m) => m.forward(x, pos),
            Weights::Qwen3(m) => m.forward(x, pos),
            Weights::Phi3(m) => m.forward(x, pos),
            Weights::Gemma3(m) => m.forward(x, pos),
        }
    }
}
