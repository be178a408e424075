//! Encrypted CNN inference benchmark: the network of TenSEAL's `mnist_cnn.py` under CKKS
//! with fhez (see `fhez_bench::cnn`).
#![forbid(unsafe_code)]

fn main() {
    fhez_bench::cnn::cli::main();
}
