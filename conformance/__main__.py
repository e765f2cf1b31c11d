"""``python -m conformance TARGET [pytest args]``: the same as ``pytest --pyargs conformance --estimator TARGET``."""

import os
import sys


def main(argv=None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nWith no TARGET the reference estimators are checked. "
              "Every other argument goes to pytest (see `pytest --help`, section 'conformance').")
        return 0
    args = ["--pyargs", "conformance"]
    if argv and not argv[0].startswith("-"):
        args += ["--estimator", argv.pop(0)]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "conformance.plugin"]
    return int(pytest.main(args + argv))


if __name__ == "__main__":
    sys.exit(main())
