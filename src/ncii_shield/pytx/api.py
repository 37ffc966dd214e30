"""The python-threatexchange ``SignalExchangeAPI`` for ncii-shield feeds.

pytx's fetch model is a stream of deltas ``{key: record or None}`` with a checkpoint after each;
``None`` deletes the key from the adopter's store (the CLI's state files, HMA's database) and so
from their index. A feed page maps onto that one to one:

* key: ``(pytx signal type name, value)``; the record: :class:`NCIIShieldSignalMetadata`;
* ``add`` -> the record, ``withdraw`` -> ``None`` (entries in page order, so add-then-withdraw of
  one value in a page ends withdrawn);
* one delta per verified page, its checkpoint the page's ``next_cursor``: an interrupted fetch
  resumes at the first page not yet stored, and a refused page stores nothing.

Signal types: ours -> pytx's: ``pdq`` -> ``pdq``, ``md5`` -> ``video_md5``, ``sha256`` ->
``video_sha256``, ``vpdq`` -> ``vpdq`` (pytx's vpdq extension; the same JSON value), ``url`` and
``url_md5`` -> the same names. Other types in a feed (``domain``, ``telegram``, ``app_id``, ...) are skipped.

No ``from __future__ import annotations`` here: pytx's CLI and HMA read the config dataclass's
field types at run time (argparse flags, dacite).
"""

import logging
import typing as t
from dataclasses import dataclass, field

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType
from threatexchange.signal_type.url import URLSignal
from threatexchange.signal_type.url_md5 import UrlMD5Signal

from ncii_shield.pytx.feed import FeedConfigError, FeedReader, FeedRejected

log = logging.getLogger("ncii_shield.pytx")

API_NAME = "ncii_shield"

#: ncii-shield signal type -> python-threatexchange SignalType.get_name()
TO_PYTX: t.Dict[str, str] = {
    "pdq": PdqSignal.get_name(),
    "md5": VideoMD5Signal.get_name(),
    "sha256": VideoSHA256Signal.get_name(),
    "vpdq": "vpdq",  # threatexchange.extensions.vpdq (needs the vpdq package), same JSON value
    "url": URLSignal.get_name(),  # the value as sent (pytx strips it, as we do)
    "url_md5": UrlMD5Signal.get_name(),
}


@dataclass
class NCIIShieldCollabConfig(CollaborationConfigWithDefaults):
    """A subscription to one ncii-shield feed. All four fields are needed; they default to "" only so
    that pytx's ``config collab edit ... --json '{...}'`` (which still enforces argparse's required
    flags) works. A missing or malformed field is reported when the collaboration is fetched."""

    url: str = field(default="", metadata={
        "help": "(required) the publishing ncii-shield instance, e.g. https://helpline.example"})
    feed: str = field(default="", metadata={
        "help": "(required) the feed's name, as `ncii-shield feed publish` prints it"})
    token: str = field(default="", metadata={
        "help": "(required) your feed access token, nsf_..., from the publisher"})
    publisher_key: str = field(default="", metadata={
        "help": "(required) the publisher's Ed25519 public key (base64), pinned: pages signed by any other "
                "key are refused"})


@dataclass
class NCIIShieldCheckpoint(state.FetchCheckpointBase):
    """Where the next fetch resumes: the feed's cursor, and which feed and key it belongs to."""

    cursor: str
    feed: str
    publisher: str  # fingerprint of the pinned key

    def is_stale(self) -> bool:
        return False  # a feed's change log is never truncated: a cursor stays valid however old


@dataclass
class NCIIShieldSignalMetadata(state.FetchedSignalMetadata):
    """A hash on an ncii-shield feed. Like pytx's StopNCII records (the same kind of list: hashes
    that people submitted of their own images), an investigation seed, not a verdict."""

    feed: str
    publisher: str

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        return [state.SignalOpinion(False, state.SignalOpinionCategory.INVESTIGATION_SEED, set())]

    def __str__(self) -> str:
        category = self.get_as_aggregate_opinion().category.name
        return f"{category} ncii_shield feed={self.feed} publisher={self.publisher}"


_Key = t.Tuple[str, str]
_Delta = state.FetchDelta[_Key, NCIIShieldSignalMetadata, NCIIShieldCheckpoint]


class NCIIShieldSignalExchangeAPI(
    SignalExchangeAPIWithSimpleUpdates[NCIIShieldCollabConfig, NCIIShieldCheckpoint, NCIIShieldSignalMetadata]
):
    """Fetch a signed ncii-shield feed, withdrawals included."""

    def __init__(self, collab: NCIIShieldCollabConfig, reader: FeedReader) -> None:
        self.collab = collab
        self.reader = reader

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> t.Type[NCIIShieldCollabConfig]:
        return NCIIShieldCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> t.Type[NCIIShieldCheckpoint]:
        return NCIIShieldCheckpoint

    @staticmethod
    def get_record_cls() -> t.Type[NCIIShieldSignalMetadata]:
        return NCIIShieldSignalMetadata

    @classmethod
    def for_collab(cls, collab: NCIIShieldCollabConfig) -> "NCIIShieldSignalExchangeAPI":
        try:
            reader = FeedReader(collab.url, collab.feed, collab.token, collab.publisher_key)
        except FeedConfigError as exc:  # pytx's CLI prints these as "Invalid auth for ncii_shield: ..."
            raise auth.SignalExchangeAPIInvalidAuthException(cls, f"collaboration {collab.name!r}: {exc}") from exc
        return cls(collab, reader)

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[t.Type[SignalType]],
        checkpoint: t.Optional[NCIIShieldCheckpoint],
    ) -> t.Iterator[_Delta]:
        try:
            yield from self._deltas(checkpoint)
        except FeedRejected as exc:
            # pytx's CLI logs a failed fetch only at -v; a refused feed must be seen without it
            log.critical("ncii_shield collaboration %r: fetch refused: %s. Nothing of the refused answer was "
                         "stored; the next fetch resumes after the last verified page.", self.collab.name, exc)
            raise

    def _deltas(self, checkpoint: t.Optional[NCIIShieldCheckpoint]) -> t.Iterator[_Delta]:
        feed, publisher = self.collab.feed, self.reader.fingerprint
        if checkpoint is not None and (checkpoint.feed, checkpoint.publisher) != (feed, publisher):
            raise FeedRejected(
                f"collaboration {self.collab.name!r} now names feed {feed!r} signed by {publisher}, but what was "
                f"fetched came from feed {checkpoint.feed!r} signed by {checkpoint.publisher}; start again with "
                f"`threatexchange fetch --clear --only-collab {self.collab.name}`")
        cursor = "start" if checkpoint is None else checkpoint.cursor
        metadata = NCIIShieldSignalMetadata(feed, publisher)
        for page in self.reader.pages(cursor):
            updates: t.Dict[_Key, t.Optional[NCIIShieldSignalMetadata]] = {}
            for entry in page.entries:  # in page order: the last entry for a value wins
                name = TO_PYTX.get(entry.signal_type)
                if name is not None:
                    updates[(name, entry.value)] = metadata if entry.op == "add" else None
            if updates or page.next_cursor != cursor:
                yield state.FetchDelta(updates, NCIIShieldCheckpoint(page.next_cursor, feed, publisher))
            cursor = page.next_cursor
