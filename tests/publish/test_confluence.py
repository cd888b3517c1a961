"""`sop publish confluence` against a local Confluence (confluence_server.py), Cloud's v2 API and
Data Center's v1 API alike: every request is checked against the documented API."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from tests.publish.confluence_server import FakeConfluence
from tests.render.conftest import RUNBOOKS, TWO_RUNBOOKS

TOKEN = "ATATT3xFfGF0-test-token-4f9a1c"
USER = "oncall@example.com"
INDEX = "Standard Operating Procedures"
DEMO = "Demo: a runaway log fills a disk"
DISK = "Root filesystem almost full"


def expected_authorization(deployment: str, token: str = TOKEN) -> str:
    if deployment == "cloud":
        return "Basic " + base64.b64encode(f"{USER}:{token}".encode()).decode()
    return f"Bearer {token}"


@pytest.fixture(params=["cloud", "data-center"])
def site(request: pytest.FixtureRequest) -> Iterator[FakeConfluence]:
    with FakeConfluence(request.param, expected_authorization(request.param)) as fake:
        yield fake
    assert fake.violations == []


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for path in (*TWO_RUNBOOKS, RUNBOOKS / "tasks.py"):
        shutil.copy(path, folder)
    return folder


def publish(
    site: FakeConfluence, library: Path, *args: str, token: str = TOKEN
) -> tuple[int, str, str]:
    auth = ["--user", USER] if site.deployment == "cloud" else []
    result = CliRunner().invoke(
        cli,
        [
            "publish",
            "confluence",
            str(library),
            "--url",
            site.url,
            "--space",
            "OPS",
            "--deployment",
            site.deployment,
            *auth,
            *args,
        ],
        env={"CONFLUENCE_TOKEN": token},
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_first_publish_creates_the_pages_under_the_parent_with_labels(
    site: FakeConfluence, library: Path
) -> None:
    home = site.add_page("Operations")
    code, out, err = publish(site, library, "--parent", "Operations", "--label", "SOP")
    assert code == 0, err
    index, demo, disk = (site.by_title(t) for t in (INDEX, DEMO, DISK))
    assert out.splitlines() == [
        f"created       {INDEX} (page {index.id}, version 1)",
        f"created       {DEMO} (page {demo.id}, version 1)",
        f"created       {DISK} (page {disk.id}, version 1)",
    ]
    assert err.strip() == "3 page(s) in space OPS: 3 created"
    assert index.parent_id == home.id
    assert demo.parent_id == disk.parent_id == index.id
    assert all(p.labels == {"sop"} for p in (index, demo, disk))
    assert all(p.version == 1 for p in (index, demo, disk))
    # the page is the rendered storage format, with plain lists for prose steps by default
    assert '<ac:structured-macro ac:name="code"' in demo.body
    assert "<ac:task-list>" not in demo.body
    mark = demo.properties["sop-publish"]["value"]
    assert (mark["generator"], mark["labels"], mark["pageVersion"]) == ("sop", ["sop"], 1)


def test_a_second_publish_without_a_change_writes_nothing(
    site: FakeConfluence, library: Path
) -> None:
    assert publish(site, library, "--label", "sop")[0] == 0
    before = len(site.requests)
    code, out, err = publish(site, library, "--label", "sop")
    assert code == 0, err
    assert [r for r in site.requests[before:] if r.method != "GET"] == []
    assert [line.split()[0] for line in out.splitlines()] == ["unchanged"] * 3
    assert err.strip() == "3 page(s) in space OPS: 3 unchanged"


def test_a_changed_sop_bumps_its_page_to_the_next_version(
    site: FakeConfluence, library: Path
) -> None:
    assert publish(site, library)[0] == 0
    demo = library / "demo.yaml"
    demo.write_text(demo.read_text().replace("runaway log", "runaway logfile"))
    before = len(site.requests)
    code, out, err = publish(site, library)
    assert code == 0, err
    page = site.by_title(DEMO.replace("runaway log", "runaway logfile"))
    assert (page.version, site.by_title(DISK).version) == (1, 1)  # a new title: a new page
    index = site.by_title(INDEX)
    assert index.version == 2  # the index lists the new title
    updates = [r for r in site.requests[before:] if r.method == "PUT" and "propert" not in r.path]
    assert len(updates) == 1
    assert updates[0].body["version"]["number"] == 2
    assert f"updated       {INDEX} (page {index.id}, version 2)" in out.splitlines()


def test_a_changed_step_updates_only_its_page(site: FakeConfluence, library: Path) -> None:
    assert publish(site, library)[0] == 0
    disk = library / "disk-full.yaml"
    text = disk.read_text()
    assert "df -h" in text
    disk.write_text(text.replace("df -h", "df -hT", 1))
    code, _, err = publish(site, library)
    assert code == 0, err
    assert [p.version for p in (site.by_title(t) for t in (INDEX, DEMO, DISK))] == [1, 1, 2]
    assert "df -hT" in site.by_title(DISK).body
    assert err.strip() == "3 page(s) in space OPS: 2 unchanged, 1 updated"
    assert site.by_title(DISK).properties["sop-publish"]["value"]["pageVersion"] == 2


def test_a_page_saved_by_someone_else_meanwhile_stops_with_a_clear_error(
    site: FakeConfluence, library: Path
) -> None:
    assert publish(site, library)[0] == 0
    disk = library / "disk-full.yaml"
    disk.write_text(disk.read_text().replace("df -h", "df -hT", 1))
    site.race.add(DISK)  # saved in the editor between sop's read and its update
    code, out, err = publish(site, library)
    assert code == 1
    page = site.by_title(DISK)
    assert (page.version, "df -hT" in page.body) == (2, False)
    api = "PUT /wiki/api/v2/pages" if site.deployment == "cloud" else "PUT /confluence/rest/api"
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"sop: error: '{DISK}' was changed in Confluence while sop was ")
    assert f"publishing it ({api}" in line
    assert line.endswith(
        "HTTP 409 Conflict: Version must be incremented on update. Current version is: 2): "
        "nothing of it was overwritten; the 2 page(s) before it are published; publish again "
        "to update it"
    )
    # and the next publish updates it, over the hand edit, and says so
    code, out, err = publish(site, library)
    assert code == 0, err
    assert (
        f"updated       {DISK} (page {page.id}, version 3): changed in Confluence since sop "
        "published version 1 (now 2); replaced" in out.splitlines()
    )


def test_a_hand_edit_with_no_change_in_the_sop_is_left_and_reported(
    site: FakeConfluence, library: Path
) -> None:
    assert publish(site, library)[0] == 0
    site.edit(DEMO)
    code, out, _ = publish(site, library)
    assert code == 0
    page = site.by_title(DEMO)
    assert (
        f"unchanged     {DEMO} (page {page.id}, version 2): changed in Confluence since sop "
        "published version 1 (now 2); left as it is (edit the SOP, not the page)"
    ) in out.splitlines()
    assert "edited by hand" in page.body


def test_a_wrong_token_is_refused_clearly_and_never_printed(
    site: FakeConfluence, library: Path
) -> None:
    wrong = "wrong-token-0123456789abcdef"
    code, out, err = publish(site, library, token=wrong)
    assert code == 1
    assert err.strip() == (
        f"sop: error: 127.0.0.1:{site.url.split(':')[2].split('/')[0]} refused the credentials "
        "(HTTP 401 Unauthorized): check the token, and the user (--user: Cloud's API tokens go "
        "with the account's e-mail; Data Center's personal access tokens with no --user)"
    )
    assert wrong not in out + err
    assert base64.b64encode(f"{USER}:{wrong}".encode()).decode() not in out + err
    assert site.pages == {}


def test_a_missing_token_says_where_to_put_it(site: FakeConfluence, library: Path) -> None:
    code, _, err = publish(site, library, token="")
    assert code == 2
    assert err.strip() == (
        "sop: error: no Confluence token: set $CONFLUENCE_TOKEN, or give --token-file FILE"
    )
    assert site.requests == []


def test_the_token_can_come_from_a_file(
    site: FakeConfluence, library: Path, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    code, _, err = publish(site, library, "--token-file", str(tmp_path / "token"), token="")
    assert code == 0, err
    assert len(site.pages) == 3


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(
    site: FakeConfluence, library: Path
) -> None:
    code, out, err = publish(site, library, "--dry-run")
    assert code == 0, err
    assert site.writes() == []
    assert out.splitlines() == [f"would create  {t}" for t in (INDEX, DEMO, DISK)]
    assert err.strip().endswith("3 would create (dry run: nothing written)")


def test_a_page_sop_did_not_make_is_not_overwritten_unless_adopted(
    site: FakeConfluence, library: Path
) -> None:
    theirs = site.add_page(INDEX)
    code, _, err = publish(site, library)
    assert code == 1
    assert err.strip() == (
        f"sop: error: a page titled '{INDEX}' (id {theirs.id}) is already in the space OPS, "
        "and sop did not publish it: rename or move it, or pass --adopt to let sop replace its "
        "content"
    )
    assert (theirs.version, site.writes()) == (1, [])
    code, _, err = publish(site, library, "--adopt")
    assert code == 0, err
    assert theirs.version == 2
    assert theirs.properties["sop-publish"]["value"]["generator"] == "sop"


def test_task_lists_on_request(site: FakeConfluence, library: Path) -> None:
    assert publish(site, library, "--task-lists")[0] == 0
    assert "<ac:task-list>" in site.by_title(DEMO).body


def test_a_parent_by_id_and_an_unknown_parent(site: FakeConfluence, library: Path) -> None:
    code, _, err = publish(site, library, "--parent", "Nowhere")
    assert (code, err.strip()) == (1, "sop: error: no page 'Nowhere' in the space OPS for --parent")
    home = site.add_page("Runbooks")
    assert publish(site, library, "--parent", home.id)[0] == 0
    assert site.by_title(INDEX).parent_id == home.id


def test_an_unknown_space_is_named(site: FakeConfluence, library: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["publish", "confluence", str(library), "--url", site.url, "--space", "NOPE"]
        + ["--deployment", site.deployment]
        + (["--user", USER] if site.deployment == "cloud" else []),
        env={"CONFLUENCE_TOKEN": TOKEN},
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"sop: error: no space with the key NOPE on {site.url.split('/')[2]} (or the user may "
        "not see it)"
    )


def test_the_token_never_travels_over_plain_http_to_another_host(library: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["publish", "confluence", str(library), "--url", "http://wiki.example", "--space", "OPS"],
        env={"CONFLUENCE_TOKEN": TOKEN},
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "sop: error: refusing to send the token over plain http to wiki.example: use https"
    )


def test_a_label_with_a_space_is_a_usage_error(library: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("publish", "confluence", str(library), "--url", "https://x.atlassian.net"),
            *("--space", "OPS", "--label", "two words"),
        ],
    )
    assert result.exit_code == 2
    assert "'two words': a label is one word" in result.stderr
