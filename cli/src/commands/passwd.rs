//! `dialect passwd [--token]`: what goes into `api_users` instead of a secret.
//!
//! Without `--token` it reads a password (the first line of standard input,
//! so it works from a terminal and a script alike) and prints its Argon2id
//! hash for a user's `password:`. With `--token` it makes a new random token
//! and prints it (to give to the program that will use it) and its digest for
//! the user's `token:`, so the configuration never holds the token itself.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// Shortest password taken: a desk reachable from other machines is guessed
/// at, and the sign-in guard only slows the guessing down.
const MIN_PASSWORD_CHARS: usize = 10;

/// Runs the command.
pub(crate) fn run(token: bool) -> Result<ExitCode> {
    if token {
        let token = dialect_runtime::auth::random_secret(24);
        println!("token (give it to the program):   {token}");
        println!(
            "api_users entry (the digest):     token: \"{}\"",
            dialect_runtime::auth::digest_line(&token)
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("Password (one line; it is not stored, only its hash is printed):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("a password needs at least {MIN_PASSWORD_CHARS} characters");
    }
    let hash = dialect_runtime::login::hash_password(password).map_err(anyhow::Error::msg)?;
    println!("password: \"{hash}\"");
    Ok(ExitCode::SUCCESS)
}
