"""The MCP servers file (MCP_CONFIG_PATH, default ``config/mcp.yaml``; format: docs/mcp.md).

Read once, when a process starts: an edit applies at the next restart. ``${NAME}`` in any string of
a server's entry is replaced by the environment variable NAME (``$$`` is a literal ``$``), so secrets
stay out of the file; an unset variable, like any other problem, is a ``ConfigError`` naming the
file and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from planwright.core.errors import ConfigError

SERVER_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_SERVER_NAME = re.compile(SERVER_NAME_PATTERN)
# "$$" (a literal "$"), "${NAME}", or a "${" that starts no valid reference.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Server(_Strict):
    timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Each tool's timeout (the policy may lower it)."
    )


class StdioServer(_Server):
    """A server Planwright starts as a child process and talks to over its stdin and stdout."""

    transport: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = []
    env: dict[str, str] = {}  # added to a minimal environment (HOME, PATH, ...), not to Planwright's
    cwd: Path | None = None


class HttpServer(_Server):
    """A server reached over MCP's streamable HTTP transport."""

    transport: Literal["http"]
    url: str
    headers: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError("must be an http:// or https:// URL, such as https://mcp.example.com/mcp")
        return url


ServerConfig = Annotated[StdioServer | HttpServer, Field(discriminator="transport")]


class McpFile(_Strict):
    version: Literal[1] = 1
    servers: dict[str, ServerConfig] = {}
    # The values ${NAME} references were filled with: secrets, masked wherever Planwright writes text.
    _filled: list[str] = PrivateAttr(default_factory=list)

    @property
    def filled(self) -> list[str]:
        return list(self._filled)

    @field_validator("servers")
    @classmethod
    def _names(cls, servers: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        for name in servers:
            if not _SERVER_NAME.match(name):
                raise ValueError(
                    f"server name {name!r} must match {SERVER_NAME_PATTERN} (lower case, digits, '_' "
                    "and '-', at most 32 characters); it becomes part of each tool's name"
                )
        return servers


def load_mcp_config(path: Path, environ: Mapping[str, str] | None = None) -> McpFile:
    """The servers in ``path``, ``${NAME}`` references filled from ``environ`` (default: the
    process's environment). A missing file means no servers; anything wrong is a ``ConfigError``."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return McpFile()
    except OSError as exc:
        raise ConfigError(f"cannot read MCP servers file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"MCP servers file {path} is not valid YAML: {exc}") from exc
    if raw is None:
        return McpFile()
    filled: list[str] = []
    if isinstance(raw, dict) and isinstance(raw.get("servers"), dict):
        problems: list[str] = []
        env = os.environ if environ is None else environ
        raw = {**raw, "servers": _substitute(raw["servers"], "servers", env, problems, filled)}
        if problems:
            raise ConfigError(f"MCP servers file {path} is invalid: {'; '.join(problems)}")
    try:
        config = McpFile.model_validate(raw)
        config._filled = filled
        return config
    except ValidationError as exc:
        found = (f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"MCP servers file {path} is invalid: {'; '.join(found)}") from exc


def _substitute(
    value: Any, where: str, environ: Mapping[str, str], problems: list[str], filled: list[str]
) -> Any:
    """``value`` with every string's references filled in (the values used go to ``filled``); what
    cannot be filled goes to ``problems``."""
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}", environ, problems, filled) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}.{i}", environ, problems, filled) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if match.group(0) == "$$":
            return "$"
        if name is None:
            problems.append(f"{where}: write ${{NAME}} to use an environment variable, or $$ for a '$'")
        elif name not in environ:
            problems.append(f"{where}: the environment variable {name} is not set")
        else:
            filled.append(environ[name])
            return environ[name]
        return match.group(0)

    return _REFERENCE.sub(fill, value)


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a path into the file ("servers.github.url"), without the
    transport tag pydantic adds for a tagged union."""
    parts = [
        str(p) for i, p in enumerate(loc) if not (i == 2 and loc[0] == "servers" and p in ("stdio", "http"))
    ]
    return ".".join(parts) or "(top)"
