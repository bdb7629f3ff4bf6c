"""Image files for batch and video: read into the binding's pixel formats and written atomically
(a temporary name in the same folder, then a rename: a crash never leaves half a file under the
final name). Uses OpenCV (opencv-python-headless), which batch and video need anyway.
"""

import os

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


class BadImage(Exception):
    """An input that cannot be read as an image (recorded, never retried)."""


def read_image(path):
    """(pixels, width, height, format) of the image file at `path`: an (h, w, c) numpy array in
    "rgb8", "rgba8" or "rgba16"."""
    import cv2
    import numpy as np

    data = np.fromfile(path, dtype=np.uint8) if os.path.isfile(path) else None
    if data is None:
        raise BadImage("%s: no such file" % path)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise BadImage("%s: not an image OpenCV can read" % path)
    if image.dtype not in (np.uint8, np.uint16):
        raise BadImage("%s: %s samples are not supported" % (path, image.dtype))
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels == 1:
        image = np.repeat(image, 3, axis=2)
    elif channels == 3:
        image = image[:, :, ::-1]
    elif channels == 4:
        image = image[:, :, [2, 1, 0, 3]]
    else:
        raise BadImage("%s: %d channels are not supported" % (path, channels))
    height, width = image.shape[:2]
    if image.dtype == np.uint16:
        if image.shape[2] == 3:
            alpha = np.full((height, width, 1), 65535, dtype=np.uint16)
            image = np.concatenate([image, alpha], axis=2)
        return np.ascontiguousarray(image), width, height, "rgba16"
    fmt = "rgba8" if image.shape[2] == 4 else "rgb8"
    return np.ascontiguousarray(image), width, height, fmt


def write_image_atomically(path, pixels):
    """Writes an (h, w, 3|4) RGB(A) uint8/uint16 array to `path` (format from its suffix) under a
    temporary name first, then renames it over `path`."""
    import cv2

    if pixels.shape[2] == 4:
        bgr = pixels[:, :, [2, 1, 0, 3]]
    else:
        bgr = pixels[:, :, ::-1]
    folder, name = os.path.split(os.path.abspath(path))
    stem, suffix = os.path.splitext(name)
    temporary = os.path.join(folder, ".%s.partial-%d%s" % (stem, os.getpid(), suffix))
    ok, encoded = cv2.imencode(suffix or ".png", bgr)
    if not ok:
        raise OSError("OpenCV cannot encode %s" % path)
    try:
        with open(temporary, "wb") as f:
            f.write(encoded.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
