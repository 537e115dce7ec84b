//! [`TokenTrie`]: every token's bytes in one flat prefix tree.
//!
//! Computing a mask means asking, for every token, whether its bytes can
//! follow the output so far. Tokens share prefixes heavily (`"`, `",`, `", "`),
//! so the question is asked once per distinct prefix by walking a trie, and a
//! byte the grammar rejects rules out the whole subtree below it at once.
//!
//! The trie is stored flat, in pre-order: a node's children follow it
//! directly, and each node records where its subtree ends. A depth-first walk
//! is then a forward scan over one array, and skipping a rejected subtree is a
//! single jump. Special tokens (which produce no bytes) are not in the trie.

use crate::vocab::{TokenId, Vocabulary};

/// No token ends at this node.
pub(crate) const NO_TOKEN: u32 = u32::MAX;

/// One trie node: the byte on the edge into it, the token ending here (if
/// any), and the index one past the end of its subtree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub(crate) byte: u8,
    /// More than one token has exactly these bytes (see [`TokenTrie::duplicates`]).
    pub(crate) has_duplicates: bool,
    /// Length of the path from the root (the root has depth 0).
    pub(crate) depth: u16,
    pub(crate) token: u32,
    pub(crate) subtree_end: u32,
}

/// A prefix tree over the byte strings of a vocabulary's tokens.
///
/// Built once per vocabulary and shared (it is immutable).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use formwork::{TokenTrie, Vocabulary};
/// let vocab = Vocabulary::from_file("tokenizer.json")?;
/// let trie = TokenTrie::new(&vocab);
/// println!("{} nodes for {} tokens", trie.node_count(), vocab.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TokenTrie {
    nodes: Vec<Node>,
    /// For nodes with `has_duplicates`: (node index, extra token), sorted.
    duplicates: Vec<(u32, TokenId)>,
    depth: usize,
    /// The "string text" slices, longest first; empty inside a slice's own
    /// rest trie.
    slices: Vec<TextSlice>,
    /// The slices' common language, `[^"\\\x00-\x1F]*`, as a DFA.
    slice_dfa: Option<crate::lexer::LexemeDfa>,
}

/// The tokens that are plain text inside a quoted string (valid UTF-8 with
/// no `"`, no backslash and no control character), up to some length. Inside a JSON string (and any
/// lexeme that accepts the same characters freely) all of them are allowed
/// at once, so a mask can add them with one bitset OR and walk only the
/// other tokens, kept in a trie of their own. Slices of short tokens serve
/// lexemes that allow only a few more characters (`.{0,8}`, `maxLength`).
#[derive(Clone, Debug)]
pub(crate) struct TextSlice {
    /// Bitset over token ids (words of 32).
    pub(crate) words: Vec<u32>,
    /// Every other non-special token.
    pub(crate) rest: TokenTrie,
    /// Length in bytes of the longest token in the slice.
    pub(crate) max_len: usize,
}

/// Length limits (bytes) of the text slices besides the unlimited one.
const SLICE_LIMITS: &[usize] = &[16, 8, 4];

/// The slice's language (see [`TextSlice`]).
const TEXT_SLICE_REGEX: &str = r#"[^"\\\x00-\x1F]*"#;

fn in_text_slice(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
        Err(_) => false,
    }
}

impl TokenTrie {
    /// Builds the trie of all non-special tokens of `vocab` that produce at
    /// least one byte.
    pub fn new(vocab: &Vocabulary) -> TokenTrie {
        Self::with_cache(vocab, &crate::lexer::DfaCache::default())
    }

    /// [`new`](Self::new), taking the DFA of text slices from `cache`.
    pub(crate) fn with_cache(vocab: &Vocabulary, cache: &crate::lexer::DfaCache) -> TokenTrie {
        let ids: Vec<TokenId> = (0..vocab.len() as TokenId)
            .filter(|&id| !vocab.is_special(id) && !vocab.token_bytes(id).is_empty())
            .collect();
        let dfa = crate::lexer::LexemeDfa::new(TEXT_SLICE_REGEX, cache)
            .expect("text slice regex compiles");
        let mut slices = Vec::new();
        for limit in std::iter::once(usize::MAX).chain(SLICE_LIMITS.iter().copied()) {
            let mut words = vec![0u32; vocab.len().div_ceil(32)];
            let mut rest = Vec::new();
            let mut max_len = 0;
            for &id in &ids {
                let b = vocab.token_bytes(id);
                if b.len() <= limit && in_text_slice(b) {
                    max_len = max_len.max(b.len());
                    words[id as usize / 32] |= 1 << (id % 32);
                } else {
                    rest.push(id);
                }
            }
            slices.push(TextSlice {
                words,
                rest: TokenTrie::build(vocab, rest),
                max_len,
            });
        }
        let mut trie = TokenTrie::build(vocab, ids);
        trie.slices = slices;
        trie.slice_dfa = Some(dfa);
        trie
    }

    fn build(vocab: &Vocabulary, mut ids: Vec<TokenId>) -> TokenTrie {
        // Depths are stored in 16 bits; longer "tokens" cannot be generated anyway.
        ids.retain(|&id| vocab.token_bytes(id).len() < u16::MAX as usize);
        ids.sort_by(|&a, &b| {
            vocab
                .token_bytes(a)
                .cmp(vocab.token_bytes(b))
                .then(a.cmp(&b))
        });
        let mut nodes = vec![Node {
            byte: 0,
            has_duplicates: false,
            depth: 0,
            token: NO_TOKEN,
            subtree_end: 0,
        }];
        let mut duplicates = Vec::new();
        // `path[d]` = index of the node at depth d+1 on the current path.
        let mut path: Vec<u32> = Vec::new();
        let mut prev: &[u8] = &[];
        let mut depth = 0;
        for &id in &ids {
            let bytes = vocab.token_bytes(id);
            let common = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            // Close the nodes below the common prefix.
            while path.len() > common {
                let n = path.pop().unwrap() as usize;
                nodes[n].subtree_end = nodes.len() as u32;
            }
            for &b in &bytes[common..] {
                path.push(nodes.len() as u32);
                let depth = path.len() as u16;
                nodes.push(Node {
                    byte: b,
                    has_duplicates: false,
                    depth,
                    token: NO_TOKEN,
                    subtree_end: 0,
                });
            }
            let last = *path.last().unwrap() as usize;
            if nodes[last].token == NO_TOKEN {
                nodes[last].token = id;
            } else {
                nodes[last].has_duplicates = true;
                duplicates.push((last as u32, id));
            }
            depth = depth.max(bytes.len());
            prev = bytes;
        }
        while let Some(n) = path.pop() {
            nodes[n as usize].subtree_end = nodes.len() as u32;
        }
        nodes[0].subtree_end = nodes.len() as u32;
        duplicates.sort_unstable();
        TokenTrie {
            nodes,
            duplicates,
            depth,
            slices: Vec::new(),
            slice_dfa: None,
        }
    }

    /// Number of nodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Length in bytes of the longest token.
    pub fn max_depth(&self) -> usize {
        self.depth
    }

    /// The text slices (longest first) and the DFA of their language.
    pub(crate) fn text_slices(&self) -> Option<(&[TextSlice], &crate::lexer::LexemeDfa)> {
        Some((&self.slices, self.slice_dfa.as_ref()?))
    }

    #[inline]
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Steps `dfa` alone along the whole trie from its start state,
    /// pruning at the first dead byte: builds, in the DFA's shared table,
    /// every state a token reaches from the lexeme's start (see
    /// [`Matcher::prepare`](crate::Matcher::prepare)). Stops when the
    /// running operation does.
    pub(crate) fn walk_lexeme(&self, dfa: &crate::lexer::LexemeDfa) {
        let nodes = &self.nodes;
        let mut states = vec![crate::lexer::DEAD; self.depth + 1];
        states[0] = dfa.start;
        let root_end = nodes[0].subtree_end as usize;
        let mut i = 1usize;
        while i < root_end {
            let node = nodes[i];
            let d = node.depth as usize;
            if !crate::budget::charge(1) {
                return;
            }
            let t = dfa.next(states[d - 1], node.byte);
            if t == crate::lexer::DEAD {
                if crate::budget::stopped() {
                    return;
                }
                i = node.subtree_end as usize;
                continue;
            }
            states[d] = t;
            i += 1;
        }
    }

    /// The extra tokens that share node `n`'s bytes.
    pub(crate) fn duplicates(&self, n: u32) -> impl Iterator<Item = TokenId> + '_ {
        let start = self.duplicates.partition_point(|&(m, _)| m < n);
        self.duplicates[start..]
            .iter()
            .take_while(move |&&(m, _)| m == n)
            .map(|&(_, t)| t)
    }
}
