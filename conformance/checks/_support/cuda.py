"""Which CUDA device a check may use, or why it skips: the gate every CUDA check goes through.

The plan already skips CUDA checks when ``--conformance-devices`` names no CUDA device or torch
is a CPU-only build (:func:`conformance.plan.skip_reason`); what only the check's own process
can tell (is a device visible, does the estimator have a device parameter) is decided here.
"""

from __future__ import annotations

from conformance.devices_info import cuda_unavailable_reason
from conformance.plan import NO_DEVICE_PARAM


def requested_cuda(ctx) -> str | None:
    """The CUDA device the run selected (``"cuda"`` when devices were left to default), else skip."""
    selected = ctx.settings.devices
    cuda = [d for d in selected if d.split(":", 1)[0] == "cuda"]
    if selected and not cuda:
        ctx.skip(f"cuda is not selected (--conformance-devices {','.join(selected)})")
    return cuda[0] if cuda else "cuda"


def require_device_param(ctx) -> str:
    if ctx.traits.device_param is None:
        ctx.skip(NO_DEVICE_PARAM)
    if ctx.traits.device_param not in ctx.estimator.get_params(deep=False):
        ctx.skip(f"the declared device parameter {ctx.traits.device_param!r} is not among get_params()")
    return ctx.traits.device_param


def cuda_under_test(ctx) -> str:
    """The CUDA device to test on, or skip saying why there is none."""
    device = requested_cuda(ctx)
    require_device_param(ctx)
    reason = cuda_unavailable_reason(device)
    if reason:
        ctx.skip(reason)
    return device
