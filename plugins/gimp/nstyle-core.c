/*
 * nstyle GIMP plug-in core, shared by the GIMP 2.10 and 3.0 front ends (see nstyle-core.h).
 *
 * Threads: every libgimp call happens on the main thread. A worker thread owns the engine while
 * it runs: it steps the model in small chunks, publishes the progress, fetches a preview when
 * the main thread asks for one and the final result at the end. The main thread advances GIMP's
 * progress, writes previews into the preview layer, and forwards a cancel to nstyle_cancel(),
 * which the ABI allows from any thread.
 */

#include "nstyle-core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gegl.h>

#include "nstyle.h"

/* ---------------------------------------------------------------------------------------- */
/* The names that differ between libgimp 2.10 and 3.0.                                       */

#if NS_GIMP3
#define NS_DRAWABLE(x) GIMP_DRAWABLE(x)
#define NS_ITEM(x) GIMP_ITEM(x)
#define ns_image_base_type(i) gimp_image_get_base_type(i)
#define ns_drawable_width(d) gimp_drawable_get_width(d)
#define ns_drawable_height(d) gimp_drawable_get_height(d)
#define ns_drawable_offsets(d, x, y) gimp_drawable_get_offsets(d, x, y)
#define ns_item_is_layer(d) GIMP_IS_LAYER(d)
#define ns_pdb_error() gimp_pdb_get_last_error(gimp_get_pdb())

static NsLayer ns_item_parent(NsDrawable d) {
  GimpItem *parent = gimp_item_get_parent(GIMP_ITEM(d));
  return parent ? GIMP_LAYER(parent) : NULL;
}

static NsImage ns_file_load(const gchar *path) {
  GFile *file = g_file_new_for_path(path);
  GimpImage *image = gimp_file_load(GIMP_RUN_NONINTERACTIVE, file);
  g_object_unref(file);
  return image;
}

static NsLayer ns_image_flatten(NsImage image) { return gimp_image_flatten(image); }

static gboolean ns_image_valid(NsImage image) {
  return image != NULL && gimp_image_is_valid(image);
}
#else
#define NS_DRAWABLE(x) (x)
#define NS_ITEM(x) (x)
#define ns_image_base_type(i) gimp_image_base_type(i)
#define ns_drawable_width(d) gimp_drawable_width(d)
#define ns_drawable_height(d) gimp_drawable_height(d)
#define ns_drawable_offsets(d, x, y) gimp_drawable_offsets(d, x, y)
#define ns_item_is_layer(d) gimp_item_is_layer(d)
#define ns_pdb_error() gimp_get_pdb_error()

static NsLayer ns_item_parent(NsDrawable d) { return gimp_item_get_parent(d); }

static NsImage ns_file_load(const gchar *path) {
  return gimp_file_load(GIMP_RUN_NONINTERACTIVE, path, path);
}

static NsLayer ns_image_flatten(NsImage image) { return gimp_image_flatten(image); }

static gboolean ns_image_valid(NsImage image) { return image > 0 && gimp_image_is_valid(image); }
#endif

/* ---------------------------------------------------------------------------------------- */

#define NS_ERROR ns_error_quark()
static GQuark ns_error_quark(void) { return g_quark_from_static_string("nstyle-gimp-error"); }

/* Float RGBA, 0..1, non-premultiplied: what the engine takes (NSTYLE_RGBA_F32) and what GEGL
 * converts every GIMP precision and colour model (gray included) to and from. */
#define NS_PIXEL_FORMAT "R'G'B'A float"
#define NS_BPP (4 * sizeof(float))

gboolean ns_core_check_abi(GError **error) {
  uint32_t abi = nstyle_abi_version();
  if (abi != NSTYLE_ABI_VERSION) {
    g_set_error(error, NS_ERROR, 0,
                "The nstyle library next to the plug-in has ABI version %u; this plug-in was "
                "built for version %u. Reinstall the plug-in.",
                abi, (unsigned)NSTYLE_ABI_VERSION);
    return FALSE;
  }
  return TRUE;
}

gchar *ns_core_layer_name(const NsParams *params) {
  if (NS_IS_IMAGE(params->style_image) && ns_image_valid(params->style_image)) {
    gchar *name = gimp_image_get_name(params->style_image);
    if (name && *name) return name;
    g_free(name);
    return g_strdup("Neural Style");
  }
  if (params->style_file && *params->style_file) return g_path_get_basename(params->style_file);
  return g_strdup("Neural Style");
}

/* Keeps values the engine accepts: finite, 0..1. */
static void ns_sanitize(float *px, gsize count) {
  for (gsize i = 0; i < count; i++) {
    float v = px[i];
    if (!(v >= 0.0f)) v = 0.0f; /* negative or NaN */
    if (v > 1.0f) v = 1.0f;
    px[i] = v;
  }
}

static float *ns_alloc_pixels(gint w, gint h, GError **error) {
  gsize n = (gsize)w * (gsize)h * NS_BPP;
  float *px = g_try_malloc(n);
  if (!px)
    g_set_error(error, NS_ERROR, 0, "Out of memory: %d × %d pixels need %" G_GSIZE_FORMAT " MB",
                w, h, n >> 20);
  return px;
}

/* Reads the style: a copy of an open image or a file loaded through GIMP, flattened, read as
 * float RGBA; scaled down (by GEGL) when far larger than the engine will use. */
static float *ns_load_style(const NsParams *p, gint work_size, gint *out_w, gint *out_h,
                            GError **error) {
  NsImage img;
  if (NS_IS_IMAGE(p->style_image)) {
    if (!ns_image_valid(p->style_image)) {
      g_set_error(error, NS_ERROR, 0, "The style image is no longer open");
      return NULL;
    }
    img = gimp_image_duplicate(p->style_image);
  } else {
    if (!p->style_file || !*p->style_file) {
      g_set_error(error, NS_ERROR, 0,
                  "No style image given: choose a painting (style-file is empty)");
      return NULL;
    }
    if (!g_file_test(p->style_file, G_FILE_TEST_EXISTS)) {
      g_set_error(error, NS_ERROR, 0, "Style file '%s' does not exist", p->style_file);
      return NULL;
    }
    if (!g_file_test(p->style_file, G_FILE_TEST_IS_REGULAR)) {
      g_set_error(error, NS_ERROR, 0, "Style file '%s' is not a file", p->style_file);
      return NULL;
    }
    img = ns_file_load(p->style_file);
  }
  if (!ns_image_valid(img)) {
    const gchar *why = ns_pdb_error();
    g_set_error(error, NS_ERROR, 0, "Could not open the style image '%s'%s%s",
                p->style_file ? p->style_file : "", why && *why ? ": " : "", why ? why : "");
    return NULL;
  }

  float *px = NULL;
  NsLayer flat = ns_image_flatten(img);
  if (!NS_IS_LAYER(flat)) {
    g_set_error(error, NS_ERROR, 0, "The style image has no visible pixels");
  } else {
    GeglBuffer *buf = gimp_drawable_get_buffer(NS_DRAWABLE(flat));
    gint sw = gegl_buffer_get_width(buf), sh = gegl_buffer_get_height(buf);
    /* The engine resizes the style to the working image; a huge photo of a painting is read at
     * most at twice that (GEGL's scaled read averages), which keeps memory in check. */
    gint cap = MAX(2 * work_size, 1024);
    gdouble scale = 1.0;
    if (MAX(sw, sh) > cap) scale = (gdouble)cap / MAX(sw, sh);
    gint w = MAX(1, (gint)floor(sw * scale)), h = MAX(1, (gint)floor(sh * scale));
    px = ns_alloc_pixels(w, h, error);
    if (px) {
      gegl_buffer_get(buf, GEGL_RECTANGLE(0, 0, w, h), scale, babl_format(NS_PIXEL_FORMAT), px,
                      w * NS_BPP, GEGL_ABYSS_CLAMP);
      ns_sanitize(px, (gsize)w * h * 4);
      *out_w = w;
      *out_h = h;
    }
    g_object_unref(buf);
  }
  gimp_image_delete(img);
  return px;
}

/* ---------------------------------------------------------------------------------------- */
/* The worker thread.                                                                         */

typedef struct {
  NstyleModel *model;
  guint chunk; /* iterations per nstyle_step */
  gint rw, rh; /* region size: previews and the result are fetched at it */

  GMutex lock;
  GCond cond;
  /* worker -> main, under lock */
  gboolean done;
  NstyleStatus status;
  gchar *message; /* nstyle_last_error() is per thread: copied here by the worker */
  NstyleProgress progress;
  gboolean progress_new;
  gboolean preview_ready; /* pixels holds a preview the main thread has not written yet */
  /* main -> worker, under lock */
  gboolean want_preview;
  /* the region's pixels: the worker writes under lock, the main thread reads under lock */
  float *pixels;
} NsWorker;

static void ns_worker_finish(NsWorker *w, NstyleStatus status) {
  g_mutex_lock(&w->lock);
  w->status = status;
  if (status != NSTYLE_OK) w->message = g_strdup(nstyle_last_error());
  w->done = TRUE;
  g_cond_signal(&w->cond);
  g_mutex_unlock(&w->lock);
}

static gpointer ns_worker_main(gpointer data) {
  NsWorker *w = data;
  size_t stride = (size_t)w->rw * NS_BPP;
  for (;;) {
    NstyleProgress p;
    memset(&p, 0, sizeof p);
    NstyleStatus s = nstyle_step(w->model, w->chunk, &p);
    if (s != NSTYLE_OK) {
      ns_worker_finish(w, s);
      return NULL;
    }
    gboolean finished = p.iteration >= p.total;
    g_mutex_lock(&w->lock);
    w->progress = p;
    w->progress_new = TRUE;
    gboolean want = w->want_preview && !finished && !w->preview_ready;
    if (want) {
      /* A fetch resamples to the region size: a few ms to a few hundred ms. */
      s = nstyle_fetch_result(w->model, w->pixels, w->rw, w->rh, stride, NSTYLE_RGBA_F32);
      if (s == NSTYLE_OK) {
        w->preview_ready = TRUE;
        w->want_preview = FALSE;
      }
    }
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    if (want && s != NSTYLE_OK) {
      ns_worker_finish(w, s);
      return NULL;
    }
    if (finished) {
      g_mutex_lock(&w->lock);
      s = nstyle_fetch_result(w->model, w->pixels, w->rw, w->rh, stride, NSTYLE_RGBA_F32);
      w->preview_ready = FALSE;
      g_mutex_unlock(&w->lock);
      ns_worker_finish(w, s);
      return NULL;
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Layers.                                                                                    */

typedef struct {
  NsImage image;
  NsDrawable drawable;
  gint dw, dh, dx, dy;       /* drawable size and offsets */
  gint rx, ry, rw, rh;       /* region worked on, drawable coordinates */
  gboolean has_selection;
  GimpImageType type;        /* of the new layer: the drawable's (alpha kept, gray stays gray) */
  gchar *name;
} NsTarget;

/* A new layer above the drawable: the drawable's pixels outside the region (hidden by the mask
 * anyway), a selection mask when there is a selection. */
static NsLayer ns_layer_add(const NsTarget *t) {
  NsLayer layer = gimp_layer_new(t->image, t->name, t->dw, t->dh, t->type, 100.0,
                                 GIMP_LAYER_MODE_NORMAL);
  if (!NS_IS_LAYER(layer)) return NS_NO_LAYER;
  gimp_layer_set_offsets(layer, t->dx, t->dy);
  gint position = gimp_image_get_item_position(t->image, NS_ITEM(t->drawable));
  if (!gimp_image_insert_layer(t->image, layer, ns_item_parent(t->drawable), position)) {
    gimp_item_delete(NS_ITEM(layer));
    return NS_NO_LAYER;
  }
  if (t->rx != 0 || t->ry != 0 || t->rw != t->dw || t->rh != t->dh) {
    GeglBuffer *src = gimp_drawable_get_buffer(t->drawable);
    GeglBuffer *dst = gimp_drawable_get_buffer(NS_DRAWABLE(layer));
    gegl_buffer_copy(src, NULL, GEGL_ABYSS_NONE, dst, NULL);
    g_object_unref(dst);
    g_object_unref(src);
  }
  if (t->has_selection)
    gimp_layer_add_mask(layer, gimp_layer_create_mask(layer, GIMP_ADD_MASK_SELECTION));
  return layer;
}

static void ns_layer_write(const NsTarget *t, NsLayer layer, const float *px) {
  GeglBuffer *dst = gimp_drawable_get_buffer(NS_DRAWABLE(layer));
  gegl_buffer_set(dst, GEGL_RECTANGLE(t->rx, t->ry, t->rw, t->rh), 0,
                  babl_format(NS_PIXEL_FORMAT), px, t->rw * NS_BPP);
  gegl_buffer_flush(dst);
  g_object_unref(dst);
  gimp_drawable_update(NS_DRAWABLE(layer), t->rx, t->ry, t->rw, t->rh);
}

/* ---------------------------------------------------------------------------------------- */

static gboolean ns_engine_error(GError **error, const gchar *what) {
  g_set_error(error, NS_ERROR, 0, "%s: %s", what, nstyle_last_error());
  return FALSE;
}

/* NSTYLE_OPTIONS="key=value;key=value": extra engine options (e.g. precision=fp32;seed=1),
 * applied after the procedure's arguments. */
static gboolean ns_apply_env_options(NstyleModel *model, GError **error) {
  const gchar *env = g_getenv("NSTYLE_OPTIONS");
  if (!env || !*env) return TRUE;
  gchar **items = g_strsplit(env, ";", -1);
  gboolean ok = TRUE;
  for (gchar **it = items; ok && *it; it++) {
    gchar *item = g_strstrip(*it);
    if (!*item) continue;
    gchar *eq = strchr(item, '=');
    if (!eq) {
      g_set_error(error, NS_ERROR, 0, "NSTYLE_OPTIONS: '%s' is not key=value", item);
      ok = FALSE;
      break;
    }
    *eq = '\0';
    gchar *key = g_strstrip(item), *value = g_strstrip(eq + 1);
    if (nstyle_set_option(model, key, value) != NSTYLE_OK)
      ok = ns_engine_error(error, "NSTYLE_OPTIONS");
  }
  g_strfreev(items);
  return ok;
}

static gboolean ns_set_option_int(NstyleModel *model, const char *key, gint value,
                                  GError **error) {
  gchar text[32];
  g_snprintf(text, sizeof text, "%d", value);
  if (nstyle_set_option(model, key, text) != NSTYLE_OK) {
    g_set_error(error, NS_ERROR, 0, "Invalid %s %d: %s", key, value, nstyle_last_error());
    return FALSE;
  }
  return TRUE;
}

static gboolean ns_check_params(const NsParams *p, GError **error) {
  if (p->size != 0 && (p->size < 16 || p->size > NS_MAX_SIZE)) {
    g_set_error(error, NS_ERROR, 0, "size must be 0 (the layer's size) or 16..%d, not %d",
                NS_MAX_SIZE, p->size);
    return FALSE;
  }
  if (p->iterations < 1 || p->iterations > NS_MAX_ITERATIONS) {
    g_set_error(error, NS_ERROR, 0, "iterations must be 1..%d, not %d", NS_MAX_ITERATIONS,
                p->iterations);
    return FALSE;
  }
  const gdouble w[3] = {p->content_weight, p->style_weight, p->tv_weight};
  const char *names[3] = {"content-weight", "style-weight", "tv-weight"};
  for (int i = 0; i < 3; i++)
    if (!(w[i] >= 0.0 && w[i] <= NS_MAX_WEIGHT)) {
      g_set_error(error, NS_ERROR, 0, "%s must be 0..%g, not %g", names[i], NS_MAX_WEIGHT, w[i]);
      return FALSE;
    }
  return TRUE;
}

NsRunStatus ns_core_run(NsImage image, NsDrawable drawable, const NsParams *p, const NsUi *ui,
                        NsLayer *out_layer, GError **error) {
  static const NsUi no_ui = {FALSE, NULL, NULL, NULL};
  if (!ui) ui = &no_ui;
  *out_layer = NS_NO_LAYER;

  if (!ns_core_check_abi(error) || !ns_check_params(p, error)) return NS_RUN_ERROR;
  if (ns_image_base_type(image) == GIMP_INDEXED) {
    g_set_error(error, NS_ERROR, 0,
                "Neural Style works on RGB and grayscale images; convert this indexed image "
                "first (Image ▸ Mode ▸ RGB)");
    return NS_RUN_ERROR;
  }
  if (!ns_item_is_layer(drawable)) {
    g_set_error(error, NS_ERROR, 0,
                "Neural Style works on a layer: select a layer, not a channel or a layer mask");
    return NS_RUN_ERROR;
  }

  NsTarget t;
  memset(&t, 0, sizeof t);
  t.image = image;
  t.drawable = drawable;
  t.dw = ns_drawable_width(drawable);
  t.dh = ns_drawable_height(drawable);
  ns_drawable_offsets(drawable, &t.dx, &t.dy);
  t.type = gimp_drawable_type(drawable);
  t.has_selection = !gimp_selection_is_empty(image);
  if (t.has_selection) {
    if (!gimp_drawable_mask_intersect(drawable, &t.rx, &t.ry, &t.rw, &t.rh) || t.rw <= 0 ||
        t.rh <= 0) {
      g_set_error(error, NS_ERROR, 0, "The selection does not overlap the layer");
      return NS_RUN_ERROR;
    }
  } else {
    t.rx = t.ry = 0;
    t.rw = t.dw;
    t.rh = t.dh;
  }
  gint work_size = p->size > 0 ? p->size : CLAMP(MAX(t.rw, t.rh), 16, NS_MAX_SIZE);

  gimp_progress_init("Neural Style: loading the style");

  NsRunStatus result = NS_RUN_ERROR;
  NstyleModel *model = NULL;
  float *style = NULL, *content = NULL;
  NsWorker w;
  memset(&w, 0, sizeof w);
  g_mutex_init(&w.lock);
  g_cond_init(&w.cond);
  NsLayer preview = NS_NO_LAYER;
  gboolean frozen = FALSE, was_dirty = FALSE, preview_made = FALSE;

  gint sw = 0, sh = 0;
  style = ns_load_style(p, work_size, &sw, &sh, error);
  if (!style) goto out;

  gimp_progress_set_text("Neural Style: preparing");
  content = ns_alloc_pixels(t.rw, t.rh, error);
  if (!content) goto out;
  {
    GeglBuffer *src = gimp_drawable_get_buffer(drawable);
    gegl_buffer_get(src, GEGL_RECTANGLE(t.rx, t.ry, t.rw, t.rh), 1.0,
                    babl_format(NS_PIXEL_FORMAT), content, t.rw * NS_BPP, GEGL_ABYSS_NONE);
    g_object_unref(src);
  }
  ns_sanitize(content, (gsize)t.rw * t.rh * 4);

  if (nstyle_model_create(NULL, g_getenv("NSTYLE_DEVICE"), &model) != NSTYLE_OK) {
    ns_engine_error(error, "Neural Style could not start");
    goto out;
  }
  NstyleWeights weights = {(float)p->content_weight, (float)p->style_weight, (float)p->tv_weight};
  if (!ns_set_option_int(model, "size", work_size, error) ||
      !ns_set_option_int(model, "iterations", p->iterations, error) ||
      !ns_set_option_int(model, "preserve_colors", p->preserve_colors ? 1 : 0, error))
    goto out;
  if (nstyle_set_weights(model, &weights) != NSTYLE_OK) {
    ns_engine_error(error, "Invalid weights");
    goto out;
  }
  if (!ns_apply_env_options(model, error)) goto out;
  if (nstyle_set_content(model, content, t.rw, t.rh, (size_t)t.rw * NS_BPP, NSTYLE_RGBA_F32) !=
      NSTYLE_OK) {
    ns_engine_error(error, "The layer could not be used");
    goto out;
  }
  g_free(content); /* the engine copied it; the buffer is reused for the result */
  content = NULL;
  if (nstyle_add_style(model, style, sw, sh, (size_t)sw * NS_BPP, NSTYLE_RGBA_F32, 1.0f) !=
      NSTYLE_OK) {
    ns_engine_error(error, "The style image could not be used");
    goto out;
  }
  g_free(style);
  style = NULL;

  w.pixels = ns_alloc_pixels(t.rw, t.rh, error);
  if (!w.pixels) goto out;
  w.model = model;
  w.chunk = 1;
  w.rw = t.rw;
  w.rh = t.rh;
  t.name = ns_core_layer_name(p);

  gimp_progress_set_text("Neural Style");
  gimp_progress_update(0.0);
  GThread *thread = g_thread_new("nstyle-engine", ns_worker_main, &w);

  gboolean cancel_sent = FALSE;
  gint64 last_preview = g_get_monotonic_time();
  guint32 shown_iteration = G_MAXUINT32;
  for (;;) {
    if (ui->pump) ui->pump(ui->pump_data);
    if (ui->cancel && *ui->cancel && !cancel_sent) {
      nstyle_cancel(model);
      cancel_sent = TRUE;
    }

    g_mutex_lock(&w.lock);
    if (!w.done && !w.progress_new && !w.preview_ready)
      g_cond_wait_until(&w.cond, &w.lock, g_get_monotonic_time() + 30 * G_TIME_SPAN_MILLISECOND);
    gboolean done = w.done;
    NstyleProgress prog = w.progress;
    gboolean prog_new = w.progress_new;
    w.progress_new = FALSE;
    if (w.preview_ready && !done && !cancel_sent) {
      /* The layer appears at the first preview: outside the undo history (frozen), so a cancel
       * can take it away without a trace; the final layer is added under undo at the end. */
      if (!NS_IS_LAYER(preview)) {
        was_dirty = gimp_image_is_dirty(image);
        frozen = gimp_image_undo_freeze(image);
        preview = ns_layer_add(&t);
        preview_made = TRUE;
      }
      if (NS_IS_LAYER(preview)) {
        ns_layer_write(&t, preview, w.pixels);
        gimp_displays_flush();
      }
      w.preview_ready = FALSE;
      last_preview = g_get_monotonic_time();
    }
    if (ui->preview && !done && !w.preview_ready && !w.want_preview &&
        g_get_monotonic_time() - last_preview > 2 * G_TIME_SPAN_SECOND)
      w.want_preview = TRUE;
    g_mutex_unlock(&w.lock);

    if (prog_new && prog.total > 0 && prog.iteration != shown_iteration) {
      shown_iteration = prog.iteration;
      gimp_progress_set_text_printf("Neural Style: iteration %u of %u (scale %u of %u)",
                                    prog.iteration, prog.total, prog.scale + 1, prog.scales);
      gboolean updated = gimp_progress_update((gdouble)prog.iteration / prog.total);
      if (g_getenv("NSTYLE_GIMP_DEBUG"))
        g_printerr("nstyle: iteration %u of %u, loss %g (progress %d)\n", prog.iteration,
                   prog.total, prog.loss, updated);
    }
    if (done) break;
  }
  g_thread_join(thread);

  if (NS_IS_LAYER(preview)) {
    gimp_image_remove_layer(image, preview);
    preview = NS_NO_LAYER;
  }
  if (frozen) {
    gimp_image_undo_thaw(image);
    frozen = FALSE;
  }

  if (w.status == NSTYLE_ERR_CANCELLED || (ui->cancel && *ui->cancel)) {
    result = NS_RUN_CANCELLED;
  } else if (w.status != NSTYLE_OK) {
    g_set_error(error, NS_ERROR, 0, "Neural Style failed: %s", w.message ? w.message : "?");
  } else {
    gimp_image_undo_group_start(image);
    NsLayer layer = ns_layer_add(&t);
    if (NS_IS_LAYER(layer)) ns_layer_write(&t, layer, w.pixels);
    gimp_image_undo_group_end(image);
    if (NS_IS_LAYER(layer)) {
      *out_layer = layer;
      result = NS_RUN_OK;
    } else {
      const gchar *why = ns_pdb_error();
      g_set_error(error, NS_ERROR, 0, "Could not add the new layer%s%s", why ? ": " : "",
                  why ? why : "");
    }
  }

out:
  gimp_progress_end();
  if (NS_IS_LAYER(preview)) gimp_image_remove_layer(image, preview);
  if (frozen) gimp_image_undo_thaw(image);
  /* A preview layer came and went: the image is as it was, so it is as clean as it was. */
  if (result != NS_RUN_OK && preview_made && !was_dirty) gimp_image_clean_all(image);
  nstyle_model_free(model);
  g_free(style);
  g_free(content);
  g_free(w.pixels);
  g_free(w.message);
  g_free(t.name);
  g_mutex_clear(&w.lock);
  g_cond_clear(&w.cond);
  if (result != NS_RUN_OK) gimp_displays_flush();
  return result;
}
