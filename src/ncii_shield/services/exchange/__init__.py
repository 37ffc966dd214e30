"""Exchange between instances and with the field's hash-sharing programmes.

* :mod:`.signing`: Ed25519 keys and canonical page signatures;
* :mod:`.publisher`: a bank published as a feed: signed pages of a snapshot, then its change log;
* :mod:`.subscriber`: verify pages against a pinned key, apply them exactly once, follow a feed;
* :mod:`.formats`: import/export of python-threatexchange, HMA, StopNCII and NCMEC formats;
* :mod:`.stopncii`: a client for a StopNCII-shaped hash API, with checkpoints.
"""
