"""Use cases: each module composes signals, media, store and index for one job."""
