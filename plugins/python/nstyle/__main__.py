"""python -m nstyle batch|video: many pictures, or a video, with one style.

    python -m nstyle batch --style S.jpg --input DIR|LIST [--input …] --output DIR
        [--engine local|ray] [--address auto|HOST:PORT] [--workers N] [--gpus-per-worker G]
        [--size 512 --iterations 300 … every option of the library, as `nstyle run` names them]
    python -m nstyle video in.mp4 out.mp4 --style S.jpg [run options] [--temporal-weight W]
        [--method fast [--fast-blend A]] [--engine local|ray] [--workers N] [--chunk-frames N]
        [--overlap K]

Run from a source checkout (the clone's .venv after `make setup`, which has the package installed
editable, or PYTHONPATH=plugins/python), the command uses the checkout's
target/release/libnstyle.so unless $NSTYLE_LIBRARY says otherwise.
"""

import argparse
import os
import signal
import sys


def _use_checkout_library():
    """From a source tree, the library cargo built, unless the caller named one."""
    if os.environ.get("NSTYLE_LIBRARY"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.join(here, "..", "..", "..", "target", "release", "libnstyle.so")
    if os.path.exists(built) and not os.path.exists(os.path.join(here, "libnstyle.so")):
        os.environ["NSTYLE_LIBRARY"] = os.path.normpath(built)


def _style(spec):
    """PATH[:WEIGHT], like `nstyle run --style`."""
    path, _, weight = spec.rpartition(":")
    if path:
        try:
            return path, float(weight)
        except ValueError:
            pass
    return spec, 1.0


def _add_run_options(parser, own=()):
    """A flag per option of the library's table, named as `nstyle run` names it (--size,
    --content-weight, --preserve-colors …), plus --set KEY=VALUE, --device and --weights.
    own: option keys the command has a flag of its own for (video's --temporal-weight, the
    weight it gives each frame's temporal target: the library's option temporal_weight)."""
    import nstyle

    group = parser.add_argument_group("run options (the library's option table)")
    for option in nstyle.options():
        if option.key in own:
            continue
        flag = "--" + option.key.replace("_", "-")
        extra = {"nargs": "?", "const": "1"} if option.kind == "bool" else {}
        group.add_argument(flag, dest="option_" + option.key, metavar="VALUE", default=None,
                           help="%s (default %s)" % (option.doc.replace("%", "%%"),
                                                     option.default), **extra)
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any option of the library's table (after the flags above)")
    parser.add_argument("--style", action="append", required=True, metavar="PATH[:WEIGHT]",
                        help="a style image, optionally with a blend weight; repeatable")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--weights", default=None, help="the VGG-19 weights file")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="in-process workers (default, no Ray) or Ray actors")
    parser.add_argument("--address", default=None,
                        help="Ray cluster: auto (started with `ray start --head`) or HOST:PORT;"
                        " default a local Ray on 127.0.0.1 for this run")
    parser.add_argument("--gpus-per-worker", type=float, default=0,
                        help="GPUs per worker (Ray; 0: CPU workers)")


def _config(args):
    from nstyle.batch import BatchConfig

    options = {key[len("option_"):]: value for key, value in vars(args).items()
               if key.startswith("option_") and value is not None}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("--set takes KEY=VALUE, not %r" % item)
        options[key.strip()] = value
    return BatchConfig([_style(s) for s in args.style], options, args.device, args.weights)


def _batch(args):
    from nstyle.batch import plan_jobs, print_summary, run_batch

    os.makedirs(args.output, exist_ok=True)
    jobs, skipped = plan_jobs(args.input, args.output)
    sys.stderr.write("%d images: %d to do, %d already done\n"
                     % (len(jobs) + len(skipped), len(jobs), len(skipped)))
    summary = run_batch(jobs, _config(args), engine=args.engine, workers=args.workers,
                        gpus_per_worker=args.gpus_per_worker, address=args.address,
                        output_dir=args.output, skipped=skipped)
    print_summary(summary)
    return 1 if summary["failed"] else 0


def _video(args):
    import time

    from nstyle.video import stylise_video

    started = time.monotonic()

    def on_chunk(chunk):
        # Chunks finish whole (several at once on several workers): one line each.
        seconds = time.monotonic() - started
        sys.stderr.write("frames %d-%d done (%.1f s)\n" % (chunk.start + 1, chunk.end, seconds))

    count = stylise_video(args.input, args.output, _config(args), args.temporal_weight,
                          warm_start=not args.no_warm_start, engine=args.engine,
                          address=args.address, gpus_per_worker=args.gpus_per_worker,
                          workers=args.workers,
                          chunk_frames=args.chunk_frames, overlap=args.overlap,
                          on_chunk=on_chunk, fast_blend=args.fast_blend)
    seconds = time.monotonic() - started
    sys.stderr.write("%d frames in %.1f s (%.2f frames/s) -> %s\n"
                     % (count, seconds, count / seconds if seconds > 0 else 0.0, args.output))
    return 0


def main(argv=None):
    _use_checkout_library()
    from nstyle.batch import use_passive_openmp_waits

    use_passive_openmp_waits()  # before nstyle.options() loads libtorch
    import nstyle
    from nstyle.video import (DEFAULT_CHUNK_FRAMES, DEFAULT_FAST_BLEND, DEFAULT_OVERLAP,
                              DEFAULT_TEMPORAL_WEIGHT)

    parser = argparse.ArgumentParser(prog="python -m nstyle", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    batch = commands.add_parser("batch", help="stylise many images with one style")
    batch.add_argument("--input", action="append", required=True, metavar="DIR|LIST|IMAGE",
                       help="a folder of images, a .txt list (one path a line) or an image;"
                       " repeatable")
    batch.add_argument("--output", required=True, metavar="DIR")
    batch.add_argument("--workers", type=int, default=None,
                       help="workers (local: default 1; ray: default one per CPU)")
    _add_run_options(batch)
    video = commands.add_parser("video", help="stylise a video, temporally coherent")
    video.add_argument("input")
    video.add_argument("output")
    video.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT,
                       help="weight of the temporal loss (0: none; default %(default)s)")
    video.add_argument("--no-warm-start", action="store_true",
                       help="start each frame from the content, not the warped previous result")
    video.add_argument("--fast-blend", type=float, default=DEFAULT_FAST_BLEND, metavar="A",
                       help="with --method fast: how much of the previous output, warped along"
                       " the flow where it holds, each frame keeps (0: the network's output for"
                       " each frame on its own; default %(default)s)")
    video.add_argument("--workers", type=int, default=None,
                       help="workers stylising chunks at once (local: default 1; ray: default"
                       " one per CPU)")
    video.add_argument("--chunk-frames", type=int, default=None, metavar="N",
                       help="cut each shot into chunks of N frames run on several workers (0:"
                       " whole shots; default %d with several workers, 0 with one)"
                       % DEFAULT_CHUNK_FRAMES)
    video.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, metavar="K",
                       help="frames a chunk shares with the next, cross-faded (default"
                       " %(default)s; at most half a chunk)")
    _add_run_options(video, own=("temporal_weight",))
    args = parser.parse_args(argv)
    # A polite kill (SIGTERM) ends the run like Ctrl-C does: through the `finally`s that stop
    # the workers and remove the partial output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        return _batch(args) if args.command == "batch" else _video(args)
    except (nstyle.Error, ValueError, OSError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
