use formwork::*;
use std::sync::Arc;
use std::time::Instant;
fn main() {
    let v = Arc::new(Vocabulary::from_file("/tmp/llama3-tokenizer.json").unwrap());
    let t = Arc::new(TokenTrie::new(&v));
    let rx = std::env::args().nth(1).unwrap_or("[^!]+".into());
    let g = Arc::new(CompiledGrammar::new(&regex_grammar(&rx).unwrap()).unwrap());
    let m0 = Matcher::new(g, v.clone(), t.clone());
    let mut mask = TokenMask::new(v.logits_width());
    let t0 = Instant::now();
    for _ in 0..200 {
        let mut m = m0.clone();
        m.compute_mask_into(&mut mask);
    }
    println!("{:?} per mask", t0.elapsed() / 200);
}
