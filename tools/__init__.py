"""Build steps of the repository that are neither shipped (``snowpark/``) nor tests
(``tests/``): run by the Makefile as ``python -m tools.<module>`` from the repository root.
"""
