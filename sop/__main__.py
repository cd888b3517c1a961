from __future__ import annotations

from sop.cli import main

main()
