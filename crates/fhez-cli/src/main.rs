//! The `fhez` command line.
#![forbid(unsafe_code)]

/// With the `mimalloc` feature, mimalloc is the allocator (for peak-memory comparisons).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that never panics: a closed stdout (e.g. `fhez … | head`) loses the output.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod ckks_demo;
mod data;
mod demo;
mod flow;
mod graph;
mod import_cmd;
mod inspect;
mod params_cmd;
mod plot;
mod train;
mod util;

use clap::{Parser, Subcommand};

/// Privacy-preserving deep learning on CKKS homomorphic encryption.
///
/// A client trains (or loads) a model, generates keys and encrypts its data; a server
/// evaluates the model on the ciphertexts with the public bundle only; the client decrypts.
#[derive(Parser, Debug)]
#[command(name = "fhez", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fashion-MNIST classified under encryption, end to end: data, model, plan, keys,
    /// encrypt, server-side evaluation, decrypt, accuracy and latency.
    Demo(demo::DemoArgs),
    /// The raw CKKS round trip: keys, encryption, arithmetic, rotations, decryption, with
    /// the error and the time of every step.
    CkksDemo(ckks_demo::DemoArgs),
    /// Parameter presets and the 128-bit security check.
    #[command(subcommand)]
    Params(params_cmd::ParamsCommand),
    /// Train a model in plaintext (progress bar, per-epoch metrics, PNG plots).
    Train(train::TrainArgs),
    /// Plan a model: parameters, depth per node, rotation steps, key and ciphertext sizes.
    Plan(flow::PlanArgs),
    /// Draw a model's network with the plan on every node (levels, depth, rotations, key
    /// switches): one self-contained interactive HTML page, an SVG image or Graphviz DOT.
    Graph(graph::GraphArgs),
    /// Client: generate the keys of a model (secret key + public bundle for the server).
    Keygen(flow::KeygenArgs),
    /// Client: encrypt inputs (JSON, .npy, or data set images) into a ciphertext message.
    Encrypt(flow::EncryptArgs),
    /// Server: evaluate a model on a ciphertext message with the public bundle only.
    Eval(flow::EvalArgs),
    /// Client: decrypt a reply and print the values (and classes) as JSON.
    Decrypt(flow::DecryptArgs),
    /// Import an ONNX network (PyTorch, Keras, scikit-learn exports) as a fhez model file;
    /// non-polynomial activations are replaced by polynomials fitted on calibration data.
    Import(import_cmd::ImportArgs),
    /// Print the envelope of any fhez file (never secret material).
    Inspect(inspect::InspectArgs),
    /// Server: serve models over HTTP, evaluating on ciphertexts with registered public
    /// bundles only (keys persisted in an embedded database).
    Serve(fhez_serve::cli::ServeArgs),
    /// Client of a `fhez serve` server: keys stay here, only ciphertexts travel.
    #[command(subcommand)]
    Client(fhez_serve::cli::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::CkksDemo(args) => ckks_demo::run(&args),
        Command::Params(cmd) => params_cmd::run(&cmd),
        Command::Train(args) => train::run(&args),
        Command::Plan(args) => flow::plan(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Keygen(args) => flow::keygen(&args),
        Command::Encrypt(args) => flow::encrypt(&args),
        Command::Eval(args) => flow::eval(&args),
        Command::Decrypt(args) => flow::decrypt(&args),
        Command::Import(args) => import_cmd::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Serve(args) => fhez_serve::cli::run_serve(&args),
        Command::Client(cmd) => fhez_serve::cli::run_client(&cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            errln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout (exit 0); usage errors are one line on stderr (exit 2).
fn usage(e: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let kind = e.kind();
    if kind == ErrorKind::DisplayHelp || kind == ErrorKind::DisplayVersion {
        let _ = e.print();
        return std::process::ExitCode::SUCCESS;
    }
    if kind == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return std::process::ExitCode::from(2);
    }
    let text = e.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    errln!("error: {line} (see --help)");
    std::process::ExitCode::from(2)
}

/// The error and its causes on one line, skipping a cause whose text the message already
/// carries (library errors often embed their source's text).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}
