"""Sentence counting as spaCy's rule-based `sentencizer` does it, over a list of tokens.

datatrove splits English sentences with `spacy.blank("en")` + the `sentencizer` pipe. That pipe starts a new
sentence at the first token that is not punctuation after a token that is one of its `punct_chars`
("." "!" "?" and other scripts' full stops; "..." or "?!" as one token are not). Given spaCy's tokens, the
count is therefore 1 + the number of runs of punctuation tokens that hold a `punct_chars` token and are
followed by a non-punctuation token, whitespace tokens included: spaCy makes a token of every whitespace
run but a single space (`"Yes.  )"` is 2 sentences), which `words` drops, so `sentences` marks them first.

`sentences(text)` needs spaCy's tokens only where a stop is followed by something that is not
punctuation: any other text is one sentence, so most lines are never tokenized.
"""

from __future__ import annotations

import polars as pl

from filters.quality.pytext import PY_WHITESPACE_CLASS
from filters.quality.words import words

#: `spacy.pipeline.Sentencizer.default_punct_chars` (spaCy 3.8)
PUNCT_CHARS: tuple[str, ...] = tuple(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？"
    "𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
)
#: stands for a whitespace token of spaCy's (a private-use character: one token, not punctuation)
_WHITESPACE_TOKEN = " \ue000 "
#: spaCy's `is_punct`: every character is in a Unicode punctuation category (P*)
_IS_PUNCT = r"^\p{P}+$"


def sentence_count(tokens: pl.Expr) -> pl.Expr:
    """The number of sentences spaCy's sentencizer finds in `tokens` (List[String]); 0 for no tokens."""
    token = pl.element()
    stop = token.is_in(pl.lit(PUNCT_CHARS, dtype=pl.List(pl.String)).first())
    word = ~(stop | token.str.contains(_IS_PUNCT))
    stops_so_far = stop.cast(pl.UInt32).cum_sum()
    # stops seen up to the previous word: a word starts a sentence when a stop came since then
    before = pl.when(word).then(stops_so_far).shift(1).forward_fill().fill_null(0)
    starts = (word & (stops_so_far > before)).cast(pl.UInt32)
    boundaries = tokens.list.eval(starts.sum()).list.first()
    return pl.when(tokens.list.len() > 0).then(boundaries + 1).otherwise(0).cast(pl.UInt32)


def _may_split(text: pl.Expr) -> pl.Expr:
    """Whether a stop character is followed, later in `text`, by a character that is not punctuation."""
    stops = "".join(f"\\x{{{ord(c):x}}}" for c in PUNCT_CHARS)
    return text.str.contains(f"(?s)[{stops}].*?[^\\p{{P}}]")


def _mark_whitespace_tokens(text: pl.Expr) -> pl.Expr:
    """`text` with each whitespace run that spaCy makes a token (all but a single space) as a marker word."""
    return text.str.replace_all(
        f"[{PY_WHITESPACE_CLASS}]{{2,}}|[{PY_WHITESPACE_CLASS}--[ ]]", _WHITESPACE_TOKEN
    )


def sentences(text: pl.Expr) -> pl.Expr:
    """datatrove's `len(split_into_sentences(text, "en"))` (at least 1, as it counts an empty text as one)."""
    may_split = _may_split(text)
    tokens = words(_mark_whitespace_tokens(pl.when(may_split).then(text)))
    return pl.when(may_split).then(pl.max_horizontal(sentence_count(tokens), 1)).otherwise(1).cast(pl.UInt32)


def _parts(texts: pl.Series) -> pl.Series:
    """datatrove's `split_into_sentences` of each text: the spans between spaCy's sentence ends."""
    ws = PY_WHITESPACE_CLASS
    runs = (
        pl.DataFrame({"run": texts.str.extract_all(f"[{ws}]+|[^{ws}]+")})
        .with_row_index("doc")
        .explode("run")
        .drop_nulls("run")
        .with_columns(
            pl.int_range(pl.len()).over("doc").alias("at"),
            pl.col("run").str.contains(f"^[{ws}]").alias("space"),
        )
    )
    # spaCy gives the first space of a whitespace run after a word to that word; the rest is a token
    absorbed = pl.col("space") & (pl.col("at") > 0) & pl.col("run").str.starts_with(" ")
    spaces = runs.filter(pl.col("space")).with_columns(absorbed.alias("absorbed"))
    solid = runs.filter(~pl.col("space"))
    tokens = solid.select(pl.col("run").unique()).with_columns(words(pl.col("run")).alias("piece"))
    pieces = pl.concat(
        [
            spaces.filter("absorbed").select("doc", "at", pl.lit(0).alias("sub"), pl.lit(" ").alias("piece")),
            spaces.select(
                "doc",
                "at",
                pl.lit(1).alias("sub"),
                pl.when("absorbed").then(pl.col("run").str.slice(1)).otherwise("run").alias("piece"),
            ).filter(pl.col("piece") != ""),
            solid.join(tokens, on="run", how="left")
            .explode("piece")
            .select("doc", "at", pl.int_range(1, pl.len() + 1).over("doc", "at").alias("sub"), "piece"),
        ],
        how="vertical_relaxed",
    ).sort("doc", "at", "sub")
    piece = pl.col("piece")
    is_token = pl.col("sub") > 0
    stop = is_token & piece.is_in(pl.lit(PUNCT_CHARS, dtype=pl.List(pl.String)).first())
    word = is_token & ~stop & ~piece.str.contains(_IS_PUNCT)
    stops_so_far = stop.cast(pl.UInt32).cum_sum()
    before = pl.when(word).then(stops_so_far).shift(1).forward_fill().fill_null(0)
    starts = (word & (stops_so_far > before)).cast(pl.UInt32).cum_sum()
    # a space given to a word goes with the next token: sentences end at their last token's end
    sentence = pl.when(is_token).then(starts).backward_fill().forward_fill()
    parts = (
        pieces.with_columns(sentence.over("doc").alias("sentence"))
        .group_by("doc", "sentence", maintain_order=True)
        .agg(piece.str.join(""))
        .group_by("doc", maintain_order=True)
        .agg(piece)
    )
    out = (
        pl.DataFrame({"text": texts})
        .with_row_index("doc")
        .join(parts, on="doc", how="left", maintain_order="left")
        .select(pl.when(pl.col("text").is_not_null()).then(pl.col("piece").fill_null([""])))
    )
    return out.to_series().alias(texts.name)


def split_sentences(text: pl.Expr) -> pl.Expr:
    """datatrove's `split_into_sentences(text, "en")`: pieces that join back to `text`, one a sentence.

    A piece runs from the end of the previous sentence (the whitespace after it included) to the end of its
    own; the last one runs to the end of the text. An empty text is one empty piece.
    """
    return text.map_batches(_parts, return_dtype=pl.List(pl.String), is_elementwise=True)
