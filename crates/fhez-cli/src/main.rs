//! The `fhez` command line.
#![forbid(unsafe_code)]

mod demo;
mod params_cmd;

use clap::{Parser, Subcommand};

/// Privacy-preserving deep learning on CKKS homomorphic encryption.
#[derive(Parser, Debug)]
#[command(name = "fhez", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// End-to-end demo: keys, encryption, encrypted arithmetic and rotations,
    /// decryption, with the error and the time of every step.
    Demo(demo::DemoArgs),
    /// Parameter presets and the 128-bit security check.
    #[command(subcommand)]
    Params(params_cmd::ParamsCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Params(cmd) => params_cmd::run(&cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
