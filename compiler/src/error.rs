//! Why a program could not be built: [`CompileError`] for the whole pipeline
//! (reading the project, checking, verifying the IR, generating native code) and
//! [`JitError`] for what Cranelift itself refused. Each keeps the error it came
//! from, so a caller can tell a missing file from a compiler bug.

use cranelift_codegen::CodegenError;
use cranelift_codegen::settings::SetError;
use cranelift_codegen::verifier::VerifierErrors;
use cranelift_module::ModuleError;

use crate::verify::VerifyError;

/// Why a program could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The project could not be read.
    #[error(transparent)]
    Load(#[from] dialect_lang::LoadError),
    /// The project has this many errors; the checker's diagnostics say which.
    #[error("the project has {0} error(s); run `dialect check` to see them")]
    Check(usize),
    /// The IR failed verification (a compiler bug, or a bundle that was altered).
    #[error("the compiled program is inconsistent (compiler bug):\n{0}")]
    Verify(VerifyError),
    /// Cranelift could not compile the program.
    #[error("native compilation failed: {function}: {source}")]
    Jit {
        /// What was being compiled: a flow's or predicate's function (`flow0`,
        /// `pred3`, `batch3`), a runtime helper being declared, or "the code
        /// generator" and "the program" for setting up and finishing.
        function: String,
        /// What Cranelift reported (boxed: Cranelift's errors are large, and
        /// every `Result` of the compiler carries this type).
        #[source]
        source: Box<JitError>,
    },
}

/// What Cranelift reported when it could not set up or compile a function.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// This processor or operating system is not one Cranelift generates code for.
    #[error("this processor is not supported: {0}")]
    Host(&'static str),
    /// Cranelift refused one of the code generator settings we give it.
    #[error("setting `{setting}`: {source}")]
    Setting {
        /// The setting's name, such as `opt_level`.
        setting: &'static str,
        /// Why it was refused.
        source: SetError,
    },
    /// The code generator for this processor could not be built.
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    /// The JIT module refused to declare, define or finalise a function.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// Cranelift's verifier rejected the code we generated (a compiler bug).
    #[error("invalid code:\n{listing}")]
    Invalid {
        /// The function with the verifier's errors marked on it
        /// (`pretty_verifier_error`).
        listing: String,
        /// The verifier's errors themselves.
        errors: VerifierErrors,
    },
}
