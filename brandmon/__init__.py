"""brandmon, the application layer: the `brandmon` command line (`brandmon.cli`) over the library packages.

The layers, bottom up: `pipeline` (settings, the store, the stages that need nothing else) is the base and imports
nothing above it; `crawlers` and `models` build on it; `flows` and `dashboard` on those; `brandmon` on all of them.
tests/foundation/test_layers.py holds `pipeline` to that.
"""
