"""What the proxy compresses and how: the server's defaults, and a request's own override of them.

`CompressionSettings` is one request's job: the budget (`rate` or `target_tokens`), which chat roles are
compressed, the shortest message worth compressing (`min_tokens`), where the question comes from, and
`skip`. The server holds defaults (`winnow serve --rate ...`); a request overrides them in its body
(`"winnow": {"rate": 0.3}`) or headers (`x-winnow-rate: 0.3`), checked by `override`, which names the
wrong field (`winnow.rate`) in a `RequestError`. `ServeConfig` is the server: the upstream, the defaults,
and the limits (body size, queue, micro-batches, timeouts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from numbers import Integral, Real
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from prompts.request import check_budget
from prompts.result import RequestError

#: where the question comes from: the last user message, or nowhere (an explicit `question` always wins)
QuestionFrom = Literal["last-user", "none"]
#: the keys of a request's `winnow` object, and the headers (`x-winnow-KEY`, dashes for underscores)
OVERRIDES = ("rate", "target_tokens", "roles", "min_tokens", "question", "question_from", "skip")
HEADER_PREFIX = "x-winnow-"


@dataclass(frozen=True)
class CompressionSettings:
    """How one request is compressed; checked when made (`RequestError` naming the field).

    `rate` (share of the conversation's tokens kept, in (0, 1]) or `target_tokens` (a budget for the
    messages' contents); `roles`: the roles whose messages may be compressed; `min_tokens`: messages
    shorter than this are kept whole; `question_from`: "last-user" ranks the context for the last user
    message (its last paragraph when that message is itself long), "none" compresses without a question;
    `question`: an explicit question (wins over `question_from`); `skip`: forward as is.
    """

    _: KW_ONLY
    rate: float | None = 0.5
    target_tokens: int | None = None
    roles: tuple[str, ...] = ("user", "tool")
    min_tokens: int = 500
    question: str | None = None
    question_from: QuestionFrom = "last-user"
    skip: bool = False

    def __post_init__(self) -> None:
        rate, target_tokens = check_budget(self.rate, self.target_tokens)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "target_tokens", target_tokens)
        roles = (self.roles,) if isinstance(self.roles, str) else self.roles
        if not isinstance(roles, list | tuple) or not all(isinstance(r, str) and r.strip() for r in roles):
            raise RequestError("roles", f"must be a list of role names, got {self.roles!r}")
        object.__setattr__(self, "roles", tuple(role.strip() for role in roles))
        if (
            isinstance(self.min_tokens, bool)
            or not isinstance(self.min_tokens, Integral)
            or self.min_tokens < 0
        ):
            raise RequestError(
                "min_tokens", f"must be a whole number of tokens >= 0, got {self.min_tokens!r}"
            )
        if self.question is not None and not isinstance(self.question, str):
            raise RequestError("question", f"must be a string, got {self.question!r}")
        if self.question is not None and not self.question.strip():
            object.__setattr__(self, "question", None)
        if self.question_from not in get_args(QuestionFrom):
            raise RequestError("question_from", f"must be last-user or none, got {self.question_from!r}")
        if not isinstance(self.skip, bool):
            raise RequestError("skip", f"must be true or false, got {self.skip!r}")

    def override(self, values: Mapping[str, Any], *, where: str = "winnow") -> CompressionSettings:
        """These settings with `values` (a request's `winnow` object) in place; giving `rate` drops the
        default `target_tokens` and the other way round. Errors name the field as `WHERE.KEY`, or the header
        (`x-winnow-KEY`) when `where` is "header"."""
        if not isinstance(values, Mapping):
            raise RequestError(where, f"must be an object, got {type(values).__name__}")
        unknown = sorted(set(values) - set(OVERRIDES))
        if unknown:
            raise RequestError(
                f"{where}.{unknown[0]}",
                f"unknown setting (known: {', '.join(OVERRIDES)})",
                template="{name}: {problem}",
            )
        changes = dict(values)
        if "rate" in changes and "target_tokens" not in changes:
            changes["target_tokens"] = None
        if "target_tokens" in changes and "rate" not in changes:
            changes["rate"] = None
        try:
            return replace(self, **changes)
        except RequestError as error:
            name = header_name(error.field) if where == "header" else f"{where}.{error.field}"
            raise RequestError(name, error.problem, template="{name} {problem}") from None


def header_name(key: str) -> str:
    """The header that carries setting `key` (`x-winnow-target-tokens` for `target_tokens`)."""
    return HEADER_PREFIX + key.replace("_", "-")


def header_overrides(headers: Mapping[str, str]) -> dict[str, Any]:
    """The settings a request gives in `x-winnow-*` headers, as typed values (a value that does not parse
    is a `RequestError` naming the header)."""
    values: dict[str, Any] = {}
    for key in OVERRIDES:
        name = header_name(key)
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            values[key] = _parse_header(key, raw.strip())
        except ValueError:
            raise RequestError(name, f"cannot read {raw!r}", template="header {name}: {problem}") from None
    return values


def _parse_header(key: str, raw: str) -> Any:
    if key == "rate":
        return float(raw)
    if key in ("target_tokens", "min_tokens"):
        return int(raw)
    if key == "skip":
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(raw)
        return raw.lower() in ("true", "1", "yes")
    if key == "roles":
        return tuple(role for role in raw.split(",") if role.strip())
    return raw


@dataclass(frozen=True)
class ServeConfig:
    """The proxy: where it forwards, its default `settings`, and its limits.

    `upstream`: the inference server's base URL (its `/v1/...` routes are under it, e.g.
    `http://localhost:8080`; a trailing `/v1` is accepted); `max_body_bytes`: larger request bodies get 413;
    `queue_size`: requests waiting for compression before new ones get 503; `batch_size` and `batch_wait`
    (seconds): a micro-batch takes up to `batch_size` waiting requests, waiting at most `batch_wait` for more
    after the first; `timeout`: seconds to wait for the upstream's response; `upstream_api_key`: sent as
    `Authorization: Bearer ...` when the client sends none (never shown in `repr` or logs); `model`,
    `tokenizer`: the compressor's scorer LM and the tokenizer its budgets count in (see `Compressor`).
    """

    upstream: str
    _: KW_ONLY
    settings: CompressionSettings = field(default_factory=CompressionSettings)
    max_body_bytes: int = 16 * 1024 * 1024
    queue_size: int = 64
    batch_size: int = 8
    batch_wait: float = 0.005
    timeout: float = 600.0
    upstream_api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RequestError("upstream", f"must be an http:// or https:// URL, got {self.upstream!r}")
        base = self.upstream.rstrip("/")
        object.__setattr__(self, "upstream", base.removesuffix("/v1"))
        for name in ("max_body_bytes", "queue_size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise RequestError(name, f"must be a whole number >= 1, got {value!r}")
        for name in ("batch_wait", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                raise RequestError(name, f"must be a number of seconds >= 0, got {value!r}")
