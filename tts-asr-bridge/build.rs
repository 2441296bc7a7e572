//! Links the pocketsphinx and sphinxbase C libraries used by `asr::ffi`.
//!
//! Asks `pkg-config` for the flags (Debian's `libpocketsphinx-dev` ships a
//! `.pc` file) and falls back to plain `-lpocketsphinx -lsphinxbase` when
//! `pkg-config` is not installed.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let from_pkg_config = Command::new("pkg-config")
        .args(["--libs", "pocketsphinx", "sphinxbase"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok());

    match from_pkg_config {
        Some(flags) => {
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={dir}");
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    // sphinxad is the audio-device library: we never open a device.
                    if lib != "sphinxad" {
                        println!("cargo:rustc-link-lib={lib}");
                    }
                }
            }
        }
        None => {
            println!("cargo:rustc-link-lib=pocketsphinx");
            println!("cargo:rustc-link-lib=sphinxbase");
        }
    }
}
