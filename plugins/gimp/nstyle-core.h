/*
 * nstyle GIMP plug-in: the core shared by the GIMP 2.10 and GIMP 3.0 front ends.
 *
 * The same source is compiled against libgimp-2.0 (items are gint32 IDs) and libgimp-3.0
 * (items are objects); the few names that differ are mapped below. The core reads the drawable
 * (or the selection's bounding box of it; in region mode the whole drawable and the region as
 * a grey mask, see NsParams.regions) through GEGL, drives the nstyle C ABI in a worker
 * thread, advances GIMP's progress, refreshes a preview layer in interactive runs, and adds the
 * result as a new layer above the drawable inside one undo group. On cancel or error the image
 * is left exactly as it was. No engine logic lives here: that is libnstyle.
 */

#ifndef NSTYLE_GIMP_CORE_H
#define NSTYLE_GIMP_CORE_H

#include <libgimp/gimp.h>

#include "nstyle.h"

#if GIMP_MAJOR_VERSION >= 3
#define NS_GIMP3 1
typedef GimpImage *NsImage;
typedef GimpDrawable *NsDrawable;
typedef GimpLayer *NsLayer;
#define NS_NO_IMAGE NULL
#define NS_NO_LAYER NULL
#define NS_NO_DRAWABLE NULL
#define NS_IS_DRAWABLE(d) ((d) != NULL)
#define NS_IS_IMAGE(i) ((i) != NULL)
#define NS_IS_LAYER(l) ((l) != NULL)
#else
#define NS_GIMP3 0
typedef gint32 NsImage;
typedef gint32 NsDrawable;
typedef gint32 NsLayer;
#define NS_NO_IMAGE (-1)
#define NS_NO_LAYER (-1)
#define NS_NO_DRAWABLE (-1)
#define NS_IS_DRAWABLE(d) ((d) > 0)
#define NS_IS_IMAGE(i) ((i) > 0)
#define NS_IS_LAYER(l) ((l) > 0)
#endif

#define NS_PROC_NAME "plug-in-nstyle"
#define NS_BINARY_NAME "nstyle"

/* The engine's option table (nstyle_option_find): every default, range and one-line doc the
 * plug-in shows comes from here, so the plug-in never restates the engine's values. A key the
 * library does not know means a mismatched libnstyle next to the plug-in: that stops the
 * plug-in with a message (g_error), as nothing sensible can be registered or run. */
const NstyleOptionInfo *ns_option(const char *key);
/* The option's default as a number (a numeric option's default_value parsed, C locale). */
gdouble ns_option_default(const char *key);

typedef struct {
  /* The style: a file loaded through GIMP (any format GIMP opens) unless style_image is set
   * (interactive only: one of the open images, its visible composite). */
  const gchar *style_file;
  NsImage style_image;
  gint size;           /* longest side worked on; 0 = the region's own size */
  gint iterations;     /* the engine checks these against its own ranges */
  gdouble content_weight;
  gdouble style_weight;
  gdouble tv_weight;
  gboolean preserve_colors;
  gdouble strength;      /* photo (0) ... painting (1): scales the style weight */
  const gchar *backbone; /* one of the backbone option's words; NULL or "" = the default */
  /* Regions (the library's style masks, spatial control). FALSE: today's cut-out, the
   * selection's bounding box is worked on and the new layer is cut to the selection by a layer
   * mask. TRUE: the whole layer is worked on; the region (grey, soft edges kept) is the style's
   * region: the style paints inside it and the optimisation paints across its edge; outside,
   * the photo stays or the outside style paints. The new layer covers the whole layer, no
   * mask. */
  gboolean regions;
  NsDrawable region_source;  /* NS_NO_DRAWABLE: the selection; else a channel or layer mask */
  const gchar *outside_file; /* the style outside the region, as style_file/style_image; */
  NsImage outside_image;     /* neither set: the photo stays outside */
} NsParams;

/* The option's default as text (e.g. backbone's). */
const gchar *ns_option_default_text(const char *key);

typedef struct {
  /* Interactive runs: show the layer forming (a preview layer refreshed every few seconds,
   * outside the undo history), and call pump() about every 30 ms from the main thread so the
   * front end can run its dialog; *cancel set to TRUE (by pump or by a signal handler it runs)
   * stops the engine. Non-interactive runs: all NULL/FALSE. */
  gboolean preview;
  void (*pump)(gpointer data);
  gpointer pump_data;
  volatile gboolean *cancel;
} NsUi;

typedef enum {
  NS_RUN_OK,
  NS_RUN_CANCELLED,
  NS_RUN_ERROR,
} NsRunStatus;

/* Runs the whole filter. NS_RUN_OK: *out_layer is the new layer. NS_RUN_ERROR: *error says why
 * (for the user). NS_RUN_CANCELLED: stopped by the user. Only OK changes the image. */
NsRunStatus ns_core_run(NsImage image, NsDrawable drawable, const NsParams *params,
                        const NsUi *ui, NsLayer *out_layer, GError **error);

/* The preview: the current settings on a small copy of the layer (region), computed by the
 * library's preview driver (nstyle_preview_*: the quick feed-forward picture first, then the
 * optimiser's refinement, and the full run's estimate); it never touches the image. Main
 * thread: ns_preview_worker_start reads the pixels (the style is read again only when it
 * changed) and (re)starts the driver, superseding what it was doing; ns_preview_worker_take
 * returns the newest frame, if any; ns_preview_worker_free stops and frees the driver. */
typedef struct NsPreviewWorker NsPreviewWorker;

typedef struct {
  guchar *pixels; /* RGBA8, width x height, rows width*4 apart; g_free */
  gint width, height;
  guint job;      /* which start this frame belongs to (1, 2, ...) */
  NstyleProgress progress;
  gboolean done;   /* the job's last frame: the preview is complete */
  gboolean quick;  /* the feed-forward network's picture, before the optimiser refines it */
  gchar *terms;    /* the loss terms in words, "content 1.2e+06 · style ..." (g_free), or NULL */
  gchar *note;     /* what did not stop the preview, e.g. why there is no quick picture, or NULL */
  gdouble seconds; /* since that start */
  gchar *error;    /* instead of pixels: why this job failed (g_free) */
} NsPreviewFrame;

/* How long the full run with a preview job's settings would take (the driver's estimate, made
 * after the quick picture), and the result's size. */
typedef struct {
  guint job;
  gdouble seconds;
  gchar *words;                     /* nstyle_estimate_text: "about 40 s on this machine…" */
  gint width, height;               /* the working size (nstyle_result_size) */
  gint region_width, region_height; /* the layer or selection: the new layer's size */
  gchar *error;                     /* instead: why there is no estimate (g_free) */
} NsEstimate;

NsPreviewWorker *ns_preview_worker_new(void);
/* Returns the job number, or 0 with *error (nothing readable to preview). */
guint ns_preview_worker_start(NsPreviewWorker *pw, NsImage image, NsDrawable drawable,
                              const NsParams *params, GError **error);
gboolean ns_preview_worker_take(NsPreviewWorker *pw, NsPreviewFrame *frame);
gboolean ns_preview_worker_take_estimate(NsPreviewWorker *pw, NsEstimate *estimate);
void ns_preview_worker_free(NsPreviewWorker *pw);

/* The last step's loss terms by name, in words: "content 1.2e+06 · style 3.4e+06 · tv 12"
 * (nstyle_progress_term); NULL before the first step. g_free. */
gchar *ns_core_terms_text(NstyleModel *model);

/* Whether the nstyle library loaded is the ABI this plug-in was built for; else *error. */
gboolean ns_core_check_abi(GError **error);

/* Name for the new layer: the style file's base name (or the style image's name). */
gchar *ns_core_layer_name(const NsParams *params);

#endif
