"""Data files shipped with FaultLens (demo recording, demo model, icons).

Read them with ``faultlens.core.resources``; never by a path relative to the source tree.
"""
