"""``marks_cached.py run`` with the located windows refined (``describe.refine``, issue 19, 2026-12-06 #5).

``describe.refine`` moves the best-named located windows to where their mark's descriptor correlates
best and names them again; ``index/marks.py``'s ``_named`` calls it since 2026-12-06 #5 (before, this
wrapped ``MarkIndex._named`` so that it did; on the index of now the wrapping is skipped, and this is
``cached_with.py``). ``describe``'s constants are set by ``--mod`` (``--mod describe.REFINE=24``, 0: off),
then the remaining arguments go to ``marks_cached.py run``, as ``cached_with.py`` does::

    python bench/marks_check/refined.py --mod describe.REFINE=24 -- DIR --values V.json [--set ...] [--json f]
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def wire() -> None:
    """``MarkIndex._named`` followed by ``describe.refine`` (its windows refined, ``REFINE`` of them)."""
    from ncii_shield.index import marks as IM
    from ncii_shield.signals.marks import describe as D

    current = IM.MarkIndex._named
    if getattr(current, "_refined", False) or "D.refine(" in inspect.getsource(current):
        return  # the index refines by itself (since 2026-12-06 #5): describe.REFINE alone sets it
    named = IM.MarkIndex._named

    def _named(self, boxes, pyramid, names):
        return D.refine(pyramid, names, named(self, boxes, pyramid, names))

    _named._refined = True
    IM.MarkIndex._named = _named


def main() -> None:
    """``cached_with.py``'s run (its ``--mod`` settings, then ``marks_cached.py run``), the index refining."""
    wire()
    import cached_with

    cached_with.main()


if __name__ == "__main__":
    main()
