"""Injection: inputs, `ask` answers and output captured from a host go into commands as one
quoted word each, never as shell syntax, options or templates. A compromised host must not be
able to inject into the next command."""

from __future__ import annotations

import pytest

from .conftest import Attack, messages, records

ECHO_INPUT = """\
inputs:
  x: {}
steps:
  - id: use
    run: printf '<%s>' {{ x }}
"""


def run_with_input(attack: Attack, value: str) -> str:
    result = attack.run(attack.write(ECHO_INPUT), "-i", f"x={value}")
    assert result.returncode == 0, result.stderr
    attack.assert_nothing_ran()
    return result.stdout


@pytest.mark.parametrize(
    "payload",
    [
        "$(touch @PWNED@)",
        "`touch @PWNED@`",
        "a; touch @PWNED@",
        "a && touch @PWNED@",
        "a | touch @PWNED@",
        "a' ; touch @PWNED@ ; echo 'b",
        'a" ; touch @PWNED@ ; echo "b',
        "a\ntouch @PWNED@",
        "$(printf '\\x74ouch @PWNED@' | sh)",
    ],
    ids=[
        "command-substitution",
        "backticks",
        "semicolon",
        "and-list",
        "pipe",
        "single-quote-breakout",
        "double-quote-breakout",
        "newline",
        "encoded-substitution",
    ],
)
def test_shell_metacharacters_in_an_input_stay_one_literal_word(
    attack: Attack, payload: str
) -> None:
    value = payload.replace("@PWNED@", str(attack.pwned))
    assert f"<{value}>" in run_with_input(attack, value).replace("\r", "")


def test_option_injection_through_an_input_is_refused(attack: Attack) -> None:
    result = attack.run(
        attack.write(ECHO_INPUT.replace("printf '<%s>'", "ssh")),
        "-i",
        f"x=-oProxyCommand=touch {attack.pwned}",
    )
    assert (result.returncode, result.stdout) == (1, "")
    attack.assert_nothing_ran()
    assert result.stderr == (
        f"sop: error: input 'x': '-oProxyCommand=touch {attack.pwned}' begins with '-' and could "
        "be read as an option; the SOP must set `allow_dash: true` to accept it\n"
    )


def test_a_template_in_an_input_is_not_rendered_again(attack: Attack) -> None:
    value = "{{ lipsum.__globals__['os'].system('touch @PWNED@') }}".replace(
        "@PWNED@", str(attack.pwned)
    )
    assert f"<{value}>" in run_with_input(attack, value)


ASK = """\
steps:
  - id: which
    prose: Which path?
    ask: {answer: {default: /tmp}}
  - id: use
    run: printf '<%s>' {{ answer }}
"""


def test_command_substitution_in_an_ask_answer_is_inert(attack: Attack) -> None:
    payload = f"$(touch {attack.pwned})"
    result = attack.run(attack.write(ASK), "-a", f"answer={payload}")
    assert result.returncode == 0, result.stderr
    attack.assert_nothing_ran()
    assert f"<{payload}>" in result.stdout


def test_option_injection_through_an_ask_answer_is_refused(attack: Attack) -> None:
    result = attack.run(attack.write(ASK), "-a", f"answer=-oProxyCommand=touch {attack.pwned}")
    assert result.returncode == 1
    attack.assert_nothing_ran()
    assert result.stderr == (
        f"sop: error: answer 'answer': '-oProxyCommand=touch {attack.pwned}' begins with '-' and "
        "could be read as an option; the SOP must set `allow_dash: true` to accept it\n"
    )


def test_a_newline_in_an_ask_answer_stays_inside_the_word(attack: Attack) -> None:
    result = attack.run(attack.write(ASK), "-a", f"answer=x\ntouch {attack.pwned}")
    assert result.returncode == 0, result.stderr
    attack.assert_nothing_ran()
    assert f"<x\ntouch {attack.pwned}>" in result.stdout


# --- output captured from a (compromised) host, reused in a later step -----------------------

CAPTURED = """\
steps:
  - id: compromised
    run: cat @DIR@/evil-output
    capture: out
  - id: next
    run: printf '<%s>' {{ out }}
"""


def reuse_output(attack: Attack, output: bytes) -> tuple[int, str]:
    """A host prints `output`; the next step puts it into a command."""
    (attack.path / "evil-output").write_bytes(output.replace(b"@PWNED@", bytes(attack.pwned)))
    result = attack.run(attack.write(CAPTURED))
    attack.assert_nothing_ran()
    return result.returncode, result.stdout


def test_command_substitution_in_captured_output_is_inert(attack: Attack) -> None:
    code, stdout = reuse_output(attack, b"$(touch @PWNED@)`touch @PWNED@`; touch @PWNED@")
    assert code == 0
    pwned = attack.pwned
    assert f"<$(touch {pwned})`touch {pwned}`; touch {pwned}>" in stdout


def test_newline_in_captured_output_cannot_start_a_new_command(attack: Attack) -> None:
    code, stdout = reuse_output(attack, b"ok\ntouch @PWNED@\n")
    assert code == 0
    assert f"<ok\ntouch {attack.pwned}\n>" in stdout


def test_option_in_captured_output_is_refused(attack: Attack) -> None:
    code, _ = reuse_output(attack, b"-oProxyCommand=touch @PWNED@")
    assert code == 1
    assert messages(attack)[-1] == (
        "Cannot prepare this step: refusing to put '-oProxyCommand=touch "
        f"{str(attack.pwned)[:16]}...' into a command: it begins with '-' and would be read as "
        "an option (an input may allow it with `allow_dash: true`)"
    )
    assert not [r for r in records(attack) if r["sop"].get("step") == "next" and "process" in r]


def test_nul_in_captured_output_is_refused(attack: Attack) -> None:
    code, _ = reuse_output(attack, b"safe\0; touch @PWNED@")
    assert code == 1
    assert messages(attack)[-1] == (
        "Cannot prepare this step: a template value contains a NUL byte; "
        "it cannot be put into a command"
    )


def test_template_in_captured_output_is_not_rendered_again(attack: Attack) -> None:
    code, stdout = reuse_output(
        attack, b"{{ cycler.__init__.__globals__.os.system('touch @PWNED@') }}"
    )
    assert code == 0
    assert "<{{ cycler.__init__.__globals__.os.system(" in stdout


def test_captured_output_cannot_name_a_target_outside_the_inventory(attack: Attack) -> None:
    (attack.path / "inventory.yaml").write_text("hosts:\n  web-1: {address: 127.0.0.1}\n")
    (attack.path / "evil-output").write_text(f"web-1;touch {attack.pwned}")
    path = attack.write(
        """\
        steps:
          - id: compromised
            run: cat @DIR@/evil-output
            capture: out
            on: local
          - id: next
            on: "{{ out }}"
            run: echo hello
        """
    )
    result = attack.run(path)
    attack.assert_nothing_ran()
    assert result.returncode == 1
    shown = f"web-1;touch {attack.pwned}"[:57] + "..."  # a long value is cut short
    assert messages(attack)[-1] == (
        f"Cannot prepare this step: target '{{{{ out }}}}' is '{shown}' (not "
        "one host name): a target built from run data (inputs, answers, captures) must name one "
        "host of the inventory"
    )


def test_terminal_escapes_in_host_output_are_shown_as_text(attack: Attack) -> None:
    (attack.path / "evil-output").write_bytes(b"\x1b]0;owned\x07\x1b[2K\r\xe2\x9c\x94 ok\n")
    result = attack.run(attack.write(CAPTURED.replace("printf '<%s>' {{ out }}", "true")))
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "␛]0;owned␇␛[2K␍✔ ok" in result.stdout
