"""Derivative signatures: recognise edited copies of a registered photo (see docs/derivatives.md)."""
