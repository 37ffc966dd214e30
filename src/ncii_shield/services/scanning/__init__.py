"""Scanning archives and distribution sources against the banks (see docs/scanning.md).

``sources`` (where items come from) -> ``scanner`` (hash + match one item) -> ``runner`` (workers,
local or Ray) -> ``checkpoint`` (results, resumable) -> ``output`` / ``report`` (JSON lines, CSV,
HTML with SVG plots). ``monitors`` runs recurring scans of registered sources.
"""
