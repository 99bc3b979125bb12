"""Many images: files to network inputs, in parallel worker processes, and folder listing.

:func:`load_input` is one image's whole way in -- :func:`digitnet.decode.read_picture`
(the grey image and a small copy of its colour), then
:func:`digitnet.normalise.normalise` (or ``raw_input`` for ``--raw``, from
:func:`digitnet.decode.read_image`). For many
files, :func:`load_inputs` spreads that per-file work over worker processes and hands the
results back in order, each worker (and a single process) through :func:`iter_many`,
which normalises a run of small pictures together; :func:`list_image_files` says which
files of a folder are images.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import decode
from .errors import ImageError
from .normalise import FIELD, SMALL_SIDE, WORK_SIDE, normalise, normalise_many, raw_input

__all__ = ["load_input", "iter_many", "load_many", "load_inputs", "list_image_files",
           "IMAGE_EXTENSIONS", "PARALLEL_MIN_FILES", "PARALLEL_MIN_BYTES"]


#: What an image that ran this process out of memory is told (the batch goes on).
OUT_OF_MEMORY = "out of memory processing this image"


def load_input(source, raw: bool = False, steps: dict | None = None) -> np.ndarray:
    """One image (path, bytes, PIL image or numpy array) -> the network's (784,) float32 inputs.

    ``raw=False``: full MNIST-style normalisation (:func:`~digitnet.normalise.normalise`).
    ``raw=True``: the image must already be a 28x28 MNIST-style image (light ink on dark),
    used as it is. Raises :class:`ImageError` on any bad input -- running out of memory
    on one huge image included, so that a batch goes on with the others. ``steps``: a
    dict that :func:`~digitnet.normalise.normalise` fills with its intermediate results.

    The error raised holds no trace of the work that failed (see :func:`_detached`): a
    caller may keep it, as a script listing the files it could not read does.
    """
    try:
        if raw:
            return raw_input(decode.read_image(source, require_size=(FIELD, FIELD)))
        picture = decode.read_picture(source, max_side=WORK_SIDE)
        return normalise(picture.gray, steps=steps, chroma=lambda: picture.chroma)
    except MemoryError:
        error = ImageError(OUT_OF_MEMORY)
    except ImageError as exc:
        error = _detached(exc)
    picture = None  # the picture too: the traceback starts in this frame
    raise error


def iter_many(sources, raw: bool = False):
    """:func:`load_input` for many sources: yields per source, in order, its (784,)
    inputs or the :class:`ImageError` that ``load_input`` would raise for it.

    Small pictures (MNIST digits, icons: see :data:`~digitnet.normalise.SMALL_SIDE`) are
    decoded and kept, up to CHUNK_FILES of them (with the errors between them), then
    normalised all at once by
    :func:`~digitnet.normalise.normalise_many`, which costs a fraction of normalising
    them one by one. A larger picture is normalised as soon as it is decoded, and its
    result goes out at once, after those of the small ones before it: a photo's result
    never waits for the next ones, and no more than one large picture is held. An
    exception other than ImageError (a source of the wrong type, a bug) is raised
    after the results of the sources before it.
    """
    waiting: list = []  # in order: a result, or a small picture's (H, W) gray to normalise

    def flush():
        fields = iter(_normalised([w for w in waiting if isinstance(w, np.ndarray)]))
        out = [next(fields) if isinstance(w, np.ndarray) else w for w in waiting]
        waiting.clear()
        return out

    for source in sources:
        try:
            if raw:
                result = load_input(source, raw=True)
            else:
                picture = decode.read_picture(source, max_side=WORK_SIDE)
                if max(picture.gray.shape) < SMALL_SIDE:
                    waiting.append(picture.gray)  # no colour: only large pictures use it
                    if len(waiting) >= CHUNK_FILES:
                        yield from flush()
                    continue
                result = normalise(picture.gray, chroma=lambda: picture.chroma)
                picture = None  # not held while the result waits at a yield below
        except MemoryError:
            result = ImageError(OUT_OF_MEMORY)
        except ImageError as exc:
            result = _detached(exc)
        except BaseException:
            yield from flush()
            raise
        if isinstance(result, ImageError) and len(waiting) < CHUNK_FILES - 1:
            waiting.append(result)        # no hurry: it waits for the small ones before it
        else:
            yield from flush()
            yield result
    yield from flush()


def _normalised(grays):
    """normalise_many of small pictures, each ImageError detached (see _detached)."""
    if not grays:
        return []
    try:
        results = normalise_many(grays)
    except MemoryError:
        return [ImageError(OUT_OF_MEMORY) for _ in grays]
    return [_detached(r) if isinstance(r, ImageError) else r for r in results]


def _detached(exc: ImageError) -> ImageError:
    """``exc`` without its traceback and chained exceptions: kept in a list of results
    (or by a caller of :func:`load_input`), they would keep alive the frames of the work
    that failed, with every array of a large picture (26 MB at 1280 px, 33 MB for a
    blank 1400 x 1390 page) until the list goes."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return exc


def load_many(sources, raw: bool = False) -> list:
    """:func:`iter_many` as a list."""
    return list(iter_many(sources, raw))


#: A worker's view of the pool's shared results (see _results_ring) and of the flag its
#: parent raises to stop all work (a shared byte), set by _worker_init.
_ring = _stop = None


def _results_ring(slots: int):
    """Shared memory for the inputs workers make: ``slots`` tasks' worth, a float32
    array (slots, TASK_FILES, 784).

    An anonymous shared mapping, made before the pool forks its workers, is the same
    memory in them: a worker writes its task's arrays into the task's slot and sends
    back only a few bytes (which rows are there, the errors' messages), where pickled
    arrays (3.2 KB a file) would cost more to pickle, send and unpickle than to copy --
    and would not fit the pipe (see TASK_FILES).
    """
    import mmap

    memory = mmap.mmap(-1, slots * TASK_FILES * FIELD * FIELD * 4)   # MAP_SHARED
    return np.frombuffer(memory, np.float32).reshape(slots, TASK_FILES, FIELD * FIELD)


def _load_chunk(sources, raw, slot):
    """``iter_many`` for a worker process: each array goes into its row of the shared
    ``slot``. Returns (the seconds it took, per source None -- its row is there -- or
    its error's message); once the parent has stopped the work, no more sources than
    the one at hand (the results are no longer read)."""
    start, rows, out = time.monotonic(), _ring[slot], []
    for k, result in enumerate(iter_many(sources, raw) if not _stop.value else ()):
        if isinstance(result, ImageError):
            out.append(str(result))
        else:
            rows[k] = result
            out.append(None)
        if _stop.value:
            break
    return time.monotonic() - start, out


def _worker_init(parent, big_decode_lock, ring, stop):
    """Set up a decoding worker: it dies with its parent, silently, whatever kills the parent.

    Ctrl-C is left to the parent (which stops the pool). On Linux the kernel sends the
    worker SIGKILL the moment its parent dies (``PR_SET_PDEATHSIG``), so neither a
    SIGTERM nor a SIGKILL of the parent leaves orphans decoding on, or tracebacks from
    workers whose pipe went away. Big decodes take turns through ``big_decode_lock``;
    results go into ``ring`` (see :func:`_results_ring`); ``stop`` (a shared byte) is
    raised when the parent stops the work.
    """
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if _STOP_SIGNALS:   # forked while the parent held them back (_signals_held)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):   # not Linux: workers still stop when the pool does
        pass
    if os.getppid() != parent:          # the parent died before the line above ran
        os._exit(0)
    decode.big_decode_lock = big_decode_lock
    global _ring, _stop
    _ring, _stop = ring, stop


# Below this many files a process pool costs more (start-up, shipping results) than it
# saves -- unless they are this many bytes: a phone photo (1-3 MB) takes 60 ms or more,
# and two of them already go faster in two workers (12 MP JPEGs, in-process on 2 cores:
# 2 in 76 against 122 ms, 4 in 138 against 234 ms; one alone 74 against 63 ms).
PARALLEL_MIN_FILES = 200
PARALLEL_MIN_BYTES = 3_000_000


def load_inputs(sources, raw=False, jobs=1):
    """``load_input`` for many sources; yields, in order, an array (784,) or an ImageError.

    Decoding and normalising are pure per-file work, so with ``jobs > 1`` and at least
    ``PARALLEL_MIN_FILES`` sources, or two or more of ``PARALLEL_MIN_BYTES`` in all
    (photos), they are spread over ``jobs`` worker processes, in
    tasks of up to TASK_FILES files, whose (784,) float32 arrays come back through shared
    memory (see :func:`_results_ring`); results still come back in the order of
    ``sources``, a task at a time, as the tasks are done. ``sources`` is a list of paths/bytes.
    Memory: decodes needing more than ``decode.BIG_DECODE_BYTES`` run one at a time
    across all workers, so ``-j N`` multiplies only the cost of ordinary images. A worker
    that dies costs only the image that killed it (see :func:`_in_workers`).
    """
    sizes = []   # the sources' sizes, if asked for here (then not again by the workers' planner)
    if jobs > 1 and 2 <= len(sources) < PARALLEL_MIN_FILES:
        sizes = [_size_of(s) for s in sources]
    if jobs <= 1 or len(sources) < 2 or (sizes and sum(sizes) < PARALLEL_MIN_BYTES):
        yield from iter_many(sources, raw)
        return
    yield from _in_workers(sources, raw, jobs, sizes)


#: Small pictures normalised together (see :func:`iter_many`).
CHUNK_FILES = 64
#: Most files per task sent to a worker: enough to keep the round trips cheap and to
#: fill a stack of small pictures (CHUNK_FILES). A task's arrays go through shared
#: memory; what goes through the pipe is a few hundred bytes (a few KB if every file
#: fails), which a pipe buffer always has room for: a worker killed while its results
#: were half through the pipe would leave the pool's reader waiting for the rest, and
#: the others for the pipe, for ever (CPython 3.11's concurrent.futures).
TASK_FILES = CHUNK_FILES
#: ... and about how long a task should take: as many files as that, by the pace of the
#: last task, per file and per byte (64 photos would take 10 s or more, 64 small files
#: take 20 ms), so that photos' results flow at once. The first tasks, of files whose
#: cost is not known yet, have FIRST_TASK_FILES; so has a file more than NEW_KIND_BYTES
#: times the largest of the last task (see :func:`_task_files`).
TASK_SECONDS = 0.25
FIRST_TASK_FILES = 1
NEW_KIND_BYTES = 8


def _size_of(source) -> int:
    """A source's size in bytes, as cheaply as it is known (0 if it is not: a missing
    file is reported by its worker)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    try:
        return os.stat(source).st_size
    except (OSError, TypeError, ValueError):
        return 0


def _task_files(sizes, pace) -> int:
    """How many of the next files (``sizes``, their bytes, at most TASK_FILES of them)
    the next task takes: as many as the last task's ``pace`` says fit in TASK_SECONDS,
    at least one.

    ``pace`` is (seconds a file, seconds a byte, the largest file's bytes) of the last
    task, or None before the first: then FIRST_TASK_FILES. A file is reckoned to cost
    the larger of the two paces, and a file more than NEW_KIND_BYTES times the largest
    of the last task is of a kind whose cost is not known yet: it goes alone, so that a
    change of kind is caught before a task is sent. After 300-byte PNGs, 3000x3000 PNGs
    of 13 KB each (43 times the bytes, 0.35 s a file against 2 ms) went 21 to a task
    when paced by bytes alone (4 s), photos 64 to a task when paced by files (10 s and
    more). After photos, the first small files go a few at a time, and the next task is
    paced by them.
    """
    if pace is None:
        return max(1, min(FIRST_TASK_FILES, len(sizes)))
    per_file, per_byte, largest = pace
    total = 0.0
    for n, size in enumerate(sizes):
        total += max(per_file, per_byte * size)
        if total > TASK_SECONDS or size > NEW_KIND_BYTES * largest:
            return max(1, n)
    return max(1, len(sizes))


def _stop_signals() -> set:
    import signal
    if not hasattr(signal, "pthread_sigmask"):
        return set()
    return {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
            if hasattr(signal, name)}


#: The signals that stop a command (Ctrl-C, SIGTERM, SIGHUP), where they can be held back.
_STOP_SIGNALS = _stop_signals()


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C, SIGTERM and SIGHUP held back (pending, not lost) while a task is handed to
    the pool. The pool starts its workers and then its manager thread as a task is
    submitted; an interrupt between the two left workers no thread would ever stop, and
    the exiting interpreter waited for them for ever (3 of 800 runs with SIGINT sent to
    the process alone 0.1 s after it began on three photos). Held back, the signal lands
    once the pool is whole, and stops it as any later one does."""
    if not _STOP_SIGNALS:
        yield
        return
    import signal
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


#: What a source whose worker died is told (the kernel's OOM killer, a crash in a decoder).
WORKER_DIED = "the process decoding this image died (out of memory, or a crash in a decoder)"


def _in_workers(sources, raw, jobs, sizes=()):
    """:func:`load_inputs` over worker processes, in order, surviving workers that die.

    Chunks of sources go to a pool of ``jobs`` processes, at most ``4 * jobs`` at a time,
    each of as many files as take about TASK_SECONDS by the last chunk's pace, per file
    and per byte (see :func:`_task_files`; at most TASK_FILES). A task is (its files,
    how many times they were lost with a dead worker, their sizes). If a worker dies,
    every chunk then in flight is lost with it; those sources are retried file by file
    in a new pool, and a file lost a second time is retried alone, so that the one that kills a worker is reported as failed
    (:data:`WORKER_DIED`) and every other is still decoded. ``sizes``: those of the first
    sources, if they were already asked for (a stat on a slow network drive is not free).
    """
    import collections
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork: the workers start instantly with digitnet and Pillow already imported. Output
    # still buffered here would be inherited, and written again by every worker.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    ctx = multiprocessing.get_context("fork")
    pace = None                     # see _task_files
    sent = 0                        # sources[sent:] were never sent
    known = list(sizes)             # the sizes of sources[:len(known)] (each asked once)
    retries = collections.deque()   # tasks lost with a dead worker
    while retries or sent < len(sources):
        # A new ring for every pool: a worker of a broken pool may still be writing to
        # the old one while it is being killed.
        ring, stop = _results_ring(4 * jobs), ctx.RawValue("b", 0)
        free = list(range(4 * jobs))   # the ring's slots no task in flight writes to
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(), ctx.Lock(), ring, stop))
        finished = broken = False
        try:
            in_flight = collections.deque()   # (task, its future, its slot), in order
            while retries or sent < len(sources) or in_flight:
                try:
                    while len(in_flight) < 4 * jobs and (retries or sent < len(sources)):
                        # A task lost twice goes alone, so that a third death points at it.
                        if retries and retries[0][1] >= 2 and in_flight:
                            break
                        if retries:
                            task = retries[0]
                        else:
                            # Each file's size is asked for once (a stat on a slow
                            # network drive is not free), as it comes into view.
                            ahead = sources[len(known):sent + TASK_FILES]
                            known.extend(_size_of(s) for s in ahead)
                            sizes = known[sent:sent + TASK_FILES]
                            sizes = sizes[:_task_files(sizes, pace)]
                            task = (sources[sent:sent + len(sizes)], 0, sizes)
                        with _signals_held():
                            future = pool.submit(_load_chunk, task[0], raw, free[-1])  # may raise
                        in_flight.append((task, future, free.pop()))
                        if retries:
                            retries.popleft()
                        else:
                            sent += len(task[0])
                        if task[1] >= 2:
                            break
                    seconds, results = in_flight[0][1].result()
                except BrokenProcessPool:
                    broken = True
                    lost = [task for task, _, _ in in_flight]
                    if len(lost) == 1 and lost[0][1] >= 2:
                        yield ImageError(WORKER_DIED)     # it ran alone: it is the one
                        lost = []
                    # Lost work is retried file by file, the others still in parallel.
                    retries.extendleft(reversed([([f], k + 1, [n]) for files, k, sizes in lost
                                                 for f, n in zip(files, sizes)]))
                    break
                (files, _, sizes), _, slot = in_flight.popleft()
                rows = ring[slot, :len(results)].copy()
                free.append(slot)                 # the slot is free again
                if len(results) == len(files):    # (not a task cut short by a stop)
                    pace = (seconds / len(files), seconds / max(1, sum(sizes)), max(sizes))
                if not retries and sent == len(sources) and not in_flight:
                    # All work done: the idle workers are stopped and joined before the
                    # last results go out (a caller need not ask past them). Left to wind
                    # down, the pool's manager thread closes its wakeup pipe while the
                    # exiting interpreter writes to it (CPython 3.11's concurrent.futures):
                    # "OSError: Bad file descriptor" after a finished run, now and then.
                    # (Not after a worker's death: waiting for a broken pool can hang.)
                    finished = True
                    pool.shutdown(wait=True)
                for row, result in zip(rows, results):
                    yield row if result is None else ImageError(result)
        finally:
            if not finished:
                # Never wait for work nobody will read (Ctrl-C, a closed pipe, a dead
                # worker): the workers drop their tasks after the file at hand. Their
                # pool is then waited for, as after a finished run (above): left to wind
                # down, its manager thread and the exiting interpreter race over its
                # wakeup pipe, and a Ctrl-C or SIGHUP printed "OSError: Bad file
                # descriptor" after "interrupted" (2-3 runs in 40). A broken pool is not
                # waited for.
                stop.value = 1
                pool.shutdown(wait=not broken, cancel_futures=True)


# --- folders --------------------------------------------------------------------------------

# Pillow formats whose files it can name but not decode (MPEG: identify only), or that
# digitnet refuses to decode.
_UNREADABLE_FORMATS = {"MPEG"} | set(decode.REFUSED_FORMATS)


def _image_extensions() -> frozenset[str]:
    from PIL import ImageFile

    registered = Image.registered_extensions()  # imports every plugin: do this first
    readable = set(Image.OPEN) | {"MPO"}  # MPO (multi-picture JPEG) opens via the JPEG plugin
    exts = set()
    for ext, fmt in registered.items():
        if fmt not in readable or fmt in _UNREADABLE_FORMATS:
            continue  # save-only formats such as PDF and PALM
        factory = Image.OPEN.get(fmt, (None,))[0]
        if isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile):
            continue  # stubs (HDF5, GRIB, BUFR, WMF) need handlers nobody installs
        exts.add(ext.lower())
    return frozenset(exts)


_extensions_cache: frozenset[str] | None = None


def __getattr__(name: str):
    # IMAGE_EXTENSIONS needs every Pillow plugin imported (slow), so it is computed on
    # first use rather than at import time: classifying one file should not pay for it.
    global _extensions_cache
    if name == "IMAGE_EXTENSIONS":
        if _extensions_cache is None:
            _extensions_cache = _image_extensions()
        return _extensions_cache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Extensions every Pillow build reads; checked before IMAGE_EXTENSIONS, so that listing a
# folder of PNGs or JPEGs never has to import all of Pillow's plugins.
_COMMON_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


def list_image_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``directory``, sorted by name.

    An image file is a regular file (or a link to one) whose extension Pillow registers
    as readable (:data:`IMAGE_EXTENSIONS`, compared case-insensitively: ``.PNG`` counts).
    Hidden files (name starting with '.') and subdirectories are skipped; the search is
    not recursive. May return an empty list -- the caller decides whether that is an error.
    Raises :class:`ImageError` if the directory cannot be listed.
    """
    folder = Path(directory)
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise decode.os_error(exc, "directory", "cannot list directory") from None
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        ext = os.path.splitext(entry.name)[1].lower()
        # The common extensions first: the full list costs importing every Pillow plugin.
        if ext not in _COMMON_EXTENSIONS and ext not in __getattr__("IMAGE_EXTENSIONS"):
            continue
        try:
            if not entry.is_file():  # follows symlinks; a dangling link is not a file
                continue
        except OSError:
            continue
        found.append(folder / entry.name)
    found.sort(key=lambda p: p.name)
    return found
