//! Quantized weight matrices and their products with activations, on the
//! CPU.
//!
//! A [`QMatrix`] holds one weight matrix (`rows × cols`, row-major, as the
//! GGUF file stores it) and computes `out = x · Wᵀ` for `m` activation rows
//! at once. The design follows ggml's: the activations are quantized to
//! 8 bits per block of 32 once per product, and each
//! output is a sum of integer block dot products times the two blocks'
//! scales.
//!
//! - **Q4_0, Q4_1, Q5_0, Q5_1, Q8_0** (the types of most small GGUFs, and
//!   the fallback types of small models' K-quant files) run on the kernels
//!   here. Their blocks keep the file's size (memory traffic is what decode
//!   costs) but are repacked at load so that a row's scales sit together
//!   ([`Layout`]). The 4- and 5-bit types share one kernel: their quants are
//!   unsigned, so `Σ w·x` is `d·Σ q·x + m·Σ x`, with `m = −8d` for Q4_0 and
//!   `−16d` for Q5_0, and `Σ x` is kept with each activation block. With
//!   AVX2 a block is one `vpmaddubsw` + `vpmaddwd`; with AVX-512 VNNI one
//!   `vpdpbusd`. A scalar path serves other CPUs.
//! - **K-quants** (Q2_K–Q6_K) run on candle's block kernels
//!   (`GgmlType::vec_dot_4`), driven by the same row-parallel loop.
//! - **F32, F16, BF16** weights are widened to f32 at load.
//!
//! The loop is the same for every type: workers take chunks of weight rows,
//! and for each group of four rows walk all `m` activation rows, so a
//! prompt (large `m`) reads every weight once from memory and reuses it from
//! L1, a matrix-matrix product rather than `m` matrix-vector ones. Decode
//! (`m = 1`) is bound by memory bandwidth: the kernels prefetch the rows a
//! few calls ahead, which on one core more than doubled the bandwidth
//! reached over the hardware prefetcher alone (7.8 → 19 GB/s streaming a
//! 1536×576 Q4_1 matrix set larger than the caches).

use crate::team::Team;
use candle_core::quantized::k_quants::{self, GgmlType};
use candle_core::quantized::GgmlDType;
use half::f16;

/// Values per quantization block (Q4_0 … Q8_0 and the activations).
pub(crate) const QK: usize = 32;

/// Blocks per group: the scales of a group are loaded as one vector.
const GROUP: usize = 8;

/// Activation rows per kernel call in a prompt: each weight block is
/// unpacked once for this many rows.
const TILE: usize = 4;

/// How many quads of rows ahead the kernels prefetch.
const PREFETCH_QUADS: usize = 3;

/// Threads for the products: a [`Team`], or none for one thread (no
/// synchronisation at all on that path).
pub(crate) struct Parallel {
    team: Option<std::sync::Mutex<Team>>,
}

impl Parallel {
    /// `threads` threads (1: run on the calling thread).
    pub(crate) fn new(threads: usize) -> Parallel {
        let team = (threads > 1)
            .then(|| Team::new(threads, "formwork-model"))
            .flatten()
            .map(std::sync::Mutex::new);
        Parallel { team }
    }

    /// Calls `f` on disjoint ranges covering `0..n`, of at least `grain`
    /// items each where there is more than one, spread over the threads.
    pub(crate) fn for_ranges(
        &self,
        n: usize,
        grain: usize,
        f: impl Fn(std::ops::Range<usize>) + Sync,
    ) {
        match &self.team {
            Some(team) if n > grain => {
                let mut team = team.lock().unwrap_or_else(|e| e.into_inner());
                // A few chunks per thread: a thread that starts late (or
                // not at all, on a busy machine) leaves its share to the
                // others.
                let chunks = n.div_ceil(grain.max(1)).min(team.threads() * 4);
                team.run(chunks, &|c| {
                    let (start, end) = (c * n / chunks, (c + 1) * n / chunks);
                    if start < end {
                        f(start..end)
                    }
                });
            }
            _ => f(0..n),
        }
    }
}

/// A weight matrix of `rows × cols`, ready for products.
pub(crate) struct QMatrix {
    rows: usize,
    cols: usize,
    data: Data,
}

enum Data {
    /// Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0, repacked for the kernels here.
    Blocks(BlockRows),
    /// Any other ggml block type, through candle's kernels.
    Candle(Box<dyn CandleRows>),
    F32(Vec<f32>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockFormat {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

impl BlockFormat {
    /// Bytes of a block in a GGUF file: scale, min, high bits, quants.
    const fn file_stride(self) -> usize {
        2 + 2 * self.has_min() as usize + 4 * self.has_high_bits() as usize + self.quant_bytes()
    }

    /// Bytes of a block's (low) quants.
    const fn quant_bytes(self) -> usize {
        match self {
            BlockFormat::Q8_0 => 32,
            _ => 16,
        }
    }

    /// Whether blocks store an offset `m` (`w = d·q + m`).
    const fn has_min(self) -> bool {
        matches!(self, BlockFormat::Q4_1 | BlockFormat::Q5_1)
    }

    /// Whether blocks store a fifth bit per quant (32 bits per block).
    const fn has_high_bits(self) -> bool {
        matches!(self, BlockFormat::Q5_0 | BlockFormat::Q5_1)
    }
}

/// Where the parts of a repacked row are: the row's block scales (f16,
/// padded to whole groups with zeros), then its mins (Q4_1, Q5_1), its
/// fifth bits (Q5_0, Q5_1), then its quants. One vector load then brings a
/// group's eight scales.
#[derive(Clone, Copy, Debug)]
struct Layout {
    format: BlockFormat,
    /// Blocks per row.
    nb: usize,
    /// Blocks per row rounded up to whole groups.
    nbp: usize,
    m_off: usize,
    qh_off: usize,
    qs_off: usize,
    row_bytes: usize,
}

impl Layout {
    fn new(format: BlockFormat, nb: usize) -> Layout {
        let nbp = nb.div_ceil(GROUP) * GROUP;
        let m_off = 2 * nbp;
        let qh_off = m_off + 2 * nbp * format.has_min() as usize;
        let qs_off = qh_off + 4 * nb * format.has_high_bits() as usize;
        let row_bytes = (qs_off + nb * format.quant_bytes()).div_ceil(32) * 32;
        Layout {
            format,
            nb,
            nbp,
            m_off,
            qh_off,
            qs_off,
            row_bytes,
        }
    }
}

/// Q4_0 … Q8_0 rows in [`Layout`]'s order.
struct BlockRows {
    layout: Layout,
    /// Rows of `layout.row_bytes`, then a vector's worth of padding (the
    /// kernels load whole vectors of scales).
    bytes: Vec<u8>,
}

impl BlockRows {
    fn from_file(format: BlockFormat, rows: usize, nb: usize, file: &[u8]) -> BlockRows {
        let l = Layout::new(format, nb);
        let mut bytes = vec![0u8; rows * l.row_bytes + 64];
        let stride = format.file_stride();
        let qb = format.quant_bytes();
        for r in 0..rows {
            let src = &file[r * nb * stride..(r + 1) * nb * stride];
            let dst = &mut bytes[r * l.row_bytes..(r + 1) * l.row_bytes];
            for (b, blk) in src.chunks_exact(stride).enumerate() {
                dst[2 * b..2 * b + 2].copy_from_slice(&blk[..2]);
                let mut rest = &blk[2..];
                if format.has_min() {
                    dst[l.m_off + 2 * b..l.m_off + 2 * b + 2].copy_from_slice(&rest[..2]);
                    rest = &rest[2..];
                }
                if format.has_high_bits() {
                    dst[l.qh_off + 4 * b..l.qh_off + 4 * b + 4].copy_from_slice(&rest[..4]);
                    rest = &rest[4..];
                }
                dst[l.qs_off + b * qb..l.qs_off + (b + 1) * qb].copy_from_slice(rest);
            }
        }
        BlockRows { layout: l, bytes }
    }

    /// The four rows from `r`, if they exist (for prefetching).
    fn quad_ahead(&self, r: usize) -> Option<&[u8]> {
        let l = &self.layout;
        self.bytes.get(r * l.row_bytes..(r + 4) * l.row_bytes)
    }

    fn row(&self, r: usize) -> &[u8] {
        let l = &self.layout;
        // The slice runs into the padding after the last row, which the
        // kernels' whole-vector loads of scales may touch.
        &self.bytes[r * l.row_bytes..(r + 1) * l.row_bytes + 32]
    }

    fn row_to_f32(&self, r: usize, out: &mut [f32]) {
        let l = &self.layout;
        let row = self.row(r);
        let half = |at: usize| f16::from_le_bytes([row[at], row[at + 1]]).to_f32();
        for b in 0..l.nb {
            let d = half(2 * b);
            let o = &mut out[b * QK..(b + 1) * QK];
            let qs = &row[l.qs_off + b * l.format.quant_bytes()..];
            match l.format {
                BlockFormat::Q8_0 => {
                    for (o, &q) in o.iter_mut().zip(&qs[..QK]) {
                        *o = d * (q as i8) as f32;
                    }
                }
                _ => {
                    let m = l.offset(row, b, d);
                    for (j, o) in o.iter_mut().enumerate() {
                        *o = d * l.low_bit_quant(row, b, j) as f32 + m;
                    }
                }
            }
        }
    }
}

impl Layout {
    /// Quant `j` of block `b` of a 4- or 5-bit row, unsigned.
    fn low_bit_quant(&self, row: &[u8], b: usize, j: usize) -> u8 {
        let q = row[self.qs_off + b * 16 + j % 16];
        let low = if j < 16 { q & 0x0F } else { q >> 4 };
        if self.format.has_high_bits() {
            let at = self.qh_off + 4 * b;
            let qh = u32::from_le_bytes([row[at], row[at + 1], row[at + 2], row[at + 3]]);
            low | (((qh >> j) & 1) as u8) << 4
        } else {
            low
        }
    }

    /// The offset `m` of block `b` (scale `d`) of a 4- or 5-bit row: stored,
    /// or the types' fixed `−8d` / `−16d`.
    fn offset(&self, row: &[u8], b: usize, d: f32) -> f32 {
        match self.format {
            BlockFormat::Q4_1 | BlockFormat::Q5_1 => {
                let at = self.m_off + 2 * b;
                f16::from_le_bytes([row[at], row[at + 1]]).to_f32()
            }
            BlockFormat::Q5_0 => -16.0 * d,
            _ => -8.0 * d,
        }
    }
}

/// Why a tensor cannot be a [`QMatrix`].
#[derive(Debug)]
pub(crate) struct UnsupportedTensor(pub(crate) String);

impl QMatrix {
    /// The matrix of a GGUF tensor of `dtype` with `rows × cols` elements
    /// stored in `bytes` (the file's layout).
    pub(crate) fn from_ggml(
        dtype: GgmlDType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
    ) -> Result<QMatrix, UnsupportedTensor> {
        let n = rows * cols;
        let block = dtype.block_size();
        if !cols.is_multiple_of(block) {
            return Err(UnsupportedTensor(format!(
                "a {dtype:?} matrix needs rows that are a multiple of {block} values, not {cols}"
            )));
        }
        let expected = n / block * dtype.type_size();
        if bytes.len() != expected {
            return Err(UnsupportedTensor(format!(
                "{dtype:?} tensor of {rows}×{cols} has {} bytes, expected {expected}",
                bytes.len()
            )));
        }
        let blocks = |format| Data::Blocks(BlockRows::from_file(format, rows, cols / QK, bytes));
        let data = match dtype {
            GgmlDType::Q4_0 => blocks(BlockFormat::Q4_0),
            GgmlDType::Q4_1 => blocks(BlockFormat::Q4_1),
            GgmlDType::Q8_0 => blocks(BlockFormat::Q8_0),
            GgmlDType::Q5_0 => blocks(BlockFormat::Q5_0),
            GgmlDType::Q5_1 => blocks(BlockFormat::Q5_1),
            GgmlDType::F32 => Data::F32(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            GgmlDType::F16 => Data::F32(
                bytes
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
            ),
            GgmlDType::BF16 => Data::F32(
                bytes
                    .chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
            ),
            GgmlDType::Q2K => Data::Candle(candle_rows::<k_quants::BlockQ2K>(bytes)),
            GgmlDType::Q3K => Data::Candle(candle_rows::<k_quants::BlockQ3K>(bytes)),
            GgmlDType::Q4K => Data::Candle(candle_rows::<k_quants::BlockQ4K>(bytes)),
            GgmlDType::Q5K => Data::Candle(candle_rows::<k_quants::BlockQ5K>(bytes)),
            GgmlDType::Q6K => Data::Candle(candle_rows::<k_quants::BlockQ6K>(bytes)),
            other => {
                return Err(UnsupportedTensor(format!(
                    "weights of type {other:?} are not supported as a matrix"
                )))
            }
        };
        Ok(QMatrix { rows, cols, data })
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r`, dequantized into `out` (`cols` values): an embedding lookup.
    pub(crate) fn row_to_f32(&self, r: usize, out: &mut [f32]) {
        let k = self.cols;
        match &self.data {
            Data::F32(w) => out.copy_from_slice(&w[r * k..(r + 1) * k]),
            Data::Candle(c) => c.row_to_f32(r, k, out),
            Data::Blocks(b) => b.row_to_f32(r, out),
        }
    }

    /// `out[j·rows + r] = Σ_c x[j·cols + c]·W[r][c]` for the `m` rows of `x`.
    pub(crate) fn matmul(&self, x: &[f32], m: usize, out: &mut [f32], par: &Parallel) {
        let (n, k) = (self.rows, self.cols);
        assert_eq!(x.len(), m * k, "activation shape");
        assert_eq!(out.len(), m * n, "output shape");
        let out = SharedOut(out.as_mut_ptr());
        match &self.data {
            Data::F32(w) => {
                par.for_ranges(n, 16, |rows| {
                    for r in rows {
                        let wr = &w[r * k..(r + 1) * k];
                        for j in 0..m {
                            let v = dot_f32(wr, &x[j * k..(j + 1) * k]);
                            // SAFETY: (j, r) is written by this range only.
                            unsafe { out.write(j * n + r, v) }
                        }
                    }
                });
            }
            Data::Candle(c) => c.matmul(x, m, n, k, out, par),
            Data::Blocks(blocks) => {
                let acts = Acts::quantize(x, m, k);
                let kernel = Kernel::detect();
                let l = &blocks.layout;
                par.for_ranges(n.div_ceil(4), 4, |quads| {
                    for quad in quads {
                        let r0 = quad * 4;
                        let rs = (n - r0).min(4);
                        let rows: [&[u8]; 4] =
                            std::array::from_fn(|i| blocks.row(r0 + i.min(rs - 1)));
                        // While the first activation row runs, the quad
                        // after next is fetched.
                        let ahead = blocks.quad_ahead(r0 + 4 * PREFETCH_QUADS);
                        let put = |j: usize, v: [f32; 4]| {
                            for (i, &v) in v.iter().enumerate().take(rs) {
                                // SAFETY: (j, r0 + i) is written by this quad only.
                                unsafe { out.write(j * n + r0 + i, v) }
                            }
                        };
                        // Activation rows four at a time (a prompt), then
                        // one at a time.
                        let mut j = 0;
                        while j + TILE <= m {
                            let a: [ActRow; TILE] = std::array::from_fn(|t| acts.row(j + t));
                            let ahead = if j == 0 { ahead } else { None };
                            let v = kernel.dot4(l, rows, a.each_ref(), ahead);
                            for (t, v) in v.into_iter().enumerate() {
                                put(j + t, v);
                            }
                            j += TILE;
                        }
                        while j < m {
                            let ahead = if j == 0 { ahead } else { None };
                            let [v] = kernel.dot4(l, rows, [&acts.row(j)], ahead);
                            put(j, v);
                            j += 1;
                        }
                    }
                });
            }
        }
    }
}

/// The output of a product, written by workers at disjoint indices.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: workers write disjoint elements of a buffer that outlives them.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// # Safety
    /// `i` is in bounds and no other thread writes or reads index `i`.
    unsafe fn write(self, i: usize, v: f32) {
        *self.0.add(i) = v;
    }
}

/// Activations quantized to 8 bits per block of 32: `x ≈ d·q`, with
/// `s = d·Σ q` per block (for the 4-bit types' offsets). Scales are padded
/// with zeros to whole groups, as the weights' are.
struct Acts {
    nb: usize,
    nbp: usize,
    d: Vec<f32>,
    s: Vec<f32>,
    qs: Vec<i8>,
}

/// One row of [`Acts`].
struct ActRow<'a> {
    d: &'a [f32],
    s: &'a [f32],
    qs: &'a [i8],
}

impl Acts {
    fn quantize(x: &[f32], m: usize, k: usize) -> Acts {
        let nb = k / QK;
        let nbp = nb.div_ceil(GROUP) * GROUP;
        let mut a = Acts {
            nb,
            nbp,
            d: vec![0.0; m * nbp],
            s: vec![0.0; m * nbp],
            qs: vec![0; m * nb * QK],
        };
        for j in 0..m {
            for b in 0..nb {
                let xb = &x[j * k + b * QK..j * k + (b + 1) * QK];
                let qb = &mut a.qs[(j * nb + b) * QK..(j * nb + b + 1) * QK];
                let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
                let d = amax / 127.0;
                let id = if d > 0.0 { 1.0 / d } else { 0.0 };
                let mut sum = 0i32;
                for (q, &v) in qb.iter_mut().zip(xb) {
                    // Half away from zero, as `round` (which is a libm call
                    // without SSE4.1).
                    let y = v * id;
                    let r = (y + 0.5f32.copysign(y)) as i32;
                    *q = r as i8;
                    sum += r;
                }
                a.d[j * nbp + b] = d;
                a.s[j * nbp + b] = d * sum as f32;
            }
        }
        a
    }

    fn row(&self, j: usize) -> ActRow<'_> {
        ActRow {
            d: &self.d[j * self.nbp..(j + 1) * self.nbp],
            s: &self.s[j * self.nbp..(j + 1) * self.nbp],
            qs: &self.qs[j * self.nb * QK..(j + 1) * self.nb * QK],
        }
    }
}

/// f32 dot product, in eight lanes the compiler vectorizes.
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, ar) = a.split_at(a.len() / 8 * 8);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(8).zip(bc.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// The instruction set the block kernels use, detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Kernel {
    /// The best kernel this CPU runs; `FORMWORK_KERNEL=scalar|avx2` picks a
    /// lesser one (to compare them).
    fn detect() -> Kernel {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| {
            let available = Kernel::available();
            let wanted = std::env::var("FORMWORK_KERNEL").unwrap_or_default();
            available
                .iter()
                .copied()
                .find(|k| k.name() == wanted)
                .unwrap_or(available[available.len() - 1])
        })
    }

    /// The kernels this CPU runs, from the plainest to the best.
    fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c");
            if avx2 {
                kernels.push(Kernel::Avx2);
            }
            if avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                kernels.push(Kernel::Avx512Vnni);
            }
        }
        kernels
    }

    fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => "avx512vnni",
        }
    }

    /// Four rows' dot products with each of `J` activation rows.
    #[inline]
    fn dot4<const J: usize>(
        self,
        l: &Layout,
        rows: [&[u8]; 4],
        acts: [&ActRow; J],
        ahead: Option<&[u8]>,
    ) -> [[f32; 4]; J] {
        #[cfg(target_arch = "x86_64")]
        let ahead = match ahead {
            Some(next) => x86::Prefetch {
                base: next.as_ptr(),
                lines_per_group: (next.len() / 64).div_ceil(l.nbp / GROUP),
            },
            None => x86::Prefetch::NONE,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = ahead;
        match self {
            Kernel::Scalar => acts.map(|a| rows.map(|r| dot_scalar(l, r, a))),
            // SAFETY: `detect` saw the features these functions enable, and
            // the rows and activations have `l`'s shape.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe {
                x86::dot4_avx2::<J>(l, rows.map(|r| r.as_ptr()), acts, ahead)
            },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe {
                x86::dot4_vnni::<J>(l, rows.map(|r| r.as_ptr()), acts, ahead)
            },
        }
    }
}

/// The portable block dot product (and the reference for the SIMD ones).
fn dot_scalar(l: &Layout, row: &[u8], a: &ActRow) -> f32 {
    let half = |at: usize| f16::from_le_bytes([row[at], row[at + 1]]).to_f32();
    let mut sum = 0f32;
    for b in 0..l.nb {
        let d = half(2 * b);
        let xq = &a.qs[b * QK..(b + 1) * QK];
        let qs = &row[l.qs_off + b * l.format.quant_bytes()..];
        match l.format {
            BlockFormat::Q8_0 => {
                let dot: i32 = qs[..QK]
                    .iter()
                    .zip(xq)
                    .map(|(&w, &x)| (w as i8) as i32 * x as i32)
                    .sum();
                sum += d * a.d[b] * dot as f32;
            }
            _ => {
                let m = l.offset(row, b, d);
                let dot: i32 = (0..QK)
                    .map(|j| l.low_bit_quant(row, b, j) as i32 * xq[j] as i32)
                    .sum();
                sum += d * a.d[b] * dot as f32 + m * a.s[b];
            }
        }
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The block kernels for x86-64: four weight rows against one activation
    //! row. Each activation block is loaded once for the four rows, four
    //! independent accumulations keep the pipeline busy, and a group's eight
    //! scales are converted and multiplied as one vector. The AVX2 and
    //! AVX-512 VNNI versions are one body with a different byte product
    //! (`vpmaddubsw` + `vpmaddwd`, or one `vpdpbusd`).

    use super::{ActRow, BlockFormat, Layout, GROUP, QK};
    use std::arch::x86_64::*;

    /// Weights to pull into the cache while a group is computed: the rows
    /// a later call will read, spread over this call's groups, since the
    /// hardware prefetcher alone leaves a single core short of the memory
    /// bandwidth on short rows.
    #[derive(Clone, Copy)]
    pub(super) struct Prefetch {
        pub(super) base: *const u8,
        pub(super) lines_per_group: usize,
    }

    impl Prefetch {
        pub(super) const NONE: Prefetch = Prefetch {
            base: std::ptr::null(),
            lines_per_group: 0,
        };

        #[inline(always)]
        unsafe fn group(self, g: usize) {
            let start = self.base.wrapping_add(64 * self.lines_per_group * g);
            for line in 0..self.lines_per_group {
                // A prefetch never faults, wherever it points.
                _mm_prefetch(start.wrapping_add(64 * line) as *const i8, _MM_HINT_T0);
            }
        }
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// Sums of products of unsigned bytes `u` and signed bytes `s`, per
    /// four bytes (no saturation for the ranges used here: |u| ≤ 128,
    /// |s| ≤ 127).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn dot_avx2(u: __m256i, s: __m256i) -> __m256i {
        _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
    }

    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
    unsafe fn dot_vnni(u: __m256i, s: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
    }

    /// `0x10` in byte `j` where bit `j` of `qh` is set (the fifth bit of
    /// a 5-bit quant), as ggml expands it.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn fifth_bits(qh: i32) -> __m256i {
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(qh),
            _mm256_set_epi64x(
                0x0303030303030303,
                0x0202020202020202,
                0x0101010101010101,
                0,
            ),
        );
        let bit = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe_u64 as i64));
        let set = _mm256_cmpeq_epi8(bit, _mm256_set1_epi64x(-1));
        _mm256_and_si256(set, _mm256_set1_epi8(0x10))
    }

    /// [`fifth_bits`] in one instruction: `qh` is a byte mask.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw")]
    unsafe fn fifth_bits_bw(qh: i32) -> __m256i {
        _mm256_maskz_mov_epi8(qh as u32, _mm256_set1_epi8(0x10))
    }

    macro_rules! kernels {
        ($dot4:ident, $q4:ident, $q8:ident, $features:literal, $dot:ident, $fifth:ident) => {
            /// The kernel for `l`'s block format.
            ///
            /// # Safety
            /// The CPU has this kernel's features, and `rows` and `acts`
            /// have `l`'s shape.
            pub(super) unsafe fn $dot4<const J: usize>(
                l: &Layout,
                rows: [*const u8; 4],
                acts: [&ActRow; J],
                ahead: Prefetch,
            ) -> [[f32; 4]; J] {
                match l.format {
                    BlockFormat::Q4_0 => $q4::<false, false, J>(l, rows, acts, ahead),
                    BlockFormat::Q4_1 => $q4::<true, false, J>(l, rows, acts, ahead),
                    BlockFormat::Q5_0 => $q4::<false, true, J>(l, rows, acts, ahead),
                    BlockFormat::Q5_1 => $q4::<true, true, J>(l, rows, acts, ahead),
                    BlockFormat::Q8_0 => $q8::<J>(l, rows, acts, ahead),
                }
            }

            /// 4- and 5-bit rows against `J` activation rows: `d·Σ q·x` per
            /// block plus the offsets (`m·s`, or `−8d·s` / `−16d·s`) summed
            /// per group. A block's quants are unpacked once for the `J`
            /// rows (a prompt's register tile); the combined scales go
            /// through the stack and are broadcast from there.
            #[target_feature(enable = $features)]
            unsafe fn $q4<const HAS_MIN: bool, const HIGH: bool, const J: usize>(
                l: &Layout,
                rows: [*const u8; 4],
                acts: [&ActRow; J],
                ahead: Prefetch,
            ) -> [[f32; 4]; J] {
                let mask = _mm256_set1_epi8(0x0F);
                let mut acc = [[_mm256_setzero_ps(); 4]; J];
                let mut offs = [[_mm256_setzero_ps(); 4]; J];
                let mut dd = [[[0f32; GROUP]; 4]; J];
                for g in 0..l.nbp / GROUP {
                    ahead.group(g);
                    for r in 0..4 {
                        let dw = _mm256_cvtph_ps(_mm_loadu_si128(
                            rows[r].add(2 * GROUP * g) as *const __m128i
                        ));
                        let mw = if HAS_MIN {
                            _mm256_cvtph_ps(_mm_loadu_si128(
                                rows[r].add(l.m_off + 2 * GROUP * g) as *const __m128i
                            ))
                        } else {
                            dw
                        };
                        for j in 0..J {
                            let ad = _mm256_loadu_ps(acts[j].d.as_ptr().add(GROUP * g));
                            let asum = _mm256_loadu_ps(acts[j].s.as_ptr().add(GROUP * g));
                            _mm256_storeu_ps(dd[j][r].as_mut_ptr(), _mm256_mul_ps(dw, ad));
                            offs[j][r] = _mm256_fmadd_ps(mw, asum, offs[j][r]);
                        }
                    }
                    for b in 0..(l.nb - GROUP * g).min(GROUP) {
                        let blk = GROUP * g + b;
                        let x: [__m256i; J] = std::array::from_fn(|j| {
                            _mm256_loadu_si256(acts[j].qs.as_ptr().add(QK * blk) as *const __m256i)
                        });
                        for r in 0..4 {
                            let raw =
                                _mm_loadu_si128(rows[r].add(l.qs_off + 16 * blk) as *const __m128i);
                            let mut w = _mm256_and_si256(
                                _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
                                mask,
                            );
                            if HIGH {
                                let qh = (rows[r].add(l.qh_off + 4 * blk) as *const i32)
                                    .read_unaligned();
                                w = _mm256_or_si256(w, $fifth(qh));
                            }
                            for j in 0..J {
                                let p = _mm256_cvtepi32_ps($dot(w, x[j]));
                                let scale = _mm256_broadcast_ss(&dd[j][r][b]);
                                acc[j][r] = _mm256_fmadd_ps(scale, p, acc[j][r]);
                            }
                        }
                    }
                }
                let off_scale = match (HAS_MIN, HIGH) {
                    (true, _) => 1.0,
                    (false, false) => -8.0,
                    (false, true) => -16.0,
                };
                std::array::from_fn(|j| {
                    std::array::from_fn(|r| hsum(acc[j][r]) + off_scale * hsum(offs[j][r]))
                })
            }

            /// Q8_0 rows against `J` activation rows: `d·Σ w·x` per block,
            /// with the signs moved onto the activations for the
            /// unsigned×signed byte product.
            #[target_feature(enable = $features)]
            unsafe fn $q8<const J: usize>(
                l: &Layout,
                rows: [*const u8; 4],
                acts: [&ActRow; J],
                ahead: Prefetch,
            ) -> [[f32; 4]; J] {
                let mut acc = [[_mm256_setzero_ps(); 4]; J];
                let mut dd = [[[0f32; GROUP]; 4]; J];
                for g in 0..l.nbp / GROUP {
                    ahead.group(g);
                    for r in 0..4 {
                        let dw = _mm256_cvtph_ps(_mm_loadu_si128(
                            rows[r].add(2 * GROUP * g) as *const __m128i
                        ));
                        for j in 0..J {
                            let ad = _mm256_loadu_ps(acts[j].d.as_ptr().add(GROUP * g));
                            _mm256_storeu_ps(dd[j][r].as_mut_ptr(), _mm256_mul_ps(dw, ad));
                        }
                    }
                    for b in 0..(l.nb - GROUP * g).min(GROUP) {
                        let blk = GROUP * g + b;
                        let x: [__m256i; J] = std::array::from_fn(|j| {
                            _mm256_loadu_si256(acts[j].qs.as_ptr().add(QK * blk) as *const __m256i)
                        });
                        for r in 0..4 {
                            let w = _mm256_loadu_si256(
                                rows[r].add(l.qs_off + 32 * blk) as *const __m256i
                            );
                            let aw = _mm256_sign_epi8(w, w);
                            for j in 0..J {
                                let sx = _mm256_sign_epi8(x[j], w);
                                let p = _mm256_cvtepi32_ps($dot(aw, sx));
                                let scale = _mm256_broadcast_ss(&dd[j][r][b]);
                                acc[j][r] = _mm256_fmadd_ps(scale, p, acc[j][r]);
                            }
                        }
                    }
                }
                std::array::from_fn(|j| std::array::from_fn(|r| hsum(acc[j][r])))
            }
        };
    }

    kernels!(
        dot4_avx2,
        q4_avx2,
        q8_avx2,
        "avx2,fma,f16c",
        dot_avx2,
        fifth_bits
    );
    kernels!(
        dot4_vnni,
        q4_vnni,
        q8_vnni,
        "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni",
        dot_vnni,
        fifth_bits_bw
    );
}

/// Asks for `data`'s cache lines ahead of use.
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = data.as_ptr() as *const i8;
        for at in (0..std::mem::size_of_val(data)).step_by(64) {
            // SAFETY: a prefetch never faults; the addresses are in `data`.
            unsafe { std::arch::x86_64::_mm_prefetch(p.add(at), std::arch::x86_64::_MM_HINT_T0) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Rows of a candle block type, multiplied through candle's kernels.
trait CandleRows: Send + Sync {
    fn matmul(&self, x: &[f32], m: usize, n: usize, k: usize, out: SharedOut, par: &Parallel);
    fn row_to_f32(&self, r: usize, k: usize, out: &mut [f32]);
}

fn candle_rows<T: GgmlType + 'static>(bytes: &[u8]) -> Box<dyn CandleRows> {
    let size = std::mem::size_of::<T>();
    let mut blocks = vec![T::zeros(); bytes.len() / size];
    // SAFETY: ggml block types are `repr(C)` plain data of exactly `size`
    // bytes (candle asserts it), any bit pattern is a valid value, and the
    // lengths match.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            blocks.as_mut_ptr() as *mut u8,
            blocks.len() * size,
        );
    }
    Box::new(blocks)
}

impl<T: GgmlType + 'static> CandleRows for Vec<T> {
    fn matmul(&self, x: &[f32], m: usize, n: usize, k: usize, out: SharedOut, par: &Parallel) {
        let nb = k / T::BLCK_SIZE;
        let mut acts = vec![T::VecDotType::zeros(); m * nb];
        for (xr, ar) in x.chunks_exact(k).zip(acts.chunks_exact_mut(nb)) {
            T::VecDotType::from_float(xr, ar);
        }
        par.for_ranges(n.div_ceil(4), 4, |quads| {
            for quad in quads {
                let r0 = quad * 4;
                let rs = (n - r0).min(4);
                let row = |i: usize| {
                    let r = r0 + i.min(rs - 1);
                    &self[r * nb..(r + 1) * nb]
                };
                // candle's kernels do not prefetch: the quad a few ahead
                // is requested here, all at once.
                let ahead = r0 + 4 * PREFETCH_QUADS;
                if let Some(next) = self.get(ahead * nb..(ahead + 4) * nb) {
                    prefetch(next);
                }
                for j in 0..m {
                    let a = &acts[j * nb..(j + 1) * nb];
                    let (d0, d1, d2, d3) = T::vec_dot_4(k, row(0), row(1), row(2), row(3), a);
                    for (i, v) in [d0, d1, d2, d3].into_iter().enumerate().take(rs) {
                        // SAFETY: (j, r0 + i) is written by this quad only.
                        unsafe { out.write(j * n + r0 + i, v) }
                    }
                }
            }
        });
    }

    fn row_to_f32(&self, r: usize, k: usize, out: &mut [f32]) {
        let nb = k / T::BLCK_SIZE;
        T::to_float(&self[r * nb..(r + 1) * nb], out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    /// Deterministic pseudo-random values in -1..1.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// A matrix of `dtype` quantized by candle, and its dequantized values.
    fn matrix(dtype: GgmlDType, rows: usize, cols: usize) -> (QMatrix, Vec<f32>) {
        let w = Tensor::from_vec(values(rows * cols, 7), (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let bytes = q.data().unwrap().to_vec();
        let deq = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        (QMatrix::from_ggml(dtype, rows, cols, &bytes).unwrap(), deq)
    }

    fn reference(w: &[f32], x: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for j in 0..m {
            for r in 0..n {
                out[j * n + r] = (0..k)
                    .map(|c| w[r * k + c] as f64 * x[j * k + c] as f64)
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    /// Every type's product is within the activations' 8-bit rounding of
    /// the exact product of its dequantized weights, single- and
    /// multi-threaded, for one row (decode) and many (prompt), including a
    /// row count that is not a multiple of four.
    #[test]
    fn products_match_dequantized_weights() {
        let types = [
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q8_0,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::Q4K,
            GgmlDType::Q5K,
            GgmlDType::Q6K,
            GgmlDType::F16,
            GgmlDType::F32,
        ];
        let (n, k) = (37, 512);
        for dtype in types {
            let (w, deq) = matrix(dtype, n, k);
            for m in [1, 5, 9] {
                let x = values(m * k, 11 + m as u64);
                let want = reference(&deq, &x, m, n, k);
                for threads in [1, 3] {
                    let mut got = vec![0f32; m * n];
                    w.matmul(&x, m, &mut got, &Parallel::new(threads));
                    let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
                    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - e).abs() <= 0.02 * scale,
                            "{dtype:?} m={m} threads={threads} [{i}]: {g} vs {e}"
                        );
                    }
                }
            }
            let mut row = vec![0f32; k];
            w.row_to_f32(3, &mut row);
            assert_eq!(row, deq[3 * k..4 * k], "{dtype:?} row");
        }
    }

    /// The SIMD kernels give the scalar kernel's sums (to rounding), for
    /// row lengths with and without a partial group of blocks.
    #[test]
    fn simd_kernels_agree_with_scalar() {
        for k in [256, 576, 1536] {
            for dtype in [
                GgmlDType::Q4_0,
                GgmlDType::Q4_1,
                GgmlDType::Q5_0,
                GgmlDType::Q5_1,
                GgmlDType::Q8_0,
            ] {
                let (w, _) = matrix(dtype, 4, k);
                let Data::Blocks(blocks) = &w.data else {
                    unreachable!()
                };
                let rows: [&[u8]; 4] = std::array::from_fn(|i| blocks.row(i));
                let acts = Acts::quantize(&values(4 * k, 3), 4, k);
                let l = &blocks.layout;
                let [want] = Kernel::Scalar.dot4(l, rows, [&acts.row(0)], None);
                for kernel in Kernel::available() {
                    let [got] = kernel.dot4(l, rows, [&acts.row(0)], Some(blocks.row(1)));
                    for (g, e) in got.iter().zip(&want) {
                        let name = kernel.name();
                        assert!(
                            (g - e).abs() <= 1e-4 * e.abs().max(1.0),
                            "{dtype:?} k={k} {name}: {g} vs {e}"
                        );
                    }
                    // The prompt tile: four activation rows per call.
                    let tile: [ActRow; 4] = std::array::from_fn(|j| acts.row(j));
                    let got = kernel.dot4(l, rows, tile.each_ref(), None);
                    for (j, got) in got.iter().enumerate() {
                        let [want] = Kernel::Scalar.dot4(l, rows, [&acts.row(j)], None);
                        for (g, e) in got.iter().zip(&want) {
                            let name = kernel.name();
                            assert!(
                                (g - e).abs() <= 1e-4 * e.abs().max(1.0),
                                "{dtype:?} k={k} {name} tile row {j}: {g} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }
}
