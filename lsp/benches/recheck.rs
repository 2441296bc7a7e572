//! How long the language server takes to answer an edit: one `didChange` to
//! the hotline's `main.flow` (a name typed wrong, then right again), the whole
//! project folder parsed and checked again, the symbol index rebuilt and the
//! changed diagnostics serialized, as `dialect lsp` does after each keystroke.
//! The target is 50 ms.
//!
//! `cargo bench -p dialect-lsp --bench recheck`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_lsp::Server;
use dialect_lsp::convert::path_to_uri;
use lsp_server::{Message, Notification, Request};
use serde_json::json;

fn hotline() -> PathBuf {
    dialect_lsp::convert::normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline"))
}

fn recheck(c: &mut Criterion) {
    let root = hotline();
    let main = root.join("main.flow");
    let text = std::fs::read_to_string(&main).unwrap();
    let at = text.find("transfer queue general").unwrap() + "transfer queue ".len();
    let line = text[..at].matches('\n').count() as u32;
    let col = (at - text[..at].rfind('\n').map_or(0, |i| i + 1)) as u32;

    let mut server = Server::new(std::io::sink());
    let init = Request::new(
        1.into(),
        "initialize".into(),
        json!({"processId": null, "rootUri": path_to_uri(&root), "capabilities": {}}),
    );
    server.handle(Message::Request(init)).unwrap();
    let note =
        |method: &str, params| Message::Notification(Notification::new(method.into(), params));
    server.handle(note("initialized", json!({}))).unwrap();
    server
        .handle(note(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": path_to_uri(&main), "languageId": "dialect", "version": 1, "text": text}}),
        ))
        .unwrap();
    server.publish().unwrap();

    let mut version = 1;
    c.bench_function("lsp/did_change_hotline", |b| {
        b.iter(|| {
            version += 1;
            // Alternately break and mend the name: the diagnostics change each time.
            let new = if version % 2 == 0 { "genral" } else { "general" };
            let old_len = if version % 2 == 0 { 7 } else { 6 };
            server
                .handle(note(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": path_to_uri(&main), "version": version},
                           "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                                          "end": {"line": line, "character": col + old_len}},
                                               "text": new}]}),
                ))
                .unwrap();
            server.publish().unwrap();
        })
    });
}

criterion_group!(benches, recheck);
criterion_main!(benches);
