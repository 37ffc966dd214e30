"""The one core object that the CLI, the HTTP API and tests all drive (as Datasette's ``Datasette``).

    shield = Shield.open("sqlite:///data/ncii-shield.db")   # migrates, loads the index
    shield.start()                                           # follow changes from other replicas
    ...
    shield.close()
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.index.follower import IndexFollower
from ncii_shield.services.banks import BankService
from ncii_shield.services.cases import CaseService
from ncii_shield.services.content import ContentService
from ncii_shield.services.notices import NoticeService
from ncii_shield.services.review import ReviewService
from ncii_shield.services.sessions import ReviewSessions
from ncii_shield.services.keys import SCOPES, KeyService, Principal
from ncii_shield.services.matching import Matcher
from ncii_shield.store import banks as bank_store
from ncii_shield.store.database import Database, open_database

DEFAULT_TENANT = "default"


def default_data_dir() -> Path:
    return Path(os.environ.get("NCII_SHIELD_DATA", "data"))


def default_db_url() -> str:
    return os.environ.get("NCII_SHIELD_DB") or f"sqlite:///{default_data_dir() / 'ncii-shield.db'}"


@dataclass
class Shield:
    db: Database
    follower: IndexFollower
    banks: BankService
    keys: KeyService
    matcher: Matcher
    cases: CaseService
    notices: NoticeService
    content: ContentService
    review: ReviewService
    sessions: ReviewSessions
    _publisher: object | None = None
    _uploads: object | None = None
    _trust: object | None = None
    _policy_rules: object | None = None
    _likeness: object | None = None
    _feed_followers: list = field(default_factory=list)
    deadline_watch: object | None = None  # services.deadlines.DeadlineWatch once started
    retroactive: object | None = None  # services.retroactive.RetroactiveFollower once started

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True, load_index: bool = True,
             poll_interval: float = 0.05) -> Shield:
        db = open_database(url or default_db_url())
        if migrate:
            db.migrate()
        follower = IndexFollower(db, poll_interval=poll_interval)
        if load_index:
            follower.load()
        cases = CaseService(db, on_change=follower.catch_up)
        content = ContentService(db, on_change=follower.catch_up)
        notices = NoticeService(db, cases, on_removed=content.on_removed)
        keys = KeyService(db)
        shield = cls(db=db, follower=follower, banks=BankService(db, on_change=follower.catch_up),
                     keys=keys, matcher=Matcher(follower), cases=cases, notices=notices,
                     content=content, review=ReviewService(db, notices, content), sessions=ReviewSessions(db, keys))
        return shield

    @property
    def uploads(self):  # noqa: ANN201 - the one upload pipeline (services/uploads), built on first use
        if self._uploads is None:
            from ncii_shield.services.uploads.pipeline import UploadPipeline

            from ncii_shield.services.mandatory_reports import MandatoryReports
            from ncii_shield.services.uploads.policy import Policy

            self._uploads = UploadPipeline(self.matcher, self.follower, content=self.content, cases=self.cases,
                                           review=self.review, trust=self.trust, mandatory=MandatoryReports(self.db),
                                           policy=Policy(tenant_rules=self.policy_rules.rules_for))
        return self._uploads

    @property
    def likeness(self):  # noqa: ANN201 - services.likeness.LikenessService, or None where not installed/configured
        """Enrolment sharing the upload pipeline's face model (one model per process, loaded once)."""
        if self._likeness is None:
            detector = next((d for d in getattr(self.uploads, "detectors", []) if d.name == "likeness"), None)
            if detector is None:
                return None
            from ncii_shield.services.likeness import LikenessService

            self._likeness = LikenessService(self.db, model=lambda: detector.model)
        return self._likeness

    @property
    def trust(self):  # noqa: ANN201 - the trust policy (services/trust.py): one per process, shared
        if self._trust is None:
            from ncii_shield.services.trust import TrustPolicy

            self._trust = TrustPolicy(self.db, bank_of=self.follower.bank_id_of)
        return self._trust

    @property
    def policy_rules(self):  # noqa: ANN201 - tenants' review-priority rules (services/policy_rules.py), cached
        if self._policy_rules is None:
            from ncii_shield.services.policy_rules import PolicyRules

            self._policy_rules = PolicyRules(self.db)
        return self._policy_rules

    @property
    def derivatives(self):  # noqa: ANN201 - registration of photos for derivative protection
        from ncii_shield.services.derivatives import DerivativeService

        return DerivativeService(self.banks)

    @property
    def hma(self):  # noqa: ANN201 - HMA 2.x's API shapes over the bank, matching and hashing services
        from ncii_shield.services.hma import HmaService

        return HmaService(self.db, self.banks, self.matcher, self.follower, self.uploads)

    @property
    def publisher(self):  # noqa: ANN201 - created on first use: it reads (or makes) the signing key
        if self._publisher is None:
            from ncii_shield.services.exchange.publisher import Publisher
            from ncii_shield.services.exchange.signing import default_key_path, load_or_create_key

            self._publisher = Publisher(self.db, load_or_create_key(default_key_path()))
        return self._publisher

    def start(self, *, follow_feeds: bool = True, retroactive: bool = True) -> None:
        self.follower.start()
        self.cases.start_recorder()
        self._start_notice_work()
        if retroactive:  # a new hash finds the copies already up: past uploads in the content index
            from ncii_shield.services.retroactive import RetroactiveFollower

            from ncii_shield.services.uploads.policy import Policy

            self.retroactive = RetroactiveFollower(self.db, self.content, policy=self.trust,
                                                   rules=Policy(tenant_rules=self.policy_rules.rules_for))
            self.retroactive.start()
        if follow_feeds:
            from sqlalchemy import select

            from ncii_shield.services.exchange.subscriber import FeedFollower
            from ncii_shield.store.models import Subscription

            with self.db.read() as session:
                names = list(session.scalars(select(Subscription.name)))
            for name in names:
                follower = FeedFollower(self.db, name, on_applied=self.follower.catch_up)
                follower.start()
                self._feed_followers.append(follower)

    def _start_notice_work(self) -> None:
        """Notice-and-removal background work: load the content-index cache, watch deadlines."""
        import threading

        from ncii_shield.services.deadlines import DeadlineWatch

        threading.Thread(target=self.content.warm, name="content-index-warm", daemon=True).start()
        self.deadline_watch = DeadlineWatch(self.db, self.notices,
                                            interval=float(os.environ.get("NCII_SHIELD_DEADLINE_INTERVAL", "60")))
        self.deadline_watch.start()

    def wake_watch(self) -> None:
        """A request was received or decided: deliver its webhook and e-mail now, not at the next pass."""
        if self.deadline_watch is not None:
            self.deadline_watch.wake()

    def close(self) -> None:
        if self.retroactive is not None:
            self.retroactive.stop()
        if self.deadline_watch is not None:
            self.deadline_watch.stop()
        for follower in self._feed_followers:
            follower.stop()
        self.cases.stop_recorder()
        self.follower.stop()
        self.db.dispose()

    def local_principal(self, tenant: str = DEFAULT_TENANT, scopes: tuple[str, ...] = SCOPES) -> Principal:
        """A principal for in-process use (CLI, embedding): no key, the given tenant's rights."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self.db.write() as session:
                tenant_id = bank_store.get_or_create_tenant(session, tenant).id
        except IntegrityError:  # another replica created the tenant at the same moment: it exists now
            with self.db.read() as session:
                tenant_id = bank_store.get_tenant(session, tenant).id
        return Principal(key_id=0, key_prefix="local", tenant_id=tenant_id, scopes=frozenset(scopes))
