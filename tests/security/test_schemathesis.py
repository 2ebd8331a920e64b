"""Every API operation, fed what its OpenAPI schema allows and what it does not (Schemathesis, a
bounded number of examples each), against a real `planwright up`, with auth on and off: no answer
may be a server error.

The schema is the one the app serves (``planwright openapi`` builds the same). ``GET /jobs/changes``
never ends by design; tests/security/test_auth.py and the UI's tests cover it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from planwright.core.settings import load_settings
from planwright.services.api.app import create_app
from planwright.services.runtime import Runtime
from tests.e2e.support import planwright_up
from tests.security.test_auth import bearer, make_key

EXAMPLES = 12  # per operation and auth mode: ~25 operations x 2 modes fit in CI's time

schema = schemathesis.openapi.from_dict(
    create_app(Runtime(load_settings(database_url=None, redis_url=None), ())).openapi()
).exclude(path="/jobs/changes")


@pytest.fixture(scope="module", params=["open", "keys"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict]]:
    """A server per auth mode, and the headers a client of it sends (an admin key with every scope
    when keys are on, so the operations run past the Guard)."""
    data: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    headers = {}
    # Off: PLANWRIGHT_AUTH=none, so that a key the fuzzer makes through POST /keys does not turn it on.
    env = {"RATE_LIMIT_READ_PER_S": "0", "RATE_LIMIT_SUBMIT_PER_S": "0", "PLANWRIGHT_AUTH": "none"}
    if request.param == "keys":
        headers = bearer(make_key(data, "fuzz", "all", "all"))
        env["PLANWRIGHT_AUTH"] = "keys"
    with planwright_up(data, **env) as base:
        yield base, headers


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_with_a_server_error(case: schemathesis.Case, target: tuple[str, dict]) -> None:
    base, headers = target
    response = case.call(base_url=base, headers={**(case.headers or {}), **headers}, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
