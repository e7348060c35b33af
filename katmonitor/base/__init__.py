"""The base layer: vital kinds and codes, samples, errors and clocks.

Everything else builds on these four modules and they import nothing else of KAT Monitor, so
``devices/`` can depend on them without the rest of the core (see docs/architecture.md).
"""
