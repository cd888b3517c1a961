"""Which secrets a step gets: those its `run` or `script` text names as `$SOP_SECRET_<NAME>`
(`${SOP_SECRET_<NAME>}`, or the bare variable name, as in `os.environ["SOP_SECRET_TOKEN"]`),
and those its `secrets:` key lists; a task step only the listed ones.

The text is read as the SOP wrote it, never as rendered: a value from a host or a responder
cannot make a step ask for a secret. Templates cannot hand a secret over either: a secret in
`{{ }}` fails to render (`templating.Secret`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sop.model import Step

ENV_PREFIX = "SOP_SECRET_"
# the whole variable name: `$SOP_SECRET_TOKEN_B` names TOKEN_B, not TOKEN
_MENTION = re.compile(r"(?<![A-Za-z0-9_])SOP_SECRET_([A-Za-z0-9_]+)")


def env_name(secret: str) -> str:
    """The environment variable a command reads `secret` from."""
    return ENV_PREFIX + secret.upper()


def mentioned(text: str) -> set[str]:
    """The environment variables of secrets that `text` names, e.g. {"SOP_SECRET_TOKEN"}."""
    return {ENV_PREFIX + m[1] for m in _MENTION.finditer(text)}


def named_by(step: Step) -> set[str]:
    """The secret variables a step's own text names (a task's commands are not in the SOP)."""
    return mentioned(step.body) if step.kind in ("run", "script") else set()


def step_secrets(step: Step, available: Iterable[str]) -> tuple[str, ...]:
    """The names, among the secrets `available` to the step's SOP, that the step gets."""
    if step.kind not in ("run", "script", "task"):
        return ()
    named = named_by(step)
    listed = set(step.secrets)
    return tuple(s for s in available if s in listed or env_name(s) in named)
