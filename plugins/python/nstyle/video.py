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
previous frame's, starts a new shot: it is stylised on its own. The flow is computed on the
frames at the working size, one frame ahead of the stylisation in a second thread (OpenCV
releases the GIL). Frames are read and written through imageio-ffmpeg (its
wheel carries an ffmpeg binary); frame size, frame rate and the audio track are kept; the output
is written under a temporary name and renamed.

    from nstyle.batch import BatchConfig
    from nstyle.video import stylise_video
    stylise_video("in.mp4", "out.mp4", BatchConfig([("style.jpg", 1)], {"size": 256}))
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

from nstyle.batch import Stylist

#: The temporal term's default weight, on the scale of the content and style terms (about 1e7
#: and 1e9 at the default options). Measured on a panned clip (docs/batch-video.md).
DEFAULT_TEMPORAL_WEIGHT = 3e6


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

    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
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


# --------------------------------------------------------------------------- stylisation

def _flow_and_cut(previous_gray, gray, solver):
    backward, forward = flows(previous_gray, gray, solver)
    mask = reliability(backward, forward)
    return backward, mask, is_scene_cut(previous_gray, gray, mask)


def _frames_with_flow(frames, working_size, pool):
    """(frame, small, future of (backward flow, reliability, scene cut) or None) for each
    frame: the flow between a frame and its predecessor at the working size, started one frame
    ahead."""
    import cv2

    solver = dis_flow()
    previous_gray = None
    pending = None
    for frame in frames:
        small = cv2.resize(frame, working_size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        future = pool.submit(_flow_and_cut, previous_gray, gray, solver) \
            if previous_gray is not None else None
        previous_gray = gray
        if pending is not None:
            yield pending
        pending = (frame, small, future)
    if pending is not None:
        yield pending


def stylise_frames(stylist, frames, temporal_weight=DEFAULT_TEMPORAL_WEIGHT, warm_start=True,
                   on_frame=None):
    """Stylises an iterator of (h, w, 3) uint8 RGB frames in order with one warm Stylist and
    yields the stylised frames at the input's size. temporal_weight 0 and warm_start False
    stylise every frame on its own (the baseline)."""
    import cv2  # noqa: F401 (fail early when OpenCV is missing)

    model = stylist.model
    previous = None            # the previous stylised frame at the working size
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    height, width = first.shape[:2]
    model.set_content(first, width, height, format="rgb8")
    working_size = model.result_size()

    def chained():
        yield first
        yield from frames

    with ThreadPoolExecutor(max_workers=1) as pool:
        for index, (frame, small, flow) in enumerate(_frames_with_flow(chained(), working_size,
                                                                        pool)):
            started = time.monotonic()
            init = temporal = None
            if previous is not None and flow is not None and (warm_start or temporal_weight):
                backward, mask, cut = flow.result()
                if not cut:
                    warped = warp(previous, backward)
                    if warm_start:
                        init = warped
                    if temporal_weight > 0:
                        temporal = (warped, mask, temporal_weight)
            stylised = stylist.stylise(frame, width, height, "rgb8", init=init,
                                       temporal=temporal, out_size=working_size)
            previous = stylised[:, :, :3].copy()
            result = model.fetch_array(width, height, format="rgb8")
            if on_frame:
                on_frame(index, time.monotonic() - started)
            yield result


def stylise_video_file(source, output, config, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                       warm_start=True, on_frame=None):
    """Stylises the video file `source` into `output` (same size, frame rate and audio) with a
    new warm Stylist; the output appears under its name only when complete. Returns the number
    of frames."""
    meta, frames = read_video(source)
    folder, name = os.path.split(os.path.abspath(output))
    stem, suffix = os.path.splitext(name)
    temporary = os.path.join(folder, ".%s.partial-%d%s" % (stem, os.getpid(), suffix))
    stylist = Stylist(config.with_defaults(**VIDEO_DEFAULTS))
    count = 0
    try:
        writer = _writer(temporary, meta, source)
        try:
            for result in stylise_frames(stylist, frames, temporal_weight, warm_start, on_frame):
                writer.send(result.tobytes())
                count += 1
        finally:
            writer.close()
        os.replace(temporary, output)
    finally:
        stylist.close()
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count


class _RayVideo:
    """The Ray actor: the whole clip on one warm model (frames depend on their predecessors)."""

    def run(self, *args, **kwargs):
        return stylise_video_file(*args, **kwargs)


def stylise_video(source, output, config, temporal_weight=DEFAULT_TEMPORAL_WEIGHT,
                  warm_start=True, engine="local", address=None, gpus_per_worker=0,
                  on_frame=None):
    """stylise_video_file here (`engine="local"`) or in one Ray actor (`engine="ray"`: a GPU of
    a cluster, say; the paths must be visible to that node). Returns the number of frames."""
    if engine == "local":
        return stylise_video_file(source, output, config, temporal_weight, warm_start, on_frame)
    if engine != "ray":
        raise ValueError("unknown engine %r (local or ray)" % (engine,))
    from nstyle.batch import keep_ray_on_loopback, start_local_ray

    if not address:
        keep_ray_on_loopback()
    import ray

    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            start_local_ray()
            started_here = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        gpus = float(gpus_per_worker or 0)
        threads = 1 if gpus else cpus
        config = config.with_threads(threads)
        if gpus and config.device is None:
            config.device = "cuda"
        actor = ray.remote(num_cpus=1 if gpus else cpus, num_gpus=gpus, max_restarts=1,
                           max_task_retries=1)(_RayVideo).remote()
        return ray.get(actor.run.remote(os.path.abspath(source), os.path.abspath(output),
                                        config, temporal_weight, warm_start))
    finally:
        if started_here:
            ray.shutdown()
