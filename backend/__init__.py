"""Backend of the code-model comparison dashboard: run store, importers, comparisons, CLI."""
