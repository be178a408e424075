//! Bounded decoding: the file, then the graph, then each node, initializer and input, each
//! counted against [`crate::limits`] before it is decoded; tensors checked (declared element
//! count, checked product, against the data actually present) before they are converted.

use prost::Message;

use crate::limits;
use crate::proto::{Attribute, GraphShallow, ModelShallow, NodeShallow, Tensor, ValueInfo};
use crate::{Error, Result};

/// Lowest and highest default-domain opset the importer accepts.
pub const OPSETS: (i64, i64) = (7, 23);

/// A decoded node.
pub(crate) struct RawNode {
    pub name: String,
    pub op: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<Attribute>,
}

/// A decoded graph.
pub(crate) struct RawGraph {
    pub nodes: Vec<RawNode>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| Error::Decode {
        what,
        reason: e.to_string(),
    })
}

fn check(what: &'static str, found: usize, limit: usize) -> Result<()> {
    if found <= limit {
        Ok(())
    } else {
        Err(Error::Limit { what, found, limit })
    }
}

/// Decodes `bytes` into a graph, checking sizes, counts and the opset.
pub(crate) fn graph(bytes: &[u8]) -> Result<RawGraph> {
    check("file bytes", bytes.len(), limits::MAX_FILE_BYTES)?;
    if bytes.is_empty() {
        return Err(Error::NoGraph);
    }
    let model: ModelShallow = decode("ModelProto", bytes)?;
    check(
        "opset imports",
        model.opset_import.len(),
        limits::MAX_OPSETS,
    )?;
    for o in &model.opset_import {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            let (min, max) = OPSETS;
            if !(min..=max).contains(&o.version) {
                return Err(Error::Opset {
                    domain: "ai.onnx".to_owned(),
                    version: o.version,
                    min,
                    max,
                });
            }
        }
    }
    let graph_bytes = model.graph.ok_or(Error::NoGraph)?;
    let g: GraphShallow = decode("GraphProto", &graph_bytes)?;
    check("graph nodes", g.node.len(), limits::MAX_NODES)?;
    check(
        "graph initializers",
        g.initializer.len(),
        limits::MAX_INITIALIZERS,
    )?;
    check("graph inputs", g.input.len(), limits::MAX_IO)?;
    check("graph outputs", g.output.len(), limits::MAX_IO)?;
    let mut nodes = Vec::with_capacity(g.node.len());
    for b in &g.node {
        let n: NodeShallow = decode("NodeProto", b)?;
        check("node attributes", n.attribute.len(), limits::MAX_ATTRIBUTES)?;
        check("node inputs", n.input.len(), limits::MAX_NODE_IO)?;
        check("node outputs", n.output.len(), limits::MAX_NODE_IO)?;
        let attrs = n
            .attribute
            .iter()
            .map(|a| decode::<Attribute>("AttributeProto", a))
            .collect::<Result<Vec<_>>>()?;
        for a in &attrs {
            check("attribute ints", a.ints.len(), limits::MAX_ATTRIBUTE_VALUES)?;
            check(
                "attribute floats",
                a.floats.len(),
                limits::MAX_ATTRIBUTE_VALUES,
            )?;
        }
        nodes.push(RawNode {
            name: n.name,
            op: n.op_type,
            domain: n.domain,
            inputs: n.input,
            outputs: n.output,
            attrs,
        });
    }
    let initializers = g
        .initializer
        .iter()
        .map(|b| decode::<Tensor>("TensorProto", b))
        .collect::<Result<Vec<_>>>()?;
    let value_infos = |list: &[Vec<u8>]| {
        list.iter()
            .map(|b| decode::<ValueInfo>("ValueInfoProto", b))
            .collect::<Result<Vec<_>>>()
    };
    Ok(RawGraph {
        nodes,
        initializers,
        inputs: value_infos(&g.input)?,
        outputs: value_infos(&g.output)?,
    })
}

/// ONNX `DataType` codes the importer reads.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// A constant: its shape and values (integers as `f64`, exact up to 2^53).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Const {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Converts a `TensorProto` after checking its dims, element count and data length.
pub(crate) fn tensor(t: &Tensor, name: &str) -> Result<Const> {
    let bad = |reason: String| Error::Initializer {
        name: name.to_owned(),
        reason,
    };
    if t.data_location != 0 {
        return Err(bad(
            "external data is not supported (embed the weights in the file)".into(),
        ));
    }
    check("tensor rank", t.dims.len(), limits::MAX_RANK)?;
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut count = 1usize;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad("element count overflows".into()))?;
        shape.push(d);
    }
    check("tensor elements", count, limits::MAX_TENSOR_ELEMENTS)?;
    let width = match t.data_type {
        FLOAT => 4,
        INT32 => 4,
        INT64 | DOUBLE => 8,
        other => {
            return Err(bad(format!(
                "data type {other} is not supported (float, double, int32, int64)"
            )));
        }
    };
    let data: Vec<f64> = if t.raw_data.is_empty() {
        let found = match t.data_type {
            FLOAT => t.float_data.len(),
            INT32 => t.int32_data.len(),
            INT64 => t.int64_data.len(),
            _ => t.double_data.len(),
        };
        if found != count {
            return Err(bad(format!(
                "dims {shape:?} declare {count} values, the typed data holds {found}"
            )));
        }
        match t.data_type {
            FLOAT => t.float_data.iter().map(|&v| f64::from(v)).collect(),
            INT32 => t.int32_data.iter().map(|&v| f64::from(v)).collect(),
            #[expect(clippy::cast_precision_loss, reason = "shape constants are small")]
            INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            _ => t.double_data.clone(),
        }
    } else {
        let want = count
            .checked_mul(width)
            .ok_or_else(|| bad("byte count overflows".into()))?;
        if t.raw_data.len() != want {
            return Err(bad(format!(
                "dims {shape:?} declare {count} values ({want} bytes), raw_data holds {} bytes",
                t.raw_data.len()
            )));
        }
        let chunks = t.raw_data.chunks_exact(width);
        match t.data_type {
            FLOAT => chunks
                .map(|c| {
                    c.try_into()
                        .map(|b| f64::from(f32::from_le_bytes(b)))
                        .unwrap_or(f64::NAN)
                })
                .collect(),
            INT32 => chunks
                .map(|c| {
                    c.try_into()
                        .map(|b| f64::from(i32::from_le_bytes(b)))
                        .unwrap_or(f64::NAN)
                })
                .collect(),
            #[expect(clippy::cast_precision_loss, reason = "shape constants are small")]
            INT64 => chunks
                .map(|c| {
                    c.try_into()
                        .map(|b| i64::from_le_bytes(b) as f64)
                        .unwrap_or(f64::NAN)
                })
                .collect(),
            _ => chunks
                .map(|c| c.try_into().map(f64::from_le_bytes).unwrap_or(f64::NAN))
                .collect(),
        }
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("value {i} is not finite")));
    }
    Ok(Const { shape, data })
}

#[cfg(test)]
#[allow(clippy::panic, reason = "test code")]
mod tests {
    use super::*;
    use crate::proto::model_bytes as model;

    fn limit_of(r: Result<RawGraph>) -> (&'static str, usize, usize) {
        match r {
            Err(Error::Limit { what, found, limit }) => (what, found, limit),
            Err(e) => panic!("expected a limit error, got {e}"),
            Ok(_) => panic!("expected a limit error, got a graph"),
        }
    }

    #[test]
    fn counts_are_refused_before_their_elements_are_decoded() {
        let g = GraphShallow {
            node: vec![Vec::new(); limits::MAX_NODES + 1],
            ..GraphShallow::default()
        };
        assert_eq!(
            limit_of(graph(&model(&g))),
            ("graph nodes", limits::MAX_NODES + 1, limits::MAX_NODES)
        );
        let node = NodeShallow {
            attribute: vec![Vec::new(); limits::MAX_ATTRIBUTES + 1],
            ..NodeShallow::default()
        };
        let g = GraphShallow {
            node: vec![node.encode_to_vec()],
            ..GraphShallow::default()
        };
        assert_eq!(limit_of(graph(&model(&g))).0, "node attributes");
        let big = vec![0u8; limits::MAX_FILE_BYTES + 1];
        assert_eq!(limit_of(graph(&big)).0, "file bytes");
    }

    #[test]
    fn tensors_are_checked_against_their_dims_before_conversion() {
        let t = Tensor {
            dims: vec![1 << 40, 1 << 40],
            data_type: FLOAT,
            ..Tensor::default()
        };
        assert!(matches!(
            tensor(&t, "w"),
            Err(Error::Initializer { .. } | Error::Limit { .. })
        ));
        let t = Tensor {
            dims: vec![4096, 4097],
            data_type: FLOAT,
            ..Tensor::default()
        };
        assert!(matches!(
            tensor(&t, "w"),
            Err(Error::Limit {
                what: "tensor elements",
                ..
            })
        ));
        let t = Tensor {
            dims: vec![2, 3],
            data_type: FLOAT,
            raw_data: vec![0; 23],
            ..Tensor::default()
        };
        let Err(e) = tensor(&t, "fc.weight") else {
            panic!("23 bytes for 6 floats must be refused");
        };
        assert_eq!(
            e.to_string(),
            "initializer `fc.weight`: dims [2, 3] declare 6 values (24 bytes), raw_data holds 23 bytes"
        );
        let t = Tensor {
            dims: vec![2],
            data_type: FLOAT,
            float_data: vec![1.0, f32::NAN],
            ..Tensor::default()
        };
        assert!(tensor(&t, "b").is_err());
        let t = Tensor {
            dims: vec![2],
            data_type: INT64,
            raw_data: [3i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Tensor::default()
        };
        assert_eq!(
            tensor(&t, "shape").ok().map(|c| c.data),
            Some(vec![3.0, -1.0])
        );
    }
}
