//! Rename: a symbol's declaration and every use, in every file of the project.
//! A new name that would not parse (a reserved word, a digit first, a space) or
//! that another declaration of the same kind already has is refused with a
//! message for the analyst, instead of producing a project that no longer
//! checks.

use crate::ast::{FileId, Span};
use crate::syntax::RESERVED_WORDS;

use super::{Analysis, SymbolKind};

/// Why a rename cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    /// The cursor is not on a name this project declares.
    #[error("there is no declared name here to rename")]
    NothingHere,
    /// The new name is not a name the language accepts.
    #[error("`{0}` cannot be a name: {1}")]
    Invalid(String, &'static str),
    /// Another declaration of the same kind has that name.
    #[error("there is already a {0} called `{1}`")]
    Taken(&'static str, String),
}

impl Analysis {
    /// The name under the cursor, if it can be renamed.
    pub fn prepare_rename(&self, file: FileId, offset: usize) -> Result<Span, RenameError> {
        self.occurrence_at(file, offset)
            .map(|o| o.span)
            .ok_or(RenameError::NothingHere)
    }

    /// The edits that rename the symbol under the cursor to `new_name`: the
    /// declaration and every use, each with the text to put there.
    pub fn rename(
        &self,
        file: FileId,
        offset: usize,
        new_name: &str,
    ) -> Result<Vec<(Span, String)>, RenameError> {
        let o = self
            .occurrence_at(file, offset)
            .ok_or(RenameError::NothingHere)?;
        let symbol = self.symbol(o.symbol);
        check_name(symbol.kind, new_name)?;
        if new_name == symbol.name {
            return Ok(Vec::new());
        }
        let clash = self.symbols.iter().any(|s| {
            s.name == new_name
                && (s.kind == symbol.kind
                    // A variable and a constant would shadow each other.
                    || matches!(
                        (s.kind, symbol.kind),
                        (SymbolKind::Variable, SymbolKind::Constant)
                            | (SymbolKind::Constant, SymbolKind::Variable)
                    ))
                && (s.owner == symbol.owner || s.owner.is_none() || symbol.owner.is_none())
        });
        if clash {
            return Err(RenameError::Taken(symbol.kind.word(), new_name.to_string()));
        }
        let mut edits: Vec<(Span, String)> = self
            .references(o.symbol, true)
            .into_iter()
            .map(|s| (s, new_name.to_string()))
            .collect();
        // Duplicate declarations point at the first one: rename them too, so
        // that the duplicate stays a duplicate.
        for (i, s) in self.symbols.iter().enumerate() {
            if i as u32 != o.symbol.0
                && s.kind == symbol.kind
                && s.owner == symbol.owner
                && s.name == symbol.name
            {
                edits.push((s.decl, new_name.to_string()));
            }
        }
        edits.sort_by_key(|(s, _)| (s.file, s.start));
        edits.dedup_by_key(|(s, _)| *s);
        Ok(edits)
    }
}

/// Whether `name` can be written where a name of `kind` stands.
fn check_name(kind: SymbolKind, name: &str) -> Result<(), RenameError> {
    let invalid = |why| Err(RenameError::Invalid(name.to_string(), why));
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return invalid("a name cannot be empty");
    };
    if !(first.is_alphabetic() || first == '_') {
        return invalid("a name starts with a letter or `_`");
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return invalid("a name is made of letters, digits and `_`");
    }
    // Fields after a `.` and workorder states and fields may be reserved words.
    let may_be_reserved = matches!(
        kind,
        SymbolKind::CallData
            | SymbolKind::RecordField
            | SymbolKind::WorkorderField
            | SymbolKind::CampaignField
            | SymbolKind::State
            | SymbolKind::Transition
            | SymbolKind::Category
            | SymbolKind::Operation
    );
    if !may_be_reserved && RESERVED_WORDS.contains(&name) {
        return invalid("it is a word of the language");
    }
    Ok(())
}
