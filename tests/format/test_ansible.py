"""Ansible inventories (INI, YAML, a dynamic inventory's --list JSON) read as sop's, and
several inventories merged."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sop.errors import SopFileError
from sop.format.inventories import InventoryError, read_inventories
from sop.format.loader import load_inventory
from sop.model import Inventory


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # files named as a responder names them: relative


def write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(textwrap.dedent(text))
    return Path(name)


def addresses(inventory: Inventory) -> dict[str, str]:
    return {name: host.ssh_address for name, host in inventory.hosts.items()}


def problem(path: Path) -> str:
    with pytest.raises(SopFileError) as failed:
        load_inventory(path)
    return str(failed.value)


INI = """\
    # the web tier
    [web]
    web[01:03] ansible_host=10.0.0.1 ansible_port=2222
    db1 ansible_host=10.0.0.9 ansible_user=root ansible_become=true

    [web:vars]
    ansible_user=deploy
    ansible_ssh_private_key_file="~/.ssh/deploy"

    [prod:children]
    web
"""


def test_an_ini_inventory_gives_hosts_groups_and_connection_variables(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts", INI))
    assert addresses(inventory) == {
        "web01": "deploy@10.0.0.1:2222",
        "web02": "deploy@10.0.0.1:2222",
        "web03": "deploy@10.0.0.1:2222",
        "db1": "root@10.0.0.9",  # a host's own variable wins over its group's
    }
    assert inventory.hosts["web01"].identity_file == "~/.ssh/deploy"
    assert dict(inventory.groups) == {
        "web": ("web01", "web02", "web03", "db1"),
        "prod": ("web",),
        "all": ("web01", "web02", "web03", "db1"),
    }
    assert inventory.notes == ("hosts: ansible_become is not used by sop, ignored (db1)",)


def test_a_number_is_a_name_where_a_name_is_expected(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts", "[db]\ndb1 ansible_user=1000\n"))
    assert addresses(inventory) == {"db1": "1000@db1"}
    path = write(tmp_path, "hosts.yml", "all:\n  hosts:\n    db1:\n      ansible_user: [x]\n")
    assert problem(path) == "hosts.yml:4:21: db1.ansible_user: expected a string"


def test_ini_hosts_before_any_header_are_ungrouped(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts", "bastion ansible_port=2200\n[db]\ndb1\n"))
    assert addresses(inventory) == {"bastion": "bastion:2200", "db1": "db1"}
    assert dict(inventory.groups)["ungrouped"] == ("bastion",)


YAML = """\
    all:
      vars:
        ansible_user: admin
      hosts:
        lb1:
          ansible_host: 10.1.0.1
      children:
        web:
          vars:
            ansible_user: deploy
          hosts:
            web[a:c]:
              ansible_port: 2200
        empty:
"""


def test_a_yaml_inventory_gives_hosts_groups_and_variables_by_precedence(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts.yml", YAML))
    assert addresses(inventory) == {
        "lb1": "admin@10.1.0.1",
        "weba": "deploy@weba:2200",  # the group `web` wins over `all`
        "webb": "deploy@webb:2200",
        "webc": "deploy@webc:2200",
    }
    assert dict(inventory.groups) == {
        "all": ("lb1", "weba", "webb", "webc"),
        "web": ("weba", "webb", "webc"),
        "empty": (),
    }
    assert inventory.notes == ()


def test_sops_own_format_is_still_read_as_before(tmp_path: Path) -> None:
    path = write(tmp_path, "inventory.yaml", "hosts:\n  web1: {address: 10.0.0.1, port: 2222}\n")
    assert addresses(load_inventory(path)) == {"web1": "10.0.0.1:2222"}


def test_a_password_in_an_inventory_is_refused_where_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts", "[web]\nweb1 ansible_host=h ansible_password=hunter2\n")
    assert problem(path) == (
        "hosts:2:21: web1.ansible_password: a password does not belong in an inventory: use an "
        "SSH key or agent, and a secret input for what a step needs"
    )
    become = write(
        tmp_path, "hosts.yml", "all:\n  vars:\n    ansible_become_pass: x\n  hosts:\n    a:\n"
    )
    assert problem(become) == (
        "hosts.yml:3:26: a.ansible_become_pass: a password does not belong in an inventory: use "
        "an SSH key or agent, and a secret input for what a step needs"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("web[1:x]", "hosts:2:1: web: '[1:x]' is not a range sop reads"),
        ("web[3:1]", "hosts:2:1: web: the range '[3:1]' is empty"),
        (
            "web~1",
            "hosts:2:1: web: 'web~1' is not a host name sop accepts (letters, digits, '.', '-', "
            "'_'; a range as [01:03] or [a:c])",
        ),
        ("web1 ansible_port=http", "hosts:2:6: web1.ansible_port: 'http' is not a port (1-65535)"),
        (
            "web1 ansible_host=-oProxyCommand=x",
            "hosts:2:6: web1.ansible_host: an address cannot begin with '-' or contain spaces",
        ),
        ("web1 become", "hosts:2:1: web1: 'become' is not NAME=VALUE"),
    ],
)
def test_a_bad_ini_line_is_an_error_at_its_place(tmp_path: Path, line: str, message: str) -> None:
    assert problem(write(tmp_path, "hosts", f"[web]\n{line}\n")) == message


def test_a_bad_ini_header_is_an_error_at_its_place(tmp_path: Path) -> None:
    assert problem(write(tmp_path, "hosts", "[web]\nweb1\n[web:hosts]\n")) == (
        "hosts:3:1: '[web:hosts]' is not a [group], [group:children] or [group:vars] header"
    )


def test_ranges_keep_their_zero_padding_and_stride(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts", "[db]\ndb[08:12:2]-[a:b]\n"))
    assert list(inventory.hosts) == ["db08-a", "db08-b", "db10-a", "db10-b", "db12-a", "db12-b"]


def test_several_inventories_merge_later_ones_winning_per_host(tmp_path: Path) -> None:
    first = write(tmp_path, "prod.ini", "[web]\nweb1 ansible_host=10.0.0.1\nweb2\n")
    second = write(
        tmp_path,
        "fix.yml",
        "all:\n  children:\n    web:\n      hosts:\n        web1:\n          ansible_host: 10.0.0.5\n        web3:\n",
    )
    inventory = read_inventories([first, second], None)
    assert addresses(inventory) == {"web1": "10.0.0.5", "web2": "web2", "web3": "web3"}
    assert dict(inventory.groups)["web"] == ("web1", "web2", "web3")
    assert inventory.sources == (str(first), str(second))
    assert inventory.notes == (f"host web1: {second} (10.0.0.5) overrides {first} (10.0.0.1)",)


DYNAMIC = """\
    #!/bin/sh
    echo ran >> "$(dirname "$0")/ran"
    cat <<'EOF'
    {"web": {"hosts": ["w1"], "vars": {"ansible_user": "ops"}},
     "db": ["d1"],
     "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.7", "ansible_port": 2022}}}}
    EOF
"""


def test_a_dynamic_inventory_runs_only_when_the_caller_runs_it(tmp_path: Path) -> None:
    script = write(tmp_path, "ec2.sh", DYNAMIC)
    script.chmod(0o755)
    unresolved = read_inventories([script], None)
    assert not Path("ran").exists()
    assert unresolved.unresolved == (str(script),)
    assert unresolved.knows("any-host")  # lint cannot know its hosts: it accepts any target
    asked: list[Path] = []

    def run(path: Path) -> str:
        asked.append(path)
        from sop.run.dynamic import list_dynamic_inventory

        return list_dynamic_inventory(path)

    inventory = read_inventories([script], run)
    assert asked == [script]
    assert addresses(inventory) == {"w1": "ops@10.0.0.7:2022", "d1": "d1"}
    assert not inventory.knows("any-host")


def test_a_program_that_is_not_executable_is_refused(tmp_path: Path) -> None:
    script = write(tmp_path, "ec2.sh", DYNAMIC)
    with pytest.raises(InventoryError) as refused:
        read_inventories([script], None)
    assert str(refused.value) == (
        f"{script}: a program (it starts with '#!') that is not executable; a dynamic "
        "inventory must be (chmod +x), a static one is YAML or INI"
    )


def test_a_failing_dynamic_inventory_says_how_it_failed(tmp_path: Path) -> None:
    from sop.run.dynamic import DynamicInventoryError, list_dynamic_inventory

    script = write(tmp_path, "ec2.sh", "#!/bin/sh\necho out\necho 'no credentials' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(DynamicInventoryError) as failed:
        read_inventories([script], list_dynamic_inventory)
    assert str(failed.value) == (f"dynamic inventory {script} --list exited with 3: no credentials")


def test_a_dynamic_inventory_that_prints_no_json_is_an_error(tmp_path: Path) -> None:
    from sop.run.dynamic import list_dynamic_inventory

    script = write(tmp_path, "ec2.sh", "#!/bin/sh\necho '[1]'\n")
    script.chmod(0o755)
    with pytest.raises(SopFileError) as failed:
        read_inventories([script], list_dynamic_inventory)
    assert str(failed.value) == "ec2.sh --list: the JSON must be an object of groups"


def test_an_inventory_found_beside_the_sop_is_never_run(tmp_path: Path) -> None:
    from sop.format.discovery import find_inventory

    found = write(tmp_path, "inventory.yaml", "#!/bin/sh\nhosts:\n  web1: {}\n")
    found.chmod(0o755)
    sop = tmp_path / "x.yaml"
    inventory = find_inventory(sop, (), lambda path: pytest.fail("ran the inventory"))
    assert inventory is not None and list(inventory.hosts) == ["web1"]
