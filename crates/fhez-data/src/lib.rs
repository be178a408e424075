#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod checksums;
pub mod csv;
mod datasets;
mod error;
pub mod idx;
pub mod io;
pub mod npy;
pub mod split;
pub mod transform;

pub use datasets::{
    Dataset, Series, Split, co2, data_dir, diabetes, diabetes_scaled, digits, digits_all,
    elec_equip, fashion_mnist, mnist, nile, sunspots,
};
pub use error::{DataError, Result};
pub use split::{shuffle_split, stratified_split};
pub use transform::{ZScore, sliding_windows, upsample_bilinear, upsample_to_28x28};

/// Class names of Fashion-MNIST, in label order (0 = T-shirt/top … 9 = Ankle boot).
pub const FASHION_MNIST_LABELS: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
