"""Service marks: visible logos and watermarks that a known service stamps on its output.

:mod:`.template` turns a mark image (with or without transparency) into a small normalised
template and its stored form; :mod:`.search` finds a template in an upload's pixels at any position
and scale, under partial opacity, re-encoding, resizing, cropping and screenshots.
"""
