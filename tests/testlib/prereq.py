"""Prerequisites of the Python suites, one rule for all of them (require.c is the C twin).

A missing prerequisite (root, a built binary, bwrap, runsc, a package) skips the test on a
developer's machine and FAILS it under CI=true or AIRLOCK_TESTS_MUST_RUN=1, where every test
must really run: a silent skip there would hide a layer nobody tested.
"""
import os

import pytest


def must_run() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("AIRLOCK_TESTS_MUST_RUN") == "1"


def require(ok: bool, why: str) -> None:
    if ok:
        return
    if must_run():
        pytest.fail("cannot run under CI=true: " + why, pytrace=False)
    pytest.skip(why)
