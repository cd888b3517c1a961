"""Bad input gets a clear error naming file:line:col and the key path; nothing executes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sop.errors import SopFileError
from sop.format.loader import display_path, load_sop
from tests.conftest import MINIMAL

Problems = Callable[..., list[str]]


def test_minimal_sop_loads_into_frozen_records(write: Callable[..., Path]) -> None:
    sop = load_sop(write(MINIMAL))
    assert sop.id == "minimal"
    assert sop.on == ("local",)
    step = sop.steps[0]
    assert (step.id, step.kind, step.body, step.number, step.path) == (
        "hello",
        "run",
        "echo hello",
        1,
        "steps[0]",
    )
    with pytest.raises(AttributeError):
        step.body = "rm -rf /"  # type: ignore[misc]
    assert len(sop.sha256) == 64


def test_empty_file(problems_of: Problems) -> None:
    assert problems_of("") == ["sop.yaml:1:1: the file is empty; an SOP is a YAML mapping"]


def test_comments_only_is_empty(problems_of: Problems) -> None:
    assert problems_of("# nothing\n") == [
        "sop.yaml:1:1: the file is empty; an SOP is a YAML mapping"
    ]


def test_top_level_list(problems_of: Problems) -> None:
    assert problems_of("- a\n- b\n") == [
        "sop.yaml:1:1: the top level must be a mapping of keys, not a list"
    ]


def test_top_level_scalar(problems_of: Problems) -> None:
    assert problems_of("just text\n") == [
        "sop.yaml:1:1: the top level must be a mapping of keys, not a string"
    ]


def test_yaml_syntax_error(problems_of: Problems) -> None:
    assert problems_of("sop: 1\nsteps: [\n") == [
        "sop.yaml:3:1: invalid YAML: did not find expected node content (while parsing a flow node)"
    ]


def test_tab_indentation(problems_of: Problems) -> None:
    assert problems_of("sop: 1\nsteps:\n\t- run: x\n") == [
        "sop.yaml:3:1: tab character in indentation; YAML indents with spaces"
    ]


def test_tab_inside_a_block_scalar_is_content(write: Callable[..., Path]) -> None:
    sop = load_sop(write(MINIMAL + "  - script: |\n      printf 'a\\tb'\n      \techo tabbed\n"))
    assert sop.steps[1].body == "printf 'a\\tb'\n\techo tabbed\n"


def test_python_object_tag_is_refused_and_not_executed(problems_of: Problems, in_tmp: Path) -> None:
    marker = in_tmp / "pwned"
    text = f"sop: 1\nid: x\ntitle: !!python/object/apply:os.system ['touch {marker}']\nsteps: []\n"
    assert problems_of(text) == [
        "sop.yaml:3:8: unsupported tag '!!python/object/apply:os.system': "
        "sop reads plain YAML only (no tags that build objects)"
    ]
    assert not marker.exists()


def test_unknown_local_tag(problems_of: Problems) -> None:
    assert problems_of("sop: !include other.yaml\n") == [
        "sop.yaml:1:6: unsupported tag '!include': sop reads plain YAML only (no tags that build objects)"
    ]


def test_billion_laughs(problems_of: Problems) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    assert problems_of("\n".join(lines) + "\n") == [
        "sop.yaml:4:5: the document expands to more than 50000 nodes (an alias bomb?); SOP files are small"
    ]


def test_recursive_alias(problems_of: Problems) -> None:
    assert problems_of("a: &loop [1, *loop]\n") == ["sop.yaml:1:14: alias *loop refers to itself"]


def test_deep_nesting(problems_of: Problems) -> None:
    assert problems_of("a: " + "[" * 100 + "]" * 100 + "\n") == [
        "sop.yaml:1:67: nested deeper than 64 levels"
    ]


def test_ten_megabyte_file(problems_of: Problems) -> None:
    text = "sop: 1\n# " + "x" * (10 * 1024 * 1024) + "\n"
    assert problems_of(text) == ["sop.yaml:1:1: file is 10.5 MB; sop reads YAML files up to 1 MiB"]


def test_duplicate_keys(problems_of: Problems) -> None:
    text = MINIMAL.replace("title: Minimal\n", "title: Minimal\ntitle: Other\n")
    assert problems_of(text) == [
        "sop.yaml:4:1: duplicate key 'title' (first given at line 3); YAML would keep only the last one"
    ]


def test_duplicate_keys_inside_a_step(problems_of: Problems) -> None:
    text = MINIMAL + "    run: rm -rf /tmp/x\n"
    assert problems_of(text) == [
        "sop.yaml:9:5: duplicate key 'run' (first given at line 8); YAML would keep only the last one"
    ]


def test_wrong_types_all_reported_in_one_pass(problems_of: Problems) -> None:
    text = """\
        sop: 1
        id: types
        title: [not, a, string]
        tags: web
        steps:
          - id: usage
            run: {du: -h}
            retries: many
            confirm: sometimes
        """
    assert problems_of(text) == [
        "sop.yaml:3:8: title: expected a string, got a list",
        "sop.yaml:4:7: tags: expected a list, got a string",
        "sop.yaml:7:10: steps[0].run: expected a string, got a mapping",
        "sop.yaml:8:14: steps[0].retries: expected an integer, got a string",
        "sop.yaml:9:14: steps[0].confirm: expected one of never, auto, always, typed; got 'sometimes'",
    ]


def test_unknown_key_in_a_step_with_hint(problems_of: Problems) -> None:
    text = MINIMAL + "  - id: usage\n    rnu: du -sh /\n"
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[1]: a step needs one of: prose, run, script, task, call, decide",
        "sop.yaml:10:5: steps[1].rnu: unknown key; did you mean 'run'?",
    ]


def test_typo_comand(problems_of: Problems) -> None:
    text = MINIMAL.replace("    run: echo hello\n", "    run: echo hello\n    captrue: out\n")
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[0].captrue: unknown key; did you mean 'capture'?"
    ]


def test_unknown_top_level_key(problems_of: Problems) -> None:
    assert problems_of(MINIMAL + "ownr: x\n") == [
        "sop.yaml:9:1: ownr: unknown key; did you mean 'owner'?"
    ]


def test_missing_required_keys(problems_of: Problems) -> None:
    assert problems_of("sop: 1\nid: x\n") == [
        "sop.yaml:1:1: missing required key 'title'",
        "sop.yaml:1:1: missing required key 'steps'",
    ]


def test_duplicate_step_ids(problems_of: Problems) -> None:
    text = (
        MINIMAL + "  - id: hello\n    run: echo again\nrollback:\n  - id: hello\n    prose: undo\n"
    )
    assert problems_of(text) == [
        "sop.yaml:9:9: steps[1].id: duplicate step id 'hello' (first used at line 7)",
        "sop.yaml:12:9: rollback[0].id: duplicate step id 'hello' (first used at line 7)",
    ]


def test_non_utf8_bytes(problems_of: Problems) -> None:
    data = MINIMAL.encode().replace(b"echo hello", b"echo h\xe9llo")
    assert problems_of(data) == [
        "sop.yaml:8:16: not valid UTF-8: byte 0xe9 cannot be decoded; save the file as UTF-8"
    ]


def test_step_with_two_kinds(problems_of: Problems) -> None:
    text = MINIMAL + "    task: logs.rotate\n"
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[0].task: a step has one kind; it already has 'run'"
    ]


def test_kind_specific_keys(problems_of: Problems) -> None:
    text = MINIMAL + "    args: {keep: 3}\n"
    assert problems_of(text) == ["sop.yaml:9:5: steps[0].args: 'args' goes only with 'task' steps"]


def test_strict_goes_only_with_script_steps(problems_of: Problems) -> None:
    text = MINIMAL + "    strict: false\n"
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[0].strict: 'strict' goes only with 'script' steps"
    ]


def test_a_script_step_is_strict_unless_it_opts_out(write: Callable[..., Path]) -> None:
    text = MINIMAL.replace("run: echo hello", "script: echo hello")
    assert load_sop(write(text, "a.yaml")).steps[0].strict is True
    opted_out = load_sop(write(text + "    strict: false\n", "b.yaml"))
    assert opted_out.steps[0].strict is False


def test_secret_input_with_default(problems_of: Problems) -> None:
    text = MINIMAL + "inputs:\n  token: {secret: true, default: hunter2hunter2}\n"
    assert problems_of(text) == [
        "sop.yaml:10:25: inputs.token.default: a secret input cannot have a default"
    ]


def test_bad_regex_and_input_name(problems_of: Problems) -> None:
    text = MINIMAL + "inputs:\n  host: {pattern: '[a-'}\n  2bad: {}\n"
    assert problems_of(text) == [
        "sop.yaml:10:10: inputs.host.pattern: not a valid regular expression: "
        "unterminated character set at position 0",
        "sop.yaml:11:3: inputs.2bad: a name uses letters, digits and '_' and does not start with a digit",
    ]


def test_unsupported_format_version(problems_of: Problems) -> None:
    assert problems_of(MINIMAL.replace("sop: 1", "sop: 2")) == [
        "sop.yaml:1:6: sop: must be at most 1"
    ]


def test_tasks_path_outside_the_sop_folder(problems_of: Problems) -> None:
    assert problems_of(MINIMAL + "tasks: ../../etc/tasks.py\n") == [
        "sop.yaml:9:1: tasks: '../../etc/tasks.py' is outside the SOP's folder; keep tasks beside the SOP"
    ]


def test_missing_tasks_file(problems_of: Problems) -> None:
    assert problems_of(MINIMAL + "tasks: nope.py\n") == [
        "sop.yaml:9:1: tasks: 'nope.py' does not exist"
    ]


def test_yaml_12_scalars_no_norway_problem(write: Callable[..., Path]) -> None:
    text = MINIMAL + "on: local\ninputs:\n  country: {default: no, choices: [no, se]}\n"
    sop = load_sop(write(text))
    assert sop.inputs[0].default == "no"
    assert sop.inputs[0].choices == ("no", "se")
    assert sop.on == ("local",)


def test_headings_group_steps_and_numbering_skips_them(write: Callable[..., Path]) -> None:
    text = """\
        sop: 1
        id: grouped
        title: Grouped
        steps:
          - heading: Diagnosis
          - prose: Look.
          - heading: Mitigation
            note: Careful now.
          - run: echo fix
            retries: 2
            delay: 1m
            timeout: 500ms
        """
    sop = load_sop(write(text))
    assert [(s.number, s.id, s.section, s.path) for s in sop.steps] == [
        (1, "step-1", "Diagnosis", "steps[1]"),
        (2, "step-2", "Mitigation", "steps[3]"),
    ]
    assert (sop.steps[1].retries, sop.steps[1].delay, sop.steps[1].timeout) == (2, 60.0, 0.5)


def test_errors_are_one_exception_with_all_problems(write: Callable[..., Path]) -> None:
    path = write("sop: x\nid: Bad Id\n")
    with pytest.raises(SopFileError) as info:
        load_sop(path)
    assert [str(p) for p in info.value.problems] == [
        "sop.yaml:1:1: missing required key 'title'",
        "sop.yaml:1:1: missing required key 'steps'",
        "sop.yaml:1:6: sop: expected an integer, got a string",
        "sop.yaml:2:5: id: 'Bad Id': an id uses lowercase letters, digits, '-' and '_'",
    ]


def test_alias_without_an_anchor(problems_of: Problems) -> None:
    assert problems_of("sop: 1\nid: *nope\n") == [
        "sop.yaml:2:5: alias *nope has no anchor &nope before it"
    ]


def test_loading_a_library_leaves_the_cycle_collector_as_it_was(write: Callable[..., Path]) -> None:
    import gc

    from sop.format.discovery import load_library

    write(MINIMAL, "runbooks/a.yaml")
    write("sop: [\n", "runbooks/bad.yaml")
    assert gc.isenabled()
    assert len(load_library([Path("runbooks")]).sops) == 1
    assert gc.isenabled()
    gc.disable()
    try:
        load_library([Path("runbooks")])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_secrets_and_on_data_are_step_keys(problems_of: Problems) -> None:
    text = (
        MINIMAL
        + "    on_data: group\n"
        + "  - prose: Look.\n    secrets: [token]\n"
        + "  - run: uptime\n    on: '{{ host }}'\n    on_data: [everywhere]\n"
    )
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[0].on_data: 'on_data' says what the templated `on:` beside it may "
        "name; this step has no `on:`",
        "sop.yaml:11:5: steps[1].secrets: 'secrets' goes only with 'run', 'script' and 'task' steps",
        "sop.yaml:14:15: steps[2].on_data[0]: expected one of group, local; got 'everywhere'",
    ]


def test_secrets_and_on_data_load(tmp_path: Path) -> None:
    path = tmp_path / "sop.yaml"
    path.write_text(
        MINIMAL.replace("sop: 1\n", "sop: 1\non: '{{ where }}'\non_data: local\n")
        + "    secrets: token\n    on: '{{ where }}'\n    on_data: [group, local]\n"
        + "inputs:\n  where: {}\n  token: {secret: true}\n"
    )
    sop = load_sop(path)
    assert sop.on_data == ("local",)
    assert (sop.steps[0].secrets, sop.steps[0].on_data) == (("token",), ("group", "local"))


def test_keys_that_mean_nothing_for_a_steps_kind_are_errors(problems_of: Problems) -> None:
    text = (
        MINIMAL
        + "  - prose: Look at the dashboard.\n"
        + "    timeout: 30s\n    retries: 2\n    on: web\n    ok_exit: [0, 1]\n    drill: {exit: 0}\n"
        + "  - call: other\n    confirm: typed\n    parallel: 2\n"
        + "  - task: rotate\n    ok_exit: 3\n"
    )
    only_commands = "goes only with 'run', 'script' and 'task' steps"
    assert problems_of(text) == [
        f"sop.yaml:10:5: steps[1].timeout: 'timeout' {only_commands}",
        f"sop.yaml:11:5: steps[1].retries: 'retries' {only_commands}",
        f"sop.yaml:12:5: steps[1].on: 'on' {only_commands}",
        "sop.yaml:13:5: steps[1].ok_exit: 'ok_exit' goes only with 'run' and 'script' steps",
        f"sop.yaml:14:5: steps[1].drill: 'drill' {only_commands}",
        "sop.yaml:16:5: steps[2].confirm: 'confirm' goes only with 'prose', 'run', 'script' and "
        "'task' steps",
        f"sop.yaml:17:5: steps[2].parallel: 'parallel' {only_commands}",
        "sop.yaml:19:5: steps[3].ok_exit: 'ok_exit' goes only with 'run' and 'script' steps",
    ]


def test_ok_exit_and_a_typed_confirmation_of_a_named_word(
    write: Callable[..., Path], problems_of: Problems
) -> None:
    text = MINIMAL + "    ok_exit: [0, 3]\n    confirm: {type: '{{ key }}'}\n"
    step = load_sop(write(text, "a.yaml")).steps[0]
    assert (step.ok_exit, step.confirm, step.confirm_word) == ((0, 3), "typed", "{{ key }}")
    plain = load_sop(write(MINIMAL + "    ok_exit: 1\n    confirm: typed\n", "b.yaml")).steps[0]
    assert (plain.ok_exit, plain.confirm, plain.confirm_word) == ((1,), "typed", "")
    bad = MINIMAL + "    ok_exit: [256, x]\n    confirm: {typed: yes}\n"
    assert problems_of(bad) == [
        "sop.yaml:9:15: steps[0].ok_exit[0]: must be at most 255",
        "sop.yaml:9:20: steps[0].ok_exit[1]: expected an integer, got a string",
        "sop.yaml:10:14: steps[0].confirm: missing required key 'type'",
        "sop.yaml:10:15: steps[0].confirm.typed: unknown key; did you mean 'type'?",
    ]


def test_a_colon_in_plain_prose_gets_a_hint(problems_of: Problems) -> None:
    text = MINIMAL + "  - prose: Check the value: it should be 3\n"
    assert problems_of(text) == [
        "sop.yaml:9:27: invalid YAML: mapping values are not allowed in this context; a ': ' "
        "inside plain "
        'text starts a mapping: quote the text (prose: "Check it: now") or write it as a block '
        "scalar (`prose: |` and the text on the lines below, indented)"
    ]


def test_a_block_scalar_whose_first_line_is_indented_more_gets_a_hint(
    problems_of: Problems,
) -> None:
    text = (
        MINIMAL
        + "    drill:\n      stdout: |\n          Filesystem  Size\n        /dev/vda1  40G\n"
    )
    assert problems_of(text) == [
        "sop.yaml:12:9: invalid YAML: did not find expected key (while parsing a block mapping); "
        "the block scalar of line 10 takes its indentation from its first line (10 spaces), and "
        "line 12 has fewer. When the text begins with spaces, say how far the block is indented "
        "with an indentation indicator: `|2` (the block's lines are indented 2 spaces more than "
        "its key)"
    ]


def test_a_title_derived_from_prose_is_plain_text(write: Callable[..., Path]) -> None:
    text = MINIMAL + (
        "  - prose: |\n"
        "      Open the [disk dashboard](https://grafana/d/disk) for **{{ host }}**:"
        " is `{{ steps.hello.stdout | trim }}` {% if x %}still{% endif %} full_ish?\n"
        "      More.\n"
        "  - run: du -xh {{ mount }}\n"
    )
    steps = load_sop(write(text, "a.yaml")).steps
    assert [s.label for s in steps] == [
        "echo hello",
        "Open the disk dashboard for host: is steps.hello.stdout still full_ish?",
        "du -xh {{ mount }}",
    ]


def test_interactive_goes_only_with_run_steps(problems_of: Problems) -> None:
    text = MINIMAL.replace("run: echo hello", "script: echo hello") + "    interactive: true\n"
    assert problems_of(text) == [
        "sop.yaml:9:5: steps[0].interactive: 'interactive' goes only with 'run' steps"
    ]


def test_an_interactive_step_has_no_capture_timeout_or_retries(problems_of: Problems) -> None:
    text = MINIMAL + "    interactive: true\n    capture: out\n    timeout: 5s\n    retries: 1\n"
    why = "does not go with `interactive: true`: the terminal is the responder's, until the command exits or they detach"
    assert problems_of(text) == [
        f"sop.yaml:10:5: steps[0].capture: 'capture' {why}",
        f"sop.yaml:11:5: steps[0].timeout: 'timeout' {why}",
        f"sop.yaml:12:5: steps[0].retries: 'retries' {why}",
    ]


def test_an_interactive_step_loads(write: Callable[..., Path]) -> None:
    sop = load_sop(write(MINIMAL + "    interactive: true\n", "a.yaml"))
    assert [s.interactive for s in sop.steps] == [True]
    assert load_sop(write(MINIMAL, "b.yaml")).steps[0].interactive is False


def test_a_path_is_shown_as_typed_relative_to_the_working_directory_when_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    (real / "runbooks").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    outside = tmp_path / "elsewhere.yaml"
    monkeypatch.chdir(real)
    assert display_path(Path("runbooks/a.yaml")) == "runbooks/a.yaml"
    assert display_path(real / "runbooks" / "a.yaml") == "runbooks/a.yaml"
    # through a symbolic link to the working directory: still inside it
    assert display_path(tmp_path / "link" / "runbooks" / "a.yaml") == "runbooks/a.yaml"
    assert display_path(Path("runbooks/../runbooks/a.yaml")) == "runbooks/a.yaml"
    assert display_path(outside) == str(outside)
    assert display_path(Path("../elsewhere.yaml")) == str(outside)
