"""KAT Monitor's Qt user interface (PySide6 + pyqtgraph). Holds no clinical rules: what is
stale or out of limits, and what may be recorded, is decided by the core (``katmonitor``)."""

import os

# pyqtgraph picks the first Qt binding it finds; this app is built on PySide6.
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
