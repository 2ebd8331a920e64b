"""Planwright's benchmark harness: run it with ``python -m bench`` from a checkout's root."""
