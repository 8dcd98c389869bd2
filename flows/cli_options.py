"""What every `winnow` command shares: option types, consoles, and turning user errors into exit code 1."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console

from pipeline import models, writers
from pipeline.errors import WinnowError
from pipeline.readers import options as readers

out_console = Console()
err_console = Console(stderr=True)


def choices(name: str, literal: Any) -> type[StrEnum]:
    """A typer choice enum whose members are the values of `literal`, declared once where the option lives."""
    return StrEnum(name, [(value, value) for value in get_args(literal)])  # type: ignore[return-value]


OnError = choices("OnError", readers.OnError)
InputFormat = choices("InputFormat", readers.Format)
OutputFormat = choices("OutputFormat", writers.OutputFormat)
#: a causal LM's dtype: auto = bfloat16 where the device has native bfloat16 kernels, else float32
Precision = choices("Precision", models.Precision)


InputsArgument = Annotated[
    list[str], typer.Argument(help="Input files or folders (as for `winnow clean`).", show_default=False)
]
RunFolderOption = Annotated[
    Path,
    typer.Option("--out", "-o", help="Run folder to write (as for `winnow clean`).", show_default=False),
]
TextFieldOption = Annotated[str | None, typer.Option(help="Field holding the text (default: text).")]
IdFieldOption = Annotated[str | None, typer.Option(help="Field holding a unique id.")]
OnErrorOption = Annotated[OnError | None, typer.Option(help="Bad records: fail or quarantine.")]
InputFormatOption = Annotated[
    InputFormat | None, typer.Option("--input-format", help="Input format (default: auto).")
]
OutputFormatOption = Annotated[
    OutputFormat | None, typer.Option("--output-format", help="Format of kept/ shards (default: parquet).")
]
BatchSizeOption = Annotated[int | None, typer.Option(min=1, help="Documents per shard.")]
ProgressOption = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bars (default: when stderr is a terminal)."),
]
WorkersOption = Annotated[
    int | None, typer.Option(min=1, help="Run the shard tasks on a local Dask cluster of N processes.")
]
DaskAddressOption = Annotated[
    str | None, typer.Option(help="Run the shard tasks on an existing Dask cluster (tcp://HOST:PORT).")
]
DTypeOption = Annotated[
    Precision,
    typer.Option(
        "--dtype",
        help="Precision of the language model: auto = bfloat16 where the CPU/GPU has native bfloat16 "
        "kernels, else float32 (faster on CPUs without them).",
    ),
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a WinnowError into a one-line message and exit code 1 (no traceback)."""
    try:
        yield
    except WinnowError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None


def show_progress(flag: bool | None) -> bool:
    """Progress bars when asked, else when stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag
