//! The names most programs need, in one import: `use fhez::prelude::*;`.
//!
//! ```no_run
//! use fhez::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let graph = fhez::nn::prefab::cnn_classifier(10, 1)?;
//! let model = EncryptedModel::new(graph, 256, 20)?;
//! let params = CkksParams::new(&model.spec())?;
//! let client: CkksClient = model.keygen(&params)?;
//! let server = CkksServer::new(client.server_keys());
//! let x = PlainArray::full(vec![256, 28, 28], 0.0)?;
//! let reply: CtBatch = model.evaluate(&server, &model.encrypt(&client, &[("x", x)])?)?;
//! let _outputs = model.decrypt_finish(&client, &reply, &[])?;
//! # Ok(()) }
//! ```

pub use fhez_model::{
    CnnConfig, CtBatch, EncryptedInput, EncryptedModel, ModelFile, Task, spec_from_plan,
};

pub use fhez_backend::{Backend, Decrypt, Plain, Sim};
pub use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec, CkksServer};
pub use fhez_erray::{Erray, Packing, PlainArray};
pub use fhez_nn::{Adam, Graph, Optimizer, PlanRequest, Tensor, TrainConfig, Trainer};
