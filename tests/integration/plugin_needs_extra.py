"""A plug-in detector module whose optional extra is not installed (for test_upload_pipeline)."""

import ncii_shield_extra_that_is_not_installed  # noqa: F401


def detector(follower):  # noqa: ANN001, ANN201
    raise AssertionError("never reached")
