"""Batch stylisation: one style over a folder (or a list) of images, on in-process workers
(`engine="local"`, no Ray needed) or on Ray actors (`engine="ray"`, one machine or a cluster),
through the same code path: a worker holds a warm model (weights and style loaded once) and
stylises one image at a time; the driver hands images to free workers.

- Each result is written under a temporary name and renamed: a crash leaves no half file.
- Outputs that exist already are skipped, so running the same command again resumes.
- An input that cannot be read or that the library refuses is recorded with its error and not
  retried; a worker (or node) that dies is restarted by Ray and its image retried
  (`max_restarts`, `max_task_retries`).
- At the end: done / skipped / failed, the failures (with reasons) in OUTPUT/failures.jsonl.

    from nstyle.batch import BatchConfig, plan_jobs, run_batch
    config = BatchConfig(styles=[("style.jpg", 1.0)], options={"size": 512})
    jobs, skipped = plan_jobs(["photos/"], "out/")
    summary = run_batch(jobs, config, engine="local", workers=1)
"""

import json
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import nstyle
from nstyle.imagefiles import (IMAGE_SUFFIXES, BadImage, read_image,
                               write_image_atomically)

FAILURES_FILE = "failures.jsonl"


def use_passive_openmp_waits():
    """Makes libtorch's OpenMP threads sleep while they wait for each other instead of spinning
    (OMP_WAIT_POLICY=PASSIVE), unless the environment already says. Read once, when libtorch
    loads (the first Model, or nstyle.options()), so it must come before that; the workers call
    it first thing. On a machine whose cores are busy with other work, spinning threads steal
    the core their partner needs: measured on 2 cores at load 6-11, a 4-frame 48 px video took
    25-38 s with 2 threads spinning (the default or ACTIVE) against 4.1 s with PASSIVE and
    4.1-8.3 s with 1 thread (docs/batch-video.md)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class BatchConfig:
    """What every worker needs to build its warm model: the style images with blend weights,
    library options (keys of nstyle.options()), device and weights file. `crash_once` is fault
    injection for tests: the path of a marker file; a worker that finds it missing creates it
    and kills its own process (os._exit) in the middle of an image, once."""

    def __init__(self, styles, options=None, device=None, weights=None, crash_once=None):
        self.styles = [(os.path.abspath(path), float(weight)) for path, weight in styles]
        self.options = dict(options or {})
        self.device = device
        self.weights = weights
        self.crash_once = crash_once

    def with_defaults(self, **defaults):
        """A copy with these options where the caller set none."""
        copy = BatchConfig([], self.options, self.device, self.weights, self.crash_once)
        copy.styles = list(self.styles)
        for key, value in defaults.items():
            copy.options.setdefault(key, value)
        return copy

    def with_threads(self, threads):
        """A copy whose workers run `threads` libtorch threads each (unless set explicitly)."""
        return self.with_defaults(threads=threads)


class Stylist:
    """A warm model: the network, the styles and the options are loaded once; `stylise_file`
    and `stylise` then run one image each. The worker of a batch (make_workers)."""

    def __init__(self, config):
        use_passive_openmp_waits()  # in a Ray actor this comes before libtorch loads
        self.config = config
        #: Who runs this model (a Ray actor's id, set by the actor; None in-process), for fault
        #: reports.
        self.identity = None
        self._stopped = threading.Event()
        self.model = nstyle.Model(weights=config.weights, device=config.device)
        for key, value in config.options.items():
            self.model.set_option(key, value)
        for path, weight in config.styles:
            try:
                pixels, width, height, fmt = read_image(path)
            except BadImage as e:
                raise nstyle.Error(nstyle.Status.ERR_ARGUMENT, "style %s" % e) from None
            self.model.add_style(pixels, width, height, format=fmt, weight=weight)
        #: When this model was ready (time.time()): how long a restarted worker took to return.
        self.ready = time.time()

    def close(self):
        self.model.close()

    def stop(self):
        """Stops this Stylist's work for good (from any thread, e.g. an interrupted clip): the
        running step is cancelled, and a later stylise() raises nstyle.Cancelled before its run
        or after the run's next chunk (the library's cancel stops only a running step)."""
        self._stopped.set()
        self.model.cancel()

    def _keep_going(self, progress):
        return not self._stopped.is_set()

    def stylise(self, pixels, width, height, fmt, init=None, temporal=None, out_size=None):
        """Runs the model on one picture. init: an (h, w, 3) uint8 RGB array to start from;
        temporal: (target (h, w, 3) uint8, weights (h, w) float32 or None, weight). Returns the
        result as an (h, w, 4) array in `fmt`'s depth, at `out_size` (width, height) or the
        result's own size."""
        import numpy as np

        model = self.model
        model.set_content(pixels, width, height, format=fmt)
        model.clear_temporal()
        if init is not None:
            h, w = init.shape[:2]
            model.set_init_image(np.ascontiguousarray(init), w, h, format="rgb8")
        elif model.get_option("init") == "image":
            model.set_option("init", self.config.options.get("init", "content"))
        if temporal is not None:
            target, weights, weight = temporal
            h, w = target.shape[:2]
            model.set_temporal(np.ascontiguousarray(target), w, h, weights=weights,
                               weight=weight, format="rgb8")
        self._maybe_crash()
        if self._stopped.is_set():
            raise nstyle.Cancelled(nstyle.Status.ERR_CANCELLED, "stopped")
        model.run(self._keep_going)
        out_width, out_height = out_size or model.result_size()
        out_fmt = "rgba16" if fmt == "rgba16" else "rgba8"
        return model.fetch_array(out_width, out_height, format=out_fmt)

    def stylise_file(self, source, output):
        """Stylises the image file `source` into `output` (atomically). Returns a result dict:
        input, output, status ("done" or "failed"), error, seconds. Bad input and the library's
        refusals are "failed" results, not exceptions (they are not retried)."""
        started = time.monotonic()
        result = {"input": source, "output": output, "status": "done", "error": None}
        try:
            pixels, width, height, fmt = read_image(source)
            rgba = self.stylise(pixels, width, height, fmt, out_size=(width, height))
            if fmt == "rgb8":
                rgba = rgba[:, :, :3]
            write_image_atomically(output, rgba)
        except BadImage as e:
            result.update(status="failed", error=str(e))
        except nstyle.Error as e:
            if e.status in (nstyle.Status.ERR_MEMORY, nstyle.Status.ERR_INTERNAL,
                            nstyle.Status.ERR_DEVICE):
                raise  # the worker is in trouble, not the image: let the engine retry it
            result.update(status="failed", error="%s: %s" % (source, e))
        except OSError as e:
            result.update(status="failed", error="%s: %s" % (output, e))
        result.update(seconds=time.monotonic() - started, pid=os.getpid(), actor=self.identity,
                      worker_ready=self.ready)
        return result

    def _maybe_crash(self):
        marker = self.config.crash_once
        if marker and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write("%d %s\n" % (os.getpid(), self.identity))
            os._exit(17)


# --------------------------------------------------------------------------- jobs

def list_inputs(sources):
    """Image paths from folders (their images, sorted), list files (.txt/.lst: one path a
    line, relative to the list) and image paths given directly."""
    paths = []
    for source in sources:
        if os.path.isdir(source):
            names = sorted(os.listdir(source))
            paths += [os.path.join(source, n) for n in names
                      if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")]
        elif source.lower().endswith((".txt", ".lst")):
            base = os.path.dirname(os.path.abspath(source))
            with open(source, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        paths.append(os.path.join(base, line))
        else:
            paths.append(source)
    return paths


def plan_jobs(sources, output_dir):
    """([(input, output)] still to do, [(input, output)] whose output exists: skipped). The
    output keeps the input's file name. Two inputs with the same name are an error (one would
    overwrite the other)."""
    jobs, skipped, seen = [], [], {}
    for path in list_inputs(sources):
        name = os.path.basename(path)
        if name in seen:
            raise ValueError("%s and %s would both be written to %s"
                             % (seen[name], path, os.path.join(output_dir, name)))
        seen[name] = path
        output = os.path.join(output_dir, name)
        (skipped if os.path.exists(output) else jobs).append((path, output))
    return jobs, skipped


# --------------------------------------------------------------------------- workers

class LocalWorkers:
    """`workers` threads in this process, each with a warm worker of its own (`worker_class(
    config)`, built on the thread's first task; the library runs outside the GIL) and
    `threads` = cores / workers libtorch threads. No Ray needed. The same interface as
    RayWorkers (submit, wait, result, failure, close), so that batch and video drive both
    engines with one loop each; tasks are concurrent.futures Futures."""

    def __init__(self, worker_class, config, workers=1):
        self.workers = max(1, int(workers))
        cores = os.cpu_count() or 1
        self.config = config.with_threads(max(1, cores // self.workers))
        self.worker_class = worker_class
        self._local = threading.local()
        self._built = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.workers)

    def _call(self, method, args):
        worker = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._local.worker = self.worker_class(self.config)
            with self._lock:
                self._built.append(worker)
        return getattr(worker, method)(*args)

    def submit(self, method, *args):
        """A task: `method` of a worker with `args`, on the next free thread (queued until
        one is)."""
        return self._pool.submit(self._call, method, args)

    def wait(self, tasks):
        """The finished ones of `tasks`, once at least one is."""
        done, _ = wait(tasks, return_when=FIRST_COMPLETED)
        return done

    def result(self, task):
        """The task's return value (waiting for it), or the exception its worker raised."""
        return task.result()

    def failure(self, error):
        """A failed task's error (as result() raised it) in words, for the failures file."""
        return "worker error: %s" % error

    def close(self):
        """Stops what is left (an interrupted run): queued tasks are dropped, running ones
        cancelled at their next step (the workers' stop()); then the models are freed."""
        with self._lock:
            running = list(self._built)
        for worker in running:
            worker.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for worker in self._built:
            worker.close()
        self._built.clear()


class _RayTask:
    """A task given to RayWorkers: queued in the driver until an actor is free, then running
    there (`ref`: its Ray object)."""

    __slots__ = ("method", "args", "actor", "ref", "finished")

    def __init__(self, method, args):
        self.method, self.args = method, args
        self.actor = self.ref = None
        self.finished = False


class RayWorkers:
    """One Ray actor per worker, each holding a warm worker (`worker_class(config)`) in a
    process of its own; a task goes to the next free actor (FIFO: the driver queues it until
    one is). A dead actor is restarted (max_restarts) and its task retried (max_task_retries).
    CPU actors get `threads` = their CPUs; GPU actors one device each (Ray sets
    CUDA_VISIBLE_DEVICES). The same interface as LocalWorkers.

    address: None (the Ray this process already started, else a new local one on loopback,
    stopped at close), "auto" (the cluster `ray start` made on this machine) or HOST:PORT.
    """

    MAX_RESTARTS = 3
    MAX_TASK_RETRIES = 3

    def __init__(self, worker_class, config, workers=None, gpus_per_worker=0, address=None):
        if not address:
            keep_ray_on_loopback()
        import ray

        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address)
            else:
                start_local_ray()
                self.started_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, int(workers or cpus))
        gpus = float(gpus_per_worker or 0)
        cpus_per_worker = 1 if gpus else max(1, cpus // self.workers)
        config = config.with_threads(cpus_per_worker)
        if gpus and config.device is None:
            config.device = "cuda"
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus,
                           max_restarts=self.MAX_RESTARTS,
                           max_task_retries=self.MAX_TASK_RETRIES)(_RayWorker)
        self.actors = [actor.remote(worker_class, config) for _ in range(self.workers)]
        self._idle = list(self.actors)
        self._queue = deque()
        self._running = {}          # Ray object -> _RayTask

    def _dispatch(self):
        while self._queue and self._idle:
            task = self._queue.popleft()
            task.actor = self._idle.pop(0)
            task.ref = task.actor.call.remote(task.method, *task.args)
            self._running[task.ref] = task

    def submit(self, method, *args):
        task = _RayTask(method, args)
        self._queue.append(task)
        self._dispatch()
        return task

    def wait(self, tasks):
        """The finished ones of `tasks`, once at least one is. A task that finishes frees its
        actor for the next queued one."""
        while True:
            done = [task for task in tasks if task.finished]
            if done:
                return done
            ready, _ = self.ray.wait(list(self._running), num_returns=1)
            for ref in ready:
                task = self._running.pop(ref)
                task.finished = True
                self._idle.append(task.actor)
            self._dispatch()

    def result(self, task):
        self.wait([task])
        return self.ray.get(task.ref)

    def failure(self, error):
        exceptions = self.ray.exceptions
        if isinstance(error, exceptions.RayTaskError):
            # The worker raised (out of memory, a device error): not retried.
            return "worker error: %s" % (getattr(error, "cause", None) or error)
        if isinstance(error, exceptions.RayError):
            # Retries exhausted, or the task itself kills its worker every time.
            return "worker died %d times: %s" % (self.MAX_TASK_RETRIES + 1,
                                                 str(error).splitlines()[0])
        return "worker error: %s" % error

    def close(self):
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:
                pass
        self.actors = []
        self._idle, self._running = [], {}
        self._queue.clear()
        if self.started_here:
            self.ray.shutdown()


class _RayWorker:
    """The Ray actor: a worker (`worker_class(config)`, e.g. a Stylist) in its own process,
    told its actor id (fault reports name it)."""

    def __init__(self, worker_class, config):
        import ray

        self.worker = worker_class(config)
        self.worker.identity = ray.get_runtime_context().get_actor_id()

    def call(self, method, *args):
        return getattr(self.worker, method)(*args)


def keep_ray_on_loopback():
    """Makes a Ray started by this process use 127.0.0.1 as its node address, so that every
    server it starts (GCS, raylet, workers) listens on loopback only. Ray turns an explicit
    `_node_ip_address="127.0.0.1"` into the machine's routable address on Linux, and its
    servers bind the node address; with clusters off (its switch for laptops) the node address
    stays loopback. Call before ray.init; a no-op for connecting to a cluster (address given)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:
        from ray._private import ray_constants
        ray_constants.ENABLE_RAY_CLUSTER = False


def start_local_ray(num_cpus=None):
    """A Ray on this machine for this process, on loopback only, without the dashboard."""
    keep_ray_on_loopback()
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)


def make_workers(engine, worker_class, config, workers=None, gpus_per_worker=0, address=None):
    """The workers of a batch or a clip, each holding a warm `worker_class(config)` (a Stylist
    or a subclass): engine "local" (LocalWorkers: threads here, default 1; with
    gpus_per_worker, device cuda and 1 libtorch thread each) or "ray" (RayWorkers: actors,
    default one per CPU of the Ray; address as RayWorkers')."""
    if engine == "local":
        if gpus_per_worker:
            config = config.with_threads(1)
            config.device = config.device or "cuda"
        return LocalWorkers(worker_class, config, workers or 1)
    if engine == "ray":
        return RayWorkers(worker_class, config, workers, gpus_per_worker, address)
    raise ValueError("unknown engine %r (local or ray)" % (engine,))


def batch_results(pool, jobs):
    """Yields one result dict per (input, output) job as they finish, on `pool`'s workers
    (make_workers with Stylist), one job per worker at a time. A job whose worker fails (an
    exception, or a Ray actor that died more often than it is retried) is a "failed" result."""
    queue = iter(jobs)
    running = {}

    def start_next():
        job = next(queue, None)
        if job is not None:
            running[pool.submit("stylise_file", *job)] = job

    for _ in range(pool.workers):
        start_next()
    while running:
        for task in pool.wait(list(running)):
            job = running.pop(task)
            try:
                yield pool.result(task)
            except Exception as e:
                yield {"input": job[0], "output": job[1], "status": "failed",
                       "error": pool.failure(e)}
            start_next()


# --------------------------------------------------------------------------- the run

class ProgressLine:
    """done/failed/total, rate and ETA: one line rewritten in place on a terminal, plain lines
    (at most one every `every` seconds, and at the end) otherwise."""

    def __init__(self, total, stream=None, every=5.0):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self.last = 0.0
        self.done = 0
        self.failed = 0

    def text(self):
        elapsed = time.monotonic() - self.started
        finished = self.done + self.failed
        rate = finished / elapsed * 60 if elapsed > 0 else 0.0
        left = self.total - finished
        eta = "%ds" % (left / (finished / elapsed)) if finished and elapsed > 0 else "?"
        return "%d/%d done, %d failed, %.1f img/min, ETA %s" % (
            self.done, self.total, self.failed, rate, eta if left else "0s")

    def update(self, result):
        if result["status"] == "done":
            self.done += 1
        else:
            self.failed += 1
        now = time.monotonic()
        finished = self.done + self.failed == self.total
        if self.tty:
            self.stream.write("\r\x1b[K" + self.text() + ("\n" if finished else ""))
            self.stream.flush()
        elif finished or now - self.last >= self.every:
            self.stream.write(self.text() + "\n")
            self.stream.flush()
            self.last = now


def run_batch(jobs, config, engine="local", workers=None, gpus_per_worker=0, address=None,
              output_dir=None, skipped=(), progress=True):
    """Runs every (input, output) job; returns the summary dict (done, skipped, failed: lists,
    seconds). Writes output_dir/failures.jsonl (one JSON object a line: input, output, error)
    when output_dir is given (removed when nothing failed)."""
    started = time.monotonic()
    done, failed = [], []
    reporter = ProgressLine(len(jobs)) if progress else None
    pool = make_workers(engine, Stylist, config, workers, gpus_per_worker, address) \
        if jobs else None
    try:
        for result in (batch_results(pool, jobs) if pool else ()):
            (done if result["status"] == "done" else failed).append(result)
            if reporter:
                reporter.update(result)
    finally:
        if pool:
            pool.close()
    summary = {"done": done, "skipped": list(skipped), "failed": failed,
               "seconds": time.monotonic() - started}
    if output_dir is not None:
        path = os.path.join(output_dir, FAILURES_FILE)
        if failed:
            temporary = path + ".partial"
            with open(temporary, "w", encoding="utf-8") as f:
                for result in failed:
                    f.write(json.dumps({"input": result["input"], "output": result["output"],
                                        "error": result["error"]}) + "\n")
            os.replace(temporary, path)
        elif os.path.exists(path):
            os.unlink(path)
    return summary


def print_summary(summary, stream=None):
    stream = stream or sys.stderr
    stream.write("%d done, %d skipped (already there), %d failed in %.1f s\n"
                 % (len(summary["done"]), len(summary["skipped"]), len(summary["failed"]),
                    summary["seconds"]))
    for result in summary["failed"]:
        stream.write("  failed: %s\n" % result["error"])
