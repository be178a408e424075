#![no_main]
//! `fhez::data::npy::parse_shaped` (`fhez encrypt --input x.npy`).

use fhez::data::npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((shape, values)) = npy::parse_shaped(data) {
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(count, Some(values.len()));
        assert!(values.len() <= data.len(), "output larger than input");
    }
});
