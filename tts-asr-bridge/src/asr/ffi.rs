//! The pocketsphinx C API, declared by hand, and a safe [`Decoder`] over it.
//!
//! This is the only module of the crate with `unsafe` code. It declares the
//! dozen functions of pocketsphinx 5prealpha and sphinxbase that we call
//! (Debian `libpocketsphinx-dev`; headers in `/usr/include/pocketsphinx` and
//! `/usr/include/x86_64-linux-gnu/sphinxbase`) and wraps them in [`Decoder`],
//! which owns one `ps_decoder_t` and its configuration. Everything above this
//! module (grammars, pooling, confidence) is safe Rust.
//!
//! The C decoder is not thread-safe: [`Decoder`] is `Send` (it may move to
//! another thread between uses) but not `Sync`, and every method takes
//! `&mut self` when it touches decoder state.
//!
//! Some sphinxbase failures are fatal (`E_FATAL` calls `exit`), notably a
//! missing model file. [`Decoder::new`] therefore checks the model files
//! exist before handing their paths to the library.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Once;

/// Opaque `cmd_ln_t`: a parsed configuration.
#[repr(C)]
struct CmdLn {
    _private: [u8; 0],
}

/// Opaque `arg_t`: the table of argument definitions.
#[repr(C)]
struct ArgDef {
    _private: [u8; 0],
}

/// Opaque `ps_decoder_t`.
#[repr(C)]
struct PsDecoder {
    _private: [u8; 0],
}

/// Opaque `ps_seg_t`: an iterator over the words of a hypothesis.
#[repr(C)]
struct PsSeg {
    _private: [u8; 0],
}

/// Opaque `logmath_t`: the decoder's log-base tables.
#[repr(C)]
struct LogMath {
    _private: [u8; 0],
}

#[link(name = "pocketsphinx")]
unsafe extern "C" {
    fn ps_args() -> *const ArgDef;
    fn ps_init(config: *mut CmdLn) -> *mut PsDecoder;
    fn ps_free(ps: *mut PsDecoder) -> c_int;
    fn ps_get_logmath(ps: *mut PsDecoder) -> *mut LogMath;
    fn ps_lookup_word(ps: *mut PsDecoder, word: *const c_char) -> *mut c_char;
    fn ps_set_jsgf_string(ps: *mut PsDecoder, name: *const c_char, jsgf: *const c_char) -> c_int;
    fn ps_set_search(ps: *mut PsDecoder, name: *const c_char) -> c_int;
    fn ps_unset_search(ps: *mut PsDecoder, name: *const c_char) -> c_int;
    fn ps_start_utt(ps: *mut PsDecoder) -> c_int;
    fn ps_process_raw(
        ps: *mut PsDecoder,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int;
    fn ps_end_utt(ps: *mut PsDecoder) -> c_int;
    fn ps_get_hyp(ps: *mut PsDecoder, out_best_score: *mut i32) -> *const c_char;
    fn ps_get_prob(ps: *mut PsDecoder) -> i32;
    fn ps_get_n_frames(ps: *mut PsDecoder) -> c_int;
    fn ps_seg_iter(ps: *mut PsDecoder) -> *mut PsSeg;
    fn ps_seg_next(seg: *mut PsSeg) -> *mut PsSeg;
    fn ps_seg_word(seg: *mut PsSeg) -> *const c_char;
    fn ps_seg_frames(seg: *mut PsSeg, out_sf: *mut c_int, out_ef: *mut c_int);
    fn ps_seg_prob(
        seg: *mut PsSeg,
        out_ascr: *mut i32,
        out_lscr: *mut i32,
        out_lback: *mut i32,
    ) -> i32;
    fn ps_seg_free(seg: *mut PsSeg);
}

#[link(name = "sphinxbase")]
unsafe extern "C" {
    fn cmd_ln_parse_r(
        inout: *mut CmdLn,
        defn: *const ArgDef,
        argc: i32,
        argv: *mut *mut c_char,
        strict: i32,
    ) -> *mut CmdLn;
    fn cmd_ln_free_r(cmdln: *mut CmdLn) -> c_int;
    fn err_set_logfp(stream: *mut c_void);
    fn logmath_log_to_ln(lmath: *mut LogMath, logb_p: c_int) -> f64;
    fn ckd_free(ptr: *mut c_void);
}

/// Why the C library refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FfiError {
    /// A string for the C side held a NUL byte.
    #[error("text handed to pocketsphinx contains a NUL byte")]
    Nul,
    /// A model file the configuration names does not exist.
    #[error("pocketsphinx model file {0} does not exist")]
    MissingFile(String),
    /// `cmd_ln_parse_r` rejected the arguments.
    #[error("pocketsphinx rejected its configuration {0:?}")]
    Config(Vec<(String, String)>),
    /// `ps_init` returned NULL.
    #[error("pocketsphinx could not initialise a decoder")]
    Init,
    /// A named call returned an error code.
    #[error("pocketsphinx call {0} failed")]
    Call(&'static str),
}

/// One word of a hypothesis, as pocketsphinx segmented it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    /// The dictionary word, or a filler such as `<sil>` or `(NULL)`.
    pub(crate) word: String,
    /// First and last 10 ms frame of the word.
    pub(crate) frames: (i32, i32),
    /// Acoustic score of the word, as a natural logarithm.
    pub(crate) acoustic_ln: f64,
}

/// The decoder's best hypothesis for one utterance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hypothesis {
    /// Words of the hypothesis, separated by single spaces (fillers removed).
    pub(crate) text: String,
    /// Path score, natural logarithm.
    pub(crate) score_ln: f64,
    /// Posterior probability pocketsphinx reports (1.0 unless `-bestpath`).
    pub(crate) posterior: f64,
    /// Number of 10 ms frames decoded.
    pub(crate) frames: i32,
    /// The segmentation, fillers included.
    pub(crate) segments: Vec<Segment>,
}

impl Hypothesis {
    /// Sum of the acoustic scores of every segment, natural logarithm.
    pub(crate) fn acoustic_ln(&self) -> f64 {
        self.segments.iter().map(|s| s.acoustic_ln).sum()
    }
}

/// One pocketsphinx decoder with its configuration.
pub(crate) struct Decoder {
    ps: NonNull<PsDecoder>,
    config: NonNull<CmdLn>,
    /// `cmd_ln_parse_r` may keep pointers into argv: the strings live as long
    /// as the configuration does.
    _argv: Vec<CString>,
}

// SAFETY: a pocketsphinx decoder has no thread affinity (no thread-local
// state); it only must not be used from two threads at once, which `&mut self`
// on every state-changing method and the absence of `Sync` guarantee.
unsafe impl Send for Decoder {}

static QUIET: Once = Once::new();

/// Switches off sphinxbase's logging to stderr (process-wide, once), unless
/// `DIALECT_SPHINX_LOG` is set in the environment (for debugging).
fn silence_library_log() {
    QUIET.call_once(|| {
        if std::env::var_os("DIALECT_SPHINX_LOG").is_some() {
            return;
        }
        // SAFETY: err_set_logfp(NULL) is documented to disable logging; it
        // only stores the pointer in a global, and this runs once before any
        // decoder is created by this crate.
        unsafe { err_set_logfp(std::ptr::null_mut()) };
    });
}

fn cstring(text: &str) -> Result<CString, FfiError> {
    CString::new(text).map_err(|_| FfiError::Nul)
}

impl Decoder {
    /// Creates a decoder from `-name value` pairs.
    ///
    /// `files` lists the paths among the values that must exist: sphinxbase
    /// exits the process when a model file cannot be opened, so they are
    /// checked here first.
    pub(crate) fn new(args: &[(&str, &str)], files: &[&Path]) -> Result<Self, FfiError> {
        for file in files {
            if !file.exists() {
                return Err(FfiError::MissingFile(file.display().to_string()));
            }
        }
        silence_library_log();
        let mut owned = Vec::with_capacity(args.len() * 2 + 1);
        owned.push(cstring("dialect-speech")?);
        for (name, value) in args {
            owned.push(cstring(name)?);
            owned.push(cstring(value)?);
        }
        let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr().cast_mut()).collect();
        let argc = i32::try_from(argv.len()).map_err(|_| FfiError::Init)?;
        let config_error = || {
            FfiError::Config(
                args.iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        // SAFETY: ps_args returns a pointer to a static table. argv holds
        // argc valid NUL-terminated strings that outlive the configuration
        // (kept in `_argv`); the library does not write through them.
        let config =
            unsafe { cmd_ln_parse_r(std::ptr::null_mut(), ps_args(), argc, argv.as_mut_ptr(), 1) };
        let config = NonNull::new(config).ok_or_else(config_error)?;
        // SAFETY: config is a valid configuration just returned by sphinxbase;
        // ps_init takes its own reference to it.
        let ps = unsafe { ps_init(config.as_ptr()) };
        let Some(ps) = NonNull::new(ps) else {
            // SAFETY: we own the one reference to config created above.
            unsafe { cmd_ln_free_r(config.as_ptr()) };
            return Err(FfiError::Init);
        };
        Ok(Decoder {
            ps,
            config,
            _argv: owned,
        })
    }

    /// The pronunciation of `word` if the dictionary has it.
    pub(crate) fn lookup_word(&mut self, word: &str) -> Result<Option<String>, FfiError> {
        let word = cstring(word)?;
        // SAFETY: ps is a live decoder and word a valid C string for the call.
        let phones = unsafe { ps_lookup_word(self.ps.as_ptr(), word.as_ptr()) };
        if phones.is_null() {
            return Ok(None);
        }
        // SAFETY: a non-NULL result is a NUL-terminated string allocated by
        // ckd_salloc that we own; it is copied, then freed with ckd_free.
        let text = unsafe {
            let text = CStr::from_ptr(phones).to_string_lossy().into_owned();
            ckd_free(phones.cast());
            text
        };
        Ok(Some(text))
    }

    /// Adds (or replaces) a search called `name` from a JSGF grammar text.
    pub(crate) fn set_jsgf(&mut self, name: &str, jsgf: &str) -> Result<(), FfiError> {
        let name = cstring(name)?;
        let jsgf = cstring(jsgf)?;
        // SAFETY: valid decoder and C strings; the library copies what it keeps.
        let rc = unsafe { ps_set_jsgf_string(self.ps.as_ptr(), name.as_ptr(), jsgf.as_ptr()) };
        if rc < 0 {
            return Err(FfiError::Call("ps_set_jsgf_string"));
        }
        Ok(())
    }

    /// Removes the search called `name`.
    pub(crate) fn unset_search(&mut self, name: &str) -> Result<(), FfiError> {
        let name = cstring(name)?;
        // SAFETY: valid decoder and C string.
        let rc = unsafe { ps_unset_search(self.ps.as_ptr(), name.as_ptr()) };
        if rc < 0 {
            return Err(FfiError::Call("ps_unset_search"));
        }
        Ok(())
    }

    /// Decodes one whole utterance with the search called `search`.
    ///
    /// Returns `None` when the decoder found no hypothesis at all.
    pub(crate) fn decode(
        &mut self,
        search: &str,
        samples: &[i16],
    ) -> Result<Option<Hypothesis>, FfiError> {
        let name = cstring(search)?;
        let ps = self.ps.as_ptr();
        // SAFETY: valid decoder and C string.
        if unsafe { ps_set_search(ps, name.as_ptr()) } < 0 {
            return Err(FfiError::Call("ps_set_search"));
        }
        // SAFETY: valid decoder with a search selected.
        if unsafe { ps_start_utt(ps) } < 0 {
            return Err(FfiError::Call("ps_start_utt"));
        }
        // SAFETY: samples points to samples.len() initialised i16 values that
        // the library reads during the call only. full_utt = 1: the whole
        // utterance is in this one buffer.
        let processed = unsafe { ps_process_raw(ps, samples.as_ptr(), samples.len(), 0, 1) };
        // SAFETY: an utterance was started above; it must be ended even when
        // processing failed, so the decoder is ready for the next one.
        let ended = unsafe { ps_end_utt(ps) };
        if processed < 0 {
            return Err(FfiError::Call("ps_process_raw"));
        }
        if ended < 0 {
            return Err(FfiError::Call("ps_end_utt"));
        }
        self.hypothesis()
    }

    fn hypothesis(&mut self) -> Result<Option<Hypothesis>, FfiError> {
        let ps = self.ps.as_ptr();
        let mut score = 0i32;
        // SAFETY: valid decoder after ps_end_utt; the returned string is owned
        // by the decoder and valid until the next decoder call, so it is
        // copied at once.
        let text = unsafe {
            let hyp = ps_get_hyp(ps, &mut score);
            if hyp.is_null() {
                return Ok(None);
            }
            CStr::from_ptr(hyp).to_string_lossy().into_owned()
        };
        // SAFETY: valid decoder; these calls only read its state.
        let (prob, frames, lmath) =
            unsafe { (ps_get_prob(ps), ps_get_n_frames(ps), ps_get_logmath(ps)) };
        if lmath.is_null() {
            return Err(FfiError::Call("ps_get_logmath"));
        }
        // SAFETY: lmath is the decoder's live log table.
        let to_ln = |x: i32| unsafe { logmath_log_to_ln(lmath, x) };

        let mut segments = Vec::new();
        // SAFETY: the iterator comes from the live decoder and is walked to
        // its end (ps_seg_next frees it and returns NULL) or freed explicitly;
        // word strings are copied before the iterator advances.
        unsafe {
            let mut seg = ps_seg_iter(ps);
            while !seg.is_null() {
                let word = ps_seg_word(seg);
                let word = if word.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(word).to_string_lossy().into_owned()
                };
                let (mut sf, mut ef) = (0, 0);
                ps_seg_frames(seg, &mut sf, &mut ef);
                let (mut ascr, mut lscr, mut lback) = (0, 0, 0);
                ps_seg_prob(seg, &mut ascr, &mut lscr, &mut lback);
                segments.push(Segment {
                    word,
                    frames: (sf, ef),
                    acoustic_ln: to_ln(ascr),
                });
                if segments.len() > 10_000 {
                    ps_seg_free(seg);
                    break;
                }
                seg = ps_seg_next(seg);
            }
        }
        Ok(Some(Hypothesis {
            text,
            score_ln: to_ln(score),
            posterior: to_ln(prob).exp(),
            frames,
            segments,
        }))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: we hold one reference to each; ps_free releases the
        // decoder's own reference to the configuration, cmd_ln_free_r ours.
        unsafe {
            ps_free(self.ps.as_ptr());
            cmd_ln_free_r(self.config.as_ptr());
        }
    }
}
