"""The mapping rules of `sop import`, one by one, on small runbooks: each result is loaded by
sop's own loader, so the YAML is what sop reads."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop import templating
from sop.checks.lint import lint_sop
from sop.cli import cli
from sop.format.loader import load_sop
from sop.importer import Imported, id_from_name, import_markdown
from sop.model import Sop

SOURCE = "https://example.com/runbooks/alert.md"


def _convert(tmp_path: Path, markdown: str) -> tuple[Sop, Imported]:
    imported = import_markdown(textwrap.dedent(markdown), origin=SOURCE, sop_id="imported")
    path = tmp_path / "imported.yaml"
    path.write_text(imported.text)
    return load_sop(path), imported


def _lint(sop: Sop) -> list[str]:
    return [
        f"{p.severity} {p.code}: {p.message}"
        for p in lint_sop(sop, today=dt.date(2026, 12, 1))
        if p.code != "metadata"
    ]


def _steps(sop: Sop) -> list[tuple[str, str]]:
    return [(s.kind, s.body) for s in sop.steps]


def test_headings_map_to_context_impact_and_sections(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        # KubePodCrashLooping

        ## Meaning

        A pod restarts.

        ## Impact

        The service is down.

        ## Diagnosis

        Look at the events.

        ## Mitigation

        ### Roll back

        Undo the last deploy.
        """,
    )
    assert (sop.title, sop.alerts, sop.tags) == (
        "KubePodCrashLooping",
        ("KubePodCrashLooping",),
        ("imported",),
    )
    assert sop.context == "### Meaning\n\nA pod restarts.\n"
    assert sop.impact == "The service is down."
    assert [(s.section, s.kind, s.body) for s in sop.steps] == [
        ("Diagnosis", "prose", "Look at the events."),
        ("Mitigation: Roll back", "prose", "Undo the last deploy."),
    ]
    # "Mitigation" itself has no step (its sub-section carries its name): no empty heading
    assert [section.title for section in sop.sections] == ["Diagnosis", "Mitigation: Roll back"]
    assert _lint(sop) == []


def test_a_console_block_runs_its_prompts_and_simulates_their_output(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        ## Diagnosis

        ```console
        $ kubectl get pods
        NAME   READY
        web-1  0/1
        $ kubectl get events \\
            --sort-by=.lastTimestamp
        ```
        """,
    )
    assert _steps(sop) == [
        ("run", "kubectl get pods"),
        ("run", "kubectl get events \\\n    --sort-by=.lastTimestamp\n"),
    ]
    assert sop.steps[0].drill is not None
    assert sop.steps[0].drill.stdout == "NAME   READY\nweb-1  0/1\n"
    assert sop.steps[1].drill is None


def test_placeholders_become_inputs_quoted_by_sop(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        ## Mitigation

        ```bash
        kubectl -n "$NAMESPACE" delete pod <pod-name> -l "app=${APP}"
        ```
        """,
    )
    assert _steps(sop) == [
        ("run", 'kubectl -n {{ namespace }} delete pod {{ pod_name }} -l "app="{{ app }}')
    ]
    assert {i.name: (i.help, i.required) for i in sop.inputs} == {
        "namespace": ("$NAMESPACE of the source", True),
        "pod_name": ("pod-name", True),
        "app": ("${APP} of the source", True),
    }
    rendered = (
        templating.shell_environment()
        .from_string(sop.steps[0].body)
        .render(namespace="prod", pod_name="web 1; rm -rf /", app="x y")
    )
    assert rendered == "kubectl -n prod delete pod 'web 1; rm -rf /' -l \"app=\"'x y'"
    assert _lint(sop) == []


def test_shell_variables_of_the_block_and_of_single_quotes_stay_the_shells(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        ## Diagnosis

        ```sh
        for pod in $(kubectl get pods -o name); do
          echo "$pod $HOME"
        done | awk '{print $1}'
        ```
        """,
    )
    assert sop.inputs == ()
    step = sop.steps[0]
    assert (step.kind, step.strict) == ("script", False)
    assert step.body == (
        "for pod in $(kubectl get pods -o name); do\n"
        '  echo "$pod $HOME"\n'
        "done | awk '{print $1}'\n"
    )


def test_assignments_declare_inputs_and_captures(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        ## Diagnosis

        ```console
        $ NODE_NAME='<value of instance label from alert>'
        $ NS=openshift-monitoring
        $ POD=$(kubectl -n $NS get pods -o name | head -1)
        $ kubectl -n $NS logs $POD --node $NODE_NAME
        ```
        """,
    )
    assert {i.name: (i.help, i.required, i.default) for i in sop.inputs} == {
        "node_name": ("value of instance label from alert", True, None),
        "ns": ("$NS of the source", False, "openshift-monitoring"),
    }
    assert [(s.kind, s.body, s.capture) for s in sop.steps] == [
        ("run", "kubectl -n {{ ns }} get pods -o name | head -1", "pod"),
        ("run", "kubectl -n {{ ns }} logs {{ pod }} --node {{ node_name }}", None),
    ]
    assert _lint(sop) == []


def test_a_todo_becomes_a_step_that_lint_warns_about(tmp_path: Path) -> None:
    sop, imported = _convert(
        tmp_path,
        """\
        ## Mitigation

        Resize the volume.

        TODO

        ```shell
        # TODO: Command needed
        ```
        """,
    )
    assert _steps(sop) == [
        ("prose", "Resize the volume."),
        ("prose", "TODO"),
        ("prose", "TODO: Command needed"),
    ]
    assert [n.message for n in imported.notes] == [
        "the source says TODO here: write this step",
        "the source says TODO here: write this step",
    ]
    assert "  # sop import: the source says TODO here: write this step (source line 5)\n" in (
        imported.text
    )
    assert _lint(sop) == [
        "warning todo: step 2 (step-2) is unfinished: `TODO`",
        "warning todo: step 3 (step-3) is unfinished: `TODO: Command needed`",
    ]


def test_a_runbook_without_a_procedure_gets_a_todo_step(tmp_path: Path) -> None:
    sop, imported = _convert(tmp_path, "# Alert\n\n## Meaning\n\nSomething broke.\n")
    assert _steps(sop) == [("prose", "TODO: write the steps of this SOP.")]
    assert [n.message for n in imported.notes] == ["the source has no procedure: write the steps"]


def test_an_editor_and_a_session_are_left_to_the_responder(tmp_path: Path) -> None:
    sop, imported = _convert(
        tmp_path,
        """\
        ## Mitigation

        ```shell
        $ kubectl -n <ns> edit pvc data
        ```

        ```console
        $ oc debug node/<node>
        $ df -h
        ```

        ```console
        $ journalctl -b
        ```

        ## Verification

        ```console
        $ oc get nodes
        ```
        """,
    )
    assert [s.kind for s in sop.steps] == ["prose", "prose", "prose", "run"]
    assert "kubectl -n {{ ns }} edit pvc data" in sop.steps[0].body
    assert "$ oc debug node/{{ node }}\n$ df -h\n" in sop.steps[1].body
    assert (
        sop.steps[2].body == "In the session opened before, run:\n\n```shell\njournalctl -b\n```\n"
    )
    assert sop.steps[3].body == "oc get nodes"
    assert [n.message for n in imported.notes] == [
        "`kubectl -n <ns> edit pvc data` opens an editor: left for the responder",
        "`oc debug node/<node>` opens a session: it and the commands typed in it are left for "
        "the responder",
        "commands for the session opened at source line 7: left for the responder to type there",
    ]
    assert _lint(sop) == []


def test_links_go_to_links_resolved_against_the_source(tmp_path: Path) -> None:
    sop, imported = _convert(
        tmp_path,
        """\
        ## Diagnosis

        See [the dashboard](https://grafana.example.com/d/x).

        ## References

        - [Other runbook](../other/alert.md)
        - <https://kubernetes.io/docs/>
        - [Mail us](mailto:ops@example.com)
        """,
    )
    assert [(link.title, link.url) for link in sop.links] == [
        ("Source runbook", SOURCE),
        ("Other runbook", "https://example.com/other/alert.md"),
        ("https://kubernetes.io/docs/", "https://kubernetes.io/docs/"),
    ]
    assert sop.steps[0].body == "See [the dashboard](https://grafana.example.com/d/x)."
    assert [n.message for n in imported.notes] == [
        "link mailto:ops@example.com left out: `links` take http(s) URLs and relative paths"
    ]


def test_jinja_delimiters_of_the_source_stay_literal(tmp_path: Path) -> None:
    sop, _ = _convert(
        tmp_path,
        """\
        ## Diagnosis

        The alert says `{{ $labels.instance }}`.

        ```console
        $ oc get nodes -o template --template='{{range .items}}{{.metadata.name}}{{end}}'
        ```
        """,
    )
    prose, run = sop.steps
    assert templating.text_environment().from_string(prose.body).render() == (
        "The alert says `{{ $labels.instance }}`."
    )
    assert templating.shell_environment().from_string(run.body).render() == (
        "oc get nodes -o template --template='{{range .items}}{{.metadata.name}}{{end}}'"
    )
    assert _lint(sop) == []


def test_text_that_could_hide_characters_is_shown_with_markers(tmp_path: Path) -> None:
    sop, imported = _convert(tmp_path, "## Diagnosis\n\nCheck\u200b the\r\nlogs.\n")
    assert sop.steps[0].body == "Check<U+200B> the\nlogs.\n"
    assert [n.message for n in imported.notes] == [
        "characters that could hide text are shown as markers, e.g. <U+200B>"
    ]


@pytest.mark.parametrize(
    ("name", "sop_id"),
    [
        ("KubePodCrashLooping.md", "kube-pod-crash-looping"),
        ("etcdHighFsyncDurations.md", "etcd-high-fsync-durations"),
        ("disk_full.markdown", "disk_full"),
        ("KubeAPIDown.md", "kube-api-down"),
    ],
)
def test_ids_are_made_from_file_names(name: str, sop_id: str) -> None:
    assert id_from_name(name) == sop_id


def test_the_cli_writes_and_lints_and_never_overwrites(tmp_path: Path) -> None:
    source = tmp_path / "Alert.md"
    source.write_text("# Alert\n\n## Mitigation\n\n```console\n$ systemctl restart <unit>\n```\n")
    out = tmp_path / "alert.yaml"
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(source), "-o", str(out), "--id", "my-alert"])
    assert result.exit_code == 0, result.output
    assert load_sop(out).steps[0].body == "systemctl restart {{ unit }}"
    assert result.stderr.splitlines()[-1] == (
        f"wrote {out} (my-alert): 0 note(s); lint: 0 error(s), 2 warning(s)"
    )
    again = runner.invoke(cli, ["import", str(source), "-o", str(out)])
    assert again.exit_code == 2
    assert f"{out} exists; choose another file or add --force" in again.stderr
    printed = runner.invoke(cli, ["import", str(source)])
    assert printed.exit_code == 0
    assert printed.stdout == out.read_text().replace("id: my-alert", "id: alert")
