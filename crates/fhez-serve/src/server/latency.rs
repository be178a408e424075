//! A model's latency mode, built at startup when its graph has a latency form: the
//! [`LatencyModel`] (weights lowered to diagonal plaintexts), its parameter set and the
//! description `GET /v1/models/{name}` publishes.

use std::sync::Arc;

use fhez_ckks::CkksParams;
use fhez_model::ModelFile;
use fhez_model::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, latency_spec_for};

use super::ServeError;
use crate::api::LatencyInfo;
use crate::latency::{geometry_of, max_ciphertext_bytes};

/// Latency mode of one model.
pub(super) struct LatencyServed {
    /// The lowered model (evaluates with public keys only).
    pub(super) model: LatencyModel,
    /// Its parameter set.
    pub(super) params: Arc<CkksParams>,
    /// Hex id of `params`.
    pub(super) params_id: String,
    /// What clients are told.
    pub(super) info: LatencyInfo,
}

impl LatencyServed {
    /// The latency mode of `file`, or `None` when its graph has no latency form (logged).
    /// The request body limit is a full ciphertext at the input level, capped by
    /// `max_body`.
    pub(super) fn new(file: &ModelFile, max_body: usize) -> Result<Option<Self>, ServeError> {
        let err = |source| ServeError::Model {
            name: file.name.clone(),
            source,
        };
        let [input] = file.inputs.as_slice() else {
            tracing::info!(model = %file.name, "no latency mode: the model takes several inputs");
            return Ok(None);
        };
        let graph = file.graph().map_err(err)?;
        let net = match LatencyNet::from_graph(&graph) {
            Ok(net) => net,
            Err(e) => {
                tracing::info!(model = %file.name, reason = %e, "no latency mode");
                return Ok(None);
            }
        };
        let spec = match latency_spec_for(&net, DEFAULT_HEADROOM_BITS) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::info!(model = %file.name, reason = %e, "no latency mode");
                return Ok(None);
            }
        };
        let params = CkksParams::new(&spec).map_err(|e| err(e.into()))?;
        let geometry = geometry_of(&net);
        let outputs = net.outputs();
        let model = LatencyModel::new(net, &params).map_err(err)?;
        let level = model.input_level();
        let params_id = params.id().to_hex();
        let info = LatencyInfo {
            params: spec,
            params_id: params_id.clone(),
            rotation_steps: model.rotation_steps(),
            input: input.name.clone(),
            input_shape: input.shape.clone(),
            input_level: level,
            outputs,
            max_body_bytes: max_ciphertext_bytes(&params, level).min(max_body),
            geometry,
        };
        tracing::info!(
            model = %file.name,
            params_id = %params_id,
            log_n = info.params.log_n,
            rotation_keys = info.rotation_steps.len(),
            "latency mode"
        );
        Ok(Some(Self {
            model,
            params,
            params_id,
            info,
        }))
    }
}
