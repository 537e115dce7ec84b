//! The product lexer: all lexemes the parser allows, run in parallel.
//! [`LexerSpec`] holds a grammar's lexemes and joint byte classes;
//! [`LexerCache`] interns product states ([`LexState`]) and caches their
//! transitions.

use super::classes::{refine_classes, LexemeId, DEAD, UNKNOWN};
use super::dfa::LexemeDfa;
use crate::hash::FxBuild;
use std::collections::HashMap;

/// Pairs of a member lexeme's state and a text-slice DFA state that
/// [`LexerCache::text_run`] explores at most from one lexer state, over
/// all its members. A state whose
/// product with the slice's DFA does not close up by then (a count that
/// changes with every byte) answers with the length it explored in full:
/// a shorter run (a shorter slice, or none) than the truth, never a longer
/// one.
const TEXT_RUN_PAIRS: usize = 4_096;

/// The pairs of [`TEXT_RUN_PAIRS`] a member lexeme that is costly on first
/// use (see `LexemeDfa::is_costly_on_first_use`) may take.
const COSTLY_TEXT_RUN_PAIRS: usize = 256;

/// All lexemes of a grammar, plus the byte classes no lexeme distinguishes.
#[derive(Clone, Debug)]
pub(crate) struct LexerSpec {
    pub(crate) lexemes: Vec<LexemeDfa>,
    pub(crate) ignore: Option<LexemeId>,
    pub(crate) class_of: [u8; 256],
    pub(crate) class_rep: Vec<u8>,
    /// Word bytes, when the grammar separates words
    /// ([`Grammar::separate_words`](crate::grammar::Grammar::separate_words)):
    /// a lexeme ending in one may not be followed directly by a lexeme
    /// starting with one.
    pub(crate) word_bytes: Option<[bool; 256]>,
    /// Some lexeme is counted (see [`LexemeDfa::count_class`]).
    has_counted: bool,
}

impl LexerSpec {
    pub(crate) fn new(
        lexemes: Vec<LexemeDfa>,
        ignore: Option<LexemeId>,
        separate_words: bool,
    ) -> LexerSpec {
        let word_bytes = separate_words.then(|| {
            let mut w = [false; 256];
            for (b, w) in w.iter_mut().enumerate() {
                let b = b as u8;
                *w = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
            }
            w
        });
        // Bytes no lexeme tells apart, by partition refinement: split the
        // classes so far by each lexeme's own classes in turn (no key per
        // byte over all lexemes: a schema has thousands of them).
        let mut class_of = [0u8; 256];
        // Word and other bytes must not share a class: the lexer remembers
        // which kind it read last.
        if let Some(w) = &word_bytes {
            for (b, c) in class_of.iter_mut().enumerate() {
                *c = w[b] as u8;
            }
        }
        let class_rep = refine_classes(&mut class_of, lexemes.iter().map(|l| &l.classes));
        LexerSpec {
            has_counted: lexemes.iter().any(|l| l.counted.is_some()),
            lexemes,
            ignore,
            class_of,
            class_rep,
            word_bytes,
        }
    }

    #[inline]
    fn is_word(&self, b: u8) -> bool {
        self.word_bytes.is_some_and(|w| w[b as usize])
    }

    pub(crate) fn class_count(&self) -> usize {
        self.class_rep.len()
    }
}

/// A product lexer state: the lexemes still alive and where each one is.
#[derive(Clone, Debug)]
pub(crate) struct LexState {
    pub(crate) members: Box<[(LexemeId, u32)]>,
    /// Lexemes that match the bytes read so far, the ignore lexeme left
    /// out: what the parser is handed when the lexeme ends here.
    pub(crate) accepting: Box<[LexemeId]>,
    /// The ignore lexeme matches the bytes read so far.
    pub(crate) ignorable: bool,
    pub(crate) at_start: bool,
    /// Only when the grammar separates words: in a start state, the lexeme
    /// before ended with a word byte, so no word byte may come next;
    /// otherwise, the last byte read was a word byte.
    pub(crate) word: bool,
}

impl LexState {
    /// True if a lexeme (possibly the ignore lexeme) can end here.
    #[inline]
    pub(crate) fn can_end(&self) -> bool {
        self.ignorable || !self.accepting.is_empty()
    }
}

/// Bits of [`LexerCache::end_flags`].
pub(crate) struct EndFlags;

impl EndFlags {
    /// Worked out (so never 0).
    pub(crate) const KNOWN: u8 = 1;
    /// A lexeme (maybe the ignore lexeme) can end here.
    pub(crate) const CAN_END: u8 = 2;
    /// ... and no byte can extend it.
    pub(crate) const CLOSED: u8 = 4;
    /// Inside a JSON string (every lexeme alive starts with a quote, and
    /// the quote has been read).
    pub(crate) const IN_STRING: u8 = 8;
    /// ... which ends within [`SHORT_REST`] more bytes whatever comes.
    pub(crate) const SHORT_REST: u8 = 16;
}

/// See [`EndFlags::SHORT_REST`].
pub(crate) const SHORT_REST: usize = 4;

/// Identity of a product state: (at a lexeme's start, [`LexState::word`],
/// live members).
pub(crate) type StateKey = (bool, bool, Box<[(LexemeId, u32)]>);
/// See [`LexerCache::count_class_key`].
pub(crate) type CountClassKey = StateKey;

/// Lazily built product states of a [`LexerSpec`], with a transition cache.
#[derive(Clone, Debug)]
pub(crate) struct LexerCache {
    states: Vec<LexState>,
    index: HashMap<StateKey, u32, FxBuild>,
    trans: Vec<u32>,
    ncls: usize,
    /// Start states by allowed lexemes; index bit 0: after a word byte,
    /// bit 1: after the ignore lexeme (which then may not start again).
    starts: [HashMap<Box<[LexemeId]>, u32, FxBuild>; 4],
    /// Per state: 0 until worked out, else 1 + [`text_run`](Self::text_run).
    text_run: Vec<u16>,
    /// One byte per joint class of the lexer and the text slices' DFA
    /// (empty until [`text_run`](Self::text_run) needs them).
    slice_reps: Vec<u8>,
    /// Per state: [`EndFlags`] bits, 0 until worked out.
    end_flags: Vec<u8>,
    /// Per lexeme: 0 not yet known, 1 if its matches may start with another
    /// byte than a quote, 2 if they all start with one (see
    /// [`EndFlags::IN_STRING`]).
    quoted: Vec<u8>,
}

impl LexerCache {
    pub(crate) fn new(spec: &LexerSpec) -> LexerCache {
        LexerCache {
            states: Vec::new(),
            index: HashMap::default(),
            trans: Vec::new(),
            ncls: spec.class_count(),
            starts: Default::default(),
            text_run: Vec::new(),
            slice_reps: Vec::new(),
            end_flags: Vec::new(),
            quoted: vec![0; spec.lexemes.len()],
        }
    }

    /// The identity of state `s`, the same in every lexer cache of one
    /// grammar (state numbers are not: each cache numbers the states in
    /// the order it built them).
    pub(crate) fn key(&self, s: u32) -> StateKey {
        let st = &self.states[s as usize];
        (st.at_start, st.word, st.members.clone())
    }

    /// The number of the state with identity `key` in this cache, made
    /// now if it has not been built yet.
    pub(crate) fn state_of_key(&mut self, spec: &LexerSpec, key: &StateKey) -> u32 {
        if let Some(&id) = self.index.get(key) {
            return id;
        }
        self.intern(key.0, key.1, key.2.clone(), spec)
    }

    #[inline]
    pub(crate) fn state(&self, id: u32) -> &LexState {
        &self.states[id as usize]
    }

    pub(crate) fn state_count(&self) -> usize {
        self.states.len()
    }

    /// A key shared by lexer states that differ only in the counts of
    /// counted lexemes, where those counts make no difference within the
    /// next `depth` bytes (see [`LexemeDfa::count_class`]): states with one
    /// key allow the same tokens of at most `depth` bytes. `None` if no
    /// member is counted or a count is near a bound.
    pub(crate) fn count_class_key(
        &self,
        spec: &LexerSpec,
        s: u32,
        depth: u32,
    ) -> Option<CountClassKey> {
        if !spec.has_counted {
            return None;
        }
        let st = &self.states[s as usize];
        let mut any = false;
        let mut members = Vec::with_capacity(st.members.len());
        for &(l, q) in st.members.iter() {
            let dfa = &spec.lexemes[l as usize];
            if dfa.counted.is_some() {
                members.push((l, dfa.count_class(q, depth)?));
                any = true;
            } else {
                members.push((l, q));
            }
        }
        any.then(|| (st.at_start, st.word, members.into_boxed_slice()))
    }

    /// The start state for the set of allowed lexemes (sorted, deduplicated)
    /// after a lexeme that ended in state `before` (`None` at the start of
    /// the output). `after_ignore`: that lexeme was the ignore lexeme, which
    /// then is left out: two ignore lexemes never touch, so a bounded one
    /// (`[ \n]{1,20}`) bounds every run of ignored bytes. (Greedy lexing
    /// never ends an unbounded one where it could go on, so for those this
    /// changes nothing.)
    pub(crate) fn start_state(
        &mut self,
        spec: &LexerSpec,
        allowed: &[LexemeId],
        before: Option<u32>,
        after_ignore: bool,
    ) -> u32 {
        let word = before.is_some_and(|s| {
            let st = &self.states[s as usize];
            !st.at_start && st.word
        });
        let slot = word as usize | (after_ignore as usize) << 1;
        if let Some(&s) = self.starts[slot].get(allowed) {
            return s;
        }
        let members: Box<[(LexemeId, u32)]> = allowed
            .iter()
            .filter(|&&l| !(after_ignore && Some(l) == spec.ignore))
            .map(|&l| (l, spec.lexemes[l as usize].start))
            .collect();
        let id = self.intern(true, word, members, spec);
        self.starts[slot].insert(allowed.into(), id);
        id
    }

    fn intern(
        &mut self,
        at_start: bool,
        word: bool,
        members: Box<[(LexemeId, u32)]>,
        spec: &LexerSpec,
    ) -> u32 {
        // A start state with no lexemes is kept: the parser may be complete
        // there (nothing may follow, but the output may end).
        if members.is_empty() && !at_start {
            return DEAD;
        }
        let key = (at_start, word, members);
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.states.len() as u32;
        let matched = |l: LexemeId, s: u32| !at_start && spec.lexemes[l as usize].is_accepting(s);
        let accepting: Box<[LexemeId]> = key
            .2
            .iter()
            .filter(|&&(l, s)| Some(l) != spec.ignore && matched(l, s))
            .map(|&(l, _)| l)
            .collect();
        let ignorable = key
            .2
            .iter()
            .any(|&(l, s)| Some(l) == spec.ignore && matched(l, s));
        self.states.push(LexState {
            members: key.2.clone(),
            accepting,
            ignorable,
            at_start,
            word,
        });
        self.trans.resize(self.trans.len() + self.ncls, UNKNOWN);
        self.text_run.push(0);
        self.end_flags.push(0);
        self.index.insert(key, id);
        id
    }

    /// The length of the shortest string of `slice`'s language that kills
    /// state `s` (the lexeme can neither take it nor go on), or `max_len + 1`
    /// if none of at most `max_len` bytes does: every token of at most that
    /// many bytes in the slice is then allowed in `s`, whatever the parser
    /// says. Worked out once per state.
    ///
    /// Asked of each member lexeme's own DFA, as [`Self::rest_within`] is:
    /// stepping the lexer would make a lexer state (an allocation and a
    /// hash) for every string within reach, and a string under
    /// `maxLength` has a state per length. A string that kills state `s`
    /// kills every member, so it is at least as long as the longest of the
    /// members' shortest killing strings: that length is no longer than
    /// the truth, and exact for a single member (the usual case inside a
    /// string). Each search runs breadth first over pairs of
    /// the member's and the slice's states, so the first string found is
    /// a shortest one; where that product grows too large, the answer is
    /// the length explored in full. Shorter than the truth only means
    /// walking more tokens one by one, still exactly.
    pub(crate) fn text_run(
        &mut self,
        spec: &LexerSpec,
        s: u32,
        slice: &LexemeDfa,
        max_len: usize,
    ) -> usize {
        let known = self.text_run[s as usize];
        if known != 0 {
            return known as usize - 1;
        }
        if self.slice_reps.is_empty() {
            // Bytes that neither the lexer nor the slice tell apart behave
            // alike: one representative per joint class is enough.
            let mut seen_class: std::collections::HashSet<(u16, u8), FxBuild> = Default::default();
            for b in 0..=255u8 {
                if seen_class.insert((spec.class_of[b as usize] as u16, slice.class(b))) {
                    self.slice_reps.push(b);
                }
            }
        }
        let st = &self.states[s as usize];
        // A start state after a word byte dies on another word byte, which
        // its members do not know: such a state is given no run.
        let mut run = 0;
        if !(st.at_start && st.word) {
            // The members share one allowance of pairs; those left out
            // once it is spent only make the answer shorter.
            let mut pairs = TEXT_RUN_PAIRS;
            for &(l, q) in st.members.iter() {
                if pairs == 0 || run > max_len {
                    break;
                }
                let dfa = &spec.lexemes[l as usize];
                // Deep in a costly lexeme each pair may build a DFA state
                // (a pass over a large NFA): a shorter search, and a
                // shorter run, cost less than the tokens they save.
                let r = if dfa.is_costly_on_first_use() {
                    let mut few = pairs.min(COSTLY_TEXT_RUN_PAIRS);
                    let r = member_run(dfa, q, slice, &self.slice_reps, max_len, &mut few);
                    pairs -= pairs.min(COSTLY_TEXT_RUN_PAIRS) - few;
                    r
                } else {
                    member_run(dfa, q, slice, &self.slice_reps, max_len, &mut pairs)
                };
                run = run.max(r);
            }
        }
        if crate::budget::stopped() {
            // A step that gave up read as dead: nothing is kept.
            return 0;
        }
        self.text_run[s as usize] = (run.min(u16::MAX as usize - 2) + 1) as u16;
        run
    }

    /// How state `s` stands to the end of its lexeme (see [`EndFlags`]),
    /// worked out on first use.
    #[inline]
    pub(crate) fn end_flags(&mut self, spec: &LexerSpec, s: u32) -> u8 {
        let f = self.end_flags[s as usize];
        if f != 0 {
            return f;
        }
        self.end_flags_slow(spec, s)
    }

    #[cold]
    fn end_flags_slow(&mut self, spec: &LexerSpec, s: u32) -> u8 {
        let mut f = EndFlags::KNOWN;
        if self.states[s as usize].can_end() {
            f |= EndFlags::CAN_END;
            if (0..self.ncls).all(|c| self.next(spec, s, spec.class_rep[c]) == DEAD) {
                f |= EndFlags::CLOSED;
            }
        }
        if self.in_string_slow(spec, s) {
            f |= EndFlags::IN_STRING;
            if self.rest_within(spec, s, SHORT_REST) {
                f |= EndFlags::SHORT_REST;
            }
        }
        if !crate::budget::stopped() {
            self.end_flags[s as usize] = f;
        }
        f
    }

    /// True if no byte string longer than `k` keeps state `s` alive: the
    /// lexeme ends within `k` more bytes whatever comes.
    ///
    /// Asked of each member lexeme's own DFA: stepping the lexer instead
    /// would make a lexer state for every string within reach (inside an
    /// `enum` of thousands of strings, thousands of them).
    fn rest_within(&mut self, spec: &LexerSpec, s: u32, k: usize) -> bool {
        let mut level: Vec<u32> = Vec::new();
        let mut next: Vec<u32> = Vec::new();
        let mut seen: std::collections::HashSet<u32, FxBuild> = Default::default();
        self.states[s as usize].members.iter().all(|&(l, q)| {
            let dfa = &spec.lexemes[l as usize];
            level.clear();
            level.push(q);
            for _ in 0..=k {
                next.clear();
                seen.clear();
                for &x in &level {
                    for &b in &spec.class_rep {
                        let t = dfa.next(x, b);
                        if t != DEAD && seen.insert(t) {
                            next.push(t);
                        }
                    }
                }
                if next.is_empty() {
                    return true;
                }
                std::mem::swap(&mut level, &mut next);
            }
            false
        })
    }

    /// True if a lexeme ends in state `s` and no byte can extend it (a string
    /// after its closing quote, `}`, `true`): the lexeme is over here, not
    /// only at the next byte.
    pub(crate) fn is_closed(&mut self, spec: &LexerSpec, s: u32) -> bool {
        self.end_flags(spec, s) & EndFlags::CLOSED != 0
    }

    /// True if state `s` is inside a JSON string: past the first byte of a
    /// lexeme, and every lexeme still alive starts with a quote.
    fn in_string_slow(&mut self, spec: &LexerSpec, s: u32) -> bool {
        if self.states[s as usize].at_start {
            return false;
        }
        for i in 0..self.states[s as usize].members.len() {
            let l = self.states[s as usize].members[i].0 as usize;
            if self.quoted[l] == 0 {
                let dfa = &spec.lexemes[l];
                let only_quote =
                    (0..=255u8).all(|b| (b == b'"') == (dfa.next(dfa.start, b) != DEAD));
                if crate::budget::stopped() {
                    return false;
                }
                self.quoted[l] = if only_quote { 2 } else { 1 };
            }
            if self.quoted[l] != 2 {
                return false;
            }
        }
        true
    }

    /// Builds every state reachable from `s` and all their transitions, up
    /// to `limit` states in all. Done at compile time from the grammar's
    /// first lexer state, so that matchers start with the lexer they will
    /// need most already in place.
    pub(crate) fn explore(&mut self, spec: &LexerSpec, s: u32, limit: usize) {
        let mut work = vec![s];
        let mut seen: std::collections::HashSet<u32, FxBuild> =
            std::collections::HashSet::default();
        seen.insert(s);
        while let Some(x) = work.pop() {
            for c in 0..self.ncls {
                if self.states.len() >= limit {
                    return;
                }
                let t = self.next(spec, x, spec.class_rep[c]);
                if t != DEAD && seen.insert(t) {
                    work.push(t);
                }
            }
        }
    }

    /// The cached transition from `s` on byte class `class` (may be
    /// [`UNKNOWN`]: then call [`next`](Self::next)).
    #[inline(always)]
    pub(crate) fn cached(&self, s: u32, class: usize) -> u32 {
        self.trans[s as usize * self.ncls + class]
    }

    /// The state after reading `byte` in state `s` (or [`DEAD`]).
    #[inline]
    pub(crate) fn next(&mut self, spec: &LexerSpec, s: u32, byte: u8) -> u32 {
        let idx = s as usize * self.ncls + spec.class_of[byte as usize] as usize;
        let t = self.trans[idx];
        if t != UNKNOWN {
            return t;
        }
        self.next_slow(spec, s, byte, idx)
    }

    #[cold]
    fn next_slow(&mut self, spec: &LexerSpec, s: u32, byte: u8, idx: usize) -> u32 {
        let word = spec.is_word(byte);
        let from = &self.states[s as usize];
        if from.at_start && from.word && word {
            self.trans[idx] = DEAD;
            return DEAD;
        }
        let members: Box<[(LexemeId, u32)]> = self.states[s as usize]
            .members
            .iter()
            .filter_map(|&(l, st)| {
                let t = spec.lexemes[l as usize].next(st, byte);
                (t != DEAD).then_some((l, t))
            })
            .collect();
        // A lexeme's step that gave up (see `crate::budget`) reads as dead:
        // then this state is not the real one, and nothing is kept.
        if crate::budget::stopped() {
            return DEAD;
        }
        let t = self.intern(false, word, members, spec);
        self.trans[idx] = t;
        t
    }
}

/// The length of the shortest string of `slice`'s language that kills
/// lexeme DFA `dfa` from state `q`, or `max_len + 1` if none of at most
/// `max_len` bytes does (see [`LexerCache::text_run`]); `reps` holds one
/// byte per joint class of the two.
/// `pairs` is the allowance of pairs left, which the search draws on.
fn member_run(
    dfa: &LexemeDfa,
    q: u32,
    slice: &LexemeDfa,
    reps: &[u8],
    max_len: usize,
    pairs: &mut usize,
) -> usize {
    let mut seen: std::collections::HashSet<(u32, u32), FxBuild> = Default::default();
    let mut level: Vec<(u32, u32)> = vec![(q, slice.start)];
    let mut next: Vec<(u32, u32)> = Vec::new();
    seen.insert((q, slice.start));
    for depth in 0..max_len {
        next.clear();
        for &(x, y) in &level {
            for &b in reps {
                let y2 = slice.next(y, b);
                if y2 == DEAD {
                    continue;
                }
                let x2 = dfa.next(x, b);
                if x2 == DEAD {
                    return depth + 1;
                }
                if seen.insert((x2, y2)) {
                    if *pairs == 0 {
                        // Every string of `depth` bytes was tried.
                        return depth + 1;
                    }
                    *pairs -= 1;
                    next.push((x2, y2));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        std::mem::swap(&mut level, &mut next);
    }
    max_len + 1
}
