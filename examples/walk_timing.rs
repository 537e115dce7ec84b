//! Times single masks for a few grammars (a development aid).
use formwork::*;
use std::sync::Arc;
use std::time::Instant;
fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("/tmp/llama3-tokenizer.json".into());
    let v = Arc::new(Vocabulary::from_file(&path).unwrap());
    let t = Arc::new(TokenTrie::new(&v));
    println!("nodes {}", t.node_count());
    for (rx, text) in [
        ("[^!]+", "hello world"),
        ("^.{1,2500}", "hello world"),
        ("((..)|(.)){3}", "ab"),
    ] {
        let t0 = Instant::now();
        let g = Arc::new(CompiledGrammar::new(&regex_grammar(rx).unwrap()).unwrap());
        let c = t0.elapsed();
        let m0 = Matcher::new(g, v.clone(), t.clone());
        let mut mask = TokenMask::new(v.logits_width());
        for _ in 0..3 {
            let mut m = m0.clone();
            let t1 = Instant::now();
            m.compute_mask_into(&mut mask);
            let d1 = t1.elapsed();
            m.commit(v.encode(text).unwrap()[0]).unwrap();
            let t2 = Instant::now();
            m.compute_mask_into(&mut mask);
            println!(
                "{rx:?}: compile {c:?} first {d1:?} second {:?} allowed {}",
                t2.elapsed(),
                mask.count()
            );
        }
    }
}
