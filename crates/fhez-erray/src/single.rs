//! Single-input layers ([`Packing::SingleInput`]): dense products, n-d cross-correlation and
//! average pooling, each one [`LinearTransform`] (one level, `O(√m)` key switches) whose
//! output is again single-input, so layers chain without re-layout. Flattening between layers
//! is a free [`Erray::reshape`] (the layout is row-major).

use fhez_backend::Backend;

use crate::shape::size_of;
use crate::{
    Erray, Error, LinearTransform, Packing, PlainArray, PreparedTransform, Result, RotationTable,
};

/// Geometry of an n-d sliding window over an input of shape `(C, d_1…d_k)`: output shape
/// `(F, o_1…o_k)` with `o_t = (d_t + 2·p_t − k_t) / s_t + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowGeometry {
    /// Input channels `C`.
    pub channels: usize,
    /// Input spatial extents `d_t`.
    pub input: Vec<usize>,
    /// Kernel extents `k_t`.
    pub kernel: Vec<usize>,
    /// Strides `s_t`.
    pub stride: Vec<usize>,
    /// Zero padding `p_t` on both sides.
    pub padding: Vec<usize>,
    /// Output spatial extents `o_t`.
    pub output: Vec<usize>,
}

impl WindowGeometry {
    /// Checks the arguments and computes the output extents.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for rank mismatches, zero strides or kernels, kernels larger
    /// than the padded input, or sizes that overflow.
    pub fn new(
        input_shape: &[usize],
        kernel: &[usize],
        stride: &[usize],
        padding: &[usize],
    ) -> Result<Self> {
        let invalid = |reason| Error::InvalidShape {
            op: "window",
            shape: input_shape.to_vec(),
            reason,
        };
        let (&channels, input) = input_shape
            .split_first()
            .ok_or_else(|| invalid("input needs a channel axis"))?;
        let k = input.len();
        if k == 0 || kernel.len() != k || stride.len() != k || padding.len() != k {
            return Err(invalid(
                "kernel, stride and padding need one entry per spatial axis",
            ));
        }
        size_of(input_shape)?;
        let mut output = Vec::with_capacity(k);
        for t in 0..k {
            let (d, kt, st, pt) = (
                input.get(t).copied().unwrap_or(0),
                kernel.get(t).copied().unwrap_or(0),
                stride.get(t).copied().unwrap_or(0),
                padding.get(t).copied().unwrap_or(0),
            );
            if kt == 0 || st == 0 {
                return Err(invalid("kernel extents and strides must be positive"));
            }
            let padded = pt
                .checked_mul(2)
                .and_then(|p| p.checked_add(d))
                .ok_or_else(|| invalid("padded size overflows"))?;
            if kt > padded || pt >= kt {
                return Err(invalid(
                    "kernel larger than the padded input, or padding >= kernel",
                ));
            }
            output.push((padded - kt) / st + 1);
        }
        Ok(Self {
            channels,
            input: input.to_vec(),
            kernel: kernel.to_vec(),
            stride: stride.to_vec(),
            padding: padding.to_vec(),
            output,
        })
    }

    /// Elements per input channel.
    fn in_plane(&self) -> usize {
        self.input.iter().product()
    }

    /// Elements per output channel.
    fn out_plane(&self) -> usize {
        self.output.iter().product()
    }

    /// Elements per kernel.
    fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }

    /// For output position `o` (within a plane) and input position `x` (within a plane), the
    /// flat kernel index that connects them, if any.
    fn tap(&self, o: usize, x: usize) -> Option<usize> {
        let (mut o, mut x) = (o, x);
        let mut kidx = 0usize;
        let mut kstride = 1usize;
        for t in (0..self.input.len()).rev() {
            let (d, od, kt, st, pt) = (
                *self.input.get(t)?,
                *self.output.get(t)?,
                *self.kernel.get(t)?,
                *self.stride.get(t)?,
                *self.padding.get(t)?,
            );
            let (ot, xt) = (o % od, x % d);
            o /= od;
            x /= d;
            // Kernel offset: x = o·s + k − p.
            let kk = (xt + pt).checked_sub(ot * st)?;
            if kk >= kt {
                return None;
            }
            kidx += kk * kstride;
            kstride *= kt;
        }
        Some(kidx)
    }
}

fn single_period(e: &Erray<impl Backend>, op: &'static str) -> Result<usize> {
    match e.packing {
        Packing::SingleInput { period } => Ok(period),
        Packing::Flat | Packing::BatchInSlots { .. } => Err(Error::PackingUnsupported {
            op,
            packing: e.packing.name(),
        }),
    }
}

impl<B: Backend> Erray<B> {
    /// Applies `t` to a single-input erray, giving a single-input erray of `shape` with
    /// period `t.output_period()`; rotations go through `table`. One level.
    ///
    /// # Errors
    /// [`Error::PackingUnsupported`] for other packings; [`Error::InvalidShape`] when the
    /// transform's input period is smaller than the erray's or `shape` does not fit the
    /// output period; backend errors.
    pub fn linear_transform(
        &self,
        t: &LinearTransform,
        shape: Vec<usize>,
        table: &RotationTable,
    ) -> Result<Self> {
        self.check_transform(t.input_period(), t.output_period(), &shape, t.gather())?;
        let ct = t.apply_with(&self.backend, self.ct(0)?, table)?;
        Ok(self.single_output(ct, shape, t.output_period()))
    }

    /// As [`Erray::linear_transform`] with a transform whose diagonals were encoded once
    /// ([`LinearTransform::prepare`]) for the level of this erray: no encoding here, one
    /// rescale per giant group.
    ///
    /// # Errors
    /// As [`Erray::linear_transform`]; [`fhez_backend::Error::LevelMismatch`] when the erray
    /// is not at the prepared level.
    pub fn linear_transform_prepared(
        &self,
        t: &PreparedTransform<B>,
        shape: Vec<usize>,
        table: &RotationTable,
    ) -> Result<Self> {
        self.check_transform(t.input_period(), t.output_period(), &shape, t.gather())?;
        let ct = t.apply_with(&self.backend, self.ct(0)?, table)?;
        Ok(self.single_output(ct, shape, t.output_period()))
    }

    fn check_transform(
        &self,
        input_period: usize,
        output_period: usize,
        shape: &[usize],
        gather: Option<&crate::Gather>,
    ) -> Result<()> {
        let period = single_period(self, "linear_transform")?;
        if self.gather() != gather {
            return Err(Error::InvalidShape {
                op: "linear_transform",
                shape: vec![
                    self.gather().map_or(0, crate::Gather::period),
                    gather.map_or(0, crate::Gather::period),
                ],
                reason: "the transform is not composed with the erray's input gather (periods: erray's, transform's; 0 = row-major)",
            });
        }
        let invalid = |reason| Error::InvalidShape {
            op: "linear_transform",
            shape: shape.to_vec(),
            reason,
        };
        if input_period < period {
            return Err(invalid("transform input period smaller than the erray's"));
        }
        if size_of(shape)? > output_period {
            return Err(invalid(
                "output shape exceeds the transform's output period",
            ));
        }
        Ok(())
    }

    fn single_output(&self, ct: B::Ct, shape: Vec<usize>, period: usize) -> Self {
        Self {
            backend: self.backend.clone(),
            shape,
            packing: Packing::SingleInput { period },
            cts: vec![ct],
            clean: true,
            gather: None,
        }
    }

    /// Plans `self @ w` (`self` single-input of shape `(n,)`, `w` of shape `(n, m)`), with
    /// `bias` (length `m`) added and everything multiplied by `scale` (fold an activation's
    /// input scaling here to save a level).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; as [`LinearTransform::new`].
    pub fn plan_dense(
        &self,
        w: &PlainArray,
        bias: Option<&PlainArray>,
        scale: f64,
    ) -> Result<LinearTransform> {
        let period = single_period(self, "dense")?;
        let mismatch = || Error::ShapeMismatch {
            op: "dense",
            lhs: self.shape.clone(),
            rhs: w.shape().to_vec(),
        };
        let (n, m) = match (self.shape.as_slice(), w.shape()) {
            ([n], [n2, m]) if n == n2 => (*n, *m),
            _ => return Err(mismatch()),
        };
        if bias.is_some_and(|b| b.len() != m) {
            return Err(mismatch());
        }
        let (wd, bd) = (w.data(), bias.map(PlainArray::data));
        LinearTransform::new(
            self.backend.slots(),
            period,
            m,
            |i, j| {
                if j < n {
                    wd.get(j * m + i).map_or(0.0, |v| v * scale)
                } else {
                    0.0
                }
            },
            |i| bd.and_then(|b| b.get(i)).map_or(0.0, |v| v * scale),
        )
    }

    /// Single-input dense layer `self @ w + bias` (one level); see [`Erray::plan_dense`].
    ///
    /// # Errors
    /// As [`Erray::plan_dense`] and [`Erray::linear_transform`].
    pub fn dense(&self, w: &PlainArray, bias: Option<&PlainArray>) -> Result<Self> {
        let t = self.plan_dense(w, bias, 1.0)?;
        let m = w.shape().get(1).copied().unwrap_or(1);
        self.linear_transform(&t, vec![m], &RotationTable::exact())
    }

    /// Plans an n-d cross-correlation (the deep-learning "convolution") of a single-input
    /// erray of shape `(C, d_1…d_k)` with `weights` of shape `(F, C, k_1…k_k)`, optional
    /// `bias` of shape `(F,)`, `stride` and zero `padding` per spatial axis, all scaled by
    /// `scale`. Output shape `(F, o_1…o_k)` (see [`WindowGeometry`]).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for weights/bias not matching the input; as
    /// [`WindowGeometry::new`] and [`LinearTransform::new`].
    pub fn plan_conv(
        &self,
        weights: &PlainArray,
        bias: Option<&PlainArray>,
        stride: &[usize],
        padding: &[usize],
        scale: f64,
    ) -> Result<(LinearTransform, Vec<usize>)> {
        let period = single_period(self, "conv")?;
        let mismatch = || Error::ShapeMismatch {
            op: "conv",
            lhs: self.shape.clone(),
            rhs: weights.shape().to_vec(),
        };
        let (filters, rest) = weights.shape().split_first().ok_or_else(mismatch)?;
        let (wc, kernel) = rest.split_first().ok_or_else(mismatch)?;
        let geo = WindowGeometry::new(&self.shape, kernel, stride, padding)?;
        if *wc != geo.channels || bias.is_some_and(|b| b.len() != *filters) {
            return Err(mismatch());
        }
        let (filters, channels) = (*filters, geo.channels);
        let (in_plane, out_plane, klen) = (geo.in_plane(), geo.out_plane(), geo.kernel_len());
        let rows = filters.checked_mul(out_plane).ok_or_else(mismatch)?;
        let (wd, bd) = (weights.data(), bias.map(PlainArray::data));
        let t = LinearTransform::new(
            self.backend.slots(),
            period,
            rows,
            |i, j| {
                let (f, o) = (i / out_plane, i % out_plane);
                let (c, x) = (j / in_plane, j % in_plane);
                if c >= channels {
                    return 0.0;
                }
                geo.tap(o, x)
                    .and_then(|k| wd.get((f * channels + c) * klen + k))
                    .map_or(0.0, |v| v * scale)
            },
            |i| {
                bd.and_then(|b| b.get(i / out_plane))
                    .map_or(0.0, |v| v * scale)
            },
        )?;
        let mut shape = vec![filters];
        shape.extend(&geo.output);
        Ok((t, shape))
    }

    /// Single-input n-d cross-correlation (one level); see [`Erray::plan_conv`].
    ///
    /// # Errors
    /// As [`Erray::plan_conv`] and [`Erray::linear_transform`].
    pub fn conv(
        &self,
        weights: &PlainArray,
        bias: Option<&PlainArray>,
        stride: &[usize],
        padding: &[usize],
    ) -> Result<Self> {
        let (t, shape) = self.plan_conv(weights, bias, stride, padding, 1.0)?;
        self.linear_transform(&t, shape, &RotationTable::exact())
    }

    /// Plans n-d average pooling of a single-input erray of shape `(C, d_1…d_k)` over windows
    /// `kernel` with `stride` (no padding), scaled by `scale`. Output `(C, o_1…o_k)`.
    ///
    /// # Errors
    /// As [`WindowGeometry::new`] and [`LinearTransform::new`].
    pub fn plan_avg_pool(
        &self,
        kernel: &[usize],
        stride: &[usize],
        scale: f64,
    ) -> Result<(LinearTransform, Vec<usize>)> {
        let period = single_period(self, "avg_pool")?;
        let padding = vec![0; kernel.len()];
        let geo = WindowGeometry::new(&self.shape, kernel, stride, &padding)?;
        let (in_plane, out_plane) = (geo.in_plane(), geo.out_plane());
        let weight = scale / geo.kernel_len() as f64;
        let rows = geo
            .channels
            .checked_mul(out_plane)
            .ok_or_else(|| Error::InvalidShape {
                op: "avg_pool",
                shape: self.shape.clone(),
                reason: "output size overflows",
            })?;
        let t = LinearTransform::new(
            self.backend.slots(),
            period,
            rows,
            |i, j| {
                let (f, o) = (i / out_plane, i % out_plane);
                let (c, x) = (j / in_plane, j % in_plane);
                if c == f && geo.tap(o, x).is_some() {
                    weight
                } else {
                    0.0
                }
            },
            |_| 0.0,
        )?;
        let mut shape = vec![geo.channels];
        shape.extend(&geo.output);
        Ok((t, shape))
    }

    /// Single-input n-d average pooling (one level); see [`Erray::plan_avg_pool`].
    ///
    /// # Errors
    /// As [`Erray::plan_avg_pool`] and [`Erray::linear_transform`].
    pub fn avg_pool(&self, kernel: &[usize], stride: &[usize]) -> Result<Self> {
        let (t, shape) = self.plan_avg_pool(kernel, stride, 1.0)?;
        self.linear_transform(&t, shape, &RotationTable::exact())
    }

    /// Stacks single-input errays of one shape `s` into one single-input erray of shape
    /// `(L, s…)` (row-major; the layout change between a bank of one-filter convolutions and
    /// the layer after). Part `l` is rotated right by `l·len mod period` (a no-op when the
    /// part fills its period; done as the left step `period − shift`, so the Galois keys do
    /// not depend on the slot count) and masked to its block: period `Q = max((L·len).next_power_of_two(),
    /// period)`, one level, one rotation per part that needs one.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for no parts or a stack larger than the slots;
    /// [`Error::ShapeMismatch`] / [`Error::PackingMismatch`] when parts differ; backend errors.
    pub fn stack(parts: &[&Self]) -> Result<Self> {
        let first = *parts.first().ok_or_else(|| Error::InvalidShape {
            op: "stack",
            shape: Vec::new(),
            reason: "nothing to stack",
        })?;
        let period = single_period(first, "stack")?;
        for p in parts {
            p.check_not_gathered("stack")?;
            if p.packing != first.packing {
                return Err(Error::PackingMismatch {
                    op: "stack",
                    lhs: first.packing.name(),
                    rhs: p.packing.name(),
                });
            }
            if p.shape != first.shape {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    lhs: first.shape.clone(),
                    rhs: p.shape.clone(),
                });
            }
        }
        let be = &first.backend;
        let slots = be.slots();
        let len = first.size()?;
        let mut shape = vec![parts.len()];
        shape.extend(&first.shape);
        let total = size_of(&shape)?;
        let q = total.next_power_of_two().max(period);
        if q > slots {
            return Err(Error::InvalidShape {
                op: "stack",
                shape,
                reason: "stacked size exceeds the slots",
            });
        }
        let mut terms = Vec::with_capacity(parts.len());
        for (l, p) in parts.iter().enumerate() {
            let shift = (l * len) % period;
            let ct = p.ct(0)?;
            let moved = if shift == 0 {
                ct.clone()
            } else {
                // The part is periodic: a left rotation by `period − shift` is the right
                // rotation by `shift`, with a positive step that does not depend on the slots.
                let step = i64::try_from(period - shift)
                    .map_err(|_| Error::SlotsNotPowerOfTwo { op: "stack", slots })?;
                be.rotate(ct, step)?
            };
            let block = l * len..(l + 1) * len;
            let mask: Vec<f64> = (0..slots)
                .map(|s| f64::from(u8::from(block.contains(&(s % q)))))
                .collect();
            terms.push(be.mul_plain(&moved, &mask)?);
        }
        let ct =
            crate::par::tree_sum(terms, |a, b| Ok(be.add(a, b)?))?.ok_or(Error::InvalidShape {
                op: "stack",
                shape: shape.clone(),
                reason: "nothing to stack",
            })?;
        Ok(Self {
            backend: be.clone(),
            shape,
            packing: Packing::SingleInput { period: q },
            cts: vec![ct],
            clean: true,
            gather: None,
        })
    }
}
