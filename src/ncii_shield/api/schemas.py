"""Request and response bodies. Edges validate; the services trust what passes here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from ncii_shield.services.banks import MAX_BATCH

MAX_VALUE = 2_000_000  # characters in one signal value (a long video's vPDQ)


class ErrorBody(BaseModel):
    type: str = Field(description="error class, e.g. InvalidSignal")
    message: str = Field(description="what was wrong and what is accepted")
    request_id: str | None = None
    fields: list[str] | None = Field(default=None, description="the request fields that were missing or invalid")


class ErrorOut(BaseModel):
    error: ErrorBody


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", examples=["victims"])
    description: str = Field(default="", max_length=2000)
    shared: bool = Field(default=False, description="other tenants' keys may match against this bank")


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    shared: bool | None = None


class BankOut(BaseModel):
    name: str
    description: str
    shared: bool
    enabled: bool
    signals: int
    created_at: datetime

    @field_serializer("created_at")
    def _utc(self, value: datetime) -> str:
        return iso_utc(value)


class BankList(BaseModel):
    banks: list[BankOut]


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal_type: str = Field(max_length=32, examples=["pdq"], description="pdq, vpdq, md5 or sha256")
    value: str = Field(max_length=MAX_VALUE, examples=["f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"])
    metadata: dict[str, Any] | None = None


class SignalsIn(BaseModel):
    """Either one signal (signal_type, value, metadata) or a batch under "signals"."""

    model_config = ConfigDict(extra="forbid")
    signal_type: str | None = Field(default=None, max_length=32)
    value: str | None = Field(default=None, max_length=MAX_VALUE)
    metadata: dict[str, Any] | None = None
    signals: list[SignalIn] | None = Field(default=None, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _one_shape(self) -> SignalsIn:
        single = self.signal_type is not None or self.value is not None
        if single == (self.signals is not None):
            raise ValueError('send either {"signal_type", "value"} or {"signals": [...]}, not both or neither')
        if single and (self.signal_type is None or self.value is None):
            raise ValueError('a single signal needs both "signal_type" and "value"')
        return self

    def items(self) -> list[SignalIn]:
        if self.signals is not None:
            return self.signals
        return [SignalIn(signal_type=self.signal_type or "", value=self.value or "", metadata=self.metadata)]


class AddedOut(BaseModel):
    id: int
    signal_type: str
    created: bool = Field(description="false when the signal was already in the bank")


class AddedList(BaseModel):
    signals: list[AddedOut]


class SignalOut(BaseModel):
    id: int
    bank: str
    signal_type: str
    value: str
    metadata: dict[str, Any] | None
    created_at: datetime
    withdrawn_at: datetime | None

    @field_serializer("created_at", "withdrawn_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_utc(value) if value else None


class MatchIn(SignalsIn):
    threshold: float | None = Field(default=None, ge=0, description="defaults to the signal type's threshold")


class MatchOut(BaseModel):
    query: int = Field(description="index of the query signal in the request (0 for a single one)")
    bank: str
    signal_id: int
    signal_type: str
    distance: float
    shared: bool = Field(description="the bank belongs to another tenant that shares it")
    variant: str | None = Field(default=None, description="dihedral variant that matched (media only)")
    query_share: float | None = Field(default=None, description="vPDQ: % of the query video's frames found in the stored one")
    compared_share: float | None = Field(default=None, description="vPDQ: % of the stored video's frames found in the query")


class MatchList(BaseModel):
    matches: list[MatchOut]


class UploadMatchOut(MatchOut):
    """A match of an upload check (``/v1/match/media``): a hash match's fields, plus a video's
    segments and the trust policy's action."""

    matched_seconds: float | None = Field(default=None, description="video uploads: upload seconds that show the "
                                                                     "banked video")
    segments: list[dict[str, Any]] | None = Field(
        default=None, description="video uploads: which seconds of the upload show which seconds of the banked video "
                                  "([{upload: [t0, t1], banked: [t0, t1], speed, frames, variant}]; docs/video.md)")
    action: str | None = Field(default=None, description="upload checks: the trust policy's action for this hit "
                               "(act, review, observe, suppressed, disabled, quarantined; docs/trust.md)")
    action_reason: str | None = Field(default=None, description="upload checks: why that action")


class ReviewOut(BaseModel):
    queue: bool = Field(description="whether the findings call for a person to look")
    kind: str = Field(description="the review item kind: match, derivative, likeness, mark")
    priority: int = Field(description="0-100; higher is looked at first")
    reasons: list[str] = Field(description="why, in words a reviewer reads")
    recommended: str = Field("none", description="act: every hit is a hash match from a source the tenant lets act "
                                                 "before review; review: a person decides; none: nothing found")
    rule: str | None = Field(None, description="which rule set the priority: \"mandatory report\", \"default\", "
                                               "\"tenant rule N\" (GET /v1/policy/rules), \"observe\"")


class MediaMatchOut(BaseModel):
    matches: list[UploadMatchOut]
    content_type: str
    hashes: dict[str, Any] = Field(description="the upload's hashes; the upload itself is not kept")
    weak: bool = Field(description="PDQ quality under 50: matches on this photo are less reliable")
    derivatives: list[DerivativeOut] = Field(
        default_factory=list,
        description="registered photos this upload is an edited derivative of (a part replaced, the rest the "
                    "same photo); re-shares without an edit are in matches with signal_type \"derivative\"")
    likeness: list[dict[str, Any]] | None = Field(
        None, description="enrolled people's faces found in this (explicit) upload: {bank, signal_id, similarity, "
                          "face_box [x, y, w, h], frame}; absent when likeness protection is not installed or the "
                          "upload was not said to be explicit (see skipped)")
    marks: list[dict[str, Any]] | None = Field(
        None, description="marks of known services found in the upload: {bank, signal_id, label, score, box}")
    provenance: dict[str, Any] | None = Field(
        None, description="what the file says of its making: {ai_generated: true|false|null, evidence: [{kind, "
                          "detail}]}; null when nothing is known, never a guess from pixels")
    review: ReviewOut = Field(description="what the tenant's policy makes of the findings: whether a person should "
                                          "look, the review kind and priority, and why")
    review_item: int | None = Field(
        None, description="with review=true: the moderator review queue item this upload's matches and flags went "
                          "into (null when there was nothing to review)")
    skipped: dict[str, str] | None = Field(
        None, description="detectors that did not run on this upload, with the reason (e.g. likeness: needs "
                          "explicit content)")

    model_config = {"extra": "allow"}  # a plug-in detector's findings appear under its name


class Health(BaseModel):
    status: str
    signals: int
    seq: int
    database: str


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DerivativeOut(BaseModel):
    bank: str
    signal_id: int
    score: float = Field(description="0-100: how surely the unedited part is the registered photo")
    edited_region: list[int] = Field(description="[x, y, w, h] of the replaced part, in the registered photo's pixels")
    mirrored: bool = Field(description="the upload is a mirror image of the registered photo")
    transform: list[list[float]] = Field(description="2 x 3 similarity from the upload's pixels to the registered photo's")
    edited_share: float = Field(description="share of the registered photo that was replaced (0-1)")
    shared: bool = Field(description="the bank belongs to another tenant that shares it")
    instance_box: list[int] | None = Field(default=None, description="[x, y, w, h] of the edited picture in the "
                                           "upload's pixels (one picture of a collage, or the whole photo)")
    edited_outline: list[list[float]] | None = Field(default=None, description="the replaced part's 4 corners in "
                                                     "the upload's pixels")
    upload_size: list[int] | None = Field(default=None, description="[width, height] of the upload that was checked")
    unedited_boxes: list[list[int]] | None = Field(default=None, description="[x, y, w, h] of unedited copies of the "
                                                   "same registered photo in the upload (the original beside its fake)")
    action: str | None = Field(default=None, description="the trust policy's action for this flag (docs/trust.md)")
    action_reason: str | None = None


class PhotoRegistrationOut(BaseModel):
    name: str = Field(description="the uploaded file's name, echoed back (never stored)")
    status: str = Field(description="registered | too_plain (not stored: too little detail) | error")
    signal_id: int | None = None
    reason: str | None = None
    keypoints: int | None = None
    warning: str | None = Field(default=None, description="registered, but the photo has little detail: edited "
                                "copies that are also cropped, shrunk or screenshotted may be missed")


class PhotoRegistrationList(BaseModel):
    photos: list[PhotoRegistrationOut]


MediaMatchOut.model_rebuild()
