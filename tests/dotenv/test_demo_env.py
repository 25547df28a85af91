"""The demo's ``.env`` (``genesis demo``, ``genesis emulate --env``) reads the same in every reader.

The text comes from :func:`genesis_core.demo.app_data.dotenv_text`, which spells each
value with the dotenv platform's portable writer.  It is read back by python-dotenv,
Node ``dotenv``, ``@dotenvx/dotenvx`` and (where its binary runs) Docker Compose, and by
Genesis's four dialects: each must give exactly the values that were written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis_core.demo.app_data import DOTENV_HEADER, dotenv_text, drifted_app
from genesis_core.platforms.dotenv_dialects import DIALECTS, Context

#: Values a demo or an emulator may hold that a python-only spelling gets wrong elsewhere.
AWKWARD = {
    "WITH_QUOTE": "it's here",
    "WITH_BACKSLASH": "C:\\Users\\shop",
    "WITH_DOLLAR": "pa$word and ${HOME}",
    "WITH_HASH": "https://acme-shop.example/#top",
}


@pytest.fixture(scope="module")
def compose_or_none(request: pytest.FixtureRequest):
    """Return Docker Compose, or ``None`` where its binary cannot run (never ``None`` in CI)."""
    try:
        return request.getfixturevalue("compose_reader")
    except pytest.skip.Exception:
        return None


def test_the_demo_env_reads_identically_in_every_reader(tmp_path: Path, python_reader, node_readers,
                                                        compose_or_none) -> None:
    values = {**drifted_app().local, **AWKWARD}
    text = dotenv_text(values)
    assert text.startswith(DOTENV_HEADER + "\n")
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")

    readings = {"python": python_reader.read_many([path])[path]["values"]}
    node = node_readers.read_many([path])[path]
    readings["node"], readings["dotenvx"] = node["node"]["values"], node["dotenvx"]["values"]
    if compose_or_none is not None:
        readings["compose"] = compose_or_none.read_many([path])[path]["values"]
    for reader, read in readings.items():
        assert read == values, reader
    for name, dialect in DIALECTS.items():
        reading = dialect.read(text, expand=dialect.expands_by_default, context=Context())
        assert reading.values() == values, name
        assert not reading.ignored_lines and not reading.notes, name


def test_the_demo_env_uses_the_plainest_form_each_value_allows() -> None:
    text = dotenv_text({"PORT": "8080", "WITH_QUOTE": "it's here", "URL": "https://x.example/#top"})
    assert text.splitlines()[1:] == ["PORT=8080", "WITH_QUOTE=it's here", "URL='https://x.example/#top'"]
