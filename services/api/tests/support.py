"""Helpers shared by tests that drive the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import yaml

TERMINAL = ("succeeded", "failed", "cancelled")


async def wait_for_job(
    client: httpx.AsyncClient, job_id: str, *, statuses: tuple[str, ...] = TERMINAL, timeout_s: float = 10.0
) -> dict[str, Any]:
    """Poll until the job reaches one of ``statuses`` (a test helper; the product itself never polls)."""
    async with asyncio.timeout(timeout_s):
        while True:
            job: dict[str, Any] = (await client.get(f"/jobs/{job_id}")).json()
            if job["status"] in statuses:
                return job
            await asyncio.sleep(0.02)


async def wait_for_task(
    client: httpx.AsyncClient, job_id: str, key: str, status: str, *, timeout_s: float = 10.0
) -> dict[str, Any]:
    """Poll until the job's task ``key`` reaches ``status`` (a test helper)."""
    async with asyncio.timeout(timeout_s):
        while True:
            for task in (await client.get(f"/jobs/{job_id}/tasks")).json():
                if task["key"] == key and task["status"] == status:
                    found: dict[str, Any] = task
                    return found
            await asyncio.sleep(0.02)


SHIPPED_POLICY = Path(__file__).resolve().parents[3] / "config" / "policy.yaml"


def loopback_policy(path: Path, *ports: int, source: Path = SHIPPED_POLICY) -> Path:
    """Write to ``path`` a copy of ``source`` in which every environment lets http_fetch reach
    127.0.0.0/8 on ``ports``: the network guard's opt-in (docs/tools.md), for tests whose fetches go
    to a local server. Returns ``path``."""
    data = yaml.safe_load(source.read_text())
    for env in data["environments"].values():
        fetch = env.setdefault("tools", {}).setdefault("http_fetch", {})
        fetch["allow_private_networks"] = ["127.0.0.0/8"]
        fetch["allowed_ports"] = list(ports)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
