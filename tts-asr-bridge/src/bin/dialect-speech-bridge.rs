//! `dialect-speech-bridge`: the shared speech farm's HTTP service.
//!
//! Serves espeak-ng TTS (with a memory and optional disk cache) and pooled
//! pocketsphinx ASR; see `dialect_speech::bridge` for the routes.
//!
//! ```text
//! dialect-speech-bridge --listen 0.0.0.0:8790 --tts-cache-dir /var/cache/dialect-tts
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dialect_speech::asr::{EndpointConfig, InputMode, SphinxAsr, SphinxConfig};
use dialect_speech::bridge::{BridgeState, serve};
use dialect_speech::tts::{CacheConfig, CachedTts, EspeakConfig, EspeakTts};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(version, about = "Dialect speech bridge: shared TTS and ASR over HTTP")]
struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// Keep synthesized audio in this directory too.
    #[arg(long)]
    tts_cache_dir: Option<PathBuf>,
    /// Memory for synthesized audio, in MiB.
    #[arg(long, default_value_t = 64)]
    tts_cache_mib: usize,
    /// The espeak-ng program.
    #[arg(long, default_value = "espeak-ng")]
    espeak: PathBuf,
    /// Time limit of one synthesis, in seconds.
    #[arg(long, default_value_t = 10)]
    tts_timeout: u64,
    /// Most pocketsphinx decoders (recognitions at once); default: CPUs.
    #[arg(long)]
    decoders: Option<usize>,
    /// Acoustic model directory (default:
    /// /usr/share/pocketsphinx/model/en-us/en-us).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Pronunciation dictionary (default:
    /// /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict).
    #[arg(long)]
    dictionary: Option<PathBuf>,
    /// Decode 8 kHz audio with an 8 kHz front end instead of upsampling.
    #[arg(long)]
    native_8k: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let options = Options::parse();

    let tts = CachedTts::new(
        EspeakTts::new(EspeakConfig {
            program: options.espeak.clone(),
            timeout: Duration::from_secs(options.tts_timeout),
            ..EspeakConfig::default()
        }),
        CacheConfig {
            max_bytes: options.tts_cache_mib << 20,
            dir: options.tts_cache_dir.clone(),
        },
    );
    let mut sphinx = SphinxConfig::default();
    if let Some(n) = options.decoders {
        sphinx.decoders = n;
    }
    if let Some(dir) = options.model_dir {
        sphinx.model_dir = dir;
    }
    if let Some(dict) = options.dictionary {
        sphinx.dictionary = dict;
    }
    if options.native_8k {
        sphinx.input = InputMode::Native8k;
    }
    let asr = SphinxAsr::new(sphinx).await?;

    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "speech bridge listening");
    let state = BridgeState {
        tts: Arc::new(tts),
        asr: Arc::new(asr),
        endpoint: EndpointConfig::default(),
    };
    serve(listener, state, async {
        shutdown_signal().await;
        tracing::info!("shutting down");
    })
    .await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM (a signal that cannot be watched never
/// completes: the process then stops only when killed).
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
