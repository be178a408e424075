#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod cost;
mod error;
pub mod graph;
mod init;
pub mod limits;
pub mod loss;
pub mod nodes;
pub mod optim;
pub mod plan;
pub mod prefab;
mod tensor;

pub use cost::Cost;
pub use error::{Error, Result};
pub use graph::{
    EncRun, EncState, EncStep, Grads, Graph, GraphBuilder, GraphConfig, NodeEvent, NodeId, Outputs,
    SingleLinear, Tape, TrainConfig, Trainer, TransformCache,
};
pub use nodes::{Layer, Node};
pub use optim::{Adam, GradientDescent, Optimizer};
pub use plan::{
    GatherSpec, LayoutRole, PackingChoice, PackingSpec, Plan, PlanRequest, Release, ReleaseChoice,
    ReleasePolicy, SecurityStandard, TensorLayout, original_heuristic, plan, plan_single_input,
};
pub use tensor::{Tensor, stack, unstack};
