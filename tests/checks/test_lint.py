"""`sop lint`: what the schema cannot see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sop.checks.lint import lint_paths
from tests.conftest import MINIMAL, REPO

TODAY = dt.date(2026, 11, 28)


def lint(*paths: Path, inventory: Path | None = None) -> list[str]:
    return [str(p) for p in lint_paths(paths, today=TODAY, inventory=inventory).problems]


def test_the_example_library_is_clean() -> None:
    report = lint_paths([REPO / "runbooks"], today=dt.date(2026, 11, 28))
    assert report.problems == ()
    assert report.files >= 2


def test_undefined_template_variable(write: Callable[..., Path]) -> None:
    path = write(MINIMAL.replace("echo hello", "echo {{ hots }}") + "inputs:\n  host: {}\n")
    assert lint(path) == [
        "sop.yaml:8:5: steps[0].run: undefined variable 'hots': not an input, an answer or a capture"
    ]


def test_answers_and_captures_are_defined_for_later_steps_only(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - run: echo {{ answer }} {{ out }}
  - prose: What now?
    ask: {answer: {default: x}}
  - run: uptime
    capture: out
  - run: echo {{ answer }} {{ out }} {{ run_id }} {{ trace_id }}
rollback:
  - run: echo {{ out }}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[1].run: 'answer' is set by step 3 (step-3), which comes later",
        "sop.yaml:9:5: steps[1].run: 'out' is set by step 4 (step-4), which comes later",
    ]


def test_template_syntax_error_and_include(write: Callable[..., Path]) -> None:
    text = MINIMAL + "  - prose: 'Look at {{ oops'\n  - prose: \"{% include '/etc/passwd' %}\"\n"
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[1].prose: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
        "sop.yaml:10:5: steps[2].prose: 'include' is not allowed: SOP text cannot read other files",
    ]


def test_secret_in_a_command_template(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL.replace("echo hello", "curl -H {{ token }} x")
        + "inputs:\n  token: {secret: true}\n"
    )
    assert lint(write(text)) == [
        "sop.yaml:8:5: steps[0].run: secret input 'token' would be put on a command line; "
        "commands get it from the environment as $SOP_SECRET_TOKEN"
    ]


def test_template_inside_quotes_warns(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace("echo hello", 'echo "{{ host }}"') + "inputs:\n  host: {}\n"
    assert lint(write(text)) == [
        'sop.yaml:8:5: steps[0].run: warning: template inside quotes in `echo "{{ host }}"`: '
        "sop quotes every value for the shell; remove the quotes around it"
    ]


def test_quotes_go_on_over_line_ends_and_comments_end_at_theirs(
    write: Callable[..., Path],
) -> None:
    script = (
        'script: |\n      # don\'t stop here\n      curl -H "a: $(cat f\n      )" {{ host }}\n'
        "      python3 -c 'print(1,\n      {{ host }})'\n"
    )
    text = MINIMAL.replace("run: echo hello", script) + "inputs:\n  host: {}\n"
    assert lint(write(text)) == [
        "sop.yaml:8:5: steps[0].script: warning: template inside quotes in `{{ host }})'`: "
        "sop quotes every value for the shell; remove the quotes around it"
    ]


def test_a_raw_block_is_text_even_inside_quotes(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace(
        "echo hello", "oc get -o go-template='{% raw %}{{.name}}{% endraw %}' pods"
    )
    assert lint(write(text)) == []


def test_a_step_that_says_todo_warns(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace(
        "    run: echo hello",
        "    run: echo hello\n  - prose: |\n      Resize it.\n\n      TODO: which size?\n"
        "  - script: |\n      # FIXME the real command\n      true\n",
    )
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[1].prose: warning: step 2 (step-2) is unfinished: `TODO: which size?`",
        "sop.yaml:13:5: steps[2].script: warning: step 3 (step-3) is unfinished: "
        "`# FIXME the real command`",
    ]


def test_a_heading_with_no_step_under_it_warns(write: Callable[..., Path]) -> None:
    """Its title and note would be shown nowhere: no run, show or page shows an empty section."""
    text = MINIMAL.replace(
        "  - id: hello\n",
        "  - heading: Escalation\n    note: Call the DBA.\n  - heading: Fix\n  - id: hello\n",
    ).replace("    run: echo hello\n", "    run: echo hello\n  - heading: Afterwards\n")
    assert lint(write(text)) == [
        "sop.yaml:7:5: steps[0].heading: warning: heading 'Escalation' has no step under it: "
        "no run or page shows it (nor its note); put its text in a prose step under it, "
        "or remove it",
        "sop.yaml:12:5: steps[3].heading: warning: heading 'Afterwards' has no step under it: "
        "no run or page shows it; put its text in a prose step under it, or remove it",
    ]


def test_missing_owner_review_and_stale_review(write: Callable[..., Path]) -> None:
    bare = MINIMAL.replace("owner: team\nreviewed: 2026-11-01\n", "")
    stale = MINIMAL.replace("2026-11-01", "2025-01-02").replace("id: minimal", "id: stale")
    assert lint(write(bare, "a.yaml"), write(stale, "b.yaml")) == [
        "a.yaml:1:1: owner: warning: no owner: who keeps this SOP true?",
        "a.yaml:1:1: reviewed: warning: no review date: add `reviewed: YYYY-MM-DD`",
        "b.yaml:5:1: reviewed: warning: last reviewed 695 days ago (over 180); review it and update the date",
    ]


def test_task_that_the_tasks_module_does_not_define(
    write: Callable[..., Path], in_tmp: Path
) -> None:
    (in_tmp / "tasks.py").write_text(
        "from invoke import task\n\n@task\ndef rotate_logs(c, keep=3):\n    'Rotate.'\n"
    )
    text = (
        MINIMAL.replace("steps:", "tasks: tasks.py\nsteps:")
        + "  - task: rotate-logs\n  - task: restart\n"
    )
    assert lint(write(text)) == [
        "sop.yaml:11:5: steps[2].task: no task 'restart' in tasks.py (it defines: rotate-logs)"
    ]


def test_tasks_module_that_does_not_parse(write: Callable[..., Path], in_tmp: Path) -> None:
    """Lint reads the tasks file and never imports it: a syntax error is its one failure."""
    (in_tmp / "tasks.py").write_text("def broken(:\n")
    text = MINIMAL.replace("steps:", "tasks: tasks.py\nsteps:") + "  - task: anything\n"
    problems = lint(write(text))
    assert problems == [
        f"sop.yaml:6:1: tasks: {(in_tmp / 'tasks.py')}:1: the tasks do not parse: invalid syntax"
    ]


def test_target_missing_from_inventory(write: Callable[..., Path]) -> None:
    write("hosts:\n  web-1: {address: 127.0.0.2}\ngroups:\n  web: [web-1]\n", "inventory.yaml")
    text = MINIMAL + "    on: [web, db-9, local, '{{ host }}']\ninputs:\n  host: {}\n"
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[0].on[1]: target 'db-9' is not a host or group of inventory.yaml"
    ]


def test_target_without_inventory(write: Callable[..., Path]) -> None:
    assert lint(write(MINIMAL + "on: web-1\n")) == [
        "sop.yaml:9:1: on[0]: target 'web-1' needs an inventory (runbooks/inventory.yaml or --inventory)"
    ]


def test_calls_must_exist_pass_known_inputs_and_not_loop(write: Callable[..., Path]) -> None:
    a = (
        MINIMAL.replace("id: minimal", "id: a")
        + "  - call: b\n    with: {host: x, colour: red}\n  - call: nope\n"
    )
    b = MINIMAL.replace("id: minimal", "id: b") + "  - call: a\ninputs:\n  host: {required: true}\n"
    assert lint(write(a, "a.yaml"), write(b, "b.yaml")) == [
        "a.yaml:9:5: steps[1].call: calls loop: a -> b -> a",
        "a.yaml:10:5: steps[1].with.colour: 'b' has no input 'colour'",
        "a.yaml:11:5: steps[2].call: no SOP with id 'nope'",
        "b.yaml:9:5: steps[1].call: calls loop: b -> a -> b",
    ]


def test_an_id_that_two_files_have_is_an_error_naming_both(write: Callable[..., Path]) -> None:
    write(MINIMAL, "a.yaml")
    write("# the same SOP, copied\n" + MINIMAL, "team/b.yaml")
    write(MINIMAL.replace("id: minimal", "id: other"), "c.yaml")
    assert lint(Path("a.yaml"), Path("c.yaml"), Path("team")) == [
        "team/b.yaml:3:1: id: duplicate SOP id 'minimal': a.yaml:2:1 has it too; "
        "give each SOP its own id",
    ]


def test_unknown_filters_and_tests_are_errors(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL + "  - prose: '{{ run_id | shout }}'\n  - run: 'true'\n    when: run_id is loud\n"
    )
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[1].prose: template syntax error: No filter named 'shout'.",
        "sop.yaml:11:5: steps[2].when: template syntax error: No test named 'loud'.",
    ]


def test_schema_errors_are_lint_errors(write: Callable[..., Path]) -> None:
    assert lint(write("sop: 1\n")) == [
        "sop.yaml:1:1: missing required key 'id'",
        "sop.yaml:1:1: missing required key 'title'",
        "sop.yaml:1:1: missing required key 'steps'",
    ]


def test_drill_scenarios_name_existing_steps(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + "scenarios:\n  flaky:\n    steps:\n      hello: [{exit: 1}, {exit: 0}]\n      helo: {exit: 2}\n"
    )
    assert lint(write(text)) == [
        "sop.yaml:13:7: scenarios.flaky.steps.helo: no step 'helo' in this SOP"
    ]


def test_drill_scenarios_answer_decide_steps_with_their_answers(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - id: fork
    decide: Which way?
    options: {left: l, right: r}
  - heading: L
    id: l
  - prose: Left.
  - heading: R
    id: r
  - prose: Right.
scenarios:
  lost:
    answers:
      fork: [left, straight, straight]
      hello: left
      helo: right
      other: [else]
"""
    )
    also = "a scenario answers decide steps (by id) and questions (by name)"
    assert lint(write(text)) == [
        "sop.yaml:21:7: scenarios.lost.answers.fork: 'straight' is not an answer of step 2 "
        "(fork); one of: left, right",
        f"sop.yaml:22:7: scenarios.lost.answers.hello: step 'hello' is a run step: {also}",
        f"sop.yaml:23:7: scenarios.lost.answers.helo: no step 'helo': {also}",
        f"sop.yaml:24:7: scenarios.lost.answers.other: no step 'other': {also}",
    ]


def test_drill_scenarios_set_inputs_and_answer_questions_with_values_they_accept(
    write: Callable[..., Path],
) -> None:
    text = MINIMAL.replace(
        "steps:\n",
        "inputs:\n"
        "  host: {required: true, pattern: '^[a-z0-9-]+$', drill: web-1}\n"
        "  token: {secret: true}\n"
        "steps:\n",
    ) + (
        """\
  - prose: How bad?
    ask:
      severity: {choices: [low, high], drill: low}
      pin: {secret: true}
scenarios:
  bad:
    inputs:
      host: web-2
      hots: web-3
      token: abcdefgh
    answers:
      severity: [high, urgent]
      pin: "1234"
      sevrity: high
  fine:
    inputs: {host: Web_2}
    answers: {severity: high}
"""
    )
    also = "a scenario answers decide steps (by id) and questions (by name)"
    assert lint(write(text)) == [
        "sop.yaml:20:7: scenarios.bad.inputs.hots: no input 'hots' (inputs: host, token)",
        "sop.yaml:21:7: scenarios.bad.inputs.token: 'token' is secret: a drill makes up its value",
        "sop.yaml:23:7: scenarios.bad.answers.severity: 'urgent' is not one of low, high",
        "sop.yaml:24:7: scenarios.bad.answers.pin: 'pin' is secret: a drill makes up its value",
        f"sop.yaml:25:7: scenarios.bad.answers.sevrity: no step 'sevrity': {also}",
        "sop.yaml:27:14: scenarios.fine.inputs.host: 'Web_2' does not match ^[a-z0-9-]+$",
    ]


SECRET_INPUT = "inputs:\n  token: {secret: true}\n"


def test_a_step_names_only_secrets_the_sop_declares(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL.replace("echo hello", 'test -n "$SOP_SECRET_TOKN"')
        + "    secrets: [token, password]\n"
        + SECRET_INPUT
    )
    assert lint(write(text)) == [
        "sop.yaml:8:5: steps[0].run: $SOP_SECRET_TOKN is not the variable of a secret of this SOP "
        "(its secrets: token); the command would find it empty",
        "sop.yaml:9:5: steps[0].secrets: 'password' is not a secret of this SOP (its secrets: token)",
    ]


def test_a_secret_of_an_input_that_is_not_secret_is_undeclared(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace("echo hello", 'test -n "${SOP_SECRET_USER}"') + "inputs:\n  user: {}\n"
    assert lint(write(text)) == [
        "sop.yaml:8:5: steps[0].run: $SOP_SECRET_USER is not the variable of a secret of this SOP "
        "(it declares none); the command would find it empty",
    ]


def test_a_secret_expanded_as_an_argument_warns(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL.replace(
            "run: echo hello",
            "script: |\n"
            "      curl -fsS -u deploy:$SOP_SECRET_TOKEN https://ci.example.com\n"
            '      mysql -p"$SOP_SECRET_TOKEN" -e "select 1"\n'
            "      printf '%s' \"$SOP_SECRET_TOKEN\" | vault login -\n"
            '      PGPASSWORD="$SOP_SECRET_TOKEN" psql -h db -c "select 1"\n'
            "      vault login - <<EOF\n"
            "      $SOP_SECRET_TOKEN\n"
            "      EOF",
        )
        + SECRET_INPUT
    )
    assert lint(write(text)) == [
        "sop.yaml:8:5: steps[0].script: warning: $SOP_SECRET_TOKEN is an argument of `curl` in "
        "`curl -fsS -u deploy:$SOP_SECRET_TOKEN https://ci.example.com`: any user of the host sees "
        "it in `ps` while the command runs; give it on stdin (a pipe from printf, a here-document) "
        "or in a file",
        "sop.yaml:8:5: steps[0].script: warning: $SOP_SECRET_TOKEN is an argument of `mysql` in "
        '`mysql -p"$SOP_SECRET_TOKEN" -e "select 1"`: any user of the host sees it in `ps` while '
        "the command runs; give it on stdin (a pipe from printf, a here-document) or in a file",
    ]


def test_a_target_from_a_capture_or_an_answer_warns(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
    capture: out
  - prose: Which host?
    ask: {host: {}}
  - run: uptime
    on: "{{ out }}"
  - run: uptime
    on: ["{{ host }}"]
    on_data: [group, local]
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:13:5: steps[2].on[0]: warning: target '{{ out }}' is built from run data "
        "(capture 'out'): a host's output or an answer decides where the step runs. When it runs "
        "it must name one host of the inventory, else nothing runs (`on_data: group` or "
        f"`on_data: local` allows more; {ACK})",
        "sop.yaml:15:5: steps[3].on[0]: warning: target '{{ host }}' is built from run data "
        "(answer 'host'): a host's output or an answer decides where the step runs. When it runs "
        "it must name one host of the inventory or a group or `local`, else nothing runs "
        f"(`on_data: group` or `on_data: local` allows more; {ACK})",
    ]


ACK = "`acknowledge: {target: REASON}` on the step says why it is fine"


def test_a_step_acknowledges_a_warning_with_its_reason(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - prose: Which standby?
    ask: {replica: {}}
  - run: uptime
    on: "{{ replica }}"
    acknowledge:
      target: the responder names the standby; sop runs only on a host of the inventory
  - run: uptime
    acknowledge: {todo: nothing here is unfinished}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:16:5: steps[3].acknowledge.todo: warning: acknowledges no `todo` warning of "
        "this step: remove it, or it hides the next one nobody has weighed"
    ]
    weighed = "    acknowledge:\n      target: the responder names the standby; sop runs only"
    unweighed = text.replace(weighed, "    note: the responder names the standby; sop runs only")
    assert "steps[2].on[0]: warning: target '{{ replica }}' is built from run data" in "".join(
        lint(write(unweighed))
    )
    broken = (
        MINIMAL + "    acknowledge: {target: ''}\n  - run: uptime\n    acknowledge: {metadata: x}\n"
    )
    assert lint(write(broken)) == [
        "sop.yaml:9:27: steps[0].acknowledge.target: must not be empty",
        "sop.yaml:11:19: steps[1].acknowledge.metadata: a warning a step may acknowledge: "
        "target, path, quoting, secret, task, template, todo",
    ]


def test_a_target_from_an_input_does_not_warn(write: Callable[..., Path]) -> None:
    text = MINIMAL + '    on: "{{ host }}"\ninputs:\n  host: {}\n'
    assert lint(write(text), inventory=None) == []


def test_two_secrets_with_one_variable_are_an_error(write: Callable[..., Path]) -> None:
    text = MINIMAL + "inputs:\n  token: {secret: true}\n  TOKEN: {secret: true}\n"
    assert lint(write(text)) == [
        "sop.yaml:1:1: inputs: secrets 'TOKEN' and 'token' are both $SOP_SECRET_TOKEN: rename one"
    ]


def test_a_default_must_fit_its_own_pattern_and_choices(write: Callable[..., Path]) -> None:
    """As a run would check it: choices, then the pattern; an optional input's empty default
    and a number that matches are fine."""
    text = (
        MINIMAL
        + "    ask: {answer: {choices: [a, b], default: c}}\n"
        + "inputs:\n"
        + "  host: {pattern: '^[a-z0-9.-]+$', default: Web 1}\n"
        + "  mode:\n"
        + "    choices: [fast, safe]\n"
        + "    pattern: '^f'\n"
        + "    default: safe\n"
        + "  optional: {pattern: '^x$', default: ''}\n"
        + "  count: {pattern: '^[0-9]+$', default: 3}\n"
    )
    assert lint(write(text.replace("run: echo hello", "prose: Which?"))) == [
        "sop.yaml:9:37: steps[0].ask.answer.default: 'c' is not one of its choices (a, b)",
        "sop.yaml:11:36: inputs.host.default: 'Web 1' does not match its pattern ^[a-z0-9.-]+$",
        "sop.yaml:15:5: inputs.mode.default: 'safe' does not match its pattern ^f",
    ]


def test_step_results_name_earlier_steps_of_the_sop(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
  - id: branch
    when: steps.hello.exit_code == 0 and steps['later-one'].outcome == 'success'
    run: echo {{ steps.nope.stdout }} {{ steps.branch.exit_code }}
  - id: later-one
    run: echo {{ steps.hello.hosts['local'].stdout }}
rollback:
  - run: echo {{ steps['later-one'].exit_code }}
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:10:5: steps[1].when: 'steps.later-one': step 3 (later-one) comes later",
        "sop.yaml:11:5: steps[1].run: 'steps.branch': a step cannot read its own result",
        "sop.yaml:11:5: steps[1].run: 'steps.nope': no step 'nope' in this SOP",
    ]


def test_steps_is_no_name_for_an_input_answer_or_capture(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL.replace("    run: echo hello\n", "    run: echo hello\n    capture: steps\n")
        + "  - prose: Which?\n    ask: {steps: {default: x}}\ninputs:\n  steps: {}\n"
    )
    message = "cannot name {}: it holds the results of earlier steps (steps.ID.exit_code)"
    assert lint(write(text)) == [
        f"sop.yaml:9:5: steps[0].capture: 'steps' {message.format('a capture')}",
        f"sop.yaml:11:18: steps[1].ask.steps: 'steps' {message.format('an answer')}",
        f"sop.yaml:13:10: inputs.steps: 'steps' {message.format('an input')}",
    ]


def test_the_word_of_a_typed_confirmation_is_a_checked_template(
    write: Callable[..., Path],
) -> None:
    text = MINIMAL + "    confirm: {type: '{{ key_id }}'}\n"
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[0].confirm.type: undefined variable 'key_id': not an input, "
        "an answer or a capture"
    ]


def test_an_interactive_step_targets_one_host(write: Callable[..., Path]) -> None:
    write("hosts:\n  web-1: {}\n  web-2: {}\ngroups:\n  web: [web-1, web-2]\n", "inventory.yaml")
    text = (
        MINIMAL
        + "    interactive: true\n    on: [web-1, web-2]\n"
        + "  - run: psql\n    interactive: true\n    on: web\n"
        + "  - run: psql\n    interactive: true\n    on: web-1\n"
        + "  - run: psql\n    interactive: true\n    on: '{{ host }}'\ninputs:\n  host: {}\n"
    )
    why = "an interactive step runs on exactly one host (it gets the responder's terminal)"
    assert lint(write(text)) == [
        f"sop.yaml:10:5: steps[0].on: {why}; it targets web-1, web-2",
        f"sop.yaml:13:5: steps[1].on: {why}; it targets the group 'web'",
    ]


def test_a_heading_note_is_a_checked_template(write: Callable[..., Path]) -> None:
    """A heading's note is read when its section starts: with the values set before it."""
    text = (
        MINIMAL
        + """\
  - id: look
    run: df -h
    capture: usage
  - heading: Diagnosis
    note: "Usage was {{ usage }}; {{ steps.look.exit_code }} {{ mount }} {{ later }}"
  - prose: Which mount?
    ask: {later: {default: /}}
  - heading: Broken
    note: "Look at {{ oops"
  - prose: Look.
  - heading: Results
    note: "{{ steps.verify.stdout }} {{ steps.nowhere.stdout }}"
  - id: verify
    run: df -h
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:13:5: steps[2].note: 'later' is set by step 3 (step-3), which comes later",
        "sop.yaml:13:5: steps[2].note: undefined variable 'mount': not an input, an answer or "
        "a capture",
        "sop.yaml:17:5: steps[4].note: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
        "sop.yaml:20:5: steps[6].note: 'steps.nowhere': no step 'nowhere' in this SOP",
        "sop.yaml:20:5: steps[6].note: 'steps.verify': step 5 (verify) comes later",
    ]


def test_a_step_names_only_alerts_of_its_sop(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
    alerts: [kubepodcrashlooping, KubePodNotReady, Kube*, "[ab]x", NodeDown]
alerts: [KubePod*, "[ab]x"]
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[0].alerts[2]: alert 'Kube*' is not among the SOP's alerts "
        "(KubePod*, [ab]x): add it to `alerts:` at the top, or remove it here",
        "sop.yaml:9:5: steps[0].alerts[4]: alert 'NodeDown' is not among the SOP's alerts "
        "(KubePod*, [ab]x): add it to `alerts:` at the top, or remove it here",
    ]
    bare = write(MINIMAL + "    alerts: [NodeDown]\n", "bare.yaml")
    assert lint(bare) == [
        "bare.yaml:9:5: steps[0].alerts[0]: alert 'NodeDown' is not among the SOP's alerts "
        "(none): add it to `alerts:` at the top, or remove it here",
    ]


def test_an_approval_names_a_role_of_the_sop(write: Callable[..., Path]) -> None:
    text = (
        MINIMAL
        + """\
    approval: ir-laed
  - id: tell
    role: comms
    prose: Tell the customers.
    approval: account-owner
  - id: check
    prose: Check.
    approval: required
roles: [account-owner]
"""
    )
    assert lint(write(text)) == [
        "sop.yaml:9:5: steps[0].approval: approval by 'ir-laed': no step has that role and the "
        "SOP's `roles:` do not name it (roles: account-owner, comms); name one, or `approval: "
        "required` for anyone but the operator",
    ]


def test_braces_in_text_that_is_no_template_warn(write: Callable[..., Path]) -> None:
    """Titles, the summary, headings and links are shown as written everywhere."""
    text = (
        MINIMAL.replace("title: Minimal", "title: Restart {{ service }}")
        + """\
    links: [{title: Dashboard, url: "https://grafana.example/d/x?var-host={{host}}"}]
  - heading: "On {% if host %}host{% endif %}"
  - prose: Look.
summary: Plain words.
links: [{title: "Logs of {{ host }}", url: https://logs.example}]
"""
    )
    message = (
        "warning: this text is not a template: `sop show`, `sop run` and the wiki show its "
        "`{{ }}` as written; name the value in words, or put it in a note"
    )
    assert lint(write(text)) == [
        f"sop.yaml:3:1: title: {message}",
        f"sop.yaml:9:5: steps[0].links[0].url: {message}",
        f"sop.yaml:10:5: steps[1].heading: {message}",
        f"sop.yaml:13:1: links[0].title: {message}",
    ]
