"""In-memory indexes: rebuildable caches of the store, one per signal type.

An index knows nothing of banks: it maps a canonical hash value to integer ids (the store's signal
ids) and answers "which ids lie within distance d of this value". See :mod:`.base`.
"""
