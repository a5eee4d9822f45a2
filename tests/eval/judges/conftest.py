"""The sandbox fixture: tests that run code in the isolated sandbox skip, with the reason, where it cannot
be set up, except under PLOT_REQUIRE_SANDBOX=1 (set by .ci/run), where they fail instead."""

from __future__ import annotations

import os

import pytest

from plot_eval.judges.sandbox import isolation_problem


@pytest.fixture()
def isolated_sandbox() -> None:
    problem = isolation_problem()
    if problem is None:
        return
    if os.environ.get("PLOT_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"PLOT_REQUIRE_SANDBOX=1 but the sandbox cannot be set up: {problem}")
    pytest.skip(f"no isolated sandbox here: {problem}")
