use super::*;
use crate::ntt::negacyclic_mul_schoolbook;
use crate::test_util::basis;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

fn random_poly<R: Repr>(rng: &mut impl RngCore, basis: &RnsBasis, limbs: usize) -> Poly<R> {
    let n = basis.n();
    let mut p = Poly::zero(n, limbs);
    for (limb, q) in p.limbs_iter_mut().zip(basis.moduli()) {
        limb.iter_mut()
            .for_each(|x| *x = rng.next_u64() % q.value());
    }
    p
}

#[test]
fn shape_accessors() -> TestResult {
    let mut p = Poly::<Coeff>::from_vec(4, (0..12).collect())?;
    assert_eq!((p.n(), p.limbs()), (4, 3));
    assert_eq!(p.limb(1), Some(&[4u64, 5, 6, 7][..]));
    assert_eq!(p.limb(3), None);
    p.limb_mut(2).ok_or("limb")?.copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(p.limbs_iter().count(), 3);
    p.truncate_limbs(2);
    assert_eq!(p.limbs(), 2);
    p.push_limb(&[9, 9, 9, 9])?;
    assert_eq!(p.as_slice(), &[0, 1, 2, 3, 4, 5, 6, 7, 9, 9, 9, 9]);
    assert_eq!(
        p.push_limb(&[1]),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 1
        })
    );
    assert_eq!(
        Poly::<Ntt>::from_vec(4, vec![0; 6]),
        Err(Error::LengthMismatch {
            expected: 8,
            found: 6
        })
    );
    assert_eq!(
        Poly::<Ntt>::from_vec(0, vec![]),
        Err(Error::InvalidDegree { n: 0 })
    );
    assert_eq!(Poly::<Ntt>::zero(0, 3).limbs(), 0);
    assert_eq!(Poly::<Ntt>::zero(0, 3).limbs_iter().count(), 0);
    assert_eq!(p.clone().into_vec().len(), 12);
    Ok(())
}

#[test]
fn arithmetic_matches_scalar_math() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let b = basis(16, &[50, 40, 30]);
    // The polynomial uses 2 of the 3 moduli (a lower level).
    let x: Poly<Ntt> = random_poly(&mut rng, &b, 2);
    let y: Poly<Ntt> = random_poly(&mut rng, &b, 2);
    let z: Poly<Ntt> = random_poly(&mut rng, &b, 2);
    let check = |got: &Poly<Ntt>, f: &dyn Fn(&crate::Modulus, u64, u64, u64) -> u64| {
        for (i, q) in b.moduli().iter().take(2).enumerate() {
            let limbs = (
                got.limb(i).unwrap(),
                x.limb(i).unwrap(),
                y.limb(i).unwrap(),
                z.limb(i).unwrap(),
            );
            for j in 0..16 {
                assert_eq!(
                    limbs.0[j],
                    f(q, limbs.1[j], limbs.2[j], limbs.3[j]),
                    "limb {i}, coeff {j}"
                );
            }
        }
    };
    let mut r = x.clone();
    r.add_assign(&y, &b)?;
    check(&r, &|q, a, c, _| q.add(a, c));
    let mut r = x.clone();
    r.sub_assign(&y, &b)?;
    check(&r, &|q, a, c, _| q.sub(a, c));
    let mut r = x.clone();
    r.neg_assign(&b)?;
    check(&r, &|q, a, _, _| q.neg(a));
    let mut r = x.clone();
    r.mul_assign(&y, &b)?;
    check(&r, &|q, a, c, _| {
        ((u128::from(a) * u128::from(c)) % u128::from(q.value())) as u64
    });
    let mut r = z.clone();
    r.mul_add_assign(&x, &y, &b)?;
    check(&r, &|q, a, c, e| q.add(e, q.mul(a, c)));
    let mut r = x.clone();
    r.mul_scalar_assign(&[3, u64::MAX], &b)?;
    let scalars = [3u64, u64::MAX];
    for (i, q) in b.moduli().iter().take(2).enumerate() {
        let s = scalars[i] % q.value();
        assert!(
            r.limb(i)
                .unwrap()
                .iter()
                .zip(x.limb(i).unwrap())
                .all(|(&g, &a)| g == q.mul(a, s))
        );
    }
    Ok(())
}

#[test]
fn ntt_round_trip_and_product() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let b = basis(64, &[60, 40]);
    let x: Poly<Coeff> = random_poly(&mut rng, &b, 2);
    let y: Poly<Coeff> = random_poly(&mut rng, &b, 2);
    let back = x.clone().to_ntt(&b)?.to_coeff(&b)?;
    assert_eq!(back, x);
    let mut prod = x.clone().to_ntt(&b)?;
    prod.mul_assign(&y.clone().to_ntt(&b)?, &b)?;
    let prod = prod.to_coeff(&b)?;
    for (i, q) in b.moduli().iter().enumerate() {
        let expected = negacyclic_mul_schoolbook(q, x.limb(i).unwrap(), y.limb(i).unwrap());
        assert_eq!(prod.limb(i).unwrap(), expected.as_slice());
    }
    Ok(())
}

#[test]
fn from_signed_reduces_per_limb() -> TestResult {
    let b = basis(4, &[40, 30]);
    let p = Poly::<Coeff>::from_signed(4, &[-1, 0, 5, -7], &b, 2)?;
    for (i, q) in b.moduli().iter().enumerate() {
        let v = q.value();
        assert_eq!(p.limb(i).unwrap(), &[v - 1, 0, 5, v - 7]);
    }
    assert_eq!(
        Poly::<Coeff>::from_signed(4, &[1, 2], &b, 1),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 2
        })
    );
    assert_eq!(
        Poly::<Coeff>::from_signed(4, &[0; 4], &b, 3),
        Err(Error::LimbMismatch {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        Poly::<Coeff>::from_signed(8, &[0; 8], &b, 1),
        Err(Error::DegreeMismatch {
            expected: 8,
            found: 4
        })
    );
    Ok(())
}

#[test]
fn mismatches_are_errors() -> TestResult {
    let b = basis(8, &[40, 30]);
    let small = basis(8, &[40]);
    let mut x = Poly::<Ntt>::zero(8, 2);
    let y1 = Poly::<Ntt>::zero(8, 1);
    assert_eq!(
        x.add_assign(&y1, &b),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        x.mul_assign(&y1, &b),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        x.clone().mul_add_assign(&x.clone(), &y1, &b),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    let y = x.clone();
    assert_eq!(
        x.sub_assign(&y, &small),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        x.neg_assign(&small),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        x.mul_scalar_assign(&[1], &b),
        Err(Error::LimbMismatch {
            expected: 2,
            found: 1
        })
    );
    let other_n = Poly::<Ntt>::zero(4, 2);
    assert_eq!(
        x.add_assign(&other_n, &b),
        Err(Error::DegreeMismatch {
            expected: 8,
            found: 4
        })
    );
    assert_eq!(
        other_n.to_coeff(&b).err(),
        Some(Error::DegreeMismatch {
            expected: 4,
            found: 8
        })
    );
    assert_eq!(
        Poly::<Coeff>::zero(8, 3).to_ntt(&b).err(),
        Some(Error::LimbMismatch {
            expected: 3,
            found: 2
        })
    );
    Ok(())
}

#[test]
fn repr_relabel_keeps_data() {
    let p = Poly::<Coeff>::zero(4, 1);
    let q: Poly<Ntt> = p.clone().into_repr_unchecked();
    assert_eq!(q.as_slice(), p.as_slice());
}
