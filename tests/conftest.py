"""Shared test setup. Qt must run offscreen: without a display it would abort the whole run,
so the platform is chosen here, before any test module imports Qt."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
