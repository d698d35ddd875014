"""Masked-language-model pretraining on unlabelled Weibo text (``lovelorn pretrain``): the
borrowed knowledge a from-scratch classifier lacks, learnt on this machine."""

from trainer.pretrain.corpus import Corpus, CorpusReport, build_corpus
from trainer.pretrain.loop import PretrainResult, pretrain
from trainer.pretrain.masking import MaskedBatch, Masker
from trainer.pretrain.mlm import evaluate_mlm
from trainer.pretrain.settings import PretrainSettings

__all__ = [
    "Corpus",
    "CorpusReport",
    "MaskedBatch",
    "Masker",
    "PretrainResult",
    "PretrainSettings",
    "build_corpus",
    "evaluate_mlm",
    "pretrain",
]
