"""Fault injection against real processes: the distributed stack's fixtures (its own database, a key
prefix of its own on the tests' Redis, or a private redis-server for tests that flush or stop it).
Each module marks itself ``pytestmark = [pytest.mark.distributed, pytest.mark.faults, ...]``."""

from __future__ import annotations

from tests.distributed.conftest import database_url, make_stack  # noqa: F401 (fixtures)
from tests.distributed.test_distributed import slow_site  # noqa: F401 (a fixture)
