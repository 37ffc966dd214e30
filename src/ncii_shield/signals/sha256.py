"""SHA-256 of the file bytes: exact matching."""

from __future__ import annotations

from ncii_shield.signals.exact import FileDigestSignal


class Sha256Signal(FileDigestSignal):
    name = "sha256"
    algorithm = "sha256"
    digits = 64
    label = "SHA-256"
    examples = ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",)
    description = "SHA-256 of the file bytes (64 hex digits); exact match only"
