//! The deployed program and its atomic replacement.
//!
//! A [`Deployed`] program is a compiled bundle (native code, or the interpreter
//! when configured) with its prompts decoded and transcoded once. The
//! [`ProgramSlot`] holds the current one: a new call takes the current `Arc`, so a
//! deploy swaps the slot atomically and calls in progress finish on the version they
//! started with. A bundle that does not load or compile is refused with the
//! reason, and the running version stays.
//!
//! Number-list entries added while running ([`crate::lists`]) are laid over every
//! program built here; when they change, [`ProgramSlot::relist`] rebuilds the
//! running bundle with them under the same version number.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dialect_compiler::bundle::{BundleData, BundleError};
use dialect_compiler::{Engine, Program};
use serde::Serialize;

use dialect_media::prompt::{Prompt, PromptCache, PromptError};

use crate::lists::ListEntry;

/// Why a project or bundle could not become the running program. The running
/// version (if any) stays.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The project has errors; `report` is the checker's rendered diagnostics.
    #[error("the project {} has errors:\n{report}", path.display())]
    Check {
        /// The project folder.
        path: std::path::PathBuf,
        /// Every diagnostic, rendered with its source line.
        report: String,
    },
    /// The project could not be read or compiled.
    #[error(transparent)]
    Compile(#[from] dialect_compiler::CompileError),
    /// The list entries added while running could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The project's prompt files could not be read into the bundle.
    #[error("cannot read prompts: {0}")]
    Prompts(#[source] std::io::Error),
    /// The bytes are not a bundle this runtime reads.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A prompt in the bundle is not audio the runtime can play.
    #[error("prompt {path}: {source}")]
    Prompt {
        /// The prompt's path in the bundle.
        path: String,
        /// What is wrong with it.
        source: PromptError,
    },
}

/// Facts about a deployed program (shown by `GET /api/v1/program`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgramInfo {
    /// Deployment number, from 1.
    pub version: u64,
    /// The project's name as the bundle carries it (its folder's name).
    pub project: String,
    /// When the bundle was built.
    pub built_at: String,
    /// When it was deployed here, Unix ms.
    pub deployed_ms: i64,
    /// Flows and the numbers they answer.
    pub flows: Vec<String>,
    /// Dialled numbers answered.
    pub numbers: Vec<String>,
    /// Number of prompt files loaded from the bundle.
    pub prompts: usize,
    /// How long loading and compiling took, ms.
    pub load_ms: u64,
    /// native or interp.
    pub engine: String,
}

/// A program ready to run calls.
pub struct Deployed {
    /// The flows, compiled for the configured engine.
    pub program: Program,
    /// Prompts by path under `prompts/` (`zh/welcome.wav`).
    pub prompts: HashMap<String, Arc<Prompt>>,
    /// Facts shown by `GET /api/v1/program`.
    pub info: ProgramInfo,
}

impl Deployed {
    /// The prompt for `name` in `language`: `prompts/<language>/name`, else `prompts/name`.
    pub fn prompt(&self, name: &str, language: &str) -> Option<Arc<Prompt>> {
        self.prompts
            .get(&format!("{language}/{name}"))
            .or_else(|| self.prompts.get(name))
            .or_else(|| {
                // Any language's copy rather than silence.
                self.prompts
                    .iter()
                    .find(|(k, _)| k.rsplit('/').next() == Some(name))
                    .map(|(_, v)| v)
            })
            .cloned()
    }
}

/// The running bundle's bytes and the list entries laid over it.
type Source = (Arc<Vec<u8>>, Arc<Vec<ListEntry>>);

/// The slot holding the current program.
pub struct ProgramSlot {
    current: RwLock<Arc<Deployed>>,
    next_version: AtomicU64,
    engine: Engine,
    service_urls: BTreeMap<String, String>,
    cache: PromptCache,
    /// The running bundle and the list entries laid over it; held while a
    /// program is built, so a deploy and a list change never cross.
    source: Mutex<Source>,
}

impl ProgramSlot {
    /// A slot with a first program built from bundle bytes.
    pub fn new(
        bytes: &[u8],
        engine: Engine,
        service_urls: BTreeMap<String, String>,
    ) -> Result<ProgramSlot, DeployError> {
        ProgramSlot::with_lists(bytes, engine, service_urls, Vec::new())
    }

    /// A slot with a first program built from bundle bytes, with list entries
    /// added while running (loaded from the store) laid over its lists.
    pub fn with_lists(
        bytes: &[u8],
        engine: Engine,
        service_urls: BTreeMap<String, String>,
        lists: Vec<ListEntry>,
    ) -> Result<ProgramSlot, DeployError> {
        let cache = PromptCache::new();
        let first = build(bytes, engine, &service_urls, &cache, 1, &lists)?;
        Ok(ProgramSlot {
            current: RwLock::new(Arc::new(first)),
            next_version: AtomicU64::new(2),
            engine,
            service_urls,
            cache,
            source: Mutex::new((Arc::new(bytes.to_vec()), Arc::new(lists))),
        })
    }

    fn source(&self) -> std::sync::MutexGuard<'_, Source> {
        match self.source.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn swap(&self, d: Deployed) {
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(d),
            Err(p) => *p.into_inner() = Arc::new(d),
        }
    }

    /// Rebuilds the running bundle with every list entry added while running
    /// (read from `store` under the slot's lock, so two changes made at once
    /// both end up in the program) under the same version number; the running
    /// program stays on error. New calls and the next dial see the new entries.
    pub fn relist(&self, store: &dyn crate::store::Store) -> Result<(), DeployError> {
        let mut source = self.source();
        let lists = crate::lists::load_all(store)?;
        let version = self.version();
        let d = build(
            &source.0,
            self.engine,
            &self.service_urls,
            &self.cache,
            version,
            &lists,
        )?;
        self.swap(d);
        source.1 = Arc::new(lists);
        Ok(())
    }

    /// The current program (callers keep the `Arc` for the whole call).
    pub fn current(&self) -> Arc<Deployed> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The bundle the running program was built from.
    pub fn bundle(&self) -> Arc<Vec<u8>> {
        self.source().0.clone()
    }

    /// The running program's deployment number. A deploy that fails still uses
    /// up its number, so versions may skip.
    pub fn version(&self) -> u64 {
        self.current().info.version
    }

    /// Loads, compiles and swaps in a bundle; the running version stays on error.
    pub fn deploy_bundle(&self, bytes: &[u8]) -> Result<ProgramInfo, DeployError> {
        let mut source = self.source();
        let version = self.next_version.fetch_add(1, Ordering::SeqCst);
        let d = build(
            bytes,
            self.engine,
            &self.service_urls,
            &self.cache,
            version,
            &source.1,
        )?;
        let info = d.info.clone();
        self.swap(d);
        source.0 = Arc::new(bytes.to_vec());
        tracing::info!(version, project = %info.project, "deployed");
        Ok(info)
    }
}

/// Compiles a project folder into bundle bytes (what the runtime does at start when
/// configured with a project instead of a bundle).
pub fn compile_project(path: &Path) -> Result<Vec<u8>, DeployError> {
    let (checked, ir) = match dialect_compiler::compile_paths(&[path.to_path_buf()]) {
        Ok(x) => x,
        Err(dialect_compiler::CompileError::Check(_)) => {
            let project = dialect_lang::load_project(&[path.to_path_buf()])
                .map_err(dialect_compiler::CompileError::from)?;
            let c = dialect_lang::check_project(project);
            return Err(DeployError::Check {
                path: path.to_path_buf(),
                report: dialect_lang::diagnostic::render_all(&c.diagnostics, &c.project.sources),
            });
        }
        Err(e) => return Err(e.into()),
    };
    drop(checked);
    let data = dialect_compiler::bundle::build(path, ir).map_err(DeployError::Prompts)?;
    Ok(data.to_bytes())
}

fn build(
    bytes: &[u8],
    engine: Engine,
    service_urls: &BTreeMap<String, String>,
    cache: &PromptCache,
    version: u64,
    lists: &[ListEntry],
) -> Result<Deployed, DeployError> {
    let started = std::time::Instant::now();
    let mut data = BundleData::from_bytes(bytes)?;
    crate::lists::overlay(&mut data.ir, lists);
    for s in &mut data.ir.services {
        if let Some(url) = service_urls.get(&s.name) {
            s.url = url.clone();
        }
    }
    let mut prompts = HashMap::new();
    for p in &data.prompts {
        let prompt = cache
            .load_bytes(&p.bytes, Path::new(&p.path))
            .map_err(|source| DeployError::Prompt {
                path: p.path.clone(),
                source,
            })?;
        prompts.insert(p.path.clone(), prompt);
    }
    let program = data.program(engine)?;
    let ir = program.ir();
    let info = ProgramInfo {
        version,
        project: data.project.clone(),
        built_at: data.built_at.clone(),
        deployed_ms: crate::time::now_ms(),
        flows: ir.flows.iter().map(|f| f.name.clone()).collect(),
        numbers: ir.numbers.iter().map(|(n, _)| n.clone()).collect(),
        prompts: prompts.len(),
        load_ms: started.elapsed().as_millis() as u64,
        engine: match engine {
            Engine::Native => "native".into(),
            Engine::Interp => "interp".into(),
        },
    };
    Ok(Deployed {
        program,
        prompts,
        info,
    })
}
