"""Turn a registry version into the model that ships inside the package.

Only what serving needs leaves the registry: the exported graph and weights, the
tokenizer files and the manifest. The split file and the report (which quote training
texts) stay behind, and the manifest keeps the trained version's provenance and figures.

    python -m trainer.bundle --home ~/.lovelorn --model v3 --out monitor/bundled_model
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from monitor.errors import MonitorError
from monitor.model import ModelRegistry
from monitor.model.bundled import BUNDLED_VERSION
from monitor.model.manifest import MANIFEST
from monitor.settings import Settings

__all__ = ["MAX_BUNDLE_BYTES", "SHIPPED_FILES", "BundleError", "bundle"]

SHIPPED_FILES = (
    "inference.json",
    "inference.pdiparams",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
MAX_BUNDLE_BYTES = 10 * 2**20  # small enough to live in git and in the wheel


class BundleError(MonitorError):
    pass


def bundle(version_dir: Path, out_dir: Path) -> dict[str, object]:
    """Write ``out_dir`` (replacing it) and return the bundled manifest's fields."""
    missing = [n for n in (*SHIPPED_FILES, MANIFEST) if not (version_dir / n).is_file()]
    if missing:
        raise BundleError(f"{version_dir} is not an exported version: missing {missing}")
    size = sum((version_dir / n).stat().st_size for n in (*SHIPPED_FILES, MANIFEST))
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"{version_dir} needs {size / 2**20:.1f} MB; the bundle allows "
            f"{MAX_BUNDLE_BYTES / 2**20:.0f} MB (train a smaller shape or vocabulary)"
        )
    fields = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    fields["provenance"] = {**fields.get("provenance", {}), "bundled_from": fields["version"]}
    fields["version"] = BUNDLED_VERSION
    fields["files"] = {n: "" for n in SHIPPED_FILES}
    staged = out_dir.with_name(out_dir.name + ".staged")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy2(version_dir / name, staged / name)
    (staged / MANIFEST).write_text(
        json.dumps(fields, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    staged.rename(out_dir)
    return fields


@click.command()
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--model", "version", default="current", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
def main(home: Path, version: str, out: Path) -> None:
    """Copy a registry version into the package as its bundled model."""
    try:
        registry = ModelRegistry(Settings(home=home).registry_root)
        fields = bundle(registry.path(registry.resolve(version)), out)
    except MonitorError as exc:
        raise click.ClickException(str(exc)) from None
    size = sum(p.stat().st_size for p in out.iterdir())
    click.echo(f"bundled {fields['provenance']['bundled_from']} into {out} ({size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
