//! What every lexeme DFA and the product lexer share: state numbering
//! ([`DEAD`], [`UNKNOWN`]), the size limit of one lexeme's table, and byte
//! classes ([`class_table`], [`refine_classes`]).

/// Index of a lexeme in its grammar.
pub(crate) type LexemeId = u32;

/// The dead state (in [`LexemeDfa`](super::LexemeDfa) tables and in the
/// product cache).
pub(crate) const DEAD: u32 = u32::MAX;
/// A product transition not computed yet.
pub(crate) const UNKNOWN: u32 = u32::MAX - 1;

/// The class of each byte under `bc`, and the first byte of each class.
pub(crate) fn class_table(
    bc: &regex_automata::util::alphabet::ByteClasses,
) -> ([u8; 256], Vec<u8>) {
    let mut classes = [0u8; 256];
    let mut reps: Vec<u8> = Vec::new();
    for b in 0..=255u8 {
        let c = bc.get(b);
        classes[b as usize] = c;
        if c as usize >= reps.len() {
            reps.resize(c as usize + 1, b);
            reps[c as usize] = b;
        }
    }
    (classes, reps)
}

/// Refines the byte classes `class_of` by each of `tables` in turn, by
/// partition refinement: two bytes stay in one class only if every table
/// puts them in one class too. No key per byte over all tables (a schema has
/// thousands of lexemes). Returns the first byte of each class.
pub(crate) fn refine_classes<'t>(
    class_of: &mut [u8; 256],
    tables: impl Iterator<Item = &'t [u8; 256]>,
) -> Vec<u8> {
    // (class so far, table's class) -> stamp << 8 | new class. Stamps are
    // unique per table across calls, so the buffer is never cleared
    // (products call this for a handful of parts, often).
    thread_local! {
        static PAIRS: std::cell::RefCell<(Vec<u64>, u64)> =
            const { std::cell::RefCell::new((Vec::new(), 0)) };
    }
    PAIRS.with(|cell| {
        let (pairs, stamp) = &mut *cell.borrow_mut();
        if pairs.is_empty() {
            pairs.resize(1 << 16, 0);
        }
        let mut last: Option<&[u8; 256]> = None;
        for t in tables {
            // Runs of equal tables refine nothing new.
            if last.is_some_and(|c| c == t) {
                continue;
            }
            last = Some(t);
            *stamp += 1;
            let tag = *stamp << 8;
            let mut n = 0u64;
            for (c, &tc) in class_of.iter_mut().zip(t) {
                let e = &mut pairs[(*c as usize) << 8 | tc as usize];
                if *e & !0xff != tag {
                    *e = tag | n;
                    n += 1;
                }
                *c = *e as u8;
            }
        }
    });
    let mut class_rep = Vec::new();
    for b in 0..=255u8 {
        if class_of[b as usize] as usize == class_rep.len() {
            class_rep.push(b);
        }
    }
    class_rep
}

/// Size limit for one lexeme's DFA, in bytes of transition table.
pub(super) const DFA_SIZE_LIMIT: usize = 64 << 20;
