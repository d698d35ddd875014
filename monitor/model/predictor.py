"""Text → lovelorn probability with an exported ERNIE model on Paddle Inference.

Texts are tokenized with the tokenizer saved beside the model, truncated at the model's
``max_seq_len``, sorted by length and cut into sub-batches so each is padded only to its
own longest text (length bucketing); results come back in input order. Blank texts score
0 without reaching the model. One predictor runs one batch at a time on its own worker
thread, so the event loop keeps heartbeats and fetches going while a batch is scored.
On CPU, ``scorer.precision`` picks fp32, bf16 or int8 through ``choose_precision``: a
reduced precision runs only when the version's export gate passed and the CPU has the ISA.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import structlog

from monitor.errors import ScoringError
from monitor.model.device import choose_device
from monitor.model.encoding import blank, buckets, encode_batch, pad, scores_from_logits
from monitor.model.manifest import Manifest
from monitor.model.precision import Precision, choose_precision, cpu_support
from monitor.model.registry import ModelRegistry
from monitor.model.runtime import quiet_paddle
from monitor.settings import ScorerSettings

__all__ = ["PaddlePredictor", "Predictor"]

log = structlog.get_logger()


class Predictor(Protocol):
    """What the scorer needs from a model; tests plug in a fake."""

    version: str
    manifest: Manifest

    async def predict(self, texts: Sequence[str]) -> np.ndarray: ...

    def close(self) -> None: ...


class PaddlePredictor:
    """An exported registry version on Paddle Inference (CPU with oneDNN, or GPU)."""

    def __init__(
        self,
        model_dir: Path,
        settings: ScorerSettings,
        manifest: Manifest,
        *,
        measuring: Precision | None = None,
    ) -> None:
        """``measuring`` is for the export gate only: run that CPU precision although the
        manifest has no gate for it yet (it still must be supported by the CPU)."""
        quiet_paddle()
        import paddle
        from paddlenlp.transformers import AutoTokenizer

        self.manifest = manifest
        self.version = manifest.version
        self.max_seq_len = manifest.max_seq_len
        self._bucket_rows = min(settings.bucket_rows, settings.max_batch)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        except Exception as exc:
            raise ScoringError(f"cannot load the tokenizer of {model_dir}: {exc}") from None
        self.precision: str = "fp32"  # on GPU: see self.device.precision
        self.device = choose_device(
            settings,
            cuda_available=paddle.is_compiled_with_cuda(),
            gpu_count=paddle.device.cuda.device_count() if paddle.is_compiled_with_cuda() else 0,
        )
        model_file, params_file = model_dir / "inference.json", model_dir / "inference.pdiparams"
        if not model_file.is_file() or not params_file.is_file():
            raise ScoringError(
                f"{model_dir} holds no exported model (inference.json + inference.pdiparams)"
            )
        self._model_files = (str(model_file), str(params_file))
        if self.device.device == "cpu":
            self.precision = self._cpu_precision(settings, measuring)
        self._predictor = self._create(settings)
        if self.precision != "fp32" and measuring is None:
            self._fall_back_unless_it_runs(settings)
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"predictor-{self.version}"
        )

    def _create(self, settings: ScorerSettings):  # type: ignore[no-untyped-def]
        from paddle import inference

        config = inference.Config(*self._model_files)
        config.disable_glog_info()
        if self.device.device == "gpu":
            config.enable_use_gpu(256, settings.gpu_id)
            if self.device.tensorrt:
                precision = (
                    inference.PrecisionType.Half
                    if self.device.precision == "fp16"
                    else inference.PrecisionType.Float32
                )
                config.enable_tensorrt_engine(
                    workspace_size=1 << 30,
                    max_batch_size=settings.max_batch,
                    min_subgraph_size=3,
                    precision_mode=precision,
                    use_static=False,
                    use_calib_mode=False,
                )
            elif self.device.precision == "fp16":
                config.enable_low_precision_io(True)
        else:
            config.disable_gpu()
            config.enable_mkldnn()
            if self.precision == "bf16":
                config.enable_mkldnn_bfloat16()  # after enable_mkldnn: it adds the bf16 passes
            config.set_cpu_math_library_num_threads(settings.cpu_threads)
        try:
            predictor = inference.create_predictor(config)
        except Exception as exc:
            where = Path(self._model_files[0]).parent
            raise ScoringError(f"cannot create a predictor for {where}: {exc}") from None
        self._inputs = [predictor.get_input_handle(n) for n in predictor.get_input_names()]
        self._output = predictor.get_output_handle(predictor.get_output_names()[0])
        return predictor

    def _fall_back_unless_it_runs(self, settings: ScorerSettings) -> None:
        """A reduced precision the checks allowed can still fail inside oneDNN (an ISA cap
        or a CPU the checks misjudged): try one text, and serve fp32 if it does not run."""
        try:
            self.logits(["你好"])
        except Exception as exc:
            log.info(
                "precision",
                version=self.version,
                running="fp32",
                because=f"{self.precision} did not run on this CPU",
            )
            log.debug("precision_failed", precision=self.precision, error=str(exc)[:300])
            self.precision = "fp32"
            self._predictor = self._create(settings)

    def _cpu_precision(self, settings: ScorerSettings, measuring: Precision | None) -> Precision:
        if measuring is None:
            return choose_precision(
                settings.precision, self.manifest.precision_gates, version=self.version
            )
        why = cpu_support(measuring)
        if why is not None:
            raise ScoringError(f"cannot measure {measuring} for {self.version}: {why}")
        return measuring

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry, settings: ScorerSettings, version: str | None = None
    ) -> PaddlePredictor:
        resolved = registry.resolve(version or settings.model)
        return cls(registry.path(resolved), settings, registry.manifest(resolved))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Synchronous: tokenize, bucket by length, run, restore input order."""
        ids = encode_batch(self._tokenizer, texts, self.max_seq_len)
        out = np.empty((len(ids), 2), dtype=np.float32)
        for group in buckets([len(x) for x in ids], self._bucket_rows):
            # Widths rounded to 16: oneDNN caches kernels per input shape and grows to >1 GB
            # when every batch has a new length; padding does not change the logits.
            batch = pad([ids[i] for i in group], multiple=16)
            for handle, array in zip(self._inputs, (batch, np.zeros_like(batch)), strict=True):
                handle.reshape(list(array.shape))
                handle.copy_from_cpu(array)
            self._predictor.run()
            out[group] = self._output.copy_to_cpu()
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(texts), dtype=np.float32)
        scored = [i for i, text in enumerate(texts) if not blank(text)]
        if scored:
            logits = self.logits([texts[i] for i in scored])
            out[scored] = scores_from_logits(logits, self.manifest.calibration)
        return out

    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.probabilities, list(texts))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
