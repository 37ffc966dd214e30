"""Victims' cases: hashes registered without the images, reachable only with case number + PIN.

* A case owns its hashes in the operator's victims' bank (``victims``) — or, when the person is
  under 18 and a parent or guardian registers, in ``victims-under-18``, a separate queue flagged
  for a mandatory-report organisation. No image is stored either way.
* The case number is random (80 bits, base32, grouped) and the PIN 8 random digits, hashed with
  Argon2id. Five wrong PINs lock the case for 1 minute, then 2, 4, ... up to a day.
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
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ncii_shield.errors import Conflict, InvalidRequest, PermissionDenied
from ncii_shield.services.banks import SignalInput, canonical, check_batch
from ncii_shield.store import banks as bank_store
from ncii_shield.store import matches as match_store
from ncii_shield.store.database import Database
from ncii_shield.store.files import private_dir
from ncii_shield.store.models import Case, CaseSignal, MatchTotal, Notice, Signal, utcnow

OPERATOR_TENANT = "default"
ADULT_BANK = "victims"
MINOR_BANK = "victims-under-18"
MAX_PIN_FAILURES = 5
_hasher = PasswordHasher()  # Argon2id, library defaults (RFC 9106 low-memory profile)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CaseLocked(PermissionDenied):
    """Too many wrong PINs: the case is locked for a while."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
    hashes: int
    matches: int
    removals: int | None  # removal requests sent through this case that ended in removal
    created_at: object


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


def contact_cipher() -> Fernet:
    return Fernet(contact_key())


def contact_key() -> bytes:
    """The Fernet key for personal data (``NCII_SHIELD_CONTACT_KEY`` or ``<data dir>/contact.key``)."""
    key = os.environ.get("NCII_SHIELD_CONTACT_KEY")
    if not key:
        path = Path(os.environ.get("NCII_SHIELD_DATA", "data")) / "contact.key"
        if not path.exists():  # first use: write a complete file under a private name, then link it in
            private_dir(path.parent)  # the data directory: 0700 when we create it
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another thread or process created it first: everyone uses that one
            finally:
                os.unlink(temporary)
        key = path.read_text().strip()
    return key.encode() if isinstance(key, str) else key


class CaseService:
    def __init__(self, db: Database, on_change=None) -> None:  # noqa: ANN001
        self.db = db
        self._on_change = on_change or (lambda: None)
        self._pending: list[int] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._recorder: threading.Thread | None = None

    def open_case(self, signals: list[SignalInput], *, age: str, consent: bool, contact_email: str | None = None) -> NewCase:
        """Register hashes as a new case. ``age`` is "adult" or "guardian" (the person is under 18)."""
        if not consent:
            raise InvalidRequest("consent is required: confirm that the images show you (or the person you are the guardian of)")
        if age not in ("adult", "guardian"):
            raise InvalidRequest('age must be "adult" (I am 18 or older) or "guardian" (the person is under 18)')
        check_batch(signals)
        batch = len(signals) > 1
        new = [canonical(s, i if batch else None) for i, s in enumerate(signals)]
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
                                                 description="hashes registered by people through their cases")
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

    def add_signals(self, case_number: str, pin: str, signals: list[SignalInput]) -> int:
        """Add signals (e.g. derivative signatures of the person's public photos) to an active case;
        they are withdrawn with it. Returns how many the case holds now."""
        check_batch(signals)
        batch = len(signals) > 1
        new = [canonical(s, i if batch else None) for i, s in enumerate(signals)]
        denied: Exception | None = None
        with self.db.write() as session:
            try:
                case = self._authorise(session, case_number, pin)
            except PermissionDenied as exc:
                denied = exc  # commit the failure count, then raise
            else:
                if case.status != "active":
                    raise Conflict("this case is withdrawn; open a new case")
                bank = session.get(bank_store.Bank, case.bank_id)
                added = bank_store.add_signals(session, bank, [
                    bank_store.NewSignal(s.signal_type, s.value, {"case": True}) for s in new])
                held = set(session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)))
                for signal_id in sorted({a.id for a in added} - held):
                    session.add(CaseSignal(case_id=case.id, signal_id=signal_id))
                count = len(held | {a.id for a in added})
        if denied is not None:
            raise denied
        self._on_change()
        return count

    def _authorise(self, session, case_number: str, pin: str) -> Case:  # noqa: ANN001
        """The case if the PIN is right; counts failures and locks (in the caller's transaction)."""
        number = normalise_case_number(case_number)
        case = session.scalar(select(Case).where(Case.case_number == number))
        wrong = PermissionDenied("the case number or PIN is not right")
        if case is None:
            _spend_time(pin)
            raise wrong
        now = utcnow()
        locked = case.locked_until
        if locked is not None and locked.tzinfo is None:
            locked = locked.replace(tzinfo=now.tzinfo)
        if locked is not None and locked > now:
            raise CaseLocked("too many wrong PINs: this case is locked for now; try again later",
                             int((locked - now).total_seconds()) + 1)
        try:
            _hasher.verify(case.pin_hash, (pin or "").strip())
        except (VerificationError, InvalidHashError):
            case.failed_pins += 1
            if case.failed_pins >= MAX_PIN_FAILURES:
                case.lockouts += 1
                case.failed_pins = 0
                case.locked_until = now + timedelta(minutes=min(2 ** (case.lockouts - 1), 1440))
            raise wrong from None
        case.failed_pins = 0
        return case

    def status(self, case_number: str, pin: str) -> CaseStatus:
        try:
            self.flush_matches()  # so the count includes matches of the last second
        except Exception:
            pass
        denied: Exception | None = None
        with self.db.write() as session:
            try:
                case = self._authorise(session, case_number, pin)
            except PermissionDenied as exc:
                denied = exc  # commit the failure count, then raise
            else:
                signal_ids = select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)
                hashes = session.scalar(select(func.count()).select_from(Signal).where(
                    Signal.id.in_(signal_ids), Signal.withdrawn_at.is_(None))) or 0
                matches = session.scalar(select(func.coalesce(func.sum(MatchTotal.matches), 0)).where(
                    MatchTotal.signal_id.in_(signal_ids))) or 0
                removals = session.scalar(select(func.count()).select_from(Notice).where(
                    Notice.case_id == case.id, Notice.status == "removed")) or 0
                return CaseStatus(case.case_number, case.status, case.queue, int(hashes), int(matches), int(removals),
                                  case.created_at)
        raise denied

    def withdraw(self, case_number: str, pin: str) -> CaseStatus:
        denied: Exception | None = None
        with self.db.write() as session:
            try:
                case = self._authorise(session, case_number, pin)
            except PermissionDenied as exc:
                denied = exc
            else:
                if case.status == "withdrawn":
                    raise Conflict("this case is already withdrawn")
                bank = session.get(bank_store.Bank, case.bank_id)
                for signal_id in session.scalars(select(CaseSignal.signal_id).where(CaseSignal.case_id == case.id)):
                    if not self._shared_with_active_case(session, signal_id, case.id):
                        bank_store.withdraw_signal(session, bank, signal_id)
                case.status = "withdrawn"
                case.withdrawn_at = utcnow()
                case.contact_encrypted = None  # nothing personal kept after withdrawal
                number = case.case_number
        if denied is not None:
            raise denied
        self._on_change()
        return self.status_after_withdrawal(number)

    @staticmethod
    def _shared_with_active_case(session, signal_id: int, case_id: int) -> bool:  # noqa: ANN001
        """Two people may register the same image: withdraw a hash only when no other case holds it."""
        return bool(session.scalar(select(func.count()).select_from(CaseSignal).join(Case, Case.id == CaseSignal.case_id).where(
            CaseSignal.signal_id == signal_id, CaseSignal.case_id != case_id, Case.status == "active")))

    def status_after_withdrawal(self, number: str) -> CaseStatus:
        with self.db.read() as session:
            case = session.scalar(select(Case).where(Case.case_number == number))
            return CaseStatus(case.case_number, case.status, case.queue, 0, 0, None, case.created_at)

    def record_matches(self, signal_ids: list[int]) -> None:
        """Count matches per signal (how many and when last, never where). Buffered: added to
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


def _spend_time(pin: str | None) -> None:
    """Unknown case numbers cost as much as wrong PINs: no timing oracle for valid numbers."""
    try:
        _hasher.verify(_DUMMY_HASH, (pin or "") + "x")
    except (VerificationError, InvalidHashError):
        pass

