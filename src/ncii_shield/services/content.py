"""The platform's content index and copy sweeps.

The platform tells ncii-shield which content it hosts, with hashes it computed from its own copies
(``platform_content``: content id, PDQ, MD5, SHA-256), from its upload checks or from scans. When a
removal request ends in removal, the removed content's hashes (again computed by the platform; the
requester never sends an image) go into the tenant's ``removed-content`` bank — so later uploads of
it match — and the content index is swept for identical copies (same MD5 or SHA-256, or PDQ
distance 0) and near copies (PDQ distance up to 31: re-encoded, resized, lightly edited). Identical
copies are removed with the request; near copies become review items (kind ``copy``) with the same
deadline, so a person confirms each one.

The PDQ part of the sweep uses an in-memory multi-index (``index/multi_index.py``, exact up to
distance 31), a cache of the table: it loads the rows it has not seen (``id`` greater than the last
one loaded) before each sweep, so it follows other processes' writes, and every candidate is
confirmed against the table (content replaced or removed since is dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ncii_shield.errors import InvalidRequest, InvalidSignal, TooLarge
from ncii_shield.index.multi_index import EXACT_RECALL_LIMIT, MultiIndexHammingIndex
from ncii_shield.services import audit
from ncii_shield.services.notice_fields import checked_moment
from ncii_shield.signals import registry
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database
from ncii_shield.store.models import Notice, NoticeItem, PlatformContent, ReviewItem, utcnow

REMOVED_BANK = "removed-content"
MAX_BATCH = 10_000
COPY_PRIORITY = 70
MEDIA_TYPES = ("image", "video", "other")


@dataclass(frozen=True)
class ContentInput:
    content_id: str
    pdq: str | None = None
    md5: str | None = None
    sha256: str | None = None
    url: str | None = None
    media_type: str = "image"
    posted_at: datetime | None = None


@dataclass(frozen=True)
class SweepHit:
    row_id: int
    content_id: str
    match_type: str  # md5 | sha256 | pdq
    distance: int

    @property
    def identical(self) -> bool:
        return self.distance == 0


def canonical_hashes(item: dict | ContentInput, where: str = "") -> dict[str, str]:
    """The item's valid hashes, canonical; an invalid one raises InvalidSignal naming it."""
    out = {}
    for kind in ("pdq", "md5", "sha256"):
        value = item.get(kind) if isinstance(item, dict) else getattr(item, kind)
        if value:
            try:
                out[kind] = registry.get(kind).validate(str(value))
            except InvalidSignal as exc:
                raise InvalidSignal(f"{where}{kind}: {exc}") from exc
    return out


class ContentIndex:
    """Per-tenant PDQ multi-indexes over ``platform_content`` rows: a rebuildable cache."""

    def __init__(self) -> None:
        self._indexes: dict[int, MultiIndexHammingIndex] = {}
        self._last_id = 0
        self._lock = threading.Lock()

    def catch_up(self, session: Session, batch: int = 200_000) -> int:
        """Load the rows added since the last call. A tenant's first load is one bulk build."""
        loaded = 0
        with self._lock:
            pending: dict[int, list[tuple[str, int]]] = {}
            last = self._last_id
            newest = session.scalar(select(func.max(PlatformContent.id)))  # an index look-up; usually nothing new
            if newest is None or int(newest) <= last:
                return 0
            while True:
                rows = session.execute(
                    select(PlatformContent.id, PlatformContent.tenant_id, PlatformContent.pdq)
                    .where(PlatformContent.id > last).order_by(PlatformContent.id).limit(batch)).all()
                if not rows:
                    break
                for row_id, tenant_id, pdq in rows:
                    if pdq:
                        pending.setdefault(tenant_id, []).append((pdq, int(row_id)))
                last = int(rows[-1][0])
                loaded += len(rows)
            for tenant_id, entries in pending.items():
                self._indexes.setdefault(tenant_id, MultiIndexHammingIndex()).add_many(entries)
            self._last_id = last
        return loaded

    def query(self, tenant_id: int, pdq: str, threshold: int) -> list[tuple[int, int]]:
        """(row id, distance) of candidates within ``threshold``."""
        index = self._indexes.get(tenant_id)
        if index is None:
            return []
        return [(m.id, int(m.distance)) for m in index.query(pdq, threshold)]

    def __len__(self) -> int:
        return sum(len(i) for i in self._indexes.values())


class ContentService:
    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        self.db = db
        self.index = ContentIndex()
        self._on_change = on_change or (lambda: None)

    def warm(self) -> None:
        """Load the cache now (``serve`` does it at start, so the first sweep is not the one waiting)."""
        try:
            with self.db.read() as session:
                self.index.catch_up(session)
        except Exception:  # the database is away or closing: the first sweep loads it instead
            pass

    def register(self, tenant_id: int, items: list[ContentInput]) -> dict[str, int]:
        """Add or update content (idempotent: the same hashes again change nothing; new hashes for a
        content id replace the old ones). Returns counts of added, changed and unchanged."""
        if not items:
            raise InvalidRequest('no content given; send {"items": [{"content_id", "pdq", "md5", "sha256"}]}')
        if len(items) > MAX_BATCH:
            raise TooLarge(f"{len(items):,} items in one call; at most {MAX_BATCH:,} are accepted")
        rows: dict[str, dict] = {}
        for i, item in enumerate(items):
            where = f"items[{i}]."
            cid = (item.content_id or "").strip()
            if not cid or len(cid) > 200:
                raise InvalidRequest(f"{where}content_id: required, up to 200 characters")
            hashes = canonical_hashes(item, where)
            if not hashes:
                raise InvalidRequest(f"{where}: give at least one hash (pdq, md5 or sha256)")
            if item.media_type not in MEDIA_TYPES:
                raise InvalidRequest(f"{where}media_type: one of {', '.join(MEDIA_TYPES)}")
            if item.url and (len(item.url) > 2048 or not item.url.startswith(("http://", "https://"))):
                raise InvalidRequest(f"{where}url: an http(s) URL up to 2,048 characters")
            rows[cid] = {"content_id": cid, "url": item.url, "media_type": item.media_type,
                         "pdq": hashes.get("pdq"), "md5": hashes.get("md5"), "sha256": hashes.get("sha256"),
                         "posted_at": _posted_at(item.posted_at, where)}
        added = changed = unchanged = 0
        table = PlatformContent.__table__
        now = utcnow()
        with self.db.write() as session:
            # new content (the common case) goes in with one INSERT .. ON CONFLICT DO NOTHING per 2,000;
            # only content ids already there are read back and compared
            insert_fn = pg_insert if self.db.is_postgres else sqlite_insert
            statement = insert_fn(table).on_conflict_do_nothing(
                index_elements=["tenant_id", "content_id"]).returning(table.c.content_id)
            values = [{"tenant_id": tenant_id, "created_at": now, **row} for row in rows.values()]
            inserted: set[str] = set()
            for start in range(0, len(values), 2000):
                inserted.update(session.scalars(statement, values[start:start + 2000]))
            added = len(inserted)
            existing = [cid for cid in rows if cid not in inserted]
            stale, fresh = [], []
            for start in range(0, len(existing), 500):
                for old in session.scalars(select(PlatformContent).where(
                        PlatformContent.tenant_id == tenant_id, PlatformContent.content_id.in_(existing[start:start + 500]))):
                    row = rows[old.content_id]
                    if (old.pdq, old.md5, old.sha256) == (row["pdq"], row["md5"], row["sha256"]) and old.removed_at is None:
                        unchanged += 1
                        continue
                    stale.append(old.id)  # replaced by a new row: the cache sees it as new, confirms the old gone
                    fresh.append({"tenant_id": tenant_id, "created_at": now, **row})
            changed = len(stale)
            if stale:
                session.execute(delete(PlatformContent).where(PlatformContent.id.in_(stale)))
                session.execute(insert(PlatformContent), fresh)
        return {"added": added, "changed": changed, "unchanged": unchanged}

    def count(self, tenant_id: int) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(PlatformContent).where(
                PlatformContent.tenant_id == tenant_id, PlatformContent.removed_at.is_(None))) or 0)

    # -- sweeping ----------------------------------------------------------------------------

    def sweep(self, session: Session, tenant_id: int, hashes: list[dict[str, str]], *,
              threshold: int = EXACT_RECALL_LIMIT) -> list[SweepHit]:
        """Content (not removed) that is identical to or near any of ``hashes``; best match per row."""
        self.index.catch_up(session)
        best: dict[int, tuple[str, int]] = {}

        def keep(row_id: int, kind: str, distance: int) -> None:
            if row_id not in best or distance < best[row_id][1]:
                best[row_id] = (kind, distance)

        for h in hashes:
            for kind in ("md5", "sha256"):
                if h.get(kind):
                    column = getattr(PlatformContent, kind)
                    for row_id in session.scalars(select(PlatformContent.id).where(
                            PlatformContent.tenant_id == tenant_id, column == h[kind],
                            PlatformContent.removed_at.is_(None))):
                        keep(int(row_id), kind, 0)
            if h.get("pdq"):
                for row_id, distance in self.index.query(tenant_id, h["pdq"], threshold):
                    keep(row_id, "pdq", distance)
        if not best:
            return []
        confirmed: dict[int, tuple[str, str | None]] = {}
        ids = list(best)
        for start in range(0, len(ids), 500):
            for row_id, cid, pdq in session.execute(select(PlatformContent.id, PlatformContent.content_id, PlatformContent.pdq)
                                                    .where(PlatformContent.id.in_(ids[start:start + 500]),
                                                           PlatformContent.removed_at.is_(None))):
                confirmed[int(row_id)] = (cid, pdq)
        hits = [SweepHit(row_id, confirmed[row_id][0], kind, distance) for row_id, (kind, distance) in best.items()
                if row_id in confirmed and (kind != "pdq" or confirmed[row_id][1] is not None)]
        hits.sort(key=lambda h: (h.distance, h.content_id))
        return hits

    def on_removed(self, session: Session, notice: Notice, actor: str, hashes: list[dict]) -> None:
        """Called when a request is marked removed: bank the removed content's hashes, sweep for copies,
        link them to the request (identical: removed with it; near: a review item each)."""
        request_ids = [v for (v,) in session.execute(select(NoticeItem.value).where(
            NoticeItem.notice_id == notice.id, NoticeItem.kind == "content_id"))]
        known = []
        for start in range(0, len(request_ids), 500):
            known += list(session.scalars(select(PlatformContent).where(
                PlatformContent.tenant_id == notice.tenant_id, PlatformContent.content_id.in_(request_ids[start:start + 500]))))
        all_hashes = [canonical_hashes(h, f"hashes[{i}].") for i, h in enumerate(hashes)]
        all_hashes += [{k: v for k, v in (("pdq", c.pdq), ("md5", c.md5), ("sha256", c.sha256)) if v} for c in known]
        all_hashes = [h for h in all_hashes if h]
        now = utcnow()
        for c in known:
            c.removed_at = now
        if not all_hashes:
            audit.append(session, tenant_id=notice.tenant_id, actor=actor, action="notice.swept",
                         subject=notice.reference,
                         details={"hashes": 0, "identical": 0, "near": 0})
            return
        bank = bank_store.get_or_create_bank(session, notice.tenant_id, REMOVED_BANK,
                                             description="hashes of content removed after removal requests",
                                             policy="act")  # a reviewer removed it: re-uploads may go at once
        bank_store.add_signals(session, bank, [bank_store.NewSignal(kind, value, {"notice": notice.reference})
                                               for h in all_hashes for kind, value in sorted(h.items())])
        event.listen(session, "after_commit", lambda _s: self._on_change(), once=True)
        session.flush()
        hits = self.sweep(session, notice.tenant_id, all_hashes)
        linked = {v for (v,) in session.execute(select(NoticeItem.value).where(
            NoticeItem.notice_id == notice.id, NoticeItem.kind == "content_id"))}
        identical = near = 0
        for hit in hits:
            if hit.content_id in linked:
                continue
            item = NoticeItem(notice_id=notice.id, kind="content_id", value=hit.content_id, source="sweep",
                              match_type=hit.match_type, distance=hit.distance,
                              status="removed" if hit.identical else "open", removed_at=now if hit.identical else None)
            session.add(item)
            session.flush()
            if hit.identical:
                identical += 1
                session.execute(update(PlatformContent).where(PlatformContent.id == hit.row_id).values(removed_at=now))
            else:
                near += 1
                session.add(ReviewItem(
                    tenant_id=notice.tenant_id, kind="copy", notice_id=notice.id, notice_item_id=item.id,
                    content_id=hit.content_id, priority=COPY_PRIORITY, deadline_at=notice.deadline_at, status="open",
                    summary=f"Near copy of content removed for {notice.reference} (PDQ distance {hit.distance})",
                    details={"reference": notice.reference, "match_type": hit.match_type, "distance": hit.distance},
                    automated_detection=True))
        audit.append(session, tenant_id=notice.tenant_id, actor=actor, action="notice.swept",
                     subject=notice.reference,
                     details={"hashes": len(all_hashes), "identical": identical, "near": near})

    def mark_removed(self, session: Session, tenant_id: int, content_ids: list[str]) -> None:
        if content_ids:
            session.execute(update(PlatformContent).where(
                PlatformContent.tenant_id == tenant_id, PlatformContent.content_id.in_(content_ids),
                PlatformContent.removed_at.is_(None)).values(removed_at=utcnow()))


def _posted_at(moment: datetime | None, where: str) -> datetime | None:
    """When the content was posted, in UTC: 1970 to a day from now, else a 4xx (not an overflow)."""
    if moment is None:
        return None
    return checked_moment(moment, f"{where}posted_at", not_after=utcnow() + timedelta(days=1),
                          earliest=datetime(1970, 1, 1, tzinfo=UTC))
