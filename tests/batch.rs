//! The batch APIs (`compute_masks`, `try_compute_masks`,
//! `try_compute_masks_into`, `try_compute_masks_with`) give, row by row,
//! exactly the masks and errors of one call per matcher, along random walks
//! over several grammars sharing one tokenizer.

mod common;

use common::Rng;
use formwork::{
    compute_masks, json_grammar, json_schema, regex_grammar, try_compute_masks,
    try_compute_masks_into, try_compute_masks_with, Budget, Matcher, MatcherError, SchemaOptions,
    TokenMask,
};
use serde_json::json;

#[test]
fn batch_masks_equal_single_masks() {
    let env = common::gpt2();
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 8}, "n": {"type": "integer"}},
        "required": ["name", "n"]
    });
    let grammars = [
        env.compile(&json_grammar()).unwrap(),
        env.compile(&regex_grammar("[a-z]{1,6}( [0-9]{1,3})?").unwrap())
            .unwrap(),
        env.compile(&json_schema(&schema, &SchemaOptions::default()).unwrap())
            .unwrap(),
    ];
    let mut rng = Rng(7);
    let mut batch: Vec<Matcher> = (0..24)
        .map(|i| Matcher::new(grammars[i % grammars.len()].clone(), &env))
        .collect();
    let width = env.vocab().logits_width();
    let words = width.div_ceil(32);
    let mut into: Vec<TokenMask> = (0..batch.len()).map(|_| TokenMask::new(0)).collect();
    let mut table = vec![0u32; batch.len() * words];
    for _step in 0..12 {
        let singles: Vec<TokenMask> = batch.iter().map(|m| m.clone().compute_mask()).collect();
        assert_eq!(compute_masks(&mut batch), singles);
        let tried: Vec<TokenMask> = try_compute_masks(&mut batch)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(tried, singles);
        assert!(try_compute_masks_into(&mut batch, &mut into)
            .iter()
            .all(Result::is_ok));
        assert_eq!(into, singles);
        let mut rows: Vec<&mut [u32]> = table.chunks_mut(words).collect();
        let status = try_compute_masks_with(&mut batch, &mut rows, |mask, row| {
            row.copy_from_slice(mask.as_words())
        });
        assert!(status.iter().all(Result::is_ok));
        for (row, single) in table.chunks(words).zip(&singles) {
            assert_eq!(row, single.as_words());
        }
        // Every row takes a random allowed token (rows that may only end stay).
        for (m, mask) in batch.iter_mut().zip(&singles) {
            let allowed: Vec<u32> = mask
                .iter()
                .filter(|&t| !env.vocab().eos_tokens().contains(&t))
                .collect();
            if !allowed.is_empty() {
                m.commit(allowed[rng.below(allowed.len())]).unwrap();
            }
        }
    }
}

#[test]
fn batch_errors_are_per_row() {
    let env = common::gpt2();
    let g = env.compile(&json_grammar()).unwrap();
    let mut batch: Vec<Matcher> = (0..6).map(|_| Matcher::new(g.clone(), &env)).collect();
    for m in &mut batch {
        m.commit_bytes(b"{\"").unwrap();
    }
    // Odd rows get a mask budget too small for any mask.
    for m in batch.iter_mut().skip(1).step_by(2) {
        m.set_budget(Budget::new().mask(1));
    }
    let expected: Vec<Result<TokenMask, MatcherError>> =
        batch.iter().map(|m| m.clone().try_compute_mask()).collect();
    assert!(expected[0].is_ok() && expected[1].is_err());
    assert_eq!(try_compute_masks(&mut batch), expected);
    let mut rows = vec![vec![7u32; 3]; batch.len()];
    let status = try_compute_masks_with(&mut batch, &mut rows, |_, row| row.fill(1));
    for (i, (s, row)) in status.iter().zip(&rows).enumerate() {
        assert_eq!(s.is_ok(), i % 2 == 0);
        // A row whose mask failed is not written.
        assert_eq!(row[0], if i % 2 == 0 { 1 } else { 7 });
    }
    // compute_masks gives an empty mask there, with last_error set.
    let masks = compute_masks(&mut batch);
    assert!(masks[1].is_empty() && batch[1].last_error().is_some());
    assert!(!masks[0].is_empty() && batch[0].last_error().is_none());
}
