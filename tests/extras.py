"""Optional libraries of the integration tests: skipped where missing, except in CI, where .ci/run installs them."""

import importlib.util
import os

import pytest


def require(module: str, extra: str) -> None:
    """Skip the calling test module when ``module`` is missing, or fail when CI requires the extras."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed (pip install 'contract-envs[{extra}]'; see docs/ecosystem.md)"
    if os.environ.get("CONTRACT_ENVS_REQUIRE_EXTRAS"):
        pytest.fail(message + " but CONTRACT_ENVS_REQUIRE_EXTRAS is set", pytrace=False)
    pytest.skip(message, allow_module_level=True)
