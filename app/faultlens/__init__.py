"""FaultLens: find, understand and report faults in multichannel sensor recordings."""

__version__ = "0.1.0"
