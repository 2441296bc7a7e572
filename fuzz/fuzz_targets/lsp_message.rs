//! Fuzzes the language server's message reading: `Content-Length` framing with
//! its limits, then the JSON-RPC envelope and the parameters of every request
//! and notification the server answers. Nothing may panic, every read is
//! bounded, and a message read back from what was written is the same message.
//! Run: `cargo fuzz run -s none lsp_message seeds/lsp_message`.
#![no_main]

use dialect_lsp::transport::{read_message_limited, write_message};
use libfuzzer_sys::fuzz_target;
use lsp_server::Message;
use lsp_types as lsp;

fn params<P: serde::de::DeserializeOwned>(v: &serde_json::Value) {
    let _ = serde_json::from_value::<P>(v.clone());
}

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    for _ in 0..32 {
        let m = match read_message_limited(&mut input, 1 << 16) {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) if e.recoverable() => continue,
            Err(_) => break,
        };
        let (method, p) = match &m {
            Message::Request(r) => (r.method.as_str(), &r.params),
            Message::Notification(n) => (n.method.as_str(), &n.params),
            Message::Response(_) => ("", &serde_json::Value::Null),
        };
        match method {
            "initialize" => params::<lsp::InitializeParams>(p),
            "textDocument/didOpen" => params::<lsp::DidOpenTextDocumentParams>(p),
            "textDocument/didChange" => params::<lsp::DidChangeTextDocumentParams>(p),
            "textDocument/definition" => params::<lsp::GotoDefinitionParams>(p),
            "textDocument/references" => params::<lsp::ReferenceParams>(p),
            "textDocument/hover" => params::<lsp::HoverParams>(p),
            "textDocument/completion" => params::<lsp::CompletionParams>(p),
            "textDocument/rename" => params::<lsp::RenameParams>(p),
            "textDocument/codeAction" => params::<lsp::CodeActionParams>(p),
            "textDocument/formatting" => params::<lsp::DocumentFormattingParams>(p),
            _ => {}
        }
        let mut out = Vec::new();
        write_message(&mut out, &m).expect("writing to memory");
        let back = read_message_limited(&mut &out[..], usize::MAX)
            .expect("what was written reads back")
            .expect("one message");
        assert_eq!(
            serde_json::to_value(&back).ok(),
            serde_json::to_value(&m).ok()
        );
    }
});
