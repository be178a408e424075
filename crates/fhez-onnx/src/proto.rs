//! The subset of `onnx.proto` (ONNX IR, field numbers of the published schema) the importer
//! reads, as `prost` messages. Decoding is `prost`'s.
//!
//! Messages that repeat without bound (a graph's nodes and initializers, a node's
//! attributes) are first decoded as opaque byte strings (`*Shallow`), so their count is
//! checked against [`crate::limits`] before each one is decoded; nested graphs (attribute
//! fields `g` / `graphs`) and non-tensor types are not declared, so `prost` skips them as
//! unknown fields and decoding never recurses into them.

/// `ModelProto`, with the graph left encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelShallow {
    /// `ir_version`.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// `graph`, still encoded.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub graph: Option<Vec<u8>>,
    /// `opset_import`.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetId>,
}

/// `OperatorSetIdProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatorSetId {
    /// `domain` (empty = the default `ai.onnx` domain).
    #[prost(string, tag = "1")]
    pub domain: String,
    /// `version`.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `GraphProto`, with nodes, initializers, inputs and outputs left encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GraphShallow {
    /// `node`.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub node: Vec<Vec<u8>>,
    /// `initializer`.
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub initializer: Vec<Vec<u8>>,
    /// `input`.
    #[prost(bytes = "vec", repeated, tag = "11")]
    pub input: Vec<Vec<u8>>,
    /// `output`.
    #[prost(bytes = "vec", repeated, tag = "12")]
    pub output: Vec<Vec<u8>>,
}

/// `NodeProto`, with attributes left encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NodeShallow {
    /// `input`.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// `output`.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// `name`.
    #[prost(string, tag = "3")]
    pub name: String,
    /// `op_type`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// `attribute`.
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub attribute: Vec<Vec<u8>>,
    /// `domain`.
    #[prost(string, tag = "7")]
    pub domain: String,
}

/// `AttributeProto` without the graph fields.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Attribute {
    /// `name`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// `f`.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// `i`.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// `s`.
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// `t`.
    #[prost(message, optional, tag = "5")]
    pub t: Option<Tensor>,
    /// `floats`.
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    /// `ints`.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// `type` (`AttributeType`: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6,
    /// INTS 7, …).
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `TensorProto` (data in `raw_data` or one of the typed fields; external data is refused
/// by the importer).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Tensor {
    /// `dims`.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// `data_type` (`DataType`: FLOAT 1, INT32 6, INT64 7, DOUBLE 11, …).
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// `float_data`.
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// `int32_data`.
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// `int64_data`.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// `name`.
    #[prost(string, tag = "8")]
    pub name: String,
    /// `raw_data` (little-endian).
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// `double_data`.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// `data_location` (0 DEFAULT, 1 EXTERNAL).
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `ValueInfoProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueInfo {
    /// `name`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// `type`.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto`, only its `tensor_type` case.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProto {
    /// `tensor_type`.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorType>,
}

/// `TypeProto.Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorType {
    /// `elem_type`.
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// `shape`.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShape>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShape {
    /// `dim`.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension` (the `value` oneof as two optional fields).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Dimension {
    /// `dim_value`.
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    /// `dim_param`.
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// Test support: `graph` as a whole ONNX file (IR 8, default domain at opset 17).
#[cfg(test)]
pub(crate) fn model_bytes(graph: &GraphShallow) -> Vec<u8> {
    use prost::Message;
    ModelShallow {
        ir_version: 8,
        graph: Some(graph.encode_to_vec()),
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: 17,
        }],
    }
    .encode_to_vec()
}
