"""ncii-shield: stop non-consensual intimate imagery with hashes, not images.

Public entry points::

    from ncii_shield.signals import registry
    from ncii_shield.media.decode import decode_photo

    photo = decode_photo(open("upload.jpg", "rb").read())
    pdq = registry.get("pdq").hash_photo(photo)
"""

__version__ = "0.1.0"
