"""`sop lint --format sarif`: the lint report as SARIF 2.1.0, the format code-scanning UIs read
(GitHub, GitLab, Azure DevOps): one rule per kind of problem, one result per problem at its
file, line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sop import __version__
from sop.checks.lint import LintReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

# the `code` of a problem -> what its rule checks
RULES = {
    "schema": "The file fits the SOP format (keys, types, required keys, step kinds).",
    "yaml": "The file is YAML sop can read safely.",
    "id": "Each SOP of the library has its own id.",
    "template": "Templates parse, use known filters and tests, and name defined variables.",
    "secret": "Secrets never reach a command line, a log or the terminal.",
    "quoting": "Templates stand outside the author's quotes: sop quotes every value.",
    "task": "Task steps name a task the SOP's tasks file defines.",
    "target": "Targets name `local` or a host or group of the inventory.",
    "call": "Called SOPs exist, get known inputs and do not loop.",
    "alert": "A step names only alerts its SOP answers.",
    "role": "An approval names a role of the SOP (declared, or a step's role).",
    "path": "Every path through the decisions goes on and sets what later steps read.",
    "drill": "Drill scenarios name existing steps, inputs and questions; SOPs are drilled recently.",
    "metadata": "Each SOP has an owner and a recent review date.",
    "todo": "No step is left unfinished (TODO, TBD, FIXME).",
    "heading": "Every heading has a step under it (an empty one is shown nowhere).",
    "acknowledge": "A step acknowledges only warnings it has (with the reason).",
}
OTHER = "A check of sop lint."


def sarif_log(report: LintReport) -> dict[str, Any]:
    """The SARIF log of one lint report: every problem a result, its code the rule."""
    codes = sorted({p.code for p in report.problems} | RULES.keys())
    index = {code: i for i, code in enumerate(codes)}
    rules = [{"id": code, "shortDescription": {"text": RULES.get(code, OTHER)}} for code in codes]
    results = []
    for problem in report.problems:
        region = (
            {"region": {"startLine": problem.where.line, "startColumn": problem.where.col}}
            if problem.where.line
            else {}
        )
        message = f"{problem.path}: {problem.message}" if problem.path else problem.message
        results.append(
            {
                "ruleId": problem.code,
                "ruleIndex": index[problem.code],
                "level": "error" if problem.severity == "error" else "warning",
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(problem.where.file)},
                            **region,
                        }
                    }
                ],
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "sop", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }


def _uri(file: str) -> str:
    """A relative path as a relative URI (code scanning resolves it against the checkout), an
    absolute one as a file: URI."""
    path = Path(file)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())
