"""Every stage a recipe can name. Adding a stage is its own module plus one line here: the recipe parser and
the stage contract tests (`tests/filters/test_stage_contract.py`) read this tuple."""

from __future__ import annotations

from filters.dedup.decontaminate import Decontaminate
from filters.dedup.exact import ExactDedup
from filters.dedup.line_dedup import LineDedup
from filters.dedup.minhash import MinHashDedup
from filters.quality.c4 import C4BadWords, C4Quality
from filters.quality.classifier_stage import QualityClassifierFilter
from filters.quality.fineweb import FineWebQuality
from filters.quality.gopher_quality import GopherQuality
from filters.quality.gopher_repetition import GopherRepetition
from filters.quality.language import LanguageFilter
from filters.quality.perplexity import PerplexityFilter
from filters.quality.pii import PiiRedaction
from filters.select.selection import Selection
from filters.select.semdedup import SemanticDedup
from pipeline.stage import Stage

#: in the order recipe errors list them
STAGES: tuple[type[Stage], ...] = (
    ExactDedup,
    MinHashDedup,
    LanguageFilter,
    GopherQuality,
    GopherRepetition,
    C4Quality,
    C4BadWords,
    FineWebQuality,
    PerplexityFilter,
    QualityClassifierFilter,
    SemanticDedup,
    Selection,
    PiiRedaction,
    Decontaminate,
    LineDedup,
)
