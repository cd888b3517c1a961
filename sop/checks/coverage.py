"""Which NIST CSF phases (identify, protect, detect, respond, recover) the library's SOPs cover,
and the gaps: for the whole library (`sop coverage`) or for the phases a tabletop scenario puts
at stake. An SOP covers the phase of its `phase:` key and those of its sections (a heading's
`phase:`), each once; SOPs without any are listed apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sop.model import PHASES, Sop
from sop.records import dataclass


@dataclass(frozen=True)
class PhaseRow:
    phase: str
    sops: tuple[str, ...]  # ids of the library's SOPs in this phase
    at_stake: bool = True  # for a scenario: whether the scenario puts this phase at stake
    used: tuple[str, ...] = ()  # for a scenario: SOPs of this phase the team picked

    @property
    def gap(self) -> bool:
        return self.at_stake and not self.sops

    @property
    def status(self) -> str:
        if not self.at_stake:
            return "not at stake"
        return "GAP: no SOP" if self.gap else "covered"

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "at_stake": self.at_stake,
            "sops": list(self.sops),
            "used": list(self.used),
            "gap": self.gap,
        }


@dataclass(frozen=True)
class Coverage:
    rows: tuple[PhaseRow, ...]
    unassigned: tuple[str, ...] = ()  # SOPs without a phase

    @property
    def gaps(self) -> tuple[str, ...]:
        return tuple(r.phase for r in self.rows if r.gap)

    def as_dict(self) -> dict[str, Any]:
        return {
            "phases": [r.as_dict() for r in self.rows],
            "gaps": list(self.gaps),
            "unassigned": list(self.unassigned),
        }


def by_phase(sops: Iterable[Sop]) -> dict[str, tuple[str, ...]]:
    """Phase -> sorted SOP ids, for the five phases (empty ones included) and '' for none."""
    found: dict[str, list[str]] = {phase: [] for phase in (*PHASES, "")}
    for sop in sops:
        for phase in sop.phases or ("",):
            found[phase].append(sop.id)
    return {phase: tuple(sorted(ids)) for phase, ids in found.items()}


def library_coverage(
    sops: Iterable[Sop], at_stake: Sequence[str] | None = None, used: Iterable[str] = ()
) -> Coverage:
    """The coverage table. `at_stake`: only these phases count as gaps (default: all five);
    `used`: SOP ids a team picked, shown against their phase."""
    sops = list(sops)
    phases = by_phase(sops)
    phases_of: Mapping[str, tuple[str, ...]] = {s.id: s.phases for s in sops}
    picked = list(dict.fromkeys(used))
    return Coverage(
        rows=tuple(
            PhaseRow(
                phase=phase,
                sops=phases[phase],
                at_stake=at_stake is None or phase in at_stake,
                used=tuple(s for s in picked if phase in phases_of.get(s, ())),
            )
            for phase in PHASES
        ),
        unassigned=phases[""],
    )


def coverage_rows(coverage: Coverage, *, scenario: bool = False) -> list[list[str]]:
    """Rows for a plain table: phase, status, SOPs (and, for a scenario, the team's picks)."""
    rows = []
    for row in coverage.rows:
        cells = [row.phase, row.status, ", ".join(row.sops) or "-"]
        if scenario:
            cells.append(", ".join(row.used) or "-")
        rows.append(cells)
    return rows


def coverage_markdown(coverage: Coverage, *, scenario: bool = False) -> str:
    headers = ["phase", "status", "SOPs in the library"] + (
        ["picked by the team"] if scenario else []
    )
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for cells in coverage_rows(coverage, scenario=scenario):
        if cells[1].startswith("GAP"):
            cells[1] = f"**{cells[1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    if coverage.unassigned:
        lines.append("")
        lines.append("SOPs without a phase: " + ", ".join(coverage.unassigned))
    return "\n".join(lines) + "\n"
