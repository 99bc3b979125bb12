"""The weight files shipped with digitnet (``default`` and ``wide``), installed as package data."""
