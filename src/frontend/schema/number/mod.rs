//! Exact regular expressions for JSON numbers under JSON Schema numeric
//! constraints (`type: integer`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `multipleOf`).
//!
//! # What is produced
//!
//! [`number_regex`] returns a list of regexes (Rust `regex-syntax`, each
//! matched as an anchored full match against one JSON number token) whose
//! **intersection** is the language: a token belongs to the language iff
//! every regex of the list matches it. This maps directly onto the grammar
//! IR's intersection lexeme. The first regex of the list only matches
//! syntactically valid JSON numbers
//! (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`); later ones may be
//! "loose" (accept non-number strings such as `1..2`) because they are only
//! meaningful intersected with the first.
//!
//! Splitting into an intersection keeps every regex small: a bound and a
//! `multipleOf` are independent automata whose product is left to the DFA
//! construction, and even a single bound is split in two (see below), which
//! avoids the quadratic blow-up of textbook "digit string ≥ N" regexes.
//!
//! # Exponent windows: the exact guarantee
//!
//! Let `E` be the value of the written exponent of a spelling (`0` when
//! there is none; leading zeros and `+` are allowed, so `1e007` has `E = 7`)
//! and call the constraint's *scales* the magnitude `q` of each non-zero
//! bound (`b = ±0.S × 10^q`: `q = 23` for `1e22`, `-29` for `1e-30`) and
//! the exponent `p` of the step (`m × 10^p`, see `multipleOf` below). A
//! spelling is decided **exactly** (it matches iff its value satisfies the
//! constraint, compared as decimals, never through `f64`) when
//!
//! * `-EXP_WINDOW <= E <= EXP_WINDOW` (20), whatever its mantissa: `-0`,
//!   `0.0`, trailing zeros (`5.000`), arbitrarily long mantissas and
//!   fractions, `1.5e1`, `150e-1`, `1E+1`, `1e007`,
//!   `100000000000000000000`; or
//! * `E` is within [`SCALE_WINDOW`] (10) of the step's exponent, or of a
//!   bound's magnitude when there is no step (no `type: integer` or
//!   `multipleOf`), whatever its mantissa (`maximum: 1e308` decides
//!   `1e307`, `10e306`, `0.99999999999999999999999e308` exactly); or
//! * its mantissa has at most [`SCALE_WINDOW`] digits before and at most
//!   [`SCALE_WINDOW`] digits after the point, whatever its exponent
//!   (`maximum: 1e308` accepts `1e150` and refuses `2e308`, `1e999999`);
//!   or
//! * its value is zero (`0e999999`, `-0.0E-7`).
//!
//! Other spellings (a long mantissa with an exponent far from 0 and from
//! the scales, such as `100000000000000000000000e150`, or
//! `1.0000000000000000000001e22` under `type: integer`) may be rejected,
//! never wrongly accepted: nothing whose value violates the constraint
//! ever matches, whatever its exponent. Exactness everywhere is impossible
//! for a regular language: it would compare the exponent's decimal value
//! with a count of mantissa digits.
//!
//! Each regex is a union of one alternative per exponent of its windows
//! and, for each gap `[lo, hi]` between and beyond them, one sound rule
//! whose mantissas satisfy the condition at every exponent of the gap. The
//! windows are `[-EXP_WINDOW, EXP_WINDOW]` and `[s - SCALE_WINDOW, s +
//! SCALE_WINDOW]` around scales `s`, merged: the bound regexes take every
//! scale, the step's regex only its own exponent (`[p - SCALE_WINDOW, p +
//! SCALE_WINDOW + c]`). Within a window the step's regex counts fraction
//! digits up to the window's distance from `p`, so windows around a far
//! bound (`1e300`) would cost it hundreds of counted digits per exponent,
//! and the lazy product of the regexes many times that. The gap rules:
//!
//! * magnitude at least `t` (`x >= b > 0`, or `x <= b < 0`): mantissas of
//!   magnitude `>= t - lo` (none when the gap is unbounded below);
//! * magnitude at most `t` (`0 < x <= b`, or `b <= x < 0`): mantissas of
//!   magnitude `<= t - hi` (none when unbounded above);
//! * multiple of `10^p` (or of `s × 10^p`): mantissas that are already one
//!   after a shift by `10^(lo - p)` (none when unbounded below);
//! * a sign with no bound on it and no integrality / `multipleOf` accepts
//!   every exponent (`minimum: 0` accepts `1e999`).
//!
//! With a window of ±`SCALE_WINDOW` around each scale, these rules accept
//! every short mantissa (at most `SCALE_WINDOW` digits on each side) whose
//! value satisfies the constraint, which is the third point above.
//! Windows around scales near 0 lie inside the window of 0, so typical
//! bounds (`|q| <= 10`) and steps cost nothing more.
//!
//! Bounds, steps and `const` numbers are limited to 10^±[`MAX_BOUND_MAGNITUDE`]
//! and [`MAX_BOUND_DIGITS`] significant digits (steps: [`MAX_STEP_DIGITS`]);
//! beyond that [`number_regex`] returns an error instead of a grammar.

//! # Construction
//!
//! Write a non-zero value as `±0.S × 10^q` where `S` is its significant
//! digit string (no leading or trailing zeros) and `q` its *magnitude*.
//! For a spelling with mantissa `I.F` and exponent `E`, the significant
//! digits are those of `I‖F` and the magnitude is `q_m + E` where `q_m` is
//! the mantissa's magnitude (`|I|` when `I != 0`, else minus the number of
//! leading zeros of `F`).
//!
//! * **Bounds.** For a positive bound `b = 0.S × 10^q`,
//!   `v >= b  ⟺  mag(v) >= q  ∧  (mag(v) >= q+1  ∨  S_v ≥lex S)`.
//!   The magnitude conditions depend only on the *position* of the decimal
//!   point and on `E`: for each `E` in the window the mantissa needs at least
//!   (or at most) a given number of integer digits or leading fraction
//!   zeros, one short counted repetition per exponent. The lexicographic
//!   condition ignores the point and the exponent entirely and is a chain of
//!   `|S|` nested alternatives. So each bound is two regexes, each of size
//!   `O(|S| + EXP_WINDOW + SCALE_WINDOW)` text; only the DFA counts digits
//!   up to the bound's magnitude (a `maximum: 1e300` costs 850–1700 states
//!   per regex, inherent to counting 300 digits). Strict bounds change only
//!   the lexicographic part.
//!   Negative bounds reuse the same construction on the absolute value, and
//!   signs are handled by disjoint classes: zero spellings (any sign, any
//!   exponent), positive non-zero, negative non-zero.
//! * **`multipleOf`.** `type: integer` is `multipleOf: 1` and is merged
//!   with an explicit `multipleOf` into their least common multiple. The
//!   step is normalised to `m × 10^p` with `m` not divisible by 10, and `m`
//!   is split as `s × r` where `s` divides `10^c` (a power of 2 or of 5)
//!   and `r` is coprime to 10. Three conditions; 1. and 2. form one regex,
//!   3. another:
//!   1. *the value is a multiple of `10^p`*: for each `E`, the mantissa
//!      may have at most `E - p` fraction digits other than trailing zeros
//!      (or must end with `p - E` zeros);
//!   2. *the `c` digits just left of position `p` form a multiple of `s`*
//!      (`s > 1` only): for each `E` a literal set of blocks (the `c`-digit
//!      multiples of `s`, at most 5000 of them) placed at a fixed distance
//!      from the decimal point, written as a trie;
//!   3. *the mantissa digits, read as one integer, are divisible by `r`*
//!      (`r > 1` only): since 10 is invertible modulo `r`, this neither
//!      depends on the decimal point nor on the exponent once 1. holds. It
//!      is the residue automaton (`r` states, `d: i → (10 i + d) mod r`)
//!      turned into a regex by state elimination. That regex grows quickly
//!      with `r`; above [`MAX_REGEX_BYTES`] an error is returned.
//!
//!   Supported in practice (measured by the `step_support` test): every
//!   power of ten (`1e-30` … `1e30`: ~2 KB), `s` up to 16 / 5⁶ with any
//!   power of ten (`0.25`, `0.125`, `0.0625`: 8 KB, `16`: 56 KB), `r = 3`
//!   (150 B) and `r = 7` (19 KB), so `3`, `7`, `12`, `1.5`, `0.3`, `2.5`.
//!   Rejected with [`NumberRegexError::TooLarge`]: `r` in {9, 11, 13, 37,
//!   …} (state elimination gives 110–400 KB) and `s >= 64` (too many
//!   blocks, e.g. `64`, `1024`).
//!
//! # Sizes
//!
//! Measured by the `sizes` test (total regex bytes; states of each regex's
//! unminimised dense DFA, built as the lexer does): `type: integer` 2.1 KB,
//! 960 states (the window costs `O(EXP_WINDOW²)` states: the DFA tracks the
//! position of the last non-zero fraction digit); integer in `[0, 100]`
//! 6.6 KB, [26, 313, 681, 960]; number in `[0.5, 99.99)` 8.8 KB,
//! [306, 758, 311, 962]; `maximum: 1e300` 7.7 KB, [844, 1721];
//! `maximum: 1.7976931348623157e308` 8.1 KB, [852, 9014]; integer
//! `> 9007199254740993` 7.3 KB, [352, 2614, 1263]; `multipleOf` `0.01`
//! 2.1 KB, 999; `0.25` 3.6 KB, 1138; `3` 2.2 KB, [960, 13]; `7` 21 KB,
//! [960, 77]; `12` 5.0 KB, [1068, 13].
//!
//! Emptiness (`Ok(None)`) is decided exactly: crossed bounds, equal bounds
//! with an exclusive side, or no multiple of the step between the bounds
//! (computed with exact decimal arithmetic).

mod decimal;

use decimal::floor_div;
pub(crate) use decimal::{Decimal, MAX_STEP_DIGITS};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// Written exponents `E` with `|E| <= EXP_WINDOW` are decided exactly.
pub(crate) const EXP_WINDOW: i64 = 20;
/// Written exponents within `SCALE_WINDOW` of a constraint's own scale (the
/// step's exponent; a bound's magnitude when there is no step) are decided
/// exactly, and so are mantissas with at most `SCALE_WINDOW` digits on each
/// side of the point, whatever their exponent.
pub(crate) const SCALE_WINDOW: i64 = 10;
/// Largest total size, in bytes, of the regexes returned for one constraint.
pub(crate) const MAX_REGEX_BYTES: usize = 100_000;
/// Most significant digits accepted in a bound.
pub(crate) const MAX_BOUND_DIGITS: usize = 100;
/// Largest `|q|` (the bound's decimal magnitude, `b = 0.S × 10^q`) accepted.
pub(crate) const MAX_BOUND_MAGNITUDE: i64 = 1000;
/// Largest number of `c`-digit blocks enumerated for the power-of-2/5 part
/// of a `multipleOf`.
const MAX_BLOCKS: usize = 5000;

/// The JSON number syntax (same as [`crate::frontend::json::NUMBER`]).
pub(crate) const NUMBER: &str = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?";
/// Every spelling of zero.
const ZERO: &str = r"-?0(?:\.0+)?(?:[eE][+-]?[0-9]+)?";
/// Any exponent, or none.
const EXP_ANY: &str = r"(?:[eE][+-]?[0-9]+)?";
/// Every non-zero unsigned mantissa.
const NONZERO_MANTISSA: &str = r"(?:[1-9][0-9]*(?:\.[0-9]+)?|0\.0*[1-9][0-9]*)";
/// An optional fraction.
const FRAC: &str = r"(?:\.[0-9]+)?";

/// A JSON Schema numeric constraint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NumberConstraint {
    /// `type: integer`: the value must be integral (`1.0`, `1e2`, `1.5e1`
    /// all count as integers).
    pub(crate) integer: bool,
    /// `(bound, exclusive)`.
    pub(crate) minimum: Option<(Decimal, bool)>,
    /// `(bound, exclusive)`.
    pub(crate) maximum: Option<(Decimal, bool)>,
    /// `multipleOf`, which must be `> 0`.
    pub(crate) multiple_of: Option<Decimal>,
}

impl NumberConstraint {
    /// Whether `x` satisfies the constraint (exact).
    pub(crate) fn contains(&self, x: &Decimal) -> bool {
        if self.integer && !x.is_integer() {
            return false;
        }
        if let Some((b, excl)) = &self.minimum {
            match x.cmp(b) {
                Ordering::Less => return false,
                Ordering::Equal if *excl => return false,
                _ => {}
            }
        }
        if let Some((b, excl)) = &self.maximum {
            match x.cmp(b) {
                Ordering::Greater => return false,
                Ordering::Equal if *excl => return false,
                _ => {}
            }
        }
        match &self.multiple_of {
            Some(m) => x.is_multiple_of(m),
            None => true,
        }
    }
}

/// The JSON Schema keyword an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    /// `minimum` / `exclusiveMinimum`.
    Minimum,
    /// `maximum` / `exclusiveMaximum`.
    Maximum,
    /// `multipleOf`.
    MultipleOf,
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Keyword::Minimum => "minimum",
            Keyword::Maximum => "maximum",
            Keyword::MultipleOf => "multipleOf",
        })
    }
}

/// A numeric constraint that cannot be compiled exactly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NumberRegexError {
    /// `multipleOf` is zero or negative.
    #[error("multipleOf must be greater than 0, got {0}")]
    StepNotPositive(String),
    /// `multipleOf` has more significant digits than supported.
    #[error("multipleOf {0} has more than {MAX_STEP_DIGITS} significant digits")]
    StepTooPrecise(String),
    /// `multipleOf` is too large or too small in magnitude.
    #[error("multipleOf {0} is beyond 10^±{MAX_BOUND_MAGNITUDE} in magnitude")]
    StepMagnitude(String),
    /// A bound has more significant digits than supported.
    #[error("{keyword} {value} has more than {MAX_BOUND_DIGITS} significant digits")]
    BoundTooPrecise {
        /// Which bound.
        keyword: Keyword,
        /// The bound.
        value: String,
    },
    /// A bound is too large or too small in magnitude.
    #[error("{keyword} {value} is beyond 10^±{MAX_BOUND_MAGNITUDE} in magnitude")]
    BoundMagnitude {
        /// Which bound.
        keyword: Keyword,
        /// The bound.
        value: String,
    },
    /// The regex would exceed [`MAX_REGEX_BYTES`].
    #[error(
        "{keyword} {value}: the exact number regex would exceed the limit of \
         {MAX_REGEX_BYTES} bytes ({size} units reached before giving up)"
    )]
    TooLarge {
        /// The keyword whose regex is too large.
        keyword: Keyword,
        /// Its value.
        value: String,
        /// The size reached before giving up: regex bytes, or for a
        /// `multipleOf` with a large power-of-2/5 factor, block digits.
        size: usize,
    },
}

impl NumberRegexError {
    /// The keyword the error is about (for its JSON pointer).
    pub(crate) fn keyword(&self) -> Keyword {
        match self {
            NumberRegexError::StepNotPositive(_)
            | NumberRegexError::StepTooPrecise(_)
            | NumberRegexError::StepMagnitude(_) => Keyword::MultipleOf,
            NumberRegexError::BoundTooPrecise { keyword, .. }
            | NumberRegexError::BoundMagnitude { keyword, .. }
            | NumberRegexError::TooLarge { keyword, .. } => *keyword,
        }
    }
}

/// The regexes whose intersection is exactly the JSON number spellings
/// satisfying `c` (within the exponent window, see the module docs).
///
/// `Ok(None)`: no number satisfies `c`. The first regex only matches valid
/// JSON numbers; the others are meaningful only intersected with it.
pub(crate) fn number_regex(c: &NumberConstraint) -> Result<Option<Vec<String>>, NumberRegexError> {
    for (kw, b) in [
        (Keyword::Minimum, &c.minimum),
        (Keyword::Maximum, &c.maximum),
    ] {
        if let Some((b, _)) = b {
            if b.digits.len() > MAX_BOUND_DIGITS {
                return Err(NumberRegexError::BoundTooPrecise {
                    keyword: kw,
                    value: b.to_string(),
                });
            }
            if b.point.abs() > MAX_BOUND_MAGNITUDE {
                return Err(NumberRegexError::BoundMagnitude {
                    keyword: kw,
                    value: b.to_string(),
                });
            }
        }
    }
    let step = step_of(c)?;
    if is_empty(c, step) {
        return Ok(None);
    }
    // The step's regex counts fraction digits up to each window's distance
    // from the step's exponent; windows around far bounds would make it
    // count hundreds, so it keeps to its own.
    let step_windows = step.map(|(m, p)| {
        let (a, b, _) = split_2_5(m);
        Windows::new([Windows::around(p, a.max(b) as i64)])
    });
    let bound_scales = [&c.minimum, &c.maximum]
        .into_iter()
        .flatten()
        .filter(|(b, _)| !b.is_zero())
        .map(|(b, _)| Windows::around(b.point, 0));
    let windows =
        Windows::new(bound_scales.chain(step_windows.iter().flat_map(|w| w.0.iter().copied())));
    let mut parts: Vec<(Keyword, String)> = Vec::new();
    if let Some((b, excl)) = &c.minimum {
        for p in lower_bound(b, *excl, &windows) {
            parts.push((Keyword::Minimum, p));
        }
    }
    if let Some((b, excl)) = &c.maximum {
        for p in upper_bound(b, *excl, &windows) {
            parts.push((Keyword::Maximum, p));
        }
    }
    if let Some((m, p)) = step {
        let own = step_windows.as_ref().unwrap_or(&windows);
        for part in step_parts(m, p, own).map_err(|size| NumberRegexError::TooLarge {
            keyword: Keyword::MultipleOf,
            value: step_text(c),
            size,
        })? {
            parts.push((Keyword::MultipleOf, part));
        }
    }
    if parts.is_empty() {
        parts.push((Keyword::MultipleOf, NUMBER.to_string()));
    }
    let mut seen = BTreeSet::new();
    parts.retain(|(_, p)| seen.insert(p.clone()));
    // A syntactically strict regex first: the first part of each group is.
    let size: usize = parts.iter().map(|(_, p)| p.len()).sum();
    if size > MAX_REGEX_BYTES {
        let (kw, _) = parts.iter().max_by_key(|(_, p)| p.len()).unwrap();
        let value = match kw {
            Keyword::Minimum => c.minimum.as_ref().unwrap().0.to_string(),
            Keyword::Maximum => c.maximum.as_ref().unwrap().0.to_string(),
            Keyword::MultipleOf => step_text(c),
        };
        return Err(NumberRegexError::TooLarge {
            keyword: *kw,
            value,
            size,
        });
    }
    Ok(Some(parts.into_iter().map(|(_, p)| p).collect()))
}

/// Every spelling of the value `v` (for `const` / `enum`): all those the
/// module's guarantee covers (exponents in the windows around 0 and around
/// `v`'s own magnitude), and no spelling of another value.
///
/// `None` when `v` has more than [`MAX_BOUND_DIGITS`] significant digits or
/// a magnitude beyond 10^±[`MAX_BOUND_MAGNITUDE`].
pub(crate) fn value_regex(v: &Decimal) -> Option<String> {
    if v.is_zero() {
        return Some(ZERO.to_string());
    }
    if v.digits.len() > MAX_BOUND_DIGITS || v.point.abs() > MAX_BOUND_MAGNITUDE {
        return None;
    }
    let d: String = v.digits.iter().map(|x| x.to_string()).collect();
    let dl = d.len() as i64;
    // With written exponent `e` the mantissa is `0.D × 10^q`.
    let mantissa = |e: i64| {
        let q = v.point - e;
        Some(if q >= dl {
            format!("{d}{}(?:\\.0+)?", "0".repeat((q - dl) as usize))
        } else if q > 0 {
            format!("{}\\.{}0*", &d[..q as usize], &d[q as usize..])
        } else {
            format!("0\\.{}{d}0*", "0".repeat((-q) as usize))
        })
    };
    let sign = if v.neg { "-" } else { "" };
    let windows = Windows::new([(v.point - EXP_WINDOW, v.point + EXP_WINDOW)]);
    let alts = windows.regex(mantissa, |_, _| None);
    Some(format!("{sign}(?:{alts})"))
}

fn step_text(c: &NumberConstraint) -> String {
    match &c.multiple_of {
        Some(m) => m.to_string(),
        None => "1 (type: integer)".to_string(),
    }
}

/// The effective step `m × 10^p` (`m` not divisible by 10): `multipleOf`
/// combined with `type: integer` by their least common multiple.
fn step_of(c: &NumberConstraint) -> Result<Option<(u64, i64)>, NumberRegexError> {
    let mut step = match &c.multiple_of {
        None => None,
        Some(d) => {
            if d.is_zero() || d.neg {
                return Err(NumberRegexError::StepNotPositive(d.to_string()));
            }
            match d.int_exp() {
                Some((_, p)) if p.abs() > MAX_BOUND_MAGNITUDE => {
                    return Err(NumberRegexError::StepMagnitude(d.to_string()))
                }
                Some(x) => Some(x),
                None => return Err(NumberRegexError::StepTooPrecise(d.to_string())),
            }
        }
    };
    if c.integer {
        step = Some(match step {
            None => (1, 0),
            Some((m, p)) if p >= 0 => (m, p),
            Some((m, p)) => {
                // lcm(m / 10^j, 1) = m / gcd(m, 10^j).
                let j = (-p) as u32;
                let (a, b, _) = split_2_5(m);
                let g = 2u64.pow(a.min(j)) * 5u64.pow(b.min(j));
                (m / g, 0)
            }
        });
    }
    Ok(step.map(|(mut m, mut p)| {
        while m.is_multiple_of(10) {
            m /= 10;
            p += 1;
        }
        (m, p)
    }))
}

/// `m = 2^a × 5^b × r` with `r` coprime to 10.
fn split_2_5(mut m: u64) -> (u32, u32, u64) {
    let (mut a, mut b) = (0, 0);
    while m.is_multiple_of(2) {
        m /= 2;
        a += 1;
    }
    while m.is_multiple_of(5) {
        m /= 5;
        b += 1;
    }
    (a, b, m)
}

// ---------------------------------------------------------------------------
// Emptiness, with exact big-number arithmetic on decimal digit strings.

/// Whether no number satisfies `c` (`step` is the effective step).
fn is_empty(c: &NumberConstraint, step: Option<(u64, i64)>) -> bool {
    let (Some((lo, lx)), Some((hi, hx))) = (&c.minimum, &c.maximum) else {
        return false;
    };
    match lo.cmp(hi) {
        Ordering::Greater => return true,
        Ordering::Equal if *lx || *hx => return true,
        _ => {}
    }
    let Some((m, p)) = step else {
        return false;
    };
    let (fl, exact) = floor_div(lo, m, p);
    let n_min = if exact && !*lx { fl } else { fl.add_one(true) };
    let (fh, exact) = floor_div(hi, m, p);
    let n_max = if exact && *hx { fh.add_one(false) } else { fh };
    n_min.cmp(&n_max) == Ordering::Greater
}

// ---------------------------------------------------------------------------
// Regex pieces.

/// `class{min,max}` (`max` None: unbounded), simplified.
fn rep(class: &str, min: i64, max: Option<i64>) -> String {
    match max {
        None => match min {
            0 => format!("{class}*"),
            1 => format!("{class}+"),
            n => format!("{class}{{{n},}}"),
        },
        Some(0) => String::new(),
        Some(x) if x == min => {
            if x == 1 {
                class.to_string()
            } else {
                format!("{class}{{{x}}}")
            }
        }
        Some(x) => {
            if min == 0 && x == 1 {
                format!("{class}?")
            } else {
                format!("{class}{{{min},{x}}}")
            }
        }
    }
}

/// A character class of the digits `lo..=hi` (`None` if empty).
fn digit_class(lo: u8, hi: u8) -> Option<String> {
    match lo.cmp(&hi) {
        Ordering::Greater => None,
        Ordering::Equal => Some(format!("{lo}")),
        Ordering::Less => Some(format!("[{lo}-{hi}]")),
    }
}

/// The written exponent of value exactly `e` (leading zeros allowed).
fn exp_eq(e: i64) -> String {
    match e.cmp(&0) {
        Ordering::Equal => "(?:[eE][+-]?0+)?".to_string(),
        Ordering::Greater => format!("[eE]\\+?0*{e}"),
        Ordering::Less => format!("[eE]-0*{}", -e),
    }
}

/// Decimal naturals without leading zeros in `lo..=hi` (`1 <= lo`; `hi`
/// `None`: unbounded).
fn nat_range(lo: u64, hi: Option<u64>) -> String {
    let digits = |n: u64| -> Vec<u8> { n.to_string().bytes().map(|b| b - b'0').collect() };
    let lo_len = digits(lo).len();
    let mut alts = Vec::new();
    let top_len = hi.map_or(lo_len, |h| digits(h).len());
    for len in lo_len..=top_len {
        let from = if len == lo_len {
            digits(lo)
        } else {
            pow10_digits(len - 1)
        };
        let to = match hi {
            Some(h) if len == top_len => digits(h),
            _ => vec![9; len],
        };
        if from <= to {
            alts.push(same_len_range(&from, &to));
        }
    }
    if hi.is_none() {
        alts.push(format!("[1-9]{}", rep("[0-9]", lo_len as i64, None)));
    }
    alts.join("|")
}

/// The digits of `10^k`.
fn pow10_digits(k: usize) -> Vec<u8> {
    let mut v = vec![0; k + 1];
    v[0] = 1;
    v
}

/// Digit strings of `from.len()` digits between `from` and `to` (inclusive,
/// same length, `from <= to`).
fn same_len_range(from: &[u8], to: &[u8]) -> String {
    let n = from.len();
    if n == 0 {
        return String::new();
    }
    let (a, b) = (from[0], to[0]);
    let rest = n as i64 - 1;
    if a == b {
        return format!(
            "{a}{}",
            concat_operand(&same_len_range(&from[1..], &to[1..]))
        );
    }
    let low_full = from[1..].iter().all(|&d| d == 0);
    let high_full = to[1..].iter().all(|&d| d == 9);
    let mut alts = Vec::new();
    let mid_lo = if low_full { a } else { a + 1 };
    let mid_hi = if high_full { b } else { b - 1 };
    if !low_full {
        let nines = vec![9; n - 1];
        alts.push(format!(
            "{a}{}",
            concat_operand(&same_len_range(&from[1..], &nines))
        ));
    }
    if let Some(cl) = digit_class(mid_lo, mid_hi) {
        alts.push(format!("{cl}{}", rep("[0-9]", rest, Some(rest))));
    }
    if !high_full {
        let zeros = vec![0; n - 1];
        alts.push(format!(
            "{b}{}",
            concat_operand(&same_len_range(&zeros, &to[1..]))
        ));
    }
    if alts.len() == 1 {
        alts.pop().unwrap()
    } else {
        format!("(?:{})", alts.join("|"))
    }
}

/// Written exponents `E` in `lo..=hi` (`None`: unbounded), for a range that
/// does not contain 0.
fn exp_range(lo: Option<i64>, hi: Option<i64>) -> String {
    match (lo, hi) {
        (Some(l), h) if l > 0 => {
            format!("[eE]\\+?0*(?:{})", nat_range(l as u64, h.map(|h| h as u64)))
        }
        (l, Some(h)) if h < 0 => {
            format!(
                "[eE]-0*(?:{})",
                nat_range(h.unsigned_abs(), l.map(|l| l.unsigned_abs()))
            )
        }
        _ => unreachable!("an exponent gap never contains 0"),
    }
}

/// Unsigned non-zero mantissas of magnitude `>= t`.
fn mag_ge(t: i64) -> String {
    if t >= 1 {
        format!("[1-9]{}{FRAC}", rep("[0-9]", t - 1, None))
    } else {
        format!("[1-9][0-9]*{FRAC}|0\\.{}[1-9][0-9]*", rep("0", 0, Some(-t)))
    }
}

/// Unsigned non-zero mantissas of magnitude `<= t`.
fn mag_le(t: i64) -> String {
    if t >= 1 {
        format!(
            "[1-9]{}{FRAC}|0\\.0*[1-9][0-9]*",
            rep("[0-9]", 0, Some(t - 1))
        )
    } else {
        format!("0\\.{}[1-9][0-9]*", rep("0", -t, None))
    }
}

/// The written exponents one regex decides exactly, whatever the mantissa:
/// `[-EXP_WINDOW, EXP_WINDOW]` and windows around scales at which the
/// constraint's own digits sit (a bound's magnitude `q`: `[q -
/// SCALE_WINDOW, q + SCALE_WINDOW]`; a step `m × 10^p`: `[p -
/// SCALE_WINDOW, p + SCALE_WINDOW + c]`). Sorted, disjoint, not adjacent.
#[derive(Clone, Debug)]
struct Windows(Vec<(i64, i64)>);

impl Windows {
    /// The window around 0 and the given ranges, merged.
    fn new(ranges: impl IntoIterator<Item = (i64, i64)>) -> Windows {
        let mut all: Vec<(i64, i64)> = ranges.into_iter().collect();
        all.push((-EXP_WINDOW, EXP_WINDOW));
        all.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Windows(out)
    }

    /// The window of a scale `centre` (`extra` more exponents above it).
    fn around(centre: i64, extra: i64) -> (i64, i64) {
        (centre - SCALE_WINDOW, centre + SCALE_WINDOW + extra)
    }

    /// The exponent ranges between and beyond the windows, as `(lo, hi)`
    /// with `None` for an unbounded side. None of them contains 0.
    fn gaps(&self) -> Vec<(Option<i64>, Option<i64>)> {
        let mut out = vec![(None, Some(self.0[0].0 - 1))];
        for pair in self.0.windows(2) {
            out.push((Some(pair[0].1 + 1), Some(pair[1].0 - 1)));
        }
        out.push((Some(self.0[self.0.len() - 1].1 + 1), None));
        out
    }

    /// `∪_E mantissa(E) exp(E)` over the exponents of the windows, plus for
    /// each gap `(lo, hi)` the mantissas `gap(lo, hi)` with any exponent in
    /// it. `gap` must be sound: accept only mantissas that satisfy the
    /// condition at every exponent of the gap.
    fn regex(
        &self,
        mantissa: impl Fn(i64) -> Option<String>,
        gap: impl Fn(Option<i64>, Option<i64>) -> Option<String>,
    ) -> String {
        let mut alts = Vec::new();
        for &(lo, hi) in &self.0 {
            for e in lo..=hi {
                if let Some(m) = mantissa(e) {
                    alts.push(format!("(?:{m}){}", exp_eq(e)));
                }
            }
        }
        for (lo, hi) in self.gaps() {
            if let Some(m) = gap(lo, hi) {
                alts.push(format!("(?:{m}){}", exp_range(lo, hi)));
            }
        }
        alts.join("|")
    }
}

/// Magnitude-free comparison of significant digits: loose mantissas (dots
/// anywhere) whose significant digits `S_v` satisfy `0.S_v ≥ 0.S`
/// (`> ` when `strict`).
fn lex_ge(s: &[u8], strict: bool) -> String {
    fn go(s: &[u8], i: usize, strict: bool) -> String {
        if i == s.len() {
            return if strict {
                "[0.]*[1-9][0-9.]*".to_string()
            } else {
                "[0-9.]*".to_string()
            };
        }
        let sep = if i > 0 { "\\.?" } else { "" };
        let mut alts = Vec::new();
        if let Some(cl) = digit_class(s[i] + 1, 9) {
            alts.push(format!("{cl}[0-9.]*"));
        }
        alts.push(format!("{}{}", s[i], go(s, i + 1, strict)));
        format!("{sep}(?:{})", alts.join("|"))
    }
    format!("[0.]*{}", go(s, 0, strict))
}

/// Loose mantissas whose significant digits satisfy `0.S_v ≤ 0.S`
/// (`<` when `strict`). Never matches a zero mantissa.
fn lex_le(s: &[u8], strict: bool) -> String {
    fn go(s: &[u8], i: usize, strict: bool) -> Option<String> {
        if i == s.len() {
            return if strict {
                None
            } else {
                Some("[0.]*".to_string())
            };
        }
        let mut alts = Vec::new();
        let lo = if i == 0 { 1 } else { 0 };
        if s[i] > 0 {
            if let Some(cl) = digit_class(lo, s[i] - 1) {
                alts.push(format!("{cl}[0-9.]*"));
            }
        }
        if let Some(rest) = go(s, i + 1, strict) {
            alts.push(format!("{}{rest}", s[i]));
        }
        if i == 0 {
            Some(format!("(?:{})", alts.join("|")))
        } else {
            // The significant digits may also stop here (S continues with
            // a non-zero digit, so stopping is smaller).
            Some(format!("(?:\\.?(?:{}))?", alts.join("|")))
        }
    }
    format!("[0.]*{}", go(s, 0, strict).unwrap_or_default())
}

/// Regex for positive non-zero spellings (no sign) of value `>= b` (`b > 0`)
/// as two regexes to intersect: `(magnitude, lexicographic-or-magnitude)`.
///
/// In a gap `[lo, hi]` between the exponent windows, `mag >= t` holds for
/// every exponent when the mantissa's magnitude is `>= t - lo`.
fn pos_ge(b: &Decimal, strict: bool, w: &Windows) -> (String, String) {
    let q = b.point;
    let at_least = |t: i64| w.regex(|e| Some(mag_ge(t - e)), |lo, _| lo.map(|lo| mag_ge(t - lo)));
    let mag = at_least(q);
    let lex = format!(
        "{}|(?:{}){EXP_ANY}",
        at_least(q + 1),
        lex_ge(&b.digits, strict)
    );
    (mag, lex)
}

/// Positive non-zero spellings of value `<= b` (`< b` when `strict`); in a
/// gap `[lo, hi]`, `mag <= t` holds when the mantissa's magnitude is
/// `<= t - hi`.
fn pos_le(b: &Decimal, strict: bool, w: &Windows) -> (String, String) {
    let q = b.point;
    let at_most = |t: i64| w.regex(|e| Some(mag_le(t - e)), |_, hi| hi.map(|hi| mag_le(t - hi)));
    let mag = at_most(q);
    let lex = format!(
        "{}|(?:{}){EXP_ANY}",
        at_most(q - 1),
        lex_le(&b.digits, strict)
    );
    (mag, lex)
}

/// A union of sign classes: zero spellings, positive non-zero spellings
/// (regex without sign), negative non-zero spellings (without the `-`).
fn signed(zero: bool, pos: Option<&str>, neg: Option<&str>) -> String {
    let mut alts = Vec::new();
    if zero {
        alts.push(ZERO.to_string());
    }
    if let Some(p) = pos {
        alts.push(format!("(?:{p})"));
    }
    if let Some(n) = neg {
        alts.push(format!("-(?:{n})"));
    }
    alts.join("|")
}

/// All positive non-zero spellings, any exponent.
fn pos_all() -> String {
    format!("{NONZERO_MANTISSA}{EXP_ANY}")
}

/// The regexes (to intersect) for `x >= b` (`x > b` when `excl`).
fn lower_bound(b: &Decimal, excl: bool, w: &Windows) -> Vec<String> {
    let all = pos_all();
    if b.is_zero() {
        return vec![signed(!excl, Some(&all), None)];
    }
    if !b.neg {
        let (m, l) = pos_ge(b, excl, w);
        vec![signed(false, Some(&m), None), signed(false, Some(&l), None)]
    } else {
        let (m, l) = pos_le(&b.abs(), excl, w);
        vec![
            signed(true, Some(&all), Some(&m)),
            signed(true, Some(&all), Some(&l)),
        ]
    }
}

/// The regexes (to intersect) for `x <= b` (`x < b` when `excl`).
fn upper_bound(b: &Decimal, excl: bool, w: &Windows) -> Vec<String> {
    let all = pos_all();
    if b.is_zero() {
        return vec![signed(!excl, None, Some(&all))];
    }
    if b.neg {
        let (m, l) = pos_ge(&b.abs(), excl, w);
        vec![signed(false, None, Some(&m)), signed(false, None, Some(&l))]
    } else {
        let (m, l) = pos_le(b, excl, w);
        vec![
            signed(true, Some(&m), Some(&all)),
            signed(true, Some(&l), Some(&all)),
        ]
    }
}

// ---------------------------------------------------------------------------
// multipleOf.

/// A regex matching exactly the given set of digit strings (`None` if the
/// set is empty). Children with equal sub-regexes share a character class.
fn trie(strings: &BTreeSet<Vec<u8>>) -> Option<String> {
    if strings.is_empty() {
        return None;
    }
    let empty = strings.contains(&Vec::new());
    let mut by_first: BTreeMap<u8, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for s in strings {
        if let Some((&f, rest)) = s.split_first() {
            by_first.entry(f).or_default().insert(rest.to_vec());
        }
    }
    let mut by_sub: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (f, rest) in &by_first {
        by_sub
            .entry(trie(rest).unwrap_or_default())
            .or_default()
            .push(*f);
    }
    let mut alts = Vec::new();
    for (sub, firsts) in by_sub {
        let class = if firsts.len() == 1 {
            firsts[0].to_string()
        } else {
            let mut c = String::from("[");
            for f in firsts {
                c.push((b'0' + f) as char);
            }
            c.push(']');
            c
        };
        alts.push(format!("{class}{sub}"));
    }
    if alts.is_empty() {
        return Some(String::new());
    }
    let body = alts.join("|");
    Some(if empty {
        format!("(?:{body})?")
    } else if alts.len() > 1 {
        format!("(?:{body})")
    } else {
        body
    })
}

/// Digit strings `w` (non-empty) such that `w` right-padded (or `w`
/// followed by zeros only) is `h‖0*` for some `h` in `set` (all of length
/// `k`): a fraction whose first `k` digits form a string of `set` and whose
/// other digits are zeros.
fn right_padded(set: &BTreeSet<Vec<u8>>, k: usize) -> Option<String> {
    let mut partial = BTreeSet::new();
    for h in set {
        let t = h.len() - h.iter().rev().take_while(|&&d| d == 0).count();
        for len in t.max(1)..k {
            partial.insert(h[..len].to_vec());
        }
    }
    let mut alts = Vec::new();
    if let Some(full) = trie(set) {
        alts.push(format!("{full}0*"));
    }
    if let Some(p) = trie(&partial) {
        alts.push(p);
    }
    (!alts.is_empty()).then(|| alts.join("|"))
}

/// Integer parts `I` (valid JSON: `0` or no leading zero) whose last `h`
/// digits, left-padded with zeros, are in `set` (strings of length `h`).
/// `I = 0` is included iff `allow_zero` and `0^h` is in `set`.
fn int_ending(set: &BTreeSet<Vec<u8>>, allow_zero: bool) -> Option<String> {
    let mut alts = Vec::new();
    if let Some(t) = trie(set) {
        alts.push(format!("[1-9][0-9]*(?:{t})"));
    }
    let mut short = BTreeSet::new();
    let mut zero = false;
    for g in set {
        let lead = g.iter().take_while(|&&d| d == 0).count();
        if lead == g.len() {
            zero = true;
        } else {
            short.insert(g[lead..].to_vec());
        }
    }
    if let Some(t) = trie(&short) {
        alts.push(t);
    }
    if zero && allow_zero {
        alts.push("0".into());
    }
    (!alts.is_empty()).then(|| alts.join("|"))
}

/// Mantissas (`I(\.F)?`, unsigned, zero included) whose value, shifted by
/// `10^k`, is an integer (condition 1 of the module docs).
fn integral_mantissa(k: i64) -> String {
    match k.cmp(&0) {
        Ordering::Greater => format!("(?:0|[1-9][0-9]*)(?:\\.{}0*)?", rep("[0-9]", 1, Some(k))),
        Ordering::Equal => "(?:0|[1-9][0-9]*)(?:\\.0+)?".to_string(),
        Ordering::Less => format!("(?:0|[1-9][0-9]*{})(?:\\.0+)?", rep("0", -k, Some(-k))),
    }
}

/// Mantissas (unsigned, zero included) whose value `y` is such that
/// `y × 10^k` is an integer whose last `c` digits (left-padded with zeros)
/// form a block in `g` (conditions 1 and 2 of the module docs). In digit
/// positions (0 = last integer digit, 1 = first fraction digit, missing
/// digits are zeros): positions `k-c+1 ..= k` hold a block of `g`, and all
/// positions after `k` are zeros.
fn block_mantissa(g: &BTreeSet<Vec<u8>>, c: usize, k: i64) -> Option<String> {
    let ci = c as i64;
    let int_any = "(?:0|[1-9][0-9]*)";
    let zero_block = g.contains(&vec![0u8; c]);
    if k >= ci {
        // The block lies in the fraction, after `free` unconstrained digits.
        let free = k - ci;
        let br = right_padded(g, c)?;
        let f = if free == 0 {
            format!("(?:{br})")
        } else if zero_block {
            format!(
                "{}|{}(?:{br})",
                rep("[0-9]", 1, Some(free)),
                rep("[0-9]", free, Some(free))
            )
        } else {
            format!("{}(?:{br})", rep("[0-9]", free, Some(free)))
        };
        let opt = if zero_block { "?" } else { "" };
        Some(format!("{int_any}(?:\\.(?:{f})){opt}"))
    } else if k <= 0 {
        // The block lies in the integer part, followed by `j` zeros.
        let j = -k;
        let mut alts = Vec::new();
        if let Some(ie) = int_ending(g, j == 0) {
            alts.push(format!("(?:{ie}){}", rep("0", j, Some(j))));
        }
        alts.push("0".into());
        Some(format!("(?:{})(?:\\.0+)?", alts.join("|")))
    } else {
        // Straddling: h block digits from I, k from F.
        let h = (ci - k) as usize;
        let mut groups: BTreeMap<BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut by_g1: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
        for b in g {
            by_g1
                .entry(b[..h].to_vec())
                .or_default()
                .insert(b[h..].to_vec());
        }
        for (g1, g2s) in by_g1 {
            groups.entry(g2s).or_default().insert(g1);
        }
        let mut alts = Vec::new();
        for (g2s, g1s) in groups {
            let Some(i) = int_ending(&g1s, true) else {
                continue;
            };
            let zero_frac = g2s.contains(&vec![0u8; k as usize]);
            let Some(f) = right_padded(&g2s, k as usize) else {
                continue;
            };
            let q = if zero_frac { "?" } else { "" };
            alts.push(format!("(?:{i})(?:\\.(?:{f})){q}"));
        }
        (!alts.is_empty()).then(|| alts.join("|"))
    }
}

/// The regexes (to intersect) for multiples of `m × 10^p`, or the size
/// reached if too large.
fn step_parts(m: u64, p: i64, w: &Windows) -> Result<Vec<String>, usize> {
    let mut parts = Vec::new();
    let (a, b, r) = split_2_5(m);
    let (s, c) = (2u64.pow(a) * 5u64.pow(b), a.max(b) as usize);
    if s == 1 {
        // 1. Multiple of 10^p.
        let w = w.regex(
            |e| Some(integral_mantissa(e - p)),
            |lo, _| lo.map(|lo| integral_mantissa(lo - p)),
        );
        parts.push(format!("{ZERO}|-?(?:{w})"));
    } else {
        // 1. and 2.: a multiple of 10^p whose c digits left of 10^p are a
        // multiple of s.
        let count = 10u64.pow(c as u32) / s;
        if count as usize > MAX_BLOCKS {
            return Err(count as usize * c);
        }
        let g: BTreeSet<Vec<u8>> = (0..count)
            .map(|i| format!("{:0c$}", i * s).bytes().map(|x| x - b'0').collect())
            .collect();
        let w = w.regex(
            |e| block_mantissa(&g, c, e - p),
            |lo, _| lo.and_then(|lo| block_mantissa(&g, c, lo - p)),
        );
        if w.len() > MAX_REGEX_BYTES {
            return Err(w.len());
        }
        parts.push(format!("{ZERO}|-?(?:{w})"));
    }
    // 3. The mantissa digits are divisible by r.
    if r > 1 {
        let res = residue_regex(r)?;
        parts.push(format!("-?(?:{res}){EXP_ANY}"));
    }
    Ok(parts)
}

/// Strings over `[0-9.]` whose digits, read as one decimal integer, are
/// divisible by `r` (coprime to 10; `.` is ignored). Built from the residue
/// automaton by state elimination; `Err(size)` beyond [`MAX_REGEX_BYTES`].
fn residue_regex(r: u64) -> Result<String, usize> {
    if r > 1000 {
        return Err(usize::MAX);
    }
    let n = r as usize;
    // Nodes 0..n: residues; n: start; n+1: final.
    let (start, fin) = (n, n + 1);
    let mut arcs: HashMap<(usize, usize), String> = HashMap::new();
    for i in 0..n {
        let mut by_target: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        for d in 0..10u8 {
            by_target
                .entry((i * 10 + d as usize) % n)
                .or_default()
                .push(d);
        }
        for (t, ds) in by_target {
            let mut class: String = ds.iter().map(|d| (b'0' + d) as char).collect();
            if t == i {
                class.push_str("\\.");
            }
            let label = if ds.len() == 1 && t != i {
                class
            } else {
                format!("[{class}]")
            };
            arcs.insert((i, t), label);
        }
        arcs.entry((i, i)).or_insert_with(|| "\\.".into());
    }
    arcs.insert((start, 0), String::new());
    arcs.insert((0, fin), String::new());
    let mut alive: BTreeSet<usize> = (0..n).collect();
    while !alive.is_empty() {
        // Eliminate the node with the smallest resulting growth.
        let cost = |x: usize| -> usize {
            let ins: Vec<usize> = arcs
                .iter()
                .filter(|((a, b), _)| *b == x && *a != x)
                .map(|(_, l)| l.len() + 4)
                .collect();
            let outs: Vec<usize> = arcs
                .iter()
                .filter(|((a, b), _)| *a == x && *b != x)
                .map(|(_, l)| l.len() + 4)
                .collect();
            let loop_len = arcs.get(&(x, x)).map_or(0, |l| l.len() + 6);
            ins.iter().sum::<usize>() * outs.len()
                + outs.iter().sum::<usize>() * ins.len()
                + loop_len * ins.len() * outs.len()
        };
        let x = *alive.iter().min_by_key(|&&x| cost(x)).unwrap();
        alive.remove(&x);
        let lp = arcs
            .remove(&(x, x))
            .map(|l| format!("{}*", star_operand(&l)));
        let lp = lp.unwrap_or_default();
        let ins: Vec<(usize, String)> = arcs
            .iter()
            .filter(|((_, b), _)| *b == x)
            .map(|((a, _), l)| (*a, l.clone()))
            .collect();
        let outs: Vec<(usize, String)> = arcs
            .iter()
            .filter(|((a, _), _)| *a == x)
            .map(|((_, b), l)| (*b, l.clone()))
            .collect();
        arcs.retain(|(a, b), _| *a != x && *b != x);
        for (a, li) in &ins {
            for (b, lo) in &outs {
                let path = format!("{}{lp}{}", concat_operand(li), concat_operand(lo));
                let label = match arcs.remove(&(*a, *b)) {
                    // An existing label, possibly the empty string (ε).
                    Some(old) => format!("{old}|{path}"),
                    None => path,
                };
                if label.len() > MAX_REGEX_BYTES {
                    return Err(label.len());
                }
                arcs.insert((*a, *b), label);
            }
        }
    }
    Ok(arcs.remove(&(start, fin)).unwrap_or_default())
}

/// Whether `s` has a `|` outside any group.
fn has_top_alternation(s: &str) -> bool {
    let (mut depth, mut class, mut esc) = (0i32, false, false);
    for ch in s.chars() {
        if esc {
            esc = false;
            continue;
        }
        match ch {
            '\\' => esc = true,
            '[' if !class => class = true,
            ']' if class => class = false,
            '(' if !class => depth += 1,
            ')' if !class => depth -= 1,
            '|' if !class && depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// `s` ready to be concatenated with other regexes.
fn concat_operand(s: &str) -> String {
    if has_top_alternation(s) {
        format!("(?:{s})")
    } else {
        s.to_string()
    }
}

/// `s` ready for a postfix repetition operator.
fn star_operand(s: &str) -> String {
    let single_class =
        s.starts_with('[') && s.ends_with(']') && s[1..].find(']') == Some(s.len() - 2);
    if s.len() == 1 || s == "\\." || single_class {
        s.to_string()
    } else {
        format!("(?:{s})")
    }
}

#[cfg(test)]
mod tests;
