//! [`CompiledGrammar`]: a [`Grammar`] lowered to lexer DFAs and parser tables.
//!
//! Lowering turns the IR's expressions into plain context-free productions:
//! a sequence becomes one production, a choice one production per
//! alternative, `X*` a left-recursive rule (`S -> S X | ε`, which Earley
//! parses in constant space per row) and bounded repetition a chain of
//! optional rules. Each distinct regex becomes one lexeme. An any-order list
//! ([`Expr::AnyOrder`]) is the one construct not spelled out: it becomes a
//! production whose body is a single any-order symbol, plus a rule per
//! member with and without the separator, and the parser tracks which
//! required members it has seen (see the parser's `AnyOrderSpec`).
//!
//! Compilation also checks the grammar: every referenced rule must exist,
//! every rule reachable from the start must be able to finish, and the
//! language must not be empty. Productions that can never finish are dropped,
//! so the parser never predicts into a dead end and the mask never allows a
//! lexeme that cannot lead to a complete output.

use crate::budget::{Budget, Stop};
use crate::error::GrammarError;
use crate::grammar::{Expr, Grammar, MemberCount, MAX_COUNTED_ONCE, MAX_MEMBER_COUNT};
use crate::hash::FxBuild;
use crate::lexer::{DfaCache, LexemeDfa, LexerCache, LexerSpec};
use crate::mask::TokenMask;
use crate::parser::{
    any_order_index, is_any_order, AnyOrderSpec, Parser, ParserTables, ANY_ORDER, END, NT,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// The DFA of a regex, or of the string set a
/// [`json_strings_key`](crate::grammar::json_strings_key) stands for.
fn pattern_dfa(pattern: &str, cache: &DfaCache) -> Result<LexemeDfa, GrammarError> {
    match crate::grammar::json_strings_of_key(pattern) {
        Some(values) if !values.is_empty() => LexemeDfa::strings(&values),
        _ => LexemeDfa::new(pattern, cache),
    }
}

/// Upper bound on the number of grammar symbols after lowering.
const MAX_SYMBOLS: usize = 2_000_000;

/// A grammar compiled into lexer DFAs and Earley tables. Immutable; share it
/// between matchers with an `Arc`.
#[derive(Clone, Debug)]
pub struct CompiledGrammar {
    pub(crate) lexer: LexerSpec,
    pub(crate) parser: ParserTables,
    /// Non-terminals after lowering (named and helper rules).
    rule_count: usize,
    /// The parser at the start, and the lexer states reachable from its
    /// first lexer state, built at compile time: every matcher starts from
    /// a copy of these.
    pub(crate) initial_parser: Parser,
    pub(crate) initial_lexer: LexerCache,
    pub(crate) initial_lex: u32,
    /// The budgets it was compiled under; its matchers start with them.
    budget: Budget,
    /// Work units compiling it took.
    compile_work: u64,
    /// Unique per compilation (clones share it): the owner of the states it
    /// adds to shared lazy DFAs (see [`crate::budget::owner`]).
    pub(crate) id: u64,
    /// The first mask, for the token environment (by id) that
    /// [`Matcher::prepare`](crate::Matcher::prepare) computed it in.
    initial_mask: std::sync::OnceLock<(u64, TokenMask)>,
    /// What [`Matcher::prepare`](crate::Matcher::prepare) found would not
    /// fit the mask budget, for the token environment (by id) it ran in.
    budget_warnings: std::sync::OnceLock<(u64, Box<[String]>)>,
    /// What each lexer state decides alone, for all its matchers.
    pub(crate) state_masks: crate::state_mask::SharedStateMasks,
}

/// How many lexer states to build ahead of time from the first lexer state.
const EAGER_LEXER_STATES: usize = 256;

struct Lowering<'g> {
    /// Where lexeme DFAs are looked up, and kept once built.
    cache: DfaCache,
    named: HashMap<&'g str, u32, FxBuild>,
    /// Non-terminals so far (named rules first, then helpers).
    nonterminals: usize,
    prods: Vec<(u32, Vec<u32>)>,
    /// Lexemes by pattern (or intersection key), and literals by text (so
    /// that the common ones, `:` and `,`, are not escaped at every use).
    lexeme_index: HashMap<Cow<'g, str>, u32, FxBuild>,
    literal_index: HashMap<&'g str, u32, FxBuild>,
    lexemes: Vec<LexemeDfa>,
    /// For a nullable lexeme: the rule `L?` standing in for it.
    nullable_wrapper: HashMap<u32, u32, FxBuild>,
    current_rule: &'g str,
    symbols: usize,
    /// Per any-order list: the member non-terminals without and with the
    /// separator, and which members are required.
    any_order: Vec<AnyOrderParts>,
}

struct AnyOrderParts {
    first: Vec<u32>,
    next: Vec<u32>,
    required: Vec<bool>,
    count: Option<MemberCount>,
}

impl AnyOrderParts {
    /// Whether the list has a property (productive, nullable) given which
    /// member non-terminals have it: all required members do, and enough
    /// members do to reach the minimum count.
    fn has(&self, flag: &[bool]) -> bool {
        let ok = |i: usize| flag[self.first[i] as usize];
        if !(0..self.first.len()).all(|i| !self.required[i] || ok(i)) {
            return false;
        }
        let Some(c) = &self.count else { return true };
        if c.prefix > 0 {
            // Positional members (none required): the first `k` can be
            // written, then the others if all of the prefix can.
            let p = c.prefix as usize;
            let k = (0..p).take_while(|&i| ok(i)).count();
            return k as u64 >= u64::from(c.min) || (k == p && (p..self.first.len()).any(&ok));
        }
        let nreq = self.required.iter().filter(|r| **r).count() as u64;
        if c.max.is_some_and(|m| u64::from(m) < nreq) {
            return false;
        }
        let repeatable = (0..self.first.len()).any(|i| !c.once[i] && ok(i));
        let once = (0..self.first.len())
            .filter(|&i| c.once[i] && ok(i))
            .count() as u64;
        repeatable || once >= u64::from(c.min)
    }
}

/// True if symbol `s` has the property `flag` holds for non-terminals (and
/// lexemes have `lexeme`); see [`AnyOrderParts::has`] for any-order lists.
fn symbol_has(s: u32, flag: &[bool], lexeme: bool, any_order: &[AnyOrderParts]) -> bool {
    if is_any_order(s) {
        any_order[any_order_index(s)].has(flag)
    } else if s & NT == 0 {
        lexeme
    } else {
        flag[(s & !NT) as usize]
    }
}

impl<'g> Lowering<'g> {
    /// A new helper non-terminal; `_kind` says what it stands for.
    fn fresh(&mut self, _kind: &str) -> u32 {
        self.nonterminals += 1;
        self.nonterminals as u32 - 1
    }

    fn prod(&mut self, lhs: u32, rhs: Vec<u32>) -> Result<(), GrammarError> {
        self.symbols += rhs.len() + 1;
        if self.symbols > MAX_SYMBOLS {
            return Err(GrammarError::TooLarge(format!(
                "more than {MAX_SYMBOLS} symbols after expanding repetitions; lower the repetition bounds"
            )));
        }
        self.prods.push((lhs, rhs));
        Ok(())
    }

    fn lexeme(&mut self, pattern: &'g str) -> Result<u32, GrammarError> {
        let cache = self.cache.clone();
        self.lexeme_with(Cow::Borrowed(pattern), |p| pattern_dfa(p, &cache))
    }

    fn literal(&mut self, text: &'g str) -> Result<u32, GrammarError> {
        let id = match self.literal_index.get(text) {
            Some(&id) => id,
            None => {
                let pattern = regex_syntax::escape(text);
                let cache = self.cache.clone();
                let id = self.lexeme_id(Cow::Owned(pattern), |p| LexemeDfa::new(p, &cache))?;
                self.literal_index.insert(text, id);
                id
            }
        };
        self.nullable_symbol(id)
    }

    fn intersection(
        &mut self,
        all: &'g [String],
        except: &'g [String],
    ) -> Result<u32, GrammarError> {
        if all.is_empty() {
            return Err(GrammarError::InvalidRegex {
                pattern: format!("intersection except {except:?}"),
                message: "an intersection needs at least one positive regex".into(),
            });
        }
        if all.len() == 1 && except.is_empty() {
            return self.lexeme(&all[0]);
        }
        // The key cannot collide with a regex: NUL is not valid regex text
        // outside an escape.
        let mut key = String::from("\0and");
        for p in all {
            key.push('\0');
            key.push_str(p);
        }
        key.push_str("\0\0not");
        for p in except {
            key.push('\0');
            key.push_str(p);
        }
        let cache = self.cache.clone();
        self.lexeme_with(Cow::Owned(key), |key| {
            cache.get_or_build(key, || Self::intersect(all, except, &cache))
        })
    }

    fn json_strings(&mut self, values: &'g [String]) -> Result<u32, GrammarError> {
        if values.is_empty() {
            return Err(GrammarError::EmptyLanguage(
                "a set of JSON strings with no string".into(),
            ));
        }
        let key = crate::grammar::json_strings_key(values);
        self.lexeme_with(Cow::Owned(key), |_| LexemeDfa::strings(values))
    }

    /// The intersection's DFA, built (see [`LexemeDfa::intersect`]).
    fn intersect(
        all: &[String],
        except: &[String],
        cache: &DfaCache,
    ) -> Result<LexemeDfa, GrammarError> {
        let a = all
            .iter()
            .map(|p| pattern_dfa(p, cache))
            .collect::<Result<Vec<_>, _>>()?;
        let e = except
            .iter()
            .map(|p| pattern_dfa(p, cache))
            .collect::<Result<Vec<_>, _>>()?;
        let name = format!("all of {all:?} and none of {except:?}");
        LexemeDfa::intersect(&a, &e, &name).map_err(|e| match e {
            GrammarError::EmptyRegex { .. } => GrammarError::EmptyRegex {
                pattern: format!("all of {all:?} and none of {except:?}"),
            },
            e => e,
        })
    }

    fn lexeme_with(
        &mut self,
        key: Cow<'g, str>,
        build: impl FnOnce(&str) -> Result<LexemeDfa, GrammarError>,
    ) -> Result<u32, GrammarError> {
        let id = self.lexeme_id(key, build)?;
        self.nullable_symbol(id)
    }

    /// The lexeme under `key`, made by `build` (given the key) if new.
    fn lexeme_id(
        &mut self,
        key: Cow<'g, str>,
        build: impl FnOnce(&str) -> Result<LexemeDfa, GrammarError>,
    ) -> Result<u32, GrammarError> {
        Ok(match self.lexeme_index.get(&*key) {
            Some(&id) => id,
            None => {
                let dfa = build(&key)?;
                let id = self.lexemes.len() as u32;
                self.lexemes.push(dfa);
                self.lexeme_index.insert(key, id);
                id
            }
        })
    }

    /// The symbol for lexeme `id`: itself, or `L | ε` for a nullable one.
    fn nullable_symbol(&mut self, id: u32) -> Result<u32, GrammarError> {
        if !self.lexemes[id as usize].nullable {
            return Ok(id);
        }
        // The lexer never matches "", so `L` becomes `L | ε`.
        if let Some(&w) = self.nullable_wrapper.get(&id) {
            return Ok(NT | w);
        }
        let w = self.fresh("opt");
        self.prod(w, vec![id])?;
        self.prod(w, vec![])?;
        self.nullable_wrapper.insert(id, w);
        Ok(NT | w)
    }

    /// The symbols of `e` laid out in a production body.
    fn body(&mut self, e: &'g Expr, out: &mut Vec<u32>) -> Result<(), GrammarError> {
        match e {
            Expr::Empty => {}
            Expr::Seq(items) => {
                for i in items {
                    self.body(i, out)?;
                }
            }
            _ => out.push(self.symbol(e)?),
        }
        Ok(())
    }

    /// One symbol standing for `e`.
    fn symbol(&mut self, e: &'g Expr) -> Result<u32, GrammarError> {
        Ok(match e {
            Expr::Regex(p) => self.lexeme(p)?,
            Expr::Literal(s) => self.literal(s)?,
            Expr::JsonStrings(values) => self.json_strings(values)?,
            Expr::Intersect { all, except } => match self.intersection(all, except) {
                // An empty intersection is a symbol with no production: the
                // alternatives using it are pruned like any unproductive one.
                Err(GrammarError::EmptyRegex { .. }) if all.len() + except.len() > 1 => {
                    NT | self.fresh("none")
                }
                r => r?,
            },
            Expr::Rule(name) => match self.named.get(name.as_str()) {
                Some(&id) => NT | id,
                None => {
                    return Err(GrammarError::UndefinedRule {
                        rule: self.current_rule.to_string(),
                        undefined: name.clone(),
                    })
                }
            },
            Expr::Empty | Expr::Seq(_) => {
                let n = self.fresh("seq");
                let mut b = Vec::new();
                self.body(e, &mut b)?;
                self.prod(n, b)?;
                NT | n
            }
            Expr::Choice(alts) => {
                let n = self.fresh("alt");
                for a in alts {
                    let mut b = Vec::new();
                    self.body(a, &mut b)?;
                    self.prod(n, b)?;
                }
                NT | n
            }
            Expr::Repeat { expr, min, max } => {
                if let Some(m) = max {
                    if m < min {
                        return Err(GrammarError::EmptyLanguage(format!(
                            "{} (repetition {{{min},{m}}} has max < min)",
                            self.current_rule
                        )));
                    }
                }
                let x = self.symbol(expr)?;
                let n = self.fresh("rep");
                let mut b = vec![x; *min as usize];
                match max {
                    None => {
                        // S -> S x | ε
                        let s = self.fresh("star");
                        self.prod(s, vec![NT | s, x])?;
                        self.prod(s, vec![])?;
                        b.push(NT | s);
                    }
                    Some(m) if *m > *min => {
                        // O_k -> ε | x O_{k-1}
                        let mut tail: Option<u32> = None;
                        for _ in 0..(m - min) {
                            let o = self.fresh("upto");
                            self.prod(o, vec![])?;
                            let mut r = vec![x];
                            if let Some(t) = tail {
                                r.push(NT | t);
                            }
                            self.prod(o, r)?;
                            tail = Some(o);
                        }
                        b.push(NT | tail.unwrap());
                    }
                    Some(_) => {}
                }
                self.prod(n, b)?;
                NT | n
            }
            Expr::AnyOrder {
                members,
                required,
                separator,
                count,
            } => {
                let nreq = required.iter().filter(|r| **r).count();
                if let Some(c) = count {
                    let nonce = c.once.iter().filter(|o| **o).count();
                    let cap = c.max.unwrap_or(c.min);
                    let once_ok = c.once.len() == members.len()
                        && required.iter().zip(&c.once).all(|(r, o)| !r || *o)
                        && (!c.distinct || !c.once.iter().chain(required).any(|&f| f))
                        && c.prefix as usize <= members.len()
                        && (c.prefix == 0 || !required.iter().any(|&r| r));
                    if !once_ok || nonce > MAX_COUNTED_ONCE || cap > MAX_MEMBER_COUNT {
                        return Err(GrammarError::TooLarge(format!(
                            "a counted any-order list in rule {} has {} members, {nonce} of them \
                             at most once, and a count bound of {cap}; it needs one `once` flag \
                             per member (set for each required one, and none in a distinct \
                             list, whose members may not be required either), at most \
                             {MAX_COUNTED_ONCE} set, and bounds up to {MAX_MEMBER_COUNT}",
                            self.current_rule,
                            members.len(),
                        )));
                    }
                }
                if members.len() != required.len() || nreq > 63 {
                    return Err(GrammarError::TooLarge(format!(
                        "an any-order list in rule {} has {} members and {} required flags, \
                         {nreq} of them set; it needs one flag per member and at most 63 set",
                        self.current_rule,
                        members.len(),
                        required.len()
                    )));
                }
                let n = self.fresh("anyorder");
                let mut sep = Vec::new();
                self.body(separator, &mut sep)?;
                let (mut first, mut next) = (Vec::new(), Vec::new());
                for m in members {
                    let f = self.fresh("member");
                    let mut b = Vec::new();
                    self.body(m, &mut b)?;
                    self.prod(f, b)?;
                    let x = self.fresh("sepmember");
                    let mut b = sep.clone();
                    b.push(NT | f);
                    self.prod(x, b)?;
                    first.push(f);
                    next.push(x);
                }
                let id = self.any_order.len() as u32;
                self.any_order.push(AnyOrderParts {
                    first,
                    next,
                    required: required.clone(),
                    count: count.clone(),
                });
                self.prod(n, vec![NT | ANY_ORDER | id])?;
                NT | n
            }
        })
    }
}

/// How to compile a [`CompiledGrammar`]: the [`Budget`]s, and the
/// [`DfaCache`] that lexeme DFAs are looked up in and kept in (by default
/// a fresh one, so nothing is shared with other compilations).
///
/// ```
/// use formwork::{regex_grammar, Budget, CompiledGrammar, DfaCache};
/// let cache = DfaCache::default();
/// let g = regex_grammar(r"[0-9]{4}-[0-9]{2}")?;
/// let compiled = CompiledGrammar::builder()
///     .budget(Budget::new().compile(1_000_000))
///     .cache(&cache)
///     .build(&g)?;
/// assert_eq!(compiled.lexeme_count(), 1);
/// # Ok::<(), formwork::GrammarError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CompileBuilder {
    budget: Budget,
    cache: Option<DfaCache>,
}

impl CompileBuilder {
    /// The default budgets and a fresh cache.
    pub fn new() -> CompileBuilder {
        CompileBuilder::default()
    }

    /// Compiles within `budget`'s compile budget; matchers of the grammar
    /// start with `budget`'s mask and completion budgets.
    pub fn budget(&mut self, budget: Budget) -> &mut CompileBuilder {
        self.budget = budget;
        self
    }

    /// Looks lexeme DFAs up in `cache` and keeps new ones there (the
    /// handle is cloned: the cache is shared, not copied).
    pub fn cache(&mut self, cache: &DfaCache) -> &mut CompileBuilder {
        self.cache = Some(cache.clone());
        self
    }

    /// Compiles `grammar` (see [`CompiledGrammar::new`]).
    pub fn build(&self, grammar: &Grammar) -> Result<CompiledGrammar, GrammarError> {
        match &self.cache {
            Some(cache) => CompiledGrammar::compile(grammar, self.budget, cache),
            None => CompiledGrammar::compile(grammar, self.budget, &DfaCache::default()),
        }
    }
}

impl CompiledGrammar {
    /// Keeps `mask` as the first mask in the token environment `env`
    /// (the first one set stays).
    pub(crate) fn set_initial_mask(&self, env: u64, mask: TokenMask) {
        let _ = self.initial_mask.set((env, mask));
    }

    pub(crate) fn set_budget_warnings(&self, env: u64, warnings: Vec<String>) {
        let _ = self.budget_warnings.set((env, warnings.into()));
    }

    /// What [`Matcher::prepare`](crate::Matcher::prepare) found in the
    /// token environment `env` (by id); see `TokenEnv::budget_warnings`.
    pub(crate) fn budget_warnings_in(&self, env: u64) -> &[String] {
        match self.budget_warnings.get() {
            Some((e, w)) if *e == env => w,
            _ => &[],
        }
    }

    /// The first mask in the token environment `env`, if known.
    pub(crate) fn initial_mask(&self, env: u64) -> Option<&TokenMask> {
        self.initial_mask
            .get()
            .filter(|(e, _)| *e == env)
            .map(|(_, m)| m)
    }

    /// A [`CompileBuilder`]: the budgets and the lexeme DFA cache to
    /// compile with.
    pub fn builder() -> CompileBuilder {
        CompileBuilder::new()
    }

    /// Compiles `grammar`: builds each lexeme's DFA and the parser tables,
    /// and checks that the grammar is well formed. Uses the default
    /// [`Budget`]s (see [`with_budget`](Self::with_budget)) and a fresh
    /// [`DfaCache`] (see [`builder`](Self::builder) and
    /// [`TokenEnv::compile`](crate::TokenEnv::compile) to share one).
    pub fn new(grammar: &Grammar) -> Result<CompiledGrammar, GrammarError> {
        Self::builder().build(grammar)
    }

    /// [`new`](Self::new) within `budget`'s compile budget; matchers of the
    /// grammar start with `budget`'s mask and completion budgets.
    ///
    /// ```
    /// use formwork::{regex_grammar, Budget, CompiledGrammar, GrammarError};
    /// let g = regex_grammar(r"(?:[a-z]+@x){2}&?")?;
    /// let err = CompiledGrammar::with_budget(&g, Budget::new().compile(10)).unwrap_err();
    /// assert!(matches!(err, GrammarError::BudgetExceeded { budget: 10, .. }));
    /// assert!(CompiledGrammar::with_budget(&g, Budget::new()).is_ok());
    /// # Ok::<(), GrammarError>(())
    /// ```
    pub fn with_budget(grammar: &Grammar, budget: Budget) -> Result<CompiledGrammar, GrammarError> {
        Self::builder().budget(budget).build(grammar)
    }

    fn compile(
        grammar: &Grammar,
        budget: Budget,
        cache: &DfaCache,
    ) -> Result<CompiledGrammar, GrammarError> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (built, done) =
            crate::budget::metered(budget.get_compile(), id, || Self::build(grammar, cache));
        match done.stop {
            None => built.map(|mut g| {
                g.budget = budget;
                g.compile_work = done.used;
                g.id = id;
                g
            }),
            // What was built after the stop may be wrong: only the stop counts.
            Some(Stop::Budget { lexeme }) => Err(GrammarError::BudgetExceeded {
                lexeme,
                budget: budget.get_compile(),
            }),
            Some(Stop::Full { lexeme, limit }) => Err(GrammarError::RegexTooLarge {
                pattern: lexeme,
                message: format!("its DFA needs more than {} MiB", limit >> 20),
            }),
        }
    }

    /// The budgets this grammar was compiled under, which its matchers
    /// start with.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Work units compiling this grammar used (to size
    /// [`Budget::compile`]). Lexeme DFAs another grammar built before are
    /// shared, and not counted again.
    pub fn compile_work(&self) -> u64 {
        self.compile_work
    }

    fn build(grammar: &Grammar, cache: &DfaCache) -> Result<CompiledGrammar, GrammarError> {
        let mut lw = Lowering {
            cache: cache.clone(),
            named: HashMap::default(),
            nonterminals: 0,
            prods: Vec::new(),
            lexeme_index: HashMap::default(),
            literal_index: HashMap::default(),
            lexemes: Vec::new(),
            nullable_wrapper: HashMap::default(),
            current_rule: "",
            symbols: 0,
            any_order: Vec::new(),
        };
        for (name, _) in &grammar.rules {
            if !lw.named.contains_key(name.as_str()) {
                let id = lw.fresh("named");
                lw.named.insert(name, id);
            }
        }
        let start = *lw
            .named
            .get(grammar.start.as_str())
            .ok_or(GrammarError::NoStart)?;
        for (name, e) in &grammar.rules {
            lw.current_rule = name;
            let lhs = lw.named[name.as_str()];
            match e {
                Expr::Choice(alts) => {
                    for a in alts {
                        let mut b = Vec::new();
                        lw.body(a, &mut b)?;
                        lw.prod(lhs, b)?;
                    }
                }
                _ => {
                    let mut b = Vec::new();
                    lw.body(e, &mut b)?;
                    lw.prod(lhs, b)?;
                }
            }
        }
        let ignore = match &grammar.ignore {
            Some(p) => {
                lw.current_rule = "<ignore>";
                let dfa = LexemeDfa::new(p, &lw.cache)?;
                let id = lw.lexemes.len() as u32;
                lw.lexemes.push(dfa);
                Some(id)
            }
            None => None,
        };
        let nnt = lw.nonterminals;

        // Productive non-terminals (can derive a finite string).
        let mut productive = vec![false; nnt];
        loop {
            if !crate::budget::charge(lw.prods.len() as u64) {
                return Err(budget_spent());
            }
            let mut changed = false;
            for (lhs, rhs) in &lw.prods {
                if !productive[*lhs as usize]
                    && rhs
                        .iter()
                        .all(|&s| symbol_has(s, &productive, true, &lw.any_order))
                {
                    productive[*lhs as usize] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if !productive[start as usize] {
            return Err(GrammarError::EmptyLanguage(grammar.start.clone()));
        }
        let prods: Vec<(u32, Vec<u32>)> = lw
            .prods
            .into_iter()
            .filter(|(l, rhs)| {
                productive[*l as usize]
                    && rhs
                        .iter()
                        .all(|&s| symbol_has(s, &productive, true, &lw.any_order))
            })
            .collect();
        // Reachability from the start, to report named rules that can never finish.
        let mut reachable = vec![false; nnt];
        reachable[start as usize] = true;
        let mut work = vec![start];
        let mut by_lhs: Vec<Vec<usize>> = vec![Vec::new(); nnt];
        for (i, (l, _)) in prods.iter().enumerate() {
            by_lhs[*l as usize].push(i);
        }
        while let Some(n) = work.pop() {
            for &pi in &by_lhs[n as usize] {
                for &s in &prods[pi].1 {
                    let targets: Vec<u32> = if is_any_order(s) {
                        let a = &lw.any_order[any_order_index(s)];
                        a.first.iter().chain(&a.next).copied().collect()
                    } else if s & NT != 0 {
                        vec![s & !NT]
                    } else {
                        Vec::new()
                    };
                    for x in targets {
                        if !reachable[x as usize] {
                            reachable[x as usize] = true;
                            work.push(x);
                        }
                    }
                }
            }
        }
        // A named rule used (in the raw grammar) from a reachable rule but unproductive.
        for (name, &id) in &lw.named {
            if !grammar.prune_unproductive
                && !productive[id as usize]
                && grammar_mentions_from_reachable(grammar, name, &lw.named, &reachable)
            {
                return Err(GrammarError::UnproductiveRule(name.to_string()));
            }
        }

        // Nullable non-terminals.
        let mut nullable = vec![false; nnt + 1];
        loop {
            if !crate::budget::charge(prods.len() as u64) {
                return Err(budget_spent());
            }
            let mut changed = false;
            for (lhs, rhs) in &prods {
                if !nullable[*lhs as usize]
                    && rhs
                        .iter()
                        .all(|&s| symbol_has(s, &nullable, false, &lw.any_order))
                {
                    nullable[*lhs as usize] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Flatten, with the synthetic start S' -> S first.
        let s_prime = nnt as u32;
        nullable[nnt] = nullable[start as usize];
        let mut rhs_flat = Vec::new();
        let mut lhs_at = Vec::new();
        let mut prods_of: Vec<Vec<u32>> = vec![Vec::new(); nnt + 1];
        let mut emit = |lhs: u32, rhs: &[u32], rhs_flat: &mut Vec<u32>, lhs_at: &mut Vec<u32>| {
            prods_of[lhs as usize].push(rhs_flat.len() as u32);
            for &s in rhs {
                rhs_flat.push(s);
                lhs_at.push(lhs);
            }
            rhs_flat.push(END);
            lhs_at.push(lhs);
        };
        emit(s_prime, &[NT | start], &mut rhs_flat, &mut lhs_at);
        for (lhs, rhs) in &prods {
            if reachable[*lhs as usize] {
                emit(*lhs, rhs, &mut rhs_flat, &mut lhs_at);
            }
        }
        let lexer = LexerSpec::new(lw.lexemes, ignore, grammar.separate_words);
        let parser = ParserTables {
            rhs: rhs_flat,
            lhs_at,
            prods_of,
            nullable,
            start_prod: 0,
            ignore,
            has_distinct: lw
                .any_order
                .iter()
                .any(|a| a.count.as_ref().is_some_and(|c| c.distinct)),
            any_order: lw
                .any_order
                .into_iter()
                .map(|a| AnyOrderSpec::new(a.first, a.next, &a.required, a.count.as_ref()))
                .collect(),
            rest_at: std::sync::OnceLock::new(),
        };
        let initial_parser = Parser::new(&parser);
        let mut initial_lexer = LexerCache::new(&lexer);
        let initial_lex = initial_lexer.start_state(&lexer, initial_parser.allowed(0), None, false);
        initial_lexer.explore(&lexer, initial_lex, EAGER_LEXER_STATES);
        Ok(CompiledGrammar {
            lexer,
            parser,
            rule_count: nnt + 1,
            initial_parser,
            initial_lexer,
            initial_lex,
            budget: Budget::new(),
            compile_work: 0,
            id: 0,
            initial_mask: std::sync::OnceLock::new(),
            budget_warnings: std::sync::OnceLock::new(),
            state_masks: Default::default(),
        })
    }

    /// Number of distinct lexemes (the ignore lexeme included).
    pub fn lexeme_count(&self) -> usize {
        self.lexer.lexemes.len()
    }

    /// Total number of live DFA states over all lexemes.
    pub fn dfa_state_count(&self) -> usize {
        self.lexer.lexemes.iter().map(|l| l.state_count()).sum()
    }

    /// Number of non-terminals after lowering (named and helper rules).
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// Number of productions after lowering.
    pub fn production_count(&self) -> usize {
        self.parser.prods_of.iter().map(|p| p.len()).sum()
    }
}

/// The error of a build that ran out of budget ([`CompiledGrammar::with_budget`]
/// replaces it with one that says which budget).
fn budget_spent() -> GrammarError {
    GrammarError::BudgetExceeded {
        lexeme: None,
        budget: 0,
    }
}

/// True if rule `name` is referenced by the body of some reachable named rule.
fn grammar_mentions_from_reachable(
    g: &Grammar,
    name: &str,
    named: &HashMap<&str, u32, FxBuild>,
    reachable: &[bool],
) -> bool {
    fn mentions(e: &Expr, name: &str) -> bool {
        match e {
            Expr::Rule(n) => n == name,
            Expr::Seq(v) | Expr::Choice(v) => v.iter().any(|x| mentions(x, name)),
            Expr::Repeat { expr, .. } => mentions(expr, name),
            Expr::AnyOrder {
                members, separator, ..
            } => members.iter().any(|x| mentions(x, name)) || mentions(separator, name),
            _ => false,
        }
    }
    g.rules
        .iter()
        .any(|(r, e)| reachable[named[r.as_str()] as usize] && mentions(e, name))
        || name == g.start
}
