"""The audit cache: one computed :class:`~clinic_analysis.audit.Audit` per inputs, signed.

The cache key hashes the validated params, the bytes of every source file, the library's
own code and the versions of the installed distributions, so that re-rendering after a
notebook tweak skips the computation while any change of inputs, params, code or
dependencies recomputes.

The cache lives outside the deliverable folder, in ``.cache/<clinic>/`` at the project root
(mode 0700; ``CLINIC_AUDIT_CACHE`` moves it). An entry is a pickle signed with HMAC-SHA256
under a per-machine key kept outside the repository (``~/.config/clinic-audit/cache.key``,
0600, made on first use; ``CLINIC_AUDIT_CACHE_KEY`` moves it). The signature and the cache
key are checked *before* anything is unpickled, so a planted, foreign or altered file is
never executed: it is recomputed, with one line saying why.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import hmac
import importlib.metadata
import os
import pickle
import re
import secrets
import sys
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd

from clinic_analysis import __version__
from clinic_analysis.audit import PACKAGE_DIR, PROJECT_DIR, Audit, compute_audit
from clinic_analysis.ingest.tables import ClinicData
from clinic_analysis.outputs import disk_error
from clinic_analysis.params import Params

CACHE_MAGIC = b"clinic-audit signed cache 1\n"


def cache_root() -> Path:
    """``.cache/`` at the project root (beside ``reports/``, never inside a report)."""
    return Path(os.environ.get("CLINIC_AUDIT_CACHE", PROJECT_DIR / ".cache"))


def cache_dir_for(slug: str) -> Path:
    """The cache folder of one clinic: ``.cache/<slug>/``."""
    return cache_root() / slug


def make_private_dir(path: Path) -> Path:
    """Create ``path`` if missing and make it readable by this user only (0700)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def code_fingerprint() -> str:
    """Hash of the library's Python code: a code change invalidates cached audits."""
    h = hashlib.sha256(__version__.encode())
    for p in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(p.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def dependency_versions() -> str:
    """``name==version`` of every installed distribution and the Python version: an upgrade
    of pandas (whose pickles are not portable across versions) or of any model library
    invalidates cached audits.

    Read from the names of the ``*.dist-info``/``*.egg-info`` folders on ``sys.path``
    (``pandas-2.2.3.dist-info``: what an install or upgrade writes), not from every
    package's metadata file: the report process and the notebook's kernel each do this on
    every run, and parsing ~120 metadata files costs a third of a second. A folder whose
    name holds no version (a source tree's ``x.egg-info``) has its metadata read."""
    found = set()
    for entry in sys.path:
        try:
            folders = [e for e in os.scandir(entry or ".") if e.name.endswith(_DIST_SUFFIXES)]
        except OSError:
            continue
        for e in folders:
            stem = e.name.rsplit(".", 1)[0]
            name, _, version = stem.partition("-")
            if not version:
                try:
                    version = importlib.metadata.PathDistribution(Path(e.path)).version
                except Exception:  # noqa: BLE001 - unreadable metadata: no version
                    version = None
            found.add(f"{_normalized(name)}=={version}")
    return "\n".join([sys.version, *sorted(found)])


_DIST_SUFFIXES = (".dist-info", ".egg-info")


def _normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them (``Foo_bar`` is ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(params: Params, code: str | None = None, versions: str | None = None) -> str:
    """sha256 over the validated params, each source file's bytes, the code and the
    versions of the installed dependencies."""
    h = hashlib.sha256()
    h.update(params.fingerprint().encode())
    for s in params.sources:
        for path in [s.path, *(lk.path for lk in s.lookups.values())]:
            h.update(str(path).encode())
            h.update(file_digest(path).encode() if path.exists() else b"missing")
    h.update((code or code_fingerprint()).encode())
    h.update((versions if versions is not None else dependency_versions()).encode())
    return h.hexdigest()


def cache_secret_path() -> Path:
    env = os.environ.get("CLINIC_AUDIT_CACHE_KEY")
    if env:
        return Path(env)
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "clinic-audit" / "cache.key"


def cache_secret() -> bytes:
    """This machine's key that signs cache entries; created (0600) on first use."""
    path = cache_secret_path()
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    if len(secret) >= 32:
        return secret
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache.key-")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # atomic; a concurrent first run's key wins if it came first
        except FileExistsError:
            if len(path.read_bytes()) < 32:  # an empty or cut key: replace it
                os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path.read_bytes()


def _signer(secret: bytes, key: str):
    """The HMAC of an entry, fed with its head (magic and key); the payload follows."""
    return hmac.new(secret, CACHE_MAGIC + key.encode() + b"\n", hashlib.sha256)


def _signature(secret: bytes, key: str, payload: bytes) -> bytes:
    h = _signer(secret, key)
    h.update(payload)
    return h.digest()


# An audit is cached in signed entries: ``audit-<key>.pkl`` holds what the report presents
# (metrics, the per-patient table, the small frames, the ledger) and is what the notebook's
# kernel loads; ``tables-<key>-<part>.pkl`` hold ClinicData's tables (every visit, card, plan
# and dropped row) and the fitted models, one part each, which only the data files (call
# lists, rejected rows), a follow-up of earlier call lists or an analyst's own cell need:
# each is read on first use.
HEAVY_TABLES = ("visits", "patients", "plans", "rejected")
HEAVY_PARTS = (*HEAVY_TABLES, "fits")


class _Tables:
    """The heavy parts of one cached audit, each read (signature checked first) on first use."""

    def __init__(self, load: Callable[[str], object]):
        self._load = load
        self._parts: dict[str, object] = {}

    def get(self, part: str) -> object:
        if part not in self._parts:
            self._parts[part] = self._load(part)
        return self._parts[part]


class LazyClinicData(ClinicData):
    """ClinicData of a cached audit whose tables (``HEAVY_TABLES``) are read from the cache
    on first use; the ledger, ``as_of``, ``present`` and ``identity`` are at hand."""

    def __getattr__(self, name):  # only called for attributes not set on the instance
        tables = self.__dict__.get("_tables")
        if name not in HEAVY_TABLES or tables is None:
            raise AttributeError(name)
        self.__dict__[name] = tables.get(name)
        return self.__dict__[name]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_tables"}


class LazyFits:
    """The fitted models of a cached audit (models.ModelSet), read from the cache on first
    use: unpickling them imports the model libraries, which the report never needs."""

    def __init__(self):
        self._tables: _Tables | None = None

    def __getattr__(self, name):
        tables = self.__dict__.get("_tables")
        if name.startswith("__") or tables is None:
            raise AttributeError(name)
        return getattr(tables.get("fits"), name)

    def __getstate__(self):
        return {}


def _split(audit: Audit) -> tuple[Audit, dict]:
    """The report's part of an audit (its data's tables and models deferred) and the rest."""
    data = LazyClinicData.__new__(LazyClinicData)
    data.__dict__.update({k: v for k, v in vars(audit.data).items() if k not in HEAVY_TABLES})
    light = dataclasses.replace(audit, data=data, fits=LazyFits())
    heavy = {t: getattr(audit.data, t) for t in HEAVY_TABLES} | {"fits": audit.fits}
    return light, heavy


def _read_entry(path: Path, key: str, secret: bytes) -> tuple[object | None, str]:
    """``(object, "")`` when the entry at ``path`` is ours, for this key and intact; else
    ``(None, why)``. Nothing is unpickled before the signature and the key match. The file
    is read once into one buffer (no copies of it: an entry may hold gigabytes)."""
    try:
        with path.open("rb") as fh:
            blob = bytearray(os.fstat(fh.fileno()).st_size)
            n = fh.readinto(blob)
    except OSError as err:
        return None, f"unreadable: {err.strerror or err}"
    view = memoryview(blob)[:n]
    if view[: len(CACHE_MAGIC)] != CACHE_MAGIC:
        return None, "not a signed clinic-audit cache file"
    head = bytes(view[len(CACHE_MAGIC) : len(CACHE_MAGIC) + 200])
    stored_key, newline, _ = head.partition(b"\n")
    if not newline or stored_key != key.encode():
        return None, "made for other inputs"
    start = len(CACHE_MAGIC) + len(stored_key) + 1
    mac, payload = bytes(view[start : start + 32]), view[start + 32 :]
    h = _signer(secret, key)
    h.update(payload)
    if not hmac.compare_digest(mac, h.digest()):
        return None, "its signature does not match this machine's key (copied or altered)"
    try:
        return pickle.loads(payload), ""
    except Exception as err:  # noqa: BLE001 - signed by us yet unreadable: recompute
        return None, f"unreadable ({type(err).__name__})"


class _SignedWriter:
    """A file that signs what goes through it: the pickle streams to disk, never whole in
    memory (a 1M-patient audit's tables would be copied once more as one bytes object)."""

    def __init__(self, fh, mac) -> None:
        self.fh, self.mac = fh, mac

    def write(self, data) -> int:
        self.mac.update(data)
        return self.fh.write(data)


_ARROW_GETSTATE = pd.arrays.ArrowExtensionArray.__getstate__


class _Pickler(pickle.Pickler):
    """``pickle``, with pandas' Arrow-backed columns written without a copy of their data.

    pandas pickles such a column through ``combine_chunks()``: a copy of its data even when
    it is a single chunk, and the pickle's memo keeps every copy alive until the whole
    object is written (about 0.7 GB more at the peak for the visits of a 1M-patient clinic).
    A column whose chunks are compact (not slices of larger arrays) is written here as those
    chunks, in the state pandas' ``__getstate__`` gives (read back by pandas' own
    ``__setstate__``: the same column, in the same chunks it had in memory)."""

    def reducer_override(self, obj):
        # called for every object the pickle meets: this comparison is all most of them cost
        if type(obj).__getstate__ is not _ARROW_GETSTATE:
            return NotImplemented  # not an Arrow-backed column, or one pickled its own way
        data = obj._pa_array
        # a slice would carry its whole parent's buffers (the size check allows padding)
        if any(c.get_total_buffer_size() > c.nbytes + 64 for c in data.chunks):
            return NotImplemented  # pandas' way: compacted, by a copy
        state = {**obj.__dict__, "_pa_array": data, "_cache": {}}
        return copyreg.__newobj__, (type(obj),), state


def _write_entry(path: Path, key: str, obj: object, secret: bytes) -> None:
    """magic, key, signature, pickle: the signature (of magic, key and pickle, as
    :func:`_signature` makes it) is written in its place once the pickle has streamed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(CACHE_MAGIC + key.encode() + b"\n")
            at = fh.tell()
            fh.write(bytes(32))  # the signature's place
            mac = _signer(secret, key)
            _Pickler(_SignedWriter(fh, mac), protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
            fh.seek(at)
            fh.write(mac.digest())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _entry(cache_dir: Path, key: str, part: str | None = None) -> Path:
    """The report's entry (``part=None``) or a heavy part's entry of the audit of this key."""
    return cache_dir / (f"tables-{key[:20]}-{part}.pkl" if part else f"audit-{key[:20]}.pkl")


def _store(audit: Audit, cache_dir: Path, secret: bytes) -> None:
    """Cache ``audit`` (tables first: a report entry always has its tables beside it) and
    remove the entries of other keys."""
    light, heavy = _split(audit)
    key = audit.cache_key
    try:
        make_private_dir(cache_dir)
        for part, obj in heavy.items():
            _write_entry(_entry(cache_dir, key, part), key, obj, secret)
        _write_entry(_entry(cache_dir, key), key, light, secret)
        kept = {_entry(cache_dir, key), *(_entry(cache_dir, key, p) for p in heavy)}
        for old in [*cache_dir.glob("audit-*.pkl"), *cache_dir.glob("tables-*.pkl")]:
            if old not in kept:
                old.unlink(missing_ok=True)
    except OSError as err:
        raise disk_error(err, cache_dir, "set CLINIC_AUDIT_CACHE") from None


def _computed(params: Params, key: str) -> Audit:
    audit = compute_audit(params)
    audit.cache_key = key
    return audit


def get_audit(
    params: Params,
    cache_dir: Path,
    log: Callable[[str], None] | None = None,
    on_miss: Callable[[], None] | None = None,
) -> tuple[Audit, bool]:
    """The audit for these params: from the cache when inputs are unchanged, else computed
    and stored. Returns ``(audit, cache_hit)``. A corrupt, foreign or altered entry is
    recomputed and ``log`` gets one line saying so (default: stderr).

    A cache hit reads the report's part only: ``audit.data``'s tables and ``audit.fits``
    are read from the tables' entry when first used (and recomputed, with one line, if
    that entry is missing or fails its check). ``on_miss`` is called before computing."""
    log = log or (lambda s: print(s, file=sys.stderr))
    key = cache_key(params)
    cache_dir = Path(cache_dir)
    report_entry = _entry(cache_dir, key)
    try:
        secret = cache_secret()
    except OSError as err:
        raise disk_error(err, cache_secret_path().parent, "set CLINIC_AUDIT_CACHE_KEY") from None
    if report_entry.exists():
        audit, why = _read_entry(report_entry, key, secret)
        if not isinstance(audit, Audit) or audit.cache_key != key:
            why = why or "holds something else than this audit"
        elif not isinstance(audit.data, LazyClinicData) or not isinstance(audit.fits, LazyFits):
            why = "holds an audit cached by an older version"
        else:
            tables = _Tables(lambda part: _read_part(params, cache_dir, key, part, secret, log))
            audit.data.__dict__["_tables"] = tables
            audit.fits.__dict__["_tables"] = tables
            return audit, True
        log(f"  compute: cache {report_entry} ignored, {why}; recomputing")
    if on_miss is not None:
        on_miss()
    audit = _computed(params, key)
    _store(audit, cache_dir, secret)
    return audit, False


def _read_part(
    params: Params, cache_dir: Path, key: str, part: str, secret: bytes, log: Callable
) -> object:
    """One heavy part of a cached audit; if its entry is missing or fails its check, the
    audit is computed again (the same inputs give the same audit) and cached anew."""
    path = _entry(cache_dir, key, part)
    obj, why = _read_entry(path, key, secret) if path.exists() else (None, "missing")
    expected = pd.DataFrame if part in HEAVY_TABLES else object
    if not why and isinstance(obj, expected):
        return obj
    log(f"  compute: cache {path} ignored, {why or 'holds something else'}; recomputing")
    audit = _computed(params, key)
    _store(audit, cache_dir, secret)
    return _split(audit)[1][part]


# ------------------------------------------------------------- charts drawn by the last run

CHART_DIR_PREFIX = "charts-"
CHART_DIR_MAX_FILES = 1000


class ChartStore:
    """The report's chart PNGs of one audit, kept for the next run of its notebook (signed
    like every entry here; see :func:`clinic_analysis.report.display.install` for what the
    key of a chart holds). A new audit's store removes the charts of earlier audits."""

    def __init__(self, cache_dir: Path, audit_key: str):
        self.folder = Path(cache_dir) / f"{CHART_DIR_PREFIX}{audit_key[:20]}"
        self.secret = cache_secret()
        make_private_dir(self.folder)
        for old in Path(cache_dir).glob(f"{CHART_DIR_PREFIX}*"):
            if old != self.folder and old.is_dir():
                for f in old.iterdir():
                    f.unlink(missing_ok=True)
                old.rmdir()
        files = list(self.folder.iterdir())
        if len(files) > CHART_DIR_MAX_FILES:  # charts of many edits ago: start again
            for f in files:
                f.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.png"

    def get(self, key: str) -> bytes | None:
        """The PNG stored for ``key`` if it is there and its signature holds."""
        try:
            blob = self._path(key).read_bytes()
        except OSError:
            return None
        mac, png = blob[:32], blob[32:]
        return png if hmac.compare_digest(mac, _signature(self.secret, key, png)) else None

    def put(self, key: str, png: bytes) -> None:
        """Store ``png`` for ``key`` (a full disk only means the chart is drawn next time)."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".chart-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_signature(self.secret, key, png) + png)
            os.replace(tmp, self._path(key))
        except OSError:
            for f in self.folder.glob(".chart-*.tmp"):
                f.unlink(missing_ok=True)
