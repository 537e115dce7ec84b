//! [`Matcher`]: per-sequence constraint state — mask, commit, rollback.
//!
//! A matcher holds where one output stands in a grammar: the parser's row
//! for the lexemes finished so far, and the lexer's state inside the current
//! lexeme. Everything it reads from the grammar and the vocabulary is shared
//! and immutable.
//!
//! # Computing a mask
//!
//! [`Matcher::compute_mask`] walks the [`TokenTrie`] depth first. Each trie
//! edge is one byte; the walk steps the lexer's cached product DFA by it (one
//! table load), and a dead state prunes the whole subtree below. Only where
//! the current lexeme cannot go on but has matched does the walk ask the
//! parser: it pushes a row for the finished lexeme, restarts the lexer on the
//! lexemes that row allows, and continues. Rows pushed during the walk form a
//! tree (see the parser docs) and are popped when the walk leaves the subtree,
//! and all children of one trie node share the row their parent pushed, so a
//! lexeme boundary costs one parser step per trie node, not per token.
//!
//! Most of that walk depends on the lexer state alone, and it is done once
//! per lexer state and grammar: a state mask holds the tokens the current
//! lexeme takes whole and the trie nodes where it may end (see
//! [`crate::state_mask`]). A mask copies the former and walks only below
//! the latter, asking the parser once per lexer state that ends there. In
//! grammars with distinct lists the whole trie is walked, as described
//! above, since there the parser may refuse a token in the middle of a
//! lexeme.
//!
//! # Caches
//!
//! The lexer's product states and transitions are built lazily, per matcher.
//! A clone of a matcher carries its caches along. State masks are kept in
//! the compiled grammar and shared by all its matchers, on every thread.
//!
//! # Budgets
//!
//! The lexeme DFAs under those product states are themselves built on first
//! use (see the lexer's `lazy` module), and a hostile lexeme can make one
//! mask build millions of their states. Each operation therefore runs under
//! a work budget ([`Budget`]): a mask, a commit or a forced-bytes check under
//! the mask budget, a completion search under the completion budget. Past
//! it, or past a lexeme DFA's size limit, the operation gives up, leaves the
//! matcher as it was, and returns an error naming the lexeme
//! ([`MatcherError::BudgetExceeded`], [`MatcherError::LexemeTooLarge`]);
//! nothing it computed is kept, so a retry with a larger budget (see
//! [`Matcher::set_budget`]) gives the exact answer.
//!
//! # Distinct lists
//!
//! In a grammar with distinct lists (JSON Schema `uniqueItems`, see
//! [`crate::grammar::Expr::unique_list`]) the parser reads an item's text
//! where the item completes, so the matcher keeps the output's bytes, and
//! during a walk the bytes of the trie path after them. Three things change:
//! a lexeme nothing can extend (a string after its closing quote, `}`) is
//! ended at the byte that completes it, so that the token closing a
//! duplicate is the one refused; inside numbers, literals and strings that
//! end within 4 bytes, a prefix whose every way on is a duplicate is refused
//! too; and a mask
//! that compared an item with earlier ones is not kept for reuse, as it
//! depends on the item's text and not only on (row, lexer state). Other
//! grammars run a walk compiled without these checks.

use crate::budget::{Budget, Stage};
use crate::compiled::CompiledGrammar;
use crate::error::MatcherError;
use crate::hash::FxBuild;
use crate::lexer::{CountClassKey, EndFlags, LexerCache, DEAD};
use crate::mask::TokenMask;
use crate::parser::Parser;
use crate::state_mask::{BuildScratch, LocalStateMask, SharedStateMasks};
use crate::token_env::TokenEnv;
use crate::vocab::{TokenId, Vocabulary};

mod walk;
use std::collections::HashMap;
use std::sync::Arc;

const UNSET: u32 = u32::MAX - 1;
/// How far [`Matcher::ends_later`] looks for a way out of a duplicate: as
/// far as the strings it is asked about can go (see [`EndFlags::SHORT_REST`]).
const END_LOOKAHEAD: u32 = crate::lexer::SHORT_REST as u32;
/// Work units [`Matcher::shortest_completion`]'s search charges: per state
/// taken from the queue (its parser row's signature, whether the output may
/// end there), per byte tried from it (a lexer step and the bound on the
/// rest), and per state kept (its memory). Lexeme DFAs charge their own.
const COMPLETION_POP_UNITS: u64 = 100;
const COMPLETION_BYTE_UNITS: u64 = 20;
const COMPLETION_STATE_UNITS: u64 = 8;

/// Where the matcher stood before a committed token.
#[derive(Clone, Copy, Debug)]
struct Snapshot {
    row: u32,
    rows: u32,
    lex: u32,
    stopped: bool,
    /// Length of [`Matcher::text`].
    text: u32,
}

/// The walk's state at one depth of the trie: after the bytes of the last
/// node visited at that depth.
#[derive(Clone, Copy, Debug, Default)]
struct Level {
    /// Lexer state after this node's bytes.
    lex: u32,
    /// Parser row for the lexemes finished before `lex` started.
    row: u32,
    /// Arena length when the node was entered: rows above it belong to
    /// subtrees visited earlier and may be dropped.
    rows: u32,
    /// Lexer start state after ending the current lexeme here (`UNSET`
    /// until needed, `DEAD` if it cannot end here).
    after_lex: u32,
    /// Parser row after ending the current lexeme here.
    after_row: u32,
}

/// A lexeme end resolved in a trie walk (see [`Matcher::boundaries`]).
#[derive(Clone, Copy, Debug)]
struct Boundary {
    /// The next lexeme's lexer start state, or `DEAD`.
    after: u32,
    /// The parser row after the lexeme, and its serial.
    row: u32,
    serial: u64,
    /// Where in the output the lexeme ended.
    pos: u32,
}

/// What [`Matcher::distinct_node`] makes of a trie node.
enum NodeCheck {
    /// The node's token is allowed.
    Allow,
    /// Not the node's token, but maybe longer ones below it.
    Refuse,
    /// Neither the node's token nor any below it.
    Prune,
}

/// The constraint state of one sequence being generated.
///
/// ```
/// use std::sync::Arc;
/// use formwork::{regex_grammar, Matcher, TokenEnv};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
/// let env = Arc::new(TokenEnv::from_file(path)?);
/// let grammar = env.compile(&regex_grammar("[0-9]{4}-[0-9]{2}")?)?;
/// let mut m = Matcher::new(grammar, &env);
/// for t in env.vocab().encode("2024-05")? {
///     assert!(m.compute_mask().contains(t));
///     m.commit(t)?;
/// }
/// assert!(m.is_accepting());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Matcher {
    grammar: Arc<CompiledGrammar>,
    /// The vocabulary and its trie.
    env: Arc<TokenEnv>,
    parser: Parser,
    lexer: LexerCache,
    /// Current parser row and lexer state.
    row: u32,
    lex: u32,
    stopped: bool,
    history: Vec<Snapshot>,
    levels: Vec<Level>,
    /// The last mask computed and the state it was computed in: inside a
    /// lexeme the parser row and often the lexer state repeat from token to
    /// token (the middle of a long string), and so does the mask.
    memo: Option<(u64, u32, TokenMask)>,
    /// Lexeme ends already resolved during trie walks: (row serial, lexer
    /// state) -> (next lexer start state, parser row, that row's serial, and
    /// where the lexeme ended).
    boundaries: HashMap<(u64, u32), Boundary, FxBuild>,
    /// Masks by parser row serial and count class of the lexer state: in a
    /// string of up to 32,767 code points every count is its own lexer
    /// state, yet all counts far from the bounds allow the same tokens.
    by_count_class: HashMap<(u64, CountClassKey), TokenMask, FxBuild>,
    /// What each lexer state decides alone (see [`crate::state_mask`]),
    /// by lexer state, from the grammar's shared ones or built here; not
    /// used in grammars with distinct lists.
    state_masks: HashMap<u32, LocalStateMask, FxBuild>,
    /// Where state masks are shared: the grammar's, unless this matcher
    /// is a [`deep_clone`](Self::deep_clone).
    shared_masks: SharedStateMasks,
    /// Buffers for building state masks.
    scratch: BuildScratch,
    /// The output so far, kept only for grammars with distinct lists
    /// (`uniqueItems`), whose parser reads a member's text when it completes.
    /// During a trie walk it also holds the bytes of the current trie path.
    text: Vec<u8>,
    /// The grammar has distinct lists (see [`text`](Self::text)).
    distinct: bool,
    /// For [`ends_later`](Self::ends_later): whether the parser takes a
    /// lexeme ending in a lexer state after a row (by serial), where that
    /// read no item's text (so holds for any text).
    end_taken: HashMap<(u64, u32), bool, FxBuild>,
    /// The work budgets of its operations.
    budget: Budget,
    /// Work units the last metered operation used, and its error if it
    /// failed (see [`last_error`](Self::last_error)).
    last_work: u64,
    last_error: Option<MatcherError>,
}

/// Most masks kept in [`Matcher::by_count_class`].
const COUNT_CLASS_MASKS: usize = 32;

impl Matcher {
    /// A matcher at the start of `grammar`, for the tokens of `env`'s
    /// vocabulary.
    pub fn new(grammar: Arc<CompiledGrammar>, env: &Arc<TokenEnv>) -> Matcher {
        let parser = grammar.initial_parser.clone();
        let lexer = grammar.initial_lexer.clone();
        let lex = grammar.initial_lex;
        let distinct = grammar.parser.has_distinct;
        let budget = grammar.budget();
        let shared_masks = grammar.state_masks.clone();
        // The grammar's first mask in this environment, if a matcher made
        // by `prepare` computed it, stands in the memo.
        let memo = grammar
            .initial_mask(env.id())
            .map(|m| (parser.serial(0), lex, m.clone()));
        Matcher {
            grammar,
            env: env.clone(),
            parser,
            lexer,
            row: 0,
            lex,
            stopped: false,
            history: Vec::new(),
            levels: Vec::new(),
            memo,
            boundaries: HashMap::default(),
            by_count_class: HashMap::default(),
            state_masks: HashMap::default(),
            shared_masks,
            scratch: BuildScratch::default(),
            text: Vec::new(),
            distinct,
            end_taken: HashMap::default(),
            budget,
            last_work: 0,
            last_error: None,
        }
    }

    /// Like [`new`](Self::new), and computes the first mask now if no
    /// matcher of `grammar` in `env` has: it is kept in the compiled
    /// grammar, and every later matcher of it in `env` starts with it, so a
    /// new sequence pays nothing for its first mask. Call it when compiling
    /// (a server caching compiled grammars, the Python `compile`), to make
    /// that work compile-time work. A first mask that runs out of budget is
    /// not kept; the matchers then report it as they would have.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::{regex_grammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let g = env.compile(&regex_grammar("[0-9]+")?)?;
    /// let _ = Matcher::prepare(g.clone(), &env);
    /// let mut m = Matcher::new(g, &env);
    /// let first = m.compute_mask();
    /// assert_eq!(m.last_work(), 0); // it was already known
    /// # assert!(!first.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn prepare(grammar: Arc<CompiledGrammar>, env: &Arc<TokenEnv>) -> Matcher {
        let mut m = Matcher::new(grammar, env);
        if m.memo.is_none() {
            if let Ok(mask) = m.try_compute_mask() {
                m.grammar.set_initial_mask(env.id(), mask);
            }
            let warnings = m.warm_costly_lexemes();
            m.grammar.set_budget_warnings(env.id(), warnings);
        }
        m
    }

    /// Walks the token trie from the start of each lexeme that is costly
    /// to build on first use (an intersection, a large pattern), each under
    /// the mask budget, so that the first mask to meet one finds the
    /// states every token needs from its start already built, and a lexeme
    /// that needs more than the budget for that is known before any
    /// generation: its message is returned.
    fn warm_costly_lexemes(&mut self) -> Vec<String> {
        let grammar = self.grammar.clone();
        let trie = self.env.trie().clone();
        let mut warnings = Vec::new();
        for dfa in grammar.lexer.lexemes.iter() {
            if !dfa.is_costly_on_first_use() {
                continue;
            }
            let ((), status) = self.metered(Stage::Mask, |_| trie.walk_lexeme(dfa));
            if let Err(e) = status {
                warnings.push(e.to_string());
            }
        }
        self.last_work = 0;
        warnings
    }

    /// A copy of this matcher that shares no cache with it or with its
    /// grammar's other matchers: what it builds from now on, it keeps to
    /// itself and its own clones. A [`clone`](Clone::clone) shares the
    /// state masks (see [`crate::state_mask`]) that all matchers of a
    /// grammar build, which is what a server wants; a deep clone measures
    /// a sequence that starts cold, as benchmarks do (llguidance's
    /// `deep_clone`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::{regex_grammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let g = env.compile(&regex_grammar("[a-z]+ [0-9]+")?)?;
    /// let template = Matcher::prepare(g, &env);
    /// let mut a = template.deep_clone();
    /// let mut b = template.deep_clone();
    /// for m in [&mut a, &mut b] {
    ///     m.commit_bytes(b"abc")?;
    ///     m.compute_mask();
    /// }
    /// // `b` found nothing `a` built: it did the same work.
    /// assert_eq!(a.last_work(), b.last_work());
    /// # Ok(()) }
    /// ```
    pub fn deep_clone(&self) -> Matcher {
        let mut m = self.clone();
        m.shared_masks = self.shared_masks.snapshot();
        m
    }

    /// The work budgets of this matcher's operations (at first, its
    /// grammar's: see [`CompiledGrammar::with_budget`]).
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Sets the work budgets of this matcher's operations: a mask, commit
    /// or forced-bytes check may use [`Budget::get_mask`] units, a
    /// completion search [`Budget::get_completion`]. An operation that
    /// failed for lack of budget may be retried after raising it.
    pub fn set_budget(&mut self, budget: Budget) {
        self.budget = budget;
    }

    /// Work units used by the last mask, commit or completion search (to
    /// size budgets; see [`Budget`](crate::Budget)).
    pub fn last_work(&self) -> u64 {
        self.last_work
    }

    /// The error of the last mask computed (by any of the `compute_mask`
    /// methods; those that return no error return an empty mask when they
    /// fail); `None` after one that succeeded.
    pub fn last_error(&self) -> Option<&MatcherError> {
        self.last_error.as_ref()
    }

    /// Runs `f` as one operation of `stage` under its budget (see
    /// [`crate::budget`]): its error if the operation stopped, when what
    /// `f` returned may be wrong.
    fn metered<R>(
        &mut self,
        stage: Stage,
        f: impl FnOnce(&mut Matcher) -> R,
    ) -> (R, Result<(), MatcherError>) {
        let limit = match stage {
            Stage::Compile => self.budget.get_compile(),
            Stage::Mask => self.budget.get_mask(),
            Stage::Completion => self.budget.get_completion(),
        };
        let owner = self.grammar.id;
        let (r, done) = crate::budget::metered(limit, owner, || f(self));
        self.last_work = done.used;
        let status = match done.stop {
            None => Ok(()),
            Some(stop) => Err(MatcherError::from_stop(stop, stage, limit)),
        };
        (r, status)
    }

    /// The token environment this matcher masks the tokens of.
    pub fn env(&self) -> &Arc<TokenEnv> {
        &self.env
    }

    /// The vocabulary this matcher masks.
    pub fn vocabulary(&self) -> &Arc<Vocabulary> {
        self.env.vocab()
    }

    /// The compiled grammar this matcher follows.
    pub fn grammar(&self) -> &Arc<CompiledGrammar> {
        &self.grammar
    }

    /// Number of tokens committed (and not rolled back).
    pub fn committed(&self) -> usize {
        self.history.len()
    }

    /// True once an EOS token was committed.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Ends the current lexeme at lexer state `lex` after parser row `row`,
    /// where the output is `self.text[..pos]` (in grammars with distinct
    /// lists; others keep no text). Returns the lexer start state of the next
    /// lexeme and the parser row it starts after, or `DEAD` if the lexeme
    /// cannot end here. May push a row.
    fn end_lexeme(&mut self, lex: u32, row: u32, pos: usize) -> (u32, u32) {
        let g = &*self.grammar;
        let st = self.lexer.state(lex);
        if !st.can_end() {
            return (DEAD, row);
        }
        let text = if self.distinct {
            &self.text[..pos]
        } else {
            &[][..]
        };
        // A grammar lexeme takes precedence; the ignore lexeme is the fallback.
        let pushed = if st.accepting.is_empty() {
            None
        } else {
            self.parser.push(&g.parser, row, &st.accepting, text)
        };
        let new_row = match pushed {
            Some(r) => r,
            None if st.ignorable => row,
            None => return (DEAD, row),
        };
        let start = self.lexer.start_state(
            &g.lexer,
            self.parser.allowed(new_row),
            Some(lex),
            pushed.is_none(),
        );
        (start, new_row)
    }

    /// [`end_lexeme`](Self::end_lexeme) for the trie walk, remembered per
    /// (parser row, lexer state): many trie nodes end the same lexeme in the
    /// same state (every word followed by a quote), and the parser need only
    /// be asked once. A remembered row is reused only while it is still in
    /// the arena (checked by its serial number); `rows` is the arena length
    /// the caller's level owns, above which rows may be dropped. An end that
    /// completed a distinct list's member depends on the text, not only on
    /// (row, state), and is not remembered. A row where distinct members
    /// start records where it is in the output, for their text: it is reused
    /// only at that same position (whitespace and lexemes of other lengths
    /// reach the same row and state elsewhere).
    fn end_lexeme_in_walk(&mut self, lex: u32, row: u32, rows: u32, pos: usize) -> (u32, u32) {
        let key = (self.parser.serial(row), lex);
        if let Some(&Boundary {
            after,
            row: after_row,
            serial,
            pos: at,
        }) = self.boundaries.get(&key)
        {
            if after == DEAD {
                return (DEAD, row);
            }
            if (after_row as usize) < self.parser.row_count()
                && self.parser.serial(after_row) == serial
                && (at as usize == pos || !self.parser.starts_distinct(after_row))
            {
                return (after, after_row);
            }
        }
        self.parser.truncate(rows as usize);
        let reads = self.parser.text_reads();
        let (after, after_row) = self.end_lexeme(lex, row, pos);
        if self.parser.text_reads() != reads {
            return (after, after_row);
        }
        if self.boundaries.len() >= 4096 {
            self.boundaries.clear();
        }
        let b = Boundary {
            after,
            row: after_row,
            serial: self.parser.serial(after_row),
            pos: pos as u32,
        };
        self.boundaries.insert(key, b);
        (after, after_row)
    }

    /// Steps one byte from (`lex`, `row`), after the output `self.text`
    /// (which the caller extends by `b` on success, in grammars with distinct
    /// lists). Returns the new state, or `DEAD`. On success the arena may
    /// hold a new row; on failure it is unchanged.
    fn step_byte(&mut self, lex: u32, row: u32, b: u8) -> (u32, u32) {
        let t = self.lexer.next(&self.grammar.lexer, lex, b);
        if t != DEAD {
            return (t, row);
        }
        let rows = self.parser.row_count();
        let (start, new_row) = self.end_lexeme(lex, row, self.text.len());
        if start == DEAD {
            return (DEAD, row);
        }
        let t = self.lexer.next(&self.grammar.lexer, start, b);
        if t == DEAD {
            self.parser.truncate(rows);
            return (DEAD, row);
        }
        (t, new_row)
    }

    /// True if the output so far is complete (EOS would be allowed).
    pub fn is_accepting(&mut self) -> bool {
        if self.stopped {
            return true;
        }
        self.accepting_at(self.lex, self.row)
    }

    /// True if the output may end in (`lex`, `row`), after the output
    /// `self.text`.
    fn accepting_at(&mut self, lex: u32, row: u32) -> bool {
        if self.lexer.state(lex).at_start {
            return self.parser.is_accepting(row);
        }
        let rows = self.parser.row_count();
        let (start, new_row) = self.end_lexeme(lex, row, self.text.len());
        let ok = start != DEAD && self.parser.is_accepting(new_row);
        self.parser.truncate(rows);
        ok
    }

    /// The set of tokens allowed next (EOS included when the output is
    /// complete). If the mask's work budget runs out (see
    /// [`try_compute_mask`](Self::try_compute_mask)) the mask is empty and
    /// [`last_error`](Self::last_error) says why.
    pub fn compute_mask(&mut self) -> TokenMask {
        let mut m = TokenMask::new(self.env.vocab().logits_width());
        self.compute_mask_into(&mut m);
        m
    }

    /// Like [`compute_mask`](Self::compute_mask), into an existing mask of the
    /// vocabulary's logits width.
    pub fn compute_mask_into(&mut self, out: &mut TokenMask) {
        let _ = self.try_compute_mask_into(out);
    }

    /// The set of tokens allowed next, or an error if computing it needs
    /// more work than the mask budget allows
    /// ([`MatcherError::BudgetExceeded`]) or more states of a lexeme's DFA
    /// than its size limit ([`MatcherError::LexemeTooLarge`]). Either way
    /// the error names the lexeme, and the matcher is unchanged: the
    /// operation may be retried with a larger [`Budget`].
    pub fn try_compute_mask(&mut self) -> Result<TokenMask, MatcherError> {
        let mut m = TokenMask::new(self.env.vocab().logits_width());
        self.try_compute_mask_into(&mut m)?;
        Ok(m)
    }

    /// Like [`try_compute_mask`](Self::try_compute_mask), into an existing
    /// mask of the vocabulary's logits width (cleared on error).
    pub fn try_compute_mask_into(&mut self, out: &mut TokenMask) -> Result<(), MatcherError> {
        let ((), status) = self.metered(Stage::Mask, |m| m.mask_into(out));
        if status.is_err() {
            out.clear();
        }
        self.last_error = status.clone().err();
        status
    }

    fn mask_into(&mut self, out: &mut TokenMask) {
        if self.stopped {
            out.clear();
            return;
        }
        let key = (self.parser.serial(self.row), self.lex);
        if let Some((serial, lex, mask)) = &self.memo {
            if (*serial, *lex) == key && mask.width() == out.width() {
                out.copy_from(mask);
                return;
            }
        }
        let grammar = self.grammar.clone();
        let depth = self.env.trie().max_depth() as u32;
        let class_key = self
            .lexer
            .count_class_key(&grammar.lexer, self.lex, depth)
            .map(|k| (key.0, k));
        if let Some(mask) = class_key.as_ref().and_then(|k| self.by_count_class.get(k)) {
            if mask.width() == out.width() {
                out.copy_from(mask);
                return;
            }
        }
        let comparisons = self.parser.comparisons();
        if self.distinct {
            self.walk_whole(out);
        } else {
            match self.state_mask(self.lex, out.as_words().len()) {
                Some(sm) => {
                    self.apply_state_mask(&sm, out);
                    self.keep_state_mask(self.lex, sm);
                }
                // Out of budget: the mask is thrown away.
                None => out.clear(),
            }
        }
        if self.is_accepting() {
            for &e in self.env.vocab().eos_tokens() {
                if (e as usize) < out.width() {
                    out.insert(e);
                }
            }
        }
        // A mask cut short by the budget is not kept (nor returned).
        if crate::budget::stopped() {
            return;
        }
        // A mask that compared a distinct member with earlier ones depends
        // on the current lexeme's bytes, which (row, lexer state) does not
        // pin down; at a lexeme's start there are none.
        if self.parser.comparisons() != comparisons && !self.lexer.state(self.lex).at_start {
            return;
        }
        match &mut self.memo {
            Some((serial, lex, mask)) if mask.width() == out.width() => {
                (*serial, *lex) = key;
                mask.copy_from(out);
            }
            _ => self.memo = Some((key.0, key.1, out.clone())),
        }
        if let Some(k) = class_key {
            if self.by_count_class.len() >= COUNT_CLASS_MASKS {
                self.by_count_class.clear();
            }
            self.by_count_class.insert(k, out.clone());
        }
    }

    /// Commits one token. EOS is accepted only when the output is complete;
    /// after it the matcher is stopped until rolled back. Stepping the
    /// lexer may build DFA states, within the mask budget: past it (or past
    /// a DFA's size limit) the token is not committed and the error says
    /// so, as [`try_compute_mask`](Self::try_compute_mask)'s does.
    pub fn commit(&mut self, token: TokenId) -> Result<(), MatcherError> {
        let (r, status) = self.metered(Stage::Mask, |m| m.commit_token(token));
        if let Err(e) = status {
            if r.is_ok() {
                // Undone: a step past the stop may have read wrongly.
                let _ = self.rollback(1);
            }
            return Err(e);
        }
        r
    }

    fn commit_token(&mut self, token: TokenId) -> Result<(), MatcherError> {
        let width = self.env.vocab().logits_width();
        if token as usize >= width {
            return Err(MatcherError::TokenOutOfRange { token, width });
        }
        if self.stopped {
            return Err(MatcherError::Stopped);
        }
        let snap = Snapshot {
            row: self.row,
            rows: self.parser.row_count() as u32,
            lex: self.lex,
            stopped: false,
            text: self.text.len() as u32,
        };
        if self.env.vocab().eos_tokens().contains(&token) {
            if self.is_accepting() {
                self.history.push(snap);
                self.stopped = true;
                return Ok(());
            }
            return Err(self.not_allowed(token));
        }
        let vocab = self.env.vocab().clone();
        let bytes = vocab.token_bytes(token);
        if bytes.is_empty() || vocab.is_special(token) {
            return Err(self.not_allowed(token));
        }
        let (mut lex, mut row) = (self.lex, self.row);
        for &b in bytes {
            let (l, r) = self.step_byte(lex, row, b);
            if l == DEAD {
                self.parser.truncate(snap.rows as usize);
                self.text.truncate(snap.text as usize);
                return Err(self.not_allowed(token));
            }
            if self.distinct {
                self.text.push(b);
            }
            lex = l;
            row = r;
        }
        if !self.end_allowed(lex, row) {
            self.parser.truncate(snap.rows as usize);
            self.text.truncate(snap.text as usize);
            return Err(self.not_allowed(token));
        }
        self.history.push(snap);
        self.lex = lex;
        self.row = row;
        Ok(())
    }

    /// In grammars with distinct lists: false if the lexeme in state `lex`
    /// cannot end here (the parser refuses it: it would complete a duplicate
    /// member) and, outside strings, cannot go on to an end that is not
    /// refused either (within [`END_LOOKAHEAD`] bytes). The mask refuses
    /// such a token too.
    fn end_allowed(&mut self, lex: u32, row: u32) -> bool {
        if !self.distinct || self.lexer.state(lex).at_start {
            return true;
        }
        let end = self.text.len();
        let mut after = None;
        if self.lexer.state(lex).can_end() {
            let rows = self.parser.row_count();
            after = Some(self.end_lexeme(lex, row, end).0);
            self.parser.truncate(rows);
        }
        matches!(self.end_check(lex, row, end, after), NodeCheck::Allow)
    }

    /// True if the lexeme in state `lex` (after row `row`, the output being
    /// `self.text[..pos]`) can read at most `depth` more bytes and end where
    /// the parser takes it. A duplicate number (`1` when `1` was an item) is
    /// only a dead end if nothing but other spellings of it (`1.0`, `1e0`)
    /// can follow. The search is bounded: a lexeme whose only way out is
    /// longer is taken as a dead end (the mask stays sound).
    fn ends_later(&mut self, lex: u32, row: u32, pos: usize, depth: u32) -> bool {
        let grammar = self.grammar.clone();
        let len = self.text.len();
        self.text.resize(len.max(pos + depth as usize), 0);
        let found = self.ends_later_from(&grammar.lexer, lex, row, pos, depth);
        self.text.truncate(len);
        found
    }

    /// Whether, in state `lex` inside a lexeme that cannot end there, the
    /// matcher looks for a way on that is no duplicate: always outside
    /// strings (numbers, literals), and inside a string only when it ends
    /// within [`END_LOOKAHEAD`] bytes whatever comes (`"U` when items are
    /// two capitals), where every way on is then tried. Inside longer
    /// strings a way on almost always exists, and trying would cost a parser
    /// step at most trie nodes.
    fn checks_ways_on(&mut self, lex: u32) -> bool {
        let f = self.lexer.end_flags(&self.grammar.lexer, lex);
        f & EndFlags::IN_STRING == 0 || f & EndFlags::SHORT_REST != 0
    }

    /// True if the parser takes the lexeme in state `lex` ending after row
    /// `row` at `pos`; remembered where no item's text was read (a property
    /// name's end is asked about at many trie nodes).
    fn end_taken(&mut self, lex: u32, row: u32, pos: usize) -> bool {
        let key = (self.parser.serial(row), lex);
        if let Some(&taken) = self.end_taken.get(&key) {
            return taken;
        }
        let reads = self.parser.text_reads();
        let rows = self.parser.row_count();
        let (after, _) = self.end_lexeme(lex, row, pos);
        self.parser.truncate(rows);
        let taken = after != DEAD;
        if self.parser.text_reads() == reads {
            if self.end_taken.len() >= 4096 {
                self.end_taken.clear();
            }
            self.end_taken.insert(key, taken);
        }
        taken
    }

    /// [`ends_later`](Self::ends_later), `self.text` long enough for `depth`
    /// more bytes after `pos`.
    fn ends_later_from(
        &mut self,
        spec: &crate::lexer::LexerSpec,
        lex: u32,
        row: u32,
        pos: usize,
        depth: u32,
    ) -> bool {
        if depth == 0 {
            return false;
        }
        for c in 0..spec.class_count() {
            let b = spec.class_rep[c];
            let s = self.lexer.next(spec, lex, b);
            if s == DEAD {
                continue;
            }
            self.text[pos] = b;
            if self.lexer.state(s).can_end() && self.end_taken(s, row, pos + 1) {
                return true;
            }
            if self.ends_later_from(spec, s, row, pos + 1, depth - 1) {
                return true;
            }
        }
        false
    }

    /// Commits raw bytes (e.g. a prompt-side prefix of the output), which need
    /// not be token-aligned. Not recorded for rollback: use at the start only.
    /// Within the mask budget, like [`commit`](Self::commit).
    pub fn commit_bytes(&mut self, bytes: &[u8]) -> Result<(), MatcherError> {
        let before = (self.lex, self.row, self.parser.row_count(), self.text.len());
        let (r, status) = self.metered(Stage::Mask, |m| m.commit_raw(bytes));
        if let Err(e) = status {
            let (lex, row, rows, text) = before;
            (self.lex, self.row) = (lex, row);
            self.parser.truncate(rows);
            self.text.truncate(text);
            return Err(e);
        }
        r
    }

    fn commit_raw(&mut self, bytes: &[u8]) -> Result<(), MatcherError> {
        let (mut lex, mut row) = (self.lex, self.row);
        let rows = self.parser.row_count();
        let text = self.text.len();
        for (offset, &b) in bytes.iter().enumerate() {
            let (l, r) = self.step_byte(lex, row, b);
            let ok = l != DEAD && {
                if self.distinct {
                    self.text.push(b);
                }
                offset + 1 < bytes.len() || self.end_allowed(l, r)
            };
            if !ok {
                self.parser.truncate(rows);
                self.text.truncate(text);
                return Err(MatcherError::BytesNotAllowed {
                    offset,
                    text: String::from_utf8_lossy(bytes).into(),
                });
            }
            lex = l;
            row = r;
        }
        self.lex = lex;
        self.row = row;
        Ok(())
    }

    fn not_allowed(&self, token: TokenId) -> MatcherError {
        MatcherError::TokenNotAllowed {
            token,
            text: String::from_utf8_lossy(self.env.vocab().token_bytes(token)).into_owned(),
        }
    }

    /// Undoes the last `n` committed tokens (EOS included).
    pub fn rollback(&mut self, n: usize) -> Result<(), MatcherError> {
        if n > self.history.len() {
            return Err(MatcherError::RollbackTooFar {
                requested: n,
                available: self.history.len(),
            });
        }
        if n == 0 {
            return Ok(());
        }
        let snap = self.history[self.history.len() - n];
        self.history.truncate(self.history.len() - n);
        self.parser.truncate(snap.rows as usize);
        self.text.truncate(snap.text as usize);
        self.row = snap.row;
        self.lex = snap.lex;
        self.stopped = snap.stopped;
        Ok(())
    }

    /// The bytes every continuation must start with (empty if there is a
    /// choice, or if the output may end here, or if finding out needs more
    /// than the mask budget: forcing nothing is always safe).
    pub fn forced_bytes(&mut self) -> Vec<u8> {
        let (out, status) = self.metered(Stage::Mask, |m| m.forced_bytes_unmetered());
        status.map(|()| out).unwrap_or_default()
    }

    fn forced_bytes_unmetered(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        let rows = self.parser.row_count();
        let text = self.text.len();
        let (mut lex, mut row) = (self.lex, self.row);
        loop {
            if out.len() >= 4096 || self.accepting_at(lex, row) {
                break;
            }
            let mut only = 0u8;
            let mut count = 0;
            let before = self.parser.row_count();
            for b in 0..=255u8 {
                let (mut l, r) = self.step_byte(lex, row, b);
                if l != DEAD && self.distinct {
                    self.text.push(b);
                    if !self.end_allowed(l, r) {
                        l = DEAD;
                    }
                    self.text.pop();
                }
                self.parser.truncate(before);
                if l != DEAD {
                    count += 1;
                    only = b;
                    if count > 1 {
                        break;
                    }
                }
            }
            if count != 1 {
                break;
            }
            let (l, r) = self.step_byte(lex, row, only);
            out.push(only);
            if self.distinct {
                self.text.push(only);
            }
            lex = l;
            row = r;
        }
        self.parser.truncate(rows);
        self.text.truncate(text);
        out
    }

    /// Tokens that must come next whatever the model picks: the canonical
    /// tokenization of [`forced_bytes`](Self::forced_bytes), minus its last
    /// token if a longer allowed token starts with that token's bytes (the
    /// forced bytes may end inside what the model would write as one token,
    /// e.g. `":` before `":"`).
    pub fn forced_tokens(&mut self) -> Vec<TokenId> {
        let bytes = self.forced_bytes();
        if bytes.is_empty() {
            return Vec::new();
        }
        // Only a valid UTF-8 prefix can be encoded as text.
        let valid = match std::str::from_utf8(&bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap(),
        };
        let Ok(mut toks) = self.env.vocab().encode(valid) else {
            return Vec::new();
        };
        let Some((&last, head)) = toks.split_last() else {
            return toks;
        };
        // Commit all but the last token, look at the mask there, roll back.
        for (i, &t) in head.iter().enumerate() {
            if self.commit(t).is_err() {
                // Not expected (the bytes are forced); force nothing then.
                let _ = self.rollback(i);
                return Vec::new();
            }
        }
        let vocab = self.env.vocab().clone();
        let last_bytes = vocab.token_bytes(last);
        let mask = self.compute_mask();
        let keep_last = mask.contains(last)
            && !mask.iter().any(|t| {
                let b = vocab.token_bytes(t);
                b.len() > last_bytes.len() && b.starts_with(last_bytes)
            });
        let _ = self.rollback(head.len());
        if !keep_last {
            toks.pop();
        }
        toks
    }

    /// A short byte string that completes the output (the shortest in most
    /// cases), searched best first (A*) over (parser row, lexer state), one
    /// byte per edge; `None` if there is no completion of at most
    /// `max_bytes` bytes, or if the search needs more than the completion
    /// budget (see [`try_shortest_completion`](Self::try_shortest_completion),
    /// which tells the two apart). Printable ASCII is tried first, so ties
    /// go to the plainest spelling (`0`, `""`, `a`).
    ///
    /// The generator uses it to close an output before `max_tokens` cuts it
    /// short. The search never computes a mask: it steps the lexer and the
    /// parser byte by byte, and states whose parser rows have the same
    /// content are merged, so the cost grows with the length of the completion and
    /// the number of lexeme boundaries on the way, not with the vocabulary.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::{regex_grammar, CompiledGrammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let vocab = env.vocab();
    /// let grammar = Arc::new(CompiledGrammar::new(&regex_grammar(r"\[[a-z]+(,[a-z]+)*\]")?)?);
    /// let mut m = Matcher::new(grammar, &env);
    /// for t in vocab.encode("[ab,c")? {
    ///     m.commit(t)?;
    /// }
    /// assert_eq!(m.shortest_completion(16).as_deref(), Some(&b"]"[..]));
    /// # Ok(()) }
    /// ```
    pub fn shortest_completion(&mut self, max_bytes: usize) -> Option<Vec<u8>> {
        self.try_shortest_completion(max_bytes).ok().flatten()
    }

    /// [`shortest_completion`](Self::shortest_completion), with an error
    /// when the search needs more work than the completion budget allows
    /// ([`MatcherError::BudgetExceeded`]) or more states of a lexeme's DFA
    /// than its size limit.
    pub fn try_shortest_completion(
        &mut self,
        max_bytes: usize,
    ) -> Result<Option<Vec<u8>>, MatcherError> {
        if self.stopped {
            return Ok(Some(Vec::new()));
        }
        let rows = self.parser.row_count();
        let text = self.text.len();
        let (found, status) = self.metered(Stage::Completion, |m| m.completion_search(max_bytes));
        self.parser.truncate(rows);
        self.text.truncate(text);
        status.map(|()| found)
    }

    fn completion_search(&mut self, max_bytes: usize) -> Option<Vec<u8>> {
        use std::cmp::Reverse;
        use std::collections::{BinaryHeap, HashSet};
        // Bytes in the order tried: printable ASCII, then space and newline,
        // then non-ASCII (for lexemes that need it); other control bytes never.
        let order: Vec<u8> = (0x21..=0x7Eu8)
            .chain([b' ', b'\n', b'\t'])
            .chain(0x80..=0xFFu8)
            .collect();
        let grammar = self.grammar.clone();
        let tables = &grammar.parser;
        let rest_at = tables.rest_at(&grammar.lexer);
        let mut costs = crate::parser::CostMemo::default();
        let mut sigs: HashMap<u64, u64, FxBuild> = HashMap::default();
        // A*: bytes so far plus a lower bound on the bytes still needed, so
        // output that opens more structure is explored last.
        let mut estimate = |this: &mut Matcher, lex: u32, row: u32| -> u32 {
            let h = this
                .parser
                .lexemes_to_finish(tables, rest_at, row, &mut costs);
            let st = this.lexer.state(lex);
            if st.at_start || h >= crate::parser::FAR {
                return h;
            }
            // `h` counts the current lexeme whole; it is partly read.
            let (mut whole, mut rest) = (0, u32::MAX);
            for &(l, s) in st.members.iter() {
                let dfa = &grammar.lexer.lexemes[l as usize];
                whole = whole.max(dfa.distances().shortest);
                rest = rest.min(dfa.to_accept(s));
            }
            h.saturating_sub(whole).saturating_add(rest.min(h))
        };
        // (lexer state, parser row, parent node, byte, bytes so far)
        let mut nodes: Vec<(u32, u32, u32, u8, u32)> = vec![(self.lex, self.row, u32::MAX, 0, 0)];
        let mut heap = BinaryHeap::new();
        let h0 = estimate(self, self.lex, self.row);
        heap.push(Reverse((h0, h0, 0u32)));
        let mut closed: HashSet<(u64, u32, u64), FxBuild> = HashSet::default();
        let base = self.text.len();
        let mut path = Vec::new();
        while let Some(Reverse((_, _, i))) = heap.pop() {
            let (lex, row, _, _, g) = nodes[i as usize];
            // With distinct lists the parser reads the text, and states that
            // differ in it are not the same place: put it in `self.text`, and
            // in the key.
            let mut text_hash = 0;
            if self.distinct {
                path.clear();
                let mut j = i as usize;
                while nodes[j].2 != u32::MAX {
                    path.push(nodes[j].3);
                    j = nodes[j].2 as usize;
                }
                self.text.truncate(base);
                self.text.extend(path.iter().rev());
                let mut h = crate::hash::FxHasher::default();
                std::hash::Hasher::write(&mut h, &self.text[base..]);
                text_hash = std::hash::Hasher::finish(&h);
            }
            // Parser rows are never equal by number, but often by content
            // (`[1,2` and `[1,2,3`): states are merged by the row's
            // signature, so each place is explored once.
            if !crate::budget::charge(COMPLETION_POP_UNITS) {
                return None;
            }
            if !closed.insert((self.parser.signature(row, &mut sigs), lex, text_hash)) {
                continue;
            }
            if self.accepting_at(lex, row) {
                let mut path = Vec::with_capacity(g as usize);
                let mut j = i as usize;
                while nodes[j].2 != u32::MAX {
                    path.push(nodes[j].3);
                    j = nodes[j].2 as usize;
                }
                path.reverse();
                return Some(path);
            }
            if g as usize >= max_bytes {
                continue;
            }
            // Ending the lexeme here is the same for every byte: one parser
            // row, shared by all the children.
            let pos = self.text.len();
            let mut end = None;
            for &b in &order {
                if !crate::budget::charge(COMPLETION_BYTE_UNITS) {
                    return None;
                }
                let mut l = self.lexer.next(&grammar.lexer, lex, b);
                let mut r = row;
                if l == DEAD {
                    let (start, after) = *end.get_or_insert_with(|| self.end_lexeme(lex, row, pos));
                    if start == DEAD {
                        continue;
                    }
                    l = self.lexer.next(&grammar.lexer, start, b);
                    r = after;
                }
                if l == DEAD {
                    continue;
                }
                if self.distinct {
                    self.text.push(b);
                    let ok = self.end_allowed(l, r);
                    self.text.pop();
                    if !ok {
                        continue;
                    }
                }
                let h = estimate(self, l, r);
                if h >= crate::parser::FAR {
                    continue;
                }
                if !crate::budget::charge(COMPLETION_STATE_UNITS) {
                    return None;
                }
                nodes.push((l, r, i, b, g + 1));
                heap.push(Reverse((g + 1 + h, h, nodes.len() as u32 - 1)));
            }
        }
        None
    }

    /// [`shortest_completion`](Self::shortest_completion) as tokens that
    /// commit in order from the current state: the tokenizer's encoding of
    /// the bytes, or single-byte tokens where that fails (the bytes are not
    /// whole UTF-8 text, or the encoding does not commit).
    pub fn completion_tokens(&mut self, max_bytes: usize) -> Option<Vec<TokenId>> {
        self.try_completion_tokens(max_bytes).ok().flatten()
    }

    /// [`completion_tokens`](Self::completion_tokens), with the error of
    /// [`try_shortest_completion`](Self::try_shortest_completion).
    pub fn try_completion_tokens(
        &mut self,
        max_bytes: usize,
    ) -> Result<Option<Vec<TokenId>>, MatcherError> {
        let Some(bytes) = self.try_shortest_completion(max_bytes)? else {
            return Ok(None);
        };
        let vocab = self.env.vocab().clone();
        let encoded = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| vocab.encode(s).ok());
        let single: Option<Vec<TokenId>> = bytes.iter().map(|&b| vocab.byte_token(b)).collect();
        for toks in [encoded, single].into_iter().flatten() {
            let mut done = 0;
            for &t in &toks {
                match self.commit(t) {
                    Ok(()) => done += 1,
                    Err(e) if e.is_limit() => {
                        let _ = self.rollback(done);
                        return Err(e);
                    }
                    Err(_) => break,
                }
            }
            let _ = self.rollback(done);
            if done == toks.len() {
                return Ok(Some(toks));
            }
        }
        Ok(None)
    }

    /// Number of lexer product states built so far (for diagnostics).
    pub fn lexer_state_count(&self) -> usize {
        self.lexer.state_count()
    }
}
