"""The key that encrypts personal data is created once, even when many threads need it first at once."""

from __future__ import annotations

import threading

from ncii_shield.services.sealing import contact_key


def test_first_use_from_many_threads_gives_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv("NCII_SHIELD_CONTACT_KEY", raising=False)
    monkeypatch.setenv("NCII_SHIELD_DATA", str(tmp_path))
    barrier, keys, errors = threading.Barrier(8), [], []

    def first_use() -> None:
        barrier.wait()
        try:
            keys.append(contact_key())
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(keys)) == 1 and len(keys) == 8
    assert (tmp_path / "contact.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["contact.key"]  # no temporary file left behind
