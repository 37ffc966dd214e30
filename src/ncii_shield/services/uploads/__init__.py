"""The one upload pipeline: every check of an upload (API, CLI, scans, monitors) decodes once, runs
each detector as a plug-in, applies the tenant's policy, records and queues for review."""
