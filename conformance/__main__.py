"""``python -m conformance [TARGET] [pytest args]``: the suite, as ``pytest --pyargs conformance --estimator TARGET``.

Also:
  python -m conformance explain CHECK_ID      a check's rule, why it matters, how to fix it
  python -m conformance --list-checks         every check with its rule (--markdown for a table)
"""

import os
import sys

USAGE = __doc__.strip() + ("\n\nWith no TARGET the reference estimators are checked. Every other argument goes to "
                           "pytest (see `pytest --help`, section 'conformance').")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "--list-checks":
        print(list_checks(markdown="--markdown" in argv))
        return 0
    if argv and argv[0] == "explain":
        return explain_command(argv[1:])
    return run_suite(argv)


def run_suite(argv: list[str]) -> int:
    import pytest

    args = ["--pyargs", "conformance"]
    if argv and not argv[0].startswith("-"):
        args += ["--estimator", argv.pop(0)]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "conformance.plugin"]
    # Running this module imported the package before pytest could mark its plugin for
    # assertion rewriting; the suite's items assert nothing, so the warning says nothing.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return int(pytest.main(args + argv))


def explain_command(args: list[str]) -> int:
    from conformance.explain import explain

    if len(args) != 1:
        print("usage: python -m conformance explain CHECK_ID   (python -m conformance --list-checks lists them)",
              file=sys.stderr)
        return 2
    try:
        print(explain(args[0]))
    except ValueError as exc:
        print(f"conformance explain: {exc}", file=sys.stderr)
        return 2
    return 0


def list_checks(markdown: bool = False) -> str:
    """The registry as text: id, the kinds it applies to, and its rule."""
    from conformance.registry import registered_checks

    checks = registered_checks()
    if markdown:
        rows = ["| check | applies to | rule |", "| --- | --- | --- |"]
        rows += [f"| [`{c.id}`]({c.docs.rsplit('/', 1)[1]}) | {', '.join(sorted(c.applies_to))} | {c.rule} |"
                 for c in checks]
        return "\n".join(rows)
    width = max((len(c.id) for c in checks), default=0)
    lines = [f"{c.id:<{width}}  [{', '.join(sorted(c.applies_to))}]  {c.rule}" for c in checks]
    lines.append("sklearn.*: every check sklearn's estimator_checks_generator yields for the estimator "
                 "(python -m conformance explain sklearn.<check_name>)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
