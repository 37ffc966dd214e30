"""Guessing a case's PIN: throttle the guesser, not the owner.

A case number is not a secret the way a PIN is (a person may show it to a helper, or it may leak),
so locking a case after a few wrong PINs hands anyone who knows the number a way to lock its owner
out. Instead:

* **Per address** (this worker's memory): at most ``PER_CASE_AND_ADDRESS`` (5) wrong PINs for one
  case and ``PER_ADDRESS`` (20) over all cases from one client address per hour. Past that, that
  address's attempts are refused (429) without checking the PIN; other addresses are unaffected.
* **Per case and day** (in the database, so across workers and restarts; the window starts with the
  first wrong PIN and lasts 24 hours): after ``free`` (20) wrong PINs from all addresses together, a
  PIN is checked only with a **proof of work**; after ``most`` (200), no PIN is checked until the
  window ends. An 8-digit PIN (10^8) then takes 250,000 days to find on average (half the PINs at
  200 a day; 500,000 days to try them all); to lock
  the owner out for the rest of a day an attacker needs 200 wrong PINs from at least 40 address-hours,
  180 of them with a proof.
* **The proof** (the slower path for the owner): a ``nonce`` such that
  ``sha256("ncii-shield-pin:<case number>:<PIN>:<UTC date>:<nonce>")`` starts with ``bits`` (20)
  zero bits: about a million hashes, 1-2 s in a desktop browser and a few seconds on a phone
  (static/proof.js: about 600,000 hashes/s in Chromium on one loaded core, printed by
  tests/e2e/test_case_proof.py). It is bound to the PIN tried, so every guess costs one; the date
  is today's or yesterday's (UTC). :func:`solve` computes one.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PER_CASE_AND_ADDRESS = 5
PER_ADDRESS = 20
ADDRESS_WINDOW = 3600.0  # seconds
CASE_WINDOW = timedelta(hours=24)
MAX_NONCE = 64


@dataclass(frozen=True)
class PinPolicy:
    """Per-case daily budgets of wrong PINs and the proof's difficulty (environment:
    ``NCII_SHIELD_CASE_FREE_FAILURES_PER_DAY``, ``NCII_SHIELD_CASE_MAX_FAILURES_PER_DAY``,
    ``NCII_SHIELD_CASE_POW_BITS``)."""

    free: int = 20
    most: int = 200
    bits: int = 20

    @classmethod
    def from_env(cls) -> PinPolicy:
        env = os.environ.get
        return cls(free=int(env("NCII_SHIELD_CASE_FREE_FAILURES_PER_DAY", cls.free)),
                   most=int(env("NCII_SHIELD_CASE_MAX_FAILURES_PER_DAY", cls.most)),
                   bits=int(env("NCII_SHIELD_CASE_POW_BITS", cls.bits)))


def _digest(case_number: str, pin: str, day: date, nonce: str) -> bytes:
    return hashlib.sha256(f"ncii-shield-pin:{case_number}:{pin}:{day.isoformat()}:{nonce}".encode()).digest()


def _leading_zeros_ok(digest: bytes, bits: int) -> bool:
    return int.from_bytes(digest, "big") >> (256 - bits) == 0 if bits > 0 else True


def proof_ok(case_number: str, pin: str, nonce: str | None, bits: int, *, now: datetime | None = None) -> bool:
    """Whether ``nonce`` proves ``bits`` bits of work for this case number and PIN (today or yesterday, UTC)."""
    if not nonce or len(nonce) > MAX_NONCE:
        return False
    today = (now or datetime.now(UTC)).date()
    return any(_leading_zeros_ok(_digest(case_number, pin, day, nonce), bits) for day in (today, today - timedelta(days=1)))


def solve(case_number: str, pin: str, bits: int, *, day: date | None = None) -> str:
    """A proof for ``case_number`` and ``pin`` (clients and the CLI; about 2^bits hashes)."""
    day = day or datetime.now(UTC).date()
    nonce = 0
    while not _leading_zeros_ok(_digest(case_number, pin, day, str(nonce)), bits):
        nonce += 1
    return str(nonce)


class AddressThrottle:
    """Wrong PINs per (case, address) and per address, in fixed one-hour windows (per worker)."""

    def __init__(self, per_case: int = PER_CASE_AND_ADDRESS, per_address: int = PER_ADDRESS,
                 window: float = ADDRESS_WINDOW) -> None:
        self.per_case, self.per_address, self.window = per_case, per_address, window
        self._counts: dict[tuple, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _get(self, key: tuple, now: float) -> tuple[int, float]:
        count, start = self._counts.get(key, (0, now))
        return (0, now) if now - start >= self.window else (count, start)

    def wait(self, case_number: str, address: str) -> int:
        """Seconds this address must wait before trying this case again (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in (((case_number, address), self.per_case), ((address,), self.per_address)):
                count, start = self._get(key, now)
                if count >= limit:
                    waits.append(int(start + self.window - now) + 1)
            return max(waits, default=0)

    def failed(self, case_number: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 200_000:  # bounded memory: forget the oldest windows
                self._counts = {k: v for k, v in self._counts.items() if now - v[1] < self.window}
            for key in ((case_number, address), (address,)):
                count, start = self._get(key, now)
                self._counts[key] = (count + 1, start)

    def succeeded(self, case_number: str, address: str) -> None:
        """The right PIN from this address: its typos for this case are forgiven."""
        with self._lock:
            self._counts.pop((case_number, address), None)
