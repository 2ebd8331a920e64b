"""Keeping configured secrets out of what Planwright stores, streams and logs.

A provider's error may echo the API key it was sent; a driver's error may name the URL it was given.
``install`` reads the secrets from the process's Settings once (every ``SecretStr`` setting, e.g. the
``*_API_KEY`` ones, and the password of every ``*_URL`` setting); ``redact`` then replaces each of them
in a text with ``[redacted]``. Applied where errors become task errors and events (the worker, the
planner, the critic, the Orchestrator) and to every log record (``logs.RedactingFilter``). With no
secret configured, ``redact`` returns its argument after one check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words; no real key or password is this short


class Redactor:
    """Replaces every occurrence of each secret (longest first, so no secret leaves part of another)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, found))) if found else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


def secrets_of(settings: BaseModel) -> list[str]:
    """The values to keep secret in ``settings``: SecretStr fields, and the password of URL fields."""
    found: list[str] = []
    for name, value in settings:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, str) and name.endswith("_url"):
            try:
                password = urlsplit(value).password
            except ValueError:
                continue
            if password:
                found += [password, unquote(password)]
    return found


_secrets: list[str] = []
_active = Redactor(())


def install(settings: BaseModel) -> Redactor:
    """Make ``settings``' secrets the ones ``redact`` masks (once per process, at start)."""
    global _active, _secrets
    _secrets = secrets_of(settings)
    _active = Redactor(_secrets)
    return _active


def add(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` too, from now on: values read from elsewhere at start (the MCP servers file's
    ``${NAME}`` references)."""
    global _active
    _secrets.extend(secrets)
    _active = Redactor(_secrets)


def redact(text: str) -> str:
    """``text`` with every configured secret masked."""
    return _active(text)


def active() -> Redactor:
    """The redactor in force (falsy when there is nothing to mask)."""
    return _active


M = TypeVar("M", bound=BaseModel)
_TEXT_FIELDS = ("error", "reason", "message", "reasons", "notes")  # where messages carry free text


def scrub(message: M) -> M:
    """``message`` with the configured secrets masked in its free-text fields (``error``, ``reason``,
    ``message``, ``reasons``, ``notes``); the same object when there is nothing to mask."""
    if not _active:
        return message
    update: dict[str, object] = {}
    for name in _TEXT_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str):
            masked: object = _active(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            masked = [_active(v) for v in value]
        else:
            continue
        if masked != value:
            update[name] = masked
    return message.model_copy(update=update) if update else message
