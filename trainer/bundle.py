"""Turn a registry version into the model that ships inside the package.

Only what serving needs leaves the registry: the exported graph, the weights stored as
float16 (half the bytes; widened back to float32 when a registry is seeded), the tokenizer
files and the manifest. The split file and the report (which quote training texts) stay
behind, and the manifest keeps the trained version's provenance and figures, plus how far
float16 storage moves the scores of the version's validation texts.

    python -m trainer.bundle --home ~/.lovelorn --model v3 --out monitor/bundled_model
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np

from monitor.errors import MonitorError
from monitor.model import (
    BUNDLED_VERSION,
    HALF_SUFFIX,
    MANIFEST,
    Manifest,
    ModelRegistry,
    halve,
    unpack,
)
from monitor.settings import Settings

__all__ = ["MAX_BUNDLE_BYTES", "SHIPPED_FILES", "BundleError", "bundle", "storage_effect"]

SERVING_FILES = (
    "inference.json",
    "inference.pdiparams",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
SHIPPED_FILES = tuple(n + HALF_SUFFIX if n == "inference.pdiparams" else n for n in SERVING_FILES)
MAX_BUNDLE_BYTES = 58 * 2**20  # the wheel stays under 60 MB
MAX_STORAGE_DP = 0.01  # float16 storage may move a validation score this much at most
STORAGE_TEXTS = 512


class BundleError(MonitorError):
    pass


def _validation(version_dir: Path) -> tuple[list[str], list[int]]:
    split = version_dir / "split.jsonl"
    if not split.is_file():
        return [], []
    rows = (json.loads(line) for line in split.read_text(encoding="utf-8").splitlines())
    part = [r for r in rows if r.get("part") == "validation"]
    return [r["text"] for r in part], [int(r["label"]) for r in part]


def storage_effect(version_dir: Path, unpacked: Path) -> dict[str, float | int]:
    """Max |score change| from float16 storage on the version's validation texts: the
    float32 export against the bundle widened back (``unpacked``: the form serving loads)."""
    from monitor.model import PaddlePredictor
    from monitor.settings import ScorerSettings

    texts = _validation(version_dir)[0][:STORAGE_TEXTS]
    if not texts:
        return {"texts": 0}
    manifest = Manifest.model_validate_json((version_dir / MANIFEST).read_text(encoding="utf-8"))
    settings = ScorerSettings(device="cpu", precision="fp32")
    scores = []
    for directory in (version_dir, unpacked):
        predictor = PaddlePredictor(directory, settings, manifest)
        try:
            scores.append(predictor.probabilities(texts))
        finally:
            predictor.close()
    return {"max_abs_dp": float(np.abs(scores[0] - scores[1]).max()), "texts": len(texts)}


def _gates(version_dir: Path, unpacked: Path) -> dict[str, object]:
    """The reduced precisions measured again on this CPU, on the bundle as it will serve
    (float16-stored weights widened): where the CPU has the ISA, the bundled default can
    run bf16 from the start; elsewhere they are recorded as not measured."""
    from monitor.model import precision_gates

    texts, labels = _validation(version_dir)
    manifest = Manifest.model_validate_json((unpacked / MANIFEST).read_text(encoding="utf-8"))
    gates = precision_gates(unpacked, manifest, texts, labels)
    return {name: gate.model_dump() for name, gate in gates.items()}


def bundle(version_dir: Path, out_dir: Path) -> dict[str, object]:
    """Write ``out_dir`` (replacing it) and return the bundled manifest's fields."""
    missing = [n for n in (*SERVING_FILES, MANIFEST) if not (version_dir / n).is_file()]
    if missing:
        raise BundleError(f"{version_dir} is not an exported version: missing {missing}")
    fields = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    fields["provenance"] = {**fields.get("provenance", {}), "bundled_from": fields["version"]}
    fields["version"] = BUNDLED_VERSION
    fields["files"] = {n: "" for n in SHIPPED_FILES}
    staged = out_dir.with_name(out_dir.name + ".staged")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for name in SERVING_FILES:
        if name == "inference.pdiparams":
            halve(version_dir / name, staged / (name + HALF_SUFFIX))
        else:
            shutil.copy2(version_dir / name, staged / name)
    (staged / MANIFEST).write_text(
        json.dumps(fields, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    size = sum(p.stat().st_size for p in staged.iterdir())
    if size > MAX_BUNDLE_BYTES:
        shutil.rmtree(staged, ignore_errors=True)
        raise BundleError(
            f"{version_dir} needs {size / 2**20:.1f} MB in float16; the bundle allows "
            f"{MAX_BUNDLE_BYTES / 2**20:.0f} MB (train a smaller shape or vocabulary)"
        )
    with tempfile.TemporaryDirectory() as cache:
        unpacked = unpack(staged, Path(cache))  # once: both measurements read this form
        effect = storage_effect(version_dir, unpacked)
        if effect.get("max_abs_dp", 0.0) > MAX_STORAGE_DP:
            shutil.rmtree(staged, ignore_errors=True)
            raise BundleError(
                f"float16 storage moves {version_dir.name}'s validation scores by up to "
                f"{effect['max_abs_dp']:.4f} (> {MAX_STORAGE_DP}); not bundled"
            )
        fields["provenance"]["float16_storage"] = effect
        fields["precision_gates"] = _gates(version_dir, unpacked)
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
    effect = fields["provenance"]["float16_storage"]  # type: ignore[index]
    click.echo(
        f"bundled {fields['provenance']['bundled_from']} into {out} ({size / 2**20:.1f} MB); "  # type: ignore[index]
        f"float16 storage moves validation scores by at most {effect.get('max_abs_dp', 0):.2e} "
        f"({effect['texts']} texts)"
    )


if __name__ == "__main__":
    main()
