//! Checks against the real files, when `scripts/fetch-datasets.sh` has been run;
//! each test prints a note and passes when its dataset is absent.

use std::error::Error;
use std::path::PathBuf;

use fhez_data::{DataError, checksums, data_dir};

type TestResult = Result<(), Box<dyn Error>>;

/// The data directory when `dataset` is present, else `None` after a note.
fn present(dataset: &'static str) -> Result<Option<PathBuf>, DataError> {
    let dir = data_dir();
    match checksums::verify(&dir, dataset) {
        Ok(()) => Ok(Some(dir)),
        Err(DataError::Missing { .. }) => {
            eprintln!(
                "note: {dataset} not found under {}; skipped (run scripts/fetch-datasets.sh {dataset})",
                dir.display()
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn fashion_mnist_facts() -> TestResult {
    let Some(dir) = present("fashion-mnist")? else {
        return Ok(());
    };
    let mut d = fhez_data::fashion_mnist(&dir)?;
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(d.train.shape, vec![28, 28]);
    assert_eq!(d.train.label_counts(10), vec![6000; 10]);
    assert_eq!(d.test.label_counts(10), vec![1000; 10]);
    d.train.scale(1.0 / 255.0);
    let m = mean(&d.train.inputs);
    assert!((m - 0.2860).abs() < 5e-5, "mean pixel {m}");
    Ok(())
}

#[test]
fn mnist_facts() -> TestResult {
    let Some(dir) = present("mnist")? else {
        return Ok(());
    };
    let mut d = fhez_data::mnist(&dir)?;
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!(
        d.train.label_counts(10),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        d.test.label_counts(10),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    d.train.scale(1.0 / 255.0);
    let m = mean(&d.train.inputs);
    assert!((m - 0.1307).abs() < 5e-5, "mean pixel {m}");
    Ok(())
}

/// Reference: `mnist_cnn.py`'s `load_data` with scikit-learn 1.9.1 / SciPy 1.17.1.
#[test]
fn digits_match_the_peer_benchmark() -> TestResult {
    let Some(dir) = present("sklearn")? else {
        return Ok(());
    };
    let all = fhez_data::digits_all(&dir)?;
    assert_eq!((all.len(), all.shape.clone()), (1797, vec![8, 8]));
    assert_eq!(
        all.label_counts(10),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert!(all.inputs.iter().all(|&v| (0.0..=16.0).contains(&v)));

    // the first images, scaled and upsampled, against SciPy's zoom
    let mut first = all.select(&[0, 1, 2, 3, 4])?;
    first.scale(1.0 / 16.0);
    let up = first.resize(28, 28, 0.0, 1.0)?;
    let s0: f64 = up.sample(0).ok_or("no sample")?.iter().sum();
    let s: f64 = up.inputs.iter().sum();
    assert!((s0 - 253.312_757_201_646_1).abs() < 1e-9, "{s0}");
    assert!((s - 1_265.012_345_679_012_2).abs() < 1e-9, "{s}");

    // the split, sample for sample: indices of train_test_split(arange(1797), ..., stratify=y)
    for (seed, train_head, test_head, test_sum) in [
        (
            0,
            [1346, 295, 257, 385, 1640, 849, 640, 757],
            [1496, 188, 705, 820, 413, 744, 1466, 500],
            337_944,
        ),
        (
            1,
            [928, 1514, 1670, 1192, 293, 1331, 910, 97],
            [1403, 1354, 1702, 274, 1656, 548, 1428, 136],
            328_636,
        ),
    ] {
        let (tr, te) = fhez_data::stratified_split(&all.labels, 0.2, seed)?;
        assert_eq!((tr.len(), te.len()), (1437, 360));
        assert_eq!(tr[..8], train_head);
        assert_eq!(te[..8], test_head);
        assert_eq!(te.iter().sum::<usize>(), test_sum);
    }
    let d = fhez_data::digits(&dir, 28, 0)?;
    assert_eq!((d.train.len(), d.test.len()), (1437, 360));
    assert_eq!(d.train.shape, vec![28, 28]);
    let expect = all.select(&[1346])?.resize(28, 28, 0.0, 16.0)?;
    let got = d.train.sample(0).ok_or("no sample")?;
    for (a, b) in got.iter().zip(&expect.inputs) {
        assert!((a - b / 16.0).abs() < 1e-12);
    }
    let native = fhez_data::digits(&dir, 8, 0)?;
    assert_eq!(native.train.shape, vec![8, 8]);
    Ok(())
}

#[test]
fn diabetes_facts() -> TestResult {
    let Some(dir) = present("sklearn")? else {
        return Ok(());
    };
    let d = fhez_data::diabetes(&dir)?;
    assert_eq!(
        (d.len(), d.shape.clone(), d.targets.len()),
        (442, vec![10], 442)
    );
    assert_eq!(d.sample(0).ok_or("no sample")?[..2], [59.0, 2.0]);
    assert_eq!(d.targets[0], 151.0);
    let min = d.targets.iter().copied().fold(f64::INFINITY, f64::min);
    let max = d.targets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((min, max), (25.0, 346.0));
    // sklearn's load_diabetes().data[0, 0] = 0.038075906433423026
    let s = fhez_data::diabetes_scaled(&dir)?;
    assert!(
        (s.inputs[0] - 0.038_075_906_433_423_026).abs() < 1e-12,
        "{}",
        s.inputs[0]
    );
    Ok(())
}

#[test]
fn time_series_facts() -> TestResult {
    let Some(dir) = present("statsmodels")? else {
        return Ok(());
    };
    let co2 = fhez_data::co2(&dir)?;
    assert_eq!(co2.values.len(), 2284);
    assert!(
        co2.values
            .iter()
            .all(|v| v.is_finite() && (300.0..400.0).contains(v))
    );
    assert_eq!((co2.time[0], co2.values[0]), (19_580_329.0, 316.1));
    let sun = fhez_data::sunspots(&dir)?;
    assert_eq!(
        (sun.values.len(), sun.time[0], sun.time[308]),
        (309, 1700.0, 2008.0)
    );
    let nile = fhez_data::nile(&dir)?;
    assert_eq!((nile.values.len(), nile.values[0]), (100, 1120.0));
    let elec = fhez_data::elec_equip(&dir)?;
    assert_eq!((elec.values.len(), elec.values[0]), (257, 66.19));
    let ds = nile.windowed(10, 1, 0.2)?;
    assert_eq!((ds.train.len(), ds.test.len()), (72, 18));
    assert_eq!(ds.test.targets.last(), nile.values.last());
    Ok(())
}
