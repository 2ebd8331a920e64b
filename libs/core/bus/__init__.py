"""The message bus: one protocol, an in-process implementation (embedded) and Redis Streams (distributed)."""

from planwright.core.bus.base import Bus, Delivery
from planwright.core.bus.memory import MemoryBus

__all__ = ["Bus", "Delivery", "MemoryBus"]
