"""The headless core: import, model, training, scanning, review and reports.

Never imports Qt (checked by tests/test_architecture.py).
"""
