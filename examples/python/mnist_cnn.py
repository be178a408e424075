"""TenSEAL's "Encrypted Convolution on MNIST" tutorial, written with fhez.

The network: conv 1->4 channels (7x7, stride 3) -> x^2 -> FC 256->64 -> x^2 -> FC 64->10,
trained in plaintext; the client encrypts one image, the server evaluates it holding only
the public keys, the client decrypts the 10 logits (`fhez.run_encrypted`: keys once, then
per image encrypt -> evaluate -> decrypt, every message as bytes). `encrypted_predictions`
is the whole user code; `compare_tenseal.py` runs it next to TenSEAL's on the same weights
and images. `release="private-only"` plans for decryptions that never leave the client (no
noise flooding, smaller parameters; SECURITY.md).
"""

import numpy as np

import fhez


def encrypted_predictions(params, images, k=7, s=3, release="shared"):
    Wc, bc, W1, b1, W2, b2 = params
    net = fhez.sequential(images.shape[1:], [fhez.Conv2d(Wc.reshape(-1, k, k), bc, (s, s)), fhez.Square(),
                                             fhez.Dense(W1, b1), fhez.Square(), fhez.Dense(W2, b2)])
    for out in fhez.run_encrypted(net.plan("single-input", precision_bits=16, release=release), images):
        yield out["Decrypt"]


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    params = [rng.normal(0, 0.1, s) for s in [(4, 49), (4,), (256, 64), (64,), (64, 10), (10,)]]
    for logits in encrypted_predictions(params, rng.random((2, 28, 28))):
        print(np.argmax(logits), np.round(logits, 3))
