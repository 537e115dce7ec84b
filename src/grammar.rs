//! The grammar IR: lexemes (regular expressions) under context-free rules.
//!
//! Every frontend (a regex, JSON, JSON Schema, pest) produces a [`Grammar`]:
//! a set of named rules whose right-hand sides are [`Expr`]s over lexemes and
//! other rules. The split between lexemes and rules is the one that makes
//! masks fast: a lexeme is a regular expression compiled to a byte DFA, so the
//! matcher steps a table inside a lexeme and consults the context-free parser
//! only where a lexeme ends.
//!
//! Lexing is greedy (maximal munch), as in Lark and llguidance: a lexeme
//! extends as long as the next byte can continue it, and only ends when it
//! cannot. Several lexemes may match the same bytes (a keyword and an
//! identifier); the parser then gets all of them and keeps the ones it can
//! use. A lexeme never matches the empty string: a lexeme whose regex matches
//! `""` is treated as optional in the rule that uses it.
//!
//! An optional *ignore* lexeme (whitespace, typically) may appear between any
//! two lexemes and at both ends without the parser seeing it.
//!
//! ```
//! use formwork::grammar::{Expr, Grammar};
//! let mut g = Grammar::new("list");
//! g.rule("list", Expr::seq([
//!     Expr::literal("["),
//!     Expr::optional(Expr::seq([
//!         Expr::rule("item"),
//!         Expr::repeat(Expr::seq([Expr::literal(","), Expr::rule("item")]), 0, None),
//!     ])),
//!     Expr::literal("]"),
//! ]));
//! g.rule("item", Expr::regex("[0-9]+"));
//! g.ignore(r"[ \t\n]+");
//! let compiled = formwork::CompiledGrammar::new(&g).unwrap();
//! assert!(compiled.lexeme_count() >= 4);
//! ```

/// A right-hand side expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// Matches the empty string.
    Empty,
    /// A lexeme given by a regular expression (Rust `regex` syntax).
    Regex(String),
    /// A lexeme matching exactly these bytes.
    Literal(String),
    /// A lexeme matching every regex of `all` and none of `except`.
    ///
    /// Regex syntax has no intersection or complement; lexemes do, because
    /// they are DFAs. `all` must not be empty.
    Intersect {
        all: Vec<String>,
        except: Vec<String>,
    },
    /// A lexeme matching any one of these strings as a JSON string token:
    /// quoted, in every JSON spelling (`"A"`, `"\u0041"`, `"\u0061"` is
    /// not `"A"`). A JSON Schema `enum` of strings: built as a trie, so
    /// tens of thousands of values cost about their total length. Must not
    /// be empty.
    JsonStrings(Vec<String>),
    /// A reference to a named rule.
    Rule(String),
    /// The expressions one after another.
    Seq(Vec<Expr>),
    /// Any one of the expressions.
    Choice(Vec<Expr>),
    /// Between `min` and `max` (unbounded if `None`) repetitions.
    Repeat {
        expr: Box<Expr>,
        min: u32,
        max: Option<u32>,
    },
    /// Members in any order with `separator` between them: each member
    /// may appear any number of times, and each member whose `required`
    /// flag is set at least once. This is a JSON object whose keys may come
    /// in any order.
    ///
    /// Spelled out in plain rules this language needs a rule per subset of
    /// required members; the parser tracks the subset instead, so the cost
    /// is linear in the number of members. At most 63 members may be
    /// required. Build it with [`Expr::any_order`], or with
    /// [`Expr::any_order_counted`] for bounds on the number of members.
    AnyOrder {
        members: Vec<Expr>,
        required: Vec<bool>,
        separator: Box<Expr>,
        /// Bounds on the number of members written, if any.
        count: Option<MemberCount>,
    },
}

/// The most members of a counted [`Expr::AnyOrder`] list that may be
/// `once` (the parser's item tag holds a bit for each, below the count).
pub const MAX_COUNTED_ONCE: usize = 48;

/// The largest count bound of a counted [`Expr::AnyOrder`] list.
pub const MAX_MEMBER_COUNT: u32 = 0x7ffe;

/// Bounds on the number of members of an [`Expr::AnyOrder`] list: a JSON
/// object's `minProperties`/`maxProperties`. The parser counts in the item
/// tag (up to 32,766), and each member whose `once` flag is set may then
/// appear at most once (a known key: counting a repeated key twice would
/// let a duplicate stand in for a missing property). At most 48 members may
/// be `once`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemberCount {
    /// Fewest members.
    pub min: u32,
    /// Most members (`None`: unbounded).
    pub max: Option<u32>,
    /// Per member: it may appear at most once.
    pub once: Vec<bool>,
    /// No two members may be the same JSON value (JSON Schema
    /// `uniqueItems`): the parser reads each member's text when the member
    /// completes, and refuses one equal to an earlier member of the same
    /// list. Members must then be neither required nor `once`. Build such a
    /// list with [`Expr::unique_list`].
    pub distinct: bool,
    /// The first `prefix` members are positional: member `i < prefix` may
    /// only be the list's `i`-th, and the other members come only after
    /// them (a JSON array's `prefixItems`, then its `items`).
    pub prefix: u32,
}

impl Expr {
    /// A lexeme matching the regex.
    pub fn regex(pattern: impl Into<String>) -> Expr {
        Expr::Regex(pattern.into())
    }
    /// A lexeme matching exactly `text`.
    pub fn literal(text: impl Into<String>) -> Expr {
        Expr::Literal(text.into())
    }
    /// A lexeme matching every regex of `all` and none of `except`.
    ///
    /// ```
    /// use formwork::grammar::{Expr, Grammar};
    /// // Lower-case words of at most 4 letters that are not keywords.
    /// let mut g = Grammar::new("word");
    /// g.rule("word", Expr::intersect(["[a-z]+", ".{1,4}"], ["if|else"]));
    /// let compiled = formwork::CompiledGrammar::new(&g).unwrap();
    /// assert_eq!(compiled.lexeme_count(), 1);
    /// ```
    pub fn intersect<A, E>(all: A, except: E) -> Expr
    where
        A: IntoIterator,
        A::Item: Into<String>,
        E: IntoIterator,
        E::Item: Into<String>,
    {
        Expr::Intersect {
            all: all.into_iter().map(Into::into).collect(),
            except: except.into_iter().map(Into::into).collect(),
        }
    }
    /// A reference to the rule `name`.
    pub fn rule(name: impl Into<String>) -> Expr {
        Expr::Rule(name.into())
    }
    /// A sequence.
    pub fn seq(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::Seq(items.into_iter().collect())
    }
    /// A choice.
    pub fn choice(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::Choice(items.into_iter().collect())
    }
    /// Zero or one.
    pub fn optional(e: Expr) -> Expr {
        Expr::Repeat {
            expr: Box::new(e),
            min: 0,
            max: Some(1),
        }
    }
    /// Members in any order, separated by `separator`; each `(expr, true)`
    /// member must appear at least once (see [`Expr::AnyOrder`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::grammar::{Expr, Grammar};
    /// use formwork::{CompiledGrammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // `a` and `b` required, `c` optional, comma-separated, in any order.
    /// let mut g = Grammar::new("s");
    /// g.rule("s", Expr::any_order(
    ///     [(Expr::literal("a"), true), (Expr::literal("b"), true), (Expr::literal("c"), false)],
    ///     Expr::literal(","),
    /// ));
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let vocab = env.vocab();
    /// let m = Matcher::new(Arc::new(CompiledGrammar::new(&g)?), &env);
    /// for text in ["a,b", "b,c,a", "c,b,c,a"] {
    ///     let mut m = m.clone();
    ///     m.commit_bytes(text.as_bytes())?;
    ///     assert!(m.is_accepting());
    /// }
    /// let mut m = m.clone();
    /// m.commit_bytes(b"c,a")?;
    /// assert!(!m.is_accepting()); // `b` is still missing
    /// # Ok(()) }
    /// ```
    pub fn any_order(members: impl IntoIterator<Item = (Expr, bool)>, separator: Expr) -> Expr {
        let (members, required) = members.into_iter().unzip();
        Expr::AnyOrder {
            members,
            required,
            separator: Box::new(separator),
            count: None,
        }
    }

    /// Like [`Expr::any_order`], with between `min` and `max` members in
    /// all; members are `(expr, required, once)` (see [`MemberCount`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::grammar::{Expr, Grammar};
    /// use formwork::{CompiledGrammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // `a` required, `b` optional, `x` repeatable; two or three in all.
    /// let mut g = Grammar::new("s");
    /// g.rule("s", Expr::any_order_counted(
    ///     [(Expr::literal("a"), true, true), (Expr::literal("b"), false, true),
    ///      (Expr::literal("x"), false, false)],
    ///     Expr::literal(","),
    ///     2,
    ///     Some(3),
    /// ));
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let vocab = env.vocab();
    /// let m = Matcher::new(Arc::new(CompiledGrammar::new(&g)?), &env);
    /// for (text, ok) in [("b,a", true), ("x,a,x", true), ("a", false), ("a,b,x,x", false), ("a,a", false)] {
    ///     let mut m = m.clone();
    ///     let fits = m.commit_bytes(text.as_bytes()).is_ok() && m.is_accepting();
    ///     assert_eq!(fits, ok, "{text}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn any_order_counted(
        members: impl IntoIterator<Item = (Expr, bool, bool)>,
        separator: Expr,
        min: u32,
        max: Option<u32>,
    ) -> Expr {
        let (mut exprs, mut required, mut once) = (Vec::new(), Vec::new(), Vec::new());
        for (e, r, o) in members {
            exprs.push(e);
            required.push(r);
            once.push(o);
        }
        Expr::AnyOrder {
            members: exprs,
            required,
            separator: Box::new(separator),
            count: Some(MemberCount {
                min,
                max,
                once,
                distinct: false,
                prefix: 0,
            }),
        }
    }

    /// Between `min` and `max` items with `separator` between them, no two
    /// the same JSON value: a JSON array's items under `uniqueItems: true`.
    /// Item `i` is `prefix[i]` while there are such, then `rest` (if `None`,
    /// there are at most `prefix.len()` items).
    /// Values compare as JSON Schema compares them (`1` equals `1.0`, object
    /// keys in any order, strings after their escapes are read).
    ///
    /// The check runs where an item completes, so the mask refuses the token
    /// that closes a duplicate string, object, array or `true`/`false`/`null`.
    /// A number completes only at the byte after it (it could go on), so a
    /// duplicate number is refused at the `,` or `]` that follows.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::grammar::{Expr, Grammar};
    /// use formwork::{CompiledGrammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut g = Grammar::new("s");
    /// g.rule("s", Expr::seq([
    ///     Expr::literal("["),
    ///     Expr::unique_list(
    ///         vec![Expr::regex(r#""[a-z]*""#)],
    ///         Some(Expr::regex(r#""[a-z]*"|[0-9]+(\.[0-9]+)?"#)),
    ///         Expr::literal(","),
    ///         0,
    ///         None,
    ///     ),
    ///     Expr::literal("]"),
    /// ]));
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let vocab = env.vocab();
    /// let m = Matcher::new(Arc::new(CompiledGrammar::new(&g)?), &env);
    /// for (text, ok) in [(r#"["a","b",1]"#, true), (r#"["a","a"]"#, false), (r#"["a",1,1.0]"#, false),
    ///                    (r#"["a",1,10]"#, true), ("[1]", false)] {
    ///     let mut m = m.clone();
    ///     let fits = m.commit_bytes(text.as_bytes()).is_ok() && m.is_accepting();
    ///     assert_eq!(fits, ok, "{text}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn unique_list(
        prefix: Vec<Expr>,
        rest: Option<Expr>,
        separator: Expr,
        min: u32,
        max: Option<u32>,
    ) -> Expr {
        let n = prefix.len() as u32;
        let max = if rest.is_none() {
            Some(max.map_or(n, |m| m.min(n)))
        } else {
            max
        };
        let members: Vec<Expr> = prefix.into_iter().chain(rest).collect();
        Expr::AnyOrder {
            required: vec![false; members.len()],
            separator: Box::new(separator),
            count: Some(MemberCount {
                min,
                max,
                once: vec![false; members.len()],
                distinct: true,
                prefix: n,
            }),
            members,
        }
    }
    /// Between `min` and `max` repetitions (`None`: unbounded).
    pub fn repeat(e: Expr, min: u32, max: Option<u32>) -> Expr {
        Expr::Repeat {
            expr: Box::new(e),
            min,
            max,
        }
    }
}

/// A grammar: named rules, a start rule, and an optional ignore lexeme.
#[derive(Clone, Debug, Default)]
pub struct Grammar {
    pub(crate) start: String,
    pub(crate) rules: Vec<(String, Expr)>,
    pub(crate) ignore: Option<String>,
    pub(crate) separate_words: bool,
    pub(crate) prune_unproductive: bool,
}

impl Grammar {
    /// An empty grammar whose start rule is `start`.
    pub fn new(start: impl Into<String>) -> Grammar {
        Grammar {
            start: start.into(),
            rules: Vec::new(),
            ignore: None,
            separate_words: false,
            prune_unproductive: false,
        }
    }

    /// Defines rule `name`. Defining a name twice adds an alternative.
    pub fn rule(&mut self, name: impl Into<String>, expr: Expr) -> &mut Grammar {
        self.rules.push((name.into(), expr));
        self
    }

    /// Sets the ignore lexeme: a regex allowed between any two lexemes.
    pub fn ignore(&mut self, pattern: impl Into<String>) -> &mut Grammar {
        self.ignore = Some(pattern.into());
        self
    }

    /// Requires a separator between words: two lexemes may not touch when
    /// the first ends with a word byte and the second starts with one (ASCII
    /// letters, digits, `_`, and every non-ASCII byte).
    ///
    /// This is how programming languages lex: `SELECT name` needs its
    /// space because `SELECTname` reads as one identifier. A PEG keyword
    /// followed by `~` matches without one, so without this option the
    /// language holds strings a real parser of the target language rejects.
    /// The ignore lexeme (whitespace, comments) is the usual separator.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use formwork::grammar::{Expr, Grammar};
    /// use formwork::{CompiledGrammar, Matcher, TokenEnv};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut g = Grammar::new("s");
    /// g.rule("s", Expr::seq([Expr::literal("select"), Expr::regex("[a-z]+|[0-9]+|[*]")]));
    /// g.ignore(" +");
    /// g.separate_words(true);
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizers/gpt2/tokenizer.json.gz");
    /// let env = Arc::new(TokenEnv::from_file(path)?);
    /// let vocab = env.vocab();
    /// let mut m = Matcher::new(Arc::new(CompiledGrammar::new(&g)?), &env);
    /// m.commit_bytes(b"select")?;
    /// assert!(m.clone().commit_bytes(b"7").is_err());
    /// assert!(m.clone().commit_bytes(b"*").is_ok());
    /// assert!(m.commit_bytes(b" 7").is_ok());
    /// # Ok(()) }
    /// ```
    pub fn separate_words(&mut self, yes: bool) -> &mut Grammar {
        self.separate_words = yes;
        self
    }

    /// Drops rules that can never finish instead of reporting them.
    ///
    /// By default a named rule that can never finish (every alternative
    /// recurses forever) is an error, since in a hand-written grammar it is
    /// a mistake. Generated grammars produce such rules legitimately: a JSON
    /// Schema branch no value satisfies is an alternative to prune, not a
    /// bug. Either way the parser never predicts into one, and a start rule
    /// that can never finish is still [`GrammarError::EmptyLanguage`](crate::GrammarError::EmptyLanguage).
    pub fn prune_unproductive(&mut self, yes: bool) -> &mut Grammar {
        self.prune_unproductive = yes;
        self
    }

    /// The start rule's name.
    pub fn start(&self) -> &str {
        &self.start
    }
}

/// JSON's short escapes: the character and the letter after the backslash.
const JSON_SHORT_ESCAPES: [(char, u8); 8] = [
    ('"', b'"'),
    ('\\', b'\\'),
    ('/', b'/'),
    ('\u{8}', b'b'),
    ('\u{c}', b'f'),
    ('\n', b'n'),
    ('\r', b'r'),
    ('\t', b't'),
];

/// The letter of `c`'s short escape in a JSON string (`n` for a newline).
pub(crate) fn json_short_escape(c: char) -> Option<u8> {
    JSON_SHORT_ESCAPES.iter().find(|e| e.0 == c).map(|e| e.1)
}

/// The character a short escape stands for, from the letter after the
/// backslash (a newline for `n`).
pub(crate) fn json_short_unescape(letter: char) -> Option<char> {
    JSON_SHORT_ESCAPES
        .iter()
        .find(|e| e.1 as char == letter)
        .map(|e| e.0)
}

/// Every JSON spelling of one code point, as a regex, appended to `out`:
/// the character itself (where JSON allows it raw), its short escape, and
/// `\uXXXX` (a surrogate pair beyond the BMP) with hex digits in either
/// case. Allocates nothing of its own: there is one per character of every
/// property name.
pub(crate) fn spell_json_char_into(c: char, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("(?:");
    if c != '"' && c != '\\' && (c as u32) >= 0x20 {
        if regex_syntax::is_meta_character(c) {
            out.push('\\');
        }
        out.push(c);
        out.push('|');
    }
    if let Some(letter) = json_short_escape(c) {
        // A backslash, then the letter (itself escaped if the regex needs it).
        out.push_str("\\\\");
        if regex_syntax::is_meta_character(letter as char) {
            out.push('\\');
        }
        out.push(letter as char);
        out.push('|');
    }
    let mut units = [0u16; 2];
    for &unit in c.encode_utf16(&mut units).iter() {
        out.push_str("\\\\u");
        for k in (0..4).rev() {
            let d = HEX[(unit >> (4 * k)) as usize & 15] as char;
            if d.is_ascii_alphabetic() {
                out.push('[');
                out.push(d);
                out.push(d.to_ascii_uppercase());
                out.push(']');
            } else {
                out.push(d);
            }
        }
    }
    out.push(')');
}

/// A stand-in for a regex in [`Expr::Intersect`]: the lexeme of
/// [`Expr::JsonStrings`] over `values`, so that an intersection can exclude
/// (or be limited to) thousands of strings as one trie instead of a part
/// per string. Not a regex (it starts with NUL, which regex text has only
/// inside an escape); [`json_strings_of_key`] reads it back.
pub(crate) fn json_strings_key(values: &[String]) -> String {
    let mut key = String::from("\0json");
    for v in values {
        key.push('\0');
        // JSON-quoted: no raw NUL inside, and no two sets share a key.
        key.push_str(&serde_json::to_string(v).expect("a string serializes"));
    }
    key
}

/// The strings of a [`json_strings_key`], if `pattern` is one.
pub(crate) fn json_strings_of_key(pattern: &str) -> Option<Vec<String>> {
    let rest = pattern.strip_prefix("\0json")?;
    rest.split('\0')
        .skip(1)
        .map(|q| serde_json::from_str(q).ok())
        .collect()
}

/// Every JSON spelling of the string `s` (quotes included), as a regex.
///
/// The lexer recognizes regexes made here and builds their DFA directly,
/// without parsing them: an object schema has one per property name, and
/// parsing and compiling each costs more than the rest of its lexeme.
pub(crate) fn spell_json_string(s: &str) -> String {
    let mut r = String::with_capacity(2 + 16 * s.len());
    r.push('"');
    for c in s.chars() {
        spell_json_char_into(c, &mut r);
    }
    r.push('"');
    r
}
