//! The server loop. A reader thread frames messages off the input and hands
//! them over a channel; the loop takes every message that is waiting before it
//! checks again, so a burst of keystrokes costs one check, and answers each
//! request from a check of the text as it is at that request.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use dialect_lang::ide::Analysis;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::convert::{self, line_col, uri_to_path};
use crate::transport::{ReadError, read_message, write_message};
use crate::workspace::{Document, EditError, MAX_DOCUMENT, Project, apply_change};

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `shutdown` then `exit`, as the protocol asks.
    Clean,
    /// `exit` without `shutdown`, or the input ended.
    Abrupt,
}

/// What a request handler answers: a result, or an error for the editor.
type Answer = Result<serde_json::Value, (ErrorCode, String)>;

/// The server's state: projects, open documents, what was last published.
pub struct Server<W: Write> {
    out: W,
    projects: Vec<Project>,
    open: HashMap<PathBuf, Document>,
    /// Diagnostics last sent per file, to send only what changed.
    published: HashMap<PathBuf, Vec<lsp::Diagnostic>>,
    initialized: bool,
    shutdown: bool,
}

/// Runs a session: reads messages from `input`, writes answers to `output`,
/// until `exit` or the end of the input.
pub fn run(input: impl BufRead + Send + 'static, output: impl Write) -> std::io::Result<Ending> {
    let (tx, rx) = mpsc::sync_channel::<Result<Message, ReadError>>(64);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            match read_message(&mut input) {
                Ok(Some(m)) => {
                    if tx.send(Ok(m)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let go_on = e.recoverable();
                    if tx.send(Err(e)).is_err() || !go_on {
                        return;
                    }
                }
            }
        }
    });
    let mut server = Server::new(output);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        for m in batch {
            match m {
                Ok(m) => {
                    if let Some(ending) = server.handle(m)? {
                        return Ok(ending);
                    }
                }
                Err(e) => server.log(lsp::MessageType::WARNING, &e.to_string())?,
            }
        }
        server.publish()?;
    }
    Ok(Ending::Abrupt)
}

impl<W: Write> Server<W> {
    /// A server writing to `out`, before `initialize`.
    pub fn new(out: W) -> Server<W> {
        Server {
            out,
            projects: Vec::new(),
            open: HashMap::new(),
            published: HashMap::new(),
            initialized: false,
            shutdown: false,
        }
    }

    fn send(&mut self, m: Message) -> std::io::Result<()> {
        write_message(&mut self.out, &m)
    }

    fn notify(&mut self, method: &str, params: impl Serialize) -> std::io::Result<()> {
        let params = serde_json::to_value(params)?;
        self.send(Notification::new(method.to_string(), params).into())
    }

    fn log(&mut self, typ: lsp::MessageType, message: &str) -> std::io::Result<()> {
        self.notify(
            "window/logMessage",
            lsp::LogMessageParams {
                typ,
                message: message.to_string(),
            },
        )
    }

    /// Handles one message; `Some` when the session is over.
    pub fn handle(&mut self, m: Message) -> std::io::Result<Option<Ending>> {
        match m {
            Message::Request(r) => {
                let id = r.id.clone();
                let answer = self.request(r);
                let response = match answer {
                    Ok(v) => Response {
                        id,
                        response_result: Ok(v),
                    },
                    Err((code, message)) => Response::new_err(id, code as i32, message),
                };
                self.send(response.into())?;
                Ok(None)
            }
            Message::Notification(n) => {
                if n.method == "exit" {
                    return Ok(Some(if self.shutdown {
                        Ending::Clean
                    } else {
                        Ending::Abrupt
                    }));
                }
                if self.initialized {
                    self.notification(n)?;
                }
                Ok(None)
            }
            // We send no requests, so no answer is expected.
            Message::Response(_) => Ok(None),
        }
    }

    fn request(&mut self, r: Request) -> Answer {
        if r.method == "initialize" {
            return self.initialize(params(r.params)?);
        }
        if !self.initialized {
            return Err((
                ErrorCode::ServerNotInitialized,
                "the server has not been initialized".into(),
            ));
        }
        if self.shutdown {
            return Err((
                ErrorCode::InvalidRequest,
                "the server is shutting down".into(),
            ));
        }
        match r.method.as_str() {
            "shutdown" => {
                self.shutdown = true;
                Ok(serde_json::Value::Null)
            }
            "textDocument/definition" => self.definition(params(r.params)?),
            "textDocument/references" => self.references(params(r.params)?),
            "textDocument/hover" => self.hover(params(r.params)?),
            "textDocument/completion" => self.completion(params(r.params)?),
            "textDocument/prepareRename" => self.prepare_rename(params(r.params)?),
            "textDocument/rename" => self.rename(params(r.params)?),
            "textDocument/formatting" => self.formatting(params(r.params)?),
            "textDocument/codeAction" => self.code_action(params(r.params)?),
            "textDocument/documentSymbol" => self.document_symbol(params(r.params)?),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("`{other}` is not supported"),
            )),
        }
    }

    fn initialize(&mut self, p: lsp::InitializeParams) -> Answer {
        #[allow(deprecated)]
        let root = p
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or(p.root_uri.clone())
            .and_then(|u| uri_to_path(&u));
        if let Some(root) = root {
            self.projects.push(Project::load(root));
        }
        self.initialized = true;
        let caps = lsp::ServerCapabilities {
            position_encoding: Some(lsp::PositionEncodingKind::UTF16),
            text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
                lsp::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                    save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            definition_provider: Some(lsp::OneOf::Left(true)),
            references_provider: Some(lsp::OneOf::Left(true)),
            hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
            completion_provider: Some(lsp::CompletionOptions {
                trigger_characters: Some(vec![".".into(), " ".into(), "(".into()]),
                ..Default::default()
            }),
            rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: Default::default(),
            })),
            document_formatting_provider: Some(lsp::OneOf::Left(true)),
            code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
                lsp::CodeActionOptions {
                    code_action_kinds: Some(vec![
                        lsp::CodeActionKind::QUICKFIX,
                        lsp::CodeActionKind::SOURCE_FIX_ALL,
                    ]),
                    ..Default::default()
                },
            )),
            document_symbol_provider: Some(lsp::OneOf::Left(true)),
            ..Default::default()
        };
        to_value(lsp::InitializeResult {
            capabilities: caps,
            server_info: Some(lsp::ServerInfo {
                name: "dialect".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        })
    }

    fn notification(&mut self, n: Notification) -> std::io::Result<()> {
        let result = match n.method.as_str() {
            "textDocument/didOpen" => params(n.params).map(|p| self.did_open(p)),
            "textDocument/didChange" => params(n.params).map(|p| self.did_change(p)),
            "textDocument/didSave" => params::<lsp::DidSaveTextDocumentParams>(n.params).map(|p| {
                self.reread(&p.text_document.uri);
                Ok(())
            }),
            "textDocument/didClose" => params(n.params).map(|p| self.did_close(p)),
            "workspace/didChangeWatchedFiles" => {
                params::<lsp::DidChangeWatchedFilesParams>(n.params).map(|p| {
                    for c in p.changes {
                        self.reread(&c.uri);
                    }
                    Ok(())
                })
            }
            _ => Ok(Ok(())),
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => self.log(lsp::MessageType::WARNING, &e.to_string()),
            Err((_, e)) => self.log(lsp::MessageType::WARNING, &e),
        }
    }

    /// The project a path belongs to; a new one for its folder if none.
    fn project_index(&mut self, path: &Path) -> usize {
        let best = self
            .projects
            .iter()
            .enumerate()
            .filter(|(_, p)| p.contains(path))
            .max_by_key(|(_, p)| p.root.as_os_str().len())
            .map(|(i, _)| i);
        match best {
            Some(i) => i,
            None => {
                let root = path.parent().unwrap_or(Path::new("/")).to_path_buf();
                self.projects.push(Project::load(root));
                self.projects.len() - 1
            }
        }
    }

    fn did_open(&mut self, p: lsp::DidOpenTextDocumentParams) -> Result<(), EditError> {
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Ok(());
        };
        if p.text_document.text.len() > MAX_DOCUMENT {
            return Err(EditError::TooLarge(path.display().to_string()));
        }
        let i = self.project_index(&path);
        self.open.insert(
            path,
            Document {
                version: p.text_document.version,
                text: p.text_document.text,
            },
        );
        self.projects[i].touch();
        Ok(())
    }

    fn did_change(&mut self, p: lsp::DidChangeTextDocumentParams) -> Result<(), EditError> {
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Ok(());
        };
        let Some(doc) = self.open.get_mut(&path) else {
            return Err(EditError::NotOpen(path.display().to_string()));
        };
        let mut text = doc.text.clone();
        for c in p.content_changes {
            if c.text.len() > MAX_DOCUMENT {
                return Err(EditError::TooLarge(path.display().to_string()));
            }
            let range = c.range.map(|r| (line_col(r.start), line_col(r.end)));
            apply_change(&mut text, range, &c.text);
            if text.len() > MAX_DOCUMENT {
                return Err(EditError::TooLarge(path.display().to_string()));
            }
        }
        doc.text = text;
        doc.version = p.text_document.version;
        let i = self.project_index(&path);
        self.projects[i].touch();
        Ok(())
    }

    fn did_close(&mut self, p: lsp::DidCloseTextDocumentParams) -> Result<(), EditError> {
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Ok(());
        };
        self.open.remove(&path);
        let i = self.project_index(&path);
        self.projects[i].read_file(&path);
        Ok(())
    }

    /// A file changed on disk (saved, created, deleted by another program).
    fn reread(&mut self, uri: &lsp::Uri) {
        if let Some(path) = uri_to_path(uri) {
            let i = self.project_index(&path);
            if path.starts_with(self.projects[i].root.join("prompts")) {
                self.projects[i].reload();
            } else {
                self.projects[i].read_file(&path);
            }
        }
    }

    /// Checks every project that changed and sends the diagnostics that differ
    /// from the ones last sent.
    pub fn publish(&mut self) -> std::io::Result<()> {
        let mut sends = Vec::new();
        let mut notes = Vec::new();
        for project in &mut self.projects {
            if !project.is_dirty() {
                continue;
            }
            notes.append(&mut project.notes);
            let a = project.analysis(&self.open);
            let mut seen = Vec::new();
            for f in a.checked.project.sources.files() {
                let diags = convert::diagnostics(a, f.id);
                let path = f.path.clone();
                seen.push(path.clone());
                if self.published.get(&path) != Some(&diags) {
                    let version = self.open.get(&path).map(|d| d.version);
                    sends.push((path.clone(), diags.clone(), version));
                    self.published.insert(path, diags);
                }
            }
            // Files of this project that are gone: clear what was shown.
            let gone: Vec<PathBuf> = self
                .published
                .keys()
                .filter(|p| project.contains(p) && !seen.contains(p))
                .cloned()
                .collect();
            for p in gone {
                self.published.remove(&p);
                sends.push((p, Vec::new(), None));
            }
        }
        for n in notes {
            self.log(lsp::MessageType::WARNING, &n)?;
        }
        for (path, diagnostics, version) in sends {
            self.notify(
                "textDocument/publishDiagnostics",
                lsp::PublishDiagnosticsParams {
                    uri: convert::path_to_uri(&path),
                    diagnostics,
                    version,
                },
            )?;
        }
        Ok(())
    }

    /// The analysis of the project holding the document, checked again if it
    /// changed, and the document's file in it.
    fn analysis_for(
        &mut self,
        uri: &lsp::Uri,
    ) -> Result<(&Analysis, dialect_lang::ast::FileId), (ErrorCode, String)> {
        let path = uri_to_path(uri).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("{} is not a file", uri.as_str()),
            )
        })?;
        let i = self.project_index(&path);
        let a = self.projects[i].analysis(&self.open);
        let file = a.file(&path).ok_or_else(|| {
            (
                ErrorCode::InvalidParams,
                format!("{} is not part of the project", path.display()),
            )
        })?;
        Ok((a, file))
    }

    fn definition(&mut self, p: lsp::GotoDefinitionParams) -> Answer {
        let tdp = p.text_document_position_params;
        let (a, file) = self.analysis_for(&tdp.text_document.uri)?;
        let offset = a.offset(file, line_col(tdp.position));
        to_value(
            a.definition(file, offset)
                .and_then(|s| convert::location(a, s))
                .map(lsp::GotoDefinitionResponse::Scalar),
        )
    }

    fn references(&mut self, p: lsp::ReferenceParams) -> Answer {
        let tdp = p.text_document_position;
        let (a, file) = self.analysis_for(&tdp.text_document.uri)?;
        let offset = a.offset(file, line_col(tdp.position));
        let Some(o) = a.occurrence_at(file, offset) else {
            return to_value(None::<Vec<lsp::Location>>);
        };
        let locations: Vec<lsp::Location> = a
            .references(o.symbol, p.context.include_declaration)
            .into_iter()
            .filter_map(|s| convert::location(a, s))
            .collect();
        to_value(Some(locations))
    }

    fn hover(&mut self, p: lsp::HoverParams) -> Answer {
        let tdp = p.text_document_position_params;
        let (a, file) = self.analysis_for(&tdp.text_document.uri)?;
        let offset = a.offset(file, line_col(tdp.position));
        to_value(a.hover(file, offset).map(|h| lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: h.markdown,
            }),
            range: Some(convert::range(a, h.span)),
        }))
    }

    fn completion(&mut self, p: lsp::CompletionParams) -> Answer {
        let tdp = p.text_document_position;
        let (a, file) = self.analysis_for(&tdp.text_document.uri)?;
        let offset = a.offset(file, line_col(tdp.position));
        let items: Vec<lsp::CompletionItem> = a
            .completions(file, offset)
            .into_iter()
            .map(|c| lsp::CompletionItem {
                label: c.label,
                kind: Some(convert::completion_kind(c.kind)),
                detail: (!c.detail.is_empty()).then_some(c.detail),
                ..Default::default()
            })
            .collect();
        to_value(lsp::CompletionResponse::Array(items))
    }

    fn prepare_rename(&mut self, p: lsp::TextDocumentPositionParams) -> Answer {
        let (a, file) = self.analysis_for(&p.text_document.uri)?;
        let offset = a.offset(file, line_col(p.position));
        match a.prepare_rename(file, offset) {
            Ok(span) => to_value(lsp::PrepareRenameResponse::Range(convert::range(a, span))),
            Err(e) => Err((ErrorCode::RequestFailed, e.to_string())),
        }
    }

    fn rename(&mut self, p: lsp::RenameParams) -> Answer {
        let tdp = p.text_document_position;
        let (a, file) = self.analysis_for(&tdp.text_document.uri)?;
        let offset = a.offset(file, line_col(tdp.position));
        match a.rename(file, offset, &p.new_name) {
            Ok(edits) => to_value(convert::workspace_edit(a, &edits)),
            Err(e) => Err((ErrorCode::RequestFailed, e.to_string())),
        }
    }

    fn formatting(&mut self, p: lsp::DocumentFormattingParams) -> Answer {
        let (a, file) = self.analysis_for(&p.text_document.uri)?;
        let text = a.text(file);
        match dialect_lang::format::format_source(file, text) {
            Ok(formatted) if formatted == text => to_value(Vec::<lsp::TextEdit>::new()),
            Ok(formatted) => {
                let whole = dialect_lang::ast::Span::new(file, 0, text.len());
                to_value(vec![lsp::TextEdit::new(
                    convert::range(a, whole),
                    formatted,
                )])
            }
            // A file with syntax errors is left as it is; the errors are
            // already shown as diagnostics.
            Err(_) => to_value(None::<Vec<lsp::TextEdit>>),
        }
    }

    fn code_action(&mut self, p: lsp::CodeActionParams) -> Answer {
        let (a, file) = self.analysis_for(&p.text_document.uri)?;
        let start = a.offset(file, line_col(p.range.start));
        let end = a.offset(file, line_col(p.range.end));
        let only_fix_all = p.context.only.as_ref().is_some_and(|k| {
            k.iter()
                .all(|k| k.as_str().starts_with(lsp::CodeActionKind::SOURCE.as_str()))
        });
        let all_diags = convert::diagnostics(a, file);
        let file_diags: Vec<&dialect_lang::Diagnostic> = a
            .checked
            .diagnostics
            .iter()
            .filter(|d| d.span.file == file)
            .collect();
        let mut actions = Vec::new();
        for fix in a.fixes(file, start, end) {
            let fix_all = fix.diagnostic.is_none();
            if only_fix_all && !fix_all {
                continue;
            }
            let diagnostics = fix.diagnostic.and_then(|i| {
                let d = &a.checked.diagnostics[i];
                let j = file_diags.iter().position(|x| std::ptr::eq(*x, d))?;
                Some(vec![all_diags.get(j)?.clone()])
            });
            actions.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title,
                kind: Some(if fix_all {
                    lsp::CodeActionKind::SOURCE_FIX_ALL
                } else {
                    lsp::CodeActionKind::QUICKFIX
                }),
                diagnostics,
                edit: Some(convert::workspace_edit(a, &fix.edits)),
                is_preferred: Some(fix.preferred),
                ..Default::default()
            }));
        }
        to_value(actions)
    }

    fn document_symbol(&mut self, p: lsp::DocumentSymbolParams) -> Answer {
        let (a, file) = self.analysis_for(&p.text_document.uri)?;
        #[allow(deprecated)]
        let symbols: Vec<lsp::SymbolInformation> = a
            .file_symbols(file)
            .into_iter()
            .filter_map(|s| {
                Some(lsp::SymbolInformation {
                    name: s.name.clone(),
                    kind: convert::symbol_kind(s.kind),
                    tags: None,
                    deprecated: None,
                    location: convert::location(a, s.span)?,
                    container_name: s.owner.clone(),
                })
            })
            .collect();
        to_value(lsp::DocumentSymbolResponse::Flat(symbols))
    }
}

fn params<P: DeserializeOwned>(v: serde_json::Value) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_value(v: impl Serialize) -> Answer {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

#[cfg(test)]
mod tests {
    //! A session over an in-memory stream, framed as an editor frames it: a
    //! project's `role` is a symbol the editor can jump to, list and complete.

    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::{Value, json};

    const ROLES: &str = "\
role dispatcher \"派单员\"

workorder fault {
  field phone: phone required
  state new initial limit 1h wall {
    escalate -> supervisor, dispatcher
  }
  state closed final
  transition close: new -> closed by agent, dispatcher close
}
";

    fn frame(out: &mut Vec<u8>, v: Value) {
        let body = serde_json::to_vec(&v).unwrap();
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body);
    }

    fn unframe(mut bytes: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&bytes[..end]).unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            let body = &bytes[end + 4..end + 4 + len];
            out.push(serde_json::from_slice(body).unwrap());
            bytes = &bytes[end + 4 + len..];
        }
        out
    }

    #[test]
    fn roles_are_found_listed_and_completed() {
        let dir = std::env::temp_dir().join(format!("dialect-lsp-roles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("orders.flow");
        std::fs::write(&path, ROLES).unwrap();
        let uri = crate::convert::path_to_uri(&path).as_str().to_string();
        let root = crate::convert::path_to_uri(&dir).as_str().to_string();
        let doc = json!({"uri": uri});
        // `dispatcher` in the escalation: line 5, after `supervisor, `.
        let escalation = json!({"line": 5, "character": 30});
        // After `by ` on line 8: what may be written there.
        let by = ROLES.lines().nth(8).unwrap().find("by ").unwrap() + 3;
        let mut input = Vec::new();
        for m in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"capabilities": {}, "rootUri": root}}),
            json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
                   {"uri": uri, "languageId": "dialect", "version": 1, "text": ROLES}}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/definition",
                   "params": {"textDocument": doc, "position": escalation}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/documentSymbol",
                   "params": {"textDocument": doc}}),
            json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/completion",
                   "params": {"textDocument": doc, "position": {"line": 8, "character": by}}}),
            json!({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}),
            json!({"jsonrpc": "2.0", "method": "exit"}),
        ] {
            frame(&mut input, m);
        }
        let mut output = Vec::new();
        super::run(std::io::Cursor::new(input), &mut output).unwrap();
        let answers = unframe(&output);
        let answer = |id: i64| {
            answers
                .iter()
                .find(|a| a["id"] == id)
                .unwrap_or_else(|| panic!("no answer {id}: {answers:#?}"))["result"]
                .clone()
        };
        let def = answer(2);
        let def = def.as_array().and_then(|a| a.first()).unwrap_or(&def);
        assert_eq!(def["uri"], uri.as_str(), "{def}");
        assert_eq!(
            def["range"]["start"],
            json!({"line": 0, "character": 5}),
            "{def}"
        );
        let symbols = answer(3);
        let role = symbols
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "dispatcher")
            .unwrap_or_else(|| panic!("{symbols:#}"));
        assert_eq!(role["kind"], json!(7), "a property: {role}");
        let items = answer(4);
        let items = items["items"]
            .as_array()
            .or(items.as_array())
            .cloned()
            .unwrap();
        let labels: Vec<&str> = items.iter().filter_map(|i| i["label"].as_str()).collect();
        assert!(labels.contains(&"dispatcher"), "{labels:?}");
        assert!(labels.contains(&"supervisor"), "{labels:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
