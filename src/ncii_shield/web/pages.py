"""The pages a person uses: start, protect (hash in the browser, submit hashes), status, withdraw."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ncii_shield.errors import NciiShieldError, TooManyRequests
from ncii_shield.services.banks import SignalInput
from ncii_shield.services.cases import CaseLocked, ProofOfWorkRequired
from ncii_shield.signals.vpdq import VpdqFrame, frames_to_value
from ncii_shield.web.security import check_csrf, client_address, csrf_token, limit_case_creation, set_csrf_cookie

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, code: int = 200, **context) -> HTMLResponse:
    context["csrf"] = csrf_token(request)
    response = templates.TemplateResponse(request, name, context, status_code=code)
    response.headers["Cache-Control"] = "no-store"
    set_csrf_cookie(response, request)
    return response


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> HTMLResponse:
    return render(request, "start.html")


@router.get("/protect", response_class=HTMLResponse)
def protect_form(request: Request) -> HTMLResponse:
    return render(request, "protect.html")


@router.post("/protect", response_class=HTMLResponse)
async def protect_submit(request: Request, csrf: str = Form(""), hashes: str = Form(""), age: str = Form(""),
                         consent: str = Form(""), contact_email: str = Form("")) -> HTMLResponse:
    try:
        check_csrf(request, csrf)
        limit_case_creation(request)
        signals = _signals_from_form(hashes)
        created = await run_in_threadpool(request.app.state.shield.cases.open_case, signals, age=age,
                                          consent=consent == "yes", contact_email=contact_email or None)
    except NciiShieldError as exc:
        return render(request, "protect.html", _status(exc), error=str(exc))
    return render(request, "created.html", 201, case=created)


def _signals_from_form(text: str) -> list[SignalInput]:
    from ncii_shield.errors import InvalidRequest

    try:
        items = json.loads(text or "[]")
        signals = []
        for item in items:
            for kind in ("pdq", "md5", "sha256"):
                if item.get(kind):
                    signals.append(SignalInput(kind, str(item[kind])))
            if item.get("vpdq"):
                frames = [VpdqFrame(int(f.get("frame") or 0), float(f["timestamp"]), str(f["pdq"]), int(f["quality"]))
                          for f in item["vpdq"]]
                signals.append(SignalInput("vpdq", frames_to_value(frames)))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:  # RecursionError: too deep
        raise InvalidRequest("the hashes sent by this page could not be read; reload the page and try again") from exc
    if not signals:
        raise InvalidRequest("choose at least one photo or video first")
    return signals


@router.get("/status", response_class=HTMLResponse)
def status_form(request: Request) -> HTMLResponse:
    return render(request, "status.html")


@router.post("/status", response_class=HTMLResponse)
async def status_submit(request: Request, csrf: str = Form(""), case_number: str = Form(""),
                        pin: str = Form(""), proof: str = Form("")) -> HTMLResponse:
    """The same as POST /v1/cases/status: what the case holds and its removals, never match counts."""
    try:
        check_csrf(request, csrf)
        request.app.state.case_limiter.check(client_address(request))
        status = await run_in_threadpool(request.app.state.shield.cases.status, case_number, pin,
                                         address=client_address(request), proof=proof[:64] or None)
    except NciiShieldError as exc:
        return _status_form_again(request, exc, case_number, proof)
    return render(request, "case.html", status=status, pin=pin, proof=proof[:64])


@router.post("/withdraw", response_class=HTMLResponse)
async def withdraw_submit(request: Request, csrf: str = Form(""), case_number: str = Form(""), pin: str = Form(""),
                          confirm: str = Form(""), proof: str = Form("")) -> HTMLResponse:
    try:
        check_csrf(request, csrf)
        request.app.state.case_limiter.check(client_address(request))
        if confirm != "yes":
            from ncii_shield.errors import InvalidRequest

            raise InvalidRequest("tick the box to confirm that you want to withdraw this case")
        status = await run_in_threadpool(request.app.state.shield.cases.withdraw, case_number, pin,
                                         address=client_address(request), proof=proof[:64] or None)
    except NciiShieldError as exc:
        return _status_form_again(request, exc, case_number, proof)
    return render(request, "withdrawn.html", status=status)


def _status_form_again(request: Request, exc: Exception, case_number: str, proof: str = "") -> HTMLResponse:
    """The form with the error; when the case needs a proof of work, the page computes it (static/proof.js).

    A try that came with a proof (a wrong PIN, a typo in the number) keeps the proof path: otherwise the
    next try would go without one and be asked for it again, a round trip and a retyped PIN for nothing."""
    if isinstance(exc, ProofOfWorkRequired):
        bits = exc.bits
    else:
        bits = request.app.state.shield.cases.policy.bits if proof else None
    message = ("This case had many wrong PINs today, so to keep it safe your browser must do some work before "
               "the PIN is checked. Enter the PIN again and wait a few seconds."
               if isinstance(exc, ProofOfWorkRequired) else str(exc))
    return render(request, "status.html", _status(exc), error=message, case_number=case_number, proof_bits=bits)


def _status(exc: Exception) -> int:
    from ncii_shield.api.errors import STATUS

    if isinstance(exc, (TooManyRequests, CaseLocked)):
        return 429
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


@router.get("/favicon.ico")
def favicon() -> HTMLResponse:
    return HTMLResponse(status_code=204)
