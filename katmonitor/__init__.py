"""KAT Monitor headless core.

Nothing in this package imports Qt: the acquisition pipeline, storage, limit checks and the
CLI run (and are tested) without a display. The Qt user interface lives in the top-level
``ui`` package and is imported lazily by ``katmonitor run``.
"""

__version__ = "0.1.0"
