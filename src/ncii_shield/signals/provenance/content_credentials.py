"""C2PA manifests (Content Credentials), read and validated offline with ``c2pa-python``.

:class:`C2paReader` hands the upload's bytes to the C2PA SDK (c2pa-rs) with the network off:
no remote manifest fetch, no OCSP, no allowed network host. It reports

* that a manifest store is present, the active manifest's signer (certificate common name and
  issuer organisation), the claim generator and the validation state: ``Invalid`` (a signature,
  hash or binding failed), ``Valid`` (well formed and signed, by a signer not on the trust list) or
  ``Trusted`` (signed by a certificate that chains to a configured trust anchor);
* every ``c2pa.actions`` action, in every manifest of the store (ingredients' too), whose
  ``digitalSourceType`` is a generative-AI type (``trainedAlgorithmicMedia``,
  ``compositeWithTrainedAlgorithmicMedia``), or a capture type (``digitalCapture``...);
* the ingredients of the active manifest (title and relationship).

A claim of AI made is believed whatever its validation state (nobody gains by forging one; the
state is reported). A claim of camera capture counts only from a ``Trusted`` manifest with no
validation failure and no AI action anywhere in it: an untrusted signer can sign anything.
"""

from __future__ import annotations

import io
import json
import os
import threading

from ncii_shield.signals.provenance.evidence import (
    AI_SOURCE_TYPES,
    C2PA,
    C2PA_AI,
    C2PA_CAPTURE,
    C2PA_ERROR,
    CAPTURE_SOURCE_TYPES,
    NOT_CHECKED,
    Evidence,
    clip,
    source_type_name,
)

_MAX_MANIFESTS = 64
_MAX_ACTIONS = 1024
_MAX_INGREDIENTS = 16


class C2paReader:
    """Reads C2PA manifest stores; one per process is enough (thread-safe).

    ``trust_anchors`` is a PEM bundle of root certificates whose signers are trusted (none by
    default: every signer is then at best ``Valid``)."""

    def __init__(self, trust_anchors: str | None = None) -> None:
        self.trust_anchors = trust_anchors
        self._lock = threading.Lock()
        self._context = None
        self._pid = -1

    @staticmethod
    def available() -> bool:
        try:
            import c2pa  # noqa: F401
        except ImportError:
            return False
        return True

    def settings(self) -> dict:
        verify = {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_after_reading": True,
                  "verify_trust": True}
        settings: dict = {"verify": verify, "core": {"allowed_network_hosts": []}}
        if self.trust_anchors:
            settings["trust"] = {"trust_anchors": self.trust_anchors}
        return settings

    def _get_context(self):
        import c2pa

        with self._lock:
            if self._context is None or self._pid != os.getpid():  # native handles do not survive fork
                self._context = c2pa.Context.from_dict(self.settings())
                self._pid = os.getpid()
            return self._context

    def evidence(self, data: bytes, mime: str | None) -> list[Evidence]:
        """Evidence from the manifest store embedded in ``data``; [] when there is none."""
        try:
            import c2pa
        except ImportError:
            return [Evidence(NOT_CHECKED, "C2PA: a manifest store is embedded but was not read: c2pa-python "
                             "is not installed (install the provenance extra)")]
        try:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, self._get_context())
            if reader is None:
                return []
            with reader:
                store = json.loads(reader.json())
        except Exception as exc:  # noqa: BLE001 - the SDK's errors on hostile input are many; all mean unreadable
            return [Evidence(C2PA_ERROR, f"C2PA: a manifest store is embedded but could not be read "
                             f"({type(exc).__name__}: {clip(exc, 100)})")]
        return summarize(store)


def summarize(store: dict) -> list[Evidence]:
    """Evidence from a manifest store as ``c2pa.Reader.json()`` returns it."""
    if not isinstance(store, dict):
        return [Evidence(C2PA_ERROR, "C2PA: the manifest store is not an object")]
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) if isinstance(active_label, str) else None
    state = store.get("validation_state") if isinstance(store.get("validation_state"), str) else "unknown"
    failures = _failure_codes(store)
    found: list[Evidence] = []
    if isinstance(active, dict):
        sig = active.get("signature_info") if isinstance(active.get("signature_info"), dict) else {}
        signer = clip(sig.get("common_name") or "unnamed", 60)
        issuer = clip(sig.get("issuer") or "unknown", 60)
        generator = _generator(active)
        ingredients = [i for i in active.get("ingredients", []) if isinstance(i, dict)][:_MAX_INGREDIENTS]
        ingr = "; ".join(f"{clip(i.get('title', '?'), 40)!r} ({i.get('relationship', '?')})" for i in ingredients)
        found.append(Evidence(C2PA, f"C2PA manifest signed by {signer!r} (issuer {issuer!r}), validation "
                              f"{state}{' (' + ', '.join(failures[:3]) + ')' if failures else ''}; claim "
                              f"generator {generator!r}; {len(manifests)} manifest(s)"
                              f"{'; ingredients: ' + ingr if ingr else ''}"))
    else:
        found.append(Evidence(C2PA, f"C2PA manifest store without an active manifest, validation {state}"))
    ai_found = False
    capture_found = []
    for label, manifest in list(manifests.items())[:_MAX_MANIFESTS]:
        where = "active manifest" if label == active_label else f"ingredient manifest {clip(label, 50)}"
        for action in _actions(manifest):
            name = source_type_name(str(action.get("digitalSourceType", "")))
            verb = clip(action.get("action", "?"), 40)
            agent = _agent(action)
            if name in AI_SOURCE_TYPES:
                ai_found = True
                found.append(Evidence(C2PA_AI, f"C2PA action {verb} with digitalSourceType {name} in the {where}"
                                      f"{' by ' + repr(agent) if agent else ''} (validation {state})", ai=True))
            elif name in CAPTURE_SOURCE_TYPES:
                capture_found.append((verb, name, where))
    for verb, name, where in capture_found[:1]:
        trusted = state == "Trusted" and not failures and not ai_found
        found.append(Evidence(C2PA_CAPTURE, f"C2PA action {verb} with digitalSourceType {name} in the {where}; "
                              + ("trusted signer, no AI action: a signed claim of capture" if trusted else
                                 f"not relied on (validation {state}"
                                 f"{', an AI action present' if ai_found else ''})"),
                              ai=False if trusted else None))
    return found


def _actions(manifest) -> list[dict]:
    if not isinstance(manifest, dict):
        return []
    out: list[dict] = []
    for assertion in manifest.get("assertions", []) if isinstance(manifest.get("assertions"), list) else []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        if isinstance(actions, list):
            out.extend(a for a in actions[:_MAX_ACTIONS] if isinstance(a, dict))
    return out[:_MAX_ACTIONS]


def _agent(action: dict) -> str:
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):
        agent = agent.get("name")
    return clip(agent, 60) if isinstance(agent, str) else ""


def _generator(manifest: dict) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name", "?"), info[0].get("version")
        return clip(f"{name} {version}" if version else name, 60)
    return clip(manifest.get("claim_generator", "unknown"), 60)


def _failure_codes(store: dict) -> list[str]:
    codes = []
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    if isinstance(active, dict) and isinstance(active.get("failure"), list):
        codes = [str(f.get("code")) for f in active["failure"] if isinstance(f, dict)]
    if not codes and isinstance(store.get("validation_status"), list):
        codes = [str(s.get("code")) for s in store["validation_status"] if isinstance(s, dict)
                 and s.get("code") != "signingCredential.untrusted"]
    return [clip(c, 50) for c in codes]
