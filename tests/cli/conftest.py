"""Fixtures for the `airlock run`/`doctor` end-to-end tests: real binaries, real sandboxes.

AIRLOCK_BUILD selects the build directory (default: build; CI also runs build-asan).
Under CI=true a missing prerequisite is a failure, never a skip."""
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testlib"))
from prereq import require

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airlock() -> Path:
    build = ROOT / os.environ.get("AIRLOCK_BUILD", "build")
    exe = build / "airlock"
    require(exe.exists(), f"{exe} is not built (meson setup build && ninja -C build)")
    require(os.geteuid() == 0, "sandbox tests need root (the launcher builds cgroups and uid mappings)")
    require(shutil.which("bwrap") is not None, "bubblewrap is not installed")
    return exe


@pytest.fixture(scope="session")
def gvisor(airlock):
    require(shutil.which("runsc") is not None, "gVisor runsc is not installed")
    return airlock
