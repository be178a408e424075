//! The service's command line on its own, until it is part of the `fhez` binary:
//!
//! ```sh
//! cargo run --release -p fhez-serve --example serve_cli -- serve --model model.json
//! cargo run --release -p fhez-serve --example serve_cli -- client predict \
//!     --server http://127.0.0.1:8080 --model NAME --keys ./keys --input x.json
//! ```

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use fhez_serve::cli::{ClientCommand, ServeArgs, run_client, run_serve};

/// fhez-serve command line.
#[derive(Parser, Debug)]
#[command(name = "serve_cli")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve models on ciphertexts.
    Serve(ServeArgs),
    /// Client commands.
    #[command(subcommand)]
    Client(ClientCommand),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => run_serve(&args),
        Command::Client(cmd) => run_client(&cmd),
    }
}
