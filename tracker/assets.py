"""Static files as served: minified, under content-hashed names, with precompressed copies (gzip, brotli).

The build goes to build/static (git-ignored), keyed by a digest of the sources: `make assets` makes it, and
create_app() makes it when it is missing. A hashed name never changes content, so it is cached for a year, and a
page always names the files it was written with. Old names stay in the folder (a page from before a deployment,
kept by a phone, still finds its files) until `make clean`.
"""
import hashlib
import json
import os
import posixpath
import re
import tempfile
from pathlib import Path

import rcssmin
import rjsmin
from whitenoise.compress import Compressor

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "static"
BUILD = ROOT / "build"
CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


def source_digest(src: Path = SOURCE) -> str:
    """A digest of every file under src, names and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        h.update(path.relative_to(src).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _hashed(name: str, data: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"


def _write(path: Path, data: bytes) -> None:
    """Atomically, so that two processes building at once never leave half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _minified(name: str, data: bytes, names: dict) -> bytes:
    """Scripts and stylesheets without their comments and spaces: what a phone downloads, not what we read."""
    if name.endswith(".js"):
        return rjsmin.jsmin(data.decode("utf-8")).encode("utf-8")
    if name.endswith(".css"):
        return rcssmin.cssmin(_rewrite_css(name, data.decode("utf-8"), names)).encode("utf-8")
    return data


def _encoded(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The brotli and gzip copies WhiteNoise serves to browsers that accept them, where they are smaller."""
    if not Compressor(quiet=True).should_compress(name):
        return []
    encoded = [(".br", Compressor.compress_brotli(data)), (".gz", Compressor.compress_gzip(data))]
    return [(suffix, body) for suffix, body in encoded if len(body) <= 0.95 * len(data)]


def _rewrite_css(name: str, text: str, names: dict) -> str:
    """A stylesheet's url(...) references to the hashed names, relative to the stylesheet as before."""
    here = posixpath.dirname(name)

    def swap(m):
        ref = m.group(2)
        target = posixpath.normpath(posixpath.join(here, ref))
        if ref.startswith(("data:", "/", "http:", "https:", "#")) or target not in names:
            return m.group(0)
        return f'url("{posixpath.relpath(names[target], here or ".")}")'
    return CSS_URL.sub(swap, text)


def build(src: Path = SOURCE, out: Path = BUILD) -> dict:
    """Hash, copy and compress every static file; return and store the manifest {source name: hashed name}."""
    digest = source_digest(src)
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    names: dict[str, str] = {}
    # Stylesheets last: their url(...) references name the other files' hashed names.
    for name in sorted(files, key=lambda n: n.endswith(".css")):
        data = _minified(name, (src / name).read_bytes(), names)
        names[name] = _hashed(name, data)
        target = out / "static" / names[name]
        if not target.exists():
            for suffix, body in _encoded(name, data):
                _write(target.with_name(target.name + suffix), body)
            _write(target, data)
    manifest = {"digest": digest, "files": names}
    _write(out / f"manifest-{digest}.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


def ensure(src: Path = SOURCE, out: Path = BUILD) -> dict:
    """The manifest of the current sources, built first if it is not there yet."""
    path = out / f"manifest-{source_digest(src)}.json"
    if path.exists():
        return json.loads(path.read_text())
    return build(src, out)


def main() -> None:
    """`make assets`: build, and say where."""
    m = build()
    print(f"static files built: {len(m['files'])} into {BUILD / 'static'} (manifest {m['digest']})")


if __name__ == "__main__":
    main()
