"""Widgets the pages are made of: reads of the store (``reads``), pickers, outputs (tables, CSV, charts, reports),
deep links, navigation, and each page's larger components. Importing it hands a page Streamlit opened on its own
to app.py's navigation (``navigation.through_the_app``)."""
from pages.parts.navigation import through_the_app

through_the_app()
