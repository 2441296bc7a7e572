//! Between the editor analysis and the protocol: file URIs and paths, spans and
//! ranges, diagnostics, completion items and fixes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use dialect_lang::ast::Span;
use dialect_lang::diagnostic::Severity;
use dialect_lang::ide::{Analysis, CompletionKind, LineCol, SymbolKind};
use lsp_types as lsp;

/// The path of a `file:` URI (percent-escapes decoded), or `None` for other
/// schemes.
pub fn uri_to_path(uri: &lsp::Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    // `file:///path` or `file://localhost/path`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    let path = String::from_utf8(out).ok()?;
    Some(normalize(Path::new(&path)))
}

/// The `file:` URI of a path, with everything but unreserved characters and
/// `/` percent-escaped (so Chinese file names travel as UTF-8 escapes).
pub fn path_to_uri(path: &Path) -> lsp::Uri {
    let mut s = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    // Every byte that is not plain ASCII was escaped above, so this parses.
    lsp::Uri::from_str(&s).unwrap_or_else(|_| fallback_uri())
}

fn fallback_uri() -> lsp::Uri {
    #[allow(clippy::expect_used)]
    lsp::Uri::from_str("file:///").expect("a valid URI")
}

/// A path with `.` and `..` resolved without touching the disk, so that the
/// same file always has the same path.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A protocol position as the analysis counts.
pub fn line_col(p: lsp::Position) -> LineCol {
    LineCol {
        line: p.line,
        col: p.character,
    }
}

fn position(p: LineCol) -> lsp::Position {
    lsp::Position::new(p.line, p.col)
}

/// The protocol range of a span.
pub fn range(a: &Analysis, span: Span) -> lsp::Range {
    let (from, to) = a.range(span);
    lsp::Range::new(position(from), position(to))
}

/// The protocol location of a span.
pub fn location(a: &Analysis, span: Span) -> Option<lsp::Location> {
    let path = a.path(span.file)?;
    Some(lsp::Location::new(path_to_uri(path), range(a, span)))
}

/// The diagnostics of one file of the analysis, in the protocol's form: the
/// hints follow the message on lines of their own; secondary places are
/// related information.
pub fn diagnostics(a: &Analysis, file: dialect_lang::ast::FileId) -> Vec<lsp::Diagnostic> {
    a.checked
        .diagnostics
        .iter()
        .filter(|d| d.span.file == file)
        .map(|d| {
            let mut message = d.message.clone();
            for h in &d.hints {
                message.push_str("\nhint: ");
                message.push_str(h);
            }
            let related: Vec<lsp::DiagnosticRelatedInformation> = d
                .labels
                .iter()
                .filter_map(|l| {
                    Some(lsp::DiagnosticRelatedInformation {
                        location: location(a, l.span)?,
                        message: l.message.clone(),
                    })
                })
                .collect();
            lsp::Diagnostic {
                range: range(a, d.span),
                severity: Some(match d.severity {
                    Severity::Error => lsp::DiagnosticSeverity::ERROR,
                    Severity::Warning => lsp::DiagnosticSeverity::WARNING,
                }),
                code: Some(lsp::NumberOrString::String(d.code.to_string())),
                source: Some("dialect".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..lsp::Diagnostic::default()
            }
        })
        .collect()
}

/// The editor's icon for a completion item.
pub fn completion_kind(k: CompletionKind) -> lsp::CompletionItemKind {
    match k {
        CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
        CompletionKind::Option => lsp::CompletionItemKind::PROPERTY,
        CompletionKind::Builtin => lsp::CompletionItemKind::CONSTANT,
        CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Symbol(s) => match s {
            SymbolKind::Flow => lsp::CompletionItemKind::FUNCTION,
            SymbolKind::Queue | SymbolKind::Campaign | SymbolKind::Workorder => {
                lsp::CompletionItemKind::CLASS
            }
            SymbolKind::Label | SymbolKind::Menu => lsp::CompletionItemKind::REFERENCE,
            SymbolKind::Variable => lsp::CompletionItemKind::VARIABLE,
            SymbolKind::Constant => lsp::CompletionItemKind::CONSTANT,
            SymbolKind::List | SymbolKind::Category => lsp::CompletionItemKind::ENUM,
            SymbolKind::Service => lsp::CompletionItemKind::MODULE,
            SymbolKind::Operation => lsp::CompletionItemKind::METHOD,
            SymbolKind::RecordField
            | SymbolKind::CallData
            | SymbolKind::WorkorderField
            | SymbolKind::CampaignField => lsp::CompletionItemKind::FIELD,
            SymbolKind::Calendar => lsp::CompletionItemKind::STRUCT,
            SymbolKind::State | SymbolKind::Transition => lsp::CompletionItemKind::ENUM_MEMBER,
            SymbolKind::Skill | SymbolKind::Department | SymbolKind::Role => {
                lsp::CompletionItemKind::VALUE
            }
        },
    }
}

/// The outline icon of a declaration.
pub fn symbol_kind(k: SymbolKind) -> lsp::SymbolKind {
    match k {
        SymbolKind::Flow => lsp::SymbolKind::FUNCTION,
        SymbolKind::Queue | SymbolKind::Campaign | SymbolKind::Workorder => lsp::SymbolKind::CLASS,
        SymbolKind::Label | SymbolKind::Menu => lsp::SymbolKind::KEY,
        SymbolKind::Variable => lsp::SymbolKind::VARIABLE,
        SymbolKind::Constant => lsp::SymbolKind::CONSTANT,
        SymbolKind::List | SymbolKind::Category => lsp::SymbolKind::ENUM,
        SymbolKind::Service => lsp::SymbolKind::MODULE,
        SymbolKind::Operation => lsp::SymbolKind::METHOD,
        SymbolKind::RecordField
        | SymbolKind::CallData
        | SymbolKind::WorkorderField
        | SymbolKind::CampaignField => lsp::SymbolKind::FIELD,
        SymbolKind::Calendar => lsp::SymbolKind::STRUCT,
        SymbolKind::State | SymbolKind::Transition => lsp::SymbolKind::ENUM_MEMBER,
        SymbolKind::Skill | SymbolKind::Department | SymbolKind::Role => lsp::SymbolKind::PROPERTY,
    }
}

/// Edits grouped by the file they change.
#[allow(
    clippy::mutable_key_type,
    reason = "the protocol's WorkspaceEdit is keyed by Uri, whose cached parts are never changed here"
)]
pub fn workspace_edit(a: &Analysis, edits: &[(Span, String)]) -> lsp::WorkspaceEdit {
    let mut changes: std::collections::HashMap<lsp::Uri, Vec<lsp::TextEdit>> =
        std::collections::HashMap::new();
    for (span, new) in edits {
        if let Some(path) = a.path(span.file) {
            changes
                .entry(path_to_uri(path))
                .or_default()
                .push(lsp::TextEdit::new(range(a, *span), new.clone()));
        }
    }
    lsp::WorkspaceEdit {
        changes: Some(changes),
        ..lsp::WorkspaceEdit::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn chinese_paths_survive_the_round_trip() {
        let p = Path::new("/tmp/热线 项目/main.flow");
        let uri = path_to_uri(p);
        assert_eq!(
            uri.as_str(),
            "file:///tmp/%E7%83%AD%E7%BA%BF%20%E9%A1%B9%E7%9B%AE/main.flow"
        );
        assert_eq!(uri_to_path(&uri).unwrap(), p);
        let other = lsp::Uri::from_str("untitled:Untitled-1").unwrap();
        assert_eq!(uri_to_path(&other), None);
        let dots = lsp::Uri::from_str("file:///a/b/../c/./d.flow").unwrap();
        assert_eq!(uri_to_path(&dots).unwrap(), Path::new("/a/c/d.flow"));
    }
}
