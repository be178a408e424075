//! fhez for Python: the extension module `fhez._fhez`, re-exported by the package `fhez`
//! (`python/fhez/__init__.py`). See `crates/fhez-py/README.md`.
//!
//! Design rules of the binding: every Rust error becomes a Python exception of its kind
//! with its numbers as attributes ([`errors`]); nothing in the binding panics (the
//! workspace lints deny `unwrap`, `expect`, `panic` and indexing); every computation runs
//! with the GIL released; the secret key never appears in a `repr` and never pickles.

mod arrays;
mod ckks;
mod errors;
mod model;
mod service;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _fhez(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<model::Model>()?;
    m.add_class::<model::EncryptedModel>()?;
    m.add_class::<model::Client>()?;
    m.add_class::<model::Server>()?;
    m.add_class::<model::Ciphertexts>()?;
    m.add_class::<ckks::Context>()?;
    m.add_class::<ckks::Tensor>()?;
    m.add_class::<service::ServiceClient>()?;
    m.add_class::<service::Session>()?;
    m.add_function(wrap_pyfunction!(ckks::matmul_rotations, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
