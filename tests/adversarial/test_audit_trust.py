"""Attacks on what the audit log proves: forged, stripped, swapped-in, truncated or rolled-back
logs; forged records after the last seal; an edited state file; logs that would forge a run
history; and run files or keys that others can write. Whoever can write the state directory
(a shared one, say) but not this user's key folder must not make `verify` say ok, make resume
restore or skip anything, or make a drill count."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from sop.audit import chain

from .conftest import Attack

FINE = """\
steps:
  - id: first
    run: echo first
  - id: second
    run: echo second
"""
PAUSED = """\
steps:
  - id: first
    run: echo safe-file
    capture: target
  - id: second
    confirm: always
    run: touch @DIR@/{{ target }}
"""
ASKED = """\
steps:
  - id: pick
    prose: Pick the mode.
    ask:
      mode: {choices: [fast, slow]}
      host: {pattern: "[a-z-]+"}
  - id: act
    confirm: always
    run: echo {{ mode | choice }} {{ host }}
"""
DESTRUCTIVE = """\
steps:
  - id: first
    run: echo first
  - id: wipe
    run: touch @DIR@/wiped && cat @DIR@/wiped-before 2>/dev/null && touch @PWNED@ || touch @DIR@/wiped-before
  - id: last
    confirm: always
    run: echo last
"""


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def store(records: list[dict[str, Any]]) -> bytes:
    """The records as a forger who recomputes the chain stores them (in the writer's form)."""
    out, prev = [], chain.GENESIS
    for seq, record in enumerate(records):
        record = dict(record)
        chain.set_link(record, seq, prev)
        prev, line = chain.stored_line(prev, record)
        out.append(line)
    return b"".join(out)


def resealed(records: list[dict[str, Any]], key0: bytes) -> bytes:
    """The records with their chain recomputed and every seal signed again under `key0`."""
    out, prev, n = [], chain.GENESIS, 0
    for seq, record in enumerate(records):
        record = dict(record)
        chain.set_link(record, seq, prev)
        if record["event"]["action"] == "seal":
            mac = chain.seal_mac(chain.nth_key(key0, n), prev)
            record["sop"]["seal"] = {"key_id": chain.key_id(key0), "n": n, "mac": mac}
            n += 1
        prev, line = chain.stored_line(prev, record)
        out.append(line)
    return b"".join(out)


def one_run(attack: Attack, body: str, *args: str, code: int = 0, name: str = "attack") -> Path:
    """A new run of `body` (written to NAME.yaml); its run directory."""
    runs = attack.state / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    result = attack.run(attack.write(body, f"{name}.yaml", sop_id=name), *args)
    assert result.returncode == code, result.stderr
    (run_dir,) = set(runs.iterdir()) - before
    return run_dir


def verify(attack: Attack, run_dir: Path, *args: str) -> tuple[int, str, str]:
    result = attack.sop("audit", "verify", run_dir.name, *args)
    return result.returncode, result.stdout, result.stderr


def resume(attack: Attack, run_dir: Path, *args: str) -> tuple[int, str]:
    result = attack.sop("resume", "--yes", *args, run_dir.name)
    attack.assert_nothing_ran()
    return result.returncode, result.stderr


# forged seals -----------------------------------------------------------------------------


def test_seals_signed_under_a_made_up_key_do_not_verify(attack: Attack) -> None:
    run_dir = one_run(attack, FINE)
    log = run_dir / "audit.jsonl"
    records = lines_of(log)
    records[0]["user"]["name"] = "trusted-admin"  # what the forger wanted to change
    log.write_bytes(resealed(records, os.urandom(32)))
    code, stdout, _ = verify(attack, run_dir)
    assert code == 1
    assert stdout.startswith(f"{log}: line 2: seal: sealed under another key (key id ")
    assert stdout.endswith("): the log is another run's, or forged\n")
    report = attack.sop("report", run_dir.name).stdout
    assert "- Audit log: **NOT VERIFIED: line 2: seal: sealed under another key" in report


def test_without_the_key_verify_does_not_say_ok(attack: Attack) -> None:
    run_dir = one_run(attack, FINE)
    (attack.keys / f"{run_dir.name}.key").unlink()
    code, stdout, stderr = verify(attack, run_dir)
    assert code == 3
    assert stdout.startswith("unproven: ") and "seal(s) were not checked (no key)" in stdout
    assert stderr.startswith(
        f"note: seals not checked: no verification key for run '{run_dir.name}' (give it with --key)"
    )
    report = json.loads(attack.sop("report", run_dir.name, "--format", "json").stdout)
    assert (report["verification"]["ok"], report["verification"]["status"]) == (True, "unproven")


def test_a_log_with_every_seal_removed_is_a_finding(attack: Attack) -> None:
    run_dir = one_run(attack, FINE)
    log = run_dir / "audit.jsonl"
    records = [r for r in lines_of(log) if r["event"]["action"] != "seal"]
    assert len(records) < chain.SEAL_EVERY  # short: no gap of 32 records gives it away
    log.write_bytes(store(records))
    (attack.keys / f"{run_dir.name}.head").unlink()  # and even without the escrowed head
    for args in ((), ("--key", str(attack.keys / f"{run_dir.name}.key"))):
        code, stdout, _ = verify(attack, run_dir, *args)
        assert (code, stdout) == (
            1,
            f"{log}: line 2: seal: no seal after the first record: seals were removed\n",
        )


def test_another_runs_key_given_by_name_is_refused(attack: Attack) -> None:
    first, second = one_run(attack, FINE), one_run(attack, FINE)  # both finished
    result = attack.sop(
        "audit", "verify", first.name, "--key", str(attack.keys / f"{second.name}.key")
    )
    assert (result.returncode, result.stderr) == (
        1,
        f"sop: error: {attack.keys / (second.name + '.key')} is the key of run '{second.name}', "
        f"not of run '{first.name}' (the run named in the log)\n",
    )
    renamed = attack.path / "incident-key.txt"  # the same key under a name that says nothing
    shutil.copy(attack.keys / f"{second.name}.key", renamed)
    renamed.chmod(0o600)
    code, stdout, _ = verify(attack, first, "--key", str(renamed))
    assert code == 1 and "line 2: seal: sealed under another key" in stdout


# swapped-in logs ------------------------------------------------------------------------------


def test_another_runs_sealed_log_in_a_runs_folder_is_refused(attack: Attack) -> None:
    victim = one_run(attack, PAUSED, code=1)
    other = one_run(attack, FINE, name="other")
    shutil.copy(other / "audit.jsonl", victim / "audit.jsonl")
    code, stdout, _ = verify(attack, victim)
    assert (code, stdout) == (
        1,
        f"{victim / 'audit.jsonl'}: line 1: moved: the log is of run '{other.name}', but lies "
        f"in the folder of run '{victim.name}': it was moved or swapped in\n",
    )
    code, stderr = resume(attack, victim, "--confirm", "second")
    assert (code, stderr) == (
        1,
        f"sop: error: {victim / 'audit.jsonl'} belongs to run '{other.name}', not to "
        f"{victim.name}: it was moved or forged\n",
    )


# truncation and rollback ----------------------------------------------------------------------


def test_a_finished_log_cut_back_to_its_first_seal_is_found_without_the_anchor(
    attack: Attack,
) -> None:
    run_dir = one_run(attack, DESTRUCTIVE, code=1)  # paused before `last`
    attack.sop("resume", "--yes", "--confirm", "last", run_dir.name)
    log = run_dir / "audit.jsonl"
    assert lines_of(log)[-2]["event"]["action"] == "run-finished"
    head = json.loads((attack.keys / f"{run_dir.name}.head").read_text())
    assert head["finished"] is True
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))
    code, stdout, _ = verify(attack, run_dir)
    assert code == 1
    assert stdout == (
        f"{log}: line 2: truncated: the log ends at seq 1, before the head the key folder kept "
        f"{head['seq']}:{head['hash'][:12]}...: it was cut back or rolled back\n"
    )
    code, stderr = resume(attack, run_dir, "--confirm", "last")
    assert code == 1
    assert "it was cut back or rolled back); sop will not resume" in stderr
    assert (attack.path / "wiped-before").exists() and not attack.pwned.exists()


def test_a_log_rolled_back_to_an_older_copy_is_refused_by_resume(attack: Attack) -> None:
    run_dir = one_run(
        attack, DESTRUCTIVE.replace("  - id: wipe\n", "  - id: wipe\n    confirm: always\n"), code=1
    )
    log = run_dir / "audit.jsonl"
    before_wipe = log.read_bytes()  # paused before `wipe`
    attack.sop("resume", "--yes", "--confirm", "wipe", run_dir.name)  # wipes, pauses at `last`
    assert (attack.path / "wiped-before").exists()
    log.write_bytes(before_wipe)  # as if `wipe` never ran
    code, stderr = resume(attack, run_dir, "--confirm", "wipe", "--confirm", "last")
    assert code == 1
    assert "it was cut back or rolled back); sop will not resume" in stderr


# the tail after the last seal -------------------------------------------------------------------


def test_a_forged_state_saved_record_after_editing_state_json_is_refused(attack: Attack) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    state_file, log = run_dir / "state.json", run_dir / "audit.jsonl"
    state = json.loads(state_file.read_text())
    state["variables"][""]["target"] = [
        "choice",
        "x; touch @PWNED@".replace("@PWNED@", str(attack.pwned)),
    ]
    text = json.dumps(state, ensure_ascii=False, sort_keys=True)
    state_file.write_text(text)
    records = lines_of(log)
    forged = {**records[-2], "event": {**records[-2]["event"], "action": "state-saved"}}
    forged["sop"] = {**records[0]["sop"], "state_sha256": hashlib.sha256(text.encode()).hexdigest()}
    last = records[-1]
    chain.set_link(forged, last["event"]["sequence"] + 1, last["event"]["hash"])
    _, line = chain.stored_line(last["event"]["hash"], forged)
    with log.open("ab") as handle:
        handle.write(line)
    code, stderr = resume(attack, run_dir, "--confirm", "second")
    assert (code, stderr) == (
        1,
        f"sop: error: {state_file} is not the state sop saved under a seal (its hash is only in "
        "records after the last verified seal: written by an older sop, or forged)\n",
    )


def test_a_forged_step_finished_after_the_last_seal_leaves_the_step_in_doubt(
    attack: Attack,
) -> None:
    """A forger appends `second` finished (unsealed) so that resume would skip it: resume
    treats it as in doubt, not done, and without a terminal stops to ask."""
    run_dir = one_run(attack, PAUSED, code=1)
    log = run_dir / "audit.jsonl"
    records = lines_of(log)
    last = records[-1]
    forged = {
        **{k: v for k, v in records[0].items() if k not in ("event", "sop")},
        "event": {"kind": "event", "action": "step-finished", "outcome": "success"},
        "sop": {**records[0]["sop"], "step": "second", "number": "2", "outcome": "success"},
    }
    for key in ("title", "path", "inputs", "targets", "dry_run"):
        forged["sop"].pop(key, None)
    chain.set_link(forged, last["event"]["sequence"] + 1, last["event"]["hash"])
    _, line = chain.stored_line(last["event"]["hash"], forged)
    with log.open("ab") as handle:
        handle.write(line)
    result = attack.sop("resume", "--yes", run_dir.name)
    assert result.returncode == 1
    assert "step 2 (second) is in doubt" in result.stderr
    assert not (attack.path / "safe-file").exists()
    # the resumed run's seals now cover the forged record too: the log says none did before
    note = next(r for r in lines_of(log) if r["event"]["action"] == "unproven")
    seq = forged["event"]["sequence"]
    assert (note["sop"], note["message"]) == (
        {**note["sop"], "from_seq": seq, "to_seq": seq},
        f"records {seq}-{seq} came after the last verified seal: nothing proves sop wrote them; "
        "their steps were treated as in doubt",
    )
    code, _, stderr = verify(attack, run_dir)
    assert code == 0
    assert (
        f"note: records {seq}-{seq} were not under a seal when the run was resumed: a later seal "
        "covers them, but nothing proves sop wrote them\n"
    ) in stderr
    again = attack.sop("resume", "--yes", run_dir.name)  # nor does a second resume count it
    assert again.stderr == (
        "sop: error: step 2 (second) needs the responder's confirmation; --yes does not give it. "
        f"Continue in a terminal (sop resume {run_dir.name}), or name the step: "
        f"sop resume {run_dir.name} --yes --confirm second\n"
    )


def test_verify_counts_the_records_after_the_last_seal(attack: Attack) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    log = run_dir / "audit.jsonl"
    records = lines_of(log)
    last = records[-1]
    extra = {**records[0], "event": {"kind": "event", "action": "step-shown"}}
    chain.set_link(extra, last["event"]["sequence"] + 1, last["event"]["hash"])
    _, line = chain.stored_line(last["event"]["hash"], extra)
    with log.open("ab") as handle:
        handle.write(line)
    code, stdout, stderr = verify(attack, run_dir)
    assert code == 3
    assert stdout.startswith(f"ok up to seq {last['event']['sequence']} (")
    assert f"unproven: the 1 record(s) after it, head {last['event']['sequence'] + 1}:" in stdout
    assert "note: 1 record(s) after the last verified seal are not covered by a seal" in stderr


# restored values --------------------------------------------------------------------------------


def test_a_restored_answer_is_checked_against_the_sops_current_rules(attack: Attack) -> None:
    path = attack.write(ASKED)
    result = attack.run(path, "-a", "mode=fast", "-a", "host=web")
    assert result.returncode == 1, result.stderr  # `act` waits for a yes
    (run_dir,) = (attack.state / "runs").iterdir()
    path.write_text(path.read_text().replace('"[a-z-]+"', '"[0-9]+"'))
    code, stderr = resume(attack, run_dir, "--confirm", "act", "--sop-changed", "hosts by number")
    assert (code, stderr) == (
        1,
        "sop: error: the saved state of attack: restored value 'host': 'web' does not match "
        "[0-9]+; sop will not use it\n",
    )


@pytest.mark.parametrize(
    ("name", "saved", "error"),
    [
        ("mode", ["choice", "fast; touch PWNED"], "'fast; touch PWNED' is not one of fast, slow"),
        ("host", ["dash", "-rf"], "'-rf' begins with '-' and could be read as an option"),
        ("target", ["choice", ["not", "text"]], "the captured output 'target' is not text"),
        ("stranger", ["plain", "x"], "'stranger' is no input, answer or capture of 'attack'"),
    ],
)
def test_a_saved_value_gets_no_wrapper_from_its_kind_tag(
    attack: Attack, name: str, saved: list[Any], error: str
) -> None:
    from sop.format.loader import load_sop
    from sop.run.scope import RestoreError, restore_variables

    sop = load_sop(
        attack.write(ASKED.replace("    run: echo", "    capture: target\n    run: echo"))
    )
    with pytest.raises(RestoreError) as caught:
        restore_variables({name: saved}, sop, "state")
    assert error in str(caught.value)


def test_a_capture_tagged_choice_is_restored_as_plain_text(attack: Attack) -> None:
    from sop import templating
    from sop.format.loader import load_sop
    from sop.run.scope import restore_variables

    sop = load_sop(attack.write(PAUSED))
    restored = restore_variables({"target": ["choice", "x; touch PWNED"]}, sop, "state")
    assert type(restored["target"]) is str
    with pytest.raises(templating.TemplateError):
        templating.render("{{ target | choice }}", restored, shell=True)
    assert templating.render("echo {{ target }}", restored, shell=True) == "echo 'x; touch PWNED'"


# history ----------------------------------------------------------------------------------------


def forged_drill(attack: Attack, real: Path, sealed_with: bytes | None) -> str:
    """A "drill" made from a real run's log by someone who can write the state directory."""
    run_id = "20991231T000000-f0f0f0f0"
    records = [
        r for r in lines_of(real / "audit.jsonl") if sealed_with or r["event"]["action"] != "seal"
    ]
    for record in records:
        record["tags"] = ["drill"]
        record["sop"]["run_id"] = run_id
    folder = attack.state / "runs" / run_id
    folder.mkdir(mode=0o700)
    data = resealed(records, sealed_with) if sealed_with else store(records)
    (folder / "audit.jsonl").write_bytes(data)
    (folder / "audit.jsonl").chmod(0o600)
    return run_id


@pytest.mark.parametrize("sealed_with", [None, b"k" * 32], ids=["unsealed", "made-up-key"])
def test_a_forged_drill_is_not_counted(attack: Attack, sealed_with: bytes | None) -> None:
    real = one_run(attack, FINE)
    run_id = forged_drill(attack, real, sealed_with)
    stats = attack.sop("stats", str(attack.path), "--runs", str(attack.state), "--format", "json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    (row,) = data["sops"]
    assert (row["runs"], row["drills"], row["last_drilled"]) == (1, 0, None)
    assert [u["run"] for u in data["untrusted"]] == [run_id]
    assert f"warning: run {run_id}: audit log untrusted (" in stats.stderr
    lint = attack.sop("lint", str(attack.path / "attack.yaml"), "--runs", str(attack.state))
    assert lint.stdout.splitlines() == [
        f"{attack.state}/runs/{run_id}/audit.jsonl: warning: audit log untrusted (no verification "
        "key: its seals cannot be checked); not counted as a run or a drill",
        "attack.yaml:1:1: warning: never drilled: rehearse it with `sop drill`",
    ]


# files others can write ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["audit.jsonl", "state.json", "lock"])
def test_a_group_writable_run_file_is_refused(attack: Attack, name: str) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    what = {"audit.jsonl": "audit log", "state.json": "run state", "lock": "run lock"}[name]
    (run_dir / name).chmod(0o620)
    expected = (
        f"sop: error: {what} {run_dir / name} is writable by other users; run `chmod go-w "
        f"{run_dir / name}` first (and check that nobody changed it)\n"
    )
    assert resume(attack, run_dir, "--confirm", "second") == (1, expected)
    result = attack.sop("audit", "verify", run_dir.name)
    assert (result.returncode, result.stderr) == (1, expected)


def test_a_symlinked_state_file_is_refused(attack: Attack) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    elsewhere = attack.path / "my-state.json"
    (run_dir / "state.json").rename(elsewhere)
    (run_dir / "state.json").symlink_to(elsewhere)
    assert resume(attack, run_dir, "--confirm", "second") == (
        1,
        f"sop: error: {run_dir / 'state.json'}: a symbolic link, where sop expects its own file\n",
    )


def test_a_run_file_of_another_user_is_refused(attack: Attack) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    os.chown(run_dir / "audit.jsonl", 65534, 65534)
    code, stderr = resume(attack, run_dir, "--confirm", "second")
    assert code == 1
    log = run_dir / "audit.jsonl"
    assert stderr == (
        f"sop: error: audit log {log} belongs to another user, nobody (uid 65534); sop trusts "
        f"only its own files here: `chown {os.geteuid()} {log}` (as root) if it is yours; to "
        "take over each other's runs, share a state directory with a group (docs/audit.md)\n"
    )


def test_a_writable_key_folder_or_a_symlinked_key_is_refused(attack: Attack) -> None:
    run_dir = one_run(attack, PAUSED, code=1)
    attack.keys.chmod(0o770)
    group = grp.getgrgid(attack.keys.stat().st_gid).gr_name
    expected = (
        f"sop: error: audit key folder {attack.keys} is writable by group {group} but not "
        "set-group-ID, so what sop makes in it would not stay the group's: run `chmod g+s "
        f"{attack.keys}` to share it with the members of {group}, or `chmod g-w {attack.keys}` "
        "to keep it private\n"
    )
    assert resume(attack, run_dir, "--confirm", "second") == (1, expected)
    assert attack.sop("audit", "verify", run_dir.name).stderr == expected
    attack.keys.chmod(0o700)
    key = attack.keys / f"{run_dir.name}.key"
    key.rename(attack.path / "moved.key")
    key.symlink_to(attack.path / "moved.key")
    assert resume(attack, run_dir, "--confirm", "second") == (
        1,
        f"sop: error: {key}: a symbolic link, where sop expects its own file\n",
    )
