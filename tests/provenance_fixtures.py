"""Provenance fixtures made on the fly from plain photos: real C2PA manifests signed with a test
certificate chain, invisible watermarks from the package's encoder, generator metadata as the
generators write it. Used by tests/unit/signals/test_provenance.py, the fuzz and break-in tests and
bench/provenance_bench.py. Nothing here is stored; prompts are harmless."""

from __future__ import annotations

import datetime
import io
import json
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, PngImagePlugin

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
AI_COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"

A1111_PARAMETERS = ("a bowl of fruit on a wooden table, still life\nNegative prompt: blurry\n"
                    "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234, "
                    "Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1")
COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 8, "sampler_name": "euler",
                                               "model": ["4", 0], "positive": ["6", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}},
}
COMFY_WORKFLOW = {"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}, {"id": 4, "type": "CheckpointLoaderSimple"},
                                               {"id": 9, "type": "SaveImage"}], "links": []}
COMFY_UPSCALE_ONLY = {"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
                      "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "width": 1024}},
                      "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}}}


# --- images ------------------------------------------------------------------------------------


def encode(rgb: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    if fmt == "PNG":
        kw.setdefault("compress_level", 1)  # fast; the pixels are what matter
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, fmt, **kw)
    return out.getvalue()


def png_with_text(rgb: np.ndarray, chunks: list[tuple[str, str, str]]) -> bytes:
    """A PNG with text chunks: (kind, key, value), kind "tEXt", "zTXt" or "iTXt"."""
    info = PngImagePlugin.PngInfo()
    for kind, key, value in chunks:
        if kind == "iTXt":
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value, zip=kind == "zTXt")
    return encode(rgb, "PNG", pnginfo=info)


def jpeg_with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """Insert an APP1 segment (EXIF or XMP, payload with its identifier) right after SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def xmp_packet(inner: str) -> bytes:
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            f'{inner}/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def jpeg_with_xmp(jpeg: bytes, inner: str) -> bytes:
    return jpeg_with_app1(jpeg, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet(inner))


def jpeg_with_exif(rgb: np.ndarray, *, software: str | None = None, user_comment: str | None = None) -> bytes:
    exif = Image.Exif()
    if software:
        exif[0x0131] = software
    if user_comment is not None:  # as piexif writes it for AUTOMATIC1111: UNICODE, big-endian UTF-16
        exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + user_comment.encode("utf-16-be")
    return encode(rgb, "JPEG", quality=92, exif=exif)


# --- C2PA ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestSigner:
    root_pem: str
    chain_pem: str
    key_pem: str


@lru_cache(maxsize=4)
def test_signer(name: str = "Test Generator Signer") -> TestSigner:
    """An ES256 signing certificate under a test root, both made here with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def subject(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ncii-shield test CA")])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    usage = {"content_commitment": False, "key_encipherment": False, "data_encipherment": False,
             "key_agreement": False, "encipher_only": False, "decipher_only": False}
    root = (x509.CertificateBuilder().subject_name(subject("ncii-shield test root")).issuer_name(
        subject("ncii-shield test root")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(subject(name)).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    def pem(cert) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return TestSigner(pem(root), pem(leaf) + pem(root), key_pem)


def sign_c2pa(asset: bytes, mime: str, actions: list[dict], *, signer: TestSigner | None = None,
              ingredient: tuple[bytes, str, str] | None = None, title: str = "image") -> bytes:
    """Embed a C2PA manifest with ``actions`` (and optionally a parent ingredient: bytes, mime,
    title) into ``asset``, signed by ``signer``'s certificate; no thumbnail, no network."""
    import c2pa

    signer = signer or test_signer()
    manifest = {"claim_generator_info": [{"name": "ncii-shield-tests", "version": "1.0"}], "title": title,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}
    settings = {"builder": {"thumbnail": {"enabled": False}},
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    context = c2pa.Context.from_dict(settings)
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain_pem.encode(), signer.key_pem.encode(), None)
    with c2pa.Signer.from_info(info) as c2pa_signer, c2pa.Builder(manifest, context) as builder:
        if ingredient is not None:
            data, ing_mime, ing_title = ingredient
            builder.add_ingredient({"title": ing_title, "relationship": "parentOf", "label": "parent"}, ing_mime,
                                   io.BytesIO(data))
        out = io.BytesIO()
        builder.sign(c2pa_signer, mime, io.BytesIO(asset), out)
        return out.getvalue()


OPENED_PARENT = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}


def created(source_type: str, agent: str = "Test Diffusion 1.0") -> list[dict]:
    return [{"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": {"name": agent}}]


# --- the fixture set ---------------------------------------------------------------------------


def fixtures(rgb: np.ndarray, *, c2pa: bool = True, watermarks: bool = True) -> dict[str, bytes]:
    """Every positive fixture kind made from one photo: name -> file bytes."""
    jpeg = encode(rgb, "JPEG", quality=92)
    out: dict[str, bytes] = {
        "png-a1111-parameters": png_with_text(rgb, [("tEXt", "parameters", A1111_PARAMETERS)]),
        "png-comfyui-prompt": png_with_text(rgb, [("tEXt", "prompt", json.dumps(COMFY_PROMPT))]),
        "png-comfyui-workflow": png_with_text(rgb, [("zTXt", "workflow", json.dumps(COMFY_WORKFLOW))]),
        "png-novelai": png_with_text(rgb, [("tEXt", "Software", "NovelAI"), ("tEXt", "Source", "NovelAI Diffusion V4"),
                                           ("tEXt", "Comment", json.dumps({"steps": 28, "sampler": "k_euler",
                                                                            "scale": 5, "uc": "lowres"}))]),
        "png-invokeai": png_with_text(rgb, [("iTXt", "invokeai_metadata", json.dumps({"steps": 30}))]),
        "jpeg-a1111-exif-usercomment": jpeg_with_exif(rgb, user_comment=A1111_PARAMETERS),
        "jpeg-exif-software-firefly": jpeg_with_exif(rgb, software="Adobe Firefly"),
        "jpeg-xmp-digitalsourcetype": jpeg_with_xmp(jpeg, f'Iptc4xmpExt:DigitalSourceType="{AI}"'),
        "jpeg-xmp-composite-ai": jpeg_with_xmp(
            jpeg, f'><Iptc4xmpExt:DigitalSourceType rdf:resource="{AI_COMPOSITE}"/></rdf:Description><rdf:Description'
            ' rdf:about=""'),
    }
    if c2pa:
        out["jpeg-c2pa-ai-created"] = sign_c2pa(jpeg, "image/jpeg", created(AI))
        png = encode(rgb, "PNG")
        out["png-c2pa-ai-composite"] = sign_c2pa(  # a photo opened, then edited with a generative fill
            png, "image/png", [OPENED_PARENT,
                               {"action": "c2pa.edited", "digitalSourceType": AI_COMPOSITE,
                                "softwareAgent": {"name": "Test Generative Fill"}}],
            ingredient=(png, "image/png", "photo.png"))
        parent = sign_c2pa(jpeg, "image/jpeg", created(AI), title="generated.jpg")
        out["jpeg-c2pa-edit-of-ai-ingredient"] = sign_c2pa(
            jpeg, "image/jpeg", [OPENED_PARENT, {"action": "c2pa.color_adjustments"}],
            ingredient=(parent, "image/jpeg", "generated.jpg"))
    if watermarks:
        from ncii_shield.signals.provenance import watermark

        for payload in watermark.KNOWN_PAYLOADS:
            out[f"png-watermark-{payload.name}"] = encode(watermark.encode(rgb, payload), "PNG")
    return out


def negatives(rgb: np.ndarray) -> dict[str, bytes]:
    """Files with metadata that must not be read as AI."""
    jpeg = encode(rgb, "JPEG", quality=92)
    return {
        "jpeg-plain": jpeg,
        "png-plain": encode(rgb, "PNG"),
        "jpeg-exif-software-gimp": jpeg_with_exif(rgb, software="GIMP 2.10.34"),
        "jpeg-exif-usercomment-note": jpeg_with_exif(rgb, user_comment="holiday, steps: a few"),
        "jpeg-xmp-digitalcapture-unsigned": jpeg_with_xmp(jpeg, f'Iptc4xmpExt:DigitalSourceType="{CAPTURE}" '
                                                          'xmp:CreatorTool="Adobe Photoshop 25.0"'),
        "png-text-comment": png_with_text(rgb, [("tEXt", "Comment", "Sunday at the lake"),
                                                ("tEXt", "parameters", "exposure +0.3")]),
        "png-comfyui-upscale-only": png_with_text(rgb, [("tEXt", "prompt", json.dumps(COMFY_UPSCALE_ONLY))]),
    }


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)
