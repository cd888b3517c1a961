"""sop.records: dataclasses made on first use behave as `dataclasses.dataclass` makes them."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import subprocess
import sys
import threading
from dataclasses import FrozenInstanceError, field
from typing import Any

import pytest

from sop import records
from sop.events import StepRef
from sop.records import dataclass
from tests.conftest import REPO


def _pair(**options: Any) -> tuple[type, type]:
    """The same class twice: made on first use (sop.records) and at once (dataclasses)."""

    def body() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "str", "c": "list[int]"},
            "b": "x",
            "c": field(default_factory=list),
            "__module__": __name__,
        }

    lazy: type = dataclass(**options)(type("Rec", (), body()))
    eager: type = dataclasses.dataclass(**options)(type("Rec", (), body()))
    return lazy, eager


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "returns", call()
    except Exception as exc:
        return "raises", type(exc)


@pytest.mark.parametrize(
    "options", [{}, {"frozen": True}, {"frozen": True, "eq": False}, {"order": True}]
)
def test_a_class_made_on_first_use_is_what_dataclasses_makes(options: dict[str, Any]) -> None:
    lazy, eager = _pair(**options)
    assert lazy in records._waiting
    assert inspect.signature(lazy) == inspect.signature(eager)  # before it is made, and after
    made, twin = lazy(1, c=[2]), eager(1, c=[2])
    assert inspect.signature(lazy) == inspect.signature(eager)
    assert lazy not in records._waiting
    assert repr(made) == repr(twin) == "Rec(a=1, b='x', c=[2])"
    assert (made == lazy(1, c=[2])) == (twin == eager(1, c=[2]))
    assert [f.name for f in dataclasses.fields(made)] == ["a", "b", "c"]
    assert dataclasses.asdict(made) == dataclasses.asdict(twin)
    assert dataclasses.replace(made, a=5).a == 5
    assert lazy(1).c is not lazy(1).c  # a fresh default per instance
    assert repr(lazy.__dataclass_params__) == repr(eager.__dataclass_params__)  # type: ignore[attr-defined]
    assert lazy.__match_args__ == eager.__match_args__ == ("a", "b", "c")  # type: ignore[attr-defined]
    if options.get("frozen"):
        with pytest.raises(FrozenInstanceError):
            made.a = 2
        with pytest.raises(FrozenInstanceError):
            del made.a
    # the hash from the fields (frozen with eq), none (eq alone), or the object's (eq=False)
    by_fields = options.get("eq", True) and options.get("frozen")
    defaults: tuple[Any, ...] = ([], ())
    for default in defaults:
        lazy_hash = _outcome(lambda d=default: hash(lazy(1, c=d)))
        eager_hash = _outcome(lambda d=default: hash(eager(1, c=d)))
        assert lazy_hash == eager_hash if by_fields else lazy_hash[0] == eager_hash[0]
    if options.get("order"):
        assert lazy(1) < lazy(2)
    with pytest.raises(TypeError):
        lazy()  # the generated __init__'s own error: `a` is missing


def test_fields_before_any_instance_make_the_class_and_its_bases() -> None:
    @dataclass(frozen=True)
    class Base:
        a: int

    @dataclass(frozen=True)
    class Derived(Base):
        b: int = 2

    class Plain(Derived):  # not a dataclass itself: inherits the made methods
        pass

    assert Base in records._waiting and Derived in records._waiting
    assert dataclasses.is_dataclass(Plain)
    assert [f.name for f in dataclasses.fields(Plain)] == ["a", "b"]
    assert Base not in records._waiting and Derived not in records._waiting
    assert repr(Plain(1)).endswith(".Plain(a=1, b=2)")
    assert Derived(1) == Derived(1, 2) and Derived(1) != Base(1)


def test_a_match_on_a_class_not_made_yet() -> None:
    @dataclass(frozen=True)
    class Point:
        x: int
        y: int

    match Point(1, 2):
        case Point(x, y):
            assert (x, y) == (1, 2)
        case _:
            pytest.fail("no match")


def test_threads_creating_the_first_instances_together() -> None:
    @dataclass(frozen=True)
    class Shared:
        a: int
        b: tuple[int, ...] = ()

    start = threading.Barrier(16)
    made: list[Shared] = []
    failed: list[BaseException] = []

    def create(n: int) -> None:
        start.wait()
        try:
            made.append(Shared(n, (n,)))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert sorted(s.a for s in made) == list(range(16))
    assert all(s.b == (s.a,) for s in made)


def test_unpickled_in_a_process_where_the_class_was_never_made() -> None:
    ref = StepRef("check", "2", "Check", "run", "restart-service", depth=1, round=2)
    program = (
        "import pickle, sys\n"
        "from sop import records\n"
        "from sop.events import StepRef\n"
        "assert StepRef in records._waiting\n"
        "ref = pickle.loads(sys.stdin.buffer.read())\n"
        "assert ref == StepRef('check', '2', 'Check', 'run', 'restart-service', 1, 2)\n"
        "print(repr(ref), hash(ref) == hash(StepRef('check', '2', 'Check', 'run', "
        "'restart-service', 1, 2)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=pickle.dumps(ref),
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == f"{ref!r} True"


def test_slots_and_an_own_new_are_made_at_once() -> None:
    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    class Owned:
        a: int

        def __new__(cls, *args: Any) -> Owned:
            return super().__new__(cls)

    made = dataclass(Owned)
    assert "__slots__" in Slotted.__dict__ and Slotted not in records._waiting
    assert made is Owned and Owned not in records._waiting
    assert Slotted(1).a == 1 and Owned(2).a == 2


def test_importing_the_run_path_makes_no_record_it_does_not_use() -> None:
    """The speed this module is for: `sop run`'s imports leave its records waiting (each made
    costs 0.3-0.6 ms); only what a run creates is made."""
    program = (
        "from sop import records\n"
        "import sop.run.launch, sop.cli.running\n"
        "waiting = [c for c in records._waiting if c.__module__.startswith('sop.')]\n"
        "print(len(waiting))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, cwd=REPO, check=True
    )
    assert int(done.stdout) >= 60
