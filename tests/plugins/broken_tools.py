"""A plugin that cannot be imported: loading it must stop the process, naming it."""

from __future__ import annotations

import planwright_no_such_dependency  # noqa: F401
