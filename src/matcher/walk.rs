//! The trie walks behind [`Matcher::compute_mask`]: through a lexer
//! state's [`StateMask`] (see [`crate::state_mask`]), or over the whole
//! trie.
//!
//! See the parent module's docs for the walk itself, its levels and how a
//! lexeme boundary is resolved once per trie node.

use super::{Level, Matcher, NodeCheck, END_LOOKAHEAD, UNSET};
use crate::compiled::CompiledGrammar;
use crate::lexer::{EndFlags, DEAD, UNKNOWN};
use crate::mask::TokenMask;
use crate::state_mask::{LocalStateMask, StateMask, MAX_LOCAL_STATE_MASKS};
use crate::trie::TokenTrie;
use std::sync::Arc;

impl Matcher {
    /// Walks the whole trie from the current state into `out` (cleared
    /// first), adding a text slice's tokens at once where the lexer state
    /// takes all of them.
    pub(super) fn walk_whole(&mut self, out: &mut TokenMask) {
        out.clear();
        let trie = self.env.trie().clone();
        match self.text_slice(&trie, self.lex) {
            Some(j) => {
                let sl = &trie.text_slices().expect("a slice was found").0[j];
                let words = out.words_mut();
                for (w, s) in words.iter_mut().zip(&sl.words) {
                    *w |= *s;
                }
                if self.distinct {
                    self.walk_trie::<true>(&sl.rest, out);
                } else {
                    self.walk_trie::<false>(&sl.rest, out);
                }
            }
            None if self.distinct => self.walk_trie::<true>(&trie, out),
            None => self.walk_trie::<false>(&trie, out),
        }
    }

    /// The longest text slice of `trie` whose every token lexer state `lex`
    /// takes whole, if any.
    fn text_slice(&mut self, trie: &TokenTrie, lex: u32) -> Option<usize> {
        let spec = &self.grammar.lexer;
        let (slices, dfa) = trie.text_slices()?;
        let run = self.lexer.text_run(spec, lex, dfa, slices.first()?.max_len);
        slices.iter().position(|sl| sl.max_len < run)
    }

    /// The state mask of lexer state `lex` (see [`crate::state_mask`]),
    /// from this matcher, else from its grammar, else built now, for masks
    /// of `width_words` words; give it back with
    /// [`keep_state_mask`](Self::keep_state_mask). `None` if the budget ran out while building
    /// it.
    pub(super) fn state_mask(&mut self, lex: u32, width_words: usize) -> Option<LocalStateMask> {
        // Taken out of the map, not cloned (the caller puts it back): a
        // clone would touch the shared mask's count from every thread.
        if let Some(sm) = self.state_masks.remove(&lex) {
            if sm.mask.tokens.width_words() == width_words {
                return Some(sm);
            }
        }
        let grammar = self.grammar.clone();
        let spec = &grammar.lexer;
        let key = self.lexer.key(lex);
        let env = self.env.id();
        let local = match self.shared_masks.get(env, &key) {
            Some(m) if m.tokens.width_words() == width_words => {
                LocalStateMask::new(m, &mut self.lexer, spec)
            }
            _ => {
                let trie = self.env.trie().clone();
                let slice = self.text_slice(&trie, lex);
                let slices = trie.text_slices().map(|(s, _)| s).unwrap_or(&[]);
                let (walked, slice) = match slice {
                    Some(j) => (&slices[j].rest, Some((j, &slices[j].words[..]))),
                    None => (&*trie, None),
                };
                let (mask, ends_from) = StateMask::build(
                    &mut self.lexer,
                    spec,
                    walked,
                    slice,
                    lex,
                    width_words,
                    &mut self.scratch,
                )?;
                let mask = Arc::new(mask);
                self.shared_masks.insert(env, key, mask.clone());
                LocalStateMask { mask, ends_from }
            }
        };
        Some(local)
    }

    /// Keeps `local`, the state mask of lexer state `lex`, for the next
    /// masks in that state.
    pub(super) fn keep_state_mask(&mut self, lex: u32, local: LocalStateMask) {
        if self.state_masks.len() >= MAX_LOCAL_STATE_MASKS {
            self.state_masks.clear();
        }
        self.state_masks.insert(lex, local);
    }

    /// The mask in the current state from its state mask: the tokens the
    /// lexer state takes whole, then the subtrees of its lexeme ends, walked
    /// under the current parser row. Grammars without distinct lists only.
    pub(super) fn apply_state_mask(&mut self, local: &LocalStateMask, out: &mut TokenMask) {
        let sm: &StateMask = &local.mask;
        sm.tokens.write(out.words_mut());
        if sm.groups.is_empty() {
            return;
        }
        let env = self.env.clone();
        let trie = match sm.slice {
            Some(j) => &env.trie().text_slices().expect("built with a slice").0[j].rest,
            None => &**env.trie(),
        };
        let grammar = self.grammar.clone();
        let spec = &grammar.lexer;
        let nodes = trie.nodes();
        let base_rows = self.parser.row_count() as u32;
        let mut levels = std::mem::take(&mut self.levels);
        levels.clear();
        levels.resize(trie.max_depth() + 1, Level::default());
        let (words, sink) = out.words_with_sink();
        let groups = &sm.groups;
        let mut gi = 0;
        'groups: while gi < groups.len() {
            let f = groups[gi].from;
            let p = local.ends_from[f as usize];
            let mut gend = gi + 1;
            while gend < groups.len() && groups[gend].from == f {
                gend += 1;
            }
            let (after, after_row) = self.end_lexeme_in_walk(p, self.row, base_rows, 0);
            if after == DEAD && crate::budget::stopped() {
                break;
            }
            if after != DEAD {
                for g in &groups[gi..gend] {
                    let t = self.lexer.next(spec, after, g.byte);
                    if t == DEAD {
                        if crate::budget::stopped() {
                            break 'groups;
                        }
                        continue;
                    }
                    let rows = self.parser.row_count() as u32;
                    for &c in &sm.nodes[g.start as usize..g.end as usize] {
                        let node = nodes[c as usize];
                        let tok = node.token.min(sink) as usize;
                        words[tok / 32] |= 1 << (tok % 32);
                        if node.has_duplicates {
                            for dup in trie.duplicates(c) {
                                words[dup as usize / 32] |= 1 << (dup % 32);
                            }
                        }
                        levels[node.depth as usize] = Level {
                            lex: t,
                            row: after_row,
                            rows,
                            after_lex: UNSET,
                            after_row,
                        };
                        let (from, to) = (c as usize + 1, node.subtree_end as usize);
                        if from < to {
                            self.walk_nodes::<false>(
                                &grammar,
                                trie,
                                &mut levels,
                                (from, to),
                                (&mut *words, sink),
                                0,
                            );
                            if crate::budget::stopped() {
                                break 'groups;
                            }
                        }
                    }
                }
            }
            gi = gend;
        }
        *words.last_mut().unwrap() = 0;
        self.parser.truncate(base_rows as usize);
        self.levels = levels;
    }

    /// Walks `trie` from the current state, setting the bit of every token
    /// whose bytes can follow.
    ///
    /// The walk keeps one [`Level`] per trie depth instead of a stack of
    /// frames: in pre-order, a node's parent state is always the last one
    /// written at the depth above, so moving on costs no push or pop. A
    /// lexeme boundary (the lexer is dead on the node's byte, but the lexeme
    /// so far has matched) is resolved once per parent: the parser row it
    /// pushes is kept for all the parent's remaining children.
    ///
    /// `DISTINCT`: the grammar has distinct lists, and each node gets the
    /// checks of [`distinct_node`](Self::distinct_node); the loop for other
    /// grammars is compiled without them.
    fn walk_trie<const DISTINCT: bool>(&mut self, trie: &TokenTrie, out: &mut TokenMask) {
        let nodes = trie.nodes();
        let grammar = self.grammar.clone();
        let base_rows = self.parser.row_count() as u32;
        let mut levels = std::mem::take(&mut self.levels);
        levels.clear();
        levels.resize(trie.max_depth() + 1, Level::default());
        levels[0] = Level {
            lex: self.lex,
            row: self.row,
            rows: base_rows,
            after_lex: UNSET,
            after_row: self.row,
        };
        let root_end = nodes[0].subtree_end as usize;
        // Distinct lists: `self.text` is the output, then the trie path.
        let base = self.text.len();
        if DISTINCT {
            self.text.resize(base + trie.max_depth(), 0);
        }
        let (words, sink) = out.words_with_sink();
        self.walk_nodes::<DISTINCT>(
            &grammar,
            trie,
            &mut levels,
            (1, root_end),
            (&mut *words, sink),
            base,
        );
        *words.last_mut().unwrap() = 0;
        self.parser.truncate(base_rows as usize);
        self.text.truncate(base);
        self.levels = levels;
    }

    /// The loop of [`walk_trie`](Self::walk_trie) over the trie nodes
    /// `from..to` (whole subtrees, in pre-order), whose parents' states are
    /// in `levels`. `base`: where the trie path starts in `self.text`.
    #[inline(always)]
    fn walk_nodes<const DISTINCT: bool>(
        &mut self,
        grammar: &CompiledGrammar,
        trie: &TokenTrie,
        levels: &mut [Level],
        (from, to): (usize, usize),
        (words, sink): (&mut [u32], u32),
        base: usize,
    ) {
        let nodes = trie.nodes();
        let spec = &grammar.lexer;
        let class_of = &spec.class_of;
        let mut i = from;
        while i < to {
            let node = nodes[i];
            let d = node.depth as usize;
            let parent = levels[d - 1];
            let mut t = self
                .lexer
                .cached(parent.lex, class_of[node.byte as usize] as usize);
            let mut row = parent.row;
            if t >= UNKNOWN {
                if t == UNKNOWN {
                    t = self.lexer.next(spec, parent.lex, node.byte);
                }
                if t == DEAD {
                    let mut p = parent;
                    if p.after_lex == UNSET {
                        (p.after_lex, p.after_row) =
                            self.end_lexeme_in_walk(p.lex, p.row, p.rows, base + d - 1);
                        levels[d - 1] = p;
                    }
                    if p.after_lex != DEAD {
                        t = self.lexer.next(spec, p.after_lex, node.byte);
                        row = p.after_row;
                    }
                    if t == DEAD {
                        // Out of budget, every new step reads as dead: the
                        // walk is over (and its mask thrown away).
                        if crate::budget::stopped() {
                            break;
                        }
                        i = node.subtree_end as usize;
                        continue;
                    }
                }
            }
            let mut level = Level {
                lex: t,
                row,
                rows: self.parser.row_count() as u32,
                after_lex: UNSET,
                after_row: row,
            };
            let mut allowed = true;
            if DISTINCT {
                self.text[base + d - 1] = node.byte;
            }
            // Inside a string that may go on for more than a few bytes nothing
            // needs checking: most nodes of a walk.
            if DISTINCT
                && self.lexer.end_flags(spec, t)
                    & (EndFlags::CAN_END | EndFlags::IN_STRING | EndFlags::SHORT_REST)
                    != EndFlags::IN_STRING
            {
                match self.distinct_node(&levels[d - 1], &mut level, base + d) {
                    NodeCheck::Allow => {}
                    NodeCheck::Refuse => allowed = false,
                    NodeCheck::Prune => {
                        i = node.subtree_end as usize;
                        continue;
                    }
                }
            }
            if allowed {
                // Branch-free: a node without a token sets a bit in the sink word.
                let tok = node.token.min(sink) as usize;
                words[tok / 32] |= 1 << (tok % 32);
                if node.has_duplicates {
                    for dup in trie.duplicates(i as u32) {
                        words[dup as usize / 32] |= 1 << (dup % 32);
                    }
                }
            }
            levels[d] = level;
            i += 1;
        }
    }

    /// The checks of [`walk_trie`](Self::walk_trie) at a node, for grammars
    /// with distinct lists: the node's bytes end the output at `end`, in
    /// `level` (whose lexeme end this may fill in), below `parent`.
    ///
    /// Where the lexeme may end, it is ended now (the children would
    /// anyway). If the parser refuses it (a duplicate member), a token ending
    /// here is allowed only if the lexeme can go on to an end that is not
    /// refused: a string after its closing quote cannot (nor can its
    /// subtree), `1` may become `10`. Inside a number or a literal, every way
    /// on may lead to a duplicate (`50` heads only for `50e-1` when 5 is
    /// taken in 0..9), so that is looked into too. Kept out of the walk's
    /// loop, which other grammars run without it.
    #[inline(never)]
    fn distinct_node(&mut self, parent: &Level, level: &mut Level, end: usize) -> NodeCheck {
        let (t, row) = (level.lex, level.row);
        let mut after = None;
        if self.lexer.state(t).can_end() {
            let keep = if parent.after_lex != UNSET && parent.after_lex != DEAD {
                parent.rows.max(parent.after_row + 1)
            } else {
                parent.rows
            };
            let (a, r) = self.end_lexeme_in_walk(t, row, keep.max(row + 1), end);
            (level.after_lex, level.after_row) = (a, r);
            after = Some(a);
        }
        self.end_check(t, row, end, after)
    }

    /// The verdict on a token that leaves the lexer in state `t` after row
    /// `row`, the output ending at `end`, in a grammar with distinct lists.
    /// `after` is the next lexer start state if the lexeme was ended there
    /// (`DEAD`: the parser refused it), `None` if it cannot end there.
    pub(super) fn end_check(
        &mut self,
        t: u32,
        row: u32,
        end: usize,
        after: Option<u32>,
    ) -> NodeCheck {
        match after {
            Some(a) if a != DEAD => NodeCheck::Allow,
            Some(_) if self.lexer.is_closed(&self.grammar.lexer, t) => NodeCheck::Prune,
            None if !self.checks_ways_on(t) => NodeCheck::Allow,
            _ if self.ends_later(t, row, end, END_LOOKAHEAD) => NodeCheck::Allow,
            _ => NodeCheck::Refuse,
        }
    }
}
