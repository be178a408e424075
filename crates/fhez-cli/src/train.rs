//! `fhez train`: plaintext training of a prefab or saved model, with a progress bar,
//! per-epoch loss / accuracy and PNG plots beside the model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use fhez_data::Split;
use fhez_data::split::NumpyRandomState;
use fhez_model::{CnnConfig, ModelFile, Task};
use fhez_nn::{Adam, Graph, Optimizer, PlanRequest, Tensor, TrainConfig, Trainer, prefab};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::{data, plot, util};

/// `fhez train` options.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// `cnn-classifier`, `cnn-regressor`, or a model file (JSON) to train further.
    #[arg(long, default_value = "cnn-classifier")]
    pub model: String,
    /// Data set: fashion-mnist, mnist, digits (images); co2, sunspots, nile, elec-equip
    /// (series, for cnn-regressor).
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Epochs.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Output model file (plots are written beside it).
    #[arg(long, default_value = "model.json")]
    pub out: PathBuf,
    /// Train on the first N training samples only (0: all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Evaluate on the first N test samples only (0: all).
    #[arg(long, default_value_t = 0)]
    pub test_limit: usize,
    /// Seed of the weights and of the shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Prefab models: filters of the classifier's cross-correlation.
    #[arg(long, default_value_t = 4)]
    pub filters: usize,
    /// Prefab models: kernel size (default 7 for 28x28 images, 3 for 8x8, 4 for series).
    #[arg(long)]
    pub kernel: Option<usize>,
    /// Prefab models: stride (default 3 for 28x28 images, 1 for 8x8, 2 for series).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Series: window length (values in, one value out).
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Plan: samples per ciphertext batch (batch-in-slots; needs N/2 ≥ it).
    #[arg(long, default_value_t = 4096)]
    pub plan_batch: usize,
    /// Plan: bits of precision after the binary point.
    #[arg(long, default_value_t = 14)]
    pub precision: u32,
    /// Plan: bits of the largest value's integer part.
    #[arg(long, default_value_t = 8)]
    pub magnitude: u32,
    /// Print a machine-readable summary.
    #[arg(long)]
    pub json: bool,
    /// Do not write the PNG plots nor the graph view (`NAME-graph.html`).
    #[arg(long)]
    pub no_plots: bool,
}

/// Metrics of one epoch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Epoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Test loss (cross-entropy or mean squared error, model units).
    pub test_loss: f64,
    /// Test accuracy (classifiers).
    pub test_accuracy: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A trained model and its history.
pub struct Trained {
    /// The model file (not yet saved).
    pub model: ModelFile,
    /// Per-epoch metrics.
    pub history: Vec<Epoch>,
    /// Confusion matrix `[true][predicted]` on the test set (classifiers).
    pub confusion: Option<Vec<Vec<usize>>>,
}

fn is_file_model(s: &str) -> bool {
    s.ends_with(".json") || Path::new(s).is_file()
}

/// Builds the graph and task of a prefab, or loads a model file.
fn start(args: &TrainArgs, train: &fhez_data::Split) -> Result<(Graph, Task, Option<ModelFile>)> {
    if is_file_model(&args.model) {
        let file = util::load_model(Path::new(&args.model))?;
        let graph = file.graph()?;
        let task = file.task.clone();
        return Ok((graph, task, Some(file)));
    }
    let series = data::is_series(&args.data);
    match args.model.as_str() {
        "cnn-classifier" => {
            if series {
                bail!("cnn-classifier needs an image data set (fashion-mnist, mnist, digits)");
            }
            let &[h, w] = train.shape.as_slice() else {
                bail!("cnn-classifier needs 2-D images");
            };
            let small = h < 16;
            let k = args.kernel.unwrap_or(if small { 3 } else { 7 });
            let s = args.stride.unwrap_or(if small { 1 } else { 3 });
            let cfg = CnnConfig {
                input: [h, w],
                kernel: [k, k],
                stride: [s, s],
                filters: args.filters,
                classes: 10,
                relu_q: 4.0,
            };
            let labels = data::labels_of(&args.data);
            Ok((cfg.build(args.seed)?, Task::Classifier { labels }, None))
        }
        "cnn-regressor" => {
            if !series {
                bail!("cnn-regressor needs a series data set (co2, sunspots, nile, elec-equip)");
            }
            let k = args.kernel.unwrap_or(4);
            let s = args.stride.unwrap_or(2);
            let graph = prefab::cnn_regressor((args.window, 1), k, s, args.seed)?;
            let (scale, offset) = data::series_scaling(train);
            Ok((graph, Task::Regressor { scale, offset }, None))
        }
        other => bail!(
            "unknown model {other:?}: use cnn-classifier, cnn-regressor or a model file (.json)"
        ),
    }
}

fn first(split: &Split, limit: usize) -> Result<Split> {
    if limit == 0 || limit >= split.len() {
        return Ok(split.clone());
    }
    let idx: Vec<usize> = (0..limit).collect();
    Ok(split.select(&idx)?)
}

/// Per-sample training inputs in the graph's input order (`x` and `y`).
fn samples(graph: &Graph, split: &Split, classifier: bool) -> Result<Vec<Vec<Tensor>>> {
    let names: Vec<String> = graph
        .inputs()
        .into_iter()
        .map(|id| graph.name(id).to_owned())
        .collect();
    (0..split.len())
        .map(|i| {
            names
                .iter()
                .map(|n| match n.as_str() {
                    "x" => util::sample(split, i),
                    "y" if classifier => {
                        let l = split.labels.get(i).context("label")?;
                        Ok(Tensor::scalar(f64::from(*l)))
                    }
                    "y" => {
                        let t = split.targets.get(i).context("target")?;
                        Ok(Tensor::new(vec![1], vec![*t])?)
                    }
                    other => bail!("the graph has an input {other:?}; only x and y are fed"),
                })
                .collect()
        })
        .collect()
}

/// Test loss, accuracy (classifiers) and confusion matrix (classifiers).
type Scores = (f64, Option<f64>, Option<Vec<Vec<usize>>>);

/// Test loss, accuracy and confusion matrix from the values at the decrypt boundary.
fn evaluate(graph: &Graph, output: &str, test: &Split, classifier: bool) -> Result<Scores> {
    let all: Vec<usize> = (0..test.len()).collect();
    let outs = util::plain_outputs(graph, output, test, &all)?;
    let n = outs.len().max(1) as f64;
    if classifier {
        let mut confusion = vec![vec![0usize; 10]; 10];
        let (mut loss, mut ok) = (0.0, 0usize);
        for (o, &y) in outs.iter().zip(&test.labels) {
            let m = o.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + o.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            loss += lse - o.get(usize::from(y)).copied().unwrap_or(m);
            let p = util::argmax(o);
            ok += usize::from(p == usize::from(y));
            if let Some(c) = confusion.get_mut(usize::from(y)).and_then(|r| r.get_mut(p)) {
                *c += 1;
            }
        }
        Ok((loss / n, Some(ok as f64 / n), Some(confusion)))
    } else {
        let se: f64 = outs
            .iter()
            .zip(&test.targets)
            .map(|(o, t)| (o.first().copied().unwrap_or(0.0) - t).powi(2))
            .sum();
        Ok((se / n, None, None))
    }
}

/// Trains per `args` (progress bar on stderr unless `quiet`).
pub fn train(args: &TrainArgs, quiet: bool) -> Result<Trained> {
    let raw = data::load(&args.data, args.window)?;
    let (raw_train, raw_test) = (
        first(&raw.train, args.limit)?,
        first(&raw.test, args.test_limit)?,
    );
    let probe_task = Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    let native = if data::is_series(&args.data) {
        data::prepare(&args.data, &raw_train, &[args.window], &probe_task)?
    } else {
        data::prepare(&args.data, &raw_train, &raw_train.shape, &probe_task)?
    };
    let (mut graph, task, file) = start(args, &native)?;
    let classifier = matches!(task, Task::Classifier { .. });
    if classifier == data::is_series(&args.data) {
        bail!("model and data set disagree: a classifier needs images, a regressor a series");
    }
    let shape = graph
        .shape(graph.id("x")?, 0)
        .context("the graph has no input x")?
        .to_vec();
    let train = data::prepare(&args.data, &raw_train, &shape, &task)?;
    let test = data::prepare(&args.data, &raw_test, &shape, &task)?;
    let output = file
        .as_ref()
        .map_or("Decrypt", |f| f.output.as_str())
        .to_owned();
    let inputs = samples(&graph, &train, classifier)?;
    if inputs.is_empty() {
        bail!("no training samples");
    }
    let mut trainer = Trainer::new(
        &graph,
        TrainConfig {
            batch_size: args.batch.max(1),
            seed: args.seed,
            shuffle: false,
            optimizer: Optimizer::Adam(Adam {
                alpha: args.lr,
                ..Adam::default()
            }),
        },
    );
    let batches = inputs.len().div_ceil(args.batch.max(1));
    let mut history = Vec::new();
    let mut confusion = None;
    let mut rng = NumpyRandomState::new(u32::try_from(args.seed % (1 << 32)).unwrap_or(0));
    let started = Instant::now();
    for epoch in 1..=args.epochs {
        let t = Instant::now();
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(batches as u64)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} batches, {elapsed} (eta {eta}) {msg}",
            )?
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{}", args.epochs));
        let order = rng.permutation(inputs.len());
        let (mut total, mut count) = (0.0, 0usize);
        for chunk in order.chunks(args.batch.max(1)) {
            let batch: Vec<&[Tensor]> = chunk
                .iter()
                .filter_map(|&i| inputs.get(i).map(Vec::as_slice))
                .collect();
            total += trainer.step(&mut graph, &batch)?;
            count += 1;
            if count % 20 == 0 {
                bar.set_message(format!("loss {:.4}", total / count as f64));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let train_loss = total / count.max(1) as f64;
        let (test_loss, test_accuracy, conf) = evaluate(&graph, &output, &test, classifier)?;
        confusion = conf;
        let e = Epoch {
            epoch,
            train_loss,
            test_loss,
            test_accuracy,
            seconds: t.elapsed().as_secs_f64(),
        };
        if !quiet {
            match test_accuracy {
                Some(a) => errln!(
                    "epoch {epoch}/{}: train loss {train_loss:.4}, test loss {test_loss:.4}, test accuracy {:.2} % ({:.1} s)",
                    args.epochs,
                    a * 100.0,
                    e.seconds
                ),
                None => errln!(
                    "epoch {epoch}/{}: train loss {train_loss:.5}, test MSE {test_loss:.5} ({:.1} s)",
                    args.epochs,
                    e.seconds
                ),
            }
        }
        history.push(e);
    }
    let name = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_owned();
    let request = match &file {
        Some(f) => f.plan,
        None => PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch: if classifier {
                args.plan_batch
            } else {
                args.plan_batch.min(256)
            },
            precision_bits: args.precision,
            magnitude_bits: args.magnitude,
            standard: fhez_nn::SecurityStandard::Standard2018,
            key_budget: None,
        },
    };
    let inputs_names: Vec<&str> = file
        .as_ref()
        .map(|f| f.inputs.iter().map(|i| i.name.as_str()).collect())
        .unwrap_or_else(|| vec!["x"]);
    let mut model = ModelFile::new(&name, &graph, &inputs_names, &output, task, request)?;
    model.dataset = Some(args.data.clone());
    if let Some(f) = &file {
        model.metrics = f.metrics.clone();
    }
    if let Some(last) = history.last() {
        model.metrics.insert("train_loss".into(), last.train_loss);
        model.metrics.insert("test_loss".into(), last.test_loss);
        if let Some(a) = last.test_accuracy {
            model.metrics.insert("test_accuracy".into(), a);
        }
    }
    let prior = file
        .as_ref()
        .and_then(|f| f.metrics.get("epochs").copied())
        .unwrap_or(0.0);
    model
        .metrics
        .insert("epochs".into(), prior + args.epochs as f64);
    model
        .metrics
        .insert("train_samples".into(), train.len() as f64);
    model
        .metrics
        .insert("test_samples".into(), test.len() as f64);
    model
        .metrics
        .insert("train_seconds".into(), started.elapsed().as_secs_f64());
    Ok(Trained {
        model,
        history,
        confusion,
    })
}

/// Path of the graph view written beside `out`: `NAME-graph.html`.
pub fn graph_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_owned();
    out.with_file_name(format!("{stem}-graph.html"))
}

/// Paths of the plots written beside `out`.
pub fn plot_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_owned();
    (
        out.with_file_name(format!("{stem}-curves.png")),
        out.with_file_name(format!("{stem}-confusion.png")),
    )
}

/// Runs `fhez train`.
pub fn run(args: &TrainArgs) -> Result<()> {
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let trained = train(args, args.json)?;
    trained
        .model
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let mut written = vec![args.out.display().to_string()];
    if !args.no_plots {
        let (curves, conf) = plot_paths(&args.out);
        plot::curves(&curves, &trained.history)?;
        written.push(curves.display().to_string());
        if let Some(c) = &trained.confusion {
            let labels = match &trained.model.task {
                Task::Classifier { labels } => labels.clone(),
                Task::Regressor { .. } => Vec::new(),
                _ => Vec::new(),
            };
            plot::confusion(&conf, c, &labels)?;
            written.push(conf.display().to_string());
        }
        let view = graph_path(&args.out);
        crate::graph::write_view(&trained.model, &view, fhez_graphview::Format::Html)?;
        written.push(view.display().to_string());
    }
    if args.json {
        return util::print_json(&json!({
            "model": args.out, "dataset": args.data, "history": trained.history,
            "metrics": trained.model.metrics, "plan_request": trained.model.plan, "written": written,
        }));
    }
    outln!("wrote {}", written.join(", "));
    Ok(())
}
