"""Statements of reasons: the DSA Transparency Database shape for each ground and content kind."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ncii_shield.services.statements import EU_MEMBER_STATES, RestrictedItem, statement

ITEM = RestrictedItem("image", datetime(2026, 1, 2, 23, 59, tzinfo=UTC), True, False,
                      "AUTOMATED_DECISION_NOT_AUTOMATED", "facts")
WHEN = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_illegal_ground():
    s = statement(ITEM, puid="ncii-shield-1-1", ground="illegal", reason="why", synthetic=False, decided_at=WHEN)
    assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert s["illegal_content_explanation"] == "why" and "2024/1385" in s["illegal_content_legal_ground"]
    assert not any(k.startswith("incompatible_") for k in s)
    assert s["content_type"] == ["CONTENT_TYPE_IMAGE"]
    assert s["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    assert (s["content_date"], s["application_date"]) == ("2026-01-02", "2026-11-24")
    assert s["territorial_scope"] == sorted(EU_MEMBER_STATES) and len(s["territorial_scope"]) == 27
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,500}", s["puid"])
    assert s["source_type"] == "SOURCE_ARTICLE_16" and s["automated_detection"] == "No"


def test_incompatible_ground_synthetic_video_and_configured_scope(monkeypatch):
    monkeypatch.setenv("NCII_SHIELD_DSA_TERRITORIAL_SCOPE", "de, fr ,NL")
    monkeypatch.setenv("NCII_SHIELD_DSA_REFERENCE_URL", "https://platform.example/terms#ncii")
    video = RestrictedItem("video", WHEN, False, True, "AUTOMATED_DECISION_PARTIALLY", "facts")
    s = statement(video, puid="p", ground="incompatible", reason="terms", synthetic=True, decided_at=WHEN)
    assert s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert s["incompatible_content_explanation"] == "terms" and s["incompatible_content_illegal"] == "Yes"
    assert not any(k.startswith("illegal_") for k in s)
    assert s["content_type"] == ["CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_VIDEO"]
    assert "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE" in s["category_specification"]
    assert s["territorial_scope"] == ["DE", "FR", "NL"]
    assert s["decision_ground_reference_url"] == "https://platform.example/terms#ncii"
    assert s["source_type"] == "SOURCE_VOLUNTARY" and s["automated_detection"] == "Yes"
    assert s["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"
