//! [`StateMask`]: the part of a mask that a lexer state decides alone.
//!
//! A mask is computed by walking the token trie from the matcher's lexer
//! state. Most of that walk never leaves the current lexeme: a token whose
//! every byte keeps the lexer alive is allowed whatever the parser says,
//! and a token on which the lexer dies where the lexeme cannot end is
//! refused whatever the parser says. Only where the lexeme can end and the
//! next byte does not continue it does the parser have a say, and those
//! tokens are few (a closing quote followed by `,` or `:`, a digit
//! followed by `}`).
//!
//! So, in the manner of XGrammar's adaptive token-mask cache, the walk is
//! split in two. [`StateMask::build`] walks the trie once per lexer state
//! with the lexer alone, keeping the bitset of the tokens the lexeme takes
//! whole, and the *ends*: the trie nodes where the lexer died after a state
//! that can end its lexeme. They are grouped by (that state, the node's
//! byte), because every node of a group leaves the same lexeme in the same
//! state and starts the next one on the same byte: the parser is asked once
//! per state, and the next lexeme's first step is taken once per group. At
//! each later mask in that lexer state the matcher copies the bitset and
//! walks only the subtrees of the ends, under its current parser row (see
//! `Matcher::mask_into`).
//!
//! # Shared by every matcher of a grammar
//!
//! What a lexer state decides does not depend on the sequence, so state
//! masks are kept in the compiled grammar ([`SharedStateMasks`]), keyed by
//! the state's identity (its live lexemes and their DFA states), and every
//! matcher of the grammar uses them: a second request with the same schema
//! walks only the lexeme ends. The lexer states that the ends leave are
//! stored by identity too, since each matcher numbers its lexer states in
//! the order it built them; a matcher translates them once
//! ([`LocalStateMask`]). The shared cache is bounded in bytes; a mask with
//! few tokens is stored as their list.

use crate::hash::FxBuild;
use crate::lexer::{LexerCache, LexerSpec, StateKey, DEAD, UNKNOWN};
use crate::trie::TokenTrie;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most state masks one matcher keeps translated; past it they are
/// dropped and translated again as they come back.
pub(crate) const MAX_LOCAL_STATE_MASKS: usize = 4096;

/// Bytes of state masks a compiled grammar keeps for its matchers; past
/// it, new ones are used by the matcher that built them only.
const SHARED_BYTES: usize = 32 << 20;

/// Trie nodes where the lexeme may end: the lexer in state
/// `StateMask::ends_from[from]` dies on `byte`, the byte into each of the
/// nodes `StateMask::nodes[start..end]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndGroup {
    pub(crate) from: u32,
    pub(crate) byte: u8,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// What one lexer state decides about every token (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct StateMask {
    /// The text slice whose rest trie the node indices are into (`None`:
    /// the whole trie); the slice's tokens are in `tokens`.
    pub(crate) slice: Option<usize>,
    /// The tokens whose bytes all continue the current lexeme.
    pub(crate) tokens: Tokens,
    /// The ends, sorted by lexer state then byte.
    pub(crate) groups: Box<[EndGroup]>,
    pub(crate) nodes: Box<[u32]>,
    /// The lexer states the ends leave, by identity.
    pub(crate) ends_from: Box<[StateKey]>,
}

/// A set of tokens, as mask words (without the sink word) or, when it is
/// small, as a list.
#[derive(Clone, Debug)]
pub(crate) enum Tokens {
    Words(Box<[u32]>),
    List { ids: Box<[u32]>, width_words: usize },
}

impl Tokens {
    /// The number of mask words the set was made for.
    pub(crate) fn width_words(&self) -> usize {
        match self {
            Tokens::Words(w) => w.len(),
            Tokens::List { width_words, .. } => *width_words,
        }
    }

    /// Writes the set into `words` (of [`width_words`](Self::width_words)).
    pub(crate) fn write(&self, words: &mut [u32]) {
        match self {
            Tokens::Words(w) => words.copy_from_slice(w),
            Tokens::List { ids, .. } => {
                words.fill(0);
                for &t in ids.iter() {
                    words[t as usize / 32] |= 1 << (t % 32);
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Tokens::Words(w) => w.len() * 4,
            Tokens::List { ids, .. } => ids.len() * 4,
        }
    }
}

/// A state mask with the lexer states its ends leave numbered in one
/// matcher's lexer cache: `ends_from[i]` is the state of
/// `mask.ends_from[i]` there.
#[derive(Clone, Debug)]
pub(crate) struct LocalStateMask {
    pub(crate) mask: Arc<StateMask>,
    pub(crate) ends_from: Box<[u32]>,
}

impl LocalStateMask {
    /// `mask` with its end states numbered in `lexer`.
    pub(crate) fn new(mask: Arc<StateMask>, lexer: &mut LexerCache, spec: &LexerSpec) -> Self {
        let ends_from = mask
            .ends_from
            .iter()
            .map(|k| lexer.state_of_key(spec, k))
            .collect();
        LocalStateMask { mask, ends_from }
    }
}

/// Buffers [`StateMask::build`] reuses from one state to the next. The
/// words are all zero between builds.
#[derive(Default)]
pub(crate) struct BuildScratch {
    words: Vec<u32>,
    ids: Vec<u32>,
    lexes: Vec<u32>,
    ends: Vec<(u32, u8, u32)>,
}

/// A clone starts empty: scratch space holds nothing worth copying.
impl Clone for BuildScratch {
    fn clone(&self) -> Self {
        BuildScratch::default()
    }
}

impl std::fmt::Debug for BuildScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuildScratch")
    }
}

impl StateMask {
    /// Walks `trie` from lexer state `lex` with the lexer alone, for masks
    /// of `width_words` words. `slice`: the text slice (its index and
    /// words) whose rest trie `trie` is; its tokens are all allowed. `None`
    /// if the work budget ran out during the walk (a step that gave up
    /// reads as dead, so what was found is not the state's).
    pub(crate) fn build(
        lexer: &mut LexerCache,
        spec: &LexerSpec,
        trie: &TokenTrie,
        slice: Option<(usize, &[u32])>,
        lex: u32,
        width_words: usize,
        scratch: &mut BuildScratch,
    ) -> Option<(StateMask, Box<[u32]>)> {
        let BuildScratch {
            words,
            ids,
            lexes,
            ends,
        } = scratch;
        // The bitset, plus a sink word for nodes without a token.
        words.resize(width_words + 1, 0);
        let sink = width_words as u32 * 32;
        if let Some((_, sw)) = slice {
            for (w, s) in words.iter_mut().zip(sw) {
                *w = *s;
            }
        }
        ids.clear();
        ends.clear();
        lexes.clear();
        lexes.resize(trie.max_depth() + 1, 0);
        lexes[0] = lex;
        let nodes = trie.nodes();
        let class_of = &spec.class_of;
        let root_end = nodes[0].subtree_end as usize;
        let mut stopped = false;
        let mut i = 1usize;
        while i < root_end {
            let node = nodes[i];
            let d = node.depth as usize;
            let parent = lexes[d - 1];
            let mut t = lexer.cached(parent, class_of[node.byte as usize] as usize);
            if t == UNKNOWN {
                t = lexer.next(spec, parent, node.byte);
            }
            if t == DEAD {
                if crate::budget::stopped() {
                    stopped = true;
                    break;
                }
                if lexer.state(parent).can_end() {
                    ends.push((parent, node.byte, i as u32));
                }
                i = node.subtree_end as usize;
                continue;
            }
            let tok = node.token.min(sink);
            words[tok as usize / 32] |= 1 << (tok % 32);
            if tok != sink {
                ids.push(tok);
            }
            if node.has_duplicates {
                for dup in trie.duplicates(i as u32) {
                    words[dup as usize / 32] |= 1 << (dup % 32);
                    ids.push(dup);
                }
            }
            lexes[d] = t;
            i += 1;
        }
        stopped |= crate::budget::stopped();
        let tokens = if slice.is_some() || ids.len() * 8 > width_words {
            let t = (!stopped).then(|| Tokens::Words(words[..width_words].into()));
            words.fill(0);
            t
        } else {
            for &t in ids.iter() {
                words[t as usize / 32] = 0;
            }
            words[width_words] = 0;
            (!stopped).then(|| Tokens::List {
                ids: ids.as_slice().into(),
                width_words,
            })
        };
        let tokens = tokens?;
        // Within a group the nodes stay in trie order.
        ends.sort_unstable();
        let mut groups: Vec<EndGroup> = Vec::new();
        let mut from: Vec<u32> = Vec::new();
        for (k, &(l, b, _)) in ends.iter().enumerate() {
            if from.last() != Some(&l) {
                from.push(l);
            }
            let f = from.len() as u32 - 1;
            match groups.last_mut() {
                Some(g) if g.from == f && g.byte == b => g.end += 1,
                _ => groups.push(EndGroup {
                    from: f,
                    byte: b,
                    start: k as u32,
                    end: k as u32 + 1,
                }),
            }
        }
        let mask = StateMask {
            slice: slice.map(|(j, _)| j),
            tokens,
            groups: groups.into_boxed_slice(),
            nodes: ends.iter().map(|&(_, _, n)| n).collect(),
            ends_from: from.iter().map(|&l| lexer.key(l)).collect(),
        };
        Some((mask, from.into_boxed_slice()))
    }

    /// Bytes this mask holds, roughly.
    fn bytes(&self) -> usize {
        let keys: usize = self.ends_from.iter().map(|k| 16 + k.2.len() * 8).sum();
        64 + self.tokens.bytes() + self.groups.len() * 16 + self.nodes.len() * 4 + keys
    }
}

/// The state masks of one compiled grammar, for one token environment,
/// shared by all its matchers (see the module docs). Clones of the grammar
/// share them.
#[derive(Clone, Default)]
pub(crate) struct SharedStateMasks {
    inner: Arc<RwLock<Shared>>,
}

#[derive(Default)]
struct Shared {
    /// The token environment the masks are for: another one empties the
    /// cache.
    env: u64,
    masks: HashMap<StateKey, Arc<StateMask>, FxBuild>,
    bytes: usize,
}

impl SharedStateMasks {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A cache holding what this one holds now, shared with nothing.
    pub(crate) fn snapshot(&self) -> SharedStateMasks {
        let s = self.read();
        SharedStateMasks {
            inner: Arc::new(RwLock::new(Shared {
                env: s.env,
                masks: s.masks.clone(),
                bytes: s.bytes,
            })),
        }
    }

    /// The mask of the lexer state `key` in environment `env`, if a
    /// matcher built it.
    pub(crate) fn get(&self, env: u64, key: &StateKey) -> Option<Arc<StateMask>> {
        let s = self.read();
        if s.env != env {
            return None;
        }
        s.masks.get(key).cloned()
    }

    /// Keeps `mask`, of the lexer state `key` in environment `env`, if
    /// there is room.
    pub(crate) fn insert(&self, env: u64, key: StateKey, mask: Arc<StateMask>) {
        let mut s = self.write();
        if s.env != env {
            *s = Shared {
                env,
                ..Shared::default()
            };
        }
        let b = mask.bytes();
        if s.bytes + b > SHARED_BYTES {
            return;
        }
        if s.masks.insert(key, mask).is_none() {
            s.bytes += b;
        }
    }
}

impl std::fmt::Debug for SharedStateMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.read();
        write!(
            f,
            "SharedStateMasks({} masks, {} bytes)",
            s.masks.len(),
            s.bytes
        )
    }
}
