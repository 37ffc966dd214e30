"""Statements of reasons in the JSON shape of the EU DSA Transparency Database API.

One statement per item of content restricted (``POST /api/v1/statements`` takes ``{"statements":
[...]}``; field names and enum values as in the database's API documentation). Filled fields:

==================================  =================================================================
decision_visibility                 ``["DECISION_VISIBILITY_CONTENT_REMOVED"]``
decision_ground                     ``DECISION_GROUND_ILLEGAL_CONTENT`` (reviewer's ground "illegal",
                                    the default) or ``DECISION_GROUND_INCOMPATIBLE_CONTENT``
illegal_content_legal_ground        ``NCII_SHIELD_DSA_LEGAL_GROUND`` (default: Directive (EU)
                                    2024/1385 Art. 5 as transposed; national law)
illegal_content_explanation         the reviewer's reason
incompatible_content_ground         ``NCII_SHIELD_DSA_TERMS_GROUND`` (default: the platform's terms
 / _explanation / _illegal          on non-consensual intimate imagery), the reason, ``"Yes"``
decision_ground_reference_url       ``NCII_SHIELD_DSA_REFERENCE_URL`` when set
category                            ``STATEMENT_CATEGORY_CYBER_VIOLENCE``
category_specification              ``KEYWORD_NON_CONSENSUAL_IMAGE_SHARING``, plus
                                    ``KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE`` for synthetic media
content_type                        ``CONTENT_TYPE_IMAGE`` / ``_VIDEO`` / ``_OTHER`` (+
                                    ``CONTENT_TYPE_SYNTHETIC_MEDIA`` for deepfakes and derivatives):
                                    what is known (:func:`media_type`), else ``_OTHER``
content_date                        the content's posting date (content index), else the date it was
                                    indexed, else the date the request was received (YYYY-MM-DD)
application_date                    the decision's date, UTC (YYYY-MM-DD)
decision_facts                      generated from the case facts, never personal data
source_type                         ``SOURCE_ARTICLE_16`` for a removal request's own items,
                                    ``SOURCE_VOLUNTARY`` for matches, flags and copies found by sweeps
automated_detection                 ``"Yes"`` for hash matches, derivative flags and sweep copies
automated_decision                  ``AUTOMATED_DECISION_NOT_AUTOMATED`` (a person decided), or
                                    ``AUTOMATED_DECISION_PARTIALLY`` for identical copies removed with
                                    a request a person decided
territorial_scope                   ``NCII_SHIELD_DSA_TERRITORIAL_SCOPE`` (comma-separated ISO codes),
                                    default the 27 EU member states
puid                                ``ncii-shield-<review item>-<n>``: unique, letters/digits/hyphens
==================================  =================================================================

Not filled: ``decision_monetary``, ``decision_provision``, ``decision_account``, ``account_type``,
``content_language``, ``source_identity`` (it would be personal data) and the end dates (removal is
indefinite).
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

EU_MEMBER_STATES = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
                    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
DEFAULT_LEGAL_GROUND = ("Non-consensual sharing of intimate or manipulated material: Directive (EU) 2024/1385, "
                        "Article 5, as transposed in national law")
DEFAULT_TERMS_GROUND = "Terms of service: non-consensual intimate imagery, including sexual deepfakes, is not allowed"
CONTENT_TYPES = {"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO", "other": "CONTENT_TYPE_OTHER"}
_MIME = mimetypes.MimeTypes(filenames=())  # Python's own table only: the same answer on every host
_EXTRA = {".heic": "image", ".heif": "image", ".avif": "image", ".webp": "image", ".m4v": "video",
          ".mkv": "video", ".webm": "video", ".3gp": "video"}


@dataclass(frozen=True)
class RestrictedItem:
    """One piece of content a decision removed."""

    media_type: str  # image | video | other
    content_date: datetime
    source_article_16: bool  # named in a removal request (else found on the platform's own initiative)
    automated_detection: bool
    automated_decision: str  # AUTOMATED_DECISION_NOT_AUTOMATED | AUTOMATED_DECISION_PARTIALLY
    facts: str


def media_type(indexed: str | None, url: str | None = None) -> str:
    """What a removed item is, from what is known: the content index's media type, else the file type
    its URL's path names (``.mp4``, ``.jpg``...), else ``other``. Never a guess of "image": a
    statement that calls a video an image is a false statement to the Transparency Database."""
    if indexed in CONTENT_TYPES:
        return indexed
    if url:
        path = urlsplit(url).path.lower()
        extension = path[path.rfind("."):] if "." in path.rsplit("/", 1)[-1] else ""
        guessed = _EXTRA.get(extension) or (_MIME.guess_type(path)[0] or "").split("/")[0]
        if guessed in ("image", "video"):
            return guessed
    return "other"


def territorial_scope() -> list[str]:
    configured = os.environ.get("NCII_SHIELD_DSA_TERRITORIAL_SCOPE", "")
    codes = [c.strip().upper() for c in configured.split(",") if c.strip()]
    return sorted(codes or EU_MEMBER_STATES)


def statement(item: RestrictedItem, *, puid: str, ground: str, reason: str, synthetic: bool,
              decided_at: datetime) -> dict:
    content_type = [CONTENT_TYPES.get(item.media_type, "CONTENT_TYPE_OTHER")]
    if synthetic:
        content_type.append("CONTENT_TYPE_SYNTHETIC_MEDIA")
    keywords = ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"] + (["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"] if synthetic else [])
    out: dict = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "category_specification": keywords,
        "content_type": sorted(content_type),
        "content_date": item.content_date.date().isoformat(),
        "application_date": decided_at.date().isoformat(),
        "decision_facts": item.facts[:5000],
        "source_type": "SOURCE_ARTICLE_16" if item.source_article_16 else "SOURCE_VOLUNTARY",
        "automated_detection": "Yes" if item.automated_detection else "No",
        "automated_decision": item.automated_decision,
        "territorial_scope": territorial_scope(),
        "puid": puid,
    }
    if "CONTENT_TYPE_OTHER" in content_type:
        out["content_type_other"] = "content hosted by the platform"
    if ground == "incompatible":
        out.update(decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
                   incompatible_content_ground=os.environ.get("NCII_SHIELD_DSA_TERMS_GROUND", DEFAULT_TERMS_GROUND)[:500],
                   incompatible_content_explanation=reason[:2000], incompatible_content_illegal="Yes")
    else:
        out.update(decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
                   illegal_content_legal_ground=os.environ.get("NCII_SHIELD_DSA_LEGAL_GROUND", DEFAULT_LEGAL_GROUND)[:500],
                   illegal_content_explanation=reason[:2000])
    if os.environ.get("NCII_SHIELD_DSA_REFERENCE_URL"):
        out["decision_ground_reference_url"] = os.environ["NCII_SHIELD_DSA_REFERENCE_URL"]
    return out
