"""Coverage-guided fuzzing (atheris) of the provenance reader: any bytes in, a verdict out.

    .venv/bin/python tests/fuzz/atheris_provenance.py -runs=20000 CORPUS_DIR

Seeds are made by ``tests/fuzz/test_fuzz_provenance.py`` (a PNG with generator text and EXIF, a JPEG
with EXIF, XMP and a signed C2PA manifest, a WebP with EXIF and XMP). The reader must return a
:class:`Provenance` for every input: any exception is a crash (libFuzzer writes ``crash-*``), as is a
process abort in the C2PA library.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ncii_shield.signals.provenance import ProvenanceReader
    from ncii_shield.signals.provenance.containers import read_metadata
    from ncii_shield.signals.provenance.exif import read_exif_text
    from ncii_shield.signals.provenance.markers import metadata_evidence

READER = ProvenanceReader()


def fuzz_provenance(data: bytes) -> None:
    result = READER.read(data)
    assert result.ai_generated in (True, False, None)
    result.to_json()
    meta = read_metadata(data)
    metadata_evidence(meta)
    read_exif_text(data)


if __name__ == "__main__":
    atheris.Setup([sys.argv[0], *sys.argv[1:]], fuzz_provenance)
    atheris.Fuzz()
