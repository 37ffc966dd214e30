"""Generator metadata: the marks image generators' software writes into the files it saves.

Read from the container walk (:mod:`.containers`), never from pixels:

* PNG text chunks: AUTOMATIC1111 / Forge / SD.Next ``parameters`` ("Steps: 20, Sampler: ...,
  Seed: ..."), the same settings as JSON (Fooocus, SwarmUI), ComfyUI ``prompt`` (API graph) and
  ``workflow`` (editor graph) JSON, InvokeAI ``invokeai_metadata`` / ``invokeai_graph`` /
  ``sd-metadata`` / ``Dream``, NovelAI ``Software`` / ``Source`` / ``Comment``;
* EXIF ``Software``, ``Make``, ``Model`` naming a generator, and ``UserComment`` /
  ``ImageDescription`` holding AUTOMATIC1111 parameters (its JPEG and WebP output);
* XMP: IPTC ``DigitalSourceType`` (``trainedAlgorithmicMedia``,
  ``compositeWithTrainedAlgorithmicMedia``) and ``CreatorTool`` naming a generator.

Prompts are never copied into the evidence (they may name a person): only the tool, the settings'
names and the model name.
"""

from __future__ import annotations

import json
import re

from ncii_shield.signals.provenance.containers import Metadata
from ncii_shield.signals.provenance.evidence import (
    AI_SOURCE_TYPES,
    DIGITAL_SOURCE_TYPE,
    GENERATOR_METADATA,
    NOT_CHECKED,
    Evidence,
    clip,
    source_type_name,
)
from ncii_shield.signals.provenance.exif import read_exif_text

#: Lower-case names of generators' software, as they write it into Software / CreatorTool / Make.
GENERATOR_SOFTWARE = {
    "novelai": "NovelAI", "stable diffusion": "Stable Diffusion", "stable-diffusion": "Stable Diffusion",
    "midjourney": "Midjourney", "dall-e": "DALL-E", "dall·e": "DALL-E", "adobe firefly": "Adobe Firefly",
    "comfyui": "ComfyUI", "invokeai": "InvokeAI", "fooocus": "Fooocus", "automatic1111": "AUTOMATIC1111",
    "sd.next": "SD.Next", "swarmui": "SwarmUI", "draw things": "Draw Things", "leonardo.ai": "Leonardo.Ai",
}

_A1111_STEPS = re.compile(r"(?:^|[\n,] ?)Steps: \d{1,5}, ")
_A1111_KEYS = ("Sampler: ", "CFG scale: ", "Seed: ", "Size: ", "Model hash: ")
_A1111_MODEL = re.compile(r"(?:^|, )Model: ([^,\n]{1,80})")
_A1111_VERSION = re.compile(r"(?:^|, )Version: ([^,\n]{1,40})")
_JSON_SETTINGS = {"steps", "sampler", "sampler_name", "cfg_scale", "guidance_scale", "seed", "base_model",
                  "scheduler", "noise_seed", "uc", "sui_image_params", "fooocus_scheme"}
_INVOKEAI_KEYS = {"invokeai_metadata", "invokeai_graph", "sd-metadata", "Dream"}
_DST = re.compile(r"((?:cv\.iptc\.org/newscodes|c2pa\.org)/digitalsourcetype/[A-Za-z]{1,60})")
_REMOTE_MANIFEST = re.compile(r"dcterms:provenance(?:=\"|>)\s*https?://([^/\"<\s:]{1,200})")
_CREATOR_TOOL = re.compile(r"CreatorTool(?:=\"|>)([^\"<]{1,200})")
_MAX_NODES = 10_000


def metadata_evidence(meta: Metadata) -> list[Evidence]:
    """Evidence from a file's metadata; empty when nothing marks it."""
    found: list[Evidence] = []
    for key, value in meta.texts:
        found.extend(_text_chunk(key, value, "JPEG comment" if key == "comment" else f"PNG text {key!r}"))
    for block in meta.exif:
        fields = read_exif_text(block)
        for name in ("Software", "Make", "Model", "Artist"):
            if name in fields and (tool := generator_name(fields[name])):
                found.append(Evidence(GENERATOR_METADATA, f"EXIF {name} names a generator: {tool} "
                                      f"({clip(fields[name], 60)!r})", ai=True))
        for name in ("UserComment", "ImageDescription"):
            if name in fields:
                found.extend(_settings(fields[name], f"EXIF {name}"))
    for packet in meta.xmp:
        found.extend(_xmp(packet))
    return _dedupe(found)


def generator_name(text: str) -> str | None:
    low = text.lower()
    return next((name for needle, name in GENERATOR_SOFTWARE.items() if needle in low), None)


def _text_chunk(key: str, value: str, where: str) -> list[Evidence]:
    if key in ("prompt", "workflow"):
        comfy = _comfyui(key, value)
        if comfy:
            return [comfy]
    if key in _INVOKEAI_KEYS:
        return [Evidence(GENERATOR_METADATA, f"{where}: InvokeAI generation metadata", ai=True)]
    if key in ("Software", "Source", "Creator", "Author") and (tool := generator_name(value)):
        return [Evidence(GENERATOR_METADATA, f"{where} names a generator: {tool} ({clip(value, 60)!r})",
                         ai=True)]
    if key in ("parameters", "Comment", "Description", "comment", "generation_data"):
        return _settings(value, where)
    return []


def _settings(text: str, where: str) -> list[Evidence]:
    """Generation settings in AUTOMATIC1111's text format, or as a JSON object."""
    if _A1111_STEPS.search(text) and sum(k in text for k in _A1111_KEYS) >= 2:
        extra = []
        if m := _A1111_MODEL.search(text):
            extra.append(f"model {clip(m.group(1), 60)!r}")
        if m := _A1111_VERSION.search(text):
            extra.append(f"version {clip(m.group(1), 30)!r}")
        tail = f" ({', '.join(extra)})" if extra else ""
        return [Evidence(GENERATOR_METADATA, f"{where}: generation settings in the AUTOMATIC1111 format "
                         f"(Steps, Sampler, CFG scale, Seed){tail}", ai=True)]
    obj = _json(text)
    if isinstance(obj, dict):
        keys = sorted(k for k in obj if isinstance(k, str) and k in _JSON_SETTINGS)
        if len(keys) >= 2 or "sui_image_params" in keys or "fooocus_scheme" in keys:
            return [Evidence(GENERATOR_METADATA, f"{where}: generation settings as JSON "
                             f"(keys {', '.join(keys[:6])})", ai=True)]
    return []


def _comfyui(key: str, value: str) -> Evidence | None:
    obj = _json(value)
    types: list[str] = []
    if key == "prompt" and isinstance(obj, dict):
        nodes = list(obj.values())[:_MAX_NODES]
        types = [n["class_type"] for n in nodes if isinstance(n, dict) and isinstance(n.get("class_type"), str)]
    elif key == "workflow" and isinstance(obj, dict) and isinstance(obj.get("nodes"), list):
        nodes = obj["nodes"][:_MAX_NODES]
        types = [n["type"] for n in nodes if isinstance(n, dict) and isinstance(n.get("type"), str)]
    if not types:
        return None
    samplers = sorted({t for t in types if "sampler" in t.lower()})
    loaders = sorted({t for t in types if t.startswith(("CheckpointLoader", "UNETLoader", "DiffusersLoader"))})
    shown = ", ".join(clip(t, 40) for t in (samplers + loaders)[:4])
    if samplers:
        return Evidence(GENERATOR_METADATA, f"PNG text {key!r}: a ComfyUI graph of {len(types)} nodes with a "
                        f"diffusion sampler ({shown})", ai=True)
    return Evidence(GENERATOR_METADATA, f"PNG text {key!r}: a ComfyUI graph of {len(types)} nodes without a "
                    "diffusion sampler (processing, not necessarily generation)", ai=None)


def _xmp(packet: str) -> list[Evidence]:
    found = []
    for uri in dict.fromkeys(m.group(1) for m in _DST.finditer(packet)):
        name = source_type_name(uri)
        ai = True if name in AI_SOURCE_TYPES else None
        meaning = "made by a generative model" if ai else "not a generative-AI type"
        found.append(Evidence(DIGITAL_SOURCE_TYPE, f"XMP IPTC DigitalSourceType {name} ({meaning}); "
                              "unsigned metadata, anyone can write or strip it", ai=ai))
    for host in dict.fromkeys(m.group(1) for m in _REMOTE_MANIFEST.finditer(packet)):
        found.append(Evidence(NOT_CHECKED, f"C2PA: the file refers to a remote manifest on {clip(host, 80)}; "
                              "remote manifests are never fetched (an upload must not make the server call out)"))
    for m in _CREATOR_TOOL.finditer(packet):
        if tool := generator_name(m.group(1)):
            found.append(Evidence(GENERATOR_METADATA, f"XMP CreatorTool names a generator: {tool} "
                                  f"({clip(m.group(1), 60)!r})", ai=True))
    return found


def _json(text: str):
    text = text.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _dedupe(found: list[Evidence]) -> list[Evidence]:
    return list(dict.fromkeys(found))
