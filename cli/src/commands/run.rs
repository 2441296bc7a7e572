//! `dialect run`, `dialect deploy`, `dialect dtmf detect`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use dialect_runtime::config::Config;

/// `dialect run [--config FILE]`: the server, on embedded defaults without a file.
pub(crate) fn run(
    config: Option<&PathBuf>,
    engine: Option<dialect_compiler::Engine>,
) -> Result<ExitCode> {
    let mut cfg = match config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => Config::default(),
    }
    .with_env_overrides();
    if let Some(e) = engine {
        cfg.engine = e;
    }
    // Cranelift logs every function it compiles at `info` (thousands of lines
    // of IR before the server is ready): at the configured level it says only
    // warnings. `RUST_LOG` still decides everything when it is set.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(&cfg.logging.level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.logging.format == dialect_runtime::config::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        dialect_runtime::server::run(cfg, async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The log filter for a configured `level`, with the code generator's crates
/// held at `warn` unless the level names them itself.
fn default_filter(level: &str) -> String {
    let mut filter = level.to_string();
    for krate in CRANELIFT_CRATES {
        if !level.contains(krate) {
            filter.push_str(&format!(",{krate}=warn"));
        }
    }
    filter
}

/// The crates whose `info` logging is the IR of every compiled function.
const CRANELIFT_CRATES: [&str; 5] = [
    "cranelift_codegen",
    "cranelift_frontend",
    "cranelift_jit",
    "cranelift_module",
    "cranelift_native",
];

/// The deploy endpoint for `to`, which may be a URL or, as the operations
/// guide writes it, a bare `host:port`.
fn deploy_url(to: &str) -> String {
    let base = to.trim_end_matches('/');
    if base.starts_with("http://") || base.starts_with("https://") {
        format!("{base}/api/v1/deploy")
    } else {
        format!("http://{base}/api/v1/deploy")
    }
}

/// The token to deploy with when none is given: the admin token a server
/// started without `api_users` keeps in its data folder.
pub(crate) fn local_admin_token() -> Result<String> {
    let dir = std::env::var_os("DIALECT_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("./data"));
    let path = dir.join(dialect_runtime::auth::ADMIN_TOKEN_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no --token given (nor DIALECT_TOKEN), and no admin token in {}",
            path.display()
        )
    })?;
    Ok(text.trim().to_string())
}

/// `dialect deploy BUNDLE --to URL [--token T]` (`--server ADDR` is the same).
pub(crate) fn deploy(bundle: &Path, to: &str, token: Option<String>) -> Result<ExitCode> {
    let token = match token {
        Some(t) => t,
        None => local_admin_token()?,
    };
    let bytes =
        std::fs::read(bundle).with_context(|| format!("cannot read {}", bundle.display()))?;
    // Refuse locally what the server would refuse, with the same message.
    if let Err(e) = dialect_compiler::bundle::BundleData::from_bytes(&bytes) {
        eprintln!("error: {}: {e}", bundle.display());
        return Ok(ExitCode::from(1));
    }
    let url = deploy_url(to);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        anyhow::Ok((status, body))
    })?;
    if status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        println!(
            "deployed {} as version {} ({} flows, loaded in {} ms)",
            v["project"].as_str().unwrap_or("?"),
            v["version"],
            v["flows"].as_array().map(|a| a.len()).unwrap_or(0),
            v["load_ms"]
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        eprintln!(
            "error: the server refused the bundle ({status}): {}",
            v["message"].as_str().unwrap_or(&body)
        );
        Ok(ExitCode::from(1))
    }
}

/// `dialect dtmf detect FILE.wav`: the in-band detector over a recording.
pub(crate) fn dtmf_detect(file: &Path) -> Result<ExitCode> {
    let digits = dialect_media::dtmf::detect_wav(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    for d in &digits {
        println!("{d}");
    }
    eprintln!(
        "{} digit{}",
        digits.len(),
        if digits.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cranelift_is_held_at_warn_unless_named() {
        let f = default_filter("info");
        assert!(f.starts_with("info,"), "{f}");
        assert!(f.contains("cranelift_codegen=warn"), "{f}");
        let f = default_filter("info,cranelift_codegen=debug");
        assert!(!f.contains("cranelift_codegen=warn"), "{f}");
        assert!(f.contains("cranelift_jit=warn"), "{f}");
    }

    #[test]
    fn deploy_takes_a_url_or_an_address() {
        assert_eq!(
            deploy_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/api/v1/deploy"
        );
        assert_eq!(
            deploy_url("10.0.0.5:8080"),
            "http://10.0.0.5:8080/api/v1/deploy"
        );
    }
}
