//! Load-time conversion of GGUF weights that candle has no fast CPU kernel
//! for.
//!
//! candle's quantized matrix-vector product has SIMD kernels for Q4_0, Q8_0
//! and the K-quants, but Q4_1 (the default model's type) takes a scalar
//! path that is several times slower. Q4_1 tensors are therefore
//! dequantized and requantized to Q8_0 once, at load, and the model runs on
//! Q8_0 kernels.
//!
//! The accuracy stays what the file gives: a Q4_1 block stores
//! `d·q + m` with `q` in 0..=15, so its weights are already rounded to a
//! step of `d ≈ (max − min) / 15`; Q8_0 rounds each block to a step of
//! `max|w| / 127`, at most a fraction of that (about 1/4 in the worst case
//! of a block straddling zero evenly, 1/8 typically). The weights take 1.7×
//! the memory (34 bytes per 32 instead of 20), so files whose Q4_1 tensors
//! exceed [`MAX_REQUANTIZED_BYTES`] are left as they are.

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Result};
use std::io::{Cursor, Read, Seek};

/// Largest total size of Q4_1 tensors (in the file) converted to Q8_0.
pub const MAX_REQUANTIZED_BYTES: u64 = 4 << 30;

/// Bytes of Q4_1 tensors in `content`.
pub(super) fn q4_1_bytes(content: &gguf_file::Content) -> u64 {
    content
        .tensor_infos
        .values()
        .filter(|t| t.ggml_dtype == GgmlDType::Q4_1)
        .map(|t| {
            let n = t.shape.elem_count() as u64;
            n / GgmlDType::Q4_1.block_size() as u64 * GgmlDType::Q4_1.type_size() as u64
        })
        .sum()
}

/// The model of `content` (read from `reader`) with its Q4_1 tensors as
/// Q8_0: a GGUF image in memory and its table, ready for candle's loaders.
pub(super) fn requantize<R: Read + Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
) -> Result<(gguf_file::Content, Cursor<Vec<u8>>)> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let t = content.tensor(reader, name, &Device::Cpu)?;
        let t = if t.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&t.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?
        } else {
            t
        };
        tensors.push((name, t));
    }
    // The image is written with the writer's own alignment (32), so the
    // file's alignment key, if any, is left out.
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.alignment")
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut image = Cursor::new(Vec::new());
    gguf_file::write(&mut image, &metadata, &refs)?;
    drop(tensors);
    image.rewind()?;
    let table = gguf_file::Content::read(&mut image)?;
    Ok((table, image))
}
