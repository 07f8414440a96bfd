"""Cluster packaging: the project's wheel for ``--py-files`` and a model-pack archive for ``--archives``.

``python -m tools.package --out dist`` (or ``make package``) writes

* ``dist/kazu_spark-<version>-py3-none-any.whl``: the installable package for the driver (``pip install`` on
  the edge node or image, a Databricks cluster library);
* ``dist/kazu_spark.zip``: the package without the bundled model, for ``--py-files`` (the model comes as
  the archive);
* ``dist/model.tar.gz``: the model folder, for ``--archives``.

The archive holds the model folder's files at its root, so
``spark-submit --archives dist/model.tar.gz#model ... --set ner.model_archive=model`` unpacks it as
``./model`` next to every executor (see :mod:`kazu_spark.ner.spark` for when to prefer it over the
default broadcast).

Example:
    >>> import tarfile, tempfile, zipfile
    >>> out = Path(tempfile.mkdtemp())
    >>> archive = pack_model("pkg://kazu_spark/resources/model", out / "model.tar.gz")
    >>> "config.json" in tarfile.open(archive).getnames()
    True
    >>> "kazu_spark/ner/spark.py" in zipfile.ZipFile(zip_sources(out / "kazu_spark.zip")).namelist()
    True
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import kazu_spark
from kazu_spark.ner.model_files import resolve_model_dir
from kazu_spark.paths import resolve_path

#: the source checkout holding setup.cfg (where a wheel is built from)
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def pack_model(model: str, out: str | Path) -> Path:
    """Write the model folder of ``model`` (a folder, Kazu pack or ``pkg://`` path) as a gzipped tarball.

    Files sit at the archive's root, so the alias of ``--archives out#ALIAS`` is the model folder itself.
    """
    folder = resolve_model_dir(resolve_path(model))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                tar.add(path, arcname=path.name)
    return out


def zip_sources(out: str | Path) -> Path:
    """Zip the package (``kazu_spark/...``: code, default config, ontology subsets) for ``--py-files``.

    The bundled model is left out: it travels as the ``--archives`` model pack instead.
    """
    package = Path(kazu_spark.__file__).resolve().parent
    model = package / "resources" / "model"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.is_relative_to(model):
                zf.write(path, str(path.relative_to(package.parent)))
    return out


def build_wheel(out_dir: str | Path, source: Path = SOURCE_ROOT) -> Path:
    """Build the project's wheel into ``out_dir`` with ``pip wheel`` (no dependencies, no network) and return it."""
    if not (source / "setup.cfg").is_file():
        raise FileNotFoundError(f"{source}: not a kazu-spark source checkout (no setup.cfg); build from a clone")
    out_dir = Path(out_dir).resolve()
    before = set(out_dir.glob("kazu_spark-*.whl"))
    for stale in before:
        stale.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out_dir), "."],
        cwd=source,
        check=True,
    )
    (wheel,) = out_dir.glob("kazu_spark-*.whl")
    return wheel


def main() -> None:
    """``python -m tools.package [--out dist] [--model PACK] [--no-wheel]``: write the three artefacts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="dist", help="output folder")
    parser.add_argument("--model", default="pkg://kazu_spark/resources/model", help="model folder or pack to archive")
    parser.add_argument("--no-wheel", action="store_true", help="skip the wheel (the slow part)")
    args = parser.parse_args()
    built = [zip_sources(f"{args.out}/kazu_spark.zip"), pack_model(args.model, f"{args.out}/model.tar.gz")]
    if not args.no_wheel:
        built.insert(0, build_wheel(args.out))
    for path in built:
        print(f"built {path}")


if __name__ == "__main__":
    main()
