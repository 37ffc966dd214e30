"""``marks_cached.py run`` with the located windows refined (``describe.refine``, issue 19, 2026-12-06 #5).

``describe.refine`` moves the best-named located windows to where their mark's descriptor correlates
best and names them again; ``index/marks.py``'s ``_named`` calls it since 2026-12-06 #5 (before, this
wrapped ``MarkIndex._named`` so that it did; on the index of now the wrapping is skipped). ``describe``'s
constants are set by ``--mod`` (``--mod describe.REFINE=24``, 0: off), then the remaining arguments go
to ``marks_cached.py run``::

    python bench/marks_check/refined.py --mod describe.REFINE=24 -- DIR --values V.json [--set ...] [--json f]
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def wire() -> None:
    """``MarkIndex._named`` followed by ``describe.refine`` (its windows refined, ``REFINE`` of them)."""
    from ncii_shield.index import marks as IM
    from ncii_shield.signals.marks import describe as D

    if getattr(IM.MarkIndex._named, "_refined", False) or "D.refine(" in inspect.getsource(IM.MarkIndex._named):
        return  # the index refines by itself (since 2026-12-06 #5): describe.REFINE alone sets it
    named = IM.MarkIndex._named

    def _named(self, boxes, pyramid, names):
        return D.refine(pyramid, names, named(self, boxes, pyramid, names))

    _named._refined = True
    IM.MarkIndex._named = _named


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
    wire()
    import marks_cached

    sys.argv = ["marks_cached.py", "run", *rest]
    marks_cached.main()


if __name__ == "__main__":
    main()
