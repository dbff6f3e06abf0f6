"""Importers, registered by format: ``base`` holds the registry and reads one path; each format module registers
itself when imported here."""
from backend.importers import evalplus_board, harnesses, modelcard, mteb, runjson, widecsv  # noqa: F401 - each registers its format
from backend.importers.base import (  # noqa: F401 - the package's interface
    IMPORTERS,
    MAX_BYTES,
    Importer,
    ImportFailure,
    importer_for,
    load_path,
    read_text,
    register_importer,
    regular_file,
    stream_batches,
    stream_path,
)
