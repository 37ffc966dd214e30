"""Pages for notice-and-removal: the public removal-request form, and the reviewers' queue, item,
decision, statement download and dashboard.

Reviewers log in with a reviewer (or admin) API key: the page session is a random token in an
HttpOnly, SameSite=Strict cookie scoped to ``/review``. Every POST carries the CSRF token; no page has
inline script (``static/review.js`` is the only script). Media previews are off: a platform's copy is
loaded only when the reviewer clicks, and shown blurred until a second click; the page's CSP allows
images from ``NCII_SHIELD_PREVIEW_ORIGINS`` (space-separated) only on the item page. For derivative
flags the evidence (each edited instance's box in the upload and the replaced region, and the
unedited photo beside it) is drawn over the preview, which stays blurred (:func:`derivative_evidence`).
"""

from __future__ import annotations

import json
import os

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from ncii_shield import charts
from ncii_shield.errors import NciiShieldError, Unauthenticated
from ncii_shield.services.keys import Principal, named_prefix
from ncii_shield.services.notices import NoticeSubmission
from ncii_shield.services.scanning.monitors import MonitorService
from ncii_shield.web.monitor_charts import monitor_charts
from ncii_shield.web.pages import _status, render
from ncii_shield.web.security import check_csrf, client_address, csp_with_images_from

router = APIRouter(include_in_schema=False)
SESSION_COOKIE = "ncii_review"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


# -- the public removal-request form ---------------------------------------------------------------


@router.get("/removal", response_class=HTMLResponse)
def removal_form(request: Request) -> HTMLResponse:
    return render(request, "removal.html", form={})


@router.post("/removal", response_class=HTMLResponse)
async def removal_submit(request: Request, csrf: str = Form(""), requester_role: str = Form(""),
                         signature: str = Form(""), content_description: str = Form(""), urls: str = Form(""),
                         content_ids: str = Form(""), good_faith: str = Form(""), statement: str = Form(""),
                         contact_email: str = Form(""), contact_phone: str = Form(""), contact_address: str = Form(""),
                         authorization: str = Form(""), synthetic: str = Form(""), case_number: str = Form(""),
                         pin: str = Form("")) -> HTMLResponse:
    form = {"requester_role": requester_role, "signature": signature, "content_description": content_description,
            "urls": urls, "content_ids": content_ids, "statement": statement, "contact_email": contact_email,
            "contact_phone": contact_phone, "contact_address": contact_address, "authorization": authorization,
            "synthetic": synthetic, "case_number": case_number}  # typed back into the form on an error; not the PIN
    try:
        check_csrf(request, csrf)
        request.app.state.case_limiter.check(client_address(request))
        sub = NoticeSubmission(requester_role or None, signature, content_description, _lines(urls)[:101],
                               _lines(content_ids)[:101], good_faith == "yes", statement, contact_email, contact_phone,
                               contact_address, authorization, synthetic == "yes")
        case = (case_number, pin, client_address(request)) if case_number.strip() else None
        done = await run_in_threadpool(request.app.state.shield.notices.submit, sub,  # retries: this browser's token
                                       channel="case" if case else "web", case=case, retry_key=csrf)
        request.app.state.shield.wake_watch()  # the confirmation of receipt, when requesters are e-mailed
    except NciiShieldError as exc:
        return render(request, "removal.html", _status(exc), error=str(exc), form=form,
                      missing=set(getattr(exc, "fields", []) or []))
    return render(request, "removal_received.html", 201 if done.created else 200, done=done)


@router.get("/removal/status", response_class=HTMLResponse)
def removal_status_form(request: Request) -> HTMLResponse:
    return render(request, "removal_status.html")


@router.post("/removal/status", response_class=HTMLResponse)
async def removal_status(request: Request, csrf: str = Form(""), reference: str = Form(""), token: str = Form(""),
                         withdraw: str = Form("")) -> HTMLResponse:
    """The requester's page: the state of the request; withdraw it (reference + token from submission)."""
    notices = request.app.state.shield.notices
    try:
        check_csrf(request, csrf)
        request.app.state.case_limiter.check(client_address(request))
        if withdraw == "yes":
            await run_in_threadpool(notices.withdraw, reference, token)
        view = await run_in_threadpool(notices.public_status, reference, token)
    except NciiShieldError as exc:
        return render(request, "removal_status.html", _status(exc), error=str(exc), reference=reference)
    return render(request, "removal_status.html", notice=view, reference=reference, token=token)


# -- reviewer session ------------------------------------------------------------------------------


def reviewer(request: Request) -> Principal | None:
    return request.app.state.shield.sessions.resolve(request.cookies.get(SESSION_COOKIE))


def _login_redirect() -> RedirectResponse:
    return RedirectResponse("/review/login", status_code=303)


def _actor(principal: Principal) -> str:
    return f"key:{principal.key_prefix}"


@router.get("/review/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "review_login.html")


@router.post("/review/login", response_class=HTMLResponse)
async def login(request: Request, csrf: str = Form(""), api_key: str = Form("")) -> Response:
    limits = request.app.state.limits
    address = client_address(request)
    try:
        check_csrf(request, csrf)
        try:
            token, _ = await run_in_threadpool(request.app.state.shield.sessions.open, api_key.strip())
        except Unauthenticated:  # only failures are throttled: a valid key always logs in
            limits.auth_failures.failed(address, named_prefix(api_key))
            raise
    except NciiShieldError as exc:
        return render(request, "review_login.html", _status(exc), error=str(exc))
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/review", max_age=int(8 * 3600))
    return response


@router.post("/review/logout")
async def logout(request: Request, csrf: str = Form("")) -> Response:
    try:
        check_csrf(request, csrf)
    except NciiShieldError as exc:
        return render(request, "review_login.html", _status(exc), error=str(exc))
    await run_in_threadpool(request.app.state.shield.sessions.close, request.cookies.get(SESSION_COOKIE))
    response = _login_redirect()
    response.delete_cookie(SESSION_COOKIE, path="/review")
    return response


# -- queue, item, decision, statement, dashboard ---------------------------------------------------


@router.get("/review", response_class=HTMLResponse)
async def queue_page(request: Request) -> Response:
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    shield = request.app.state.shield
    items = await run_in_threadpool(shield.review.queue, principal.tenant_id, minors=_minors(principal))
    counts = await run_in_threadpool(shield.notices.counts, principal.tenant_id)
    return render(request, "review_queue.html", items=items, counts=counts, who=principal.key_prefix)


def _minors(principal: Principal) -> bool:
    """``mandatory_report`` items (an under-18 case's hash) exist only for keys with that scope."""
    return principal.allows("mandatory_report")


_MAX_EVIDENCE = 20  # flags drawn per item (a collage or grid holds a few)


def _numbers(value: object, n: int) -> list[float] | None:
    """``value`` as a list of ``n`` finite numbers of plausible size, or None (details come from the
    platform or a stored check: never trusted to be well formed)."""
    if not isinstance(value, list | tuple) or len(value) != n:
        return None
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not abs(v) < 1e6 or v != v:
            return None
        out.append(round(float(v), 1))
    return out


def derivative_evidence(details: object) -> dict | None:
    """What to draw over the preview for an item's derivative flags: ``{"width", "height", "flags":
    [{"bank", "signal_id", "box", "outline", "unedited"}]}`` in the upload's pixels (an SVG with that
    view box lies over the preview image, so it scales with it), or None when there is nothing to draw."""
    flags = details.get("derivatives") if isinstance(details, dict) else None
    if not isinstance(flags, list):
        return None
    size, out = None, []
    for flag in flags[:_MAX_EVIDENCE]:
        if not isinstance(flag, dict):
            continue
        upload = _numbers(flag.get("upload_size"), 2)
        box = _numbers(flag.get("instance_box"), 4)
        if not upload or upload[0] <= 0 or upload[1] <= 0 or (size and upload != size) or not box:
            continue
        size = upload
        corners = flag.get("edited_outline")
        points = [_numbers(c, 2) for c in corners[:8]] if isinstance(corners, list) else []
        outline = " ".join(f"{x:g},{y:g}" for x, y in points) if len(points) >= 3 and all(points) else None  # type: ignore[misc]
        unedited = [b for b in (_numbers(u, 4) for u in (flag.get("unedited_boxes") or [])[:8]) if b] \
            if isinstance(flag.get("unedited_boxes"), list) else []
        out.append({"bank": str(flag.get("bank", ""))[:100], "signal_id": str(flag.get("signal_id", ""))[:20],
                    "box": box, "outline": outline, "unedited": unedited})
    if not out or size is None:
        return None
    return {"width": size[0], "height": size[1], "flags": out}


def _item_with_requester(shield, principal: Principal, item_id: int, *, start: bool = False):  # noqa: ANN001, ANN202
    """The item and, for a removal request, the request with the requester's details. Those details
    come only from ``notices.personal_view``, which records the read in the audit log: every page that
    shows them (the item page, and the same page shown again after a refused decision) is audited.
    ``start``: opening the page starts the review (a request still ``received`` goes ``in_review``)."""
    item = shield.review.get(principal.tenant_id, item_id, minors=_minors(principal))
    if start and item.status in ("open", "escalated"):
        item = shield.review.open(principal.tenant_id, item_id, actor=_actor(principal), minors=_minors(principal))
    notice = shield.notices.personal_view(principal.tenant_id, item.reference, viewer=_actor(principal)) \
        if item.reference else None
    return item, notice


def _error_page(request: Request, principal: Principal, exc: NciiShieldError) -> HTMLResponse:
    """An error on the queue page: nothing about the item, nothing personal."""
    return render(request, "review_queue.html", _status(exc), error=str(exc), items=[], counts={},
                  who=principal.key_prefix)


@router.get("/review/items/{item_id}", response_class=HTMLResponse)
async def item_page(request: Request, item_id: int) -> Response:
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    try:
        item, notice = await run_in_threadpool(_item_with_requester, request.app.state.shield, principal, item_id,
                                               start=True)
    except NciiShieldError as exc:
        return _error_page(request, principal, exc)
    response = render(request, "review_item.html", item=item, notice=notice, who=principal.key_prefix,
                      evidence=derivative_evidence(item.details))
    origins = os.environ.get("NCII_SHIELD_PREVIEW_ORIGINS", "").split()
    if origins:
        response.headers["Content-Security-Policy"] = csp_with_images_from(origins)
    return response


@router.post("/review/items/{item_id}/decide", response_class=HTMLResponse)
async def decide(request: Request, item_id: int, csrf: str = Form(""), decision: str = Form(""),
                 reason: str = Form(""), ground: str = Form("illegal")) -> Response:
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    shield = request.app.state.shield
    try:
        check_csrf(request, csrf)
    except NciiShieldError as exc:  # not this site's form: show nothing of the item
        return _error_page(request, principal, exc)
    try:
        await run_in_threadpool(shield.review.decide, principal.tenant_id, item_id, decision, reason,
                                actor=_actor(principal), ground=ground, minors=_minors(principal))
        shield.wake_watch()
    except NciiShieldError as exc:  # the item again, with the error and what was typed
        try:
            item, notice = await run_in_threadpool(_item_with_requester, shield, principal, item_id)
        except NciiShieldError as missing:
            return _error_page(request, principal, missing)
        return render(request, "review_item.html", _status(exc), error=str(exc), item=item, notice=notice,
                      who=principal.key_prefix, reason=reason)
    return RedirectResponse(f"/review/items/{item_id}", status_code=303)


@router.get("/review/items/{item_id}/statement.json")
async def statement_download(request: Request, item_id: int) -> Response:
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    try:
        body = await run_in_threadpool(request.app.state.shield.review.statement, principal.tenant_id, item_id,
                                       minors=_minors(principal))
    except NciiShieldError as exc:
        return JSONResponse({"error": {"type": type(exc).__name__, "message": str(exc)}}, status_code=_status(exc))
    return Response(json.dumps(body, indent=2), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="statement-of-reasons-{item_id}.json"', "Cache-Control": "no-store"})


@router.get("/review/items/{item_id}/report.json")
async def report_draft_download(request: Request, item_id: int) -> Response:
    """A mandatory-report item's report draft (services/mandatory_reports.py), for the platform to file."""
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    from ncii_shield.errors import NotFound
    from ncii_shield.services.mandatory_reports import MandatoryReports

    try:
        if not _minors(principal):
            raise NotFound(f"no mandatory-report item {item_id} in this tenant")
        body = await run_in_threadpool(MandatoryReports(request.app.state.shield.db).draft, principal.tenant_id,
                                       item_id, actor=_actor(principal))
    except NciiShieldError as exc:
        return JSONResponse({"error": {"type": type(exc).__name__, "message": str(exc)}}, status_code=_status(exc))
    return Response(json.dumps(body, indent=2), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="report-draft-{item_id}.json"', "Cache-Control": "no-store"})


@router.get("/review/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    shield = request.app.state.shield
    stats = await run_in_threadpool(shield.notices.stats, principal.tenant_id)
    counts = await run_in_threadpool(shield.notices.counts, principal.tenant_id)
    hours = stats["hours_to_removal"]
    ttr = charts.bar_chart(charts.hours_histogram(hours), title="Time from request to removal",
                           y_label="requests", highlight={"over 48 h"})
    received = charts.bar_chart([(d[5:], r) for d, r, _ in stats["days"]], title="Requests received per day (UTC)",
                                y_label="requests", label_every=3)
    removed = charts.bar_chart([(d[5:], m) for d, _, m in stats["days"]], title="Removals per day (UTC)",
                               y_label="removals", color="#3c7d4a", label_every=3)
    within = sum(1 for h in hours if h <= 48)
    summary = {"removed": len(hours), "within_48h": within,
               "median_hours": round(sorted(hours)[len(hours) // 2], 1) if hours else None}
    return render(request, "review_dashboard.html", charts=[Markup(c) for c in (ttr, received, removed)], counts=counts, summary=summary,
                  who=principal.key_prefix)


@router.get("/review/monitors", response_class=HTMLResponse)
async def monitors(request: Request) -> Response:
    """The tenant's monitors (scans of distribution sources on a schedule), each with its per-run chart."""
    principal = await run_in_threadpool(reviewer, request)
    if principal is None:
        return _login_redirect()
    found = await run_in_threadpool(monitor_charts, MonitorService(request.app.state.shield.db), principal)
    return render(request, "review_monitors.html", who=principal.key_prefix,
                  monitors=[(view, Markup(chart)) for view, chart in found])
