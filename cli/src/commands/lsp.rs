//! `dialect lsp`: the language server on standard input and output, for
//! editors (the VS Code extension in `editors/vscode/`, or any editor with a
//! language-server client).

use std::process::ExitCode;

use anyhow::Result;

/// Serves one editor session until it says `exit` or closes the pipe. Exit code
/// 0 after a clean `shutdown` and `exit`, 1 otherwise (as the protocol asks).
pub(crate) fn run() -> Result<ExitCode> {
    let input = std::io::BufReader::new(std::io::stdin());
    let output = std::io::stdout().lock();
    Ok(match dialect_lsp::run(input, output)? {
        dialect_lsp::Ending::Clean => ExitCode::SUCCESS,
        dialect_lsp::Ending::Abrupt => ExitCode::from(1),
    })
}
