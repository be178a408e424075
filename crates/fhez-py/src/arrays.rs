//! NumPy arrays in and out.

use fhez_erray::PlainArray;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{AllowTypeChange, IntoPyArray, PyArrayDyn, PyArrayLikeDyn};
use pyo3::prelude::*;

use crate::errors::{OrRaise, shape_error};

/// A NumPy array (or anything `numpy.asarray` accepts) of floats.
pub(crate) type ArrayIn<'py> = PyArrayLikeDyn<'py, f64, AllowTypeChange>;

/// The shape and the row-major values of an array.
pub(crate) fn read(a: &ArrayIn<'_>) -> (Vec<usize>, Vec<f64>) {
    let view = a.as_array();
    (view.shape().to_vec(), view.iter().copied().collect())
}

/// An array as a [`PlainArray`].
pub(crate) fn plain(py: Python<'_>, a: &ArrayIn<'_>) -> PyResult<PlainArray> {
    let (shape, data) = read(a);
    PlainArray::new(shape, data).or_raise(py)
}

/// A [`PlainArray`] as a NumPy array.
pub(crate) fn to_numpy<'py>(
    py: Python<'py>,
    a: PlainArray,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let shape = a.shape().to_vec();
    from_parts(py, &shape, a.into_data())
}

/// Shape and values as a NumPy array.
pub(crate) fn from_parts<'py>(
    py: Python<'py>,
    shape: &[usize],
    data: Vec<f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let len = data.len();
    let array = ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| {
        shape_error(format!("{len} values do not fill the shape {shape:?}")).into_py(py)
    })?;
    Ok(array.into_pyarray(py))
}
