"""fhez: privacy-preserving deep learning on RNS-CKKS homomorphic encryption.

The model API (plan a trained model for a packing, keys on the client, evaluation on a
server that holds only the public bundle):

    >>> import fhez, numpy as np
    >>> model = fhez.Model.cnn(input=(8, 8), kernel=(3, 3), stride=(1, 1), filters=2, classes=3)
    >>> planned = model.plan("batch-in-slots", batch=4)
    >>> client = planned.keygen()                                  # secret key stays here
    >>> server = fhez.Server(planned, client.public_bundle())      # public keys only
    >>> reply = server.evaluate(client.encrypt(np.zeros((4, 8, 8))))
    >>> client.finish(reply)["y_hat"]                               # doctest: +SKIP

`fhez.run_encrypted(planned, samples)` runs client and server in one process, one sample
at a time (keys once; decrypted outputs per sample).

The CKKS layer, for your own computations (TenSEAL-style):

    >>> ctx = fhez.Context("N13_QP218_128")
    >>> v = ctx.encrypt(np.array([1.0, 2.0, 3.0]))
    >>> ((v * v + 1.0).sum()).decrypt()                            # doctest: +SKIP

Every error is an exception of its kind (`fhez.LevelExhausted`, `fhez.MissingGaloisKey`,
`fhez.InvalidBytes`, ...), all subclasses of `fhez.FhezError`, with the numbers as
attributes.
"""

from ._fhez import (
    BatchTooLarge,
    Ciphertexts,
    Client,
    Context,
    EncryptedModel,
    FhezError,
    InsecureParams,
    InvalidBytes,
    LevelExhausted,
    MissingGaloisKey,
    Model,
    ModelError,
    NonFiniteValue,
    ParamsMismatch,
    PlanMismatch,
    Server,
    ServiceClient,
    ServiceError,
    Session,
    ShapeError,
    SizeLimit,
    Tensor,
    TooManyValues,
    UnknownNode,
    __version__,
    matmul_rotations,
)
from .layers import Conv2d, Dense, Square, sequential
from .local import run_encrypted

__all__ = [
    "BatchTooLarge",
    "Ciphertexts",
    "Conv2d",
    "Dense",
    "Square",
    "sequential",
    "run_encrypted",
    "Client",
    "Context",
    "EncryptedModel",
    "FhezError",
    "InsecureParams",
    "InvalidBytes",
    "LevelExhausted",
    "MissingGaloisKey",
    "Model",
    "ModelError",
    "NonFiniteValue",
    "ParamsMismatch",
    "PlanMismatch",
    "Server",
    "ServiceClient",
    "ServiceError",
    "Session",
    "ShapeError",
    "SizeLimit",
    "Tensor",
    "TooManyValues",
    "UnknownNode",
    "__version__",
    "matmul_rotations",
]
