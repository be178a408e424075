"""Type stubs of the package `fhez` (the native module `fhez._fhez` and `fhez.layers`)."""

from os import PathLike
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from .layers import Conv2d as Conv2d, Dense as Dense, Square as Square, sequential as sequential
from .local import run_encrypted as run_encrypted

__version__: str

ArrayLike = npt.ArrayLike
Path = Union[str, "PathLike[str]"]

class FhezError(Exception):
    """Base class of every error raised by fhez."""

class InvalidBytes(FhezError):
    """Bytes that do not decode. Attributes: `what`, `reason` (when known)."""
    what: str
    reason: str

class SizeLimit(InvalidBytes):
    """Input over the size limit, refused before allocating. Attributes: `size`, `limit`."""
    size: int
    limit: int

class InsecureParams(FhezError):
    """Parameters that opt out of the 128-bit security check. Attribute: `log_n`."""
    log_n: int

class ParamsMismatch(FhezError):
    """Objects of different parameter sets were combined."""

class LevelExhausted(FhezError):
    """Not enough levels left. Attributes: `needed`, `available`, and `op` or `node`."""
    needed: int
    available: int

class MissingGaloisKey(FhezError):
    """No rotation key for the step. Attribute: `step` (normalised to [0, slots))."""
    step: int

class TooManyValues(FhezError):
    """More values than slots. Attributes: `len`, `slots`."""
    len: int
    slots: int

class NonFiniteValue(FhezError):
    """A NaN or infinite input. Attribute: `index`."""
    index: int

class ShapeError(FhezError):
    """Shapes or packings that do not fit the operation."""

class PlanMismatch(FhezError):
    """The parameters cannot run the plan. Attributes: `what`, `needed`, `found`."""
    what: str
    needed: int
    found: int

class BatchTooLarge(FhezError):
    """A batch larger than planned. Attributes: `batch`, `planned`."""
    batch: int
    planned: int

class UnknownNode(FhezError):
    """A name that is not a node of the graph. Attribute: `name`."""
    name: str

class ServiceError(FhezError):
    """The inference service refused a request or could not be reached. Attributes for
    an answer of the server: `status`, `code`, `reason`."""
    status: int
    code: str
    reason: str

class ModelError(FhezError):
    """A graph, training or planning error."""

class Model:
    """A trained (or untrained) model: graph and weights, encrypted inputs, the decrypt
    boundary, the task and the plan request."""

    @staticmethod
    def load(path: Path) -> Model:
        """Reads a model file (JSON, at most 64 MiB)."""
    @staticmethod
    def from_json(text: str) -> Model:
        """A model from the text of a model file."""
    @staticmethod
    def from_bytes(data: bytes, limit: int = ...) -> Model:
        """A model from `to_bytes()` bytes, refusing more than `limit` bytes."""
    @staticmethod
    def cnn(
        input: Tuple[int, int] = (28, 28),
        kernel: Tuple[int, int] = (7, 7),
        stride: Tuple[int, int] = (3, 3),
        filters: int = 4,
        classes: int = 10,
        *,
        labels: Optional[List[str]] = None,
        seed: int = 0,
        relu_q: float = 4.0,
        batch: int = 4096,
        precision_bits: int = 14,
        magnitude_bits: int = 8,
        name: str = "cnn",
    ) -> Model:
        """The prefab classifier: cross-correlations, a quadratic ReLU, a dense layer."""
    @staticmethod
    def from_onnx(
        source: Union[str, Path, bytes],
        calibration: Optional[np.ndarray] = None,
        *,
        labels: Optional[List[int]] = None,
        degree: Optional[int] = None,
        max_error: Optional[float] = None,
        name: str = "onnx",
        batch: int = 256,
        precision_bits: int = 25,
        magnitude_bits: int = 10,
    ) -> Model:
        """Imports an ONNX network (path or bytes, at most 16 MiB); non-polynomial
        activations are fitted over the ranges seen on `calibration` `(n, input shape…)`.
        Unsupported operators raise `ModelError` naming the node; bad bytes `InvalidBytes`."""
    def to_json(self) -> str:
        """The model file as JSON text."""
    def to_bytes(self) -> bytes:
        """The model file as bytes (UTF-8 JSON)."""
    def save(self, path: Path) -> None:
        """Writes the model file."""
    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> Dict[str, List[int]]:
        """The encrypted inputs: `{name: per-sample shape}`."""
    @property
    def output(self) -> str:
        """The `Decrypt` node whose values the server returns."""
    @property
    def labels(self) -> Optional[List[str]]:
        """Class labels of a classifier, `None` for a regressor."""
    @property
    def metrics(self) -> Dict[str, float]: ...
    def train(
        self,
        inputs: Mapping[str, ArrayLike],
        *,
        epochs: int = 1,
        batch_size: int = 32,
        lr: float = 0.001,
        seed: int = 0,
        progress: Optional[Callable[[int, float], object]] = None,
    ) -> List[float]:
        """Plaintext training with Adam; `inputs` maps every `Input` node (prefab: `x`
        images, `y` class indices) to an array whose first axis is the sample.
        `progress(epoch, loss)` after each epoch. Returns the loss of every epoch."""
    def infer(self, inputs: Mapping[str, ArrayLike]) -> Dict[str, np.ndarray]:
        """Plaintext inference: `{output name: array (n, ...)}`."""
    def plan(
        self,
        packing: str = "batch-in-slots",
        *,
        batch: Optional[int] = None,
        precision_bits: Optional[int] = None,
        key_budget: Optional[int] = None,
        release: Optional[str] = None,
    ) -> EncryptedModel:
        """Plans for `"batch-in-slots"` (throughput) or `"single-input"` (latency).
        `key_budget` (single-input): at most that many Galois keys, the other rotation
        steps composed from them as the plan records. `release`: `"shared"` (default:
        decryptions flooded) or `"private-only"` (decryptions never leave the client: no
        flooding, smaller parameters)."""

class EncryptedModel:
    """A model planned for one packing."""

    @property
    def packing(self) -> str: ...
    @property
    def batch(self) -> int: ...
    @property
    def depth(self) -> int: ...
    @property
    def log_n(self) -> int: ...
    @property
    def release(self) -> Optional[str]:
        """`"shared"` (flooded) or `"private-only"` (no flooding)."""
    @property
    def precision_bits(self) -> Optional[int]:
        """Bits after the binary point promised for decrypted outputs."""
    @property
    def rotation_steps(self) -> List[int]: ...
    def plan_json(self) -> str:
        """The plan as JSON (parameters, levels, per-node costs)."""
    def to_bytes(self) -> bytes:
        """Model file and plan as bytes, for a server."""
    @staticmethod
    def from_bytes(data: bytes, limit: int = ...) -> EncryptedModel:
        """Reads `to_bytes()` bytes without planning again."""
    def keygen(self, *, insecure_log_n: Optional[int] = None) -> Client:
        """Client keys for the plan's secure parameters (`insecure_log_n`: toy, tests only)."""

class Ciphertexts:
    """A message of named ciphertext arrays between client and server."""

    def to_bytes(self) -> bytes: ...
    @property
    def names(self) -> List[str]: ...
    @property
    def shapes(self) -> Dict[str, List[int]]: ...
    @property
    def num_ciphertexts(self) -> int: ...
    def __len__(self) -> int: ...

class Client:
    """The client: holds the secret key (never in a repr, never pickled)."""

    def public_bundle(self) -> bytes:
        """Public, relinearization and planned rotation keys with the parameters."""
    def secret_key_bytes(self) -> bytes:
        """SECRET MATERIAL: the secret key's bytes."""
    @staticmethod
    def from_bytes(
        model: EncryptedModel, secret: bytes, bundle: bytes, *, insecure_for_testing: bool = False
    ) -> Client: ...
    def save(self, path: Path) -> None:
        """Writes `secret.key` (owner-only) and `public/keys.fhez` into a directory."""
    @staticmethod
    def load(model: EncryptedModel, path: Path, *, insecure_for_testing: bool = False) -> Client: ...
    def encrypt(self, inputs: Union[ArrayLike, Mapping[str, ArrayLike]]) -> Ciphertexts:
        """Encrypts `(batch, shape...)` inputs by name (or the only input's array)."""
    def decrypt(self, reply: Ciphertexts) -> Dict[str, np.ndarray]:
        """The values at the decrypt boundary: `{node: array (batch, ...)}`."""
    def finish(
        self, reply: Ciphertexts, plain_inputs: Optional[Mapping[str, ArrayLike]] = None
    ) -> Dict[str, np.ndarray]:
        """Decrypts and runs the client's rest of the graph (softmax, argmax, ...)."""
    def read(self, data: bytes, limit: int = ...) -> Ciphertexts:
        """Reads a message (the server's reply) under this client's parameters."""
    @property
    def release(self) -> Optional[str]:
        """`"shared"`, `"private-only"` (never show a decryption), or `None` (exact)."""
    @property
    def model(self) -> EncryptedModel: ...

class Server:
    """The server: the planned model and a public bundle; nothing that decrypts."""

    def __init__(
        self,
        model: EncryptedModel,
        bundle: bytes,
        *,
        limit: int = ...,
        insecure_for_testing: bool = False,
    ) -> None: ...
    def evaluate(self, message: Ciphertexts) -> Ciphertexts:
        """Evaluates up to the decrypt boundary; the reply for the client."""
    def read(self, data: bytes, limit: int = ...) -> Ciphertexts:
        """Reads a client's message under this server's parameters."""

class Context:
    """CKKS parameters and keys (TenSEAL-style)."""

    def __init__(self, preset: str = "N13_QP218_128", *, rotations: Optional[Sequence[int]] = None) -> None: ...
    @staticmethod
    def from_plan(model: EncryptedModel, *, insecure_log_n: Optional[int] = None) -> Context: ...
    def public(self) -> Context:
        """The same public keys without the secret key."""
    def public_bundle(self) -> bytes: ...
    @staticmethod
    def from_public_bundle(
        data: bytes, *, limit: int = ..., insecure_for_testing: bool = False
    ) -> Context: ...
    @property
    def is_private(self) -> bool: ...
    @property
    def slots(self) -> int: ...
    @property
    def log_n(self) -> int: ...
    @property
    def log_scale(self) -> int: ...
    @property
    def max_level(self) -> int: ...
    def encrypt(self, values: ArrayLike) -> Tensor: ...
    def tensor_from_bytes(self, data: bytes, limit: int = ...) -> Tensor: ...

Operand = Union["Tensor", ArrayLike, float]

class Tensor:
    """An encrypted array; products rescale and relinearize automatically."""

    @property
    def shape(self) -> List[int]: ...
    @property
    def level(self) -> int: ...
    @property
    def num_ciphertexts(self) -> int: ...
    @property
    def context(self) -> Context: ...
    def __add__(self, other: Operand) -> Tensor: ...
    def __radd__(self, other: Operand) -> Tensor: ...
    def __sub__(self, other: Operand) -> Tensor: ...
    def __rsub__(self, other: Operand) -> Tensor: ...
    def __mul__(self, other: Operand) -> Tensor: ...
    def __rmul__(self, other: Operand) -> Tensor: ...
    def __neg__(self) -> Tensor: ...
    def __pow__(self, k: int) -> Tensor: ...
    def __matmul__(self, w: ArrayLike) -> Tensor: ...
    def matmul(self, w: ArrayLike) -> Tensor: ...
    def dot(self, w: ArrayLike) -> Tensor: ...
    def sum(self, axis: Optional[int] = None) -> Tensor: ...
    def rotate(self, step: int) -> Tensor: ...
    def polyval(self, coeffs: Sequence[float]) -> Tensor: ...
    def decrypt(self) -> np.ndarray: ...
    def to_bytes(self) -> bytes: ...

class ServiceClient:
    """A client of an fhez inference server (`fhez serve`)."""

    def __init__(self, url: str) -> None: ...
    def models(self) -> List[str]:
        """The names of the models the server serves."""
    def session(self, model: str, keys: Path) -> Session:
        """Keys for `model` in directory `keys` (made if missing), registered once."""

class Session:
    """Keys for one model on one server; the secret key stays in the key directory."""

    def predict(self, samples: ArrayLike) -> List[Dict[str, object]]:
        """One dict per sample: `index`, `label`, `logits` (classifier) or `values`."""
    @property
    def key_id(self) -> str: ...
    @property
    def labels(self) -> Optional[List[str]]: ...

def matmul_rotations(n: int, m: int, slots: int) -> List[int]:
    """The rotation steps of `x (n,) @ W (n, m)` on `slots` slots."""
