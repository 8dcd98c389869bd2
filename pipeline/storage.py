"""Where files live: local paths, or fsspec URLs (`s3://`, `gs://`, ...) as `upath.UPath` objects.

`as_path` turns what a user gives into a path: a local `pathlib.Path` (a `file://` URL is one too), or a
`UPath`, the pathlib API over an fsspec file system, so the code written for `Path` works on both. What
differs on object storage lives here: a single PUT is atomic (no temporary file and rename), there is
nothing to fsync, a folder is a prefix (removing it removes every object under it), and polars reads
objects natively (range requests, only the columns a query needs).

Credentials come from where the fsspec backend looks (s3fs/botocore: `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3`, `AWS_PROFILE`, ...). A `key:secret@`
written into a URL is taken out of it: the path keeps them in its storage options (in memory, and in the
pickles that carry a task to a Dask worker), its text never does, so nothing written holds them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

import polars as pl
from pydantic import BeforeValidator
from upath import UPath

from pipeline.errors import RunFolderError, WinnowError

AnyPath = Path | UPath


class UnusableLocation(WinnowError):
    """A URL no installed fsspec file system serves."""

    def __init__(self, url: str, error: Exception) -> None:
        self.url = url
        self.reason = str(error)
        super().__init__(f"{url}: cannot use this location ({error})")


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB = re.compile(r"[*?\[]")
#: fsspec protocols polars also reads natively (through its own object store client; on S3 given the
#: credentials s3fs finds); every other one, Google Cloud Storage included (gcsfs's credentials and
#: `STORAGE_EMULATOR_HOST` are not what polars's client follows), is read through fsspec's files
_POLARS_PROTOCOLS = {"s3": "s3", "s3a": "s3", "az": "az", "abfs": "abfs"}
#: object stores whose listings are not cached: Dask workers write files another process then lists
_UNCACHED = {"s3", "s3a", "gs", "gcs"}
#: credentials given in URLs, by (protocol, bucket): the clean URL handed on (to Prefect, into files)
#: finds them here in this process
_CREDENTIALS: dict[tuple[str, str], dict[str, str]] = {}


def is_url(value: object) -> bool:
    """Whether `value` is a URL (`scheme://...`), not a local path."""
    return isinstance(value, str) and _URL.match(value) is not None


def is_remote(path: object) -> bool:
    """Whether `path` lives on an fsspec file system other than the local one."""
    return isinstance(path, UPath) and path.protocol not in ("", "file", "local")


def has_glob(value: str) -> bool:
    return _GLOB.search(value) is not None


def _bucket(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2]


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """`url` without any `user:password@`, and those as storage options of its protocol."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    user, password = unquote(user), unquote(password)
    if parts.scheme in ("s3", "s3a"):
        options = {"key": user, "secret": password}
    else:
        options = {"username": user, "password": password}
    return urlunsplit(parts._replace(netloc=host)), {k: v for k, v in options.items() if v}


def clean_url(value: str) -> str:
    """`value` without the credentials of its URL; they stay in this process for the paths made from the
    clean URL (`as_path`). A local path is returned as it is."""
    if not is_url(value):
        return value
    clean, options = split_credentials(value)
    if options:
        _CREDENTIALS[_bucket(clean)] = options
    return clean


def redact(text: str) -> str:
    """`text` with the `user:password@` of every URL in it taken out (for anything written or shown)."""
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@", r"\1", text)


def _path_or_url(value: object) -> object:
    if isinstance(value, str) and is_url(value):
        return clean_url(value) if not value.lower().startswith("file://") else as_path(value)
    return Path(value) if isinstance(value, str) else value


#: a config field naming a folder: a local `Path`, or a URL (a string, its credentials taken out)
PathOrUrl = Annotated[Path | str, BeforeValidator(_path_or_url)]


def as_path(value: str | os.PathLike[str] | UPath, **storage_options: Any) -> AnyPath:
    """A local `Path`, or a `UPath` for a URL (with the credentials of its `user:password@`, if any)."""
    if isinstance(value, UPath):
        if not is_remote(value):
            return Path(value.path)
        return value
    if isinstance(value, Path):
        return value
    text = os.fspath(value)
    if not is_url(text):
        return Path(text)
    if text.lower().startswith("file://"):
        return Path(url2pathname(urlsplit(text).path))
    clean, options = split_credentials(text)
    remembered = _CREDENTIALS.get(_bucket(clean), {})
    defaults = {"use_listings_cache": False} if _bucket(clean)[0] in _UNCACHED else {}
    try:
        return UPath(clean, **{**defaults, **remembered, **options, **storage_options})
    except (ValueError, ImportError) as error:  # a scheme fsspec does not know, or its package is missing
        raise UnusableLocation(clean, error) from error


def absolute(path: AnyPath) -> AnyPath:
    """The absolute form of `path` (a URL is absolute already)."""
    return path if is_remote(path) else Path(path).resolve()


def display(path: object) -> str:
    """How a path or URL is named in messages and files: never with credentials."""
    return redact(str(path))


def glob(base: UPath) -> list[AnyPath]:
    """The files a URL with wildcards (`s3://bucket/crawl/*.jsonl.gz`) matches, sorted."""
    matches = base.fs.glob(base.path, detail=True)  # one listing, with each match's type
    files = sorted(name for name, info in matches.items() if info.get("type") == "file")
    return [UPath(f"{base.protocol}://{name}", **dict(base.storage_options)) for name in files]


def file_version(path: UPath) -> dict[str, Any]:
    """A remote file's size and version (ETag, generation or modification time): what identifies it."""
    info = path.fs.info(path.path)
    version = next(
        (info[k] for k in ("ETag", "etag", "generation", "md5Hash", "LastModified", "mtime") if info.get(k)),
        None,
    )
    return {"size": int(info.get("size") or 0), "version": str(version) if version is not None else None}


# ---------------------------------------------------------------- writing and removing


def write_bytes(path: AnyPath, data: bytes) -> None:
    """Write `data` to `path` in one go: a single PUT on object storage (atomic: all or nothing)."""
    if not is_remote(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)


def make_dirs(path: AnyPath) -> None:
    """Create a local folder and its parents; nothing on object storage (a prefix exists with its first
    object, and creating a missing bucket is not ours to do)."""
    if not is_remote(path):
        path.mkdir(parents=True, exist_ok=True)


def write_parquet(frame: pl.DataFrame, path: AnyPath) -> None:
    """`frame.write_parquet` to a local file or an object (one upload)."""
    if not is_remote(path):
        frame.write_parquet(path)
        return
    with path.open("wb") as handle:
        frame.write_parquet(handle)


def remove_tree(path: AnyPath, *, ignore_errors: bool = True) -> None:
    """Remove a folder and everything below it (every object under the prefix on object storage)."""
    if is_remote(path):
        assert isinstance(path, UPath)
        if path.fs.exists(path.path):
            path.fs.rm(path.path, recursive=True)
        return
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)


def check_reachable(path: AnyPath) -> None:
    """RunFolderError (with the backend's reason: no credentials, no such bucket, access denied) unless
    the bucket of a remote folder can be listed."""
    if not is_remote(path):
        return
    assert isinstance(path, UPath)
    try:
        missing = bucket_missing(path)
    except Exception as error:  # the backend's own exceptions: botocore's are not OSErrors
        raise RunFolderError(f"{display(path)}: cannot use this location ({display(error)})") from error
    if missing:
        raise RunFolderError(f"{display(path)}: no such bucket '{path.path.split('/', 1)[0]}'")


def bucket_missing(path: UPath) -> bool:
    """Whether the bucket of `path` does not exist (False when not allowed to look: a policy may grant a
    prefix and not the bucket; the backend's error when it cannot tell otherwise, e.g. no credentials)."""
    try:
        path.fs.info(path.path.split("/", 1)[0])
    except FileNotFoundError:
        return True
    except PermissionError:
        return False
    return False


def create_exclusive(path: AnyPath, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists (object storage: a conditional PUT, If-None-Match);
    False when it existed."""
    try:
        with path.open("xb") as handle:
            handle.write(data)
    except FileExistsError:
        return False
    return True


# ---------------------------------------------------------------- polars


@functools.cache
def _botocore_session(profile: str | None) -> Any:
    import botocore.session

    return botocore.session.Session(profile=profile)


def _aws_credentials(given: Mapping[str, Any]) -> dict[str, str]:
    """The credentials s3fs uses, for polars: given ones, else botocore's chain (environment, profile,
    ~/.aws, instance role), which polars' own client does not read whole (profiles)."""
    if given.get("key") and given.get("secret"):
        found = {"aws_access_key_id": given["key"], "aws_secret_access_key": given["secret"]}
        return {**found, **({"aws_session_token": given["token"]} if given.get("token") else {})}
    session = _botocore_session(given.get("profile"))
    credentials = session.get_credentials()
    if credentials is None:
        return {}
    frozen = credentials.get_frozen_credentials()
    found = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key}
    region = session.get_config_variable("region")
    return {
        **found,
        **({"aws_session_token": frozen.token} if frozen.token else {}),
        **({"aws_region": region} if region else {}),
    }


def storage_options(path: UPath) -> dict[str, str] | None:
    """The options polars' own object store client gets for `path`, so that it reads as s3fs does: the
    same credentials (given in the URL, or botocore's chain) and endpoint (given, `AWS_ENDPOINT_URL_S3`
    or `AWS_ENDPOINT_URL`). In memory only: never written."""
    options: dict[str, str] = {}
    given: Mapping[str, Any] = path.storage_options
    if _POLARS_PROTOCOLS.get(path.protocol) == "s3":
        options.update(_aws_credentials(given))
        client = given.get("client_kwargs") or {}
        endpoint = (
            given.get("endpoint_url")
            or client.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        if endpoint:
            options["aws_endpoint_url"] = endpoint
            if endpoint.startswith("http://"):
                options["aws_allow_http"] = "true"
        if client.get("region_name"):
            options["aws_region"] = client["region_name"]
    return options or None


def _native(paths: Sequence[AnyPath]) -> bool:
    return all(_POLARS_PROTOCOLS.get(p.protocol) for p in paths if isinstance(p, UPath))


def _url(path: UPath) -> str:
    return f"{_POLARS_PROTOCOLS[path.protocol]}://{path.path}"


def _sources(paths: Sequence[AnyPath]) -> tuple[list[Any], dict[str, str] | None]:
    """What polars is given for `paths`: local paths as they are, URLs (with options) for object stores it
    reads itself, open files otherwise (other fsspec file systems)."""
    remote = [p for p in paths if is_remote(p)]
    if not remote:
        return list(paths), None
    if _native(remote):
        first = remote[0]
        assert isinstance(first, UPath)
        return [_url(p) if isinstance(p, UPath) else str(p) for p in paths], storage_options(first)
    return [p.open("rb") if is_remote(p) else p for p in paths], None


def scan_parquet(paths: AnyPath | Sequence[AnyPath], **kwargs: Any) -> pl.LazyFrame:
    """`pl.scan_parquet` over local or remote files."""
    many = [paths] if isinstance(paths, (Path, UPath)) else list(paths)
    sources, options = _sources(many)
    if options:
        kwargs["storage_options"] = options
    return pl.scan_parquet(sources if not isinstance(paths, (Path, UPath)) else sources[0], **kwargs)


def scan_ipc(paths: Sequence[AnyPath], **kwargs: Any) -> pl.LazyFrame:
    """`pl.scan_ipc` over local or remote Arrow IPC files (local ones memory-mapped)."""
    sources, options = _sources(list(paths))
    if options:
        kwargs["storage_options"] = options
    return pl.scan_ipc(sources, **kwargs)


def read_ipc(path: AnyPath, **kwargs: Any) -> pl.DataFrame:
    """`pl.read_ipc` of a local or remote Arrow IPC file."""
    if not is_remote(path):
        return pl.read_ipc(path, **kwargs)
    with path.open("rb") as handle:
        return pl.read_ipc(handle, **kwargs)


def scan_ndjson(path: AnyPath, **kwargs: Any) -> pl.LazyFrame:
    """`pl.scan_ndjson` of a local or remote file."""
    sources, options = _sources([path])
    if options:
        kwargs["storage_options"] = options
    return pl.scan_ndjson(sources[0], **kwargs)


def read_parquet(path: AnyPath, **kwargs: Any) -> pl.DataFrame:
    """`pl.read_parquet` of a local or remote file."""
    if not is_remote(path):
        return pl.read_parquet(path, **kwargs)
    with path.open("rb") as handle:
        return pl.read_parquet(handle, **kwargs)


def read_parquet_schema(path: AnyPath) -> dict[str, pl.DataType]:
    """The schema of a local or remote Parquet file (from its footer)."""
    if not is_remote(path):
        return pl.read_parquet_schema(path)
    return dict(scan_parquet(path).collect_schema())


def read_ndjson(path: AnyPath, **kwargs: Any) -> pl.DataFrame:
    """`pl.read_ndjson` of a local or remote file."""
    if not is_remote(path):
        return pl.read_ndjson(path, **kwargs)
    with path.open("rb") as handle:
        return pl.read_ndjson(handle, **kwargs)
