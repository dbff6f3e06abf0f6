"""Where source code comes from: the interpreter's stdlib, Debian packages, npm tarballs, a user's folder.

Each source fetches into a cache folder with the ordinary clients (``apt-get download``, ``npm pack``), records
package, version and sha256, and yields ``(relative path, bytes)`` of the files to mine.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sysconfig
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from backend.bench.miner import LANGS, skip_path


class SourceError(RuntimeError):
    """A source cannot be fetched or read; the message says what to do."""


@dataclass(frozen=True)
class SourceSpec:
    language: str
    kind: str  # "stdlib", "deb", "npm" or "dir"
    packages: tuple[str, ...] = ()
    subdir: str = ""  # where the code lives inside the unpacked package(s)
    path: str = ""  # for kind "dir"
    provenance: list = field(default_factory=list, compare=False, hash=False)


PHP_DEBS = tuple(f"php-symfony-{p}" for p in (
    "console", "http-foundation", "http-kernel", "dependency-injection", "routing", "validator", "serializer", "form",
    "finder", "process", "yaml", "cache", "string")) + (
    "php-laravel-framework", "php-monolog", "php-guzzlehttp-guzzle", "php-guzzlehttp-psr7", "php-league-commonmark",
    "php-nesbot-carbon", "php-doctrine-dbal", "php-psr-log", "php-codecoverage")
NPM_PACKAGES = ("lodash@4.18.1", "date-fns@4.4.0", "ramda@0.32.0", "underscore@1.13.8", "async@3.2.6",
                "express@5.3.0", "luxon@3.5.0", "mathjs@14.0.1", "node-forge@1.3.1", "axios@1.7.9",
                "commander@12.1.0", "jquery@3.7.1")

DEFAULT_SOURCES = {
    "python": SourceSpec("python", "stdlib"),
    "java": SourceSpec("java", "deb", ("openjdk-17-source",)),
    "go": SourceSpec("go", "deb", ("golang-1.19-src",)),
    "ruby": SourceSpec("ruby", "deb", ("libruby3.1",), subdir="usr/lib/ruby"),
    "php": SourceSpec("php", "deb", PHP_DEBS, subdir="usr/share/php"),
    "javascript": SourceSpec("javascript", "npm", NPM_PACKAGES),
}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(source: SourceSpec, cache: Path) -> tuple[list[Path], list[dict]]:
    """Roots to mine and the provenance of each package (name, version, sha256)."""
    if source.kind == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        # No path in the provenance: the id must not depend on where Python is installed (files_sha256 covers it).
        return [root], [{"package": "python-stdlib", "version": sysconfig.get_python_version()}]
    if source.kind == "dir":
        root = Path(source.path)
        if not root.is_dir():
            raise SourceError(f"{root} is not a folder; pass the root of the repository to mine")
        return [root], [{"package": "local-dir", "name": root.resolve().name}]
    fetcher = _fetch_deb if source.kind == "deb" else _fetch_npm
    roots, provenance = [], []
    for package in source.packages:
        root, info = fetcher(package, cache)
        roots.append(root / source.subdir if (root / source.subdir).is_dir() else root)
        provenance.append(info)
    return roots, provenance


def _run(cmd: list[str], cwd: Path, fix: str):
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise SourceError(f"{cmd[0]} is not installed; {fix}") from None
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-1:] or [""]
        raise SourceError(f"{' '.join(cmd)} failed ({tail[0]}); {fix}") from None


@contextlib.contextmanager
def _private_dir(parent: Path, name: str = "download"):
    """A temporary folder of this process under ``parent`` (same file system: renames out of it are atomic),
    removed afterwards whatever is left in it. Builds running at once never share a half-written folder."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, final: Path):
    """Rename a complete folder into place; if another process put one there first, keep theirs (the same
    content: both came from the same input) and drop ours."""
    try:
        tmp.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _fetch_deb(package: str, cache: Path) -> tuple[Path, dict]:
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        with _private_dir(debs) as tmp:  # two builds at once each download into their own folder
            _run(["apt-get", "download", package], tmp, "run `apt-get update` once, then build again")
            for deb in tmp.glob("*.deb"):
                os.replace(deb, debs / deb.name)  # atomic: the same file either way
        found = sorted(debs.glob(f"{package}_*.deb"))
    deb = found[-1]
    digest = sha256_file(deb)
    root = cache / "unpacked" / f"{deb.stem}-{digest[:12]}"
    if not root.is_dir():
        with _private_dir(root.parent, root.name) as tmp:
            _run(["dpkg-deb", "-x", str(deb), str(tmp)], cache, "install dpkg (Debian/Ubuntu) or use --from DIR")
            publish(tmp, root)
    version = deb.stem.split("_")[1].replace("%3a", ":")
    return root, {"package": package, "version": version, "sha256": digest, "client": "apt-get download"}


def _fetch_npm(spec: str, cache: Path) -> tuple[Path, dict]:
    tarballs = cache / "npm"
    tarballs.mkdir(parents=True, exist_ok=True)
    name, version = spec.rsplit("@", 1)
    tgz = tarballs / f"{name}-{version}.tgz"
    if not tgz.is_file():
        with _private_dir(tarballs) as tmp:
            _run(["npm", "pack", spec, "--silent"], tmp, "install Node.js and npm, or use --from DIR")
            os.replace(tmp / tgz.name, tgz)
    digest = sha256_file(tgz)
    root = cache / "unpacked" / f"npm-{name}-{version}-{digest[:12]}"
    if not root.is_dir():
        with _private_dir(root.parent, root.name) as tmp, tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
            publish(tmp, root)
    return root, {"package": name, "version": version, "sha256": digest, "client": "npm pack"}


def iter_files(roots: list[Path], language: str):
    """(relative path, bytes) of every minable file under ``roots``, in a fixed order; zip archives included."""
    extensions = LANGS[language].extensions
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = str(path.relative_to(root))
                if name == "src.zip":
                    yield from _zip_members(path, extensions)
                elif name.endswith(extensions) and not skip_path(rel) and not path.is_symlink():
                    yield rel, path.read_bytes()


def _zip_members(path: Path, extensions):
    with zipfile.ZipFile(path) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            if info.filename.endswith(extensions) and not skip_path(info.filename):
                yield info.filename, z.read(info)


