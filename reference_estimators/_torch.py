"""Torch plumbing the reference estimators share: seeds, devices, tensors, batches, weights.

Everything an estimator needs to talk to torch the sklearn way lives here once, so each
estimator reads as its sklearn contract: validate, convert, train or infer, return numpy.
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from reference_estimators import _safetensors

# torch.optim imports torch._dynamo on the first optimizer it builds (1.5-3 s). Importing it with
# this package means a process that forks workers after the import (the conformance suite runs
# each check in a forked child) pays that once, not once per worker.
try:
    import torch._dynamo  # noqa: F401
except Exception:  # noqa: BLE001 - only an optimisation; the optimizer imports it when needed
    pass

# Inference batches of about 4096 rows beat both small batches (per-call overhead) and the
# whole array at once (a huge activation that falls out of cache); measured in benchmarks/.
INFERENCE_BATCH_SIZE = 4096

# The dtypes validation keeps as they are; anything else becomes float64 (the first).
FLOATS = (np.float64, np.float32)


def seed_from(random_state, *salt: int) -> int:
    """A 31-bit seed derived from sklearn's ``random_state`` without touching any global RNG.

    ``None`` draws fresh OS entropy (sklearn would draw from numpy's global RNG, changing it);
    ``salt`` (say, the epochs already run) gives later ``partial_fit`` calls their own stream.
    """
    if random_state is None:
        base = int(np.random.SeedSequence().generate_state(1)[0])
    else:
        base = int(check_random_state(random_state).randint(0, 2**31 - 1))
    if not salt:
        return base
    return int(np.random.SeedSequence([base, *salt]).generate_state(1)[0]) & 0x7FFFFFFF


@contextmanager
def seeded(seed: int, device: torch.device):
    """Run a block with torch's RNGs seeded, then put the caller's RNG states back.

    Module initialisation and dropout draw from torch's *global* generators, so they are seeded
    inside ``fork_rng`` (which restores them on exit); shuffling uses the yielded private
    ``torch.Generator``. Users' own ``torch.manual_seed`` streams are left exactly as they were.
    """
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(cuda[0]):
                torch.cuda.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def resolve_device(device) -> torch.device:
    """``device`` as a ``torch.device``; a bad name or a missing accelerator is a ``ValueError``."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA device(s)")
    return resolved


def validated(estimator, X) -> np.ndarray:
    """``validate_data(estimator, X, reset=False, dtype=FLOATS)`` for a prediction method, fast.

    ``validate_data`` has a fixed cost of about 0.1 ms (tags, array namespaces, dataframe
    detection), a third of a 360-row predict. Its commonest input is checked here in a few
    microseconds: a plain 2-D float32/float64 ndarray of the fitted width on an estimator fitted
    without feature names, the case in which sklearn returns ``X`` itself after a finiteness
    check. Everything else goes to ``validate_data``, so every conversion, error and warning is
    sklearn's own: lists, frames, sparse matrices, other dtypes, the wrong width, empty or 1-D
    arrays, a non-finite sum (NaN, inf, or finite values whose sum overflows), and every
    ndarray subclass: memmaps, ``np.matrix`` (refused), masked arrays (whose sum would skip the
    masked entries that sklearn checks).
    """
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in FLOATS and len(X) > 0
            and X.shape[1] == getattr(estimator, "n_features_in_", None)
            and not hasattr(estimator, "feature_names_in_") and _sum_is_finite(X)):
        return X
    return validate_data(estimator, X, reset=False, dtype=FLOATS)


def _sum_is_finite(X: np.ndarray) -> bool:
    """sklearn's first pass in ``_assert_all_finite``: the sum is finite only if every entry is.

    Finite entries whose sum overflows fail it too; ``validate_data`` then runs the exact check.
    torch sums a zero-copy view (read, never written) 2-3x faster than numpy and without an
    overflow warning; numpy, under ``errstate`` as in sklearn, sums what ``from_numpy`` warns
    about or refuses (read-only and strided arrays, and a negative stride on an axis of length 1,
    which numpy still calls C-contiguous).
    """
    if get_config()["assume_finite"]:
        return True
    if X.flags.c_contiguous and X.flags.writeable and min(X.strides, default=0) >= 0:
        return math.isfinite(torch.from_numpy(X).sum())
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(X.sum())


def to_tensor(array: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A copy of ``array`` as a tensor: never a view, so neither side can mutate the other.

    The copy is what stops a module whose first step works in place (``nn.ReLU(inplace=True)``,
    ``x.clamp_(...)``) from writing into the caller's array, at inference as in ``fit``: a
    ``torch.from_numpy`` view would let it, even under ``inference_mode``. The copy converts
    float64 to the module's float32 in the same pass (one inference batch at a time), accepts
    read-only arrays (memmaps) that ``from_numpy`` warns about, and costs about 1 % of a predict
    (measured in benchmarks/: 5 us on 360 rows, 0.1 ms on 20,000). ``torch.tensor`` refuses
    negative strides (``X[::-1]``, even on an axis of length 1), so only such a view is first
    copied by numpy; any other array is passed as it is.
    """
    if any(stride < 0 for stride in array.strides):
        array = array.copy(order="C")
    return torch.tensor(array, dtype=dtype, device=device)


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    """The floating dtype of the module's parameters (float32 unless the user chose otherwise)."""
    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.get_default_dtype()


def placed(module: torch.nn.Module, device) -> tuple[torch.device, torch.dtype]:
    """Move ``module`` to ``device`` when it lives elsewhere; return that device and its dtype.

    Called at every predict/transform, so ``set_params(device=...)`` on a fitted estimator
    moves it: the documented way to serve a GPU-trained model on a CPU (or the reverse). One
    look at the first parameter answers both questions; each walk of ``module.parameters()``
    costs 3-4 us, 1 % of a 360-row predict.
    """
    target = resolve_device(device)
    first = next(module.parameters(), None)
    current = torch.device("cpu") if first is None else first.device
    if current.type != target.type or (target.index is not None and current.index != target.index):
        module.to(target)
    if first is not None and first.is_floating_point():
        return target, first.dtype
    return target, module_dtype(module)


def device_of(module: torch.nn.Module) -> torch.device:
    """Where the module's parameters live (the CPU for a module without parameters)."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


def infer(module: torch.nn.Module, X: np.ndarray, device, batch_size: int, post=None) -> np.ndarray:
    """Batched inference: eval mode, ``inference_mode``, rows in chunks, numpy on the CPU out.

    ``device`` is the estimator's parameter: the module moves there first if it lives
    elsewhere (``placed``). ``post`` (softmax, argmax) runs on each chunk on the device, so only
    the final, usually much smaller, result crosses back to the CPU. A float64 ``X`` is
    converted chunk by chunk, never as a whole second array.
    """
    device, dtype = placed(module, device)
    if module.training:  # fit leaves module_ in eval mode; this guards against a user's .train()
        module.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            out = module(to_tensor(X[start:start + batch_size], dtype, device))
            outputs.append(out if post is None else post(out))
    out = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
    return out.cpu().numpy()


def call_checked(module: torch.nn.Module, X: np.ndarray, device: torch.device) -> torch.Tensor:
    """One forward pass on ``X`` that turns torch's shape errors into a ``ValueError``."""
    module.eval()
    with torch.inference_mode():
        try:
            return module(to_tensor(X, module_dtype(module), device))
        except RuntimeError as exc:
            raise ValueError(
                f"the module cannot take input with {X.shape[1]} feature(s): {exc}") from None


def input_width_of(module: torch.nn.Module) -> int | None:
    """The width the module's first layer takes (its ``in_features``), or ``None`` if unknown."""
    for layer in module.modules():
        width = getattr(layer, "in_features", None)
        if isinstance(width, int):
            return width
    return None


def build(factory, kwargs: dict, what: str, **fixed):
    """``factory(**fixed, **kwargs)``, reporting a bad keyword as a ``ValueError``."""
    try:
        return factory(**fixed, **kwargs)
    except TypeError as exc:
        name = getattr(factory, "__name__", repr(factory))
        raise ValueError(f"{what}={name} could not be built with {sorted(kwargs)}: {exc}") from None


def accepts(factory, name: str) -> bool:
    """Whether ``factory``'s signature names ``name`` (or takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def make_optimizer(factory, parameters, lr: float, kwargs: dict, device: torch.device):
    """The optimizer, fused when it supports it and the caller did not choose.

    The fused Adam kernels train a small MLP on CPU in about 0.7x the time of the default
    (foreach) ones, with the same arithmetic up to rounding.
    """
    parameters = list(parameters)
    if "lr" in kwargs:
        raise ValueError("set the learning rate with lr=..., not optimizer__lr")
    if "fused" not in kwargs and device.type in ("cpu", "cuda") and accepts(factory, "fused") \
            and factory in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
        try:
            return factory(parameters, lr=lr, fused=True, **kwargs)
        except (RuntimeError, ValueError):
            pass  # this build of torch has no fused kernel for these parameters
    return build(factory, kwargs, "optimizer", params=parameters, lr=lr)


def copy_module(module: torch.nn.Module) -> torch.nn.Module:
    """A private copy, so ``fit`` never moves, re-modes or retrains the user's own instance."""
    return copy.deepcopy(module)


def load_weights(path) -> dict:
    """A state_dict from a safetensors file or a ``torch.save(state_dict)`` file, safely.

    Safetensors files are read by ``_safetensors`` (no package needed), which refuses a
    malformed file with a ``ValueError``.

    ``torch.load`` runs with ``weights_only=True``: a file that is any other pickle (one that
    would run code when loaded) is refused with a ``ValueError`` instead of being executed.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        return _safetensors.load(path)  # no safetensors package needed
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"refusing to load {str(path)!r}: it is not a plain state_dict, and torch.load("
            f"weights_only=True) will not unpickle arbitrary objects (they can run code). Save "
            f"weights with torch.save(module.state_dict(), path) or safetensors. Detail: "
            f"{str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, not a state_dict of tensors")
    return state


def load_into(module: torch.nn.Module, path) -> torch.nn.Module:
    """``module`` with the weights file ``path`` loaded; weights that do not fit are a ``ValueError``."""
    state = load_weights(path)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"the weights in {str(path)!r} do not fit "
                         f"{type(module).__name__}: {exc}") from None
    return module


def _to_numpy_tree(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_numpy_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy_tree(v) for v in value)
    return value


def _to_tensor_tree(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: _to_tensor_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tensor_tree(v) for v in value)
    return value


class PortableModuleState:
    """Save the fitted ``module_`` (and ``optimizer_``) as numpy arrays; rebuild them on load.

    Pickle, ``copy.deepcopy`` and ``skops.io`` all go through ``__getstate__``: the state holds
    the module's class, its build keywords and its ``state_dict`` as numpy arrays, never a torch
    object, so ``skops`` (which refuses to construct tensors) can store it and a model trained on
    CUDA loads on a machine without one (it comes back on the CPU there). The estimator records
    ``_module_build = (class or None, keywords)`` when it builds ``module_``; ``None`` means "a
    copy of the ``module`` parameter". Rebuilding runs inside ``fork_rng``: the initial weights it
    draws are overwritten at once, and the caller's RNG streams are left as they were.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself
        module = state.pop("module_", None)
        if module is not None:
            state["_module_weights"] = _to_numpy_tree(module.state_dict())
            state["_module_device"] = str(device_of(module))
            optimizer = state.pop("optimizer_", None)
            if optimizer is not None:
                state["_optimizer_state"] = _to_numpy_tree(optimizer.state_dict())
        return state

    def __setstate__(self, state):
        weights = state.pop("_module_weights", None)
        device = state.pop("_module_device", "cpu")
        optimizer_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        if weights is None:
            return
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")
        factory, kwargs = self._module_build
        with torch.random.fork_rng(devices=[]):
            module = copy_module(self.module) if factory is None else factory(**kwargs)
        module.load_state_dict(_to_tensor_tree(weights))
        self.module_ = module.to(device).eval()
        if optimizer_state is not None:
            self.optimizer_ = make_optimizer(self.optimizer, self.module_.parameters(), self.lr,
                                             self._nested("optimizer"), device)
            self.optimizer_.load_state_dict(_to_tensor_tree(optimizer_state))
