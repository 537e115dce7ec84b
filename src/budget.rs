//! Work budgets: how much work compiling a grammar, computing one mask and
//! searching for a completion may do before giving up with an error. The
//! user-facing account is on [`Budget`].
//!
//! # How the work is counted
//!
//! Lazily built tables are shared between matchers (and, through the
//! lexeme DFA cache, between grammars) and are reached through `&self` deep
//! inside the lexer, so the units are charged to a meter that the
//! operation installs for its own duration on the current thread
//! (`metered`); code running outside any operation (a test building a
//! DFA directly) is not metered. When a charge finds the budget spent, the
//! meter stops: every lazy computation from then on reports "no state"
//! without caching that answer anywhere, so nothing computed after the stop
//! outlives the operation, and the operation returns its error.

/// Work budgets for the stages of constrained decoding, in work units.
///
/// Most of the engine's work is bounded by the grammar and the vocabulary:
/// a mask walks the token trie once. What is not bounded is the work done on
/// first use, inside the lexeme DFAs built lazily (see `lexer::lazy`): one
/// step of a DFA made by subset construction costs as much as the NFA states
/// it tracks, and an intersection of patterns searches for a way to a match
/// before handing out a state. A hostile regex or schema can make one mask
/// build millions of such states. A `Budget` caps that work per operation,
/// counted in *work units*: one per NFA state or parser item touched, one
/// per part stepped in an intersection, more per state of a completion
/// search; on a current x86 core a unit is 1 to 10 ns of work. Past the cap
/// the operation stops and returns a typed error naming the constraint's
/// lexeme and the budget, instead of running for minutes.
///
/// For scale (Llama-3 tokenizer): the costliest mask of a case in the
/// project's `regex.jsonl` uses about 11,000 units, in 400 JSONSchemaBench
/// schemas about 10 million; JSONSchemaBench `Handwritten/allany19`, an
/// intersection of patterns under `not`s, 41 million. Compiling takes at
/// most 1.5 million units for those 400 schemas, and 383 million for
/// `Handwritten/string5`, whose intersections of patterns are empty and must
/// be searched through to know it. The defaults (500 million for compiling,
/// 200 million for a mask, 100 million for a completion search) leave room
/// above that, and stop a runaway operation within seconds.
///
/// Budgets are deterministic: the same grammar, vocabulary and text use the
/// same units on every machine, so an error reproduces exactly.
///
/// ```
/// use formwork::Budget;
/// let b = Budget::new().mask(10_000_000);
/// assert_eq!(b.get_mask(), 10_000_000);
/// assert_eq!(b.get_compile(), Budget::new().get_compile());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    compile: u64,
    mask: u64,
    completion: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

impl Budget {
    /// Default units for compiling a grammar.
    pub const DEFAULT_COMPILE: u64 = 500_000_000;
    /// Default units for one mask, commit or forced-bytes check.
    pub const DEFAULT_MASK: u64 = 200_000_000;
    /// Default units for one completion search.
    pub const DEFAULT_COMPLETION: u64 = 100_000_000;

    /// The default budgets (see [`Budget`] for what they leave room for).
    pub const fn new() -> Budget {
        Budget {
            compile: Self::DEFAULT_COMPILE,
            mask: Self::DEFAULT_MASK,
            completion: Self::DEFAULT_COMPLETION,
        }
    }

    /// No budget at all (each stage may run as long as it takes).
    pub const fn unlimited() -> Budget {
        Budget {
            compile: u64::MAX,
            mask: u64::MAX,
            completion: u64::MAX,
        }
    }

    /// Units for compiling a grammar
    /// ([`CompiledGrammar::with_budget`](crate::CompiledGrammar::with_budget)):
    /// lexeme DFAs, intersections' liveness searches, parser tables.
    pub const fn compile(mut self, units: u64) -> Budget {
        self.compile = units;
        self
    }

    /// Units for one matcher operation: a mask, a commit, an acceptance or
    /// forced-bytes check ([`Matcher::try_compute_mask`](crate::Matcher::try_compute_mask)).
    pub const fn mask(mut self, units: u64) -> Budget {
        self.mask = units;
        self
    }

    /// Units for one completion search
    /// ([`Matcher::try_shortest_completion`](crate::Matcher::try_shortest_completion)).
    pub const fn completion(mut self, units: u64) -> Budget {
        self.completion = units;
        self
    }

    pub const fn get_compile(&self) -> u64 {
        self.compile
    }

    pub const fn get_mask(&self) -> u64 {
        self.mask
    }

    pub const fn get_completion(&self) -> u64 {
        self.completion
    }
}

/// The stage whose budget ran out (see [`Budget`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Compile,
    Mask,
    Completion,
}

impl Stage {
    /// The [`Budget`] method and CLI flag that raise this stage's budget.
    pub fn knob(self) -> &'static str {
        match self {
            Stage::Compile => "Budget::compile, CLI --compile-budget",
            Stage::Mask => "Budget::mask, CLI --mask-budget",
            Stage::Completion => "Budget::completion, CLI --completion-budget",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Compile => "compile",
            Stage::Mask => "mask",
            Stage::Completion => "completion",
        })
    }
}

/// Why a metered operation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The budget ran out; `lexeme` names the lexeme being built then, if
    /// the units were spent inside one.
    Budget { lexeme: Option<String> },
    /// A lazily built lexeme DFA reached its size limit (bytes).
    Full { lexeme: String, limit: usize },
}

/// What a metered operation did (see [`metered`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    /// Units charged.
    pub(crate) used: u64,
    /// Why it stopped, if it did.
    pub(crate) stop: Option<Stop>,
}

#[derive(Debug)]
struct Meter {
    limit: u64,
    /// Who the work is for (see [`owner`]).
    owner: u64,
    done: Outcome,
}

thread_local! {
    /// The meter of the operation running on this thread, if any.
    static CURRENT: std::cell::RefCell<Option<Meter>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` as one operation for `owner` (a compiled grammar: see
/// [`owner`]) with a budget of `limit` units, charged for the work done on
/// this thread (see the [module docs](self)). Operations nest: an inner
/// one counts against its own budget only, and the outer one's count
/// resumes after it.
pub(crate) fn metered<R>(limit: u64, owner: u64, f: impl FnOnce() -> R) -> (R, Outcome) {
    /// Puts the outer meter back if `f` unwinds.
    struct Restore(Option<Option<Meter>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                CURRENT.with(|c| *c.borrow_mut() = outer);
            }
        }
    }
    let fresh = Meter {
        limit,
        owner,
        done: Outcome::default(),
    };
    let mut restore = Restore(Some(CURRENT.with(|c| c.borrow_mut().replace(fresh))));
    let r = f();
    let outer = restore.0.take().flatten();
    let inner = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (r, inner.map(|m| m.done).unwrap_or_default())
}

/// Runs `f` on the current meter, if an operation installed one.
#[inline]
fn with_current<R>(f: impl FnOnce(&mut Meter) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f))
}

/// Charges `units` to the running operation: false if its budget is spent
/// (or it stopped for another reason), when the caller must give up
/// without caching what it was computing.
#[inline]
pub(crate) fn charge(units: u64) -> bool {
    with_current(|m| {
        if m.done.stop.is_some() {
            return false;
        }
        m.done.used = m.done.used.saturating_add(units);
        if m.done.used > m.limit {
            m.done.stop = Some(Stop::Budget { lexeme: None });
            return false;
        }
        true
    })
    .unwrap_or(true)
}

/// The owner of the running operation (0 outside any): the compiled
/// grammar it works for, so that a table shared by many grammars can give
/// each its own share of room.
#[inline]
pub(crate) fn owner() -> u64 {
    with_current(|m| m.owner).unwrap_or(0)
}

/// True if the running operation has stopped.
#[inline]
pub(crate) fn stopped() -> bool {
    with_current(|m| m.done.stop.is_some()).unwrap_or(false)
}

/// Stops the running operation because lexeme `name`'s DFA is full, at
/// `limit` bytes. With no operation running nothing is recorded (the
/// caller still reports "no state").
pub(crate) fn stop_full(name: &str, limit: usize) {
    with_current(|m| {
        if m.done.stop.is_none() {
            m.done.stop = Some(Stop::Full {
                lexeme: name.to_string(),
                limit,
            });
        }
    });
}

/// Names the lexeme whose step ran out of budget. The innermost step
/// names it first; an intersection, whose parts only it steps, names
/// itself instead (`outer`), as the lexeme the grammar knows.
pub(crate) fn blame(name: &str, outer: bool) {
    with_current(|m| {
        if let Some(Stop::Budget { lexeme }) = &mut m.done.stop {
            if lexeme.is_none() || outer {
                *lexeme = Some(name.to_string());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Charges count against the innermost operation only, a stop is
    /// sticky until its operation ends, and work outside any operation is
    /// free.
    #[test]
    fn meters_nest_and_stop() {
        assert!(charge(u64::MAX));
        let ((), outer) = metered(100, 1, || {
            assert!(charge(60));
            let ((), inner) = metered(10, 2, || {
                assert_eq!(owner(), 2);
                assert!(charge(10));
                assert!(!charge(1));
                blame("x", false);
                blame("y", false);
                assert!(stopped());
                assert!(!charge(0));
            });
            assert_eq!(inner.used, 11);
            assert_eq!(
                inner.stop,
                Some(Stop::Budget {
                    lexeme: Some("x".into())
                })
            );
            assert!(!stopped());
            assert_eq!(owner(), 1);
            assert!(charge(40));
            stop_full("z", 1 << 20);
            blame("w", true);
        });
        assert_eq!(outer.used, 100);
        assert_eq!(
            outer.stop,
            Some(Stop::Full {
                lexeme: "z".into(),
                limit: 1 << 20
            })
        );
        assert!(!stopped());
        // A panic inside an operation leaves no meter behind.
        let r = std::panic::catch_unwind(|| metered(1, 3, || panic!("boom")));
        assert!(r.is_err());
        assert!(charge(u64::MAX));
        assert_eq!(owner(), 0);
    }
}
