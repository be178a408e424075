//! `fhez params list|show|check`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use fhez_ckks::params::max_log_qp_128;
use fhez_ckks::{CkksParams, CkksParamsSpec, Preset};

/// Parameter subcommands.
#[derive(Subcommand, Debug)]
pub enum ParamsCommand {
    /// List the named presets.
    List(JsonFlag),
    /// Show one preset's primes, levels and security.
    Show {
        /// Preset name (see `fhez params list`).
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check a parameter set against the 128-bit security table.
    Check {
        /// log2 of the ring degree.
        #[arg(long)]
        log_n: u32,
        /// Ciphertext prime sizes, q0 first, then the special prime(s) last: a,b,c,…
        #[arg(long, value_delimiter = ',')]
        log_q: Vec<u32>,
        /// Number of trailing sizes in --log-q that are key-switching primes.
        #[arg(long, default_value_t = 1)]
        special: usize,
        /// log2 of the scale.
        #[arg(long, default_value_t = 40)]
        log_scale: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `--json` output switch.
#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a params subcommand.
pub fn run(cmd: &ParamsCommand) -> Result<()> {
    match cmd {
        ParamsCommand::List(flag) => {
            let rows: Vec<_> = Preset::ALL
                .iter()
                .map(|p| describe(p.name(), &p.spec()))
                .collect::<Result<_>>()?;
            print_rows(&rows, flag.json)
        }
        ParamsCommand::Show { name, json } => {
            let preset = Preset::from_name(name)
                .with_context(|| format!("unknown preset {name:?}; try `fhez params list`"))?;
            print_rows(&[describe(preset.name(), &preset.spec())?], json.json)
        }
        ParamsCommand::Check {
            log_n,
            log_q,
            special,
            log_scale,
            json,
        } => {
            let split = log_q
                .len()
                .checked_sub(*special)
                .context("--special exceeds the number of primes")?;
            let (q, p) = log_q.split_at(split);
            let spec = CkksParamsSpec::new(*log_n)
                .with_log_q(q)
                .with_log_p(p)
                .with_log_scale(*log_scale);
            let bound = max_log_qp_128(*log_n);
            let total: u32 = log_q.iter().sum();
            let verdict = CkksParams::new(&spec);
            let out = serde_json::json!({
                "log_n": log_n, "log_qp_bits_requested": total, "max_log_qp_128": bound,
                "secure": verdict.is_ok(),
                "error": verdict.as_ref().err().map(ToString::to_string),
                "table": "HomomorphicEncryption.org v1.1, 128-bit classical, ternary secret",
            });
            if json.json {
                outln!("{out}");
            } else {
                match &verdict {
                    Ok(p) => outln!(
                        "secure: log2(QP) = {:.1} <= {} for N = 2^{log_n} (HomomorphicEncryption.org 128-bit table)",
                        p.log_qp(),
                        bound.unwrap_or(0)
                    ),
                    Err(e) => outln!("rejected: {e}"),
                }
            }
            verdict.map(|_| ()).map_err(Into::into)
        }
    }
}

fn describe(name: &str, spec: &CkksParamsSpec) -> Result<serde_json::Value> {
    let p = CkksParams::new(spec)?;
    Ok(serde_json::json!({
        "name": name, "log_n": p.log_n(), "slots": p.slots(), "max_level": p.max_level(),
        "log_scale": p.log_scale(), "q": p.q(), "p": p.p(), "log_qp": (p.log_qp() * 10.0).round() / 10.0,
        "max_log_qp_128": max_log_qp_128(p.log_n()), "security": format!("{:?}", p.security()),
        "params_id": p.id().to_hex(),
    }))
}

fn print_rows(rows: &[serde_json::Value], json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    for r in rows {
        outln!(
            "{:<15} N=2^{:<3} slots={:<6} depth={:<3} scale=2^{:<3} log2(QP)={:<6} bound={:<5} {}",
            r["name"].as_str().unwrap_or(""),
            r["log_n"],
            r["slots"],
            r["max_level"],
            r["log_scale"],
            r["log_qp"],
            r["max_log_qp_128"],
            r["security"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
