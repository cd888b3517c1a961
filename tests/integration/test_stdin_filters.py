"""A step's `stdin` text and the quoting filters, over real SSH and locally: hostile values reach
the command as exactly the intended bytes (see test_run_ssh.py for the corpus and `nul_split`)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop.templating import json_value, promql_label, sql_literal, urlencode_component

from .rundir import RunDir
from .sshd import SshdHosts
from .test_run_ssh import corpus, nul_split, sop_yaml


@pytest.fixture
def rundir(tmp_path: Path, sshd_hosts: SshdHosts) -> RunDir:
    return RunDir.create(tmp_path / "runbooks", sshd_hosts)


@pytest.fixture
def pwned(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "P"
    yield path
    assert not path.exists(), "an injection payload ran"


@pytest.mark.parametrize("target", ["h01", "local"])
def test_stdin_reaches_the_command_as_written_with_each_value_exact(
    rundir: RunDir, pwned: Path, target: str
) -> None:
    values = corpus(pwned)
    out = rundir.path / "stdin"
    # each value as a JSON string on its own line, then one raw value and a line that looks
    # like the end of a here-document
    stdin = "".join(f"{{{{ {name} | json_value }}}}\n" for name in values)
    stdin += "{{ subst }}\nEOF\nSOP_STDIN_END_\n"
    sop = rundir.write_sop(
        sop_yaml(
            "stdin",
            inputs={name: {} for name in values},
            steps=[{"id": "feed", "on": target, "run": f"cat > {out}", "stdin": stdin}],
        )
    )

    proc = rundir.run(sop, "--yes", *(f"-i{name}={value}" for name, value in values.items()))

    assert proc.returncode == 0, proc.stderr + proc.stdout[-3000:]
    lines = out.read_bytes().decode().split("\n")
    assert [json.loads(line) for line in lines[: len(values)]] == list(values.values())
    assert lines[len(values) :] == [values["subst"], "EOF", "SOP_STDIN_END_", ""]


@pytest.mark.parametrize("target", ["h01", "local"])
def test_filtered_values_are_one_shell_word_each_with_the_filters_bytes(
    rundir: RunDir, pwned: Path, target: str
) -> None:
    values = {k: v for k, v in corpus(pwned).items() if k != "big"}
    filters = {
        "sql_literal": sql_literal,
        "json_value": json_value,
        "urlencode_component": urlencode_component,
        "promql_label": promql_label,
    }
    out = rundir.path / "args"
    args = " ".join(f"{{{{ {name} | {f} }}}}" for name in values for f in filters)
    sop = rundir.write_sop(
        sop_yaml(
            "filters",
            inputs={name: {} for name in values},
            steps=[{"id": "echo", "on": target, "run": f"printf '%s\\0' {args} > {out}"}],
        )
    )

    proc = rundir.run(sop, "--yes", *(f"-i{name}={value}" for name, value in values.items()))

    assert proc.returncode == 0, proc.stderr + proc.stdout[-3000:]
    expected = [f(v) for v in values.values() for f in filters.values()]
    assert nul_split(out) == expected


@pytest.mark.parametrize("target", ["h01", "local"])
def test_a_query_on_stdin_reads_a_captured_value_as_one_sql_literal(
    rundir: RunDir, pwned: Path, target: str
) -> None:
    """A host's output captured, then sent to sqlite3 on stdin inside a literal: the query
    finds exactly that text, and nothing else runs."""
    hostile = f"x'); DROP TABLE t; -- $(touch {pwned}) ünï\n"
    source = rundir.path / "hostile"
    source.write_text(hostile)
    db = rundir.path / "db.sqlite"
    query = (
        "CREATE TABLE t (v TEXT);\n"
        "INSERT INTO t VALUES ({{ name | sql_literal }});\n"
        "SELECT count(*) FROM t WHERE v = {{ name | sql_literal }};\n"
    )
    out = rundir.path / "count"
    sop = rundir.write_sop(
        sop_yaml(
            "sqlite",
            steps=[
                {"id": "read", "on": target, "run": f"cat {source}", "capture": "name"},
                {
                    "id": "query",
                    "on": target,
                    "run": f"python3 -c {shlex.quote(SQLITE)} {db} > {out}",
                    "stdin": query,
                },
            ],
        )
    )

    proc = rundir.run(sop, "--yes")

    assert proc.returncode == 0, proc.stderr + proc.stdout[-3000:]
    assert out.read_text() == "1\n"


# sqlite3 the module (the CLI may be missing): runs the script on stdin, prints the last row
SQLITE = (
    "import sqlite3, sys\n"
    "db = sqlite3.connect(sys.argv[1])\n"
    "rows = None\n"
    "for statement in sys.stdin.read().split(';\\n'):\n"
    "    if statement.strip():\n"
    "        rows = db.execute(statement).fetchall()\n"
    "print(rows[0][0])\n"
)
