//! `std::ops` operators. Every operator returns [`Result`]; operands may be errays (owned or
//! borrowed), `Result<Erray>` (so expressions chain: `(&a * &b) + &c`), plain arrays and
//! `f64` scalars. (Coherence rules forbid `Result<Erray> ∘ f64` and `-Result<Erray>`: use
//! `?` first there.)

use std::ops::{Add, Mul, Neg, Sub};

use fhez_backend::Backend;

use crate::{Erray, PlainArray, Result};

macro_rules! erray_binop {
    ($trait:ident, $method:ident, $plain:ident, $scalar:expr) => {
        impl<B: Backend> $trait<&Erray<B>> for &Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &Erray<B>) -> Self::Output {
                Erray::$method(self, rhs)
            }
        }
        impl<B: Backend> $trait<Erray<B>> for Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: Erray<B>) -> Self::Output {
                Erray::$method(&self, &rhs)
            }
        }
        impl<B: Backend> $trait<&Erray<B>> for Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &Erray<B>) -> Self::Output {
                Erray::$method(&self, rhs)
            }
        }
        impl<B: Backend> $trait<Erray<B>> for &Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: Erray<B>) -> Self::Output {
                Erray::$method(self, &rhs)
            }
        }
        impl<B: Backend> $trait<&Erray<B>> for Result<Erray<B>> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &Erray<B>) -> Self::Output {
                Erray::$method(&self?, rhs)
            }
        }
        impl<B: Backend> $trait<Erray<B>> for Result<Erray<B>> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: Erray<B>) -> Self::Output {
                Erray::$method(&self?, &rhs)
            }
        }
        impl<B: Backend> $trait<Result<Erray<B>>> for &Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: Result<Erray<B>>) -> Self::Output {
                Erray::$method(self, &rhs?)
            }
        }
        impl<B: Backend> $trait<Result<Erray<B>>> for Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: Result<Erray<B>>) -> Self::Output {
                Erray::$method(&self, &rhs?)
            }
        }
        impl<B: Backend> $trait<&PlainArray> for &Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &PlainArray) -> Self::Output {
                Erray::$plain(self, rhs)
            }
        }
        impl<B: Backend> $trait<&PlainArray> for Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &PlainArray) -> Self::Output {
                Erray::$plain(&self, rhs)
            }
        }
        impl<B: Backend> $trait<&PlainArray> for Result<Erray<B>> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: &PlainArray) -> Self::Output {
                Erray::$plain(&self?, rhs)
            }
        }
        impl<B: Backend> $trait<f64> for &Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: f64) -> Self::Output {
                $scalar(self, rhs)
            }
        }
        impl<B: Backend> $trait<f64> for Erray<B> {
            type Output = Result<Erray<B>>;
            fn $method(self, rhs: f64) -> Self::Output {
                $scalar(&self, rhs)
            }
        }
    };
}

erray_binop!(Add, add, add_plain, Erray::add_scalar);
erray_binop!(Sub, sub, sub_plain, Erray::sub_scalar);
erray_binop!(Mul, mul, mul_plain, Erray::mul_scalar);

impl<B: Backend> Neg for &Erray<B> {
    type Output = Result<Erray<B>>;
    fn neg(self) -> Self::Output {
        Erray::neg(self)
    }
}

impl<B: Backend> Neg for Erray<B> {
    type Output = Result<Erray<B>>;
    fn neg(self) -> Self::Output {
        Erray::neg(&self)
    }
}
