//! Parses files and prints the syntax diagnostics (a development aid).
fn main() {
    let mut sources = dialect_lang::source::SourceMap::new();
    let mut ids = dialect_lang::syntax::IdGen::default();
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let id = sources.add(&path, text.clone());
        let (m, diags) = dialect_lang::syntax::parse_module(id, &text, &mut ids);
        println!("{path}: {} items", m.items.len());
        print!("{}", dialect_lang::diagnostic::render_all(&diags, &sources));
    }
}
