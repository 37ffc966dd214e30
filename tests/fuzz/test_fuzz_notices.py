"""Removal requests and webhook signatures from hostile input: a clean result or the typed error —
never anything else; a valid request always gets a 48-hour UTC deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncii_shield.errors import InvalidRequest
from ncii_shield.services.deadlines import BadSignature, sign, verify_signature
from ncii_shield.services.notice_fields import IncompleteNotice, NoticeSubmission, deadline_for, validate

texts = st.none() | st.text(max_size=300) | st.sampled_from(["", "   ", "\x00", "https://x.example/a", "a@b.c",
                                                             "depicted_person", "authorized_representative"])
lists = st.lists(st.text(max_size=120) | st.sampled_from(["https://x.example/p", "javascript:alert(1)",
                                                          "http://", "https://a b"]), max_size=5)


@given(role=texts, signature=texts, description=texts, urls=lists, ids=lists, good_faith=st.none() | st.booleans(),
       email=texts, phone=texts, address=texts, authorization=texts)
def test_validate_returns_a_clean_request_or_names_the_problems(role, signature, description, urls, ids, good_faith,
                                                                 email, phone, address, authorization):
    sub = NoticeSubmission(role, signature, description, urls, ids, good_faith, None, email, phone, address,
                           authorization)
    try:
        clean = validate(sub)
    except IncompleteNotice as exc:
        assert exc.fields and all(name.split("[")[0] in str(exc) for name in exc.fields)
        return
    assert clean.good_faith is True and clean.signature.strip() and (clean.urls or clean.content_ids)
    assert all(u.startswith(("http://", "https://")) for u in clean.urls)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(min_value=-14 * 60, max_value=14 * 60) | st.none())
def test_deadline_is_48_hours_in_utc_or_refused(moment, offset_minutes):
    if offset_minutes is None:
        try:
            deadline_for(moment)
        except InvalidRequest:
            return
        raise AssertionError("a naive time must be refused")
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    now = datetime(2026, 6, 1, tzinfo=UTC)
    if not datetime(2000, 1, 1, tzinfo=UTC) <= aware <= now + timedelta(minutes=5):
        # before 2000 or in the future (it would move the legal deadline): refused, never an overflow
        with pytest.raises(InvalidRequest, match="received_at must be between"):
            deadline_for(aware, now=now)
        return
    received, deadline = deadline_for(aware, now=now)
    assert received.tzinfo == UTC and deadline.tzinfo == UTC
    assert received == aware and deadline - received == timedelta(hours=48)


@given(body=st.binary(max_size=200), header=st.text(max_size=120))
def test_signature_check_raises_only_its_own_error(body, header):
    try:
        verify_signature("secret", header, body)
    except BadSignature:
        pass
    assert verify_signature("secret", sign("secret", body), body) > 0
