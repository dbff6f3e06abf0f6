"""Runs made here: their lifecycle, their processes (for the pages), the first start, and where they execute."""
