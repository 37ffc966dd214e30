"""Victims' cases: hashes registered without the images, reachable only with case number + PIN.

* A case owns its hashes in the operator's victims' bank (``victims``) — or, when the person is
  under 18 and a parent or guardian registers, in ``victims-under-18``, a separate queue flagged
  for a mandatory-report organisation. No image is stored either way.
* The case number is random (80 bits, base32, grouped) and the PIN 8 random digits (10^8, about
  26.6 bits), hashed with Argon2id. Wrong PINs throttle the guesser, never the owner: per address
  and per case and day, with a proof-of-work path that still opens a guessed-at case for the right
  PIN (:mod:`ncii_shield.services.pin_guard`).
* What a case shows comes only from that case: how many items it holds and the removal requests
  sent through it that ended in removal. Never live match counts: anyone may register any hash, so a
  count that moves would tell an outsider that a value is banked and still being uploaded. For the
  same reason registering a value that is already banked answers exactly like a new one.
* A case holds what a person has: at most ``MAX_CASE_ITEMS`` (200) hashes and photos in total.
* Withdrawing a case withdraws every hash through the change log: it stops matching on every
  replica within a second.
* An optional contact e-mail is encrypted (Fernet) with a key kept outside the database
  (``NCII_SHIELD_CONTACT_KEY`` or ``<data dir>/contact.key``).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import Counter
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from ncii_shield.errors import Conflict, InvalidRequest, PermissionDenied, TooLarge
from ncii_shield.services.banks import SignalInput, canonical, check_batch
from ncii_shield.services.exchange.verdicts import removed_on_platforms
from ncii_shield.services.pin_guard import CASE_WINDOW, AddressThrottle, PinPolicy, proof_ok
from ncii_shield.services.sealing import contact_cipher
from ncii_shield.store import banks as bank_store
from ncii_shield.store import matches as match_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Case, CaseMessage, CaseSignal, Notice, utcnow

OPERATOR_TENANT = "default"
ADULT_BANK = "victims"
MINOR_BANK = "victims-under-18"
MAX_CASE_ITEMS = 200  # hashes and photos in one case, over every request: what one person has
LOCAL = "local"  # the "address" of in-process callers (CLI, tests)
_hasher = PasswordHasher()  # Argon2id, library defaults (RFC 9106 low-memory profile)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CaseLocked(PermissionDenied):
    """Too many wrong PINs (from this address, or for this case today): the PIN was not checked."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProofOfWorkRequired(CaseLocked):
    """The case had many wrong PINs today: a PIN is checked only with a proof of work."""

    def __init__(self, bits: int) -> None:
        super().__init__(
            "this case had many wrong PINs today, so a PIN is now checked only with a proof of work: send "
            f"\"proof\", a nonce such that sha256(\"ncii-shield-pin:<case number>:<PIN>:<UTC date YYYY-MM-DD>:<nonce>\") "
            f"starts with {bits} zero bits (the status page computes it for you in a few seconds)", 1)
        self.bits = bits


@dataclass(frozen=True)
class CaseRef:
    """A case whose number and PIN were checked in this request (from :meth:`CaseService.authorise`)."""

    id: int
    case_number: str
    items: int


@dataclass(frozen=True)
class NewCase:
    case_number: str
    pin: str
    hashes: int
    queue: str


@dataclass(frozen=True)
class CaseStatus:
    case_number: str
    status: str
    queue: str
    hashes: int  # items (hashes and photos) the case holds; 0 once withdrawn
    removals: int | None  # removal requests sent through this case that ended in removal
    created_at: object
    # platforms (feed subscribers) that reported removing a match of the case's hashes, counting only
    # reports older than a day (services/exchange/verdicts.py): coarse and late, never per upload
    removed_on_platforms: int | None = None


def new_case_number() -> str:
    raw = secrets.randbits(80)
    chars = "".join(_CROCKFORD[(raw >> (5 * i)) & 31] for i in range(16))
    return f"NC-{chars[0:4]}-{chars[4:8]}-{chars[8:12]}-{chars[12:16]}"


def normalise_case_number(text: str) -> str:
    cleaned = "".join(c for c in (text or "").upper() if c.isalnum())
    cleaned = cleaned.removeprefix("NC").translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 16 or any(c not in _CROCKFORD for c in cleaned):
        raise InvalidRequest("a case number looks like NC-XXXX-XXXX-XXXX-XXXX")
    return f"NC-{cleaned[0:4]}-{cleaned[4:8]}-{cleaned[8:12]}-{cleaned[12:16]}"


class CaseService:
    def __init__(self, db: Database, on_change=None, policy: PinPolicy | None = None) -> None:  # noqa: ANN001
        self.db = db
        self._on_change = on_change or (lambda: None)
        self.policy = policy or PinPolicy.from_env()
        self.throttle = AddressThrottle()
        self._pending: list[int] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._recorder: threading.Thread | None = None
        self._floods: dict[str, float] = {}  # address digest -> when its flood was last flagged

    def flag_flood(self, address: str, *, limit: int, now: float | None = None) -> bool:
        """An address opened more cases than the hourly limit allows (a registration flood): flag it
        once an hour per address — an audit entry ``case.flood`` for the operator (the address as a
        salted digest, never in clear), and an ``ALERT`` log line. Returns whether it was flagged now."""
        import hashlib
        import logging
        import time

        from ncii_shield.services import audit

        now = time.monotonic() if now is None else now
        digest = hashlib.sha256(f"ncii-shield-flood:{address}".encode()).hexdigest()[:16]
        with self._pending_lock:
            if now - self._floods.get(digest, -1e18) < 3600:
                return False
            self._floods = {d: t for d, t in self._floods.items() if now - t < 3600}
            self._floods[digest] = now
        with self.db.write() as session:
            audit.append(session, tenant_id=None, actor="intake", action="case.flood", subject=f"address:{digest}",
                         details={"limit_per_hour": limit})
        logging.getLogger("ncii_shield.cases").warning(
            "ALERT case registration flood: an address went over %d new cases an hour", limit,
            extra={"address_digest": digest})
        return True

    def open_case(self, signals: list[SignalInput], *, age: str, consent: bool, contact_email: str | None = None) -> NewCase:
        """Register hashes as a new case. ``age`` is "adult" or "guardian" (the person is under 18).

        The answer is the same whether a value was already banked (by another case, or withdrawn
        earlier) or not, and so is the work: every value goes through the same insert-or-find."""
        if not consent:
            raise InvalidRequest("consent is required: confirm that the images show you (or the person you are the guardian of)")
        if age not in ("adult", "guardian"):
            raise InvalidRequest('age must be "adult" (I am 18 or older) or "guardian" (the person is under 18)')
        _check_case_size(len(signals))
        check_batch(signals)
        batch = len(signals) > 1
        new = [canonical(s, i if batch else None) for i, s in enumerate(signals)]
        _check_case_size(len({(s.signal_type, s.value) for s in new}))
        encrypted = None
        if contact_email:
            if "@" not in contact_email or len(contact_email) > 254:
                raise InvalidRequest("the contact e-mail does not look like an e-mail address")
            encrypted = contact_cipher().encrypt(contact_email.strip().encode()).decode()
        pin = f"{secrets.randbelow(10**8):08d}"
        queue = "adult" if age == "adult" else "mandatory-report"
        with self.db.write() as session:
            tenant = bank_store.get_or_create_tenant(session, OPERATOR_TENANT)
            bank = bank_store.get_or_create_bank(session, tenant.id, ADULT_BANK if queue == "adult" else MINOR_BANK,
                                                 description="hashes registered by people through their cases",
                                                 trust="anonymous")  # anyone can open a case: services/trust.py
            case = Case(case_number=new_case_number(), pin_hash=_hasher.hash(pin), bank_id=bank.id, queue=queue,
                        status="active", contact_encrypted=encrypted, failed_pins=0, lockouts=0)
            session.add(case)
            session.flush()
            added = bank_store.add_signals(session, bank, [
                bank_store.NewSignal(s.signal_type, s.value, {"case": True}) for s in new])
            for signal_id in sorted({a.id for a in added}):
                session.add(CaseSignal(case_id=case.id, signal_id=signal_id))
            number = case.case_number
        self._on_change()
        return NewCase(number, pin, len({a.id for a in added}), queue)

    def authorise(self, case_number: str, pin: str, *, address: str | None = None, proof: str | None = None) -> CaseRef:
        """Check case number + PIN (throttled, see :mod:`~ncii_shield.services.pin_guard`); a wrong PIN
        is counted (committed) and raises. Callers check this before any other work (decoding photos)."""
        denied: Exception | None = None
        with self.db.write() as session:
            try:
                case = self._authorise(session, case_number, pin, address=address, proof=proof)
            except PermissionDenied as exc:
                denied = exc  # commit the failure count, then raise
            else:
                items = session.scalar(select(func.count()).select_from(CaseSignal).where(CaseSignal.case_id == case.id))
                return CaseRef(case.id, case.case_number, int(items or 0))
        raise denied

    def add_signals(self, case_number: str, pin: str, signals: list[SignalInput], *, address: str | None = None,
                    proof: str | None = None) -> int:
        """Add signals (e.g. derivative signatures of the person's public photos) to an active case;
        they are withdrawn with it. Returns how many items the case holds now."""
        check_batch(signals)
        return self.add_to(self.authorise(case_number, pin, address=address, proof=proof), signals)

    def add_to(self, ref: CaseRef, signals: list[SignalInput]) -> int:
        """Add signals to a case authorised in this request; at most ``MAX_CASE_ITEMS`` in all."""
        check_batch(signals)
        batch = len(signals) > 1
        new = [canonical(s, i if batch else None) for i, s in enumerate(signals)]
        with self.db.write() as session:
            case = session.get(Case, ref.id)
            if case.status != "active":
                raise Conflict("this case is withdrawn; open a new case")
            bank = session.get(bank_store.Bank, case.bank_id)
            added = bank_store.add_signals(session, bank, [
                bank_store.NewSignal(s.signal_type, s.value, {"case": True}) for s in new])
            held = set(session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)))
            fresh = sorted({a.id for a in added} - held)
            _check_case_size(len(held), adding=len(fresh))  # raising rolls the whole addition back
            for signal_id in fresh:
                session.add(CaseSignal(case_id=case.id, signal_id=signal_id))
            count = len(held) + len(fresh)
        self._on_change()
        return count

    def _authorise(self, session, case_number: str, pin: str, *, address: str | None = None,  # noqa: ANN001
                   proof: str | None = None) -> Case:
        """The case if the PIN is right; counts failures (in the caller's transaction), throttles.

        Order matters: nothing about the case is read, and no PIN is checked, while this address is
        throttled; over the case's daily budget no PIN is checked at all; over its free budget only
        with a proof of work. Unknown case numbers cost and count like wrong PINs."""
        number = normalise_case_number(case_number)
        address = address or LOCAL
        pin = (pin or "").strip()
        wrong = PermissionDenied("the case number or PIN is not right")
        wait = self.throttle.wait(number, address)
        if wait:
            raise CaseLocked(f"too many wrong PINs from this address: wait {_minutes(wait)} before trying again "
                             "(people elsewhere are not affected)", wait)
        case = session.scalar(select(Case).where(Case.case_number == number).with_for_update())
        if case is None:
            _spend_time(pin)
            self.throttle.failed(number, address)
            raise wrong
        now = utcnow()
        window_end = case.locked_until  # the end of the 24-hour window of wrong PINs (None: none yet)
        if window_end is not None and window_end.tzinfo is None:
            window_end = window_end.replace(tzinfo=now.tzinfo)
        if window_end is None or window_end <= now:
            case.failed_pins, window_end = 0, None
        if case.failed_pins >= self.policy.most:
            wait = int((window_end - now).total_seconds()) + 1
            raise CaseLocked(f"this case had too many wrong PINs today: no PIN is checked until "
                             f"{window_end:%Y-%m-%d %H:%M} UTC", wait)
        if case.failed_pins >= self.policy.free and not proof_ok(number, pin, proof, self.policy.bits):
            raise ProofOfWorkRequired(self.policy.bits)
        try:
            _hasher.verify(case.pin_hash, pin)
        except (VerificationError, InvalidHashError):
            if window_end is None:
                case.locked_until = now + CASE_WINDOW
            case.failed_pins += 1
            if case.failed_pins == self.policy.free:
                case.lockouts += 1  # how often this case needed the slower path (for the operator)
            self.throttle.failed(number, address)
            raise wrong from None
        self.throttle.succeeded(number, address)
        return case

    def status(self, case_number: str, pin: str, *, address: str | None = None, proof: str | None = None) -> CaseStatus:
        """What the case holds and what was decided on its own removal requests; nothing else."""
        ref = self.authorise(case_number, pin, address=address, proof=proof)
        with self.db.read() as session:
            case = session.get(Case, ref.id)
            removals = session.scalar(select(func.count()).select_from(Notice).where(
                Notice.case_id == case.id, Notice.status == "removed")) or 0
            if case.status != "active":
                return self._withdrawn_status(case)
            signal_ids = list(session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)))
            platforms = removed_on_platforms(session, signal_ids)
            return CaseStatus(case.case_number, case.status, case.queue, ref.items, int(removals), case.created_at,
                              platforms)

    def withdraw(self, case_number: str, pin: str, *, address: str | None = None, proof: str | None = None) -> CaseStatus:
        ref = self.authorise(case_number, pin, address=address, proof=proof)
        with self.db.write() as session:
            case = session.get(Case, ref.id)
            if case.status == "withdrawn":
                raise Conflict("this case is already withdrawn")
            bank = session.get(bank_store.Bank, case.bank_id)
            for signal_id in session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)):
                if not self._shared_with_active_case(session, signal_id, case.id):
                    bank_store.withdraw_signal(session, bank, signal_id)
            case.status = "withdrawn"
            case.withdrawn_at = utcnow()
            from ncii_shield.services.likeness import erase_case_enrolments

            erase_case_enrolments(session, case.id)  # enrolled faces (biometric data) erased with the case
            if case.contact_encrypted and os.environ.get("NCII_SHIELD_SMTP_URL"):
                # the confirmation (services/case_mail.py) keeps the address sealed until it is sent
                session.add(CaseMessage(case_id=case.id, kind="withdrawn", address_encrypted=case.contact_encrypted,
                                        attempts=0, created_at=utcnow(), next_attempt_at=utcnow()))
            case.contact_encrypted = None  # nothing personal kept after withdrawal
            number = case.case_number
        self._on_change()
        return self.status_after_withdrawal(number)

    @staticmethod
    def _shared_with_active_case(session, signal_id: int, case_id: int) -> bool:  # noqa: ANN001
        """Two people may register the same image: withdraw a hash only when no other case holds it."""
        return bool(session.scalar(select(func.count()).select_from(CaseSignal).join(Case, Case.id == CaseSignal.case_id).where(
            CaseSignal.signal_id == signal_id, CaseSignal.case_id != case_id, Case.status == "active")))

    def status_after_withdrawal(self, number: str) -> CaseStatus:
        with self.db.read() as session:
            return self._withdrawn_status(session.scalar(select(Case).where(Case.case_number == number)))

    @staticmethod
    def _withdrawn_status(case: Case) -> CaseStatus:
        return CaseStatus(case.case_number, case.status, case.queue, 0, None, case.created_at)

    def record_matches(self, signal_ids: list[int]) -> None:
        """Count matches per signal (how many and when last, never where), for the operator: a case
        never shows them (see the module docstring). Buffered: added to
        ``match_totals`` about once a second by a background thread, so a match costs the request no
        database write and the table holds one row per signal however long the server runs."""
        if signal_ids:
            with self._pending_lock:
                self._pending.extend(signal_ids)
            self._wake.set()

    def flush_matches(self) -> int:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                with self.db.write() as session:
                    match_store.add_match_counts(session, Counter(batch), utcnow())
            except Exception:  # the database is down: keep them for the next try
                with self._pending_lock:
                    self._pending[:0] = batch
                raise
        return len(batch)

    def start_recorder(self) -> None:
        if self._recorder is None:
            self._recorder = threading.Thread(target=self._record_loop, name="match-recorder", daemon=True)
            self._recorder.start()

    def stop_recorder(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._recorder is not None:
            self._recorder.join(timeout=5)
            self._recorder = None
        try:
            self.flush_matches()
        except Exception:
            pass

    def _record_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._stopping.wait(0.5)  # gather a batch
            self._wake.clear()
            try:
                self.flush_matches()
            except Exception:
                self._stopping.wait(1.0)


_DUMMY_HASH = _hasher.hash("unused")


def _check_case_size(items: int, *, adding: int = 0) -> None:
    if items + adding > MAX_CASE_ITEMS:
        held = f"the case holds {items} and this adds {adding}" if adding else f"this request has {items}"
        raise TooLarge(f"a case holds at most {MAX_CASE_ITEMS} items (hashes and photos, over every request); "
                       f"{held}. Open a second case for more")


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _spend_time(pin: str | None) -> None:
    """Unknown case numbers cost as much as wrong PINs: no timing oracle for valid numbers."""
    try:
        _hasher.verify(_DUMMY_HASH, (pin or "") + "x")
    except (VerificationError, InvalidHashError):
        pass

