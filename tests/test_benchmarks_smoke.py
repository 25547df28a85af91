"""Each benchmark script runs with ``--quick`` and prints its tables with the expected rows.

No timing is asserted: a target may be met or missed on any machine, so only
the presence of a PASS/MISS verdict is checked, never which one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
VERDICTS = {"PASS", "MISS"}

pytestmark = pytest.mark.slow


def run_script(name: str, *args: str, timeout: float = 60.0) -> str:
    """Run ``benchmarks/<name>`` with this interpreter; return stdout (fail on a non-zero exit)."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stdout


def table(output: str, title: str) -> tuple[list[str], list[list[str]]]:
    """Return (header cells, body rows) of the Markdown table under ``### title``."""
    lines = output.splitlines()
    heading = f"### {title}"
    assert heading in lines, f"no table {title!r} in:\n{output}"
    start = lines.index(heading) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip() and not rows:
            continue
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert len(rows) >= 3, f"table {title!r} has no body rows"
    head, rule, body = rows[0], rows[1], rows[2:]
    assert all(set(cell) <= {"-"} for cell in rule), f"table {title!r} lacks its header rule"
    assert all(len(row) == len(head) for row in body), f"ragged table {title!r}"
    return head, body


def column(head: list[str], body: list[list[str]], name: str) -> list[str]:
    """Return the cells of column ``name``."""
    return [row[head.index(name)] for row in body]


def test_reconcile_quick_prints_every_size_and_instance_count() -> None:
    output = run_script("bench_reconcile.py", "--quick")
    assert "machine:" in output
    head, body = table(output, "reconcile vs bare dict/set floor")
    cells = [(row[0], row[1].rstrip(" *")) for row in body]
    assert cells == [(keys, inst) for keys in ("1,000", "10,000") for inst in ("2", "4", "8")]
    assert set(column(head, body, "result")) <= VERDICTS
    assert all(cell.endswith("x") for cell in column(head, body, "ratio"))
    assert all(cell.endswith("/s") for cell in column(head, body, "floor cells/s"))


def test_fetch_quick_times_each_platform_and_the_concurrent_fetch() -> None:
    output = run_script("bench_fetch.py", "--quick")
    head, body = table(output, "fetch_all of four emulated platforms")
    assert column(head, body, "fetch") == ["render alone", "netlify alone", "github alone",
                                           "vercel alone", "all four (fetch_all)"]
    requests = [int(cell) for cell in column(head, body, "requests")]
    assert requests[:4] == [11, 1, 11, 10]  # ten pages each (Netlify: one slow unpaginated answer)
    assert requests[4] == sum(requests[:4])
    head, body = table(output, "fetch target")
    verdict_row = body[column(head, body, "measure").index("all four / slowest")]
    assert verdict_row[head.index("result")] in VERDICTS

    if "secret stores: nothing measured" in output:
        from genesis_core.testing.servers import missing_server

        missing_server("bench_fetch.py measured no secret store: " + output.split("nothing measured", 1)[1].strip())
    head, body = table(output, "fetch_all of three secret stores on real servers (moto, OpenBao)")
    assert column(head, body, "fetch") == ["aws-ssm alone", "aws-secrets-manager alone", "vault alone",
                                           "all three (fetch_all)"]
    requests = [int(cell) for cell in column(head, body, "requests")]
    assert requests[0] in (10, 11) and requests[1:3] == [1, 1]  # --quick: 100 parameters, ten a page
    assert column(head, body, "keys") == ["100", "200", "200", "500"]
    head, body = table(output, "secret stores target")
    verdict_row = body[column(head, body, "measure").index("all three / slowest")]
    assert verdict_row[head.index("result")] in VERDICTS


def test_heal_quick_times_each_platform_chain_and_the_concurrent_heal() -> None:
    output = run_script("bench_heal.py", "--quick")
    head, body = table(output, "heal of four emulated platforms (apply_plan: writes, then the verification read)")
    assert column(head, body, "heal") == ["render alone", "netlify alone", "github alone", "vercel alone",
                                          "all four (apply_plan)"]
    assert column(head, body, "keys written") == ["10", "10", "10", "10", "40"]
    requests = [int(cell) for cell in column(head, body, "requests")]
    assert requests[0] >= 10 and all(r >= 20 for r in requests[1:4])  # Render one request a key, the others two
    assert requests[4] == sum(requests[:4])
    head, body = table(output, "heal target")
    verdict_row = body[column(head, body, "measure").index("all four / slowest")]
    assert verdict_row[head.index("result")] in VERDICTS


def test_bus_quick_compares_transports_with_blinker_and_pyee() -> None:
    output = run_script("bench_bus.py", "--quick")
    head, body = table(output, "publish-to-delivery events/s")
    rows = list(zip(column(head, body, "transport"), column(head, body, "how")))
    for transport in ("embedded (SQLite, fsync)", "in-memory"):
        for how in ("one await publish after another", "gather of 500 concurrent publishes",
                    "publish_many of 500"):
            assert (transport, how) in rows
    assert [t for t, _ in rows[-2:]] == ["blinker", "pyee"]
    results = column(head, body, "result")
    assert sum(r in VERDICTS for r in results) == 3  # durable gather, durable publish_many, memory
    head, body = table(output, "in-memory bus vs bare dispatch (one await publish after another)")
    assert column(head, body, "receivers") == ["1", "4"]
    assert body[1][head.index("result")] in VERDICTS
    assert all(cell.endswith("/s") for cell in column(head, body, "bus") + column(head, body, "blinker"))


def test_ledger_quick_measures_the_10k_ledger() -> None:
    output = run_script("bench_ledger.py", "--quick")
    head, body = table(output, "building the ledger with append_many (batches of 10,000)")
    assert column(head, body, "grown to") == ["10,000"]
    head, body = table(output, "ledger operations by size")
    assert column(head, body, "entries") == ["10,000"]
    assert int(column(head, body, "path nodes")[0]) == 14  # ceil(log2(10,000))
    # the audit path reads one stored node per sibling, a few more for the unaligned right edge
    assert 14 <= float(column(head, body, "node reads")[0]) <= 2 * 14
    table(output, "inclusion-proof growth (must be logarithmic)")


def test_ledger_growth_table_has_a_verdict_with_two_sizes() -> None:
    output = run_script("bench_ledger.py", "--sizes", "500,2000", "--repeat", "1")
    head, body = table(output, "inclusion-proof growth (must be logarithmic)")
    assert column(head, body, "from -> to") == ["500 -> 2,000"]
    assert column(head, body, "result")[0] in VERDICTS


def test_cli_quick_times_the_three_commands() -> None:
    output = run_script("bench_cli.py", "--quick")
    head, body = table(output, "start-up time (median wall time of a fresh process)")
    assert column(head, body, "command") == ["python -c pass", "genesis --version", "genesis plugins"]
    results = dict(zip(column(head, body, "command"), column(head, body, "result")))
    assert results["genesis --version"] in VERDICTS  # against python -c pass
    assert results["genesis plugins"] == "-"  # held to its floor only
    missed = {name for name, result in results.items() if result == "MISS"}
    head, body = table(output, "floors (what a command cannot go below) and the discovery cache")
    assert column(head, body, "compared with") == ["genesis --version", "genesis plugins", "genesis plugins"]
    assert column(head, body, "reference")[-1] == "genesis plugins (discovery cache off)"
    assert all(cell.endswith("x") for cell in column(head, body, "that command / this"))
    floor_results = column(head, body, "result")
    assert set(floor_results[:2]) <= VERDICTS and floor_results[2] == "-"
    missed |= {name for name, result in zip(column(head, body, "compared with"), floor_results)
               if result == "MISS"}
    for name in missed:  # a miss is explained by an import breakdown
        assert f"### {name}: costliest imports by importer" in output


def test_run_all_runs_the_chosen_scripts() -> None:
    output = run_script("run_all.py", "--quick", "--only", "bus")
    assert "## bench_bus (quick)" in output
    assert "bench_reconcile" not in output
    table(output, "publish-to-delivery events/s")
