"""Secrets: a canary secret goes everywhere a value can go; none of its forms reaches any sink
(terminal, --debug output, tracebacks, audit log, resume state, report, rendered pages)."""

from __future__ import annotations

import base64
import html
import json
import resource
import shlex
import subprocess
import urllib.parse

from . import conftest
from .conftest import Attack, records

CANARY = "c4nary-$(touch PWNED)-'quote'-\"dq\""
ENV = {"ATTACK_TOKEN": CANARY}


def write_sop(attack: Attack, text: str = "") -> str:
    (attack.path / "tasks.py").write_text(TASKS)
    return attack.name(attack.write(text or SOP))


def forms(secret: str) -> dict[str, str]:
    return {
        "raw": secret,
        "shell-quoted": shlex.quote(secret),
        "json": json.dumps(secret)[1:-1],
        "url-encoded": urllib.parse.quote(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
    }


def assert_no_canary(where: str, text: str) -> None:
    for name, form in forms(CANARY).items():
        assert form not in text, f"the {name} form of the secret is in {where}"


TASKS = """\
from invoke import task


@task
def leak(c):
    secret = c.run('printf "%s" "$SOP_SECRET_TOKEN"', hide=True).stdout
    raise RuntimeError("leaking " + secret)
"""
SOP = """\
tasks: tasks.py
inputs:
  token: {secret: true, env: ATTACK_TOKEN}
steps:
  - id: plain
    run: printf '%s\\n' "$SOP_SECRET_TOKEN"
    capture: echoed
  - id: encoded
    script: |
      printf '%s' "$SOP_SECRET_TOKEN" | base64 -w0; echo
      python3 -c 'import json,os,shlex,urllib.parse as u; s=os.environ["SOP_SECRET_TOKEN"]; print(json.dumps(s), u.quote(s), shlex.quote(s))'
  - id: raises
    task: leak
    secrets: [token]
"""


def test_the_canary_reaches_no_sink(attack: Attack) -> None:
    result = attack.sop("--debug", "run", "--yes", write_sop(attack), env=ENV)
    assert result.returncode == 1  # the task raised
    assert "RuntimeError: leaking ********" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_canary("stdout", result.stdout)
    assert_no_canary("--debug output (stderr)", result.stderr)
    (run_dir,) = (attack.state / "runs").iterdir()
    for name in ("audit.jsonl", "state.json"):
        assert_no_canary(name, (run_dir / name).read_text())
    for args in (("report", run_dir.name), ("audit", "show", run_dir.name)):
        shown = attack.sop(*args)
        assert shown.returncode == 0, shown.stderr
        assert_no_canary(f"sop {' '.join(args[:-1])}", shown.stdout + shown.stderr)
    attack.assert_nothing_ran()


def test_debug_output_of_a_failing_command_masks_the_secret(attack: Attack) -> None:
    """--debug prints every event, the failing command's stderr too: the secret is masked."""
    path = write_sop(
        attack, SOP.replace("run: printf", "run: printf '%s' \"$SOP_SECRET_TOKEN\" >&2; exit 7 #")
    )
    result = attack.sop("--debug", "run", "--yes", path, env=ENV)
    assert result.returncode == 1
    assert_no_canary("--debug output", result.stdout + result.stderr)
    assert "********" in result.stdout + result.stderr


def test_a_secret_on_the_command_line_is_refused(attack: Attack) -> None:
    result = attack.run(attack.path / write_sop(attack), "-i", f"token={CANARY}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        "sop: error: secret input 'token' cannot be given on the command line (it would be seen "
        "in ps and shell history); use $ATTACK_TOKEN, --secret-file token=PATH, or answer the "
        "prompt\n"
    )


def test_a_secret_too_short_to_mask_is_refused(attack: Attack) -> None:
    result = attack.run(attack.path / write_sop(attack), env={"ATTACK_TOKEN": "short"})
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        "sop: error: input 'token': a secret must be at least 8 characters (to be masked safely)\n"
    )


def test_rendered_pages_hold_no_secret_value(attack: Attack) -> None:
    write_sop(attack)
    for fmt in ("markdown", "html", "confluence"):
        result = attack.sop("render", "attack.yaml", "--format", fmt, "--out", fmt, env=ENV)
        assert result.returncode == 0, result.stderr
        for page in (attack.path / fmt).iterdir():
            assert_no_canary(f"{fmt} page {page.name}", page.read_text())


ENCODINGS_SOP = """\
inputs:
  token: {secret: true, env: ATTACK_TOKEN}
steps:
  - id: encoded
    script: |
      python3 - <<'PY'
      import base64, html, os, re, urllib.parse as u
      s = os.environ["SOP_SECRET_TOKEN"]
      b = s.encode()
      print("Authorization: Basic " + base64.b64encode(b"admin:" + b).decode())
      for pad in (b"x", b"xy"):
          print(base64.urlsafe_b64encode(pad + b + b"tail").decode().rstrip("="))
      print(base64.encodebytes(b"A" * 50 + b + b"B" * 60).decode())
      print(b.hex(), b.hex().upper())
      print(re.sub("%..", lambda m: m[0].lower(), u.quote(s, safe="")), u.quote_plus(s))
      print(html.escape(s), html.escape(s).replace("&#x27;", "&#39;"))
      PY
    capture: leaked
"""


def encoded_forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "Basic auth": base64.b64encode(b"admin:" + raw).decode(),
        "base64 middle, alignment 1": base64.urlsafe_b64encode(b"x" + raw).decode()[4:-4],
        "base64 middle, alignment 2": base64.urlsafe_b64encode(b"xy" + raw).decode()[4:-4],
        "lower-case URL": urllib.parse.quote(secret, safe="").lower()[:20],
        "HTML": html.escape(secret),
    }


def test_encoded_secrets_in_output_and_captures_are_masked(attack: Attack) -> None:
    """curl -u user:$SECRET -v, base64 at any offset, wrapped, hex, URL, HTML: masked in the
    terminal, the audit log (output and capture) and the resume state."""
    result = attack.run(attack.write(ENCODINGS_SOP), env=ENV)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (attack.state / "runs").iterdir()
    sinks = {
        "stdout": result.stdout,
        "audit.jsonl": (run_dir / "audit.jsonl").read_text(),
        "state.json": (run_dir / "state.json").read_text(),
    }
    for where, text in sinks.items():
        for name, form in encoded_forms(CANARY).items():
            assert form not in text, f"the {name} form of the secret is in {where}"
    assert "Authorization: Basic YWRtaW46********" in result.stdout
    assert "\\u0022leaked\\u0022" not in sinks["state.json"]
    assert '"leaked"' in sinks["state.json"]  # the capture is kept, masked


SECRET_ASK = """\
steps:
  - id: login
    prose: Log in to the console.
    ask:
      password: {secret: true, help: the console password}
  - id: use
    run: touch @PWNED@
"""


def test_a_secret_answer_on_the_command_line_is_refused(attack: Attack) -> None:
    result = attack.run(attack.write(SECRET_ASK), "-a", f"password={CANARY}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        "sop: error: secret answer 'password' cannot be given on the command line (it would be "
        "seen in ps and shell history); answer it at the prompt (run in a terminal, without "
        "--yes)\n"
    )
    assert not (attack.state / "runs").exists()


def test_a_called_sops_secret_answer_on_the_command_line_is_refused(attack: Attack) -> None:
    attack.write(SECRET_ASK, "callee.yaml", sop_id="callee")
    caller = attack.write("steps:\n  - id: login\n    call: callee\n")
    result = attack.run(caller, "-a", f"password={CANARY}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert CANARY not in result.stdout + result.stderr
    assert "secret answer 'password' cannot be given on the command line" in result.stdout
    finished = [r for r in records(attack) if r["event"]["action"] == "run-finished"]
    assert len(finished) == 1  # the call step is broken; the run ends properly


def test_a_run_holding_a_secret_dumps_no_core(attack: Attack) -> None:
    """sop starts with core dumps allowed; once it holds a secret a crash must not write it to
    a core file: its commands inherit its limit, so one reports it."""
    body = "steps:\n  - id: limit\n    run: ulimit -c > @DIR@/limit\n"
    for name, inputs in (
        ("plain", ""),
        ("secret", "inputs:\n  token: {secret: true, env: ATTACK_TOKEN}\n"),
    ):
        path = attack.write(inputs + body, f"{name}.yaml", sop_id=name)
        result = subprocess.run(
            [str(conftest.SOP), "run", "--yes", attack.name(path)],
            cwd=attack.path,
            env=attack.env(**ENV),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=allow_core_dumps,
        )
        assert result.returncode == 0, result.stderr
        limit = (attack.path / "limit").read_text().strip()
        assert limit == ("0" if name == "secret" else "unlimited"), name


def allow_core_dumps() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
