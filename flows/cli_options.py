"""What every `winnow` command shares: option types, consoles, and turning user errors into exit code 1."""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
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
    str,
    typer.Option(
        "--out", "-o", help="Run folder (or URL) to write (as for `winnow clean`).", show_default=False
    ),
]
TextFieldOption = Annotated[str | None, typer.Option(help="Field holding the text (default: text).")]
IdFieldOption = Annotated[
    str | None, typer.Option(help="Field holding a unique id (default: 'id' when present, else FILE:LINE).")
]
OnErrorOption = Annotated[
    OnError | None,
    typer.Option(
        help="Bad records: stop with an error naming file, line and field, or quarantine them and go on "
        "(default: quarantine)."
    ),
]
InputFormatOption = Annotated[
    InputFormat | None,
    typer.Option(
        "--input-format",
        help="Input format; 'hf' loads local files through the datasets library (default: auto, from the "
        "extension).",
    ),
]
OutputFormatOption = Annotated[
    OutputFormat | None, typer.Option("--output-format", help="Format of kept/ shards (default: parquet).")
]
BatchSizeOption = Annotated[
    int | None, typer.Option(min=1, help="Documents per shard; memory stays bounded by it (default: 20000).")
]
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
PartitionsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Split each corpus-wide decision that can be split (exact, MinHash and semantic dedup) into N "
        "tasks; the result is the same for any N (default: one per 250,000 documents).",
    ),
]
PrefectOption = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--no-prefect",
        help="Run as the clean_corpus Prefect flow, with its runs, logs and artifacts in Prefect (default: "
        "when PREFECT_API_URL is configured or --workers / --dask-address is given; else in this process).",
    ),
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        help="Memory of each local Dask worker of --workers (e.g. 3GiB): Dask spills past it and restarts "
        "a worker that exceeds it (an existing cluster's workers take theirs from `dask worker "
        "--memory-limit`).",
    ),
]


@dataclass(frozen=True)
class RunArguments:
    """The options every corpus run takes (`winnow clean`, `dedup`, `quality score`, `select`), as one value:
    how to read the inputs and write kept/, and where the tasks run. None: the recipe's or the default."""

    text_field: str | None = None
    id_field: str | None = None
    on_error: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    batch_size: int | None = None
    progress: bool | None = None
    workers: int | None = None
    dask_address: str | None = None
    memory_limit: str | None = None
    partitions: int | None = None
    prefect: bool | None = None


#: each field of `RunArguments` as a command-line option, declared once
RUN_OPTIONS: dict[str, Any] = {
    "text_field": TextFieldOption,
    "id_field": IdFieldOption,
    "on_error": OnErrorOption,
    "input_format": InputFormatOption,
    "output_format": OutputFormatOption,
    "batch_size": BatchSizeOption,
    "progress": ProgressOption,
    "workers": WorkersOption,
    "dask_address": DaskAddressOption,
    "memory_limit": MemoryLimitOption,
    "partitions": PartitionsOption,
    "prefect": PrefectOption,
}


def with_run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`command` with the run options after its own parameters; it receives them as one `run: RunArguments`
    (enum choices as their values)."""
    signature = inspect.signature(command, eval_str=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "run"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in RUN_OPTIONS.items()
    ]

    @functools.wraps(command)
    def with_run(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, None) for name in RUN_OPTIONS}
        run = RunArguments(**{k: v.value if isinstance(v, StrEnum) else v for k, v in values.items()})
        return command(*args, run=run, **kwargs)

    with_run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    with_run.__annotations__ = {parameter.name: parameter.annotation for parameter in [*own, *added]}
    return with_run


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
