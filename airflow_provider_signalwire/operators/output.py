"""
Where the results of a search or an export go: a walk through a listing's pages that logs its progress, the
fields kept of each item, and rows written to object storage (JSON lines, CSV or Parquet) page by page, so that
memory stays flat however many items stream through.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireInputError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_signalwire.api.paging import Listing
    from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

#: Long listings log how far they got at least this often (seconds).
PROGRESS_EVERY = 10.0
FORMATS = ("jsonl", "csv", "parquet")
LOCAL_PROTOCOLS = ("file", "local", "")

Page = list[dict[str, Any]]


def check_fields(fields: Any) -> tuple[str, ...] | None:
    """``fields`` as given (a name or a list of names of an item's fields), or ``None`` for every field."""
    if fields is None:
        return None
    names = [fields] if isinstance(fields, str) else fields
    if (
        not isinstance(names, Sequence)
        or not names
        or not all(isinstance(name, str) and name.strip() for name in names)
    ):
        raise SignalWireInputError(
            f"SignalWire: 'fields' must be a field name or a list of field names (such as ['sid', 'status']); "
            f"got {fields!r}."
        )
    return tuple(name.strip() for name in names)


def keep_fields(item: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return item if fields is None else {name: item.get(name) for name in fields}


def check_format(name: str, value: Any) -> str:
    """A known output format; ``parquet`` only where pyarrow is installed."""
    if value not in FORMATS:
        raise SignalWireInputError(f"SignalWire: {name!r} must be one of {', '.join(FORMATS)}; got {value!r}.")
    if value == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise SignalWireInputError(
                f"SignalWire: {name}='parquet' needs pyarrow: pip install 'airflow-provider-signalwire[parquet]'."
            )
    return value


def storage_path(name: str, value: Any) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` from one or from a URL such as ``file:///data/x.jsonl`` or ``s3://bucket/x``."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        check_local_folders(name, value, str(value))
        return value
    if not isinstance(value, str) or "://" not in value or not value.split("://", 1)[1].strip("/"):
        raise SignalWireInputError(
            f"SignalWire: {name!r} must be an ObjectStoragePath or a URL with a scheme and a path, such as "
            f"'file:///data/messages.jsonl' or 's3://bucket/messages.jsonl'; got {value!r}."
        )
    path = ObjectStoragePath(value)
    check_local_folders(name, path, value)
    return path


def check_local_folders(name: str, path: ObjectStoragePath, given: Any) -> None:
    """A local path must name a file whose folders exist or can be made: said before any request, not after."""
    if getattr(path, "protocol", "file") not in LOCAL_PROTOCOLS:
        return
    if path.is_dir():
        raise SignalWireInputError(f"SignalWire: {name!r} is a folder; give the path of a file in it; got {given!r}.")
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        raise SignalWireInputError(
            f"SignalWire: {name!r} cannot be written: {folder.path} is a file, not a folder; got {given!r}."
        )


def counts(listing: Listing, what: str) -> tuple[str, int, int]:
    return what, listing.pages, listing.count


def ahead(pages: Iterator[Page]) -> Iterator[Page]:
    """
    The pages of ``pages``, each next one fetched (in a thread) while the caller works on the current one: a
    writer then costs little more than the listing. At most two pages are in memory.
    """
    import queue
    import threading

    handoff: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(page: Page | None, error: BaseException | None = None) -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                handoff.put((page, error), timeout=0.1)
                return

    def fetch() -> None:
        try:
            for page in pages:
                hand(page)
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the caller, who raises it
            hand(None, error)
        else:
            hand(None)

    thread = threading.Thread(target=fetch, name="signalwire-pages", daemon=True)
    thread.start()
    try:
        while True:
            page, error = handoff.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        thread.join()


def walk(hook: SignalWireHook, listing: Listing, log: Any, what: str, *, prefetch: bool = True) -> Iterator[Page]:
    """
    The pages of ``listing``, logging pages, items and time taken at least every :data:`PROGRESS_EVERY` seconds
    and once at the end; a warning when the listing's limit cut it while more items matched. With ``prefetch``,
    the next page is fetched while the caller works on the current one.
    """
    started = last = time.monotonic()
    pages = hook.pages(listing)
    # Counted here, not from the listing: with prefetch the listing is already a page ahead of the caller.
    items_done = 0
    for pages_done, page in enumerate(ahead(pages) if prefetch else pages, start=1):
        yield page
        items_done += len(page)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            log.info(
                "Listing SignalWire %s: %d pages, %d items so far, %.0f s",
                what,
                pages_done,
                items_done,
                now - started,
            )
    log.info(
        "Listed SignalWire %s: %d pages, %d items, %.1f s",
        what,
        listing.pages,
        listing.count,
        time.monotonic() - started,
    )
    if listing.truncated:
        log.warning(
            "SignalWire %s: stopped at limit=%d, and more %s match the filters. Give a higher 'limit', or "
            "limit=None with 'output_path' to write them all to object storage.",
            what,
            listing.plan.limit,
            what,
        )


def _cell(value: Any) -> Any:
    """A value as one CSV or Parquet cell: text, with lists and objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


class SecretsOut:
    """
    Keeps the connection's secrets out of written items, as out of XCom: a page whose written text holds a
    secret (as such, or as JSON or CSV would escape it) is written again with every secret as ``***``. Looking in
    the text a page is written as costs next to nothing; scrubbing every item would cost more than encoding it.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        from airflow_provider_signalwire.api.secrets import MIN_SECRET_LENGTH

        self.secrets = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH]
        forms: set[str] = set()
        for secret in self.secrets:
            for text in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
                forms.update((text, text.replace('"', '""')))
        self.forms = sorted(forms)

    def found_in(self, text: str) -> bool:
        return any(form in text for form in self.forms)

    def page(self, page: Page) -> Page:
        from airflow_provider_signalwire.api.secrets import scrub

        return scrub(page, self.secrets) if self.secrets else page


# Each page is written in one piece: a write through an ObjectStoragePath costs far more than encoding a line.


def _jsonl(binary: Any, pages: Iterable[Page], columns: tuple[str, ...] | None, secrets: SecretsOut) -> int:
    count = 0
    encode = json.JSONEncoder(separators=(",", ":"), default=str).encode

    def text_of(page: Page) -> str:
        return "".join([encode(keep_fields(item, columns)) + "\n" for item in page])

    for page in pages:
        text = text_of(page)
        if secrets.found_in(text):
            text = text_of(secrets.page(page))
        binary.write(text.encode())
        count += len(page)
    return count


def _csv(binary: Any, pages: Iterable[Page], columns: tuple[str, ...] | None, secrets: SecretsOut) -> int:
    import csv

    count = 0
    text = io.StringIO(newline="")
    writer = None
    if columns is not None:
        writer = csv.DictWriter(text, secrets.page([dict.fromkeys(columns)])[0], extrasaction="ignore")
        writer.writeheader()
    for page in pages:
        if columns is not None:
            page = [keep_fields(item, columns) for item in page]
        if writer is None and page:
            # Without 'fields', the columns are the first item's: every item of a resource has the same.
            writer = csv.DictWriter(text, list(secrets.page([page[0]])[0]), extrasaction="ignore")
            writer.writeheader()
        written = text.tell()
        for item in page:
            writer.writerow({key: _cell(value) for key, value in item.items()})  # type: ignore[union-attr]
        if secrets.found_in(text.getvalue()[written:]):
            text.seek(written)
            text.truncate()
            for item in secrets.page(page):
                writer.writerow({key: _cell(value) for key, value in item.items()})  # type: ignore[union-attr]
        binary.write(text.getvalue().encode())
        text.seek(0)
        text.truncate()
        count += len(page)
    binary.write(text.getvalue().encode())  # the header of an empty result
    return count


def _parquet(binary: Any, pages: Iterable[Page], columns: tuple[str, ...] | None, secrets: SecretsOut) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    writer = None
    names = None if columns is None else list(secrets.page([dict.fromkeys(columns)])[0])
    schema = None if names is None else pa.schema([(name, pa.string()) for name in names])
    try:
        for page in pages:
            if not page:
                continue
            # Parquet is compressed: the items themselves are scrubbed.
            page = secrets.page(page if columns is None else [keep_fields(item, columns) for item in page])
            if schema is None:
                schema = pa.schema([(name, pa.string()) for name in page[0]])
            # Every column is text (objects as JSON), so that the schema holds whatever SignalWire sends later.
            table = pa.table({name: [_cell(_text(item.get(name))) for item in page] for name in schema.names}, schema)
            if writer is None:
                writer = pq.ParquetWriter(binary, schema)
            writer.write_table(table)
            count += len(page)
        if writer is None:
            pq.write_table(pa.table({name: [] for name in (schema or pa.schema([])).names}, schema), binary)
    finally:
        if writer is not None:
            writer.close()
    return count


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, list, dict)) else str(value)


WRITERS: dict[str, Callable[[Any, Iterable[Page], tuple[str, ...] | None, SecretsOut], int]] = {
    "jsonl": _jsonl,
    "csv": _csv,
    "parquet": _parquet,
}


def partial_path(path: ObjectStoragePath) -> ObjectStoragePath:
    """Where an object is written until it is complete: a hidden name next to it, that no ``*.jsonl`` matches."""
    import secrets

    return path.parent / f".{path.name}.{secrets.token_hex(6)}.partial"


def write_rows(
    path: ObjectStoragePath,
    output_format: str,
    pages: Iterable[Page],
    fields: tuple[str, ...] | None,
    *,
    secrets: Iterable[str | None] = (),
) -> int:
    """
    Write the items of ``pages`` to ``path`` as they come, without ``secrets`` (written as ``***``); returns how
    many. The object is written under a temporary name next to ``path`` and moved into place (replacing what was
    there) only when every page is written; on failure the temporary object is removed and ``path`` is left as it
    was. A local path's folders are made as needed.
    """
    if getattr(path, "protocol", "file") in LOCAL_PROTOCOLS:
        with contextlib.suppress(FileExistsError):
            path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with partial.open("wb") as binary:
            count = WRITERS[output_format](binary, pages, fields, SecretsOut(secrets))
        partial.move(path)
    except BaseException:
        with contextlib.suppress(Exception):
            partial.unlink(missing_ok=True)
        raise
    return count
