//! The conformance cases. Each is a small erray program; sizes adapt to the backend's slot
//! count (the suite assumes a power-of-two slot count of at least 16).

use fhez_backend::Backend;
use fhez_erray::{Erray, Packing, Result};

use crate::{Case, Inputs};

fn batch(inputs: &Inputs) -> usize {
    inputs.slots().min(8)
}

fn bis(inputs: &Inputs) -> Packing {
    Packing::BatchInSlots {
        batch: batch(inputs),
    }
}

macro_rules! case {
    ($(#[$doc:meta])* $ty:ident, $name:literal, scale = $scale:expr, |$b:ident, $i:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $ty;
        impl Case for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn scale(&self) -> f64 {
                $scale
            }
            fn run<C: Backend>(&self, $b: &C, $i: &Inputs) -> Result<Erray<C>> {
                $body
            }
        }
    };
}

case!(
    /// Encrypt/decrypt round trip, batch-in-slots.
    RoundTrip, "round_trip", scale = 1.0, |b, i| {
        Erray::encrypt(b, &i.array(1, &[batch(i), 3, 2]), bis(i))
    }
);

case!(
    /// Flat round trip over two ciphertexts.
    FlatRoundTrip, "flat_round_trip", scale = 1.0, |b, i| {
        Erray::encrypt(b, &i.array(2, &[i.slots() + 3]), Packing::Flat)
    }
);

case!(
    /// `a + b − c`, then negation.
    AddSubNeg, "add_sub_neg", scale = 4.0, |b, i| {
        let s = [batch(i), 5];
        let a = Erray::encrypt(b, &i.array(3, &s), bis(i))?;
        let c = Erray::encrypt(b, &i.array(4, &s), bis(i))?;
        let d = Erray::encrypt(b, &i.array(5, &s), bis(i))?;
        ((&a + &c) - &d)?.neg()
    }
);

case!(
    /// ct×ct product with broadcasting over a non-batch axis.
    MulBroadcast, "mul_broadcast", scale = 2.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(6, &[batch(i), 3, 2]), bis(i))?;
        let c = Erray::encrypt(b, &i.array(7, &[batch(i), 1, 2]), bis(i))?;
        &a * &c
    }
);

case!(
    /// Plaintext operands with numpy broadcasting, flat packing.
    PlainBroadcast, "plain_broadcast", scale = 4.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(8, &[4, 3, 2]), Packing::Flat)?;
        (&a * &i.array(9, &[3, 1])) + &i.array(10, &[2])
    }
);

case!(
    /// Scalars: a non-integer (one level), an integer (free), additions.
    Scalars, "scalars", scale = 8.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(11, &[batch(i), 4]), bis(i))?;
        (((&a * 0.75)? + 2.0)? * 3.0)? - 1.0
    }
);

case!(
    /// Flat `sum()`: a rotate-and-add tree.
    FlatSum, "flat_sum", scale = 64.0, |b, i| {
        Erray::encrypt(b, &i.array(12, &[i.slots() / 2 + 1]), Packing::Flat)?.sum()
    }
);

case!(
    /// Sum over the batch axis (rotations) and over an inner axis (additions).
    BatchSums, "batch_sums", scale = 16.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(13, &[batch(i), 3, 4]), bis(i))?;
        a.sum_axis(2)?.sum_axis(0)
    }
);

case!(
    /// Dense layer under batch-in-slots: linear combinations, one level, no rotation.
    MatmulBatch, "matmul_batch", scale = 8.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(14, &[batch(i), 6]), bis(i))?;
        a.matmul(&i.array(15, &[6, 4]))
    }
);

/// A `(n, m)` weight matrix whose column `j` is, by `j mod 4`: free integers in `[-3, 3]`,
/// fractions, all zeros, or integers and fractions mixed — every level class of a linear
/// combination in one matrix.
fn mixed_weights(i: &Inputs, stream: u64, n: usize, m: usize) -> Result<fhez_erray::PlainArray> {
    let r = i.array(stream, &[n, m]);
    let data = r
        .data()
        .iter()
        .enumerate()
        .map(|(k, &v)| match ((k % m) % 4, (k / m) % 2) {
            (0, _) | (3, 0) => (v * 3.5).trunc(),
            (2, _) => 0.0,
            _ => v,
        })
        .collect();
    fhez_erray::PlainArray::new(vec![n, m], data)
}

/// A batch-in-slots erray of shape `(batch, 6)` whose last three ciphertexts are one level
/// below the first three (operands of one combination at two levels).
fn two_levels<C: Backend>(b: &C, i: &Inputs, stream: u64) -> Result<Erray<C>> {
    let a = Erray::encrypt(b, &i.array(stream, &[batch(i), 6]), bis(i))?;
    let low = (&a * 0.5)?;
    let mut cts = a.cts().get(..3).unwrap_or(&[]).to_vec();
    cts.extend_from_slice(low.cts().get(3..).unwrap_or(&[]));
    Erray::from_parts(b, vec![batch(i), 6], bis(i), cts)
}

case!(
    /// Multi-output linear combinations (`Backend::linear_combinations`): 20 output columns
    /// (two column groups) mixing free-integer, fractional, zero and mixed columns over
    /// operands at two levels — outputs at three different levels.
    MatmulBatchMixed, "matmul_batch_mixed", scale = 24.0, |b, i| {
        let x = two_levels(b, i, 26)?;
        x.matmul(&mixed_weights(i, 27, 6, 20)?)
    }
);

case!(
    /// Lazy relinearization (`Backend::product_combinations`): `(x ⊙ y) @ W` over operands at
    /// two levels, mixed weight columns; one key switch per output column.
    MulMatmulBatch, "mul_matmul_batch", scale = 24.0, |b, i| {
        let x = two_levels(b, i, 28)?;
        let y = Erray::encrypt(b, &i.array(29, &[batch(i), 6]), bis(i))?;
        x.mul_matmul(&y, &mixed_weights(i, 30, 6, 20)?)
    }
);

case!(
    /// The CNN-bench pattern: dense → square → dense with lazy relinearization, the second
    /// dense with free integer weights (products combined at their own level).
    SquareDenseChain, "square_dense_chain", scale = 128.0, |b, i| {
        let x = Erray::encrypt(b, &i.array(31, &[batch(i), 8]), bis(i))?;
        let h = x.matmul(&i.array(32, &[8, 6]).map(|v| v * 0.25))?.add_scalar(0.25)?;
        let ints = i.array(33, &[6, 3]).map(|v| (v * 2.5).round());
        h.mul_matmul(&h, &ints)
    }
);

case!(
    /// Lazy relinearization on operands at level 0 fails as `mul` does, everywhere.
    MulMatmulExhausted, "mul_matmul_exhausted", scale = 1.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(34, &[batch(i), 2]), bis(i))?;
        let max = b.caps().max_level;
        if max > 24 {
            return Ok(a); // effectively unlimited (default Plain): nothing to exhaust
        }
        let mut x = a;
        for _ in 0..max {
            x = (&x * 0.5)?;
        }
        x.mul_matmul(&x, &i.array(35, &[2, 2]))
    }
);

case!(
    /// Flat BSGS matmul, wide (n > m).
    MatmulFlatWide, "matmul_flat_wide", scale = 64.0, |b, i| {
        let n = i.slots().min(64);
        let a = Erray::encrypt(b, &i.array(16, &[n]), Packing::Flat)?;
        a.matmul(&i.array(17, &[n, 10]))
    }
);

case!(
    /// Flat BSGS matmul, tall (n < m), chained after a dirty-padding result.
    MatmulFlatTall, "matmul_flat_tall", scale = 64.0, |b, i| {
        let m = i.slots().min(32);
        let a = Erray::encrypt(b, &i.array(18, &[5]), Packing::Flat)?;
        a.matmul(&i.array(19, &[5, m]))?.matmul(&i.array(20, &[m, 3]))
    }
);

case!(
    /// Degree-3 polynomial (sigmoid approximation): depth 2.
    Polyval3, "polyval3", scale = 4.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(21, &[batch(i), 3]), bis(i))?;
        a.polyval(&[0.5, 0.197, 0.0, -0.004])
    }
);

case!(
    /// Cube by square-and-multiply: depth 2.
    Pow3, "pow3", scale = 4.0, |b, i| {
        Erray::encrypt(b, &i.array(22, &[batch(i), 3]), bis(i))?.pow(3)
    }
);

case!(
    /// 2-D window sum (pooling numerator): free windows, ciphertext additions.
    WindowSum, "window_sum", scale = 9.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(23, &[batch(i), 6, 6]), bis(i))?;
        a.windows(&[3, 3], &[1, 1])?.sum_axis(4)?.sum_axis(3)
    }
);

case!(
    /// Serialization round trip through the backend's wire format.
    Serialization, "serialization", scale = 2.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(24, &[batch(i), 2]), bis(i))?;
        let p = (&a * &a)?;
        Erray::from_bytes(b, &p.to_bytes()?, 1 << 26)
    }
);

case!(
    /// Running out of levels fails identically everywhere (`LevelExhausted` with numbers).
    LevelExhaustion, "level_exhaustion", scale = 1.0, |b, i| {
        let a = Erray::encrypt(b, &i.array(25, &[batch(i), 1]), bis(i))?;
        let max = b.caps().max_level;
        if max > 24 {
            return Ok(a); // effectively unlimited (default Plain): nothing to exhaust
        }
        let mut x = a;
        for _ in 0..=max {
            x = (&x * 0.5)?;
        }
        Ok(x)
    }
);

/// `(input shape, weight shape, stride, padding)` of the single-input convolution case.
type ConvSpec = (Vec<usize>, Vec<usize>, [usize; 2], [usize; 2]);

fn conv_spec(inputs: &Inputs) -> ConvSpec {
    if inputs.slots() >= 64 {
        (vec![2, 5, 5], vec![3, 2, 3, 3], [2, 1], [1, 1])
    } else {
        (vec![1, 4, 4], vec![2, 1, 3, 3], [2, 2], [1, 1])
    }
}

case!(
    /// Single-input 2-d cross-correlation: several channels and filters, stride, zero padding,
    /// bias — one generic diagonal transform.
    SingleConv, "single_conv", scale = 32.0, |b, i| {
        let (xs, ws, stride, pad) = conv_spec(i);
        let x = i.array(30, &xs);
        let e = Erray::encrypt(b, &x, Packing::single_input(x.len()))?;
        let bias = i.array(32, ws.get(..1).unwrap_or(&[]));
        e.conv(&i.array(31, &ws), Some(&bias), &stride, &pad)
    }
);

case!(
    /// Single-input average pooling over several channels.
    SinglePool, "single_pool", scale = 4.0, |b, i| {
        let xs: &[usize] = if i.slots() >= 64 { &[2, 4, 6] } else { &[1, 4, 4] };
        let x = i.array(33, xs);
        let e = Erray::encrypt(b, &x, Packing::single_input(x.len()))?;
        e.avg_pool(&[2, 2], &[2, 2])
    }
);

case!(
    /// A small single-input CNN: conv → square → flatten → dense, with no masks and no
    /// replication between layers (depth 3; fails identically where levels run out).
    SingleChain, "single_chain", scale = 256.0, |b, i| {
        let (xs, ws, pad): (&[usize], &[usize], [usize; 2]) = if i.slots() >= 64 {
            (&[1, 6, 6], &[2, 1, 3, 3], [0, 0])
        } else {
            (&[1, 4, 4], &[1, 1, 3, 3], [1, 1])
        };
        let x = i.array(34, xs);
        let e = Erray::encrypt(b, &x, Packing::single_input(x.len()))?;
        let h = e.conv(&i.array(35, ws), None, &[1, 1], &pad)?;
        let h = (&h * &h)?;
        let len = h.len();
        let h = h.reshape(&[len])?;
        h.dense(&i.array(36, &[len, 3]), Some(&i.array(37, &[3])))
    }
);

case!(
    /// Single-input dense layer whose rotations follow a plan-time [`RotationTable`] under a
    /// key budget (composed steps are not hoisted).
    ///
    /// [`RotationTable`]: fhez_erray::RotationTable
    SingleDenseBudget, "single_dense_budget", scale = 64.0, |b, i| {
        let n = i.slots().min(32);
        let e = Erray::encrypt(b, &i.array(38, &[n]), Packing::single_input(n))?;
        let t = e.plan_dense(&i.array(39, &[n, n]), None, 1.0)?;
        let steps = t.rotation_steps();
        let table = fhez_erray::RotationTable::with_budget(
            &steps,
            steps.len().saturating_sub(1),
            i.slots(),
        )?;
        e.linear_transform(&t, vec![n], &table)
    }
);

case!(
    /// Stacking single-input errays (a bank of one-filter outputs) into one: rotations for
    /// parts that do not fill their period, one mask level.
    SingleStack, "single_stack", scale = 2.0, |b, i| {
        let shape: &[usize] = if i.slots() >= 64 { &[3, 3] } else { &[3] };
        let parts = (0..3)
            .map(|k| {
                let x = i.array(40 + k, shape);
                Erray::encrypt(b, &x, Packing::single_input(x.len()))
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Erray<_>> = parts.iter().collect();
        Erray::stack(&refs)
    }
);

case!(
    /// A single-input convolution prepared once (diagonals encoded for the fresh level) and
    /// applied to two inputs: lazy per-group sums, no encoding at evaluation.
    SinglePrepared, "single_prepared", scale = 64.0, |b, i| {
        let (xs, ws, stride, pad) = conv_spec(i);
        let x = i.array(50, &xs);
        let y = i.array(51, &xs);
        let ex = Erray::encrypt(b, &x, Packing::single_input(x.len()))?;
        let ey = Erray::encrypt(b, &y, Packing::single_input(y.len()))?;
        let bias = i.array(53, ws.get(..1).unwrap_or(&[]));
        let (t, shape) = ex.plan_conv(&i.array(52, &ws), Some(&bias), &stride, &pad, 1.0)?;
        let level = b.caps().max_level;
        let p = t.prepare(b, level)?;
        let table = fhez_erray::RotationTable::exact();
        let a = ex.linear_transform_prepared(&p, shape.clone(), &table)?;
        let c = ey.linear_transform_prepared(&p, shape, &table)?;
        &a + &c
    }
);

case!(
    /// [`Backend::mul_plain_sum`] of three products with plaintexts encoded once, at the
    /// fresh level and (after a product) one level down.
    PlainSum, "plain_sum", scale = 8.0, |b, i| {
        let n = i.slots();
        let top = b.caps().max_level;
        let cts = (0..3)
            .map(|k| b.encrypt(i.array(60 + k, &[n]).data()))
            .collect::<fhez_backend::Result<Vec<_>>>()?;
        let pts = (0..3)
            .map(|k| b.encode_plain(i.array(63 + k, &[n]).data(), top))
            .collect::<fhez_backend::Result<Vec<_>>>()?;
        let terms: Vec<(&C::Ct, &C::Pt)> = cts.iter().zip(&pts).collect();
        let s = b.mul_plain_sum(&terms)?;
        let q = b.encode_plain(i.array(66, &[n]).data(), top.saturating_sub(1))?;
        let s = b.mul_plain_sum(&[(&s, &q)])?;
        Erray::from_parts(b, vec![n], Packing::Flat, vec![s])
    }
);

case!(
    /// A plaintext encoded for another level than its ciphertext's: the same `LevelMismatch`
    /// on every backend.
    PlainSumLevelMismatch, "plain_sum_level_mismatch", scale = 1.0, |b, i| {
        let n = i.slots();
        let x = b.encrypt(i.array(67, &[n]).data())?;
        let pt = b.encode_plain(i.array(68, &[n]).data(), b.caps().max_level.saturating_sub(1))?;
        let s = b.mul_plain_sum(&[(&x, &pt)])?;
        Erray::from_parts(b, vec![n], Packing::Flat, vec![s])
    }
);
