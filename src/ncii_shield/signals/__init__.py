"""Signal types (kinds of hash) and their registry. See :mod:`.base` for the interface."""
