"""Read a ``.safetensors`` file into CPU tensors with the standard library and torch alone.

The format: 8 bytes, a little-endian unsigned integer N; N bytes of UTF-8 JSON mapping each
tensor's name to its ``dtype``, ``shape`` and ``data_offsets`` (``[begin, end)`` into the byte
buffer that follows), plus an optional ``"__metadata__"`` of strings; then that buffer, the
tensors' raw little-endian bytes, back to back. A file of data cannot run code when read, which
is why pretrained weights are shipped this way.

The ``safetensors`` package reads the same files, but it is not a dependency of this project,
and the format fits in a page. Every field is checked before a byte becomes a tensor: a
truncated or malformed file is a ``ValueError`` saying what is wrong, never a torch error and
never a tensor of the wrong shape.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

# The format's dtype names and torch's; names this torch lacks are refused as unknown.
_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16",
           "I32": "int32", "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16",
           "BF16": "bfloat16", "F32": "float32", "F64": "float64", "F8_E4M3": "float8_e4m3fn",
           "F8_E5M2": "float8_e5m2"}
_MAX_HEADER = 100_000_000  # the limit the safetensors package applies too


def load(path) -> dict[str, torch.Tensor]:
    """The tensors in the safetensors file ``path``, by name, on the CPU."""
    data = Path(path).read_bytes()  # FileNotFoundError for a missing file, as for torch.load
    header, buffer = _split(data, path)
    entries = {name: _entry(name, spec, path) for name, spec in header.items() if name != "__metadata__"}
    _check_metadata(header.get("__metadata__", {}), path)
    _check_layout(entries, len(buffer), path)
    return {name: _tensor(buffer, dtype, shape, begin, end)
            for name, (dtype, shape, begin, end) in entries.items()}


def _invalid(path, why: str) -> ValueError:
    return ValueError(f"{str(path)!r} is not a valid safetensors file: {why}")


def _split(data: bytes, path) -> tuple[dict, memoryview]:
    """The parsed JSON header and the byte buffer after it."""
    if len(data) < 8:
        raise _invalid(path, f"it has {len(data)} bytes, fewer than the 8 of the header length")
    n = int.from_bytes(data[:8], "little")
    if n > min(len(data) - 8, _MAX_HEADER):
        raise _invalid(path, f"the header length says {n} bytes but {len(data) - 8} follow "
                             f"(a truncated file, or not safetensors at all)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid(path, f"the header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _invalid(path, f"the header is a JSON {type(header).__name__}, not an object")
    if sys.byteorder != "little":
        raise ValueError(f"cannot read {str(path)!r}: safetensors data is little-endian and this "
                         f"machine is {sys.byteorder}-endian")
    return header, memoryview(data)[8 + n:]


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"the key {duplicated[0]!r} appears more than once")
    return dict(pairs)


def _entry(name: str, spec, path) -> tuple[torch.dtype, list[int], int, int]:
    """One tensor's header entry, checked: its dtype, shape and byte range."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise _invalid(path, f"tensor {name!r} needs exactly dtype, shape and data_offsets, got {spec!r}")
    dtype = getattr(torch, _DTYPES.get(spec["dtype"], ""), None) if isinstance(spec["dtype"], str) else None
    if not isinstance(dtype, torch.dtype):
        raise _invalid(path, f"tensor {name!r} has dtype {spec['dtype']!r}; this reader knows {sorted(_DTYPES)}")
    shape, offsets = spec["shape"], spec["data_offsets"]
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _invalid(path, f"tensor {name!r} has shape {shape!r}, not a list of non-negative ints")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))
            and offsets[0] <= offsets[1]):
        raise _invalid(path, f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end] with begin <= end")
    size = math.prod(shape) * dtype.itemsize
    if offsets[1] - offsets[0] != size:
        raise _invalid(path, f"tensor {name!r} of {spec['dtype']} {shape} needs {size} bytes "
                             f"but its data_offsets {offsets} give {offsets[1] - offsets[0]}")
    return dtype, shape, offsets[0], offsets[1]


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_metadata(metadata, path) -> None:
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _invalid(path, f"__metadata__ must map strings to strings, got {metadata!r}")


def _check_layout(entries: dict, buffer_size: int, path) -> None:
    """The tensors' bytes tile the buffer exactly: no overlap, no gap, nothing missing."""
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != end:
            raise _invalid(path, f"tensor {name!r} starts at byte {begin}, expected {end} "
                                 f"(tensors overlap or leave a gap)")
        end = stop
    if end != buffer_size:
        raise _invalid(path, f"the tensors cover {end} bytes of data but {buffer_size} follow the "
                             f"header (a truncated or padded file)")


def _tensor(buffer: memoryview, dtype: torch.dtype, shape: list[int], begin: int, end: int) -> torch.Tensor:
    if begin == end:
        return torch.empty(shape, dtype=dtype)
    # A bytearray copy: writable (torch.frombuffer warns on read-only memory) and aligned.
    return torch.frombuffer(bytearray(buffer[begin:end]), dtype=dtype).reshape(shape)
