"""The ``ncii-shield`` command line: thin adapters over the services."""
