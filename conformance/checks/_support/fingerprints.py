"""Torch-aware fingerprints: what a value is now, and where two snapshots of it differ.

Parameters hold modules, tensors, nested estimators and arrays; ``==`` and ``joblib.hash`` judge
those wrongly (identical tensors hash differently). A fingerprint keeps what matters of each
(a module's ``state_dict``, a tensor's values, an estimator's parameters) so checks can name
exactly which parameter changed, and :func:`mutable_objects` finds state two objects share.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
import pickle
import sys
import types

import numpy as np


class Leaf:
    """A fingerprint's leaf: a value with how to compare it and how to show it."""

    def __init__(self, kind: str, value, shown: str):
        self.kind, self.value, self.shown = kind, value, shown

    def same(self, other: "Leaf") -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "tensor":
            a, b = self.value, other.value
            both_nan = a.isnan() & b.isnan() if a.is_floating_point() else a != a
            return bool(((a == b) | both_nan).all())
        if self.kind == "ndarray":
            return np.array_equal(self.value, other.value, equal_nan=self.value.dtype.kind in "fc")
        if self.kind == "identity":
            return self.value is other.value
        if self.kind == "value":
            a, b = self.value, other.value
            if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
                return True
            try:
                return bool(a == b)
            except Exception:  # noqa: BLE001 - an == that raises says "not equal"
                return False
        return self.value == other.value  # pickle bytes


def fingerprint(value):
    """A tree of :class:`Leaf` values standing for ``value`` as it is now, torch-aware.

    Modules by type and ``state_dict`` tensors; tensors by dtype, shape, device and values;
    estimators by type and ``get_params`` (recursively); arrays by dtype, shape and values;
    classes and functions by identity; other objects by ``==`` when they define it, else by
    their pickle bytes. Taking a fingerprint copies what it needs, so it survives mutation.
    Keys starting with ``#`` describe the object itself; the others extend its path.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.nn.Module):
        return {"#type": _type_leaf(value),
                **{f"[{k!r}]": fingerprint(t) for k, t in value.state_dict().items()}}
    if torch is not None and isinstance(value, torch.Tensor):
        shown = f"tensor(dtype={value.dtype}, shape={tuple(value.shape)}, device={value.device})"
        return {"#meta": Leaf("value", (str(value.dtype), tuple(value.shape), str(value.device)), shown),
                "#values": Leaf("tensor", value.detach().cpu().clone(), shown)}
    if isinstance(value, np.ndarray):
        shown = f"array(dtype={value.dtype}, shape={value.shape})"
        return {"#meta": Leaf("value", (value.dtype.str, value.shape), shown),
                "#values": Leaf("ndarray", value.copy(), shown)}
    if hasattr(value, "get_params") and not inspect.isclass(value):
        return {"#type": _type_leaf(value),
                **{f"__{k}": fingerprint(v) for k, v in value.get_params(deep=False).items()}}
    if type(value) in (list, tuple):
        return {"#type": _type_leaf(value), "#len": Leaf("value", len(value), f"length {len(value)}"),
                **{f"[{i}]": fingerprint(v) for i, v in enumerate(value)}}
    if type(value) is dict:
        keys = list(map(repr, value))
        return {"#type": _type_leaf(value), "#keys": Leaf("value", keys, f"keys {keys}"),
                **{f"[{k!r}]": fingerprint(v) for k, v in value.items()}}
    return _leaf(value)


def _type_leaf(value) -> Leaf:
    return Leaf("identity", type(value), type(value).__qualname__)


def _leaf(value) -> Leaf:
    shown = short_repr(value)
    if inspect.isclass(value) or inspect.ismodule(value) or isinstance(value, _FUNCTION_TYPES):
        return Leaf("identity", value, shown)
    if type(value).__eq__ is not object.__eq__:
        try:
            twin = copy.deepcopy(value)
            if isinstance(value == twin, (bool, np.bool_)):
                return Leaf("value", twin, shown)
        except Exception:  # noqa: BLE001 - fall through to pickle bytes
            pass
    try:
        return Leaf("pickle", pickle.dumps(value), shown)
    except Exception:  # noqa: BLE001 - unpicklable: all we can tell is whether it was replaced
        return Leaf("identity", value, shown)


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   types.BuiltinMethodType, functools.partial)


def short_repr(value, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fingerprint_changes(before, after, path: str = "") -> list[str]:
    """``path: before -> after`` for every place where two fingerprints differ."""
    if isinstance(before, Leaf) and isinstance(after, Leaf):
        if before.same(after):
            return []
        shown = after.shown if after.shown != before.shown else after.shown + " with other values"
        return [f"{path or '<value>'}: {before.shown} -> {shown}"]
    if isinstance(before, Leaf) or isinstance(after, Leaf):
        return [f"{path or '<value>'}: replaced by an object of another kind"]
    changes = []
    for key in list(before) + [k for k in after if k not in before]:
        sub = path if key.startswith("#") else path + key
        if key not in before or key not in after:
            changes.append(f"{sub}: {'added' if key not in before else 'removed'}")
            continue
        found = fingerprint_changes(before[key], after[key], sub)
        if found and key in ("#type", "#meta", "#len", "#keys"):
            return changes + found  # the object was replaced: the rest is noise
        changes.extend(found)
    return changes


def params_fingerprint(estimator) -> dict:
    return {name: fingerprint(value) for name, value in estimator.get_params(deep=False).items()}


def is_immutable(value) -> bool:
    """True for values that can be shared safely: scalars, strings, classes, functions, dtypes."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, range, slice,
                                           np.generic, enum.Enum, type(Ellipsis))):
        return True
    if inspect.isclass(value) or inspect.ismodule(value) or isinstance(value, _FUNCTION_TYPES[:4]):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(is_immutable(v) for v in value)
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, (torch.dtype, torch.device))


def mutable_objects(value, path: str, seen: dict | None = None) -> dict:
    """``{key: path}`` of every mutable object reachable from ``value``, keyed by identity.

    Tensors (module parameters and buffers included) are keyed by their storage, so two
    tensors sharing memory count as one object; arrays by the buffer they view.
    """
    seen = {} if seen is None else seen
    if is_immutable(value) and not isinstance(value, tuple):
        return seen
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.numel():
            seen.setdefault(("storage", value.untyped_storage().data_ptr()), path)
        return seen
    if isinstance(value, np.ndarray):
        root = value
        while isinstance(root, np.ndarray) and root.base is not None:
            root = root.base
        if value.size:
            seen.setdefault(("object", id(root)), path)
        return seen
    if not isinstance(value, tuple):
        key = ("object", id(value))
        if key in seen:
            return seen
        seen[key] = path
    if torch is not None and isinstance(value, torch.nn.Module):
        for name, tensor in value.state_dict(keep_vars=True).items():
            mutable_objects(tensor, f"{path}.{name}", seen)
        return seen
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            mutable_objects(item, f"{path}[{i}]", seen)
    elif isinstance(value, dict):
        for k, item in value.items():
            mutable_objects(item, f"{path}[{k!r}]", seen)
    elif hasattr(value, "__dict__") and not inspect.isclass(value):
        for k, item in vars(value).items():
            mutable_objects(item, f"{path}.{k}", seen)
    return seen


def shared_state(first, second, first_name: str, second_name: str) -> list[str]:
    """Paths of mutable objects reachable from both ``first`` and ``second``."""
    mine = mutable_objects(first, first_name)
    theirs = mutable_objects(second, second_name)
    return [f"{theirs[key]} is {mine[key]}" for key in theirs if key in mine]
