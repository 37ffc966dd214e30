"""Likeness protection: enrol a person's face, keep it sealed, search it in sexual content only.

Enrolment takes 1-5 ordinary photos of one person (one face each), computes the vectors in memory
and drops the photos. The vectors are biometric data: they are stored per enrolment (and case, when
a person enrols through theirs) as one token sealed with the personal-data key
(:mod:`ncii_shield.services.sealing`, the key outside the database), are never published in feeds,
exported or logged, and are erased when the enrolment or its case is withdrawn::

    service = LikenessService(db)
    enrolled = service.enrol("default", "faces", [photo_bytes], names=["me.jpg"])
    index = LikenessIndex(db); index.load(); index.start()     # follows enrolments and withdrawals
    index.search(vectors, threshold)                           # -> [[(enrolment id, bank id, sim)]]

There is no way to ask "who is this face?": the index answers only inside the upload pipeline's
likeness detector, which runs when the upload is known to be sexual content, and reports flags for
review (services/uploads/likeness.py).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from ncii_shield.errors import InvalidRequest, NotFound
from ncii_shield.index.faces import FaceHit, FaceIndex
from ncii_shield.media.decode import decode_photo
from ncii_shield.services.sealing import seal, unseal
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Case, LikenessChange, LikenessEnrolment, utcnow

log = logging.getLogger("ncii_shield.likeness")


def seal_vectors(vectors: np.ndarray) -> str:
    """float32 vectors (n, dim) as one sealed token."""
    v = np.ascontiguousarray(vectors, dtype="<f4")
    return seal(f"{v.shape[1]}:" + base64.b64encode(v.tobytes()).decode())


def unseal_vectors(token: str) -> np.ndarray:
    text = unseal(token)
    dim, _, data = text.partition(":")
    return np.frombuffer(base64.b64decode(data), dtype="<f4").reshape(-1, int(dim)).astype(np.float32)


def enrolment_vector(vectors: np.ndarray) -> np.ndarray:
    """What the index searches for an enrolment: the normalised mean of its photos' vectors (in the
    benchmark, 80 % of swaps flagged at zero false matches against 68 % for the closest photo)."""
    from ncii_shield.signals.face.base import normalize

    return normalize(np.asarray(vectors, dtype=np.float32).mean(axis=0, keepdims=True))


@dataclass(frozen=True)
class Enrolled:
    id: int
    bank: str
    photos: int
    model: str


class LikenessService:
    """Enrol and withdraw faces (see the module docstring)."""

    def __init__(self, db: Database, model=None) -> None:
        self.db = db
        self._model = model

    @property
    def model(self):
        if self._model is None:
            from ncii_shield.signals.face import load_model

            self._model = load_model()
        elif not hasattr(self._model, "faces"):  # a callable that gives the model (e.g. the detector's)
            self._model = self._model()
        return self._model

    def enrol(self, tenant: str, bank: str, photos: list[bytes], *, names: list[str] | None = None,
              case_id: int | None = None, replace_case: bool = False) -> Enrolled:
        """Enrol one person from ``photos`` (encoded files) into ``bank`` (created if missing).
        Raises :class:`~ncii_shield.signals.face.enrol.EnrolmentRefused` naming a photo without
        exactly one usable face."""
        from ncii_shield.signals.face.enrol import enrolment_vectors

        names = names or [f"photo {i + 1}" for i in range(len(photos))]
        decoded = []
        for name, data in zip(names, photos):
            try:
                decoded.append(decode_photo(data).rgb)
            except InvalidRequest:
                raise
            except Exception as exc:  # a MediaError names what is wrong with the file
                raise InvalidRequest(f"{name}: {exc}") from exc
        vectors = enrolment_vectors(self.model, decoded, names=names)
        del decoded  # the photos are not kept
        token = seal_vectors(vectors)
        with self.db.write() as session:
            tenant_row = bank_store.get_or_create_tenant(session, tenant)
            bank_row = bank_store.get_or_create_bank(session, tenant_row.id, bank)
            if case_id is not None:
                case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
                if case is None or case.status != "active":  # withdrawn while the photos were read
                    from ncii_shield.errors import Conflict

                    raise Conflict("this case is withdrawn; open a new case")
                if replace_case:
                    erase_case_enrolments(session, case_id)
            row = LikenessEnrolment(bank_id=bank_row.id, case_id=case_id, model=self.model.name,
                                    photos=len(vectors), vectors_sealed=token, status="active")
            session.add(row)
            session.flush()
            session.add(LikenessChange(op="add", enrolment_id=row.id))
            enrolled = Enrolled(row.id, bank_row.name, row.photos, row.model)
        log.info("likeness enrolment %d added to bank %s (%d photos)", enrolled.id, enrolled.bank, enrolled.photos)
        return enrolled

    def enrol_case(self, case_id: int, photos: list[bytes], *, names: list[str] | None = None) -> Enrolled:
        """A person enrols their own face through their case (number and PIN checked by the caller,
        :meth:`CaseService.authorise`): into the case's own bank, so it is searched wherever the
        case's hashes are; it replaces the case's earlier enrolment (a case holds at most one face),
        and it is erased when the case is withdrawn. Raises :class:`~ncii_shield.errors.Conflict`
        for a withdrawn case."""
        from ncii_shield.errors import Conflict
        from ncii_shield.store.models import Bank, Tenant

        with self.db.read() as session:
            case = session.get(Case, case_id)
            if case is None or case.status != "active":
                raise Conflict("this case is withdrawn; open a new case")
            bank = session.get(Bank, case.bank_id)
            tenant_name = session.get(Tenant, bank.tenant_id).name
            bank_name = bank.name
        enrolled = self.enrol(tenant_name, bank_name, photos, names=names, case_id=case_id, replace_case=True)
        return enrolled

    def case_enrolment(self, case_id: int) -> int:
        """How many photos the case's active enrolment has (0: none): what the person may see."""
        with self.db.read() as session:
            return int(session.scalar(select(func.coalesce(func.max(LikenessEnrolment.photos), 0)).where(
                LikenessEnrolment.case_id == case_id, LikenessEnrolment.status == "active")) or 0)

    def withdraw(self, tenant: str, enrolment_id: int) -> None:
        """Withdraw an enrolment of ``tenant``: its vectors are erased and leave every index."""
        with self.db.write() as session:
            tenant_row = bank_store.get_tenant(session, tenant)
            row = session.get(LikenessEnrolment, enrolment_id)
            if row is None or row.status != "active" or _bank_tenant(session, row.bank_id) != tenant_row.id:
                raise NotFound(f"no active likeness enrolment {enrolment_id} in this tenant")
            _erase(session, row)
        log.info("likeness enrolment %d withdrawn", enrolment_id)

    def withdraw_case(self, case_id: int) -> int:
        """Withdraw every enrolment of a case; returns how many."""
        with self.db.write() as session:
            return erase_case_enrolments(session, case_id)

    def count(self, tenant: str, bank: str) -> int:
        """Active enrolments in a bank (what an enrolled person or organisation may see: counts)."""
        with self.db.read() as session:
            tenant_row = bank_store.get_tenant(session, tenant)
            bank_row = bank_store.find_bank(session, tenant_row.id, bank)
            return int(session.scalar(select(func.count()).select_from(LikenessEnrolment).where(
                LikenessEnrolment.bank_id == bank_row.id, LikenessEnrolment.status == "active")) or 0)


def _bank_tenant(session, bank_id: int) -> int:
    from ncii_shield.store.models import Bank

    return int(session.scalar(select(Bank.tenant_id).where(Bank.id == bank_id)))


def erase_case_enrolments(session, case_id: int) -> int:  # noqa: ANN001
    """Erase a case's enrolled faces in the caller's transaction (``CaseService.withdraw``: the
    vectors go with the case, in the same commit); returns how many."""
    rows = session.scalars(select(LikenessEnrolment).where(
        LikenessEnrolment.case_id == case_id, LikenessEnrolment.status == "active")).all()
    for row in rows:
        _erase(session, row)
    return len(rows)


def _erase(session, row: LikenessEnrolment) -> None:
    row.status = "withdrawn"
    row.vectors_sealed = None
    row.withdrawn_at = utcnow()
    session.add(LikenessChange(op="withdraw", enrolment_id=row.id))


class LikenessIndex:
    """Enrolled faces in memory: a snapshot of active enrolments, then their change log, polled
    every ``poll_interval`` seconds (a primary-key lookup) so a withdrawal leaves every replica
    within a second. Enrolments whose case was withdrawn are dropped at the next poll even before
    their own withdrawal is written. Only vectors of ``model_name`` are loaded."""

    def __init__(self, db: Database, model_name: str = "dlib-resnet-v1-masked", dim: int = 128, *,
                 poll_interval: float = 0.25, stop_with: threading.Event | None = None) -> None:
        self.db = db
        self._stop_with = stop_with  # e.g. the main index follower's stop event: stop following with it
        self.model_name = model_name
        self.dim = dim
        self.poll_interval = poll_interval
        self.index = FaceIndex(dim)
        self.bank_of: dict[int, int] = {}
        self.case_of: dict[int, int] = {}
        self.seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self.index)

    def load(self) -> None:
        with self._lock, self.db.read() as session:
            seq = int(session.scalar(select(func.coalesce(func.max(LikenessChange.seq), 0))) or 0)
            rows = session.execute(select(LikenessEnrolment.id, LikenessEnrolment.bank_id, LikenessEnrolment.case_id,
                                          LikenessEnrolment.vectors_sealed).where(
                LikenessEnrolment.status == "active", LikenessEnrolment.model == self.model_name)).all()
            entries = []
            for id_, bank_id, case_id, token in rows:
                if token:
                    entries.append((id_, enrolment_vector(unseal_vectors(token))))
                    self.bank_of[id_] = bank_id
                    if case_id is not None:
                        self.case_of[id_] = case_id
            self.index.add_many(entries)
            self.seq = seq
        self._drop_withdrawn_cases()

    def catch_up(self) -> int:
        """Apply changes after the last one seen; returns how many."""
        with self._lock, self.db.read() as session:
            changes = session.execute(select(LikenessChange.seq, LikenessChange.op, LikenessChange.enrolment_id)
                                      .where(LikenessChange.seq > self.seq).order_by(LikenessChange.seq)).all()
            for seq, op, enrolment_id in changes:
                if op == "withdraw":
                    self.index.remove(enrolment_id)
                    self.bank_of.pop(enrolment_id, None)
                    self.case_of.pop(enrolment_id, None)
                elif op == "add":
                    row = session.get(LikenessEnrolment, enrolment_id)
                    if row is not None and row.status == "active" and row.vectors_sealed and row.model == self.model_name:
                        self.index.add(enrolment_id, enrolment_vector(unseal_vectors(row.vectors_sealed)))
                        self.bank_of[enrolment_id] = row.bank_id
                        if row.case_id is not None:
                            self.case_of[enrolment_id] = row.case_id
                self.seq = seq
        if self.case_of:
            self._drop_withdrawn_cases()
        return len(changes)

    def _drop_withdrawn_cases(self) -> None:
        if not self.case_of:
            return
        with self._lock, self.db.read() as session:
            withdrawn = set(session.scalars(select(Case.id).where(
                Case.id.in_(set(self.case_of.values())), Case.status == "withdrawn")).all())
            for enrolment_id, case_id in list(self.case_of.items()):
                if case_id in withdrawn:
                    self.index.remove(enrolment_id)
                    self.bank_of.pop(enrolment_id, None)
                    self.case_of.pop(enrolment_id, None)

    def bank_info(self, bank_id: int):
        """A bank's visibility facts, read from the store: for a bank created after the main index
        follower last caught up (it usually knows it: the detector asks it first)."""
        from ncii_shield.index.follower import BankInfo
        from ncii_shield.store.models import Bank

        with self.db.read() as session:
            b = session.get(Bank, bank_id)
            return None if b is None else BankInfo(b.id, b.tenant_id, b.name, b.enabled, b.shared)

    def search(self, vectors: np.ndarray, threshold: float, k: int = 8) -> list[list[tuple[int, int, float]]]:
        """Per query vector: (enrolment id, bank id, similarity) at or above ``threshold``, best first."""
        found: list[list[FaceHit]] = self.index.search(vectors, threshold, k)
        return [[(h.signal_id, self.bank_of[h.signal_id], h.similarity) for h in hits if h.signal_id in self.bank_of]
                for hits in found]

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="likeness-index", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            if self._stop_with is not None and self._stop_with.is_set():
                return
            try:
                self.catch_up()
            except Exception:  # keep following; the next poll retries (never log vectors: none here)
                if self._stop_with is not None and self._stop_with.is_set():
                    return  # the shield closed while this poll ran
                log.exception("likeness index: catching up failed")
                time.sleep(self.poll_interval)
