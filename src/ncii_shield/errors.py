"""One error tree for the whole project.

    NciiShieldError
    ├── MediaError                 bad or hostile input media
    │   ├── EmptyMedia
    │   ├── MediaTooLarge          bytes, pixels or duration over a limit
    │   ├── UnsupportedMedia       not a format we decode
    │   ├── CorruptMedia           truncated or broken file
    │   └── UndecodableVideo
    ├── InvalidRequest             a request that is malformed in another way
    │   ├── InvalidSignal          a hash string that does not parse
    │   └── RefusedSource          a hostile archive, member or URL (scans)
    ├── UnknownSignalType
    ├── NotFound
    ├── Conflict
    ├── Unauthenticated            no key, or a wrong or revoked one
    ├── PermissionDenied           a valid key without the scope needed
    ├── TooManyRequests            a rate limit; carries retry_after seconds
    ├── Unavailable                a dependency (database, optional extra) is missing or down
    └── FetchFailed                a URL that could not be fetched (scans)

Every message says what was wrong and what is accepted. Adapters (CLI, HTTP) map these classes to
exit codes and HTTP statuses in one place each; the core never chooses a status code.
"""

from __future__ import annotations


class NciiShieldError(Exception):
    """Base of every error this project raises on purpose."""


class MediaError(NciiShieldError):
    """The media could not be decoded safely."""


class EmptyMedia(MediaError):
    pass


class MediaTooLarge(MediaError):
    pass


class UnsupportedMedia(MediaError):
    pass


class CorruptMedia(MediaError):
    pass


class UndecodableVideo(MediaError):
    pass


class InvalidRequest(NciiShieldError):
    """A request that cannot be carried out as given; the message says what is accepted."""


class InvalidSignal(InvalidRequest):
    """A hash string that does not parse as its signal type."""


class UnknownSignalType(NciiShieldError):
    pass


class NotFound(NciiShieldError):
    pass


class Conflict(NciiShieldError):
    pass


class Unauthenticated(NciiShieldError):
    pass


class PermissionDenied(NciiShieldError):
    pass


class TooLarge(NciiShieldError):
    """A request or batch over a configured size."""


class TooManyRequests(NciiShieldError):
    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(NciiShieldError):
    pass


class RefusedSource(InvalidRequest):
    """An archive, archive member or URL refused for safety (a bomb, an unsafe name, a link, a private
    address); scans report it as an error result and go on."""


class FetchFailed(NciiShieldError):
    """A URL could not be fetched (timeout, refused connection, HTTP error status)."""
