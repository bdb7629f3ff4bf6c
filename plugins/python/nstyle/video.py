"""Temporally coherent video stylisation after Ruder, Dosovitskiy & Brox, "Artistic style transfer
for videos" (GCPR 2016):

- each frame starts from the previous stylised frame warped into it by optical flow (DIS, from
  OpenCV), and
- a temporal loss pulls the result towards that warped frame, weighted per pixel by c: 0 where
  the flow cannot be trusted, 1 elsewhere. Untrusted are pixels that fail the forward-backward
  consistency test (disocclusions)
      |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5,
  w^ the backward flow (frame t -> t-1), w~ the forward flow (t-1 -> t) sampled where w^ points,
  pixels on motion boundaries
      |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002,
  and pixels whose source lies outside the previous frame.

A frame where the flow is mostly unreliable, or whose grey histogram differs much from the
previous frame's, starts a new shot: it is stylised on its own.

With method=fast (the feed-forward network: one pass a frame, fast enough for real time) there
is no optimisation to start or pull: each frame is the network's output for it, blended with
the previous output warped along the same flow where the flow holds,
out = c·α·warped_previous + (1 − c·α)·fast(frame), α = fast_blend (_fast_sequence).

Distribution (stylise_clip): the driver reads the frames and computes the flow between
consecutive ones in a thread pool, ahead of stylisation (OpenCV releases the GIL); the scene
cuts split the clip into shots and long shots are cut into chunks of frames (chunk_ranges), each
stylised in order on one worker (in-process threads or Ray actors, each with a warm model),
several chunks at once. Consecutive chunks of a shot share a few frames; the later chunk starts
cold there and the output cross-fades from the earlier chunk's frames to the later one's over
them (Assembler), so every frame is written once, in order. Frames are read and written through
imageio-ffmpeg (its wheel carries an ffmpeg binary); frame size, frame rate and the audio track
are kept; the output is written under a temporary name and renamed.

    from nstyle.batch import BatchConfig
    from nstyle.video import stylise_video
    stylise_video("in.mp4", "out.mp4", BatchConfig([("style.jpg", 1)], {"size": 256}),
                  engine="local", workers=2, chunk_frames=48, overlap=4)
"""

import itertools
import os
import threading
import time
from collections import deque, namedtuple
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

from nstyle.batch import Stylist, make_workers

#: The temporal term's default weight, on the scale of the content and style terms (about 1e7
#: and 1e9 at the default options). Measured on a panned clip (docs/batch-video.md).
DEFAULT_TEMPORAL_WEIGHT = 3e6


#: With method=fast, how much of the previous output (warped along the flow, where the flow
#: holds) each frame keeps: out = c·α·warped_previous + (1 − c·α)·fast(frame). 0 is the
#: network's output for each frame on its own. Measured on a panned clip (docs/batch-video.md).
DEFAULT_FAST_BLEND = 0.7


#: Options a video run has unless the caller sets them: one scale, because a frame starts from
#: the previous result at the working size (a coarser first scale would blur that start away).
VIDEO_DEFAULTS = {"scales": 1}


# --------------------------------------------------------------------------- flow and masks

def dis_flow():
    """A DIS optical-flow solver (OpenCV), medium preset."""
    import cv2

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def flows(previous_gray, gray, solver=None):
    """(backward, forward) flow between two grey uint8 frames: backward maps frame t's pixels
    to where they were in t-1 (gray(x) ~ previous_gray(x + backward(x))), forward the other way."""
    solver = solver or dis_flow()
    backward = solver.calc(gray, previous_gray, None)
    forward = solver.calc(previous_gray, gray, None)
    return backward, forward


def _sample_map(flow):
    import numpy as np

    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[:, :, 0], ys + flow[:, :, 1]


def warp(image, backward):
    """`image` (frame t-1's) moved into frame t along the backward flow (bilinear)."""
    import cv2

    map_x, map_y = _sample_map(backward)
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def reliability(backward, forward):
    """The paper's per-pixel weight c (float32, 0 or 1) for the temporal loss of frame t."""
    import cv2
    import numpy as np

    map_x, map_y = _sample_map(backward)
    height, width = backward.shape[:2]
    forward_there = cv2.remap(forward, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    round_trip = np.sum((forward_there + backward) ** 2, axis=2)
    magnitudes = np.sum(forward_there ** 2, axis=2) + np.sum(backward ** 2, axis=2)
    consistent = round_trip <= 0.01 * magnitudes + 0.5
    du_y, du_x = np.gradient(backward[:, :, 0])
    dv_y, dv_x = np.gradient(backward[:, :, 1])
    gradient = du_x ** 2 + du_y ** 2 + dv_x ** 2 + dv_y ** 2
    not_boundary = gradient <= 0.01 * np.sum(backward ** 2, axis=2) + 0.002
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return (consistent & not_boundary & inside).astype(np.float32)


#: A frame starts a new shot (no warped start, no temporal term: the previous shot's painting
#: must not be dragged into it) when fewer than this share of its pixels have a reliable flow...
SCENE_CUT_RELIABLE = 0.3
#: ...or when its grey-level histogram correlates less than this with the previous frame's.
SCENE_CUT_CORRELATION = 0.5


def is_scene_cut(previous_gray, gray, mask):
    """Whether `gray` starts a new shot after `previous_gray` (grey uint8 frames; `mask` the
    reliability of the flow between them, from `reliability`)."""
    import cv2

    if float(mask.mean()) < SCENE_CUT_RELIABLE:
        return True
    histograms = [cv2.calcHist([g], [0], None, [32], [0, 256]) for g in (previous_gray, gray)]
    return cv2.compareHist(histograms[0], histograms[1], cv2.HISTCMP_CORREL) \
        < SCENE_CUT_CORRELATION


# --------------------------------------------------------------------------- video files

def read_video(path):
    """(meta, frames): imageio-ffmpeg's meta (size, fps, audio_codec if there is audio) and an
    iterator of (h, w, 3) uint8 RGB frames."""
    import imageio_ffmpeg
    import numpy as np

    if not os.path.isfile(path):
        raise OSError("%s: no such file" % path)
    reader = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(reader)
    except (OSError, RuntimeError) as e:
        # ffmpeg's whole log is in the message; its last line says what went wrong.
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise OSError("%s: not a video ffmpeg can read (%s)"
                      % (path, lines[-1] if lines else e)) from None
    width, height = meta["size"]

    def frames():
        for raw in reader:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)

    return meta, frames()


def _writer(path, meta, source_path):
    import imageio_ffmpeg

    width, height = meta["size"]
    has_audio = bool(meta.get("audio_codec"))
    writer = imageio_ffmpeg.write_frames(
        path, (width, height), fps=Fraction(meta["fps"]).limit_denominator(1001),
        quality=8, macro_block_size=1,
        # H.264's 4:2:0 needs even sides; keep odd ones in 4:4:4 rather than resize.
        pix_fmt_out="yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p",
        audio_path=source_path if has_audio else None,
        audio_codec="aac" if has_audio else None)
    writer.send(None)
    return writer


# --------------------------------------------------------------------------- flow ahead

class Flow(namedtuple("Flow", "backward mask cut")):
    """What frame t needs from the pair (t-1, t): the backward flow, the reliability of each
    pixel (0..1) and whether t starts a new shot; at the size the flow was computed at."""


def flow_between(previous_gray, gray, solver=None):
    """The Flow of frame `gray` after `previous_gray` (grey uint8 frames of one size)."""
    backward, forward = flows(previous_gray, gray, solver)
    mask = reliability(backward, forward)
    return Flow(backward, mask, is_scene_cut(previous_gray, gray, mask))


_solvers = threading.local()


def _flow_in_pool(previous_gray, gray):
    """flow_between with this thread's own DIS solver (a solver is not shared between threads)."""
    solver = getattr(_solvers, "dis", None)
    if solver is None:
        solver = _solvers.dis = dis_flow()
    return flow_between(previous_gray, gray, solver)


def resize_flow(flow, size):
    """`flow` (a Flow) at `size` (width, height): vectors scaled with the picture, the mask
    resampled (it stays within 0..1). The same object when the size is already right."""
    import cv2
    import numpy as np

    height, width = flow.backward.shape[:2]
    if (width, height) == tuple(size):
        return flow
    backward = cv2.resize(flow.backward, tuple(size), interpolation=cv2.INTER_LINEAR)
    backward = backward * np.array([size[0] / width, size[1] / height], dtype=np.float32)
    mask = cv2.resize(flow.mask, tuple(size), interpolation=cv2.INTER_LINEAR)
    return Flow(np.ascontiguousarray(backward), np.clip(mask, 0, 1), flow.cut)


def flow_size(width, height, size):
    """Where the driver computes the flow: the frame scaled so that its longer side is `size`
    (never enlarged). The workers resample it to their model's working size when the library
    rounds that differently (resize_flow)."""
    scale = min(1.0, float(size) / max(width, height))
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def frames_with_flow(frames, size, pool, ahead=4):
    """(frame, Flow future or None) for each frame: the flow between a frame and its predecessor
    at `size`, computed in `pool` up to `ahead` frames ahead of the caller (so several pairs are
    in flight at once when the pool has several threads)."""
    import cv2

    previous_gray = None
    pending = deque()
    for frame in frames:
        small = cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        future = pool.submit(_flow_in_pool, previous_gray, gray) \
            if previous_gray is not None else None
        previous_gray = gray
        pending.append((frame, future))
        if len(pending) > ahead:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


# --------------------------------------------------------------------------- stylisation

def blend_with_previous(stylised, warped_previous, mask, blend):
    """c·α·warped_previous + (1 − c·α)·stylised, per pixel (float32 (h, w, 3) pictures, `mask`
    the flow's reliability c (h, w), α = `blend`): where the flow holds, the frame keeps `blend`
    of what was there a frame ago, so the feed-forward network's frame-to-frame jitter averages
    out along the motion; where it does not (disocclusions, the edge a pan reveals), the new
    output stands alone."""
    weight = (mask * blend)[:, :, None]
    return warped_previous * weight + stylised * (1.0 - weight)


def check_fast_blend(blend):
    """ValueError unless 0 <= blend < 1 (at 1 a frame would keep the previous output for good
    wherever the flow holds)."""
    if not 0 <= blend < 1:
        raise ValueError("the fast blend must be at least 0 and under 1, not %g" % blend)


def _fast_sequence(stylist, items, blend, on_frame=None):
    """_stylise_sequence for method=fast: each frame is the network's output for it (one pass,
    at the input's size), blended with the previous output warped into it along the flow
    (blend_with_previous). A frame without a flow (the first of a shot or a chunk) or after a
    scene cut starts afresh. The blend is an average along the motion with memory
    1 / (1 − blend) frames: steadier the higher, but errors of the flow linger as long."""
    import numpy as np

    previous = None             # the previous output, float32 at the input's size
    for index, (frame, flow) in enumerate(items):
        started = time.monotonic()
        height, width = frame.shape[:2]
        stylised = stylist.stylise(frame, width, height, "rgb8", out_size=(width, height))
        out = stylised[:, :, :3].astype(np.float32)
        if previous is not None and flow is not None and blend > 0:
            flow = flow.result() if hasattr(flow, "result") else flow
            if not flow.cut:
                flow = resize_flow(flow, (width, height))
                out = blend_with_previous(out, warp(previous, flow.backward), flow.mask, blend)
        previous = out
        if on_frame:
            on_frame(index, time.monotonic() - started)
        yield np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _stylise_sequence(stylist, items, temporal_weight, warm_start,
                      fast_blend=DEFAULT_FAST_BLEND, on_frame=None):
    """Stylises (frame, flow) pairs in order on one warm Stylist: frame an (h, w, 3) uint8 RGB
    array, flow a Flow, a future of one, or None (the frame starts a shot or a chunk). Yields
    the stylised frames at the input's size. With method=fast the frames are the network's
    output blended along the flow (_fast_sequence, `fast_blend`); otherwise each frame's
    optimisation starts from the warped previous result (warm_start) and is pulled towards it
    (temporal_weight)."""
    model = stylist.model
    if model.get_option("method") == "fast":
        yield from _fast_sequence(stylist, items, fast_blend, on_frame)
        return
    previous = None            # the previous stylised frame at the working size
    working_size = None
    for index, (frame, flow) in enumerate(items):
        started = time.monotonic()
        height, width = frame.shape[:2]
        if working_size is None:
            model.set_content(frame, width, height, format="rgb8")
            working_size = model.result_size()
        init = temporal = None
        if previous is not None and flow is not None and (warm_start or temporal_weight):
            flow = flow.result() if hasattr(flow, "result") else flow
            if not flow.cut:
                flow = resize_flow(flow, working_size)
                warped = warp(previous, flow.backward)
                if warm_start:
                    init = warped
                if temporal_weight > 0:
                    temporal = (warped, flow.mask, temporal_weight)
        stylised = stylist.stylise(frame, width, height, "rgb8", init=init,
                                   temporal=temporal, out_size=working_size)
        previous = stylised[:, :, :3].copy()
        result = model.fetch_array(width, height, format="rgb8")
        if on_frame:
            on_frame(index, time.monotonic() - started)
        yield result


def stylise_frames(stylist, frames, temporal_weight=DEFAULT_TEMPORAL_WEIGHT, warm_start=True,
                   on_frame=None, fast_blend=DEFAULT_FAST_BLEND):
    """Stylises an iterator of (h, w, 3) uint8 RGB frames in order with one warm Stylist and
    yields the stylised frames at the input's size (the flow is computed at the working size,
    a few frames ahead, in a second thread). temporal_weight 0 and warm_start False stylise
    every frame on its own (the baseline); with method=fast, fast_blend 0 does."""
    import cv2  # noqa: F401 (fail early when OpenCV is missing)

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    height, width = first.shape[:2]
    stylist.model.set_content(first, width, height, format="rgb8")
    working_size = stylist.model.result_size()
    with ThreadPoolExecutor(max_workers=1) as pool:
        items = frames_with_flow(itertools.chain([first], frames), working_size, pool, ahead=1)
        yield from _stylise_sequence(stylist, items, temporal_weight, warm_start, fast_blend,
                                     on_frame)


def stylise_chunk(stylist, frames, chunk_flows, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                  warm_start=True, fast_blend=DEFAULT_FAST_BLEND):
    """One chunk on a warm Stylist: its frames in order, the first one on its own, each later
    one from its predecessor's result with chunk_flows[j] (a Flow at any size, or None).
    Returns the stylised frames (a list)."""
    items = zip(frames, [None] + list(chunk_flows[1:]))
    return list(_stylise_sequence(stylist, items, temporal_weight, warm_start, fast_blend))


# --------------------------------------------------------------------------- chunks

#: Frames each chunk of a shot shares with the next; both chunks stylise them and the output
#: cross-fades from the earlier chunk's to the later one's over them. The later chunk starts
#: cold (its first frame stylised on its own), so its first frames are its least coherent ones
#: and the fade hands over gradually.
DEFAULT_OVERLAP = 4
#: Frames per chunk with several workers (with one worker a shot is one chunk: cutting it would
#: only add seams). Two seconds at 24 fps: the overlap costs 4/44 = 9 % more frames; a
#: restarted worker redoes at most one chunk.
DEFAULT_CHUNK_FRAMES = 48


class Chunk(namedtuple("Chunk", "start end blend")):
    """Frames [start, end) of the clip, stylised in order on one worker; its first `blend` frames
    are the previous chunk's last ones (0 at the start of a shot)."""


def chunk_ranges(cuts, chunk_frames, overlap):
    """Yields the Chunks of a clip as soon as each is known, from an iterator of scene-cut flags
    (one per frame: whether it starts a new shot; the first frame's is ignored). A shot is cut
    into chunks of `chunk_frames` frames (0: never), each starting `overlap` frames before the
    previous one ends; a scene cut ends a chunk without overlap."""
    start, blend, index = 0, 0, -1
    for index, cut in enumerate(cuts):
        if index == 0:
            continue
        if cut:
            yield Chunk(start, index, blend)
            start, blend = index, 0
        elif chunk_frames and index - start == chunk_frames:
            yield Chunk(start, index, blend)
            start, blend = index - overlap, overlap
    if index >= 0:
        yield Chunk(start, index + 1, blend)


def check_chunking(chunk_frames, overlap):
    """ValueError unless 0 <= 2 * overlap <= chunk_frames (or chunk_frames is 0: whole shots):
    each chunk must have frames of its own between the overlaps at its two ends."""
    if chunk_frames < 0 or overlap < 0:
        raise ValueError("chunk frames and overlap must not be negative")
    if chunk_frames and (chunk_frames < 2 or 2 * overlap > chunk_frames):
        raise ValueError("a chunk of %d frames cannot overlap its neighbours by %d frames each"
                         " (at most half the chunk)" % (chunk_frames, overlap))


def plan_chunks(cuts, chunk_frames=DEFAULT_CHUNK_FRAMES, overlap=DEFAULT_OVERLAP):
    """The list of Chunks for a clip whose scene-cut flags are `cuts` (chunk_ranges)."""
    check_chunking(chunk_frames, overlap)
    return list(chunk_ranges(cuts, chunk_frames, overlap))


def cross_fade(earlier, later, weight):
    """`later` over `earlier` (uint8 frames) with `later` weighing `weight` (0..1)."""
    import numpy as np

    mixed = earlier.astype(np.float32) * (1.0 - weight) + later.astype(np.float32) * weight
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


class Assembler:
    """Puts the chunks' results together into the clip's frames, each frame once and in order:
    outside overlaps a frame comes from its one chunk; frame j of an overlap of B frames is the
    earlier chunk's result faded into the later one's with weight (j + 1) / (B + 1). Chunks
    must be added in order; the last `overlap` frames of each are held back until the next."""

    def __init__(self, overlap):
        self.overlap = overlap
        self.held = []          # the previous chunk's last frames, for the next one's fade

    def add(self, chunk, frames):
        """The frames that are final once `chunk`'s results (`frames`) are in."""
        if len(frames) != chunk.end - chunk.start:
            raise ValueError("chunk %s came back with %d frames" % (chunk, len(frames)))
        if chunk.blend > len(self.held):
            raise ValueError("chunk %s overlaps more than the previous chunk kept" % (chunk,))
        out = self.held[:len(self.held) - chunk.blend]
        fading = self.held[len(self.held) - chunk.blend:]
        out += [cross_fade(earlier, later, (j + 1) / (chunk.blend + 1))
                for j, (earlier, later) in enumerate(zip(fading, frames))]
        body = list(frames[chunk.blend:])
        keep = min(self.overlap, len(body))
        out += body[:len(body) - keep]
        self.held = body[len(body) - keep:]
        return out

    def finish(self):
        """The frames still held (the last chunk's end)."""
        out, self.held = self.held, []
        return out


def assemble(results, overlap):
    """The clip's frames from an iterator of (Chunk, frames) in chunk order (Assembler)."""
    assembler = Assembler(overlap)
    for chunk, frames in results:
        yield from assembler.add(chunk, frames)
    yield from assembler.finish()


# --------------------------------------------------------------------------- workers

class ChunkStylist(Stylist):
    """The worker of a clip (nstyle.batch.make_workers builds one per thread or Ray actor): a
    warm Stylist that stylises chunks."""

    def stylise_chunk(self, frames, chunk_flows, temporal_weight, warm_start, fast_blend):
        return stylise_chunk(self, frames, chunk_flows, temporal_weight, warm_start, fast_blend)


# --------------------------------------------------------------------------- the clip

def _option_size(config):
    import nstyle

    value = config.options.get("size")
    if value is None:
        value = nstyle.option("size").default
    return int(float(value))


def stylise_clip(frames, pool, config, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                 warm_start=True, chunk_frames=None, overlap=DEFAULT_OVERLAP, on_chunk=None,
                 fast_blend=DEFAULT_FAST_BLEND):
    """Stylises an iterator of (h, w, 3) uint8 RGB frames on `pool`'s workers
    (nstyle.batch.make_workers with ChunkStylist: threads or Ray actors) and yields the stylised
    frames in order:

    - the flow between consecutive frames is computed here, in a thread pool, ahead of the
      frames' stylisation; it finds the scene cuts, and travels with each chunk to its worker;
    - the clip is cut into chunks (chunk_ranges: at scene cuts, and every `chunk_frames` frames
      of a shot with `overlap` frames shared; chunk_frames None: DEFAULT_CHUNK_FRAMES with
      several workers, whole shots with one), each run in order on one worker, several at once;
    - the results are put back together in order with a cross-fade over each overlap
      (Assembler). At most two chunks per worker are in flight (memory)."""
    if chunk_frames is None:
        chunk_frames = DEFAULT_CHUNK_FRAMES if pool.workers > 1 else 0
    if not chunk_frames:
        overlap = 0
    check_chunking(chunk_frames, overlap)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    height, width = first.shape[:2]
    size = flow_size(width, height, _option_size(config))
    buffered = {}               # frame index -> (frame, Flow future or None)
    in_flight = deque()         # (chunk, task) submitted, in order
    assembler = Assembler(overlap)
    limit = 2 * pool.workers

    def collect():
        chunk, task = in_flight.popleft()
        results = pool.result(task)
        if on_chunk:
            on_chunk(chunk)
        return assembler.add(chunk, results)

    with ThreadPoolExecutor(max_workers=max(2, pool.workers)) as flow_pool:
        ahead = frames_with_flow(itertools.chain([first], frames), size, flow_pool,
                                 ahead=2 * max(2, pool.workers))

        def cuts():
            for index, (frame, flow) in enumerate(ahead):
                buffered[index] = (frame, flow)
                yield flow is None or flow.result().cut

        for chunk in chunk_ranges(cuts(), chunk_frames, overlap):
            while len(in_flight) >= limit:
                yield from collect()
            indices = range(chunk.start, chunk.end)
            chunk_frames_ = [buffered[i][0] for i in indices]
            chunk_flows = [None] + [buffered[i][1].result() for i in indices[1:]]
            task = pool.submit("stylise_chunk", chunk_frames_, chunk_flows, temporal_weight,
                               warm_start, fast_blend)
            in_flight.append((chunk, task))
            # The next chunk starts at chunk.end - overlap at the earliest.
            for i in [i for i in buffered if i < chunk.end - overlap]:
                del buffered[i]
        while in_flight:
            yield from collect()
    yield from assembler.finish()


def stylise_video_file(source, output, config, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                       warm_start=True, on_frame=None, engine="local", workers=None,
                       gpus_per_worker=0, address=None, chunk_frames=None,
                       overlap=DEFAULT_OVERLAP, on_chunk=None, fast_blend=DEFAULT_FAST_BLEND):
    """Stylises the video file `source` into `output` (same frame count, size, frame rate and
    audio) with stylise_clip on `engine`'s workers; the output appears under its name only when
    complete. Returns the number of frames. on_frame(index, seconds since the previous frame
    was written)."""
    import numpy as np

    check_chunking(chunk_frames or 0, overlap if chunk_frames else 0)  # before any work
    check_fast_blend(fast_blend)
    meta, frames = read_video(source)
    folder, name = os.path.split(os.path.abspath(output))
    stem, suffix = os.path.splitext(name)
    temporary = os.path.join(folder, ".%s.partial-%d%s" % (stem, os.getpid(), suffix))
    config = config.with_defaults(**VIDEO_DEFAULTS)
    count = 0
    pool = make_workers(engine, ChunkStylist, config, workers, gpus_per_worker, address)
    try:
        writer = _writer(temporary, meta, source)
        try:
            last = time.monotonic()
            for result in stylise_clip(frames, pool, config, temporal_weight, warm_start,
                                       chunk_frames, overlap, on_chunk, fast_blend):
                writer.send(np.ascontiguousarray(result).tobytes())
                if on_frame:
                    now = time.monotonic()
                    on_frame(count, now - last)
                    last = now
                count += 1
        finally:
            writer.close()
        os.replace(temporary, output)
    finally:
        pool.close()
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count


def stylise_video(source, output, config, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                  warm_start=True, engine="local", address=None, gpus_per_worker=0,
                  on_frame=None, workers=None, chunk_frames=None, overlap=DEFAULT_OVERLAP,
                  on_chunk=None, fast_blend=DEFAULT_FAST_BLEND):
    """stylise_video_file with in-process workers (`engine="local"`, `workers` default 1) or Ray
    actors (`engine="ray"`, default one per CPU; on a cluster the paths are read and written
    here, the frames travel to the actors). Returns the number of frames."""
    return stylise_video_file(os.path.abspath(source), os.path.abspath(output), config,
                              temporal_weight, warm_start, on_frame, engine, workers,
                              gpus_per_worker, address, chunk_frames, overlap, on_chunk,
                              fast_blend)
