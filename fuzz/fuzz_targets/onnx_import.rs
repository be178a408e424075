#![no_main]
//! `fhez_onnx::import` (`fhez import model.onnx`, `fhez.Model.from_onnx`): any bytes give a
//! model or an error, never a panic, hang or unbounded allocation; an accepted model runs
//! its plaintext forward on a zero input and becomes a model file.

use fhez::nn::{PlanRequest, SecurityStandard, Tensor};
use fhez_onnx::{ImportOptions, import};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(imported) = import(data, &ImportOptions::default()) {
        let x = Tensor::zeros(imported.input_shape());
        let _ = imported.forward(&x);
        let _ = imported.forward_exact(&x);
        let request = PlanRequest {
            release: fhez::nn::ReleaseChoice::Shared,
            batch: 1,
            precision_bits: 20,
            magnitude_bits: 10,
            standard: SecurityStandard::Standard2018,
            key_budget: None,
        };
        let _ = imported.model_file("fuzz", request);
    }
});
