//! `dialect lsp` driven as an editor drives it: the real binary, real protocol
//! messages over its standard input and output, on a copy of the hotline
//! project (whose lines mix Chinese and ASCII, so every position is checked in
//! UTF-16 columns).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A copy of the hotline in a fresh folder.
fn hotline_copy(name: &str) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let dir = std::env::temp_dir().join(format!("dialect-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&src, &dir);
    dir
}

fn uri(p: &Path) -> String {
    let mut s = String::from("file://");
    for b in p.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// An editor at the other end of the pipe.
struct Editor {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    notes: Vec<Value>,
}

impl Editor {
    fn start() -> Editor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dialect"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = Some(v.parse::<usize>().unwrap());
                    }
                }
                let mut body = vec![0; len.expect("Content-Length")];
                r.read_exact(&mut body).unwrap();
                let v: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["jsonrpc"], "2.0");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Editor {
            child,
            stdin,
            rx,
            next_id: 0,
            notes: Vec::new(),
        }
    }

    fn send(&mut self, v: Value) {
        let body = serde_json::to_vec(&v).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(&body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no answer to {method}"));
            if v["id"] == id {
                return v;
            }
            self.notes.push(v);
        }
    }

    /// The result of a request that must succeed.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let r = self.call(method, params);
        assert!(r["error"].is_null(), "{method}: {r}");
        r["result"].clone()
    }

    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.rx.recv_timeout(left).ok()
    }

    /// The next diagnostics published for `file` (earlier ones seen while
    /// waiting for answers count too).
    fn diagnostics(&mut self, file: &Path) -> Vec<Value> {
        let u = uri(file);
        let is_it =
            |v: &Value| v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == u;
        if let Some(i) = self.notes.iter().position(is_it) {
            let v = self.notes.remove(i);
            return v["params"]["diagnostics"].as_array().unwrap().clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no diagnostics for {u}"));
            if is_it(&v) {
                return v["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.notes.push(v);
        }
    }

    fn initialize(&mut self, root: &Path) -> Value {
        let r = self.result(
            "initialize",
            json!({"processId": null, "rootUri": uri(root), "capabilities": {}}),
        );
        self.notify("initialized", json!({}));
        r
    }

    fn open(&mut self, file: &Path) -> String {
        let text = std::fs::read_to_string(file).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(file), "languageId": "dialect", "version": 1, "text": text}}),
        );
        text
    }

    fn stop(mut self) -> i32 {
        let r = self.call("shutdown", Value::Null);
        assert!(r["error"].is_null(), "{r}");
        self.notify("exit", Value::Null);
        drop(self.stdin);
        wait_exit(&mut self.child)
    }
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The protocol position (line, UTF-16 column) of the `nth` `needle` in
/// `text`, `delta` characters further.
fn pos(text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    let at = text.match_indices(needle).nth(nth).expect(needle).0;
    let before = &text[..at];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = text[line_start..at].encode_utf16().count()
        + needle
            .chars()
            .take(delta)
            .map(char::len_utf16)
            .sum::<usize>();
    json!({"line": line, "character": col})
}

fn doc_pos(file: &Path, p: Value) -> Value {
    json!({"textDocument": {"uri": uri(file)}, "position": p})
}

#[test]
fn an_editor_session_on_the_hotline() {
    let root = hotline_copy("session");
    let main = root.join("main.flow");
    let queues = root.join("queues.flow");
    let fee = root.join("fee.flow");
    let mut ed = Editor::start();
    let init = ed.initialize(&root);
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    for c in [
        "definitionProvider",
        "referencesProvider",
        "hoverProvider",
        "renameProvider",
        "documentFormattingProvider",
        "codeActionProvider",
        "completionProvider",
    ] {
        assert!(!caps[c].is_null(), "{c} missing: {caps}");
    }

    // Open: the whole folder is checked; the hotline has no problem.
    let text = ed.open(&main);
    assert_eq!(ed.diagnostics(&main), Vec::<Value>::new());

    // Go to definition from a line with Chinese before the name.
    let call_line = "1 | \"话费\" | \"账单\" | \"billing\" -> call fee_inquiry()";
    let at_fee = pos(
        &text,
        call_line,
        0,
        // `pos` counts characters, and the line has Chinese before the name.
        call_line[..call_line.find("fee_inquiry").unwrap()]
            .chars()
            .count()
            + 2,
    );
    let def = ed.result("textDocument/definition", doc_pos(&main, at_fee.clone()));
    let fee_text = std::fs::read_to_string(&fee).unwrap();
    assert_eq!(def["uri"], uri(&fee), "{def}");
    assert_eq!(def["range"]["start"], pos(&fee_text, "fee_inquiry", 0, 0));
    assert_eq!(def["range"]["end"], pos(&fee_text, "fee_inquiry", 0, 11));

    // References to the queue `general` across files.
    let queues_text = std::fs::read_to_string(&queues).unwrap();
    let at_general = pos(&text, "transfer queue general", 0, 16);
    let refs = ed.result(
        "textDocument/references",
        json!({"textDocument": {"uri": uri(&main)}, "position": at_general, "context": {"includeDeclaration": true}}),
    );
    let refs = refs.as_array().unwrap();
    assert_eq!(refs[0]["uri"], uri(&queues));
    assert_eq!(
        refs[0]["range"]["start"],
        pos(&queues_text, "queue general", 0, 6)
    );
    let in_main = refs.iter().filter(|r| r["uri"] == uri(&main)).count();
    assert_eq!(in_main, text.matches("queue general").count(), "{refs:?}");

    // Hover: the type of a variable, and the comment above a queue.
    let hover = ed.result(
        "textDocument/hover",
        doc_pos(&main, pos(&text, "data.customer_id = customer.id", 0, 20)),
    );
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(md.contains("customer: record crm.customer"), "{md}");
    let hover = ed.result("textDocument/hover", doc_pos(&main, at_general.clone()));
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(md.contains("queue general"), "{md}");

    // Completion after `transfer queue `.
    let items = ed.result(
        "textDocument/completion",
        doc_pos(&main, pos(&text, "transfer queue general", 0, 15)),
    );
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    for q in ["general", "billing", "vip"] {
        assert!(labels.contains(&q), "{labels:?}");
    }

    // A typo typed on a Chinese line: an incremental change in UTF-16 columns,
    // diagnosed at once with the right range, and fixed by the code action.
    let start = at_fee.clone();
    let mut end = start.clone();
    end["character"] = json!(start["character"].as_u64().unwrap() - 2 + 11);
    let mut typo_start = start.clone();
    typo_start["character"] = json!(start["character"].as_u64().unwrap() - 2);
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&main), "version": 2},
               "contentChanges": [{"range": {"start": typo_start, "end": end}, "text": "fee_inqiury"}]}),
    );
    let diags = ed.diagnostics(&main);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "unknown-flow");
    assert_eq!(diags[0]["range"]["start"], typo_start);
    assert_eq!(diags[0]["range"]["end"], end);
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `fee_inquiry`?")
    );
    let actions = ed.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&main)}, "range": {"start": typo_start, "end": typo_start},
               "context": {"diagnostics": diags}}),
    );
    let a = &actions.as_array().unwrap()[0];
    assert_eq!(a["title"], "Change to fee_inquiry");
    assert_eq!(a["kind"], "quickfix");
    let edit = &a["edit"]["changes"][uri(&main)][0];
    assert_eq!(edit["newText"], "fee_inquiry");
    assert_eq!(edit["range"]["start"], typo_start);
    // Undo through the whole-text form of a change.
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&main), "version": 3}, "contentChanges": [{"text": text}]}),
    );
    assert_eq!(ed.diagnostics(&main), Vec::<Value>::new());

    // Full-width punctuation: a syntax error with a fix to ASCII.
    let wide = text.replacen("main_menu:", "main_menu：", 1);
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&main), "version": 4}, "contentChanges": [{"text": wide}]}),
    );
    let diags = ed.diagnostics(&main);
    assert!(!diags.is_empty());
    let colon = pos(&wide, "：", 0, 0);
    let actions = ed.result(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&main)}, "range": {"start": colon, "end": colon},
               "context": {"diagnostics": diags}}),
    );
    let a = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Replace the full-width `：` with `:`")
        .unwrap_or_else(|| panic!("{actions}"));
    let edit = &a["edit"]["changes"][uri(&main)][0];
    assert_eq!(edit["newText"], ":");
    assert_eq!(edit["range"]["start"], colon);
    ed.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&main), "version": 5}, "contentChanges": [{"text": text}]}),
    );
    assert_eq!(ed.diagnostics(&main), Vec::<Value>::new());

    // Rename the queue `general` to a Chinese name, in every file.
    let rename = ed.result(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri(&main)}, "position": at_general, "newName": "综合"}),
    );
    let changes = rename["changes"].as_object().unwrap();
    assert!(changes.contains_key(&uri(&queues)) && changes.contains_key(&uri(&main)));
    let main_edits = changes[&uri(&main)].as_array().unwrap();
    assert_eq!(main_edits.len(), text.matches("queue general").count());
    assert!(main_edits.iter().all(|e| e["newText"] == "综合"));
    assert!(
        main_edits
            .iter()
            .any(|e| e["range"]["start"] == pos(&text, "transfer queue general", 0, 15))
    );
    let refused = ed.call(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri(&main)}, "position": at_general, "newName": "queue"}),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("word of the language"),
        "{refused}"
    );

    // Formatting a new, untidy document of the project.
    let scratch = root.join("scratch.flow");
    ed.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&scratch), "languageId": "dialect", "version": 1,
               "text": "flow scratch{say \"好\"   ;hangup}"}}),
    );
    let edits = ed.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri(&scratch)}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        edits[0]["newText"],
        "flow scratch {\n  say \"好\"\n  hangup\n}\n"
    );
    assert_eq!(
        edits[0]["range"]["end"],
        json!({"line": 0, "character": 31})
    );

    // The outline of a file.
    let symbols = ed.result(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&queues)}}),
    );
    assert!(
        symbols
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "general")
    );

    // An unknown request gets an error, not silence.
    let r = ed.call("textDocument/unknownThing", json!({}));
    assert_eq!(r["error"]["code"], -32601);

    assert_eq!(ed.stop(), 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn requests_before_initialize_are_refused() {
    let mut ed = Editor::start();
    let r = ed.call(
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///x.flow"}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(r["error"]["code"], -32002);
    ed.notify("exit", Value::Null);
    drop(ed.stdin);
    assert_eq!(wait_exit(&mut ed.child), 1);
}

#[test]
fn an_oversized_message_is_skipped_without_being_stored() {
    let mut ed = Editor::start();
    // Announce 40 MB, send them in pieces: the server reads and drops them.
    write!(ed.stdin, "Content-Length: {}\r\n\r\n", 40 * 1024 * 1024).unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..40 {
        ed.stdin.write_all(&chunk).unwrap();
    }
    ed.stdin.flush().unwrap();
    let root = hotline_copy("oversized");
    ed.initialize(&root);
    let log = ed
        .notes
        .iter()
        .find(|n| n["method"] == "window/logMessage")
        .cloned()
        .unwrap_or_default();
    assert!(
        log["params"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("larger than the limit"),
        "{log}"
    );
    assert_eq!(ed.stop(), 0);
    let _ = std::fs::remove_dir_all(&root);
}
