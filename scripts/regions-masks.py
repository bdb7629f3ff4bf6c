"""Region masks for the regions measurement (scripts/regions-vs-unmasked.sh) on a photo with a
sky over houses over a river, as the shared tubingen.jpg: the sky is the blue, bright area
connected to the top edge; the houses are everything else above the river, which is taken as
the bottom 30 %. Writes OUT/sky_mask.png and OUT/houses_mask.png (white inside) at the photo's
size. Needs numpy and OpenCV (the set-up venv has both with the batch extras).

    .venv/bin/python scripts/regions-masks.py PHOTO OUT
"""
import sys

import cv2
import numpy as np

img = cv2.imread(sys.argv[1])  # BGR
h, w = img.shape[:2]
b, g, r = [img[..., i].astype(int) for i in range(3)]
lum = (b + g + r) / 3
cand = ((b > r + 10) & (lum > 90)).astype(np.uint8)
cand = cv2.morphologyEx(cand, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
n, labels = cv2.connectedComponents(cand)
top = set(labels[0][cand[0] > 0].tolist())
sky = np.isin(labels, list(top)).astype(np.uint8)
river = int(0.70 * h)
sky[river:] = 0
houses = 1 - sky
houses[river:] = 0
for name, m in (("sky", sky), ("houses", houses)):
    cv2.imwrite(f"{sys.argv[2]}/{name}_mask.png", m * 255)
print(f"masks in {sys.argv[2]}: sky {sky.mean():.0%}, houses {houses.mean():.0%} of the photo")
