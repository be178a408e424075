//! Loading the peer's own trained weights.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::peer_port::Model;
use super::{CH, HID, KK, NIN, NOUT};

/// Weights trained by `mnist_cnn.py`'s own numpy trainer (`{"params": [Wc, bc, W1, b1,
/// W2, b2]}`, nested lists in its layout), to evaluate exactly the peer's model.
///
/// # Errors
/// The file is unreadable, not JSON, or a parameter has the wrong number of values.
pub fn load_weights(path: &std::path::Path) -> Result<Model> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
    )?;
    let flat = |i: usize, len: usize| -> Result<Vec<f64>> {
        fn walk(v: &Value, out: &mut Vec<f64>) {
            match v {
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Number(n) => out.push(n.as_f64().unwrap_or(f64::NAN)),
                Value::Null | Value::Bool(_) | Value::String(_) | Value::Object(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&v["params"][i], &mut out);
        if out.len() != len {
            bail!(
                "weights: parameter {i} has {} values, expected {len}",
                out.len()
            );
        }
        Ok(out)
    };
    Ok(Model {
        wc: flat(0, CH * KK)?,
        bc: flat(1, CH)?,
        w1: flat(2, NIN * HID)?,
        b1: flat(3, HID)?,
        w2: flat(4, HID * NOUT)?,
        b2: flat(5, NOUT)?,
    })
}
