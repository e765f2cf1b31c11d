"""``python -m conformance TARGET [pytest args]``: the same as ``pytest --pyargs conformance --estimator TARGET``."""

import os
import sys


def main(argv=None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nWith no TARGET the reference estimators are checked. "
              "Every other argument goes to pytest (see `pytest --help`, section 'conformance').\n"
              "`python -m conformance --list-checks` prints the registry (--markdown for a table).")
        return 0
    if argv and argv[0] == "--list-checks":
        print(list_checks(markdown="--markdown" in argv))
        return 0
    args = ["--pyargs", "conformance"]
    if argv and not argv[0].startswith("-"):
        args += ["--estimator", argv.pop(0)]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "conformance.plugin"]
    return int(pytest.main(args + argv))


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
    return "\n".join(f"{c.id:<{width}}  [{', '.join(sorted(c.applies_to))}]  {c.rule}" for c in checks)


if __name__ == "__main__":
    sys.exit(main())
