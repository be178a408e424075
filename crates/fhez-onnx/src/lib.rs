//! ONNX importer for fhez.
