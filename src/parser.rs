//! An Earley parser over lexemes, with a row stack for cheap rollback.
//!
//! The parser sees one *lexeme* at a time, never a byte: the lexer finds
//! where a lexeme ends and hands over the set of lexemes that matched (more
//! than one when the same bytes fit several, e.g. a keyword and an
//! identifier). Earley's algorithm accepts any context-free grammar, ambiguous
//! ones included, which JSON Schema `anyOf` and PEG lowerings produce freely.
//!
//! Each consumed lexeme pushes one *row* (an Earley set) onto a stack; undoing
//! a lexeme pops it. The mask computation uses exactly this: it pushes rows
//! while it walks down the token trie and pops them on the way back up, and
//! rollback for speculative decoding is the same pop.
//!
//! Empty rules are handled with Aycock and Horspool's fix: predicting a
//! nullable non-terminal also advances past it at once, so completions with
//! an empty span never need to be revisited.

use crate::grammar::{MemberCount, MAX_COUNTED_ONCE, MAX_MEMBER_COUNT};
use crate::hash::{FxBuild, FxHasher};
use std::collections::HashSet;
use std::hash::Hasher;

/// Marks a non-terminal in the flattened right-hand sides.
pub(crate) const NT: u32 = 1 << 31;
/// Ends a production in the flattened right-hand sides.
pub(crate) const END: u32 = u32::MAX;
/// With [`NT`], marks an any-order symbol: `NT | ANY_ORDER | i` stands for
/// `ParserTables::any_order[i]`. It is the whole body of its production.
pub(crate) const ANY_ORDER: u32 = 1 << 30;
/// In an any-order item's tag: at least one member has been consumed, so
/// the next member needs the separator.
const STARTED: u64 = 1 << 63;

/// In a counted any-order item's tag (see [`AnyOrderSpec`]): the number of
/// members so far, in bits 48..63, saturating at the spec's `cap`.
const COUNT_SHIFT: u32 = MAX_COUNTED_ONCE as u32;
const COUNT_MASK: u64 = 0x7fff << COUNT_SHIFT;
const _: () = assert!(MAX_MEMBER_COUNT < 0x7fff);
/// In a distinct list's tag (see [`AnyOrderSpec::distinct`]), the bits
/// below the count: the [`ValueSets`] id of the members' values so far.
const SET_MASK: u64 = (1 << COUNT_SHIFT) - 1;

/// The index in `ParserTables::any_order` of any-order symbol `sym`.
#[inline]
pub(crate) fn any_order_index(sym: u32) -> usize {
    (sym & !(NT | ANY_ORDER)) as usize
}

/// True if `sym` is an any-order symbol.
#[inline]
pub(crate) fn is_any_order(sym: u32) -> bool {
    sym != END && sym & (NT | ANY_ORDER) == NT | ANY_ORDER
}

/// A list of members in any order ([`crate::grammar::Expr::AnyOrder`]),
/// parsed without expanding it into rules.
///
/// Expanded into plain rules, "every required member at least once, in any
/// order" needs a rule per subset of required members seen: 2^n rules for
/// n members, which is why JSON objects with a dozen required keys in any
/// order were out of reach. Here one Earley item stands for the list, and
/// its *tag* holds the set of required members seen so far (one bit each,
/// hence at most 63 required members). Only the subsets a parse actually
/// reaches are ever built.
#[derive(Clone, Debug)]
pub(crate) struct AnyOrderSpec {
    /// Per member: the non-terminal for the member with no separator
    /// before it (the first one) and with the separator before it.
    pub(crate) first: Vec<u32>,
    pub(crate) next: Vec<u32>,
    /// Per member: its bit in the tag if it is required.
    pub(crate) bit: Vec<u64>,
    /// The tag bits of all required members.
    pub(crate) full: u64,
    /// `(non-terminal, member index)` for every `first` and `next`
    /// non-terminal, sorted: which member a completed non-terminal was.
    pub(crate) by_nonterminal: Vec<(u32, u32)>,
    /// Counted lists: the bits of members that may appear at most once
    /// (0 for lists without a count: members repeat freely).
    once: u64,
    /// Counted lists: fewest and most members (`max` `None`: unbounded),
    /// and the value the count saturates at (where it no longer matters).
    min: u32,
    max: Option<u32>,
    cap: u32,
    /// Whether the list has a count (else bits 48..63 of the tag are
    /// member bits too: up to 63 required members).
    counted: bool,
    /// No two members may be equal JSON values (`uniqueItems`): the tag's
    /// low bits ([`SET_MASK`]) name the set of member values so far, and
    /// completing a member checks its text against them. Such lists have
    /// no required or `once` members, so those bits are free.
    distinct: bool,
    /// Counted lists: member `i < prefix` may only be the `i`-th, the
    /// others only come after them (see [`MemberCount::prefix`]).
    prefix: u32,
}

impl AnyOrderSpec {
    /// `count`: bounds on the number of members; then every `once` member
    /// gets a bit (at most [`MAX_COUNTED_ONCE`]), else only required ones
    /// (at most 63).
    pub(crate) fn new(
        first: Vec<u32>,
        next: Vec<u32>,
        required: &[bool],
        count: Option<&MemberCount>,
    ) -> AnyOrderSpec {
        let mut bit = Vec::with_capacity(required.len());
        let (mut full, mut once) = (0u64, 0u64);
        let mut n = 0;
        for (i, &r) in required.iter().enumerate() {
            let o = count.is_some_and(|c| c.once.get(i).copied().unwrap_or(false));
            if r || o {
                let b = 1u64 << n;
                n += 1;
                bit.push(b);
                if r {
                    full |= b;
                }
                if o {
                    once |= b;
                }
            } else {
                bit.push(0);
            }
        }
        let limit = if count.is_some() {
            MAX_COUNTED_ONCE
        } else {
            63
        };
        assert!(n <= limit, "too many tagged any-order members");
        let mut by_nonterminal: Vec<(u32, u32)> = first
            .iter()
            .chain(&next)
            .enumerate()
            .map(|(i, &x)| (x, (i % first.len()) as u32))
            .collect();
        by_nonterminal.sort_unstable();
        by_nonterminal.dedup();
        let (min, max) = count.map_or((0, None), |c| (c.min, c.max));
        let prefix = count.map_or(0, |c| c.prefix);
        // Counts below the prefix length must stay exact.
        let cap = if count.is_some() {
            max.unwrap_or(min).min(MAX_MEMBER_COUNT).max(prefix)
        } else {
            0
        };
        AnyOrderSpec {
            first,
            next,
            bit,
            full,
            by_nonterminal,
            once,
            min,
            max,
            cap,
            counted: count.is_some(),
            distinct: count.is_some_and(|c| c.distinct),
            prefix,
        }
    }

    /// The tag after member `i` in an item tagged `tag`, or `None` if the
    /// member may not come now (written already and `once`, or the list is
    /// at its most members).
    #[inline]
    fn advance(&self, tag: u64, i: usize) -> Option<u64> {
        let b = self.bit[i];
        if !self.counted {
            return Some(tag | STARTED | b);
        }
        if tag & b & self.once != 0 {
            return None;
        }
        let c = ((tag & COUNT_MASK) >> COUNT_SHIFT) as u32;
        if self.max.is_some_and(|m| c >= m) {
            return None;
        }
        if (i as u32) < self.prefix {
            if c != i as u32 {
                return None;
            }
        } else if c < self.prefix {
            return None;
        }
        let c = (c + 1).min(self.cap);
        Some((tag & !COUNT_MASK) | STARTED | b | (u64::from(c) << COUNT_SHIFT))
    }

    /// Whether the list may end in an item tagged `tag`: every required
    /// member seen, and enough members.
    #[inline]
    fn may_end(&self, tag: u64) -> bool {
        tag & self.full == self.full
            && (!self.counted || ((tag & COUNT_MASK) >> COUNT_SHIFT) as u32 >= self.min)
    }

    /// The non-terminal member `i` is parsed as in an item tagged `tag`.
    #[inline]
    fn member(&self, tag: u64, i: usize) -> u32 {
        if tag & STARTED == 0 {
            self.first[i]
        } else {
            self.next[i]
        }
    }

    /// The members a completed non-terminal `x` may have been.
    #[inline]
    fn members_of(&self, x: u32) -> impl Iterator<Item = usize> + '_ {
        let lo = self.by_nonterminal.partition_point(|p| p.0 < x);
        self.by_nonterminal[lo..]
            .iter()
            .take_while(move |p| p.0 == x)
            .map(|p| p.1 as usize)
    }

    /// The fewest bytes of required members still missing from `tag`: each
    /// with the separator before it, except the first member of the list
    /// when none has been written yet.
    fn missing_cost(&self, tag: u64, min: &[u32]) -> u32 {
        let mut c = 0u32;
        let mut first_saving = 0u32;
        let mut any = false;
        for (i, &b) in self.bit.iter().enumerate() {
            if b & self.full != 0 && tag & b == 0 {
                let (f, n) = (min[self.first[i] as usize], min[self.next[i] as usize]);
                c = c.saturating_add(n.max(f)).min(FAR);
                first_saving = first_saving.max(n.max(f) - f);
                any = true;
            }
        }
        if any && tag & STARTED == 0 {
            c = c.saturating_sub(first_saving);
        }
        c
    }
}

/// Lower bounds on the bytes still needed to finish, see
/// [`lexemes_to_end`].
#[derive(Clone, Debug)]
pub(crate) struct FinishCosts {
    /// Per position in `rhs`: the rest of its production.
    pub(crate) rest: Vec<u32>,
    /// Per non-terminal: its shortest derivation.
    pub(crate) min: Vec<u32>,
}

/// The grammar in the form the parser runs on.
#[derive(Clone, Debug)]
pub(crate) struct ParserTables {
    /// All productions' right-hand sides, each followed by [`END`]. A symbol is
    /// a lexeme id, or `NT | nonterminal`.
    pub(crate) rhs: Vec<u32>,
    /// For each position in `rhs`, the left-hand side of its production.
    pub(crate) lhs_at: Vec<u32>,
    /// For each non-terminal, the start positions of its productions.
    pub(crate) prods_of: Vec<Vec<u32>>,
    pub(crate) nullable: Vec<bool>,
    /// Position of the synthetic production `S' -> S`.
    pub(crate) start_prod: u32,
    pub(crate) ignore: Option<u32>,
    /// The any-order lists, indexed by the low bits of their symbols.
    pub(crate) any_order: Vec<AnyOrderSpec>,
    /// Some any-order list is distinct: completing one of its members reads
    /// the member's text (see [`Parser::push`]).
    pub(crate) has_distinct: bool,
    /// For each position in `rhs`, the fewest bytes that can finish the
    /// production from there (see [`lexemes_to_end`]), computed on first use
    /// by [`ParserTables::rest_at`].
    pub(crate) rest_at: std::sync::OnceLock<FinishCosts>,
}

impl ParserTables {
    /// [`lexemes_to_end`] for these tables and `lexer`'s lexemes.
    pub(crate) fn rest_at(&self, lexer: &crate::lexer::LexerSpec) -> &FinishCosts {
        self.rest_at.get_or_init(|| {
            let lens: Vec<u32> = lexer
                .lexemes
                .iter()
                .map(|l| l.distances().shortest)
                .collect();
            lexemes_to_end(
                &self.rhs,
                &self.lhs_at,
                self.prods_of.len(),
                &lens,
                &self.any_order,
            )
        })
    }

    /// The any-order spec of symbol `sym` (see [`is_any_order`]).
    #[inline]
    fn spec(&self, sym: u32) -> &AnyOrderSpec {
        &self.any_order[any_order_index(sym)]
    }
}

/// "Infinitely many" bytes: a non-terminal that derives no sentence.
pub(crate) const FAR: u32 = u32::MAX / 4;

/// For each position in the flattened `rhs`, the fewest bytes that derive
/// the rest of its production, given each lexeme's shortest length
/// (`lexeme_len`): a lower bound used to steer the search for a short
/// completion.
pub(crate) fn lexemes_to_end(
    rhs: &[u32],
    lhs_at: &[u32],
    nonterminals: usize,
    lexeme_len: &[u32],
    any_order: &[AnyOrderSpec],
) -> FinishCosts {
    let mut min = vec![FAR; nonterminals + 1];
    let cost = |min: &[u32], sym: u32| -> u32 {
        if sym & NT == 0 {
            lexeme_len.get(sym as usize).copied().unwrap_or(1)
        } else if is_any_order(sym) {
            any_order[any_order_index(sym)].missing_cost(0, min)
        } else {
            min.get((sym & !NT) as usize).copied().unwrap_or(FAR)
        }
    };
    loop {
        let mut changed = false;
        let mut acc = 0u32;
        for (i, &sym) in rhs.iter().enumerate() {
            if sym == END {
                let lhs = lhs_at[i] as usize;
                if lhs < min.len() && acc < min[lhs] {
                    min[lhs] = acc;
                    changed = true;
                }
                acc = 0;
            } else {
                acc = acc.saturating_add(cost(&min, sym)).min(FAR);
            }
        }
        if !changed {
            break;
        }
    }
    let mut rest = vec![0u32; rhs.len()];
    let mut acc = 0u32;
    for i in (0..rhs.len()).rev() {
        if rhs[i] == END {
            acc = 0;
        } else {
            acc = acc.saturating_add(cost(&min, rhs[i])).min(FAR);
        }
        rest[i] = acc;
    }
    FinishCosts { rest, min }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Item {
    dot: u32,
    origin: u32,
    /// Zero except in any-order items: the required members seen, and
    /// [`STARTED`].
    tag: u64,
}

#[derive(Clone, Copy, Debug)]
struct Row {
    start: u32,
    end: u32,
    allowed_start: u32,
    allowed_end: u32,
    accepting: bool,
    /// Unique over the parser's life: identifies the row's content for caches.
    serial: u64,
    /// Byte offset in the output where the lexeme that made this row ended.
    pos: u32,
    /// Members of a distinct list are predicted in this row.
    starts_distinct: bool,
    /// Length of [`Parser::values`] before this row was made.
    values_start: u32,
}

/// The values of distinct lists' members, as sets that share their tails:
/// set `n > 0` is entry `n - 1` (one canonical value, see
/// [`crate::json_value::canonical`]) added to set `parent`, and set 0 is
/// empty. Entries are made in the order rows are, so popping rows pops the
/// entries they made.
///
/// The sets form a tree (each set is its parent plus one value), and
/// several of its branches are alive at once: the mask walk tries items on
/// top of the committed list, and an ambiguous parse keeps one set per
/// reading. Membership is therefore asked of a tree path, not of one hash
/// set: the entries holding a value are found through a hash index
/// ([`ValueSets::latest`], with each entry linking to the previous entry of
/// the same hash), and each is checked for being on the set's path by a
/// level-ancestor query over skew-binary jump pointers (Myers, "An
/// applicative random-access stack", 1983), in O(log n) steps. A list of n
/// items thus costs O(log n) per item, not O(n).
#[derive(Clone, Debug, Default)]
struct ValueSets {
    entries: Vec<ValueEntry>,
    bytes: Vec<u8>,
    /// Per value hash: the newest set whose own entry has that hash.
    latest: std::collections::HashMap<u64, u64, FxBuild>,
}

#[derive(Clone, Copy, Debug)]
struct ValueEntry {
    parent: u64,
    /// An ancestor set to jump to (see [`ValueSets::ancestor_at`]).
    jump: u64,
    /// Number of values in the set.
    depth: u32,
    hash: u64,
    /// The next older set whose own entry has the same hash (0: none).
    same_hash: u64,
    start: u32,
    end: u32,
}

impl ValueSets {
    #[inline]
    fn depth(&self, set: u64) -> u32 {
        match set {
            0 => 0,
            s => self.entries[s as usize - 1].depth,
        }
    }

    #[inline]
    fn jump(&self, set: u64) -> u64 {
        match set {
            0 => 0,
            s => self.entries[s as usize - 1].jump,
        }
    }

    /// The ancestor of `set` (itself included) with `depth` values.
    fn ancestor_at(&self, mut set: u64, depth: u32) -> u64 {
        while self.depth(set) > depth {
            let e = &self.entries[set as usize - 1];
            set = if self.depth(e.jump) >= depth {
                e.jump
            } else {
                e.parent
            };
        }
        set
    }

    /// The set `set` plus `value`, or `None` if `value` is in it already.
    fn insert(&mut self, set: u64, value: &[u8]) -> Option<u64> {
        let mut h = FxHasher::default();
        h.write(value);
        let hash = h.finish();
        let newest = self.latest.get(&hash).copied().unwrap_or(0);
        let mut s = newest;
        while s != 0 {
            let e = self.entries[s as usize - 1];
            if &self.bytes[e.start as usize..e.end as usize] == value
                && self.ancestor_at(set, e.depth) == s
            {
                return None;
            }
            s = e.same_hash;
        }
        // Myers' rule: jump as far as the parent's jump does, again, when
        // the two jumps have equal length; else to the parent.
        let (pj, depth) = (self.jump(set), self.depth(set));
        let jump =
            if set != 0 && depth - self.depth(pj) == self.depth(pj) - self.depth(self.jump(pj)) {
                self.jump(pj)
            } else {
                set
            };
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(value);
        self.entries.push(ValueEntry {
            parent: set,
            jump,
            depth: depth + 1,
            hash,
            same_hash: newest,
            start,
            end: self.bytes.len() as u32,
        });
        let id = self.entries.len() as u64;
        self.latest.insert(hash, id);
        Some(id)
    }

    fn truncate(&mut self, n: usize) {
        if let Some(e) = self.entries.get(n) {
            self.bytes.truncate(e.start as usize);
        }
        // Newest first, so each popped entry is the newest of its hash.
        while self.entries.len() > n {
            let e = self.entries.pop().expect("more than n entries");
            match e.same_hash {
                0 => self.latest.remove(&e.hash),
                older => self.latest.insert(e.hash, older),
            };
        }
    }
}

/// A row's items that wait for a non-terminal, as `(symbol, item)` sorted.
type WaitingIndex = Box<[(u32, u32)]>;

/// Rows with more items than this get an index for completions (see
/// [`Parser::waiting_in`]); smaller ones are scanned.
const INDEX_FROM: u32 = 32;

pub(crate) type CostMap = std::collections::HashMap<u32, u32, FxBuild>;
/// See [`Parser::lexemes_to_finish`].
pub(crate) type CostMemo = std::collections::HashMap<u64, std::rc::Rc<CostMap>, FxBuild>;

/// Per-sequence Earley state.
#[derive(Clone, Debug)]
pub(crate) struct Parser {
    items: Vec<Item>,
    rows: Vec<Row>,
    /// Per row, once a completion has asked for it and the row is large:
    /// its items that wait for a non-terminal, as `(symbol, item)` sorted
    /// (see [`waiting_in`](Self::waiting_in)).
    waiting: Vec<Option<WaitingIndex>>,
    allowed: Vec<u32>,
    seen: HashSet<(u32, u32, u64), FxBuild>,
    next_serial: u64,
    values: ValueSets,
    /// How many times a distinct list's member completed (and so its text
    /// was read), over the parser's life.
    text_reads: u64,
    /// How many of those compared the member with earlier ones (the set of
    /// values so far was not empty).
    comparisons: u64,
    /// Scratch buffer for a member's canonical value.
    canon: Vec<u8>,
}

impl Parser {
    pub(crate) fn new(t: &ParserTables) -> Parser {
        let mut p = Parser {
            items: Vec::new(),
            rows: Vec::new(),
            waiting: Vec::new(),
            allowed: Vec::new(),
            seen: HashSet::default(),
            next_serial: 0,
            values: ValueSets::default(),
            text_reads: 0,
            comparisons: 0,
            canon: Vec::new(),
        };
        p.seen.clear();
        p.add(Item {
            dot: t.start_prod,
            origin: 0,
            tag: 0,
        });
        p.finish_row(t, 0, b"");
        p
    }

    /// How many times a distinct list's member has completed (its text
    /// read) so far: a [`push`](Self::push) during which this changed has a
    /// result that depends on the text, not only on the row and lexemes.
    pub(crate) fn text_reads(&self) -> u64 {
        self.text_reads
    }

    /// How many completed distinct members have been compared with earlier
    /// members so far. Only a comparison can refuse a member, so a mask
    /// computed without one does not depend on the members' text (the rows
    /// it built do: see [`text_reads`](Self::text_reads)).
    pub(crate) fn comparisons(&self) -> u64 {
        self.comparisons
    }

    /// Adds the value of the member spanning `text[from..]` to value set
    /// `set`: the new set, or `None` if the value was there already.
    fn distinct_value(&mut self, set: u64, text: &[u8], from: usize) -> Option<u64> {
        self.text_reads += 1;
        if set & SET_MASK != 0 {
            self.comparisons += 1;
        }
        self.canon.clear();
        let span = text.get(from..).unwrap_or_default();
        if !crate::json_value::canonical(span, &mut self.canon) {
            // Not JSON (a grammar of another kind): compare the text.
            self.canon.clear();
            self.canon.push(b'x');
            self.canon.extend_from_slice(span.trim_ascii());
        }
        let canon = std::mem::take(&mut self.canon);
        let r = self.values.insert(set & SET_MASK, &canon);
        self.canon = canon;
        r
    }

    #[inline]
    fn add(&mut self, it: Item) {
        if self.seen.insert((it.dot, it.origin, it.tag)) {
            self.items.push(it);
        }
    }

    /// Number of rows in the arena.
    #[inline]
    pub(crate) fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Lexemes row `r` allows next (sorted; the ignore lexeme included).
    #[inline]
    pub(crate) fn allowed(&self, r: u32) -> &[u32] {
        let r = &self.rows[r as usize];
        &self.allowed[r.allowed_start as usize..r.allowed_end as usize]
    }

    /// True if the lexemes consumed up to row `r` form a complete sentence.
    #[inline]
    pub(crate) fn is_accepting(&self, r: u32) -> bool {
        self.rows[r as usize].accepting
    }

    /// True if members of a distinct list start at row `r`: their text,
    /// read when they complete, starts where the row records (see
    /// [`push`](Self::push)).
    #[inline]
    pub(crate) fn starts_distinct(&self, r: u32) -> bool {
        self.rows[r as usize].starts_distinct
    }

    /// A number identifying row `r`'s content for caching (never reused).
    #[inline]
    pub(crate) fn serial(&self, r: u32) -> u64 {
        self.rows[r as usize].serial
    }

    /// A hash of row `r`'s future: its items' dots, and for each item the
    /// same hash of the row it started in (its own row hashes as a marker).
    /// Rows with equal signatures accept the same continuations, whatever
    /// their serials: `[1,2` and `[1,2,3` usually do. `memo` maps serials to
    /// signatures and may be kept across calls while rows are only added.
    pub(crate) fn signature(
        &self,
        r: u32,
        memo: &mut std::collections::HashMap<u64, u64, FxBuild>,
    ) -> u64 {
        let row = self.rows[r as usize];
        if let Some(&s) = memo.get(&row.serial) {
            return s;
        }
        let mut parts: Vec<(u32, u64, u64)> = (row.start..row.end)
            .map(|i| {
                let it = self.items[i as usize];
                let origin = if it.origin == r {
                    u64::MAX
                } else {
                    self.signature(it.origin, memo)
                };
                (it.dot, it.tag, origin)
            })
            .collect();
        parts.sort_unstable();
        parts.dedup();
        let mut h = FxHasher::default();
        h.write_u64(parts.len() as u64);
        for (dot, tag, origin) in parts {
            h.write_u32(dot);
            h.write_u64(tag);
            h.write_u64(origin);
        }
        let s = h.finish();
        memo.insert(row.serial, s);
        s
    }

    /// A lower bound on the bytes still needed to finish the sentence from
    /// row `r`: for each item, the rest of its production plus what the rows
    /// it came from still need once its non-terminal is complete. `memo`
    /// holds per row (by serial) the cost of finishing after each
    /// non-terminal that row waits for.
    pub(crate) fn lexemes_to_finish(
        &self,
        t: &ParserTables,
        costs: &FinishCosts,
        r: u32,
        memo: &mut CostMemo,
    ) -> u32 {
        let row = self.rows[r as usize];
        let start_lhs = t.lhs_at[t.start_prod as usize];
        let mut best = FAR;
        for i in row.start..row.end {
            let it = self.items[i as usize];
            let lhs = t.lhs_at[it.dot as usize];
            let after = if lhs == start_lhs {
                0
            } else {
                self.waiting(t, costs, it.origin, memo)
                    .get(&lhs)
                    .copied()
                    .unwrap_or(FAR)
            };
            let sym = t.rhs[it.dot as usize];
            let rest = if is_any_order(sym) {
                t.spec(sym).missing_cost(it.tag, &costs.min)
            } else {
                costs.rest[it.dot as usize]
            };
            best = best.min(rest.saturating_add(after));
        }
        best
    }

    /// For row `o`: non-terminal X -> fewest bytes to finish the sentence
    /// once an X that started at `o` is complete.
    fn waiting(
        &self,
        t: &ParserTables,
        costs: &FinishCosts,
        o: u32,
        memo: &mut CostMemo,
    ) -> std::rc::Rc<CostMap> {
        let row = self.rows[o as usize];
        if let Some(m) = memo.get(&row.serial) {
            return m.clone();
        }
        let start_lhs = t.lhs_at[t.start_prod as usize];
        let mut w = CostMap::default();
        let mut local = Vec::new();
        // (X, the item's non-terminal, bytes after X within the item)
        let mut waits: Vec<(u32, u32, u32)> = Vec::new();
        for i in row.start..row.end {
            let it = self.items[i as usize];
            let sym = t.rhs[it.dot as usize];
            if sym == END || sym & NT == 0 {
                continue;
            }
            let lhs = t.lhs_at[it.dot as usize];
            waits.clear();
            if is_any_order(sym) {
                let spec = t.spec(sym);
                for m in 0..spec.first.len() {
                    let Some(tag) = spec.advance(it.tag, m) else {
                        continue;
                    };
                    waits.push((
                        spec.member(it.tag, m),
                        lhs,
                        spec.missing_cost(tag, &costs.min),
                    ));
                }
            } else {
                waits.push((sym & !NT, lhs, costs.rest[it.dot as usize + 1]));
            }
            let base = if lhs == start_lhs {
                Some(0)
            } else if it.origin != o {
                self.waiting(t, costs, it.origin, memo).get(&lhs).copied()
            } else {
                local.extend_from_slice(&waits);
                None
            };
            if let Some(b) = base {
                for &(x, _, rest) in &waits {
                    let c = rest.saturating_add(b);
                    let e = w.entry(x).or_insert(FAR);
                    *e = (*e).min(c);
                }
            }
        }
        // Items predicted in this row depend on each other's costs.
        loop {
            let mut changed = false;
            for &(x, lhs, rest) in &local {
                if let Some(&b) = w.get(&lhs) {
                    let c = rest.saturating_add(b);
                    let e = w.entry(x).or_insert(FAR);
                    if c < *e {
                        *e = c;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let w = std::rc::Rc::new(w);
        memo.insert(row.serial, w.clone());
        w
    }

    /// Consumes one lexeme, which matched as any of `lexemes`, after row
    /// `base`. The new row goes on top of the arena and its index is returned;
    /// `None` (and nothing pushed) if the grammar allows none of them here.
    ///
    /// `text` is the output up to the end of the lexeme. It is read only
    /// where the lexeme completes a member of a distinct list (see
    /// [`ParserTables::has_distinct`]); other grammars may pass it empty.
    ///
    /// `base` need not be the top row: rows form a tree laid out in a stack,
    /// which lets the mask walk keep a row for a trie node while it explores
    /// that node's siblings. Items only refer back to their own ancestors.
    pub(crate) fn push(
        &mut self,
        t: &ParserTables,
        base: u32,
        lexemes: &[u32],
        text: &[u8],
    ) -> Option<u32> {
        let top = self.rows[base as usize];
        let k = self.rows.len() as u32;
        self.seen.clear();
        let first = self.items.len();
        for i in top.start..top.end {
            let it = self.items[i as usize];
            let sym = t.rhs[it.dot as usize];
            if sym & NT == 0 && lexemes.contains(&sym) {
                self.add(Item {
                    dot: it.dot + 1,
                    origin: it.origin,
                    tag: 0,
                });
            }
        }
        if self.items.len() == first {
            return None;
        }
        self.finish_row(t, k, text);
        if t.has_distinct && self.is_dead(t, k) {
            // The lexeme completed only members refused as duplicates.
            self.truncate(k as usize);
            return None;
        }
        Some(k)
    }

    /// True if nothing may follow row `k` and the output may not end there
    /// either (only the ignore lexeme is allowed). Lowering drops rules that
    /// cannot finish, so only a refused distinct member leaves such a row.
    fn is_dead(&self, t: &ParserTables, k: u32) -> bool {
        let row = self.rows[k as usize];
        !row.accepting && self.allowed(k).iter().all(|&l| Some(l) == t.ignore)
    }

    /// Pops rows (from the top of the arena) until `n` remain.
    pub(crate) fn truncate(&mut self, n: usize) {
        if n >= self.rows.len() {
            return;
        }
        let r = self.rows[n];
        self.rows.truncate(n);
        self.waiting.truncate(n);
        self.items.truncate(r.start as usize);
        self.allowed.truncate(r.allowed_start as usize);
        self.values.truncate(r.values_start as usize);
    }

    /// Advances the items of row `o` that wait for non-terminal `x`, which
    /// has just been completed (its text is `text` from row `o` on).
    fn complete(&mut self, t: &ParserTables, x: u32, o: u32, text: &[u8]) {
        let a = NT | x;
        let row = self.rows[o as usize];
        if row.end - row.start <= INDEX_FROM {
            for i in row.start..row.end {
                self.advance_over(t, i, a, row.pos, text);
            }
            return;
        }
        let index = self.waiting_in(t, o);
        let from = index.partition_point(|&(s, _)| s < a);
        for &(s, i) in &index[from..] {
            if s != a {
                break;
            }
            self.advance_over(t, i, a, row.pos, text);
        }
        self.waiting[o as usize] = Some(index);
    }

    /// Row `o`'s items that wait for a non-terminal, as `(non-terminal,
    /// item)` sorted; taken out of [`Parser::waiting`] (built on first
    /// use), for the caller to put back. An item at an any-order list is
    /// listed under each non-terminal its members may be.
    ///
    /// A completion advances the items of its origin row that wait for the
    /// completed non-terminal. Scanning the whole row for them costs the
    /// row's size per completion, and a row can hold thousands of items
    /// (an object with thousands of optional properties in schema order
    /// predicts all of them; a `oneOf` of hundreds of objects starts as
    /// many property lists) while a completion chain runs through
    /// thousands of its rules: quadratic. Looked up in this index, each
    /// completion costs a binary search.
    fn waiting_in(&mut self, t: &ParserTables, o: u32) -> WaitingIndex {
        if self.waiting.len() < self.rows.len() {
            self.waiting.resize(self.rows.len(), None);
        }
        if let Some(index) = self.waiting[o as usize].take() {
            return index;
        }
        let row = self.rows[o as usize];
        let mut index: Vec<(u32, u32)> = Vec::new();
        for i in row.start..row.end {
            let sym = t.rhs[self.items[i as usize].dot as usize];
            if sym == END || sym & NT == 0 {
                continue;
            }
            if is_any_order(sym) {
                let mut last = None;
                for &(x, _) in &t.spec(sym).by_nonterminal {
                    if last != Some(x) {
                        index.push((NT | x, i));
                        last = Some(x);
                    }
                }
            } else {
                index.push((sym, i));
            }
        }
        index.sort_unstable();
        index.into_boxed_slice()
    }

    /// Advances item `i` (of the origin row, which ended at byte `pos`)
    /// over the completed non-terminal `a` if it waits for it.
    #[inline]
    fn advance_over(&mut self, t: &ParserTables, i: u32, a: u32, pos: u32, text: &[u8]) {
        let px = self.items[i as usize];
        let sym = t.rhs[px.dot as usize];
        if sym == a {
            self.add(Item {
                dot: px.dot + 1,
                origin: px.origin,
                tag: 0,
            });
        } else if is_any_order(sym) {
            let x = a & !NT;
            let spec = t.spec(sym);
            for m in spec.members_of(x) {
                if spec.member(px.tag, m) == x {
                    let Some(mut tag) = spec.advance(px.tag, m) else {
                        continue;
                    };
                    if spec.distinct {
                        let Some(set) = self.distinct_value(px.tag, text, pos as usize) else {
                            continue;
                        };
                        tag = (tag & !SET_MASK) | set;
                    }
                    self.add(Item { tag, ..px });
                }
            }
        }
    }

    /// Runs predict/complete over the items added for row `k`, whose
    /// lexeme ends `text`, then records it.
    fn finish_row(&mut self, t: &ParserTables, k: u32, text: &[u8]) {
        let start = if let Some(r) = self.rows.last() {
            r.end as usize
        } else {
            0
        };
        let values_start = self.values.entries.len() as u32;
        let mut starts_distinct = false;
        debug_assert_eq!(k as usize, self.rows.len());
        let mut j = start;
        while j < self.items.len() {
            let it = self.items[j];
            j += 1;
            let sym = t.rhs[it.dot as usize];
            if sym == END {
                if it.origin == k {
                    continue; // empty span: already advanced when predicted
                }
                self.complete(t, t.lhs_at[it.dot as usize], it.origin, text);
            } else if is_any_order(sym) {
                let spec = t.spec(sym);
                // All required members seen: the list may end here.
                if spec.may_end(it.tag) && it.origin != k {
                    self.complete(t, t.lhs_at[it.dot as usize], it.origin, text);
                }
                for m in 0..spec.first.len() {
                    // A member that may not come now is not even predicted,
                    // so its lexemes stay out of the mask.
                    let Some(mut tag) = spec.advance(it.tag, m) else {
                        continue;
                    };
                    let x = spec.member(it.tag, m) as usize;
                    starts_distinct |= spec.distinct;
                    for &p in &t.prods_of[x] {
                        self.add(Item {
                            dot: p,
                            origin: k,
                            tag: 0,
                        });
                    }
                    if t.nullable[x] {
                        if spec.distinct {
                            // An empty member: its value is the empty text.
                            let Some(set) = self.distinct_value(it.tag, text, text.len()) else {
                                continue;
                            };
                            tag = (tag & !SET_MASK) | set;
                        }
                        self.add(Item { tag, ..it });
                    }
                }
            } else if sym & NT != 0 {
                let b = (sym & !NT) as usize;
                for &p in &t.prods_of[b] {
                    self.add(Item {
                        dot: p,
                        origin: k,
                        tag: 0,
                    });
                }
                if t.nullable[b] {
                    self.add(Item {
                        dot: it.dot + 1,
                        origin: it.origin,
                        tag: it.tag,
                    });
                }
            }
        }
        let end = self.items.len();
        // A row is bounded by the grammar, so it is finished whatever the
        // budget says; the operation notices the stop at its next check.
        crate::budget::charge((end - start) as u64 + 1);
        let allowed_start = self.allowed.len();
        let mut accepting = false;
        for it in &self.items[start..end] {
            let sym = t.rhs[it.dot as usize];
            if sym & NT == 0 {
                self.allowed.push(sym);
            } else if sym == END && it.dot == t.start_prod + 1 {
                accepting = true;
            }
        }
        if let Some(ig) = t.ignore {
            self.allowed.push(ig);
        }
        self.allowed[allowed_start..].sort_unstable();
        let mut w = allowed_start;
        for r in allowed_start..self.allowed.len() {
            if w == allowed_start || self.allowed[r] != self.allowed[w - 1] {
                self.allowed[w] = self.allowed[r];
                w += 1;
            }
        }
        self.allowed.truncate(w);
        self.next_serial += 1;
        self.rows.push(Row {
            start: start as u32,
            end: end as u32,
            allowed_start: allowed_start as u32,
            allowed_end: w as u32,
            accepting,
            serial: self.next_serial,
            pos: text.len() as u32,
            starts_distinct,
            values_start,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::ValueSets;

    /// Membership over the tree of sets agrees with walking each set's
    /// whole path, under random inserts on random live sets and pops.
    #[test]
    fn value_sets_agree_with_path_walks() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut v = ValueSets::default();
        // Each entry's (parent, value), mirrored naively.
        let mut naive: Vec<(u64, Vec<u8>)> = Vec::new();
        let contains = |naive: &[(u64, Vec<u8>)], mut s: u64, x: &[u8]| {
            while s != 0 {
                if naive[s as usize - 1].1 == x {
                    return true;
                }
                s = naive[s as usize - 1].0;
            }
            false
        };
        for _ in 0..20_000 {
            if next(50) == 0 && !naive.is_empty() {
                // Pop a few, as a mask walk does; now and then many.
                let len = naive.len() as u64;
                let n = if next(20) == 0 {
                    next(len + 1)
                } else {
                    len - next(len.min(5) + 1)
                } as usize;
                v.truncate(n);
                naive.truncate(n);
                continue;
            }
            // Mostly extend a recent set, so that paths get long.
            let len = naive.len() as u64;
            let set = if len == 0 || next(4) == 0 {
                next(len + 1)
            } else {
                len - next(len.min(3))
            };
            let x = next(400).to_string().into_bytes();
            let dup = contains(&naive, set, &x);
            match v.insert(set, &x) {
                None => assert!(dup, "{x:?} reported in set {set}"),
                Some(id) => {
                    assert!(!dup, "{x:?} missed in set {set}");
                    naive.push((set, x));
                    assert_eq!(id, naive.len() as u64);
                }
            }
        }
        assert!(v.entries.iter().any(|e| e.depth > 40), "paths stayed short");
    }
}
