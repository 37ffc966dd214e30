"""One ``Upload`` used from two threads at once: the derivative index verifies two candidates of one
check at the same time (``index/derivative.py``, ``CHECK_THREADS``), and both may need the upload's
pictures (cut lazily, 2-5 ms a composite). They must be cut once, and both threads get that cut."""

from __future__ import annotations

import threading
import time

from ncii_shield.signals.derivative import verify as V
from ncii_shield.signals.derivative.verify import Upload
from tests.derivative_scenes import scene


def test_two_threads_reaching_the_pictures_at_once_cut_them_once(monkeypatch):
    upload = Upload.from_rgb(scene(301))
    real_cut = V.picture_cut
    calls = []

    def slow_cut(*args):  # noqa: ANN002, ANN202
        calls.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other thread to reach the cut while this one is in it
        return real_cut(*args)

    monkeypatch.setattr(V, "picture_cut", slow_cut)
    meet = threading.Barrier(2, timeout=20)
    got: list = [None, None]

    def reach(k: int) -> None:
        meet.wait()
        got[k] = (upload.panels, upload.picture, upload.units)

    threads = [threading.Thread(target=reach, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    assert got[0] is not None and got[0] == got[1]
    assert (upload.panels, upload.picture, upload.units) == got[0] and len(calls) == 1  # kept
