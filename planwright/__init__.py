"""Planwright: an agentic planner-executor platform."""

__version__ = "0.1.0"
