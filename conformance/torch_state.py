"""Torch objects in an estimator: which values are torch's, the tensors a fitted estimator holds,
and the precision they compute in.

Shared by every check that compares outputs: a float32 network returning float64 arrays still
computes in float32, so its float-aware tolerances come from float32 (see
:func:`conformance.tolerance.effective_dtype`).
"""

from __future__ import annotations

import sys

import numpy as np


def is_torch_object(value) -> bool:
    """True for a torch module, tensor or optimizer, or a list, tuple or dict holding one.

    The one test of "this value is torch's" for the whole suite: what makes an estimator
    torch-backed, what ``__init__`` must not build, what sklearn's ``joblib.hash`` cannot judge.
    Never imports torch: a process that has not imported it holds no torch objects.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if isinstance(value, (torch.nn.Module, torch.Tensor, torch.optim.Optimizer)):
        return True
    if isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(is_torch_object(item) for item in items)
    return False


def holds_torch_objects(estimator) -> bool:
    """True when a parameter, nested ones included, holds a torch object (see :func:`is_torch_object`)."""
    return any(is_torch_object(value) for value in estimator.get_params(deep=True).values())


def torch_state(estimator) -> dict:
    """``{attribute: [tensors]}`` for every fitted attribute holding torch modules or tensors."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    params = set(estimator.get_params(deep=False))
    state = {}
    for name, value in vars(estimator).items():
        if name in params:
            continue
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        tensors = []
        for item in items:
            if isinstance(item, torch.nn.Module):
                tensors += list(item.parameters()) + list(item.buffers())
            elif isinstance(item, torch.Tensor):
                tensors.append(item)
        if tensors:
            state[name] = tensors
    return state


def compute_dtype(estimator):
    """The least precise float dtype among the fitted torch tensors (numpy dtype), or ``None``."""
    dtypes = {t.dtype for tensors in torch_state(estimator).values() for t in tensors if t.is_floating_point()}
    names = {str(d).replace("torch.", "") for d in dtypes}
    numpy_dtypes = [np.dtype(n) for n in names if n in ("float16", "float32", "float64")]
    if "bfloat16" in names:
        return np.dtype("float16")  # numpy has no bfloat16; float16 is its coarsest float (bfloat16: override)
    return max(numpy_dtypes, key=lambda d: np.finfo(d).eps, default=None)


def misplaced_tensors(estimator, device: str) -> list[str]:
    """One line per fitted attribute whose tensors are not on ``device`` (``"cuda"``: any CUDA index)."""
    import torch

    expected = torch.device(device)
    problems = []
    for name, tensors in torch_state(estimator).items():
        wrong = [t.device for t in tensors
                 if t.device.type != expected.type or (expected.index is not None and t.device.index != expected.index)]
        if wrong:
            places = ", ".join(sorted({str(d) for d in wrong}))
            problems.append(f"{name}: {len(wrong)} of {len(tensors)} tensors on {places}, expected {device}")
    return problems
