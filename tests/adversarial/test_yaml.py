"""Hostile YAML: sop reads plain data only, within limits, and refuses the whole file."""

from __future__ import annotations

from .conftest import Attack

TOUCH_STEP = """\
steps:
  - id: payload
    run: touch @PWNED@
"""


def refused(attack: Attack, text: str | bytes) -> str:
    """Run a hostile file; sop must refuse it (exit 1) before anything runs. Its stderr."""
    path = attack.path / "attack.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = attack.run(path)
    assert result.returncode == 1, result.stdout + result.stderr
    attack.assert_nothing_ran()
    assert result.stdout == ""
    return result.stderr


def test_python_object_tag_is_refused(attack: Attack) -> None:
    text = attack.text("x: !!python/object/apply:os.system ['touch @PWNED@']\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:6:4: unsupported tag '!!python/object/apply:os.system': "
        "sop reads plain YAML only (no tags that build objects)\n"
    )


def test_python_name_tag_is_refused(attack: Attack) -> None:
    text = attack.text("x: !!python/name:os.system\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:6:4: unsupported tag '!!python/name:os.system': "
        "sop reads plain YAML only (no tags that build objects)\n"
    )


def test_include_tag_cannot_read_another_file(attack: Attack) -> None:
    text = attack.text("context: !include /etc/shadow\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:6:10: unsupported tag '!include': "
        "sop reads plain YAML only (no tags that build objects)\n"
    )


def test_billion_laughs_alias_bomb_is_refused(attack: Attack) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = attack.text("\n".join(lines) + "\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:9:5: the document expands to more than 50000 nodes (an alias bomb?); "
        "SOP files are small\n"
    )


def test_recursive_alias_is_refused(attack: Attack) -> None:
    text = attack.text("loop: &loop [*loop]\n" + TOUCH_STEP)
    assert refused(attack, text) == "attack.yaml:6:14: alias *loop refers to itself\n"


def test_duplicate_key_cannot_hide_a_second_command(attack: Attack) -> None:
    text = attack.text(
        """\
        steps:
          - id: harmless
            run: echo harmless
            run: touch @PWNED@
        """
    )
    assert refused(attack, text) == (
        "attack.yaml:9:5: duplicate key 'run' (first given at line 8); "
        "YAML would keep only the last one\n"
    )


def test_merge_key_is_not_a_way_to_smuggle_keys(attack: Attack) -> None:
    text = attack.text(
        """\
        steps:
          - id: harmless
            <<: {run: touch @PWNED@}
            prose: Nothing to run here.
        """
    )
    assert refused(attack, text) == (
        "attack.yaml:8:5: steps[0].<<: unknown key; expected one of acknowledge, alerts, approval, "
        "args, ask, call, canary, capture, confirm, decide, delay, drill, else, id, interactive, links, max, "
        "note, ok_exit, on, on_data, options, parallel, prose, retries, role, run, script, "
        "secrets, stdin, strict, task, timeout, title, when, with\n"
    )


def test_deep_nesting_is_refused(attack: Attack) -> None:
    text = attack.text("context: " + "[" * 100 + "]" * 100 + "\n" + TOUCH_STEP)
    assert refused(attack, text) == "attack.yaml:6:73: nested deeper than 64 levels\n"


def test_huge_file_is_refused_before_it_is_parsed(attack: Attack) -> None:
    text = attack.text(TOUCH_STEP) + "".join(f"# padding {i:07d}\n" for i in range(70_000))
    assert refused(attack, text) == (
        "attack.yaml:1:1: file is 1.3 MB; sop reads YAML files up to 1 MiB\n"
    )


def test_huge_value_is_refused(attack: Attack) -> None:
    text = attack.text("context: " + "A" * (1024 * 1024) + "\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:1:1: file is 1.0 MB; sop reads YAML files up to 1 MiB\n"
    )


def test_non_utf8_file_is_refused_with_the_byte_named(attack: Attack) -> None:
    text = attack.text("title2: caf\xe9\n" + TOUCH_STEP).encode("latin-1")
    assert refused(attack, text) == (
        "attack.yaml:6:12: not valid UTF-8: byte 0xe9 cannot be decoded; save the file as UTF-8\n"
    )


def test_utf16_file_is_refused(attack: Attack) -> None:
    text = attack.text(TOUCH_STEP).encode("utf-16")
    assert refused(attack, text) == (
        "attack.yaml:1:1: not valid UTF-8: byte 0xff cannot be decoded; save the file as UTF-8\n"
    )


def test_second_document_cannot_smuggle_steps(attack: Attack) -> None:
    text = attack.text("steps:\n  - prose: Read this.\n---\n" + TOUCH_STEP)
    assert refused(attack, text) == (
        "attack.yaml:8:1: more than one YAML document; an SOP file holds one\n"
    )
