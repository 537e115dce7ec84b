//! A lexeme that is any one of a set of JSON strings, in every spelling,
//! built directly as a trie.
//!
//! A JSON Schema `enum` of strings may list tens of thousands of values.
//! As one lexeme per value, the lexer would run all of them side by side
//! from the opening quote (a product state of 50,000 members), and a regex
//! alternation of their spellings would be megabytes of pattern for an NFA
//! to digest. Yet the language is a trie: the values' UTF-8 bytes, shared
//! prefixes once, between quotes. [`StringSetDfa`] is that trie, plus the
//! escapes JSON allows for each character (`\"`, `\n`, `\u00e9`, a
//! surrogate pair `\ud83d\ude00`, hex digits in either case), worked out
//! from the trie instead of being stored: building it is a sort of the
//! values and one pass over them, and it holds a few bytes per trie node.
//!
//! # States
//!
//! * `0` is before the opening quote and `1` after the closing one.
//! * `2 + v` is trie node `v`: the bytes of a common prefix read raw.
//!   Node 0 is the root (right after the opening quote); every node is on
//!   the way to some value, so every state is live.
//! * An escape in progress is a character of the node it started at and a
//!   level ([`LEVELS`] of them: after `\`, after `\u`, after each hex
//!   digit, and the same for the low half of a surrogate pair). Each node
//!   lists its characters sorted by their UTF-16 units, so the characters
//!   whose escape starts with the digits typed so far are a contiguous
//!   run; the state names the first of them, `ESC + LEVELS * char + level`
//!   (with `ESC = 2 + nodes`). Narrowing the run by one more digit is a
//!   binary search.

use super::classes::DEAD;
use crate::error::GrammarError;
use crate::grammar::{json_short_escape, json_short_unescape};

/// Escape levels per character: 0 after `\`; 1 after `\u`; 2–4 after one
/// to three hex digits; 5 after four digits of a high surrogate; 6 after
/// its `\`; 7 after its `\u`; 8–10 after one to three digits of the low
/// surrogate.
const LEVELS: u32 = 11;
const START: u32 = 0;
const ACCEPT: u32 = 1;
const FAR: u32 = u32::MAX / 4;

/// The DFA of [`StringSetDfa::new`] (see the module docs).
#[derive(Debug)]
pub(crate) struct StringSetDfa {
    /// Per node, its raw edges: `edge_at[v]..edge_at[v + 1]` index
    /// `edge_byte` (sorted) and `edge_to`.
    edge_at: Vec<u32>,
    edge_byte: Vec<u8>,
    edge_to: Vec<u32>,
    /// A value ends at the node.
    terminal: Vec<bool>,
    /// Per node at a character boundary, its characters:
    /// `char_at[v]..char_at[v + 1]` index `char_key` (UTF-16 units, the
    /// high one in the upper half, sorted) and `char_to` (the node after
    /// the character).
    char_at: Vec<u32>,
    char_key: Vec<u32>,
    char_to: Vec<u32>,
    /// Per node, the fewest bytes to acceptance (closing quote included).
    dist: Vec<u32>,
    /// The byte of each class (class 0: no edge anywhere).
    reps: Vec<u8>,
}

/// Bytes that may appear raw inside a JSON string.
#[inline]
fn raw_ok(b: u8) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\'
}

#[inline]
fn hex_value(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

impl StringSetDfa {
    /// The DFA of every JSON spelling of every string of `values`, quotes
    /// included (a JSON `enum` of strings), with its byte classes (as many
    /// as [`stride`](Self::stride)). `values` must not be empty.
    pub(crate) fn new(values: &[String]) -> Result<(StringSetDfa, [u8; 256]), GrammarError> {
        assert!(!values.is_empty(), "a string set needs a value");
        let mut sorted: Vec<&[u8]> = values.iter().map(|s| s.as_bytes()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let total: usize = sorted.iter().map(|s| s.len()).sum();
        // States are u32, with LEVELS per character; refuse what cannot fit.
        if (total as u64 + sorted.len() as u64 + 2) * (LEVELS as u64 + 1) >= u64::from(u32::MAX / 2)
        {
            return Err(GrammarError::TooLarge(format!(
                "an enum of {} strings ({total} bytes) is too large for one lexeme",
                sorted.len()
            )));
        }
        let d = StringSetDfa::build(&sorted);
        let mut classes = [0u8; 256];
        for (i, &b) in d.reps.iter().enumerate().skip(1) {
            classes[b as usize] = i as u8;
        }
        Ok((d, classes))
    }

    /// Number of byte classes.
    pub(crate) fn stride(&self) -> usize {
        self.reps.len()
    }

    /// The start state.
    pub(crate) fn start(&self) -> u32 {
        START
    }

    /// The trie of `sorted` (sorted, distinct), nodes numbered breadth
    /// first, so that each node's edges are contiguous and children come
    /// after their parent.
    fn build(sorted: &[&[u8]]) -> StringSetDfa {
        let mut d = StringSetDfa {
            edge_at: vec![0],
            edge_byte: Vec::new(),
            edge_to: Vec::new(),
            terminal: Vec::new(),
            char_at: vec![0],
            char_key: Vec::new(),
            char_to: Vec::new(),
            dist: Vec::new(),
            reps: Vec::new(),
        };
        // Node `v` is the values `lo..hi` of `sorted`, which share their
        // first `depth` bytes.
        let mut nodes: Vec<(u32, u32, u32)> = vec![(0, sorted.len() as u32, 0)];
        let mut v = 0;
        while v < nodes.len() {
            let (mut lo, hi, depth) = nodes[v];
            let ends = sorted[lo as usize].len() == depth as usize;
            d.terminal.push(ends);
            if ends {
                lo += 1; // a shorter value sorts first
            }
            while lo < hi {
                let b = sorted[lo as usize][depth as usize];
                let mut end = lo + 1;
                while end < hi && sorted[end as usize][depth as usize] == b {
                    end += 1;
                }
                d.edge_byte.push(b);
                d.edge_to.push(nodes.len() as u32);
                nodes.push((lo, end, depth + 1));
                lo = end;
            }
            d.edge_at.push(d.edge_byte.len() as u32);
            v += 1;
        }
        // Each node's characters, where it is at a character boundary.
        let mut chars: Vec<(u32, u32)> = Vec::new();
        for (v, &(lo, _, depth)) in nodes.iter().enumerate() {
            chars.clear();
            let value = sorted[lo as usize];
            if std::str::from_utf8(&value[..depth as usize]).is_ok() {
                d.collect_chars(v as u32, 0, 0, 0, &mut chars);
                chars.sort_unstable();
            }
            d.char_key.extend(chars.iter().map(|c| c.0));
            d.char_to.extend(chars.iter().map(|c| c.1));
            d.char_at.push(d.char_key.len() as u32);
        }
        // Fewest bytes to acceptance, children first.
        d.dist = vec![FAR; nodes.len()];
        for v in (0..nodes.len()).rev() {
            let mut best = if d.terminal[v] { 1 } else { FAR };
            for e in d.edges(v as u32) {
                if raw_ok(d.edge_byte[e]) {
                    best = best.min(1 + d.dist[d.edge_to[e] as usize]);
                }
            }
            for c in d.chars(v as u32) {
                best = best.min(d.escape_cost(c) + d.dist[d.char_to[c] as usize]);
            }
            d.dist[v] = best;
        }
        // One class per byte that some state tells apart.
        let mut used = [false; 256];
        used[b'"' as usize] = true;
        used[b'\\' as usize] = true;
        for b in b"u/bfnrt0123456789abcdefABCDEF" {
            used[*b as usize] = true;
        }
        for &b in &d.edge_byte {
            used[b as usize] |= raw_ok(b);
        }
        d.reps = std::iter::once(0u8)
            .chain((0..=255u8).filter(|&b| used[b as usize]))
            .collect();
        // Class 0 (byte 0, never raw and no escape letter) has no edge.
        debug_assert!(!used[0]);
        d
    }

    /// Adds the characters starting at node `v` to `out` as (UTF-16 key,
    /// node after it); `bytes` holds the `len` bytes of a character read so
    /// far, which has `need` bytes in all.
    fn collect_chars(&self, v: u32, bytes: u32, len: u32, need: u32, out: &mut Vec<(u32, u32)>) {
        for e in self.edges(v) {
            let b = self.edge_byte[e];
            let (need, bytes) = if len == 0 {
                match utf8_len(b) {
                    Some(n) => (n, u32::from(b)),
                    None => continue,
                }
            } else {
                (need, (bytes << 8) | u32::from(b))
            };
            if len + 1 < need {
                self.collect_chars(self.edge_to[e], bytes, len + 1, need, out);
                continue;
            }
            let utf8 = bytes.to_be_bytes();
            if let Some(c) = std::str::from_utf8(&utf8[4 - need as usize..])
                .ok()
                .and_then(|s| s.chars().next())
            {
                out.push((utf16_key(c), self.edge_to[e]));
            }
        }
    }

    #[inline]
    fn edges(&self, v: u32) -> std::ops::Range<usize> {
        self.edge_at[v as usize] as usize..self.edge_at[v as usize + 1] as usize
    }

    #[inline]
    fn chars(&self, v: u32) -> std::ops::Range<usize> {
        self.char_at[v as usize] as usize..self.char_at[v as usize + 1] as usize
    }

    /// Bytes of the shortest spelling of character `c` that the raw bytes
    /// of the trie do not already count: its escape, where it cannot be
    /// raw (a quote, backslash or control character).
    fn escape_cost(&self, c: usize) -> u32 {
        let unit = self.char_key[c] >> 16;
        if unit >= 0x80 || raw_ok(unit as u8) {
            return FAR; // raw, counted by the edges
        }
        match json_short_escape(char::from(unit as u8)) {
            Some(_) => 2,
            None => 6,
        }
    }

    fn nodes(&self) -> u32 {
        self.terminal.len() as u32
    }

    fn esc(&self, char_index: usize, level: u32) -> u32 {
        2 + self.nodes() + LEVELS * char_index as u32 + level
    }

    /// The node whose character list holds character `c`.
    fn owner(&self, c: usize) -> u32 {
        (self.char_at.partition_point(|&x| x as usize <= c) - 1) as u32
    }

    /// The first character of node `v`'s from `c` on whose escape digits
    /// start with the `typed` digits of `c`'s key and then `digit`.
    fn narrow(&self, v: u32, c: usize, typed: u32, digit: u32) -> Option<usize> {
        let shift = |t: u32| 32 - 4 * t;
        let target = if typed == 0 {
            digit
        } else {
            ((self.char_key[c] >> shift(typed)) << 4) | digit
        };
        let t = typed + 1;
        let run = &self.char_key[c..self.char_at[v as usize + 1] as usize];
        let i = c + run.partition_point(|&k| (k >> shift(t)) < target);
        (i < self.char_at[v as usize + 1] as usize && self.char_key[i] >> shift(t) == target)
            .then_some(i)
    }

    pub(crate) fn next(&self, s: u32, class: u8) -> u32 {
        let Some(&b) = self.reps.get(class as usize).filter(|_| class != 0) else {
            return DEAD;
        };
        if s == START {
            return if b == b'"' { 2 } else { DEAD };
        }
        if s == ACCEPT {
            return DEAD;
        }
        let esc0 = 2 + self.nodes();
        if s < esc0 {
            let v = s - 2;
            return match b {
                b'"' if self.terminal[v as usize] => ACCEPT,
                b'\\' if !self.chars(v).is_empty() => self.esc(self.chars(v).start, 0),
                b if raw_ok(b) => {
                    let r = self.edges(v);
                    match self.edge_byte[r.clone()].binary_search(&b) {
                        Ok(i) => 2 + self.edge_to[r.start + i],
                        Err(_) => DEAD,
                    }
                }
                _ => DEAD,
            };
        }
        let c = ((s - esc0) / LEVELS) as usize;
        let level = (s - esc0) % LEVELS;
        let v = self.owner(c);
        match level {
            0 if b == b'u' => self.esc(c, 1),
            0 => {
                let Some(ch) = json_short_unescape(b as char) else {
                    return DEAD;
                };
                let r = self.chars(v);
                match self.char_key[r.clone()].binary_search(&utf16_key(ch)) {
                    Ok(i) => 2 + self.char_to[r.start + i],
                    Err(_) => DEAD,
                }
            }
            1..=4 | 7..=10 => {
                let Some(digit) = hex_value(b) else {
                    return DEAD;
                };
                let typed = if level <= 4 { level - 1 } else { level - 3 };
                let Some(i) = self.narrow(v, c, typed, digit) else {
                    return DEAD;
                };
                match typed + 1 {
                    4 if (0xD800..0xDC00).contains(&(self.char_key[i] >> 16)) => self.esc(i, 5),
                    4 | 8 => 2 + self.char_to[i],
                    t if t < 4 => self.esc(i, t + 1),
                    t => self.esc(i, t + 3),
                }
            }
            5 if b == b'\\' => self.esc(c, 6),
            6 if b == b'u' => self.esc(c, 7),
            _ => DEAD,
        }
    }

    pub(crate) fn is_accepting(&self, s: u32) -> bool {
        s == ACCEPT
    }

    /// Every state number there is (escape states of every character at
    /// every level, reached or not).
    pub(crate) fn state_count(&self) -> usize {
        2 + self.nodes() as usize + LEVELS as usize * self.char_key.len()
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.edge_at.len() * 4
            + self.edge_byte.len() * 5
            + self.terminal.len()
            + self.char_at.len() * 4
            + self.char_key.len() * 8
            + self.dist.len() * 4
    }

    /// The length of the shortest value's spelling, quotes included.
    pub(crate) fn shortest(&self) -> u32 {
        1 + self.dist[0]
    }

    /// Fewest bytes from state `s` to acceptance.
    pub(crate) fn to_accept(&self, s: u32) -> u32 {
        if s == START {
            return self.shortest();
        }
        if s == ACCEPT {
            return 0;
        }
        let esc0 = 2 + self.nodes();
        if s < esc0 {
            return self.dist[(s - 2) as usize];
        }
        let c = ((s - esc0) / LEVELS) as usize;
        let level = (s - esc0) % LEVELS;
        let v = self.owner(c);
        // The characters this escape may still be: from `c`, those whose
        // key starts with the digits typed (all of the node's after `\`).
        let typed = match level {
            0 | 1 => 0,
            2..=5 => level - 1,
            6 | 7 => 4,
            _ => level - 3,
        };
        let end = self.char_at[v as usize + 1] as usize;
        let prefix = |k: u32| if typed == 0 { 0 } else { k >> (32 - 4 * typed) };
        let want = prefix(self.char_key[c]);
        let mut best = FAR;
        for i in c..end {
            let k = self.char_key[i];
            if prefix(k) != want {
                break;
            }
            let pair = k & 0xFFFF != 0;
            let rest = match level {
                0 => {
                    let short = char::from_u32(k >> 16)
                        .and_then(json_short_escape)
                        .map_or(FAR, |_| 1);
                    short.min(if pair { 11 } else { 5 })
                }
                1..=4 => (4 - typed) + if pair { 6 } else { 0 },
                5 => 6,
                6 => 5,
                _ => 8 - typed,
            };
            best = best.min(rest + self.dist[self.char_to[i] as usize]);
        }
        best
    }

    /// Every state's transitions, as a table; `None` if it would have
    /// more than `limit` cells.
    pub(crate) fn complete(&self, limit: usize) -> Option<(Vec<u32>, Vec<bool>)> {
        let (n, stride) = (self.state_count(), self.reps.len());
        if n.saturating_mul(stride) > limit {
            return None;
        }
        let mut trans = Vec::with_capacity(n * stride);
        for s in 0..n as u32 {
            trans.extend((0..stride).map(|c| self.next(s, c as u8)));
        }
        let accept = (0..n as u32).map(|s| self.is_accepting(s)).collect();
        Some((trans, accept))
    }
}

/// The number of bytes of the UTF-8 sequence `lead` starts (`None` for a
/// continuation byte).
fn utf8_len(lead: u8) -> Option<u32> {
    match lead {
        0x00..=0x7F => Some(1),
        0xC0..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF7 => Some(4),
        _ => None,
    }
}

/// `c`'s UTF-16 units as one key: the first in the upper half, the second
/// (a low surrogate, or 0) in the lower half. Keys sort as their `\u`
/// escapes' hex digits do.
fn utf16_key(c: char) -> u32 {
    let mut units = [0u16; 2];
    let u = c.encode_utf16(&mut units);
    (u32::from(u[0]) << 16) | u.get(1).map_or(0, |&x| u32::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::spell_json_string;
    use crate::lexer::LexemeDfa;

    fn sets() -> Vec<Vec<String>> {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        vec![
            v(&["a"]),
            v(&["", "a", "ab", "abc", "b"]),
            v(&["red", "green", "blue", "greenish", "r\"d", "a\\b", "x/y"]),
            v(&["tab\there", "nl\n", "\u{1}", "\u{1f}x", "\u{7f}"]),
            v(&[
                "é", "e", "€", "\u{e000}", "\u{ffff}", "😀", "😁", "🙂", "😀x", "𝄞",
            ]),
            v(&["日本", "日本語", "中文", "한국어", "x日"]),
        ]
    }

    /// The trie and the regex DFA of the alternation of the values'
    /// spellings agree on every prefix of random texts made of the values'
    /// own pieces, raw and escaped: dead together, accepting together, and
    /// the same distance to acceptance.
    #[test]
    fn string_sets_match_regex_dfas() {
        let mut rand = crate::lexer::tests::seeded_rand(11);
        for values in sets() {
            let direct = LexemeDfa::strings(&values).unwrap();
            let alternation: Vec<String> = values.iter().map(|s| spell_json_string(s)).collect();
            let regex = LexemeDfa::build(&format!("(?:{})", alternation.join("|"))).unwrap();
            assert_eq!(
                direct.distances().shortest,
                regex.distances().shortest,
                "{values:?}"
            );
            let mut pieces: Vec<String> = ["\"", "\\", "u", "0", "d", "D", "8", "e", "/", "\\\""]
                .map(String::from)
                .to_vec();
            for c in values.iter().flat_map(|s| s.chars()) {
                pieces.push(c.to_string());
                let mut units = [0u16; 2];
                let esc: Vec<String> = c
                    .encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect();
                pieces.push(esc.concat().to_uppercase().replace("\\U", "\\u"));
                pieces.push(esc.concat());
                // Half an escape, to stop inside it.
                pieces.extend(esc.iter().map(|e| e[..4].to_string()));
                if let Some(l) = json_short_escape(c) {
                    pieces.push(format!("\\{}", l as char));
                }
            }
            for _ in 0..3000 {
                let mut text = String::from("\"");
                for _ in 0..rand(8) {
                    text.push_str(&pieces[rand(pieces.len())]);
                }
                if rand(3) == 0 {
                    text.push('"');
                }
                crate::lexer::tests::assert_same_walk(&direct, &regex, &text, "string set");
                let (mut p, mut q) = (direct.start, regex.start);
                for &byte in text.as_bytes() {
                    p = direct.next(p, byte);
                    q = regex.next(q, byte);
                    if p == DEAD {
                        break;
                    }
                    assert_eq!(
                        direct.to_accept(p),
                        regex.to_accept(q),
                        "{text:?} in {values:?}"
                    );
                }
            }
            // Every value, in its plain and fully escaped spellings.
            for s in &values {
                let escaped: String = s.encode_utf16().map(|u| format!("\\u{u:04X}")).collect();
                for text in [serde_json::to_string(s).unwrap(), format!("\"{escaped}\"")] {
                    let mut q = direct.start;
                    for &byte in text.as_bytes() {
                        q = direct.next(q, byte);
                    }
                    assert!(q != DEAD && direct.is_accepting(q), "{text}");
                }
            }
        }
    }

    /// The table (for analyses that read every state) agrees with `next`.
    #[test]
    fn string_set_tables_agree_with_transitions() {
        let values: Vec<String> = ["ab", "é", "😀", "a\"b"].map(String::from).to_vec();
        let direct = LexemeDfa::strings(&values).unwrap();
        let dense = direct.to_dense("strings").unwrap();
        for s in &values {
            let (mut p, mut q) = (direct.start, dense.start);
            for &byte in serde_json::to_string(s).unwrap().as_bytes() {
                p = direct.next(p, byte);
                q = dense.next(q, byte);
                assert_eq!(p, q);
            }
            assert!(dense.is_accepting(q));
        }
    }

    /// Tens of thousands of values build in one pass: the trie shares the
    /// prefixes, and no state is made per value and spelling.
    #[test]
    fn large_string_sets_are_tries() {
        let values: Vec<String> = (0..50_000).map(|i| format!("value-{i:06}")).collect();
        let d = LexemeDfa::strings(&values).unwrap();
        let Some(crate::lexer::dfa::Lazy::Strings(t)) = d.lazy.as_deref() else {
            panic!("not a string set");
        };
        // "value-0" is shared; then five digits: under 56,000 nodes.
        assert!(t.nodes() < 56_000, "{} nodes", t.nodes());
        let mut q = d.start;
        for &b in b"\"value-0\\u00331234\"" {
            q = d.next(q, b);
        }
        assert!(d.is_accepting(q));
        let mut q = d.start;
        for &b in b"\"value-04" {
            q = d.next(q, b);
        }
        assert_ne!(d.next(q, b'9'), DEAD);
        assert_eq!(d.next(q, b'a'), DEAD);
        let mut q = d.start;
        for &b in b"\"value-0" {
            q = d.next(q, b);
        }
        assert_eq!(d.next(q, b'5'), DEAD, "no value-05....");
    }
}
