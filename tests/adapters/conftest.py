"""``FAIRIF_REQUIRE_GPU=1``: a skipped (or missing) gpu test is a failure.

On a machine meant to check the GPU path (scripts/gpu_check.sh) a skip would
mean the check passed without checking anything: with the variable set, every
skipped test marked ``gpu`` is reported as failed, and a session that ran no
gpu test at all exits with status 1.
"""

import os

import pytest

_REQUIRED = os.environ.get("FAIRIF_REQUIRE_GPU") == "1"
_GPU_RAN = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if item.get_closest_marker("gpu") is None:
        return
    report = outcome.get_result()
    if report.passed and report.when == "call":
        _GPU_RAN.append(item.nodeid)
    if _REQUIRED and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""
        report.outcome = "failed"
        report.longrepr = (f"FAIRIF_REQUIRE_GPU=1 but this gpu test was skipped: "
                           f"{reason}")


def pytest_sessionfinish(session, exitstatus):
    if _REQUIRED and not _GPU_RAN:
        session.exitstatus = 1
