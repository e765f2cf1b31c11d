"""Which devices a run can use, and the description of them the report records.

CUDA must never be initialised in the pytest process: checks run in forked children, and a
parent with an initialised CUDA context breaks CUDA in every child. ``torch.cuda.is_available()``
may itself initialise the driver, so :func:`available_devices` and :func:`describe_devices`
ask a subprocess and cache its answer; they are safe to call from the parent (and cost one
torch import, about 1.5 s, once per process). A CPU-only torch build is recognised from its
``torch/version.py`` without importing torch or starting anything. :func:`cuda_unavailable_reason` asks in the
calling process and is for check bodies, which run in children.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

PROBE_TIMEOUT_S = 120

_PROBE = r"""
import json, platform, shutil, subprocess
info = {"torch_version": None, "cuda_available": False, "gpus": []}
try:
    import torch
except ImportError as exc:
    info["error"] = f"torch is not importable: {exc}"
else:
    info["torch_version"] = torch.__version__
    info["torch_cuda_version"] = torch.version.cuda
    info["cudnn_version"] = torch.backends.cudnn.version() if torch.version.cuda else None
    info["cuda_available"] = bool(torch.cuda.is_available())
    if info["cuda_available"]:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            info["gpus"].append({"index": index, "name": props.name,
                                 "capability": f"{props.major}.{props.minor}",
                                 "memory_gib": round(props.total_memory / 2**30, 1)})
        getter = getattr(torch._C, "_cuda_getDriverVersion", None)
        if getter is not None:
            version = int(getter())
            info["cuda_driver_api_version"] = f"{version // 1000}.{version % 1000 // 10}"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30).stdout.split()
            info["driver_version"] = out[0] if out else None
        except Exception as exc:
            info["driver_version_error"] = repr(exc)
print(json.dumps(info))
"""


@functools.lru_cache(maxsize=1)
def probe() -> dict:
    """What torch reports about devices, asked in a subprocess (cached; no subprocess for CPU-only builds)."""
    known = cpu_only_build()
    if known is not None:
        return known
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        return {"cuda_available": False, "gpus": [], "error": f"the device probe timed out after {PROBE_TIMEOUT_S} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"cuda_available": False, "gpus": [],
                "error": "the device probe failed: " + " | ".join(done.stderr.strip().splitlines()[-3:])}
    return json.loads(lines[-1])


def cpu_only_build() -> dict | None:
    """:func:`probe`'s answer for an installed torch built without CUDA or ROCm, else ``None``.

    Read from ``torch/version.py`` (plain assignments), so it costs neither a torch import nor
    a process. ``None`` whenever that file is missing or says anything else: then ask torch.
    """
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    version_file = os.path.join(list(spec.submodule_search_locations)[0], "version.py")
    namespace: dict = {}
    try:
        with open(version_file, encoding="utf-8") as handle:
            exec(compile(handle.read(), version_file, "exec"), namespace)  # noqa: S102 - torch's own file
    except Exception:  # noqa: BLE001 - any surprise: fall back to asking torch
        return None
    if "cuda" not in namespace or namespace.get("cuda") or namespace.get("hip") or "__version__" not in namespace:
        return None
    return {"torch_version": str(namespace["__version__"]), "torch_cuda_version": None,
            "cudnn_version": None, "cuda_available": False, "gpus": []}


def available_devices() -> list[str]:
    """``["cpu"]`` plus ``"cuda:N"`` for every CUDA device torch sees (asked in a subprocess)."""
    info = probe()
    return ["cpu"] + [f"cuda:{gpu['index']}" for gpu in info.get("gpus", [])]


def selected_devices(requested=(), available=None) -> list[str]:
    """The devices a run uses: ``requested`` (``--conformance-devices``) or, when empty, every available.

    ``"cuda"`` names the first CUDA device. A requested device that is not available is kept:
    the device checks then skip with the reason, and the report shows what was asked for.
    """
    available = available_devices() if available is None else list(available)
    if not requested:
        return available
    for name in requested:
        kind = name.split(":", 1)[0]
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"--conformance-devices: unknown device {name!r}; accepted: cpu, cuda, cuda:N")
    return list(dict.fromkeys(requested))


def describe_devices(requested=()) -> dict:
    """The report's ``device_info``: devices used, GPU models, torch, CUDA and driver versions."""
    info = probe()
    available = available_devices()
    description = {
        "devices": selected_devices(requested, available),
        "available": available,
        "torch_version": info.get("torch_version"),
        "cuda_available": info.get("cuda_available", False),
        "torch_cuda_version": info.get("torch_cuda_version"),
        "cudnn_version": info.get("cudnn_version"),
        "cuda_driver_api_version": info.get("cuda_driver_api_version"),
        "driver_version": info.get("driver_version"),
        "gpus": info.get("gpus", []),
    }
    if "error" in info:
        description["error"] = info["error"]
    return description


def describe_line(description: dict) -> str:
    """One human line for terminal summaries: ``cpu, cuda:0 (NVIDIA H100, driver 550.54, CUDA 12.4)``."""
    text = ", ".join(description["devices"])
    if description["gpus"]:
        names = ", ".join(gpu["name"] for gpu in description["gpus"])
        text += (f" ({names}; driver {description.get('driver_version') or '?'}; "
                 f"CUDA {description.get('torch_cuda_version') or '?'}; torch {description['torch_version']})")
    else:
        text += f" (no CUDA device: {cuda_absence(description)})"
    return text


def cuda_absence(info: dict) -> str:
    """Why there is no CUDA device, from :func:`probe`'s answer."""
    if info.get("error"):
        return info["error"]
    if info.get("torch_version") and not info.get("torch_cuda_version"):
        return f"torch {info['torch_version']} is a CPU-only build"
    return f"torch {info.get('torch_version')} (CUDA {info.get('torch_cuda_version')}) sees no CUDA device"


def cuda_unavailable_reason(device: str = "cuda") -> str | None:
    """``None`` when ``device`` can be used here, else why not. Initialises CUDA: checks only."""
    import torch

    if torch.version.cuda is None:
        return f"CUDA is not available: torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return f"CUDA is not available: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device"
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        return f"{device} is not available: torch sees {torch.cuda.device_count()} CUDA device(s)"
    return None
