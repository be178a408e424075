"""Client and server of a planned model in one process: `fhez.run_encrypted(model, samples)`.

For trying a model or measuring it: the roles stay separate (the server is built from the
public bundle's bytes only and every message crosses as bytes), but both live here.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, Optional

import numpy as np

from ._fhez import EncryptedModel, Server


def run_encrypted(
    model: EncryptedModel,
    samples: Iterable[object],
    *,
    insecure_log_n: Optional[int] = None,
) -> Iterator[Dict[str, np.ndarray]]:
    """Generates the client's keys for `model` once, then for each sample (an array of the
    model's only input, without the batch axis) encrypts it, evaluates it on a server that
    holds only the public bundle, and decrypts the reply under the plan's release policy.
    Yields `{decrypt node: array (shape...)}` per sample, lazily (one sample per step).

    `insecure_log_n`: toy ring degree `2**insecure_log_n`, TESTS ONLY (protects nothing).
    """
    client = model.keygen(insecure_log_n=insecure_log_n)
    server = Server(model, client.public_bundle(), insecure_for_testing=insecure_log_n is not None)
    for x in samples:
        request = server.read(client.encrypt(np.asarray(x, dtype=float)[None]).to_bytes())
        reply = client.read(server.evaluate(request).to_bytes())
        yield {name: values[0] for name, values in client.decrypt(reply).items()}
