"""HMA drop-in: HMA 2.0's (OpenMediaMatch's) curation, matching and hashing answers from our services.

HMA's routes (facebook/ThreatExchange, hasher-matcher-actioner/src/OpenMediaMatch/blueprints/) are
served by ``api/routes/hma.py``; this module translates between HMA's shapes and ours:

- **Banks.** An HMA bank is one of the caller's tenant's banks with exactly that name. HMA requires
  names UPPER_WITH_UNDERSCORE (``[A-Z_][A-Z0-9_]*``); our names also start with a letter or digit and
  are at most 100 characters, so an HMA name is a valid ncii-shield name unchanged, and banks whose
  names HMA would refuse (``victims``, ``demo``) are not shown to the HMA routes. ``matching_enabled_ratio``
  is 1.0 (enabled) or 0.0 (disabled); our banks have no partial ratio.
- **Content.** An HMA content item is a banked signal; its id is the signal's id. An add with several
  signal types at once (``{"pdq": .., "video_md5": ..}``) banks one signal per type; the first one's
  id is the content id, and the others carry it in their metadata (``hma_part_of``), so lookups
  report it and a delete withdraws them all. ``note`` and ``metadata`` are kept as ``hma_note`` and
  ``hma_metadata``, the keys an import from HMA (``services/exchange/formats.py``) uses; its
  ``hma_content_id`` is the id the content had in the HMA it came from.
- **Deletes are withdrawals**: the hash stops matching on every replica and feed subscribers receive
  the withdrawal; the record stays (ncii-shield keeps withdrawals), so a later GET of the content
  answers 404 as HMA does, from the ``hma_deleted`` mark.
- **Signal types**: ours ``pdq``, ``vpdq``, ``md5``, ``sha256`` are HMA's (pytx's) ``pdq``, ``vpdq``,
  ``video_md5``, ``video_sha256``.

Errors HMA would answer are :class:`HmaError` (an HTTP status and HMA's message); authentication and
scope refusals stay the project's own errors (HMA has no authentication).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from ncii_shield.errors import InvalidSignal, MediaError, NotFound, UnknownSignalType
from ncii_shield.index.follower import IndexFollower
from ncii_shield.media.sniff import ContentType, sniff_content_type
from ncii_shield.services.banks import BankService, SignalInput, canonical
from ncii_shield.services.hashing import PhotoHashes, hash_bytes
from ncii_shield.services.uploads.pipeline import UploadPipeline
from ncii_shield.services.keys import Principal
from ncii_shield.services.matching import Matcher
from ncii_shield.signals import registry
from ncii_shield.store import banks as store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Signal

HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
TO_HMA = {"pdq": "pdq", "vpdq": "vpdq", "md5": "video_md5", "sha256": "video_sha256"}
FROM_HMA = {hma: ours for ours, hma in TO_HMA.items()}
CONTENT_TYPES = {"photo": ("pdq",), "video": ("video_md5", "vpdq")}  # what HMA hashes per content type
PDQ_QUALITY_THRESHOLD = 50  # pytx PdqSignal.QUALITY_THRESHOLD: below it HMA's hash is ""
PDQ_COMPARE_THRESHOLD = 31  # pytx PDQ_CONFIDENT_MATCH_THRESHOLD, used by PdqSignal.compare_hash
NO_DISTANCE = "-"  # pytx signal_type/index.py NO_DISTANCE_STR: exact types' pretty_str
NOTE_MAX = 255
URL_REFUSED = ("fetching a URL is not supported by ncii-shield: upload the file as multipart/form-data "
               "(field 'photo' or 'video') or send its hash")


class HmaError(Exception):
    """An answer HMA itself would give: ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    """One multipart file: the form field's name (HMA's content type) and its bytes."""

    field: str
    data: bytes


def _ours(hma_type: str, message: str) -> str:
    ours = FROM_HMA.get(hma_type)
    if ours is None:
        raise HmaError(400, message)
    return ours


def _ratio(enabled: bool) -> float:
    return 1.0 if enabled else 0.0


def _bank_json(name: str, enabled: bool) -> dict:
    """threatexchange.storage.interfaces.BankConfig as Flask's jsonify writes it."""
    return {"name": name, "matching_enabled_ratio": _ratio(enabled)}


def _distance(signal_type: str, distance: float, query_share: float | None = None,
              compared_share: float | None = None) -> str:
    """pytx's ``SignalSimilarityInfo.pretty_str()`` for each type."""
    if signal_type == "pdq":
        return str(int(distance))
    if signal_type == "vpdq" and query_share is not None:
        return f"{query_share:.0f}%,{compared_share:.0f}%"
    return NO_DISTANCE


def parse_banks(param: str | None) -> set[str] | None:
    """HMA's ``banks`` parameter: comma-separated names, or all banks when absent or empty."""
    return set(param.split(",")) if param else None


class HmaService:
    def __init__(self, db: Database, banks: BankService, matcher: Matcher, follower: IndexFollower,
                 uploads: UploadPipeline | None = None) -> None:
        self.db, self.banks, self.matcher, self.follower, self.uploads = db, banks, matcher, follower, uploads

    # -- curation (blueprints/curation.py) -----------------------------------------------------

    def list_banks(self, principal: Principal) -> list[dict]:
        """``GET /c/banks``: the tenant's banks whose names HMA accepts."""
        principal.require("bank:read")
        return [_bank_json(b.name, b.enabled) for b in self.banks.list(principal) if HMA_BANK_NAME.fullmatch(b.name)]

    def get_bank(self, principal: Principal, name: str) -> dict:
        principal.require("bank:read")
        bank = self._bank(principal, name)
        return _bank_json(bank.name, bank.enabled)

    def create_bank(self, principal: Principal, name: str, enabled_ratio: float | None, enabled: bool | None) -> dict:
        """``POST /c/banks`` (curation.bank_create): 400 for a name HMA refuses, 403 if it exists."""
        principal.require("bank:write")
        if enabled_ratio is None:
            enabled_ratio = 1.0 if enabled is None or enabled else 0.0
        on = self._enabled_from_ratio(enabled_ratio)
        if not HMA_BANK_NAME.fullmatch(name or ""):
            raise HmaError(400, "Bank names must be UPPER_WITH_UNDERSCORE")
        from ncii_shield.errors import Conflict, InvalidRequest

        try:
            self.banks.create(principal, name)
        except Conflict as exc:
            raise HmaError(403, "Bank already exists") from exc
        except InvalidRequest as exc:
            raise HmaError(400, str(exc)) from exc
        if not on:
            self.banks.update(principal, name, enabled=False)
        return _bank_json(name, on)

    def update_bank(self, principal: Principal, name: str, *, new_name: str | None, enabled: bool | None,
                    enabled_ratio: float | None) -> dict:
        """``PUT /c/bank/<name>``: enable or disable; renaming is refused (our feeds and cases name banks)."""
        principal.require("bank:write")
        bank = self._bank(principal, name)
        if new_name is not None and new_name != bank.name:
            raise HmaError(400, "renaming a bank is not supported by ncii-shield; create a new bank")
        on = bank.enabled
        if enabled is not None:
            on = bool(enabled)
        if enabled_ratio is not None:
            on = self._enabled_from_ratio(enabled_ratio)
        view = self.banks.update(principal, name, enabled=on)
        return _bank_json(view.name, view.enabled)

    def delete_bank(self, principal: Principal, name: str) -> dict:
        principal.require("bank:write")
        self._bank(principal, name)
        raise HmaError(400, "deleting a bank is not supported by ncii-shield (withdrawals stay on record): "
                            "disable it with PUT {\"enabled\": false} or delete its content")

    def add_signals(self, principal: Principal, bank_name: str, body: object) -> dict:
        """``POST /c/bank/<name>/signal`` (curation.bank_add_as_signals): ``{"<type>": "<hash>", "note"?}``."""
        principal.require("bank:write")
        self._bank(principal, bank_name)
        if not isinstance(body, dict):
            raise HmaError(400, "the body must be a JSON object of signal type to hash")
        data = dict(body)
        note = _note(data.pop("note", None))
        return self._add(principal, bank_name, data, note, None)

    def add_media(self, principal: Principal, bank_name: str, uploads: list[Upload], *, url: str | None,
                  types: str | None, note: object, metadata: object) -> dict:
        """``POST /c/bank/<name>/content`` (curation.bank_add_content): a multipart upload."""
        principal.require("bank:write")
        self._bank(principal, bank_name)
        meta = _metadata(metadata)
        note_value = _note(note)
        if url:
            raise HmaError(400, URL_REFUSED)
        if not uploads:
            raise HmaError(400, "Neither `url` nor multipart file upload was received")
        return self._add(principal, bank_name, self.hash_uploads(uploads, types), note_value, meta)

    def get_content(self, principal: Principal, bank_name: str, content_id: int, *,
                    include_signals: bool, include_metadata: bool) -> dict:
        """``GET /c/bank/<name>/content/<id>`` (curation.bank_get_content)."""
        principal.require("bank:read")
        with self.db.read() as session:
            bank = self._find(session, principal, bank_name)
            row = self._content(session, bank, content_id)
            members = self._members(session, bank, row)
            meta = row.meta or {}
            out: dict = {"id": row.id, "disable_until_ts": 1 if row.withdrawn_at is None else 0,
                         "original_media_uri": None, "bank": _bank_json(bank.name, bank.enabled)}
            if include_signals:
                out["signals"] = {TO_HMA[s.signal_type]: s.value for s in members}
            if include_metadata and meta.get("hma_metadata"):
                out["metadata"] = meta["hma_metadata"]
            if meta.get("hma_note"):
                out["note"] = meta["hma_note"]
            return out

    def update_content(self, principal: Principal, bank_name: str, content_id: int, body: object) -> dict:
        """``PUT /c/bank/<name>/content/<id>``: ``disable_until_ts`` 0 withdraws, 1 re-activates;
        a future time is refused (our signals are active or withdrawn); ``note`` is kept."""
        principal.require("bank:write")
        if not isinstance(body, dict):
            raise HmaError(400, "the body must be a JSON object")
        with self.db.write() as session:
            bank = self._find(session, principal, bank_name)
            row = self._content(session, bank, content_id)
            members = self._members(session, bank, row)
            if "disable_until_ts" in body:
                ts = body["disable_until_ts"]
                try:
                    ts = int(ts)
                except (TypeError, ValueError):
                    raise HmaError(400, f"Invalid int: '{ts}'") from None
                if ts < 0:
                    raise HmaError(400, "disable_until_ts must be a non-negative integer")
                if ts > 1:
                    raise HmaError(400, "ncii-shield content is enabled (1) or disabled (0); "
                                        "disabling until a time is not supported")
                if ts == 0:
                    for s in members:
                        store.withdraw_signal(session, bank, s.id)
                else:
                    store.add_signals(session, bank, [store.NewSignal(s.signal_type, s.value, None) for s in members])
            if "note" in body:
                row.meta = {**(row.meta or {}), "hma_note": _note(body["note"])}
            session.flush()
            session.refresh(row)
            meta = row.meta or {}
            out = {"id": row.id, "disable_until_ts": 1 if row.withdrawn_at is None else 0,
                   "collab_metadata": {}, "original_media_uri": None,
                   "bank": _bank_json(bank.name, bank.enabled),
                   "user_metadata": meta.get("hma_metadata"), "note": meta.get("hma_note")}
        self.follower.catch_up()
        return out

    def delete_content(self, principal: Principal, bank_name: str, content_id: int) -> dict:
        """``DELETE /c/bank/<name>/content/<id>`` (curation.bank_delete_content): ``{"deleted": n}``,
        n = 1 if the content was there, else 0. Its signals are withdrawn (see the module docstring)."""
        principal.require("bank:write")
        with self.db.write() as session:
            bank = self._find(session, principal, bank_name)
            try:
                row = self._content(session, bank, content_id)
            except HmaError:
                return {"deleted": 0}
            for s in self._members(session, bank, row):
                store.withdraw_signal(session, bank, s.id)
            session.refresh(row)
            row.meta = {**(row.meta or {}), "hma_deleted": True}
        self.follower.catch_up()
        return {"deleted": 1}

    # -- matching (blueprints/matching.py) -----------------------------------------------------

    def raw_lookup(self, principal: Principal, signal: str, signal_type: str, banks: set[str] | None,
                   include_distance: bool) -> dict:
        """``GET /m/raw_lookup``: ``{"matches": [id, ...]}`` or with ``{"bank_content_id", "distance"}``."""
        found = self._lookup(principal, signal, signal_type, banks)
        if include_distance:
            return {"matches": [{"bank_content_id": cid, "distance": d} for _bank, cid, d in found]}
        return {"matches": [cid for _bank, cid, _d in found]}

    def lookup(self, principal: Principal, signal: str, signal_type: str, banks: set[str] | None) -> dict:
        """``GET /m/lookup?signal=&signal_type=``: ``{"BANK": [{"bank_content_id", "distance"}]}``."""
        out: dict[str, list[dict]] = {}
        for bank, cid, d in self._lookup(principal, signal, signal_type, banks):
            out.setdefault(bank, []).append({"bank_content_id": cid, "distance": d})
        return out

    def lookup_media(self, principal: Principal, uploads: list[Upload], banks: set[str] | None) -> dict:
        """``POST /m/lookup`` (matching.lookup_post): the upload's hashes, each looked up, by signal type."""
        principal.require("match")
        upload, wanted = self._accepted(uploads, None)
        if self.uploads is None:  # no pipeline (HMA's shapes over a bare matcher): hash, then look up
            hashes = self._hash(upload, wanted)
            return {st: self.lookup(principal, value, st, banks) for st, value in hashes.items()}
        from ncii_shield.services.uploads.pipeline import CheckOptions

        try:  # the one upload pipeline, as every upload check; HMA's answer shows its hash matches
            verdict = self.uploads.check(principal, upload.data, CheckOptions(banks=tuple(sorted(banks or ()))))
        except MediaError as exc:
            raise HmaError(400, str(exc)) from None
        hashes = verdict.hashes
        if isinstance(hashes, PhotoHashes) and hashes.pdq_quality < PDQ_QUALITY_THRESHOLD:
            return {"pdq": self.lookup(principal, "", "pdq", banks)}  # HMA's hash is "": as HMA answers it
        content_of = self._content_ids(m.signal_id for m in verdict.matches)
        out: dict[str, dict] = {st: {} for st in wanted}
        for m in verdict.matches:
            hma_type = TO_HMA.get(m.signal_type)
            if hma_type in out and m.variant is None:
                out[hma_type].setdefault(m.bank, []).append(
                    {"bank_content_id": content_of.get(m.signal_id, m.signal_id),
                     "distance": _distance(m.signal_type, m.distance, m.query_share, m.compared_share)})
        return out

    def compare(self, principal: Principal, body: object) -> dict:
        """``POST /m/compare``: ``{"pdq": [a, b]}`` -> ``{"pdq": [match, {"distance": d}]}`` (pytx's
        ``SignalComparisonResult``, a named tuple, written as a list)."""
        principal.require("match")
        if not isinstance(body, dict):
            raise HmaError(400, "Request input was not a dict")
        out: dict = {}
        for name, pair in body.items():
            if not isinstance(pair, list):
                raise HmaError(400, f"Comparison hashes for {name} was not a list")
            if len(pair) != 2:
                raise HmaError(400, "Comparison hash list length must be exactly 2")
            ours = _ours(name, f"No such SignalType '{name}'")
            if ours == "vpdq":
                raise HmaError(400, f"Invalid {name} hash: comparison of vpdq is not supported by ncii-shield")
            kind = registry.get(ours)
            try:
                left, right = kind.validate(str(pair[0])), kind.validate(str(pair[1]))
            except (InvalidSignal, TypeError) as exc:
                raise HmaError(400, f"Invalid {name} hash: {exc}") from None
            if ours == "pdq":
                d = int(kind.distance(left, right))
                out[name] = [d <= PDQ_COMPARE_THRESHOLD, {"distance": d}]
            else:
                out[name] = [left == right, {}]
        return out

    def index_status(self, principal: Principal, signal_type: str | None) -> dict:
        """``GET /m/index/status``: ``{"<type>": {"present", "built_to", "size"}}``; ``built_to`` is
        when the index last applied a change (seconds), as HMA's checkpoint is its newest item's time."""
        principal.require("match")
        names = list(TO_HMA.values())
        if signal_type is not None:
            if signal_type not in names:
                raise HmaError(400, f"No such signal type '{signal_type}'")
            names = [signal_type]
        built = int(max(self.follower.last_applied_at, self.follower.loaded_at))
        out = {}
        for name in names:
            index = self.follower.indexes.get(FROM_HMA[name])
            out[name] = ({"present": True, "built_to": built, "size": len(index)} if index is not None and built
                         else {"present": False, "built_to": -1, "size": 0})
        return out

    # -- hashing (blueprints/hashing.py) -------------------------------------------------------

    def hash_uploads(self, uploads: list[Upload], types: str | None) -> dict[str, str]:
        """``POST /h/hash`` (hashing.hash_media_from_form_data): one file whose field names its content
        type (``photo`` or ``video``); ``{"pdq": ...}`` for a photo, ``{"video_md5", "vpdq"}`` for a video."""
        upload, wanted = self._accepted(uploads, types)
        return self._hash(upload, wanted)

    @staticmethod
    def _accepted(uploads: list[Upload], types: str | None) -> tuple[Upload, tuple[str, ...]]:
        """The one file of an HMA form and the HMA signal types wanted of it, or HMA's 400s."""
        if not uploads:
            raise HmaError(400, "Missing multipart/form-data file upload")
        if len(uploads) > 1:
            raise HmaError(400, "Only one file allowed per request")
        upload = uploads[0]
        wanted = CONTENT_TYPES.get(upload.field)
        if wanted is None:
            raise HmaError(400, f"no such content_type: '{upload.field}'")
        if types is not None:
            chosen = [t.strip() for t in types.split(",") if t.strip()]
            for t in chosen:
                if t not in wanted:
                    raise HmaError(400, f"signal type '{t}' doesn't exist or is disabled")
            if not chosen:
                raise HmaError(400, "empty signal type selection")
            wanted = tuple(chosen)
        sniffed = sniff_content_type(upload.data[:512])
        if (sniffed is ContentType.VIDEO) != (upload.field == "video"):
            raise HmaError(400, f"the file is not a {upload.field}")
        return upload, wanted

    @staticmethod
    def _hash(upload: Upload, wanted: tuple[str, ...]) -> dict[str, str]:
        try:
            hashes = hash_bytes(upload.data)
        except MediaError as exc:
            raise HmaError(400, str(exc)) from None
        if isinstance(hashes, PhotoHashes):
            values = {"pdq": hashes.pdq if hashes.pdq_quality >= PDQ_QUALITY_THRESHOLD else ""}
        else:
            values = {"video_md5": hashes.md5, "vpdq": hashes.vpdq}
        return {t: values[t] for t in wanted}

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _enabled_from_ratio(ratio: float) -> bool:
        if ratio not in (0, 1):
            raise HmaError(400, "ncii-shield banks are enabled or disabled: enabled_ratio 1.0 or 0.0")
        return bool(ratio)

    def _bank(self, principal: Principal, name: str):  # noqa: ANN202
        with self.db.read() as session:
            return self._find(session, principal, name)

    @staticmethod
    def _find(session, principal: Principal, name: str):  # noqa: ANN001, ANN205
        if not HMA_BANK_NAME.fullmatch(name or ""):
            raise HmaError(404, f"bank '{name}' not found")
        try:
            return store.find_bank(session, principal.tenant_id, name)
        except NotFound:
            raise HmaError(404, f"bank '{name}' not found") from None

    @staticmethod
    def _content(session, bank, content_id: int) -> Signal:  # noqa: ANN001
        """The content's first signal; a sibling's id, a deleted content or another bank's is 404."""
        row = session.scalar(select(Signal).where(Signal.id == content_id, Signal.bank_id == bank.id))
        meta = (row.meta or {}) if row is not None else {}
        if row is None or meta.get("hma_deleted") or meta.get("hma_part_of", row.id) != row.id:
            raise HmaError(404, f"content '{content_id}' not found")
        return row

    @staticmethod
    def _members(session, bank, row: Signal) -> list[Signal]:  # noqa: ANN001
        ids = [row.id, *(row.meta or {}).get("hma_signal_ids", [])]
        found = session.scalars(select(Signal).where(Signal.id.in_(ids), Signal.bank_id == bank.id)).all()
        return [s for s in found if s.id == row.id or (s.meta or {}).get("hma_part_of") == row.id]

    def _add(self, principal: Principal, bank_name: str, hashes: dict, note: str | None, meta: dict | None) -> dict:
        """curation._bank_add_signals: validate every signal, bank them, answer ``{"id", "signals"}``."""
        if not hashes:
            raise HmaError(400, "No signals given")
        items: list[SignalInput] = []
        for name, value in hashes.items():
            ours = _ours(name, f"No such signal type {name}")
            try:
                checked = canonical(SignalInput(ours, value if isinstance(value, str) else ""))
            except (InvalidSignal, UnknownSignalType) as exc:
                raise HmaError(400, f"Invalid {name} signal: {exc}") from None
            items.append(SignalInput(checked.signal_type, checked.value))
        extra = {k: v for k, v in (("hma_note", note), ("hma_metadata", meta)) if v}
        added = self.banks.add(principal, bank_name, [SignalInput(i.signal_type, i.value, extra or None) for i in items])
        ids = [a.id for a in added]
        content_id = ids[0]
        with self.db.write() as session:  # link the content's signals; a re-added one is now this content's
            bank = store.find_bank(session, principal.tenant_id, bank_name)
            for row in session.scalars(select(Signal).where(Signal.id.in_(ids), Signal.bank_id == bank.id)):
                meta_now = {k: v for k, v in (row.meta or {}).items() if k != "hma_deleted"}
                meta_now.update(extra)
                if row.id == content_id:
                    meta_now.pop("hma_part_of", None)
                    if len(ids) > 1:
                        meta_now["hma_signal_ids"] = ids[1:]
                else:
                    meta_now["hma_part_of"] = content_id
                row.meta = meta_now or None
        return {"id": content_id, "signals": {TO_HMA[i.signal_type]: i.value for i in items}}

    def _lookup(self, principal: Principal, signal: str, signal_type: str,
                banks: set[str] | None) -> list[tuple[str, int, str]]:
        """(bank, content id, pretty distance) for each match the key may see (own and shared banks)."""
        principal.require("match")
        ours = _ours(signal_type, f"No such SignalType '{signal_type}'")
        try:
            value = canonical(SignalInput(ours, signal)).value
        except (InvalidSignal, UnknownSignalType) as exc:
            raise HmaError(400, f"invalid signal: {exc}") from None
        matches = [m for m in self.matcher.match(principal, [SignalInput(ours, value)])
                   if banks is None or m.bank in banks]
        content_of = self._content_ids(m.signal_id for m in matches)
        return [(m.bank, content_of.get(m.signal_id, m.signal_id),
                 _distance(ours, m.distance, m.query_share, m.compared_share)) for m in matches]

    def _content_ids(self, signal_ids: Iterable[int]) -> dict[int, int]:
        ids = list(signal_ids)
        if not ids:
            return {}
        with self.db.read() as session:
            rows = session.execute(select(Signal.id, Signal.meta).where(Signal.id.in_(ids))).all()
        return {sid: int((meta or {}).get("hma_part_of", sid)) for sid, meta in rows}


def _note(note: object) -> str | None:
    """curation._validate_note."""
    if not note:
        return None
    if not isinstance(note, str):
        raise HmaError(400, "note should be a string")
    if len(note) > NOTE_MAX:
        raise HmaError(400, "note must be at most 255 characters")
    return note


def _metadata(raw: object) -> dict | None:
    """curation._validate_bank_add_metadata: ``content_id``, ``content_uri``, ``json`` (``collab`` dropped)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise HmaError(400, "metadata should be a json object")
    raw = {k: v for k, v in raw.items() if k != "collab"}
    unknown = set(raw) - {"content_id", "content_uri", "json"}
    if unknown:
        raise HmaError(400, f"Invalid metadata: extra fields not permitted: {sorted(unknown)}")
    return {k: v for k, v in raw.items() if v is not None} or None
