//! Token vocabularies: every token id mapped to the exact bytes it produces.
//!
//! A language model's tokens are byte strings, but tokenizer files spell them in
//! several encodings:
//!
//! * byte-level BPE (GPT-2, Llama-3, Qwen, SmolLM2) writes each byte as a
//!   printable code point (`Ġ` is a space, `Ċ` a newline);
//! * SentencePiece (Llama-2, Mistral, Gemma) writes a space as `▁` and bytes
//!   that have no piece of their own as `<0xNN>` byte-fallback tokens;
//! * added tokens are written as their plain text; special ones (`<|eot_id|>`)
//!   produce no bytes at all and are kept apart.
//!
//! [`Vocabulary`] undoes these spellings once, at load time, so everything
//! downstream (the token trie, the matcher) works on raw bytes only.
//!
//! The vocabulary also keeps a copy of the Hugging Face tokenizer, adjusted so
//! that encoding a text yields tokens whose bytes are exactly the text's bytes:
//! the SentencePiece "prepend a space" normaliser and Metaspace prefix are
//! switched off (a continuation of generated text is not the start of a
//! sentence), Unicode normalisers are removed, and truncation and padding are
//! disabled. Two smaller adjustments serve the same end: a `ByteLevel`
//! pre-tokenizer never adds a prefix space, and no added token strips the
//! whitespace around it (`lstrip`/`rstrip` are cleared).
//!
//! # Spelling rules
//!
//! The spelling is detected from the tokenizer file:
//!
//! * **byte-level** if the decoder or the pre-tokenizer (possibly inside a
//!   `Sequence`) is `ByteLevel`: every character of a model token is mapped back
//!   through the inverse of GPT-2's `bytes_to_unicode` table;
//! * **SentencePiece** if the decoder replaces `▁` by a space, is or contains
//!   `ByteFallback` or `Metaspace`, or the model has `byte_fallback: true`:
//!   the space marker (normally `▁`) becomes a space and a piece spelled exactly
//!   `<0xNN>` becomes the single byte `NN`;
//! * **plain** otherwise: a token's bytes are its UTF-8 spelling.
//!
//! Added tokens (`added_tokens` in the file) that are `special` produce no bytes
//! and are flagged special. Other added tokens produce their `content` as plain
//! UTF-8, except that in a SentencePiece vocabulary the space marker still
//! stands for a space (Gemma-3 spells its whitespace-run tokens `▁▁`, `▁▁▁`, …
//! as added tokens). Ids that no token uses (holes) produce no bytes and are
//! flagged special, so they are never allowed.

//!
//! # Limits
//!
//! A tokenizer file is input like any other, and a hostile one must not take
//! the process down. Before anything is built from a file, its size (after
//! gzip, read through a bound so that a gzip bomb stops early) and its token
//! ids are checked against the limits ([`Vocabulary::MAX_FILE_BYTES`], [`Vocabulary::MAX_IDS`],
//! [`Vocabulary::MAX_EXTRA_HOLES`]): an id of three billion would
//! otherwise ask for a 24 GB table.

use crate::error::VocabError;
use serde_json::Value;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;
use tokenizers::{AddedVocabulary, Model, OffsetType, PreTokenizer, Tokenizer};

/// A token id, as the model's logits index it.
pub type TokenId = u32;

/// How the tokenizer file spells the bytes of its (model) tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// GPT-2 byte-level alphabet.
    ByteLevel,
    /// SentencePiece: `marker` stands for a space, `<0xNN>` pieces are bytes
    /// when `byte_fallback` is on.
    SentencePiece {
        marker: Option<char>,
        byte_fallback: bool,
    },
    /// Tokens are their own UTF-8 text.
    Plain,
}

/// A tokenizer's vocabulary with every token mapped to its bytes.
///
/// Cheap to share: wrap it in an `Arc`.
pub struct Vocabulary {
    /// The adjusted Hugging Face tokenizer.
    tokenizer: Tokenizer,
    /// A copy of the tokenizer's added vocabulary that matches special-token
    /// names as plain text; used by [`encode`](Self::encode).
    plain_added: AddedVocabulary,
    /// All tokens' bytes, concatenated.
    bytes: Vec<u8>,
    /// `bytes[offsets[i]..offsets[i + 1]]` are token `i`'s bytes (`len + 1` entries).
    offsets: Vec<u32>,
    /// Special flag of each id below `len`.
    special: Vec<bool>,
    /// The EOS set, never empty once loading has finished.
    eos: Vec<TokenId>,
    /// Width of the logits vector (>= len).
    width: usize,
    spelling: Spelling,
    /// In a SentencePiece vocabulary with byte fallback: the `<0xNN>` token of
    /// each byte, if present. Used to encode a literal space marker.
    byte_tokens: Vec<Option<TokenId>>,
    /// For each byte, a non-special token spelled as exactly that byte.
    single_byte: Vec<Option<TokenId>>,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("len", &self.len())
            .field("logits_width", &self.width)
            .field("spelling", &self.spelling)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl Vocabulary {
    // What a tokenizer file may declare. The largest tokenizers in use stay
    // below these: Gemma-3's `tokenizer.json` is 33 MB for 262,144 tokens (and
    // takes about 470 MB to load), so the file limit leaves twice that room
    // while keeping a maximal file well within a 2 GB process.

    /// Largest tokenizer file read, in bytes, after gzip decompression: 64 MiB.
    pub const MAX_FILE_BYTES: u64 = 64 << 20;
    /// Token ids must be below this: 2^24 = 16,777,216.
    pub const MAX_IDS: u64 = 1 << 24;
    /// Ids that no token uses ("holes") are allowed up to the number of
    /// tokens plus this many; ids beyond that are far past the token count.
    pub const MAX_EXTRA_HOLES: u64 = 65_536;

    /// Names tried, in order, when no EOS token is given explicitly. Every one of
    /// them that is present as a special token joins the EOS set.
    pub const EOS_CANDIDATES: &'static [&'static str] = &[
        "<|endoftext|>",
        "</s>",
        "<|end_of_text|>",
        "<|im_end|>",
        "<|eot_id|>",
        "<eos>",
        "<|end|>",
        "<end_of_turn>",
    ];
}

impl Vocabulary {
    /// Loads a Hugging Face `tokenizer.json`, plain or gzip-compressed (`.gz`).
    ///
    /// The EOS set is found among [`EOS_CANDIDATES`](Self::EOS_CANDIDATES) (and the `eos_token` of a
    /// `tokenizer_config.json` beside the file, if there is one).
    ///
    /// Gzip is recognised by its magic bytes, not by the file name. The
    /// `tokenizer_config.json` may be gzip-compressed too
    /// (`tokenizer_config.json.gz`); an `eos_token` it names that is not in the
    /// vocabulary is ignored.
    ///
    /// # Errors
    ///
    /// [`VocabError::Io`] if the file cannot be read, [`VocabError::Corrupt`] if
    /// it (or the config beside it) is not a valid tokenizer file,
    /// [`VocabError::Empty`] for a vocabulary without tokens and
    /// [`VocabError::NoEos`] if no EOS token can be found.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use formwork::Vocabulary;
    ///
    /// let vocab = Vocabulary::from_file("models/llama3/tokenizer.json.gz")?
    ///     .with_eos(&["<|eot_id|>"])?;
    /// let ids = vocab.encode("Hello world")?;
    /// assert_eq!(vocab.decode_bytes(&ids), b"Hello world");
    /// # Ok::<(), formwork::VocabError>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Vocabulary, VocabError> {
        let path = path.as_ref();
        let bytes = read_bounded(path)?;
        let mut vocab = Self::build(&bytes, &path.display().to_string())?;
        let config_eos = match path.parent() {
            Some(dir) => read_config_eos(dir)?,
            None => None,
        };
        vocab.eos = vocab.default_eos(config_eos.as_deref())?;
        Ok(vocab)
    }

    /// Loads a tokenizer from the bytes of a `tokenizer.json` (plain or gzip).
    /// `what` names the source in error messages.
    ///
    /// The EOS set is found among [`EOS_CANDIDATES`](Self::EOS_CANDIDATES) only (there is no
    /// directory to find a `tokenizer_config.json` in).
    pub fn from_json_bytes(bytes: &[u8], what: &str) -> Result<Vocabulary, VocabError> {
        let mut vocab = Self::build(bytes, what)?;
        vocab.eos = vocab.default_eos(None)?;
        Ok(vocab)
    }

    /// Like [`from_file`](Self::from_file), but with the EOS set given
    /// explicitly (token names or decimal ids, as for
    /// [`with_eos`](Self::with_eos)), so that a tokenizer with none of the
    /// usual EOS names can be loaded.
    pub fn from_file_with_eos(
        path: impl AsRef<Path>,
        eos: &[&str],
    ) -> Result<Vocabulary, VocabError> {
        let path = path.as_ref();
        let bytes = read_bounded(path)?;
        Self::build(&bytes, &path.display().to_string())?.with_eos(eos)
    }

    /// Like [`from_json_bytes`](Self::from_json_bytes), but with the EOS set
    /// given explicitly (see [`from_file_with_eos`](Self::from_file_with_eos)).
    pub fn from_json_bytes_with_eos(
        bytes: &[u8],
        what: &str,
        eos: &[&str],
    ) -> Result<Vocabulary, VocabError> {
        Self::build(bytes, what)?.with_eos(eos)
    }

    /// Replaces the EOS set with the given token names or decimal ids.
    ///
    /// A string of ASCII digits is a token id (it must be below
    /// [`len`](Self::len)), even where a token is spelled that way (GPT-2 has a
    /// token `198`, the text "198"); anything else is a token name as the
    /// tokenizer file spells it. Duplicates are dropped. An empty list is refused with
    /// [`VocabError::NoEos`], an unknown name with [`VocabError::UnknownEos`].
    pub fn with_eos(mut self, names: &[&str]) -> Result<Vocabulary, VocabError> {
        if names.is_empty() {
            return Err(VocabError::NoEos {
                tried: "(an empty list of EOS tokens was given)".to_string(),
            });
        }
        let mut eos = Vec::with_capacity(names.len());
        for &name in names {
            let is_number = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
            let id = if is_number {
                match name.parse::<TokenId>() {
                    Ok(id) if (id as usize) < self.len() => id,
                    _ => return Err(VocabError::UnknownEos(name.to_string())),
                }
            } else {
                match self.tokenizer.token_to_id(name) {
                    Some(id) => id,
                    None => return Err(VocabError::UnknownEos(name.to_string())),
                }
            };
            if !eos.contains(&id) {
                eos.push(id);
            }
        }
        self.eos = eos;
        Ok(self)
    }

    /// Sets the width of the model's logits vector. It may exceed the
    /// vocabulary (Qwen pads 151,669 tokens to 151,936); padded ids are never
    /// allowed.
    pub fn with_logits_width(mut self, width: usize) -> Result<Vocabulary, VocabError> {
        if width < self.len() {
            return Err(VocabError::LogitsTooNarrow {
                width,
                vocab: self.len(),
            });
        }
        self.width = width;
        Ok(self)
    }

    /// Number of token ids in the vocabulary (highest id + 1).
    pub fn len(&self) -> usize {
        self.special.len()
    }

    /// True if the vocabulary has no tokens (never the case after loading).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Width of the logits vector (at least [`len`](Self::len)).
    pub fn logits_width(&self) -> usize {
        self.width
    }

    /// The bytes token `id` produces. Empty for special tokens and for ids
    /// outside the vocabulary.
    pub fn token_bytes(&self, id: TokenId) -> &[u8] {
        let i = id as usize;
        if i >= self.len() {
            return &[];
        }
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// True for special (control) tokens: they produce no bytes and are never
    /// allowed by a grammar unless it names them.
    ///
    /// Ids that no token uses, and ids at or beyond [`len`](Self::len) (logits
    /// padding), count as special too.
    pub fn is_special(&self, id: TokenId) -> bool {
        self.special.get(id as usize).copied().unwrap_or(true)
    }

    /// The token's name as the tokenizer file spells it (for display).
    ///
    /// Empty for ids that no token uses.
    pub fn token_name(&self, id: TokenId) -> String {
        self.tokenizer.id_to_token(id).unwrap_or_default()
    }

    /// Looks a token up by its name as the tokenizer file spells it.
    pub fn token_id(&self, name: &str) -> Option<TokenId> {
        self.tokenizer.token_to_id(name)
    }

    /// The end-of-sequence tokens (never empty).
    pub fn eos_tokens(&self) -> &[TokenId] {
        &self.eos
    }

    /// True if `id` is in the EOS set.
    pub fn is_eos(&self, id: TokenId) -> bool {
        self.eos.contains(&id)
    }

    /// The token that spells the single byte `b`, if the vocabulary has one
    /// (byte-level BPE has all 256; SentencePiece with byte fallback has
    /// `<0xNN>` tokens).
    pub fn byte_token(&self, b: u8) -> Option<TokenId> {
        self.single_byte.get(b as usize).copied().flatten()
    }

    /// Encodes text into tokens whose bytes concatenate to exactly `text`'s
    /// bytes. Special-token names inside `text` are encoded as plain text.
    ///
    /// This is the tokenizer's own `encode(text, false)` (no BOS or other
    /// template tokens are added) with one difference: a special token's name
    /// in the text (`<|im_end|>`, `</s>`) is tokenized like any other text
    /// instead of becoming the special token, because a special token produces
    /// no bytes. Non-special added tokens (Qwen's `<tool_call>`, Gemma's
    /// `<unused0>`) are still matched, as they produce their text.
    ///
    /// In a SentencePiece vocabulary a literal space marker (`▁`, U+2581) in
    /// the text would otherwise be read as a space; it is encoded with its
    /// three byte-fallback tokens instead.
    ///
    /// # Errors
    ///
    /// [`VocabError::Encode`] if the tokenizer fails, or if it cannot
    /// represent the text exactly (for example a character that maps to
    /// `<unk>` in a vocabulary without byte fallback).
    pub fn encode(&self, text: &str) -> Result<Vec<TokenId>, VocabError> {
        let mut ids = Vec::new();
        let marker = match self.spelling {
            Spelling::SentencePiece {
                marker: Some(m), ..
            } if text.contains(m) => Some(m),
            _ => None,
        };
        match marker {
            None => self.encode_segment(text, &mut ids)?,
            Some(m) => {
                let mut buf = [0u8; 4];
                let marker_bytes = m.encode_utf8(&mut buf).as_bytes();
                for (i, part) in text.split(m).enumerate() {
                    if i > 0 {
                        for &b in marker_bytes {
                            match self.byte_tokens.get(b as usize).copied().flatten() {
                                Some(id) => ids.push(id),
                                None => {
                                    return Err(VocabError::Encode(format!(
                                        "the text contains the space marker {m:?}, which this \
                                         vocabulary cannot spell apart from a space (no byte \
                                         token <0x{b:02X}>)"
                                    )))
                                }
                            }
                        }
                    }
                    self.encode_segment(part, &mut ids)?;
                }
            }
        }
        self.check_exact(text, &ids)?;
        Ok(ids)
    }

    /// Concatenates the bytes of the given tokens.
    pub fn decode_bytes(&self, ids: &[TokenId]) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id));
        }
        out
    }

    /// The underlying Hugging Face tokenizer (with the adjustments described in
    /// the module docs).
    ///
    /// Unlike [`encode`](Self::encode), its own `encode` turns special-token
    /// names in the text into the special tokens, as Hugging Face does.
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.tokenizer
    }

    // ----------------------------------------------------------------------
    // Loading
    // ----------------------------------------------------------------------

    /// Parses and adjusts the tokenizer and builds the byte table; the EOS set
    /// is left empty.
    fn build(bytes: &[u8], what: &str) -> Result<Vocabulary, VocabError> {
        let corrupt = |message: String| VocabError::Corrupt {
            what: what.to_string(),
            message,
        };
        let json = maybe_gunzip(bytes, what)?;
        let mut root: Value = serde_json::from_slice(&json)
            .map_err(|e| corrupt(crate::error::json_error_message(&e)))?;
        drop(json);
        if !root.is_object() {
            return Err(corrupt("the top level is not a JSON object".to_string()));
        }
        if !root.get("model").is_some_and(Value::is_object) {
            return Err(corrupt("it has no \"model\" object".to_string()));
        }
        check_ids(&root).map_err(|message| VocabError::TooLarge {
            what: what.to_string(),
            message,
        })?;
        adjust_json(&mut root);
        let spelling = detect_spelling(&root);
        let adjusted =
            serde_json::to_vec(&root).map_err(|e| corrupt(format!("cannot re-serialise: {e}")))?;
        drop(root);
        // The tokenizers crate reports bad files as errors, but guard against a
        // panic on some unforeseen input too: a bad file must never abort.
        let mut tokenizer = match std::panic::catch_unwind(|| Tokenizer::from_bytes(&adjusted)) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(corrupt(e.to_string())),
            Err(_) => return Err(corrupt("the tokenizers crate panicked on it".to_string())),
        };
        drop(adjusted);
        tokenizer
            .with_truncation(None)
            .map_err(|e| corrupt(e.to_string()))?;
        tokenizer.with_padding(None);

        let mut plain_added = tokenizer.get_added_vocabulary().clone();
        plain_added.set_encode_special_tokens(true);

        let mut vocab = Vocabulary {
            tokenizer,
            plain_added,
            bytes: Vec::new(),
            offsets: Vec::new(),
            special: Vec::new(),
            eos: Vec::new(),
            width: 0,
            spelling,
            byte_tokens: Vec::new(),
            single_byte: Vec::new(),
        };
        vocab.fill_table().map_err(|message| VocabError::TooLarge {
            what: what.to_string(),
            message,
        })?;
        if vocab.is_empty() {
            return Err(VocabError::Empty);
        }
        vocab.width = vocab.len();
        Ok(vocab)
    }

    /// Fills `bytes`, `offsets`, `special` and `byte_tokens`.
    fn fill_table(&mut self) -> Result<(), String> {
        let added = self
            .tokenizer
            .get_added_vocabulary()
            .get_added_tokens_decoder();
        let model = self.tokenizer.get_model();
        let len = model
            .get_vocab()
            .values()
            .chain(added.keys())
            .map(|&id| id as usize + 1)
            .max()
            .unwrap_or(0);
        // `check_ids` bounds the ids a file declares; this bounds what the
        // tokenizer ended up with, before the table is allocated.
        if len as u64 > Vocabulary::MAX_IDS {
            return Err(format!(
                "token id {} is not below the limit of {} ids",
                len - 1,
                Vocabulary::MAX_IDS
            ));
        }

        let mut bytes = Vec::with_capacity(len * 6);
        let mut offsets = Vec::with_capacity(len + 1);
        let mut special = Vec::with_capacity(len);
        let mut byte_tokens = vec![None; 256];
        let inverse = byte_level_inverse();
        offsets.push(0u32);
        for id in 0..len {
            let id32 = id as TokenId;
            let mut is_special = false;
            if let Some(tok) = added.get(&id32) {
                if tok.special {
                    is_special = true;
                } else {
                    self.spell_added(&tok.content, &mut bytes);
                }
            } else if let Some(piece) = model.id_to_token(id32) {
                if let Some(b) = self.spell_piece(&piece, &inverse, &mut bytes) {
                    byte_tokens[b as usize].get_or_insert(id32);
                }
            } else {
                is_special = true; // a hole: no token has this id
            }
            special.push(is_special);
            let end = u32::try_from(bytes.len())
                .map_err(|_| "the tokens' bytes exceed 4 GiB in total".to_string())?;
            offsets.push(end);
        }
        bytes.shrink_to_fit();
        self.bytes = bytes;
        self.offsets = offsets;
        self.special = special;
        self.byte_tokens = match self.spelling {
            Spelling::SentencePiece {
                byte_fallback: true,
                ..
            } => byte_tokens,
            _ => Vec::new(),
        };
        let mut single_byte = self.byte_tokens.clone();
        single_byte.resize(256, None);
        for id in 0..len {
            let (a, b) = (self.offsets[id] as usize, self.offsets[id + 1] as usize);
            if b == a + 1 && !self.special[id] {
                single_byte[self.bytes[a] as usize].get_or_insert(id as TokenId);
            }
        }
        self.single_byte = single_byte;
        Ok(())
    }

    /// Appends the bytes of a non-special added token.
    fn spell_added(&self, content: &str, out: &mut Vec<u8>) {
        match self.spelling {
            Spelling::SentencePiece {
                marker: Some(m), ..
            } => push_replacing(content, m, out),
            _ => out.extend_from_slice(content.as_bytes()),
        }
    }

    /// Appends the bytes of a model token; returns the byte if the piece is a
    /// `<0xNN>` byte-fallback token.
    fn spell_piece(&self, piece: &str, inverse: &[i16], out: &mut Vec<u8>) -> Option<u8> {
        match self.spelling {
            Spelling::ByteLevel => {
                for c in piece.chars() {
                    match inverse.get(c as usize) {
                        Some(&b) if b >= 0 => out.push(b as u8),
                        // Not in the byte-level alphabet: keep the character.
                        _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                None
            }
            Spelling::SentencePiece {
                marker,
                byte_fallback,
            } => {
                if byte_fallback {
                    if let Some(b) = parse_byte_piece(piece) {
                        out.push(b);
                        return Some(b);
                    }
                }
                match marker {
                    Some(m) => push_replacing(piece, m, out),
                    None => out.extend_from_slice(piece.as_bytes()),
                }
                None
            }
            Spelling::Plain => {
                out.extend_from_slice(piece.as_bytes());
                None
            }
        }
    }

    /// The default EOS set: candidates present in the vocabulary (only the
    /// special ones if any is special) plus the config's `eos_token`.
    fn default_eos(&self, config_eos: Option<&str>) -> Result<Vec<TokenId>, VocabError> {
        let present: Vec<TokenId> = Vocabulary::EOS_CANDIDATES
            .iter()
            .filter_map(|name| self.tokenizer.token_to_id(name))
            .filter(|&id| (id as usize) < self.len())
            .collect();
        let any_special = present.iter().any(|&id| self.is_special(id));
        let mut eos: Vec<TokenId> = Vec::new();
        for id in present {
            if (!any_special || self.is_special(id)) && !eos.contains(&id) {
                eos.push(id);
            }
        }
        if let Some(id) = config_eos.and_then(|name| self.tokenizer.token_to_id(name)) {
            if (id as usize) < self.len() && !eos.contains(&id) {
                eos.push(id);
            }
        }
        if eos.is_empty() {
            return Err(VocabError::NoEos {
                tried: Vocabulary::EOS_CANDIDATES.join(", "),
            });
        }
        Ok(eos)
    }

    // ----------------------------------------------------------------------
    // Encoding
    // ----------------------------------------------------------------------

    /// Runs the tokenizer's pipeline on `text` (special-token names as plain
    /// text) and appends the ids.
    fn encode_segment(&self, text: &str, ids: &mut Vec<TokenId>) -> Result<(), VocabError> {
        if text.is_empty() {
            return Ok(());
        }
        let enc_err = |e: tokenizers::Error| VocabError::Encode(e.to_string());
        let mut pretok = self
            .plain_added
            .extract_and_normalize(self.tokenizer.get_normalizer(), text);
        if let Some(pt) = self.tokenizer.get_pre_tokenizer() {
            pt.pre_tokenize(&mut pretok).map_err(enc_err)?;
        }
        let model = self.tokenizer.get_model();
        pretok
            .tokenize(|normalized| model.tokenize(normalized.get()))
            .map_err(enc_err)?;
        let encoding = pretok
            .into_encoding(None, 0, OffsetType::None)
            .map_err(enc_err)?;
        ids.extend_from_slice(encoding.get_ids());
        Ok(())
    }

    /// Checks that `ids` spell exactly `text`.
    fn check_exact(&self, text: &str, ids: &[TokenId]) -> Result<(), VocabError> {
        let want = text.as_bytes();
        let mut pos = 0;
        for &id in ids {
            let got = self.token_bytes(id);
            if got.is_empty() || !want[pos..].starts_with(got) {
                let shown = String::from_utf8_lossy(&want[pos..want.len().min(pos + 16)]);
                return Err(VocabError::Encode(format!(
                    "the tokenizer cannot spell this text exactly: at byte {pos} ({shown:?}…) \
                     it produced token {id} ({:?}), whose bytes are {:?}",
                    self.token_name(id),
                    String::from_utf8_lossy(got)
                )));
            }
            pos += got.len();
        }
        if pos != want.len() {
            return Err(VocabError::Encode(format!(
                "the tokenizer's tokens cover only {pos} of the text's {} bytes",
                want.len()
            )));
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------
// Helpers
// --------------------------------------------------------------------------

/// Reads a file of at most [`Vocabulary::MAX_FILE_BYTES`], through a bound
/// rather than by its reported size (a FIFO or `/dev/zero` has none).
fn read_bounded(path: &Path) -> Result<Vec<u8>, VocabError> {
    let io = |source| VocabError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(Vocabulary::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > Vocabulary::MAX_FILE_BYTES {
        return Err(too_big(&path.display().to_string(), "the file"));
    }
    Ok(bytes)
}

fn too_big(what: &str, thing: &str) -> VocabError {
    VocabError::TooLarge {
        what: what.to_string(),
        message: format!(
            "{thing} is larger than {} MiB, the most formwork reads for a tokenizer",
            Vocabulary::MAX_FILE_BYTES >> 20
        ),
    }
}

/// Decompresses `bytes` if they start with the gzip magic number, stopping
/// past [`Vocabulary::MAX_FILE_BYTES`] of output (a gzip bomb is refused after
/// that much, not after filling memory). Plain bytes are held to the same
/// limit. `what` names the source in errors.
fn maybe_gunzip<'b>(bytes: &'b [u8], what: &str) -> Result<Cow<'b, [u8]>, VocabError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        if bytes.len() as u64 > Vocabulary::MAX_FILE_BYTES {
            return Err(too_big(what, "the tokenizer JSON"));
        }
        return Ok(Cow::Borrowed(bytes));
    }
    let limit = Vocabulary::MAX_FILE_BYTES;
    let mut out = Vec::with_capacity((bytes.len() as u64 * 4).min(limit) as usize);
    flate2::read::GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| VocabError::Corrupt {
            what: what.to_string(),
            message: format!("bad gzip data: {e}"),
        })?;
    if out.len() as u64 > limit {
        return Err(too_big(what, "the decompressed file"));
    }
    Ok(Cow::Owned(out))
}

/// Checks the token ids a tokenizer.json declares (`model.vocab` and
/// `added_tokens`) against [`Vocabulary::MAX_IDS`] and
/// [`Vocabulary::MAX_EXTRA_HOLES`], before the tokenizers crate or the
/// byte table is built from them. Malformed entries are left to the
/// tokenizers crate to report.
fn check_ids(root: &Value) -> Result<(), String> {
    /// Entries seen, and the highest id with its token's name.
    #[derive(Default)]
    struct Seen<'a> {
        count: u64,
        highest: Option<(u64, &'a str)>,
    }
    impl<'a> Seen<'a> {
        fn see(&mut self, id: u64, name: &'a str, entries: u64) {
            self.count += entries;
            if self.highest.is_none_or(|(h, _)| id > h) {
                self.highest = Some((id, name));
            }
        }
    }
    let mut seen = Seen::default();
    match root["model"].get("vocab") {
        Some(Value::Object(vocab)) => {
            for (name, id) in vocab {
                if let Some(id) = id.as_u64() {
                    seen.see(id, name, 1);
                }
            }
        }
        // Unigram: a list of [piece, score]; ids are positions.
        Some(Value::Array(pieces)) => {
            if let Some(last) = pieces.last() {
                let name = last.get(0).and_then(Value::as_str).unwrap_or("");
                seen.see(pieces.len() as u64 - 1, name, pieces.len() as u64);
            }
        }
        _ => {}
    }
    if let Some(Value::Array(added)) = root.get("added_tokens") {
        for tok in added {
            if let Some(id) = tok.get("id").and_then(Value::as_u64) {
                let name = tok.get("content").and_then(Value::as_str).unwrap_or("");
                seen.see(id, name, 1);
            }
        }
    }
    let count = seen.count;
    let Some((id, name)) = seen.highest else {
        return Ok(());
    };
    if id >= Vocabulary::MAX_IDS {
        return Err(format!(
            "token {name:?} has id {id}, beyond the limit of {} ids; a tokenizer's ids \
             number its tokens from 0",
            Vocabulary::MAX_IDS
        ));
    }
    let allowed = count
        .saturating_mul(2)
        .saturating_add(Vocabulary::MAX_EXTRA_HOLES);
    if id >= allowed {
        return Err(format!(
            "token {name:?} has id {id}, far beyond the file's {count} tokens (ids up to \
             {} are accepted); a tokenizer's ids number its tokens from 0 with few gaps",
            allowed - 1
        ));
    }
    Ok(())
}

/// Reads `eos_token` from `tokenizer_config.json` (or `.json.gz`) in `dir`.
fn read_config_eos(dir: &Path) -> Result<Option<String>, VocabError> {
    for name in ["tokenizer_config.json", "tokenizer_config.json.gz"] {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let raw = read_bounded(&path)?;
        let what = path.display().to_string();
        let json = maybe_gunzip(&raw, &what)?;
        let config: Value = serde_json::from_slice(&json).map_err(|e| VocabError::Corrupt {
            what,
            message: crate::error::json_error_message(&e),
        })?;
        let eos = match config.get("eos_token") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(String::from),
            _ => None,
        };
        return Ok(eos);
    }
    Ok(None)
}

/// The `type` field of a tokenizer component.
fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

/// Calls `f` on a component and, recursively, on the members of `Sequence`s.
fn visit<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    if v.is_null() {
        return;
    }
    f(v);
    for key in ["normalizers", "pretokenizers", "decoders", "processors"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            for item in list {
                visit(item, f);
            }
        }
    }
}

/// Mutable version of [`visit`].
fn visit_mut(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    if v.is_null() {
        return;
    }
    f(v);
    for key in ["normalizers", "pretokenizers", "decoders", "processors"] {
        if let Some(list) = v.get_mut(key).and_then(Value::as_array_mut) {
            for item in list {
                visit_mut(item, f);
            }
        }
    }
}

/// Removes the normalisers that break byte exactness; `None` if nothing is left.
fn clean_normalizer(n: Value) -> Option<Value> {
    match type_of(&n) {
        Some("Prepend" | "NFC" | "NFD" | "NFKC" | "NFKD") => None,
        Some("Sequence") => {
            let mut n = n;
            let list = match n.get_mut("normalizers").map(Value::take) {
                Some(Value::Array(list)) => list,
                _ => return None,
            };
            let kept: Vec<Value> = list.into_iter().filter_map(clean_normalizer).collect();
            if kept.is_empty() {
                None
            } else {
                n["normalizers"] = Value::Array(kept);
                Some(n)
            }
        }
        _ if n.is_null() => None,
        _ => Some(n),
    }
}

/// Edits a tokenizer.json so that encoding is byte-exact (see module docs).
fn adjust_json(root: &mut Value) {
    if let Some(n) = root.get_mut("normalizer") {
        *n = clean_normalizer(n.take()).unwrap_or(Value::Null);
    }
    if let Some(p) = root.get_mut("pre_tokenizer") {
        visit_mut(p, &mut |c| match type_of(c) {
            Some("Metaspace") => {
                c["prepend_scheme"] = Value::from("never");
                c["add_prefix_space"] = Value::from(false);
            }
            Some("ByteLevel") => c["add_prefix_space"] = Value::from(false),
            _ => {}
        });
    }
    if let Some(list) = root.get_mut("added_tokens").and_then(Value::as_array_mut) {
        for tok in list.iter_mut().filter(|t| t.is_object()) {
            tok["lstrip"] = Value::from(false);
            tok["rstrip"] = Value::from(false);
        }
    }
    root["truncation"] = Value::Null;
    root["padding"] = Value::Null;
}

/// Decides how model tokens spell their bytes (see module docs).
fn detect_spelling(root: &Value) -> Spelling {
    let null = Value::Null;
    let decoder = root.get("decoder").unwrap_or(&null);
    let pre_tokenizer = root.get("pre_tokenizer").unwrap_or(&null);
    let mut byte_level = false;
    let mut marker: Option<char> = None;
    let mut byte_fallback = root
        .get("model")
        .and_then(|m| m.get("byte_fallback"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut look = |c: &Value| match type_of(c) {
        Some("ByteLevel") => byte_level = true,
        Some("ByteFallback") => byte_fallback = true,
        Some("Metaspace") => {
            let rep = c.get("replacement").and_then(Value::as_str).unwrap_or("▁");
            marker = marker.or_else(|| single_char(rep));
        }
        Some("Replace") => {
            let pattern = c
                .get("pattern")
                .and_then(|p| p.get("String"))
                .and_then(Value::as_str);
            let content = c.get("content").and_then(Value::as_str);
            if let (Some(p), Some(" ")) = (pattern, content) {
                marker = marker.or_else(|| single_char(p));
            }
        }
        _ => {}
    };
    visit(decoder, &mut look);
    visit(pre_tokenizer, &mut look);
    if byte_level {
        Spelling::ByteLevel
    } else if marker.is_some() || byte_fallback {
        Spelling::SentencePiece {
            marker,
            byte_fallback,
        }
    } else {
        Spelling::Plain
    }
}

/// The only character of `s`, if it has exactly one.
fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Appends `s` with every `marker` replaced by a space.
fn push_replacing(s: &str, marker: char, out: &mut Vec<u8>) {
    for c in s.chars() {
        if c == marker {
            out.push(b' ');
        } else {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
}

/// The byte of a piece spelled exactly `<0xNN>` (two hex digits).
fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// GPT-2's `bytes_to_unicode`, inverted: indexed by code point, the byte it
/// stands for, or -1.
fn byte_level_inverse() -> Vec<i16> {
    let mut inverse = vec![-1i16; 0x100 + 256];
    let mut next = 0u32;
    for b in 0u32..256 {
        let printable =
            (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        let cp = if printable {
            b
        } else {
            next += 1;
            0x100 + next - 1
        };
        inverse[cp as usize] = b as i16;
    }
    inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Vocabulary>();
    }

    #[test]
    fn byte_level_table() {
        let inv = byte_level_inverse();
        assert_eq!(inv['Ġ' as usize], 0x20);
        assert_eq!(inv['Ċ' as usize], 0x0a);
        assert_eq!(inv['!' as usize], b'!' as i16);
        assert_eq!(inv[0x100], 0x00);
        assert_eq!(inv['ÿ' as usize], 0xff);
        assert_eq!(inv.iter().filter(|&&b| b >= 0).count(), 256);
    }

    #[test]
    fn byte_pieces() {
        assert_eq!(parse_byte_piece("<0x0A>"), Some(0x0a));
        assert_eq!(parse_byte_piece("<0xff>"), Some(0xff));
        assert_eq!(parse_byte_piece("<0x0A"), None);
        assert_eq!(parse_byte_piece("<0x0AB>"), None);
        assert_eq!(parse_byte_piece("<0x+A>"), None);
    }

    #[test]
    fn normalizer_cleaning() {
        let n: Value = serde_json::json!({"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "NFKC"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]});
        let cleaned = clean_normalizer(n).unwrap();
        assert_eq!(cleaned["normalizers"].as_array().unwrap().len(), 1);
        assert_eq!(clean_normalizer(serde_json::json!({"type": "NFC"})), None);
    }
}
