//! The projects the server checks. A project is a folder: every `.flow` file
//! under it is read from disk once, the documents open in the editor replace
//! their files, and the whole folder is checked together so that names resolve
//! across files. A document outside every known project makes a project of its
//! own folder.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use dialect_lang::check::{PromptIndex, check_project, parse_project, project_files};
use dialect_lang::ide::{Analysis, LineCol, LineIndex};

/// The largest document (or file on disk) checked, in bytes: far above any
/// hand-written flow file, low enough that a pasted log does not stall the
/// server.
pub const MAX_DOCUMENT: usize = 8 * 1024 * 1024;
/// The most `.flow` files read from a project folder.
pub const MAX_FILES: usize = 5_000;

/// A document the editor has open: its text replaces the file on disk.
#[derive(Debug, Clone)]
pub struct Document {
    /// The editor's version, echoed in diagnostics.
    pub version: i32,
    /// The text as the editor has it now.
    pub text: String,
}

/// Why an edit was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The document would be larger than [`MAX_DOCUMENT`].
    #[error("{0} is larger than {MAX_DOCUMENT} bytes; it is not checked")]
    TooLarge(String),
    /// A change for a document the editor never opened.
    #[error("{0} is not open")]
    NotOpen(String),
}

/// One project folder: its files, the open documents, the last check.
pub struct Project {
    /// The folder.
    pub root: PathBuf,
    disk: BTreeMap<PathBuf, String>,
    prompts: PromptIndex,
    analysis: Option<Analysis>,
    dirty: bool,
    /// Problems reading the folder, for the editor's log.
    pub notes: Vec<String>,
}

impl Project {
    /// Reads every `.flow` file under `root` (at most [`MAX_FILES`], each at
    /// most [`MAX_DOCUMENT`] bytes) and the prompt folder.
    pub fn load(root: PathBuf) -> Project {
        let mut p = Project {
            root,
            disk: BTreeMap::new(),
            prompts: PromptIndex::Unchecked,
            analysis: None,
            dirty: true,
            notes: Vec::new(),
        };
        p.reload();
        p
    }

    /// Reads the folder again (files changed on disk, created or deleted).
    pub fn reload(&mut self) {
        self.disk.clear();
        self.notes.clear();
        let files = project_files(&self.root);
        if files.len() > MAX_FILES {
            self.notes.push(format!(
                "{} has {} .flow files; only the first {MAX_FILES} are checked",
                self.root.display(),
                files.len()
            ));
        }
        for f in files.into_iter().take(MAX_FILES) {
            self.read_file(&f);
        }
        self.prompts = PromptIndex::from_dir(&self.root.join("prompts"));
        self.dirty = true;
    }

    /// Reads one file from disk into the project (or drops it when it is gone).
    pub fn read_file(&mut self, path: &Path) {
        match std::fs::metadata(path) {
            Ok(m) if m.len() as usize > MAX_DOCUMENT => {
                self.notes.push(format!(
                    "{} is larger than {MAX_DOCUMENT} bytes; it is not checked",
                    path.display()
                ));
                self.disk.remove(path);
            }
            Ok(_) => match std::fs::read(path) {
                Ok(bytes) => {
                    self.disk
                        .insert(path.to_path_buf(), String::from_utf8_lossy(&bytes).into());
                }
                Err(e) => {
                    self.notes
                        .push(format!("cannot read {}: {e}", path.display()));
                    self.disk.remove(path);
                }
            },
            Err(_) => {
                self.disk.remove(path);
            }
        }
        self.dirty = true;
    }

    /// Whether `path` is in this project's folder.
    pub fn contains(&self, path: &Path) -> bool {
        path.starts_with(&self.root)
    }

    /// Marks the project for a new check.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Whether an edit happened since the last check.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The last check, made again first if anything changed since.
    pub fn analysis(&mut self, open: &HashMap<PathBuf, Document>) -> &Analysis {
        if self.dirty || self.analysis.is_none() {
            self.recheck(open);
        }
        self.analysis.get_or_insert_with(|| {
            Analysis::new(check_project(parse_project(
                PathBuf::new(),
                Vec::new(),
                PromptIndex::Unchecked,
                false,
            )))
        })
    }

    /// The last check, without checking again.
    pub fn last(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// Parses and checks the whole folder, open documents in place of their
    /// files.
    pub fn recheck(&mut self, open: &HashMap<PathBuf, Document>) {
        let mut files: BTreeMap<&Path, &str> = self
            .disk
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        for (p, d) in open {
            if self.contains(p) && p.extension().is_some_and(|x| x == "flow") {
                files.insert(p.as_path(), d.text.as_str());
            }
        }
        let files = files
            .into_iter()
            .map(|(p, t)| (p.to_path_buf(), t.as_bytes().to_vec()))
            .collect();
        let project = parse_project(self.root.clone(), files, self.prompts.clone(), true);
        self.analysis = Some(Analysis::new(check_project(project)));
        self.dirty = false;
    }
}

/// Applies an editor's change to a text: the range (in lines and UTF-16
/// columns) is replaced, or the whole text when there is no range.
pub fn apply_change(text: &mut String, range: Option<(LineCol, LineCol)>, new: &str) {
    match range {
        None => {
            text.clear();
            text.push_str(new);
        }
        Some((from, to)) => {
            let index = LineIndex::new(text);
            let start = index.offset(text, from);
            let end = index.offset(text, to).max(start);
            text.replace_range(start..end, new);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn changes_in_utf16_columns_land_on_the_right_bytes() {
        let mut t = "say \"您好\"\nx = 1\n".to_string();
        // Replace 好 (line 0, UTF-16 columns 6..7) with 们.
        apply_change(
            &mut t,
            Some((LineCol { line: 0, col: 6 }, LineCol { line: 0, col: 7 })),
            "们",
        );
        assert_eq!(t, "say \"您们\"\nx = 1\n");
        apply_change(
            &mut t,
            Some((LineCol { line: 1, col: 4 }, LineCol { line: 1, col: 5 })),
            "22",
        );
        assert_eq!(t, "say \"您们\"\nx = 22\n");
        apply_change(&mut t, None, "hangup");
        assert_eq!(t, "hangup");
    }
}
