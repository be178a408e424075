//! The Rust half of the Python-layer overhead measurement (`examples/python/overhead.py`):
//! the same work as the Python package's model flow — plan a model file for a packing, keys
//! from the public bundle's bytes, then per image encrypt → evaluate → decrypt — timed per
//! image. Prints one JSON object: `{"ms": [per-image milliseconds…]}`.
//!
//! ```sh
//! cargo run --release -p fhez --example python_overhead -- MODEL.json IMAGES.json single-input
//! ```
//! `IMAGES.json` is `{"shape": [n, rows, cols], "data": [...]}` (row-major).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez::bundle::{public_bundle_from_bytes, public_bundle_to_bytes};
use fhez::ckks::{CkksParams, CkksServer};
use fhez::erray::PlainArray;
use fhez::nn::PackingChoice;
use fhez::{EncryptedModel, ModelFile};

#[derive(serde::Deserialize)]
struct Images {
    shape: Vec<usize>,
    data: Vec<f64>,
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, images_path, packing] = argv.as_slice() else {
        bail!("usage: python_overhead MODEL.json IMAGES.json batch-in-slots|single-input");
    };
    let packing = match packing.as_str() {
        "single-input" => PackingChoice::SingleInput,
        "batch-in-slots" => PackingChoice::BatchInSlots,
        other => bail!("unknown packing {other}"),
    };
    let file = ModelFile::load(std::path::Path::new(model_path))?;
    let text = std::fs::read_to_string(images_path).context("images")?;
    let images: Images = serde_json::from_str(&text)?;
    let (shape, data) = (images.shape, images.data);
    let (&n, per) = shape.split_first().context("empty shape")?;
    let size: usize = per.iter().product();

    let model = EncryptedModel::with_packing(file.graph()?, &file.plan, packing)?;
    let client = model.keygen(&CkksParams::new(&model.spec())?)?;
    let bundle = public_bundle_to_bytes(&client.server_keys())?;
    let server = CkksServer::new(public_bundle_from_bytes(&bundle, 1 << 30)?);
    let name = file.inputs.first().context("no input")?.name.clone();

    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let mut sample_shape = vec![1];
        sample_shape.extend_from_slice(per);
        let values = data
            .get(i * size..(i + 1) * size)
            .context("images shorter than their shape")?
            .to_vec();
        let x = PlainArray::new(sample_shape, values)?;
        let t = Instant::now();
        let sent = model.encrypt(&client, &[(name.as_str(), x)])?;
        let back = model.evaluate(&server, &sent)?;
        let out = model.decrypt(&client, &back)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(out);
    }
    println!("{}", serde_json::json!({ "ms": ms }));
    Ok(())
}
