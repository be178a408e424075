//! The client's side of [`LatencyModel`]: im2col encoding, encryption, decryption.

use fhez_ckks::{Ciphertext, CkksClient, SeededCiphertext};

use super::lower::Layout;
use super::{LatencyModel, net};
use crate::Result;

impl LatencyModel {
    /// **Client.** The im2col slot vector of `image` (row-major, the network's input shape):
    /// kernel position `p` of window `w` at slot `p·W' + w`, repeated every
    /// `(K·W')` slots rounded up to a power of two.
    ///
    /// # Errors
    /// [`Error::Format`] for an image of the wrong size.
    pub fn encode(&self, image: &[f64]) -> Result<Vec<f64>> {
        let conv = &self.net.conv;
        let needed: usize = conv.input.iter().product();
        if image.len() != needed {
            return Err(net::bad_input(image.len(), needed));
        }
        let Layout::Conv { windows, wp, .. } = self.input else {
            return Err(net::bad_input(image.len(), needed));
        };
        let mut period = vec![0.0; self.in_period];
        for p in 0..conv.kernel_len() {
            for w in 0..windows {
                if let (Some(s), Some(v)) = (
                    period.get_mut(p * wp + w),
                    image.get(conv.input_index(w, p)),
                ) {
                    *s = *v;
                }
            }
        }
        let slots = self.params.slots();
        Ok(period.iter().copied().cycle().take(slots).collect())
    }

    /// **Client.** Encodes (im2col) and encrypts `image` with the secret key.
    ///
    /// # Errors
    /// As [`LatencyModel::encode`]; encryption errors.
    pub fn encrypt(&self, client: &CkksClient, image: &[f64]) -> Result<Ciphertext> {
        Ok(self.encrypt_seeded(client, image)?.expand(&self.params)?)
    }

    /// **Client.** As [`LatencyModel::encrypt`], keeping only the seed of the uniform half
    /// (half the upload; the server calls [`SeededCiphertext::expand`]).
    ///
    /// # Errors
    /// As [`LatencyModel::encrypt`].
    pub fn encrypt_seeded(&self, client: &CkksClient, image: &[f64]) -> Result<SeededCiphertext> {
        let pt = self.encoder.encode(
            &self.encode(image)?,
            self.params.default_scale(),
            self.level,
        )?;
        let mut rng = fhez_ckks::os_rng()?;
        Ok(client.secret_key().encrypt_seeded(&pt, &mut rng)?)
    }

    /// **Client.** Decrypts the server's reply into the network's outputs (logits).
    ///
    /// # Errors
    /// Decryption errors (a ciphertext of another parameter set).
    pub fn decrypt(&self, client: &CkksClient, ct: &Ciphertext) -> Result<Vec<f64>> {
        let slots = self.encoder.decode(&client.secret_key().decrypt(ct)?)?;
        let out = self.output;
        Ok((0..self.net.outputs())
            .map(|k| slots.get(out.slot(k)).copied().unwrap_or(f64::NAN))
            .collect())
    }
}
