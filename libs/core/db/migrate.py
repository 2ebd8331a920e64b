"""Run Alembic migrations from code (``planwright migrate`` and ``planwright up``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from planwright.core.db.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


async def wait_for_db(url: str, *, timeout_s: float = 60.0) -> None:
    """Return once the database accepts connections; raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await engine.dispose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def upgrade_head(url: str) -> None:
    """Migrate to the newest revision. Must be called outside a running event loop."""
    command.upgrade(alembic_config(url), "head")
