"""The suite as pytest collects it: one item per (estimator, check), built by the plugin."""


def test_conformance(conformance_case, request):
    from conformance.plugin import record_result, run_case
    from conformance.result import raise_pytest_outcome

    __tracebackhide__ = True
    result = run_case(request.config, conformance_case)
    record_result(request.node, conformance_case, result)
    raise_pytest_outcome(result)
