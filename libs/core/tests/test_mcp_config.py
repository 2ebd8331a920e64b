"""The MCP servers file: its format, ${ENV} references, and the errors that stop a process."""

from __future__ import annotations

from pathlib import Path

import pytest

from planwright.core.errors import ConfigError
from planwright.core.mcp_config import HttpServer, StdioServer, load_mcp_config

SHIPPED = Path(__file__).parents[3] / "config" / "mcp.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mcp.yaml"
    path.write_text(text)
    return path


def test_the_shipped_file_and_a_missing_one_mean_no_servers(tmp_path):
    assert load_mcp_config(SHIPPED).servers == {}
    assert load_mcp_config(tmp_path / "absent.yaml").servers == {}
    assert load_mcp_config(write(tmp_path, "# nothing yet\n")).servers == {}


def test_stdio_and_http_servers_with_env_references(tmp_path):
    path = write(
        tmp_path,
        """
servers:
  notes:
    transport: stdio
    command: python
    args: [server.py, --db, "${NOTES_DB}"]
    env: {NOTES_TOKEN: "${NOTES_TOKEN}", PRICE: "$$5"}
    timeout_s: 10
  github:
    transport: http
    url: https://mcp.example.com/mcp
    headers:
      Authorization: "Bearer ${GITHUB_TOKEN}"
""",
    )
    env = {"NOTES_DB": "/data/notes.db", "NOTES_TOKEN": "n-123", "GITHUB_TOKEN": "ghp_secret"}
    config = load_mcp_config(path, env)
    notes, github = config.servers["notes"], config.servers["github"]
    assert isinstance(notes, StdioServer)
    assert isinstance(github, HttpServer)
    assert notes.args == ["server.py", "--db", "/data/notes.db"]
    assert notes.env == {"NOTES_TOKEN": "n-123", "PRICE": "$5"}
    assert notes.timeout_s == 10
    assert github.headers == {"Authorization": "Bearer ghp_secret"}
    assert github.timeout_s == 60
    assert list(config.servers) == ["notes", "github"]  # file order


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "servers:\n  gh:\n    transport: http\n    url: https://x.test/mcp\n"
            "    headers: {Authorization: 'Bearer ${GH_TOKEN_UNSET_FOR_TEST}'}\n",
            "servers.gh.headers.Authorization: the environment variable GH_TOKEN_UNSET_FOR_TEST is not set",
        ),
        (
            "servers:\n  gh:\n    transport: http\n    url: https://x.test/mcp\n    header: {}\n",
            "servers.gh.header: Extra inputs are not permitted",
        ),
        (
            "servers:\n  Git Hub:\n    transport: http\n    url: https://x.test/mcp\n",
            "servers: Value error, server name 'Git Hub' must match ^[a-z][a-z0-9_-]{0,31}$",
        ),
        (
            "servers:\n  notes:\n    transport: stdio\n    command: ''\n",
            "servers.notes.command: String should have at least 1 character",
        ),
        (
            "servers:\n  gh:\n    transport: http\n    url: ftp://x.test/\n",
            "servers.gh.url: Value error, must be an http:// or https:// URL",
        ),
        (
            "servers:\n  gh:\n    url: https://x.test/mcp\n",
            "servers.gh: Unable to extract tag using discriminator 'transport'",
        ),
        (
            "servers:\n  gh:\n    transport: http\n    url: 'https://${ host }/mcp'\n",
            "servers.gh.url: write ${NAME} to use an environment variable, or $$ for a '$'",
        ),
        ("servers: [notes]\n", "servers: Input should be a valid dictionary"),
        ("version: 2\nservers: {}\n", "version: Input should be 1"),
    ],
)
def test_an_invalid_file_names_the_file_and_the_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(path, {})
    assert caught.value.message.startswith(f"MCP servers file {path} is invalid: ")
    assert message in caught.value.message


def test_every_unset_variable_is_named_at_once(tmp_path):
    path = write(
        tmp_path,
        "servers:\n  a:\n    transport: stdio\n    command: x\n    env: {K: '${ONE}', L: '${TWO}'}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(path, {})
    assert "env.K: the environment variable ONE is not set; " in caught.value.message
    assert "env.L: the environment variable TWO is not set" in caught.value.message


def test_broken_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_mcp_config(write(tmp_path, "servers: {notes: [\n"))
