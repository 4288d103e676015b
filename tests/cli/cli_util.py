"""Helpers for the CLI tests (a module of its own: several suites have a conftest)."""
import subprocess


def run(exe, *args, input=None, timeout=60, env=None):
    return subprocess.run([str(exe), *args], input=input, capture_output=True, timeout=timeout, env=env)
