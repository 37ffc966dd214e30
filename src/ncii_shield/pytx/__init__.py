"""A python-threatexchange extension: ncii-shield feeds as a pytx ``SignalExchangeAPI``.

With it, pytx's CLI (and HMA, which loads pytx exchanges the same way) fetches a feed published by
an ncii-shield instance, checks every page's Ed25519 signature against a pinned key, and applies
withdrawals: a hash withdrawn on the publisher leaves the adopter's index on their next fetch::

    threatexchange config extensions add ncii_shield.pytx
    threatexchange config collab edit ncii_shield helpline --create \\
        --url https://helpline.example --feed victims --token nsf_... --publisher-key BASE64
    threatexchange fetch
    threatexchange match photo photo.jpg

Only this package imports ``threatexchange``; ncii-shield itself does not need it. Importing it
loads pytx, :mod:`.feed` and our signing module, nothing of the server (see docs/interop.md).
"""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from ncii_shield.pytx.api import (
    API_NAME,
    TO_PYTX,
    NCIIShieldCheckpoint,
    NCIIShieldCollabConfig,
    NCIIShieldSignalExchangeAPI,
    NCIIShieldSignalMetadata,
)

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(NCIIShieldSignalExchangeAPI,))

__all__ = ["API_NAME", "TO_PYTX", "TX_MANIFEST", "NCIIShieldCheckpoint", "NCIIShieldCollabConfig",
           "NCIIShieldSignalExchangeAPI", "NCIIShieldSignalMetadata"]
