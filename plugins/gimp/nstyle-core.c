/*
 * nstyle GIMP plug-in core, shared by the GIMP 2.10 and 3.0 front ends (see nstyle-core.h).
 *
 * ns_core_run goes through five steps, each its own function: read the layer (ns_target_init,
 * ns_read_region; in region mode ns_read_region_mask), set up the model (ns_model_setup,
 * ns_model_add_styles), step it with progress, previews and cancel (ns_optimise), fetch the
 * result (ns_fetch_result) and commit the new layer (ns_commit_layer). Engine values (defaults,
 * ranges, the working size) are never restated here: they come from libnstyle's option table,
 * nstyle_result_size and the engine's own checks.
 *
 * Threads: every libgimp call happens on the main thread. While the model steps, a worker thread
 * owns it: it steps one iteration at a time, publishes the progress and fetches a preview when
 * the main thread asks for one. The main thread advances GIMP's progress, writes previews into
 * the preview layer, and forwards a cancel to nstyle_cancel(), which the ABI allows from any
 * thread; after the join it fetches the result itself.
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
#define ns_item_is_channel(d) GIMP_IS_CHANNEL(d)
#define ns_item_valid(d) ((d) != NULL && gimp_item_is_valid(GIMP_ITEM(d)))
#define ns_image_selection(i) GIMP_DRAWABLE(gimp_image_get_selection(i))
#define ns_pdb_error() gimp_pdb_get_last_error(gimp_get_pdb())
#define ns_image_id(i) gimp_image_get_id(i)

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
#define ns_item_is_channel(d) gimp_item_is_channel(d)
#define ns_item_valid(d) ((d) > 0 && gimp_item_is_valid(d))
#define ns_image_selection(i) gimp_image_get_selection(i)
#define ns_pdb_error() gimp_get_pdb_error()
#define ns_image_id(i) (i)

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
 * converts every GIMP precision and colour model (gray included) to and from. Float images may
 * hold NaN, infinities or values outside 0..1: the library reads NaN as 0 and clamps the rest
 * (see NSTYLE_RGBA_F32 in nstyle.h), so they are handed over as GEGL gives them. */
#define NS_PIXEL_FORMAT "R'G'B'A float"
#define NS_BPP (4 * sizeof(float))
/* A region as the library takes it (NSTYLE_MASK_GREY_F32): the mask value GIMP stores in a
 * selection, channel or layer mask, 0..1, read linear (as GIMP keeps masks). */
#define NS_MASK_FORMAT "Y float"
#define NS_MASK_BPP sizeof(float)
/* A region value at most this is "not selected" when checking that a region selects anything
 * (GIMP's 8-bit masks step by 1/255). */
#define NS_MASK_EMPTY 1e-4f

/* GIMP-side timing and memory choices (not engine values). */
#define NS_PUMP_INTERVAL_MS 30      /* longest wait for the worker before the dialog runs again */
#define NS_PREVIEW_INTERVAL_S 2     /* how often an interactive run refreshes the preview layer */
#define NS_STYLE_READ_MARGIN 2.0    /* the style is read at up to this many times the side the
                                     * engine scales it to, so that scaling has detail to average */
#define NS_STYLE_READ_FLOOR 1024    /* styles up to this side are always read whole: a scaled
                                     * read would save little */

/* ---------------------------------------------------------------------------------------- */
/* The engine's option table.                                                                 */

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

const NstyleOptionInfo *ns_option(const char *key) {
  /* Read once: the rows' strings are static in the library. Main thread only. */
  static NstyleOptionInfo *table = NULL;
  static uint32_t count = 0;
  if (!table) {
    GError *error = NULL;
    if (!ns_core_check_abi(&error)) g_error("%s", error->message);
    count = nstyle_option_count();
    table = g_new0(NstyleOptionInfo, count);
    for (uint32_t i = 0; i < count; i++)
      if (nstyle_option_info(i, &table[i]) != NSTYLE_OK) g_error("%s", nstyle_last_error());
  }
  for (uint32_t i = 0; i < count; i++)
    if (strcmp(table[i].key, key) == 0) return &table[i];
  g_error("The nstyle library next to the plug-in has no option '%s'. Reinstall the plug-in.",
          key);
  return NULL;
}

gdouble ns_option_default(const char *key) {
  const NstyleOptionInfo *o = ns_option(key);
  gchar *end = NULL;
  gdouble value = g_ascii_strtod(o->default_value, &end);
  if (end == o->default_value || *end)
    g_error("The nstyle option '%s' has no numeric default ('%s')", key, o->default_value);
  return value;
}

const gchar *ns_option_default_text(const char *key) { return ns_option(key)->default_value; }

/* ---------------------------------------------------------------------------------------- */

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

static float *ns_alloc_pixels(gint w, gint h, GError **error) {
  gsize n = (gsize)w * (gsize)h * NS_BPP;
  float *px = g_try_malloc(n);
  if (!px)
    g_set_error(error, NS_ERROR, 0, "Out of memory: %d × %d pixels need %" G_GSIZE_FORMAT " MB",
                w, h, n >> 20);
  return px;
}

/* A failed call on `model`: its own message (nstyle_errmsg, the same on any thread). */
static gboolean ns_engine_error(const NstyleModel *model, GError **error, const gchar *what) {
  g_set_error(error, NS_ERROR, 0, "%s: %s", what, nstyle_errmsg(model));
  return FALSE;
}

/* One input of the model (nstyle_set_input): a colour image or a plane of floats. */
static NstyleStatus ns_set_input(NstyleModel *model, NstyleInput input, uint32_t index,
                                 const void *pixels, gint w, gint h, size_t stride,
                                 NstyleFormat format) {
  NstyleImage image = {pixels, (uint32_t)w, (uint32_t)h, stride, (uint32_t)format};
  return nstyle_set_input(model, (uint32_t)input, index, &image);
}

gchar *ns_core_terms_text(NstyleModel *model) {
  uint32_t count = 0;
  if (nstyle_progress_term_count(model, &count) != NSTYLE_OK || count == 0) return NULL;
  GString *text = g_string_new(NULL);
  for (uint32_t i = 0; i < count; i++) {
    const char *name = NULL;
    double value = 0.0;
    if (nstyle_progress_term(model, i, &name, &value) != NSTYLE_OK) break;
    g_string_append_printf(text, "%s%s %.3g", i ? " \xc2\xb7 " : "", name, value);
  }
  return g_string_free(text, FALSE);
}

/* The library could not make a model: the reason and the self-check, for the user to act on
 * (a missing or damaged file is named there) or paste into a bug report. */
static void ns_start_error(GError **error) {
  gchar *reason = g_strdup(nstyle_last_error());
  g_set_error(error, NS_ERROR, 0, "Neural Style could not start: %s\n\nDiagnostics:\n%s", reason,
              nstyle_diagnostics());
  g_free(reason);
}

/* ---------------------------------------------------------------------------------------- */
/* What the run works on.                                                                     */

typedef struct {
  NsImage image;
  NsDrawable drawable;
  gint dw, dh, dx, dy;       /* drawable size and offsets */
  gint rx, ry, rw, rh;       /* region worked on, drawable coordinates */
  gboolean has_selection;    /* cut-out mode with a selection: the new layer gets its mask */
  GimpImageType type;        /* of the new layer: the drawable's (alpha kept, gray stays gray) */
  gchar *name;
} NsTarget;

/* Checks that the drawable is something the filter works on and finds the region: in cut-out
 * mode with a selection, the selection's bounding box within the layer (the new layer then
 * shows only inside the selection, through a mask made from it: ns_layer_add); without one, or
 * in region mode (the selection is then the style's region, not a cut), the whole layer. */
static gboolean ns_target_init(NsTarget *t, NsImage image, NsDrawable drawable,
                               const NsParams *p, GError **error) {
  memset(t, 0, sizeof *t);
  if (ns_image_base_type(image) == GIMP_INDEXED) {
    g_set_error(error, NS_ERROR, 0,
                "Neural Style works on RGB and grayscale images; convert this indexed image "
                "first (Image ▸ Mode ▸ RGB)");
    return FALSE;
  }
  if (!ns_item_is_layer(drawable)) {
    g_set_error(error, NS_ERROR, 0,
                "Neural Style works on a layer: select a layer, not a channel or a layer mask");
    return FALSE;
  }
  t->image = image;
  t->drawable = drawable;
  t->dw = ns_drawable_width(drawable);
  t->dh = ns_drawable_height(drawable);
  ns_drawable_offsets(drawable, &t->dx, &t->dy);
  t->type = gimp_drawable_type(drawable);
  t->has_selection = !p->regions && !gimp_selection_is_empty(image);
  if (t->has_selection) {
    if (!gimp_drawable_mask_intersect(drawable, &t->rx, &t->ry, &t->rw, &t->rh) || t->rw <= 0 ||
        t->rh <= 0) {
      g_set_error(error, NS_ERROR, 0, "The selection does not overlap the layer");
      return FALSE;
    }
  } else {
    t->rw = t->dw;
    t->rh = t->dh;
  }
  t->name = ns_core_layer_name(p);
  return TRUE;
}

/* The region's pixels as float RGBA (see NS_PIXEL_FORMAT: no clean-up needed). */
static float *ns_read_region(const NsTarget *t, GError **error) {
  float *px = ns_alloc_pixels(t->rw, t->rh, error);
  if (!px) return NULL;
  GeglBuffer *src = gimp_drawable_get_buffer(t->drawable);
  gegl_buffer_get(src, GEGL_RECTANGLE(t->rx, t->ry, t->rw, t->rh), 1.0,
                  babl_format(NS_PIXEL_FORMAT), px, t->rw * NS_BPP, GEGL_ABYSS_NONE);
  g_object_unref(src);
  return px;
}

/* The w x h rectangle at (x, y) of buf in `format` (bpp bytes a pixel), its longest side at
 * most `cap` (GEGL's scaled read averages); *out_w x *out_h is what was read. */
static float *ns_read_scaled_as(GeglBuffer *buf, gint x, gint y, gint w, gint h, gint cap,
                                const gchar *format, gsize bpp, GeglAbyssPolicy abyss,
                                gint *out_w, gint *out_h, GError **error) {
  gdouble scale = MAX(w, h) > cap ? (gdouble)cap / MAX(w, h) : 1.0;
  gint sw = MAX(1, (gint)floor(w * scale)), sh = MAX(1, (gint)floor(h * scale));
  gsize n = (gsize)sw * (gsize)sh * bpp;
  float *px = g_try_malloc(n);
  if (!px) {
    g_set_error(error, NS_ERROR, 0, "Out of memory: %d × %d pixels need %" G_GSIZE_FORMAT " MB",
                sw, sh, n >> 20);
    return NULL;
  }
  gegl_buffer_get(buf, GEGL_RECTANGLE((gint)floor(x * scale), (gint)floor(y * scale), sw, sh),
                  scale, babl_format(format), px, sw * bpp, abyss);
  *out_w = sw;
  *out_h = sh;
  return px;
}

/* As float RGBA (the content and the styles). */
static float *ns_read_scaled(GeglBuffer *buf, gint x, gint y, gint w, gint h, gint cap,
                             gint *out_w, gint *out_h, GError **error) {
  return ns_read_scaled_as(buf, x, y, w, h, cap, NS_PIXEL_FORMAT, NS_BPP, GEGL_ABYSS_CLAMP, out_w,
                           out_h, error);
}

/* A painting the run takes a style from: a file or an open image. `what` names it in messages
 * ("style", "outside style"). */
typedef struct {
  const gchar *file;
  NsImage image;
  const gchar *what, *What, *arg; /* "style", "Style", "style-file" */
} NsPicture;

static NsPicture ns_style_picture(const NsParams *p) {
  NsPicture pic = {p->style_file, p->style_image, "style", "Style", "style-file"};
  return pic;
}

/* Region mode with a style for outside the region. */
static gboolean ns_has_outside(const NsParams *p) {
  return p->regions &&
         (NS_IS_IMAGE(p->outside_image) || (p->outside_file && *p->outside_file));
}

static NsPicture ns_outside_picture(const NsParams *p) {
  NsPicture pic = {p->outside_file, p->outside_image, "outside style", "Outside style",
                   "outside-style-file"};
  return pic;
}

/* The checks on a painting that cost nothing, made before the engine loads its weights. */
static gboolean ns_check_picture(const NsPicture *pic, GError **error) {
  if (NS_IS_IMAGE(pic->image)) {
    if (ns_image_valid(pic->image)) return TRUE;
    g_set_error(error, NS_ERROR, 0, "The %s image is no longer open", pic->what);
    return FALSE;
  }
  if (!pic->file || !*pic->file) {
    g_set_error(error, NS_ERROR, 0, "No %s image given: choose a painting (%s is empty)",
                pic->what, pic->arg);
    return FALSE;
  }
  if (!g_file_test(pic->file, G_FILE_TEST_EXISTS)) {
    g_set_error(error, NS_ERROR, 0, "%s file '%s' does not exist", pic->What, pic->file);
    return FALSE;
  }
  if (!g_file_test(pic->file, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, NS_ERROR, 0, "%s file '%s' is not a file", pic->What, pic->file);
    return FALSE;
  }
  return TRUE;
}

/* The style, and in region mode the outside style if there is one. */
static gboolean ns_check_style_source(const NsParams *p, GError **error) {
  NsPicture style = ns_style_picture(p), outside = ns_outside_picture(p);
  return ns_check_picture(&style, error) &&
         (!ns_has_outside(p) || ns_check_picture(&outside, error));
}

/* Reads a painting (a copy of an open image, or a file loaded through GIMP, so any format GIMP
 * opens), flattened, as float RGBA, its longest side at most `cap` (GEGL's scaled read averages,
 * which keeps a huge photo of a painting from costing gigabytes). */
static float *ns_read_picture(const NsPicture *pic, gint cap, gint *out_w, gint *out_h,
                              GError **error) {
  NsImage img = NS_IS_IMAGE(pic->image) ? gimp_image_duplicate(pic->image)
                                        : ns_file_load(pic->file);
  if (!ns_image_valid(img)) {
    const gchar *why = ns_pdb_error();
    g_set_error(error, NS_ERROR, 0, "Could not open the %s image '%s'%s%s", pic->what,
                pic->file ? pic->file : "", why && *why ? ": " : "", why ? why : "");
    return NULL;
  }
  float *px = NULL;
  NsLayer flat = ns_image_flatten(img);
  if (!NS_IS_LAYER(flat)) {
    g_set_error(error, NS_ERROR, 0, "The %s image has no visible pixels", pic->what);
  } else {
    GeglBuffer *buf = gimp_drawable_get_buffer(NS_DRAWABLE(flat));
    px = ns_read_scaled(buf, 0, 0, gegl_buffer_get_width(buf), gegl_buffer_get_height(buf), cap,
                        out_w, out_h, error);
    g_object_unref(buf);
  }
  gimp_image_delete(img);
  return px;
}

/* ---------------------------------------------------------------------------------------- */
/* The region (region mode).                                                                  */

/* The region over the layer: the selection (region_source unset) or the channel or layer mask
 * given, read as grey float 0..1 over the whole layer (soft edges as they are; outside the
 * source's extent 0), its longest side at most `cap` (the preview's small copy; the library
 * stretches a mask of any size over the content). NULL with *error for a source that is not a
 * mask of this image, or a region that selects nothing of the layer. */
static float *ns_read_region_mask(const NsTarget *t, const NsParams *p, gint cap, gint *out_w,
                                  gint *out_h, GError **error) {
  NsDrawable source = p->region_source;
  gboolean selection = !NS_IS_DRAWABLE(source);
  if (selection) {
    if (gimp_selection_is_empty(t->image)) {
      g_set_error(error, NS_ERROR, 0,
                  "Nothing is selected: \"Paint the style inside the selection\" paints the "
                  "style in the selection (or a chosen channel) and keeps the rest. Select where "
                  "the style should paint, or turn the option off.");
      return NULL;
    }
    source = ns_image_selection(t->image);
  } else if (!ns_item_valid(source) || !ns_item_is_channel(source) ||
             ns_image_id(gimp_item_get_image(NS_ITEM(source))) != ns_image_id(t->image)) {
    g_set_error(error, NS_ERROR, 0,
                "The region must be a channel or a layer mask of this image (region-drawable)");
    return NULL;
  }
  gint ox = 0, oy = 0;
  ns_drawable_offsets(source, &ox, &oy);
  GeglBuffer *buf = gimp_drawable_get_buffer(source);
  float *mask = ns_read_scaled_as(buf, t->dx - ox, t->dy - oy, t->dw, t->dh, cap, NS_MASK_FORMAT,
                                  NS_MASK_BPP, GEGL_ABYSS_NONE, out_w, out_h, error);
  g_object_unref(buf);
  if (!mask) return NULL;
  gsize n = (gsize)*out_w * *out_h, partial = 0;
  gdouble sum = 0;
  gboolean any = FALSE;
  for (gsize i = 0; i < n; i++) {
    /* A float channel may hold anything: NaN counts as unselected (the library refuses it). */
    if (!isfinite(mask[i])) mask[i] = 0.0f;
    any = any || mask[i] > NS_MASK_EMPTY;
    partial += mask[i] >= 0.02f && mask[i] <= 0.98f;
    sum += CLAMP(mask[i], 0.0f, 1.0f);
  }
  if (g_getenv("NSTYLE_GIMP_DEBUG"))
    g_printerr("nstyle: region %d x %d, partly selected %" G_GSIZE_FORMAT ", mean %.4f\n", *out_w,
               *out_h, partial, sum / MAX(n, 1));
  if (!any) {
    gchar *name = selection ? NULL : gimp_item_get_name(NS_ITEM(source));
    if (selection)
      g_set_error(error, NS_ERROR, 0,
                  "The selection does not reach the layer: there is no region to paint");
    else
      g_set_error(error, NS_ERROR, 0,
                  "The region '%s' is empty over the layer (black everywhere): there is no "
                  "region to paint",
                  name ? name : "?");
    g_free(name);
    g_free(mask);
    return NULL;
  }
  return mask;
}

/* ---------------------------------------------------------------------------------------- */
/* Setting up the model.                                                                      */

/* Sets one engine option; a value the engine refuses is reported under the procedure
 * argument's name with the engine's message, which names the accepted range. */
static gboolean ns_set_option(NstyleModel *model, const char *key, const gchar *value,
                              const gchar *arg, const gchar *note, GError **error) {
  if (nstyle_set_option(model, key, value) == NSTYLE_OK) return TRUE;
  g_set_error(error, NS_ERROR, 0, "Invalid %s %s: %s%s", arg, value, nstyle_errmsg(model),
              note ? note : "");
  return FALSE;
}

static gboolean ns_set_option_int(NstyleModel *model, const char *key, gint value,
                                  const gchar *arg, const gchar *note, GError **error) {
  gchar text[32];
  g_snprintf(text, sizeof text, "%d", value);
  return ns_set_option(model, key, text, arg, note, error);
}

static gboolean ns_set_option_double(NstyleModel *model, const char *key, gdouble value,
                                     const gchar *arg, GError **error) {
  gchar text[G_ASCII_DTOSTR_BUF_SIZE];
  /* C locale whatever GIMP's is: the engine takes a decimal point, never a decimal comma. */
  g_ascii_dtostr(text, sizeof text, value);
  return ns_set_option(model, key, text, arg, NULL, error);
}

/* The procedure's arguments as engine options, at working size `size`; the engine checks
 * their ranges. */
static gboolean ns_apply_params(NstyleModel *model, const NsParams *p, gint size,
                                GError **error) {
  return ns_set_option_int(model, "size", size, "size", " (or 0: the layer's own size)", error) &&
         ns_set_option_int(model, "iterations", p->iterations, "iterations", NULL, error) &&
         ns_set_option_double(model, "content_weight", p->content_weight, "content-weight",
                              error) &&
         ns_set_option_double(model, "style_weight", p->style_weight, "style-weight", error) &&
         ns_set_option_double(model, "tv_weight", p->tv_weight, "tv-weight", error) &&
         ns_set_option_int(model, "preserve_colors", p->preserve_colors ? 1 : 0,
                           "preserve-colors", NULL, error) &&
         ns_set_option_double(model, "strength", p->strength, "strength", error) &&
         (!p->backbone || !*p->backbone ||
          ns_set_option(model, "backbone", p->backbone, "backbone", NULL, error));
}

/* NSTYLE_OPTIONS="key=value;key=value": extra engine options (e.g. precision=fp32;seed=1),
 * applied after the procedure's arguments, so they win. */
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
      ok = ns_engine_error(model, error, "NSTYLE_OPTIONS");
  }
  g_strfreev(items);
  return ok;
}

/* A model with the weights loaded, the settings applied and the region as its content. */
static NstyleModel *ns_model_setup(const NsParams *p, const NsTarget *t, const float *content,
                                   GError **error) {
  NstyleModel *model = NULL;
  if (nstyle_model_create(NULL, g_getenv("NSTYLE_DEVICE"), &model) != NSTYLE_OK) {
    ns_start_error(error);
    return NULL;
  }
  gint size = p->size; /* 0: the region's own size, as the library rules it */
  if (ns_apply_params(model, p, size, error) && ns_apply_env_options(model, error)) {
    if (g_getenv("NSTYLE_GIMP_DEBUG")) { /* what the library was given, as it reads it back */
      gchar strength[64] = "?", backbone[64] = "?";
      nstyle_get_option(model, "strength", strength, sizeof strength, NULL);
      nstyle_get_option(model, "backbone", backbone, sizeof backbone, NULL);
      g_printerr("nstyle: strength=%s backbone=%s\n", strength, backbone);
    }
    if (ns_set_input(model, NSTYLE_INPUT_CONTENT, 0, content, t->rw, t->rh,
                     (size_t)t->rw * NS_BPP, NSTYLE_RGBA_F32) == NSTYLE_OK)
      return model;
    ns_engine_error(model, error, "The layer could not be used");
  }
  nstyle_model_free(model);
  return NULL;
}

/* The longest side worth reading the style at: a margin over the side the library uses it at
 * (nstyle_style_side). No cap when the library cannot say. */
static gint ns_style_read_cap(const NstyleModel *model) {
  uint32_t used = 0;
  if (nstyle_style_side(model, &used) != NSTYLE_OK) return G_MAXINT;
  gdouble side = NS_STYLE_READ_MARGIN * used;
  return (gint)CLAMP(side, NS_STYLE_READ_FLOOR, G_MAXINT);
}

/* What a run paints with, as float pixels: the style; in region mode the region (grey) and,
 * if there is one, the style for outside it. Built from the same parameters by the full run and
 * the preview (there at its small size). */
typedef struct {
  float *style;
  gint sw, sh;
  float *mask; /* NULL: no region (cut-out mode) */
  gint mw, mh;
  float *outside; /* NULL: the photo stays outside the region */
  gint ow, oh;
} NsStyles;

static void ns_styles_clear(NsStyles *s) {
  g_free(s->style);
  g_free(s->mask);
  g_free(s->outside);
  memset(s, 0, sizeof *s);
}

/* The styles on the model (after its content): style 0 is the style, with the region as its
 * mask in region mode; the outside style, if any, is style 1 without a mask, so it paints the
 * rest (the library matches a maskless style over 1 - the regions). Nothing else: where no
 * style reaches, the library keeps the photo (content term only). */
static gboolean ns_add_styles(NstyleModel *model, const NsStyles *s, GError **error) {
  /* nstyle_set_input: a style at the index after the last adds it (blend weight 1). */
  if (nstyle_clear_styles(model) != NSTYLE_OK ||
      ns_set_input(model, NSTYLE_INPUT_STYLE, 0, s->style, s->sw, s->sh, (size_t)s->sw * NS_BPP,
                   NSTYLE_RGBA_F32) != NSTYLE_OK)
    return ns_engine_error(model, error, "The style image could not be used");
  if (s->mask && ns_set_input(model, NSTYLE_INPUT_STYLE_REGION, 0, s->mask, s->mw, s->mh,
                              (size_t)s->mw * NS_MASK_BPP, NSTYLE_GREY_F32) != NSTYLE_OK)
    return ns_engine_error(model, error, "The region could not be used");
  if (s->outside && ns_set_input(model, NSTYLE_INPUT_STYLE, 1, s->outside, s->ow, s->oh,
                                 (size_t)s->ow * NS_BPP, NSTYLE_RGBA_F32) != NSTYLE_OK)
    return ns_engine_error(model, error, "The outside style image could not be used");
  return TRUE;
}

/* Reads the paintings (at most the side the engine scales them to) and adds them with the
 * region `mask` (taken over, may be NULL). */
static gboolean ns_model_add_styles(NstyleModel *model, const NsParams *p, float *mask, gint mw,
                                    gint mh, GError **error) {
  NsStyles s = {.mask = mask, .mw = mw, .mh = mh};
  gint cap = ns_style_read_cap(model);
  NsPicture style = ns_style_picture(p), outside = ns_outside_picture(p);
  gboolean ok = (s.style = ns_read_picture(&style, cap, &s.sw, &s.sh, error)) != NULL &&
                (!ns_has_outside(p) ||
                 (s.outside = ns_read_picture(&outside, cap, &s.ow, &s.oh, error)) != NULL) &&
                ns_add_styles(model, &s, error);
  ns_styles_clear(&s);
  return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* The worker thread: owns the model while it steps.                                          */

typedef struct {
  NstyleModel *model;
  gint rw, rh; /* region size: previews are fetched at it */

  GMutex lock;
  GCond cond;
  /* main -> worker: the user cancelled (atomic). nstyle_cancel stops only a running step, so
   * the worker checks this between steps. */
  gint cancel;
  /* worker -> main, under lock */
  gboolean done;
  NstyleStatus status; /* NSTYLE_DONE when the run completed; the message: nstyle_errmsg */
  NstyleProgress progress;
  gchar *terms; /* the progress' loss terms in words (ns_core_terms_text), or NULL */
  gboolean progress_new;
  gboolean preview_ready; /* pixels hold a preview; the worker leaves them alone until cleared */
  /* main -> worker, under lock */
  gboolean want_preview;
  float *pixels;
} NsWorker;

static void ns_worker_finish(NsWorker *w, NstyleStatus status) {
  g_mutex_lock(&w->lock);
  w->status = status;
  w->done = TRUE;
  g_cond_signal(&w->cond);
  g_mutex_unlock(&w->lock);
}

/* Publishes a step's progress and its loss terms; under w->lock. */
static void ns_worker_set_progress(NsWorker *w, const NstyleProgress *p) {
  w->progress = *p;
  g_free(w->terms);
  w->terms = ns_core_terms_text(w->model);
  w->progress_new = TRUE;
}

/* One iteration a step, so progress and cancel answer within about one iteration; a preview
 * fetched between steps when the main thread asks. The run ends when a step returns
 * NSTYLE_DONE (or fails, or is cancelled: by nstyle_cancel while it runs, by w->cancel between
 * steps). The final result is fetched by the main thread after the join. */
static gpointer ns_worker_main(gpointer data) {
  NsWorker *w = data;
  for (;;) {
    if (g_atomic_int_get(&w->cancel)) {
      ns_worker_finish(w, NSTYLE_ERR_CANCELLED);
      return NULL;
    }
    NstyleProgress p;
    memset(&p, 0, sizeof p);
    NstyleStatus s = nstyle_step(w->model, 1, &p);
    if (s != NSTYLE_OK) {
      if (s == NSTYLE_DONE) {
        g_mutex_lock(&w->lock);
        ns_worker_set_progress(w, &p);
        g_mutex_unlock(&w->lock);
      }
      ns_worker_finish(w, s);
      return NULL;
    }
    g_mutex_lock(&w->lock);
    ns_worker_set_progress(w, &p);
    if (w->want_preview && !w->preview_ready) {
      /* A fetch resamples to the region size: a few ms to a few hundred ms. */
      s = nstyle_fetch_result(w->model, w->pixels, w->rw, w->rh, (size_t)w->rw * NS_BPP,
                              NSTYLE_RGBA_F32);
      w->preview_ready = s == NSTYLE_OK;
      w->want_preview = FALSE;
    }
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    if (s != NSTYLE_OK) {
      ns_worker_finish(w, s);
      return NULL;
    }
  }
}

/* What the worker reported since the main thread last looked. */
typedef struct {
  gboolean done;
  gboolean progress_new;
  NstyleProgress progress;
  gchar *terms; /* with progress_new: the loss terms in words (g_free), or NULL */
  gboolean preview_ready;
} NsNews;

/* Waits up to NS_PUMP_INTERVAL_MS for news, so the dialog keeps answering meanwhile. */
static NsNews ns_worker_wait(NsWorker *w) {
  NsNews n;
  g_mutex_lock(&w->lock);
  if (!w->done && !w->progress_new && !w->preview_ready)
    g_cond_wait_until(&w->cond, &w->lock,
                      g_get_monotonic_time() + NS_PUMP_INTERVAL_MS * G_TIME_SPAN_MILLISECOND);
  n.done = w->done;
  n.progress_new = w->progress_new;
  n.progress = w->progress;
  n.terms = w->progress_new ? g_strdup(w->terms) : NULL;
  n.preview_ready = w->preview_ready;
  w->progress_new = FALSE;
  g_mutex_unlock(&w->lock);
  return n;
}

/* The main thread is done with the preview in pixels: the worker may fetch the next. */
static void ns_worker_preview_taken(NsWorker *w) {
  g_mutex_lock(&w->lock);
  w->preview_ready = FALSE;
  g_mutex_unlock(&w->lock);
}

static void ns_worker_request_preview(NsWorker *w) {
  g_mutex_lock(&w->lock);
  if (!w->done && !w->preview_ready) w->want_preview = TRUE;
  g_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------------------------------- */
/* Layers.                                                                                    */

/* A new layer above the drawable: the drawable's pixels outside the region (hidden by the mask
 * anyway), and with a selection a mask made from it, so the result shows only inside the
 * selection, soft edges included, and the user can still edit where it shows. */
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

/* The layer shown while an interactive run forms. It lives outside the undo history (undo
 * frozen while it exists), so a cancel can take it away without a trace. */
typedef struct {
  NsLayer layer;
  gboolean undo_frozen;
  gboolean image_was_dirty; /* before the first preview */
  gboolean ever_shown;
} NsPreview;

static void ns_preview_show(NsPreview *pv, const NsTarget *t, const float *px) {
  if (!pv->ever_shown) {
    pv->ever_shown = TRUE;
    pv->image_was_dirty = gimp_image_is_dirty(t->image);
    pv->undo_frozen = gimp_image_undo_freeze(t->image);
    pv->layer = ns_layer_add(t);
  }
  if (!NS_IS_LAYER(pv->layer)) return;
  ns_layer_write(t, pv->layer, px);
  gimp_displays_flush();
}

static void ns_preview_remove(NsPreview *pv, NsImage image) {
  if (NS_IS_LAYER(pv->layer)) gimp_image_remove_layer(image, pv->layer);
  pv->layer = NS_NO_LAYER;
  if (pv->undo_frozen) gimp_image_undo_thaw(image);
  pv->undo_frozen = FALSE;
}

/* ---------------------------------------------------------------------------------------- */
/* Stepping with progress, previews and cancel.                                               */

/* The progress and, after it, the loss terms by name ("content 1.2e+06 · style 3.4e+06 ·
 * tv 12": the library names them, so a histogram term shows up too). */
static void ns_show_progress(const NstyleProgress *p, const gchar *terms) {
  gimp_progress_set_text_printf("Neural Style: iteration %u of %u (scale %u of %u)%s%s",
                                p->iteration, p->total, p->scale + 1, p->scales,
                                terms ? " \xe2\x80\x94 " : "", terms ? terms : "");
  gboolean updated = gimp_progress_update((gdouble)p->iteration / p->total);
  if (g_getenv("NSTYLE_GIMP_DEBUG"))
    g_printerr("nstyle: iteration %u of %u, loss %g = %s (progress %d)\n", p->iteration,
               p->total, p->loss, terms ? terms : "?", updated);
}

/* What the run came to: done (the last step returned NSTYLE_DONE), stopped by the user (a step
 * stopped by nstyle_cancel, or the worker stopped between steps; a cancel that came as the last
 * step finished counts too), or failed with the model's message. */
static NsRunStatus ns_outcome(const NsWorker *w, const NsUi *ui, GError **error) {
  if (w->status == NSTYLE_ERR_CANCELLED || (ui->cancel && *ui->cancel)) return NS_RUN_CANCELLED;
  if (w->status == NSTYLE_DONE) return NS_RUN_OK;
  g_set_error(error, NS_ERROR, 0, "Neural Style failed: %s", nstyle_errmsg(w->model));
  return NS_RUN_ERROR;
}

/* Runs the optimisation to its end in a worker thread while the main thread (the only one
 * that may call libgimp) runs the front end's dialog, shows progress and previews, and
 * forwards a cancel to nstyle_cancel (allowed from any thread). Previews use `pixels`; the
 * preview layer is gone when this returns. */
static NsRunStatus ns_optimise(NstyleModel *model, const NsTarget *t, const NsUi *ui,
                               float *pixels, NsPreview *pv, GError **error) {
  NsWorker w = {.model = model, .rw = t->rw, .rh = t->rh, .pixels = pixels};
  g_mutex_init(&w.lock);
  g_cond_init(&w.cond);
  gimp_progress_set_text("Neural Style");
  gimp_progress_update(0.0);
  GThread *thread = g_thread_new("nstyle-engine", ns_worker_main, &w);

  gboolean cancel_sent = FALSE;
  gint64 last_preview = g_get_monotonic_time();
  guint32 shown_iteration = G_MAXUINT32;
  for (;;) {
    if (ui->pump) ui->pump(ui->pump_data);
    if (ui->cancel && *ui->cancel && !cancel_sent) {
      g_atomic_int_set(&w.cancel, TRUE); /* between steps */
      nstyle_cancel(model);              /* the step running now */
      cancel_sent = TRUE;
    }
    NsNews news = ns_worker_wait(&w);
    if (news.progress_new && news.progress.total > 0 &&
        news.progress.iteration != shown_iteration) {
      shown_iteration = news.progress.iteration;
      ns_show_progress(&news.progress, news.terms);
    }
    g_free(news.terms);
    if (news.done) break;
    if (news.preview_ready) {
      if (!cancel_sent) ns_preview_show(pv, t, pixels);
      ns_worker_preview_taken(&w);
      last_preview = g_get_monotonic_time();
    } else if (ui->preview &&
               g_get_monotonic_time() - last_preview > NS_PREVIEW_INTERVAL_S * G_TIME_SPAN_SECOND) {
      ns_worker_request_preview(&w);
      last_preview = g_get_monotonic_time();
    }
  }
  g_thread_join(thread);
  ns_preview_remove(pv, t->image);

  NsRunStatus result = ns_outcome(&w, ui, error);
  g_free(w.terms);
  g_mutex_clear(&w.lock);
  g_cond_clear(&w.cond);
  return result;
}

/* The result at the region's size: the library resamples from its working size. */
static gboolean ns_fetch_result(NstyleModel *model, const NsTarget *t, float *pixels,
                                GError **error) {
  if (nstyle_fetch_result(model, pixels, t->rw, t->rh, (size_t)t->rw * NS_BPP,
                          NSTYLE_RGBA_F32) == NSTYLE_OK)
    return TRUE;
  return ns_engine_error(model, error, "Neural Style could not fetch the result");
}

/* The new layer with the result, as one undo step. */
static NsLayer ns_commit_layer(const NsTarget *t, const float *pixels, GError **error) {
  gimp_image_undo_group_start(t->image);
  NsLayer layer = ns_layer_add(t);
  if (NS_IS_LAYER(layer)) ns_layer_write(t, layer, pixels);
  gimp_image_undo_group_end(t->image);
  if (!NS_IS_LAYER(layer)) {
    const gchar *why = ns_pdb_error();
    g_set_error(error, NS_ERROR, 0, "Could not add the new layer%s%s", why ? ": " : "",
                why ? why : "");
  }
  return layer;
}

/* ---------------------------------------------------------------------------------------- */

NsRunStatus ns_core_run(NsImage image, NsDrawable drawable, const NsParams *p, const NsUi *ui,
                        NsLayer *out_layer, GError **error) {
  static const NsUi no_ui = {FALSE, NULL, NULL, NULL};
  if (!ui) ui = &no_ui;
  *out_layer = NS_NO_LAYER;

  NsTarget t = {0};
  if (!ns_core_check_abi(error) || !ns_target_init(&t, image, drawable, p, error) ||
      !ns_check_style_source(p, error)) {
    g_free(t.name);
    return NS_RUN_ERROR;
  }
  NsRunStatus result = NS_RUN_ERROR;
  NstyleModel *model = NULL;
  float *pixels = NULL, *mask = NULL;
  gint mw = 0, mh = 0;
  NsPreview preview = {NS_NO_LAYER, FALSE, FALSE, FALSE};

  gimp_progress_init("Neural Style: preparing");
  /* The region first: a region that selects nothing is refused before the weights load. */
  if (p->regions && !(mask = ns_read_region_mask(&t, p, G_MAXINT, &mw, &mh, error))) goto out;
  pixels = ns_read_region(&t, error);
  if (!pixels) goto out;
  model = ns_model_setup(p, &t, pixels, error);
  if (!model) goto out;
  /* The engine copied the content: the buffer now takes previews and the result (allocated
   * before the run, so a long run cannot end in an out-of-memory). */
  gimp_progress_set_text("Neural Style: loading the style");
  gboolean added = ns_model_add_styles(model, p, mask, mw, mh, error);
  mask = NULL; /* freed by ns_model_add_styles */
  if (!added) goto out;

  gint64 started = g_get_monotonic_time();
  result = ns_optimise(model, &t, ui, pixels, &preview, error);
  if (g_getenv("NSTYLE_GIMP_DEBUG"))
    g_printerr("nstyle: optimised %d x %d in %.3f s (regions %d)\n", t.rw, t.rh,
               (g_get_monotonic_time() - started) / (gdouble)G_TIME_SPAN_SECOND, p->regions);
  if (result == NS_RUN_OK) {
    if (ns_fetch_result(model, &t, pixels, error)) *out_layer = ns_commit_layer(&t, pixels, error);
    if (!NS_IS_LAYER(*out_layer)) result = NS_RUN_ERROR;
  }

out:
  gimp_progress_end();
  ns_preview_remove(&preview, image);
  /* A preview layer came and went: the image is as it was, so it is as clean as it was. */
  if (result != NS_RUN_OK && preview.ever_shown && !preview.image_was_dirty)
    gimp_image_clean_all(image);
  nstyle_model_free(model);
  g_free(pixels);
  g_free(mask);
  g_free(t.name);
  if (result != NS_RUN_OK) gimp_displays_flush();
  return result;
}

/* ---------------------------------------------------------------------------------------- */
/* The preview: the library's driver (nstyle_preview_*), fed a model set up as for the full run. */

/* A painting read for a preview, kept while the source stays the same (key: file or image). */
typedef struct {
  gchar *key;
  float *px;
  gint w, h;
} NsPictureCache;

static void ns_picture_cache_clear(NsPictureCache *c) {
  g_free(c->key);
  g_free(c->px);
  memset(c, 0, sizeof *c);
}

/* What the preview shows, when and at which size is the library's (nstyle_preview_*): this is
 * only the GIMP side of it, reading the layer and the paintings and handing frames over. */
struct NsPreviewWorker {
  NstylePreview *preview;
  gchar *device;        /* the device it was created for ("auto" when NULL) */
  guint current;        /* the newest job started */
  guint shown_serial;   /* the frame taken last */
  guint shown_estimate; /* the job whose estimate was taken last */
  gint rw, rh;          /* the newest job's region: the new layer's size */
  /* the paintings read last time, reused while they are the same */
  NsPictureCache style, outside;
};

NsPreviewWorker *ns_preview_worker_new(void) { return g_new0(NsPreviewWorker, 1); }

/* The driver for `device`: made at the first start, made again when the device changes. */
static gboolean ns_preview_driver(NsPreviewWorker *pw, const gchar *device, GError **error) {
  if (pw->preview && g_strcmp0(pw->device, device) == 0) return TRUE;
  nstyle_preview_free(pw->preview);
  pw->preview = NULL;
  g_free(pw->device);
  pw->device = g_strdup(device);
  if (nstyle_preview_create(NULL, device, &pw->preview) == NSTYLE_OK) return TRUE;
  ns_start_error(error);
  return FALSE;
}

/* A painting for a preview from the cache, read again only when its source changed. */
static const NsPictureCache *ns_preview_picture(NsPictureCache *c, const NsPicture *pic,
                                                GError **error) {
  gchar *key = NS_IS_IMAGE(pic->image) ? g_strdup_printf("image:%d", ns_image_id(pic->image))
                                       : g_strdup_printf("file:%s", pic->file ? pic->file : "");
  if (!c->px || g_strcmp0(key, c->key) != 0) {
    ns_picture_cache_clear(c);
    if (!ns_check_picture(pic, error) ||
        !(c->px = ns_read_picture(pic, NS_STYLE_READ_FLOOR, &c->w, &c->h, error))) {
      g_free(key);
      return NULL;
    }
    c->key = key;
  } else {
    g_free(key);
  }
  return c;
}

/* The model the preview copies: the full run's settings and paintings, the region (and in
 * region mode its mask) read at the preview's side. */
static NstyleModel *ns_preview_model(NsPreviewWorker *pw, const NsTarget *t, const NsParams *p,
                                     const gchar *device, GError **error) {
  uint32_t side = 0;
  if (nstyle_preview_side(pw->preview, &side) != NSTYLE_OK) {
    g_set_error(error, NS_ERROR, 0, "%s", nstyle_last_error());
    return NULL;
  }
  const NsPictureCache *style, *outside = NULL;
  NsPicture style_pic = ns_style_picture(p), outside_pic = ns_outside_picture(p);
  if (!(style = ns_preview_picture(&pw->style, &style_pic, error)) ||
      (ns_has_outside(p) && !(outside = ns_preview_picture(&pw->outside, &outside_pic, error))))
    return NULL;
  NsStyles s = {0};
  gint cw = 0, ch = 0;
  GeglBuffer *src = gimp_drawable_get_buffer(t->drawable);
  float *content = ns_read_scaled(src, t->rx, t->ry, t->rw, t->rh, (gint)side, &cw, &ch, error);
  g_object_unref(src);
  if (!content) return NULL;
  if (p->regions && !(s.mask = ns_read_region_mask(t, p, (gint)side, &s.mw, &s.mh, error))) {
    g_free(content);
    return NULL;
  }
  /* The paintings are the cache's: lent, not copied (ns_add_styles copies them in). */
  s.style = style->px, s.sw = style->w, s.sh = style->h;
  if (outside) s.outside = outside->px, s.ow = outside->w, s.oh = outside->h;
  NstyleModel *model = NULL;
  gint size = p->size; /* 0: the region's own size, as the library rules it */
  if (nstyle_model_create(NULL, device, &model) != NSTYLE_OK) {
    ns_start_error(error);
    model = NULL;
  } else if (!ns_apply_params(model, p, size, error) || !ns_apply_env_options(model, error) ||
             (ns_set_input(model, NSTYLE_INPUT_CONTENT, 0, content, cw, ch, (size_t)cw * NS_BPP,
                           NSTYLE_RGBA_F32) != NSTYLE_OK &&
              !ns_engine_error(model, error, "The layer could not be used")) ||
             !ns_add_styles(model, &s, error)) {
    nstyle_model_free(model);
    model = NULL;
  }
  g_free(s.mask);
  g_free(content);
  return model;
}

guint ns_preview_worker_start(NsPreviewWorker *pw, NsImage image, NsDrawable drawable,
                              const NsParams *p, GError **error) {
  const gchar *device = g_getenv("NSTYLE_DEVICE");
  NsTarget t = {0};
  NstyleModel *model = NULL;
  uint32_t job = 0;
  if (ns_core_check_abi(error) && ns_target_init(&t, image, drawable, p, error) &&
      ns_preview_driver(pw, device, error) &&
      (model = ns_preview_model(pw, &t, p, device, error)) != NULL) {
    if (nstyle_preview_start(pw->preview, model, (uint32_t)t.rw, (uint32_t)t.rh, &job) ==
        NSTYLE_OK) {
      pw->current = job;
      pw->rw = t.rw;
      pw->rh = t.rh;
    } else {
      g_set_error(error, NS_ERROR, 0, "The preview could not start: %s", nstyle_last_error());
    }
  }
  nstyle_model_free(model);
  g_free(t.name);
  return job;
}

/* One of the driver's texts (NstylePreviewText), NULL when empty. */
static gchar *ns_preview_text(NsPreviewWorker *pw, NstylePreviewText which) {
  size_t needed = 0;
  nstyle_preview_text(pw->preview, which, NULL, 0, &needed);
  gchar *text = needed > 1 ? g_malloc0(needed) : NULL;
  if (text && nstyle_preview_text(pw->preview, which, text, needed, NULL) != NSTYLE_OK) {
    g_free(text);
    text = NULL;
  }
  return text;
}

gboolean ns_preview_worker_take(NsPreviewWorker *pw, NsPreviewFrame *frame) {
  NstylePreviewFrame info;
  if (!pw->preview ||
      nstyle_preview_frame(pw->preview, &info, NULL, 0, NSTYLE_RGBA8) != NSTYLE_OK ||
      info.job != pw->current || info.serial == pw->shown_serial)
    return FALSE;
  memset(frame, 0, sizeof *frame);
  if (info.status == NSTYLE_OK) {
    /* The frames of one job share its size: a newer one that came since fills `info` again to
     * match the pixels written. */
    frame->pixels = g_try_malloc((gsize)info.width * info.height * 4);
    if (!frame->pixels) {
      frame->error = g_strdup("Out of memory for the preview");
    } else if (nstyle_preview_frame(pw->preview, &info, frame->pixels, (size_t)info.width * 4,
                                    NSTYLE_RGBA8) != NSTYLE_OK) {
      g_free(frame->pixels);
      frame->pixels = NULL;
      frame->error = g_strdup(nstyle_last_error());
    }
  } else {
    frame->error = ns_preview_text(pw, NSTYLE_PREVIEW_TEXT_MESSAGE);
    if (!frame->error) frame->error = g_strdup("The preview failed");
  }
  pw->shown_serial = info.serial;
  frame->job = info.job;
  frame->width = (gint)info.width;
  frame->height = (gint)info.height;
  frame->progress = info.progress;
  frame->done = info.done != 0;
  frame->quick = info.quick != 0;
  frame->seconds = info.seconds;
  if (!frame->error) {
    frame->terms = ns_preview_text(pw, NSTYLE_PREVIEW_TEXT_TERMS);
    frame->note = ns_preview_text(pw, NSTYLE_PREVIEW_TEXT_MESSAGE);
  }
  return TRUE;
}

gboolean ns_preview_worker_take_estimate(NsPreviewWorker *pw, NsEstimate *estimate) {
  NstylePreviewEstimate info;
  if (!pw->preview || nstyle_preview_estimate(pw->preview, &info) != NSTYLE_OK ||
      info.job != pw->current || info.job == pw->shown_estimate)
    return FALSE;
  pw->shown_estimate = info.job;
  memset(estimate, 0, sizeof *estimate);
  estimate->job = info.job;
  estimate->region_width = pw->rw;
  estimate->region_height = pw->rh;
  gchar *text = ns_preview_text(pw, NSTYLE_PREVIEW_TEXT_ESTIMATE);
  if (info.status == NSTYLE_OK) {
    estimate->seconds = info.seconds;
    estimate->width = (gint)info.width;
    estimate->height = (gint)info.height;
    estimate->words = text;
  } else {
    estimate->error = text ? text : g_strdup("no estimate");
  }
  return TRUE;
}

void ns_preview_worker_free(NsPreviewWorker *pw) {
  if (!pw) return;
  nstyle_preview_free(pw->preview); /* stops its job within about one iteration */
  g_free(pw->device);
  ns_picture_cache_clear(&pw->style);
  ns_picture_cache_clear(&pw->outside);
  g_free(pw);
}
