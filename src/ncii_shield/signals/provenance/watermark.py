"""Invisible watermarks with known payloads: the DWT-DCT mark open diffusion pipelines embed.

Stable Diffusion's reference scripts and the SDXL pipelines (Stability's generative-models,
Hugging Face diffusers) mark every output with the ``invisible-watermark`` package's ``dwtDct``
method and a fixed payload (:data:`KNOWN_PAYLOADS`, with where each comes from). This module runs
that package's own decoder (``imwatermark.maxDct.EmbedMaxDct``) and compares the bits with each
payload.

Two findings about the packaged decoder (measured in tests and ``bench/provenance_bench.py``):

* The encoder works in whatever number type it is given, and OpenCV's YUV conversion differs
  between 8-bit pixels (U and V offset by 128) and float pixels (no offset). The SDXL pipelines
  encode float32 pixels, so decoding the 8-bit file as 8-bit returns noise, often nearly all ones
  (the "dwtDct returns all ones" report). Each payload is therefore decoded in the number type and
  channel order its pipeline encoded in (:attr:`KnownPayload.domain`, :attr:`KnownPayload.order`).
* ``import imwatermark`` imports torch (for the RivaGAN method), which the DWT-DCT decoder does not
  use. The decoder module is loaded from the installed package by its file path instead, so
  torch need not be installed: ``pip install --no-deps invisible-watermark PyWavelets``.

Work is bounded: the decoder sees at most ``max_pixels`` pixels, a strip from the top of the photo at
full width (the payload's bits are laid out row by row, so a top strip keeps their order). The mark
is fragile: a JPEG re-encode or a resize usually destroys it (``docs/benchmarks.md``). A missing mark
proves nothing.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ncii_shield.signals.provenance.evidence import NOT_CHECKED, WATERMARK, Evidence

MIN_PIXELS = 256 * 256  # the package refuses smaller images, and the pipelines do not mark them
DEFAULT_MAX_PIXELS = 256 * 1024


def _bits_of_int(value: int) -> tuple[int, ...]:
    return tuple(int(b) for b in bin(value)[2:])


def _bits_of_bytes(data: bytes) -> tuple[int, ...]:
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(data, dtype=np.uint8)))


@dataclass(frozen=True)
class KnownPayload:
    """A generator's fixed watermark payload and how its pipeline encodes it.

    ``domain`` is the number type the pipeline hands the encoder ("float": float32 pixels 0-255;
    "uint8": 8-bit pixels); ``order`` the channel order it hands over ("bgr" as the package expects,
    or "rgb"); ``min_match`` how many decoded bits must equal the payload's."""

    name: str
    label: str
    bits: tuple[int, ...]
    domain: str
    order: str
    min_match: int
    source: str


SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110  # 0xB3EC907BB19E, 48 bits

KNOWN_PAYLOADS: tuple[KnownPayload, ...] = (
    KnownPayload(
        "sdxl", "Stable Diffusion XL default watermark", _bits_of_int(SDXL_MESSAGE), "float", "bgr", 44,
        "WATERMARK_MESSAGE in Stability-AI/generative-models scripts/demo/streamlit_helpers.py "
        "(WatermarkEmbedder) and diffusers src/diffusers/pipelines/stable_diffusion_xl/watermark.py "
        "(StableDiffusionXLWatermarker): float32 pixels, RGB converted to BGR, method dwtDct"),
    KnownPayload(
        "sdxl-rgb", "Stable Diffusion XL default watermark (RGB order)", _bits_of_int(SDXL_MESSAGE), "float",
        "rgb", 44,
        "the same payload from pipelines that hand the encoder the RGB array unchanged, e.g. PaddleNLP "
        "ppdiffusers' StableDiffusionXLWatermarker"),
    KnownPayload(
        "sd1", "Stable Diffusion 1.x reference script watermark", _bits_of_bytes(b"StableDiffusionV1"), "uint8",
        "bgr", 122,
        "CompVis/stable-diffusion scripts/txt2img.py: wm = 'StableDiffusionV1' as bytes (136 bits), 8-bit "
        "pixels converted RGB to BGR with cv2, method dwtDct"),
    KnownPayload(
        "sd2", "Stable Diffusion 2.x reference script watermark", _bits_of_bytes(b"SDV2"), "uint8", "bgr", 30,
        "Stability-AI/stablediffusion scripts/txt2img.py: wm = 'SDV2' as bytes (32 bits), 8-bit pixels "
        "converted RGB to BGR with cv2, method dwtDct"),
)


class WatermarkUnavailable(Exception):
    """The optional decoder (invisible-watermark with PyWavelets and OpenCV) is not installed."""


_lock = threading.Lock()
_embed_max_dct = None


def embed_max_dct():
    """The package's ``EmbedMaxDct`` class (encoder and decoder of the ``dwtDct`` method), loaded
    from ``imwatermark/maxDct.py`` without running the package's ``__init__`` (which imports torch)."""
    global _embed_max_dct
    with _lock:
        if _embed_max_dct is None:
            try:
                import cv2  # noqa: F401  (the module's own imports, checked for a clear message)
                import pywt  # noqa: F401
                spec = importlib.util.find_spec("imwatermark")  # finds the package; does not import it
            except ImportError as exc:
                raise WatermarkUnavailable(str(exc)) from None
            if spec is None or not spec.submodule_search_locations:
                raise WatermarkUnavailable("invisible-watermark is not installed")
            path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
            module_spec = importlib.util.spec_from_file_location("ncii_shield._imwatermark_maxdct", path)
            if module_spec is None or module_spec.loader is None or not path.is_file():
                raise WatermarkUnavailable(f"invisible-watermark has no {path.name}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            _embed_max_dct = module.EmbedMaxDct
        return _embed_max_dct


def available() -> bool:
    try:
        embed_max_dct()
    except WatermarkUnavailable:
        return False
    return True


def encode(rgb: np.ndarray, payload: KnownPayload) -> np.ndarray:
    """Mark an RGB photo as ``payload``'s pipeline does (for tests and benchmarks): the package's
    encoder in the pipeline's number type and channel order, then rounded to 8-bit RGB."""
    cls = embed_max_dct()
    pixels = rgb[:, :, ::-1] if payload.order == "bgr" else rgb
    pixels = np.ascontiguousarray(pixels, dtype=np.float32 if payload.domain == "float" else np.uint8)
    marked = cls(list(payload.bits), wmLen=len(payload.bits)).encode(pixels)
    marked = marked[:, :, ::-1] if payload.order == "bgr" else marked
    return np.clip(np.round(marked), 0, 255).astype(np.uint8)


def strip_rows(height: int, width: int, max_pixels: int) -> int:
    """Rows of the top strip the decoder reads: a multiple of 8 (whole 4x4 blocks of the DWT's
    half-size band), at most ``max_pixels`` pixels, at least 8 rows."""
    rows = max(8, (max_pixels // max(width, 1)) // 8 * 8)
    return min(height, rows)


def block_bits(rgb: np.ndarray, *, domain: str, order: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The bit the package's decoder reads from each 4 x 4 block of the top strip, in its order.

    This is ``EmbedMaxDct.decode`` up to its vote: the same colour conversion and Haar DWT, then
    the package's own ``decode_frame`` (one slot, so the blocks' readings stay in order);
    :func:`payload_bits` takes the vote. One decode thus serves payloads of every length, and the
    tests check the result equals the package's ``decode`` for each known payload."""
    import cv2
    import pywt

    decoder = embed_max_dct()(watermarks=[], wmLen=1)
    height, width = rgb.shape[:2]
    strip = rgb[:strip_rows(height, width, max_pixels)]
    pixels = strip[:, :, ::-1] if order == "bgr" else strip
    pixels = np.ascontiguousarray(pixels, dtype=np.float32 if domain == "float" else np.uint8)
    rows, cols = pixels.shape[0] // 4 * 4, pixels.shape[1] // 4 * 4
    yuv = cv2.cvtColor(pixels, cv2.COLOR_BGR2YUV)
    # As the package: scales [0, 36, 36] over range(2) channels reads channel 1 (U) only.
    channels = [c for c in range(2) if decoder._scales[c] > 0]
    if len(channels) != 1:
        raise WatermarkUnavailable(f"unexpected invisible-watermark defaults (scales {decoder._scales})")
    band, _ = pywt.dwt2(yuv[:rows, :cols, channels[0]], "haar")
    readings = decoder.decode_frame(band, decoder._scales[channels[0]], [[]])
    return np.asarray(readings[0], dtype=np.uint8)


def payload_bits(blocks: np.ndarray, length: int) -> np.ndarray:
    """The decoder's vote for each of ``length`` payload bits (block i carries bit i mod length):
    1 where the mean of its blocks times 255 is over 127, as ``EmbedMaxDct.decode`` decides."""
    sums = np.bincount(np.arange(blocks.size) % length, weights=blocks, minlength=length)
    counts = np.bincount(np.arange(blocks.size) % length, minlength=length)
    return ((sums / np.maximum(counts, 1)) * 255 > 127).astype(np.uint8)


def match_counts(rgb: np.ndarray, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 payloads: tuple[KnownPayload, ...] = KNOWN_PAYLOADS) -> dict[str, int]:
    """For each payload, how many of its bits the package's decoder recovers from ``rgb``."""
    decoded: dict[tuple[str, str], np.ndarray] = {}
    counts = {}
    for payload in payloads:
        key = (payload.domain, payload.order)
        if key not in decoded:
            decoded[key] = block_bits(rgb, domain=payload.domain, order=payload.order, max_pixels=max_pixels)
        bits = payload_bits(decoded[key], len(payload.bits))
        counts[payload.name] = int((bits == np.asarray(payload.bits, dtype=np.uint8)).sum())
    return counts


def watermark_evidence(rgb: np.ndarray | None, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                       payloads: tuple[KnownPayload, ...] = KNOWN_PAYLOADS) -> list[Evidence]:
    """Evidence for each known payload found in ``rgb`` (H x W x 3 uint8 RGB), or why none was looked for."""
    if rgb is None:
        return [Evidence(NOT_CHECKED, "invisible watermark: no pixels to read (not a decodable photo)")]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        return [Evidence(NOT_CHECKED, "invisible watermark: pixels are not 8-bit RGB")]
    if rgb.shape[0] * rgb.shape[1] < MIN_PIXELS:
        return [Evidence(NOT_CHECKED, "invisible watermark: the photo is smaller than 256 x 256 pixels; "
                         "the generators do not mark those")]
    try:
        counts = match_counts(rgb, max_pixels=max_pixels, payloads=payloads)
    except WatermarkUnavailable as exc:
        return [Evidence(NOT_CHECKED, "invisible watermark: the decoder is not installed "
                         f"(install the provenance extra; {exc})")]
    found = []
    for payload in payloads:
        n = counts[payload.name]
        if n >= payload.min_match:
            found.append(Evidence(WATERMARK, f"{payload.label} ({payload.name}): {n} of {len(payload.bits)} "
                                  "payload bits match (invisible-watermark dwtDct)", ai=True))
    # Two layouts of one payload (sdxl, sdxl-rgb) are one finding.
    return found[:1] if len({e.detail.split(" (")[0] for e in found}) == 1 and len(found) > 1 else found
