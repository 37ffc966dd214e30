"""``marks_cached.py run`` with constants of the candidate stage's other modules set too (issue 19, 2026-12-06 #4).

``marks_cached.py --set NAME=VALUE`` sets constants of ``ncii_shield/index/marks.py`` only; here
``--mod locate.NAME=VALUE`` (or ``describe.``, ``features.``) sets one of ``ncii_shield/signals/marks/<module>.py``
first, then the remaining arguments go to ``marks_cached.py run`` unchanged::

    python bench/marks_check/cached_with.py --mod locate.GRADIENT_LEVELS="(40, 80, 140)" -- DIR --values V.json [--set ...] [--json f]
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def main() -> None:
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    head = argv[:argv.index("--")] if "--" in argv else argv
    for k in range(0, len(head), 2):
        assert head[k] == "--mod", head[k]
        name, value = head[k + 1].split("=", 1)
        module, attr = name.split(".", 1)
        m = importlib.import_module(f"ncii_shield.signals.marks.{module}")
        assert hasattr(m, attr), name
        setattr(m, attr, ast.literal_eval(value))
        print(f"set {module}.{attr} = {getattr(m, attr)!r}", file=sys.stderr)
    import marks_cached

    sys.argv = ["marks_cached.py", "run", *rest]
    marks_cached.main()


if __name__ == "__main__":
    main()
