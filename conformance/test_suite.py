"""The suite as pytest collects it: one item per (estimator, check), built by the plugin."""

import pytest


# record_xml_attribute sets the JUnit classname per category, so dashboards group results by
# concern. pytest warns that the fixture is experimental and not meant for xunit2 attributes in
# general; classname is an attribute xunit2 has, so both warnings are silenced here.
@pytest.mark.filterwarnings("ignore::pytest.PytestExperimentalApiWarning")
@pytest.mark.filterwarnings("ignore:record_xml_attribute is incompatible")
def test_conformance(conformance_case, request, record_xml_attribute):
    from conformance.plugin import record_result, run_case
    from conformance.result import raise_pytest_outcome

    record_xml_attribute("classname", f"conformance.{conformance_case.entry.category}")
    result = run_case(request.config, conformance_case)
    record_result(request.node, conformance_case, result)
    raise_pytest_outcome(result)
