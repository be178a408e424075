//! A small model for the tests, the load test and demos: a 5×5 "bars" classifier
//! (horizontal, vertical, diagonal) trained in well under a second on `Plain`, planned
//! with **secure** parameters like any other model.

use fhez_model::{CnnConfig, ModelFile, Task};
use fhez_nn::{Adam, Optimizer, PlanRequest, Tensor, TrainConfig, Trainer};

/// Image side.
pub const SIDE: usize = 5;
/// Number of classes.
pub const CLASSES: usize = 3;
/// Class names.
pub const LABELS: [&str; CLASSES] = ["horizontal", "vertical", "diagonal"];

/// A small deterministic generator (SplitMix64), enough for synthetic images.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[expect(clippy::cast_precision_loss, reason = "53 random bits to a double")]
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` noisy images `SIDE × SIDE` (row-major) with their class: class 0 a horizontal
/// bar, 1 a vertical bar, 2 the main diagonal, on noise in `[0, 0.3)`.
#[must_use]
pub fn bars(n: usize, seed: u64) -> Vec<(Vec<f64>, usize)> {
    let mut rng = Mix(seed);
    (0..n)
        .map(|i| {
            let class = i % CLASSES;
            let pos = usize::try_from(rng.next() % SIDE as u64).unwrap_or(0);
            let mut img: Vec<f64> = (0..SIDE * SIDE).map(|_| 0.3 * rng.uniform()).collect();
            for t in 0..SIDE {
                let (r, c) = match class {
                    0 => (pos, t),
                    1 => (t, pos),
                    _ => (t, t),
                };
                if let Some(v) = img.get_mut(r * SIDE + c) {
                    *v += 1.0;
                }
            }
            (img, class)
        })
        .collect()
}

/// The bars classifier, trained on 90 images, as a model file named `name` planned for
/// batches of up to `batch` samples at 20 bits of precision.
///
/// # Errors
/// Graph, training and model-file errors.
pub fn bars_model(name: &str, batch: usize) -> Result<ModelFile, fhez_model::Error> {
    let config = CnnConfig {
        input: [SIDE, SIDE],
        kernel: [3, 3],
        stride: [1, 1],
        filters: 2,
        classes: CLASSES,
        relu_q: 4.0,
    };
    let mut graph = config.build(3)?;
    let data = bars(90, 1)
        .into_iter()
        .map(|(x, y)| {
            #[expect(clippy::cast_precision_loss, reason = "class index as a scalar")]
            let y = Tensor::scalar(y as f64);
            Ok(vec![Tensor::new(vec![SIDE, SIDE], x)?, y])
        })
        .collect::<fhez_nn::Result<Vec<_>>>()?;
    let cfg = TrainConfig {
        batch_size: 10,
        seed: 5,
        shuffle: true,
        optimizer: Optimizer::Adam(Adam {
            alpha: 0.02,
            ..Adam::default()
        }),
    };
    let mut trainer = Trainer::new(&graph, cfg);
    for _ in 0..30 {
        trainer.epoch(&mut graph, &data)?;
    }
    let task = Task::Classifier {
        labels: LABELS.iter().map(|s| (*s).to_owned()).collect(),
    };
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let mut file = ModelFile::new(name, &graph, &["x"], "Decrypt", task, request)?;
    file.dataset = Some("synthetic bars 5x5".to_owned());
    Ok(file)
}
