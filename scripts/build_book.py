"""Build the HTML book into _build/html (called by `make book` and by the test suite).

  python scripts/build_book.py --execute cache      # make book: run changed notebooks, cached
  python scripts/build_book.py --execute off -W     # make test: committed outputs, warnings fail

The execution cache is keyed on the notebooks' code; it does not see changes to nbcode. So the
cache is dropped whenever nbcode's source, requirements.txt or pyproject.toml changed since it
was filled: the HTML never shows outputs older than the code.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_fingerprint(root: Path = ROOT) -> str:
    """Hash of everything whose change can change a notebook's outputs besides the notebook."""
    h = hashlib.sha256()
    files = sorted((root / "nbcode").rglob("*")) + [root / "requirements.txt", root / "pyproject.toml"]
    for p in files:
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def drop_stale_cache(build: Path, root: Path = ROOT) -> None:
    """Delete ``build/.jupyter_cache`` if nbcode or the pins changed since it was filled."""
    cache, stamp = build / ".jupyter_cache", build / ".nbcode-fingerprint"
    fp = code_fingerprint(root)
    if cache.exists() and (not stamp.exists() or stamp.read_text() != fp):
        print("nbcode changed since the last build: dropping the execution cache")
        shutil.rmtree(cache)
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--execute", choices=["cache", "off", "force"], default="cache")
    ap.add_argument("-W", "--strict", action="store_true", help="turn warnings into errors")
    ap.add_argument("--out", default=str(ROOT / "_build"), help="build folder (HTML goes to OUT/html)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    from jupyter_book.sphinx import build_sphinx

    build = Path(args.out).resolve()
    if args.execute == "cache":
        drop_stale_cache(build)
    overrides = {
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        "nb_execution_mode": args.execute,
        "nb_execution_cache_path": str(build / ".jupyter_cache"),
    }
    result = build_sphinx(
        ROOT,
        build / "html",
        use_external_toc=True,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides,
        builder="html",
        warningiserror=args.strict,
        keep_going=args.strict,
        freshenv=args.strict,
        doctreedir=str(build / ".doctrees"),
        quiet=args.quiet,
    )
    if result:
        print(f"build failed: {result}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
