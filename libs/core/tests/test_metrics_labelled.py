"""``metrics.labelled``: the child ``labels()`` gives, looked up once per label set."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY, Counter

from planwright.core import metrics


def test_labelled_is_the_child_labels_gives_and_counts_into_the_same_series(monkeypatch) -> None:
    name = f"pwtest_labelled_{uuid.uuid4().hex[:8]}_total"
    counter = Counter(name, "test", ["tool", "status"])
    try:
        first = metrics.labelled(counter, "a", "succeeded")
        assert first is counter.labels("a", "succeeded")
        first.inc()
        metrics.labelled(counter, "a", "succeeded").inc(2)
        metrics.labelled(counter, "b", "failed").inc()
        assert REGISTRY.get_sample_value(name, {"tool": "a", "status": "succeeded"}) == 3
        assert REGISTRY.get_sample_value(name, {"tool": "b", "status": "failed"}) == 1

        calls: list[tuple[str, ...]] = []
        original = Counter.labels

        def spy(self: Counter, *values: str, **kw: str) -> Counter:
            calls.append(values)
            return original(self, *values, **kw)

        monkeypatch.setattr(Counter, "labels", spy)
        assert metrics.labelled(counter, "a", "succeeded") is first
        assert calls == []  # remembered: prometheus_client is not asked again
        metrics.labelled(counter, "c", "succeeded")
        assert calls == [("c", "succeeded")]  # a new label set is
    finally:
        REGISTRY.unregister(counter)
