"""Tools from other packages: entry points and PLANWRIGHT_TOOLS, and the refusals at start."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from planwright.core import plugins
from planwright.core.errors import ConfigError
from planwright.core.plugins import ENTRY_POINT_GROUP, load_plugins, specs_in, tool_catalog
from planwright.core.settings import Settings
from planwright.core.tools_builtin import default_registry

BUILT_INS = {"ask_human", "file_write_artifact", "http_fetch", "text_generate", "text_summarize"}
EXAMPLE = {"example.greet", "example.word_count"}  # examples/planwright-example-tools
SAMPLE = {
    "sample.collect",
    "sample.context",
    "sample.lookup",
    "sample.pause",
}  # tests/plugins/sample_tools.py


def test_the_installed_example_package_is_found_through_its_entry_point():
    # The example package is installed into this environment (a uv workspace member): its
    # entry point is read from its installed metadata, as any user's package would be.
    registry = tool_catalog(Settings())
    assert set(registry.names()) == BUILT_INS | EXAMPLE
    spec = registry.get("example.word_count")
    assert spec.source == "plugin:pw_example_tools.tools"
    assert spec.args_schema["required"] == ["text"]


def test_planwright_tools_names_modules_to_import():
    registry = tool_catalog(Settings(planwright_tools=" tests.plugins.sample_tools , "))
    assert set(registry.names()) == BUILT_INS | EXAMPLE | SAMPLE
    assert registry.get("sample.pause").source == "plugin:tests.plugins.sample_tools"


def test_a_module_that_cannot_be_imported_stops_the_start_naming_it():
    with pytest.raises(ConfigError) as caught:
        tool_catalog(Settings(planwright_tools="tests.plugins.broken_tools"))
    message = caught.value.message
    assert message.startswith("PLANWRIGHT_TOOLS: cannot import module 'tests.plugins.broken_tools': ")
    assert "No module named 'planwright_no_such_dependency'" in message
    assert "broken_tools.py:" in message  # where to look


def test_a_module_that_does_not_exist_is_named():
    with pytest.raises(ConfigError, match=r"cannot import module 'myco\.nothing': ModuleNotFoundError"):
        tool_catalog(Settings(planwright_tools="myco.nothing"))


def test_a_name_clash_stops_the_start_naming_both_sides():
    with pytest.raises(ConfigError) as caught:
        tool_catalog(Settings(planwright_tools="tests.plugins.clashing_tools"))
    assert caught.value.message == (
        "PLANWRIGHT_TOOLS module 'tests.plugins.clashing_tools': tool 'text_generate' from "
        "plugin:tests.plugins.clashing_tools clashes with the tool of that name from builtin; "
        "rename one of them"
    )


def test_the_same_module_twice_is_loaded_once():
    registry = default_registry()
    added = load_plugins(
        registry, ["tests.plugins.sample_tools", "tests.plugins.sample_tools"], use_entry_points=False
    )
    assert set(added) == SAMPLE
    assert set(registry.names()) == BUILT_INS | SAMPLE


def test_an_entry_point_may_name_one_tool_or_a_list(monkeypatch):
    from tests.plugins import sample_tools

    points = [
        EntryPoint("one", "tests.plugins.sample_tools:pause", ENTRY_POINT_GROUP),
        EntryPoint("wrong", "tests.plugins.sample_tools:Field", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: points[:1])
    registry = default_registry()
    assert load_plugins(registry) == ["sample.pause"]
    assert specs_in([sample_tools.pause, sample_tools.lookup], "a list") == [
        sample_tools.pause,
        sample_tools.lookup,
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: points[1:])
    with pytest.raises(
        ConfigError, match=r"entry point 'wrong' .* is a function, not a module, a tool or a list of tools"
    ):
        load_plugins(default_registry())


def test_an_entry_point_that_fails_to_load_is_named(monkeypatch):
    broken = EntryPoint("broken", "tests.plugins.broken_tools", ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [broken])
    with pytest.raises(ConfigError, match=r"cannot load entry point 'broken' \(tests.plugins.broken_tools\)"):
        load_plugins(default_registry())
