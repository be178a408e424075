//! Importer unit tests on ONNX files built in memory.

#![allow(clippy::panic, reason = "test code")]
use prost::Message;

use super::*;
use crate::proto::{
    Dimension, GraphShallow, NodeShallow, Tensor as TensorProto, TensorShape, TensorType,
    TypeProto, ValueInfo,
};

fn value(name: &str, dims: &[i64]) -> Vec<u8> {
    ValueInfo {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorType {
                elem_type: 1,
                shape: Some(TensorShape {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    }
    .encode_to_vec()
}

/// `x (1, 1, side, side)` → Conv with `filters` 1×1 filters → Add of a per-channel
/// constant `(1, filters, 1, 1)` → `y`.
fn conv_model(side: i64, filters: i64) -> Vec<u8> {
    let conv = NodeShallow {
        input: vec!["x".into(), "w".into()],
        output: vec!["h".into()],
        name: "wide".into(),
        op_type: "Conv".into(),
        ..NodeShallow::default()
    };
    let add = NodeShallow {
        input: vec!["h".into(), "c".into()],
        output: vec!["y".into()],
        name: "shift".into(),
        op_type: "Add".into(),
        ..NodeShallow::default()
    };
    let count = usize::try_from(filters).unwrap_or(0);
    let w = TensorProto {
        dims: vec![filters, 1, 1, 1],
        data_type: 1,
        name: "w".into(),
        float_data: vec![0.5; count],
        ..TensorProto::default()
    };
    let c = TensorProto {
        dims: vec![1, filters, 1, 1],
        name: "c".into(),
        ..w.clone()
    };
    let graph = GraphShallow {
        node: vec![conv.encode_to_vec(), add.encode_to_vec()],
        initializer: vec![w.encode_to_vec(), c.encode_to_vec()],
        input: vec![value("x", &[1, 1, side, side])],
        output: vec![value("y", &[1, filters, side, side])],
    };
    crate::proto::model_bytes(&graph)
}

#[test]
fn a_layer_output_over_the_tensor_limit_is_refused_before_it_is_allocated() {
    let small = run(&conv_model(4, 3), &ImportOptions::default());
    assert!(small.is_ok(), "{:?}", small.err().map(|e| e.to_string()));
    // 2^20 filters of a 64 × 64 plane: 2^32 elements, over the 2^24 limit. Refused when
    // the conv's output shape is known, before the Add broadcasts its constant to it
    // (2^32 values).
    match run(&conv_model(64, 1 << 20), &ImportOptions::default()) {
        Err(Error::Nn(fhez_nn::Error::LimitExceeded { what, found, .. })) => {
            assert_eq!((what, found), ("tensor elements", 1 << 32));
        }
        Err(e) => panic!("expected the tensor limit, got {e}"),
        Ok(_) => panic!("expected the tensor limit"),
    }
}
