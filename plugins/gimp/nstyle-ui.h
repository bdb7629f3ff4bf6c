/*
 * nstyle GIMP plug-in: what the GIMP 2.10 and GIMP 3.0 front ends share above the core.
 *
 * The same source is compiled against libgimpui-2.0 (GTK 2) and libgimpui-3.0 (GTK 3): the
 * procedure's text and argument table (names, labels, ranges, defaults and help, the numbers
 * read from libnstyle's option table), the style chooser with its file filters, the progress
 * bar, and running the filter with the dialog as its progress window. Each front end keeps only
 * what its libgimp does differently: registration calls, its dialog's settings, remembered
 * values.
 */

#ifndef NSTYLE_GIMP_UI_H
#define NSTYLE_GIMP_UI_H

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "nstyle-core.h"

/* The procedure, as both versions register it. */
#define NS_UI_TITLE "Neural Style"
#define NS_UI_MENU_LABEL "_Neural Style..."
#define NS_UI_MENU_PATH "<Image>/Filters/Artistic"
#define NS_UI_IMAGE_TYPES "RGB*, GRAY*"
#define NS_UI_AUTHOR "nstyle authors"
#define NS_UI_DATE "2025"
#define NS_UI_BLURB "Paint the layer in the style of a painting (neural style transfer)"
extern const gchar ns_ui_help[];
#define NS_UI_RESULT_NAME "layer"
#define NS_UI_RESULT_HELP "The new stylised layer"

/* The procedure's arguments after run-mode, image and drawable(s), in their order. */
enum {
  NS_ARG_STYLE_FILE,
  NS_ARG_SIZE,
  NS_ARG_ITERATIONS,
  NS_ARG_CONTENT_WEIGHT,
  NS_ARG_STYLE_WEIGHT,
  NS_ARG_TV_WEIGHT,
  NS_ARG_PRESERVE_COLORS,
  /* GIMP 2.10's plug-in-nstyle ends here (Script-Fu wants every argument, so old scripts keep
   * calling it); plug-in-nstyle2 ends after backbone, plug-in-nstyle3 after the regions,
   * plug-in-nstyle4 takes every argument, and so does GIMP 3.0's plug-in-nstyle (named
   * arguments with defaults). */
  NS_N_ARGS_V1,
  NS_ARG_STRENGTH = NS_N_ARGS_V1,
  NS_ARG_BACKBONE,
  NS_N_ARGS_V2,
  /* Regions (NsParams.regions): 0/1, the region (a channel or layer mask; none: the
   * selection), the style outside the region ("": keep the photo). */
  NS_ARG_REGION_MODE = NS_N_ARGS_V2,
  NS_ARG_REGION_DRAWABLE,
  NS_ARG_OUTSIDE_STYLE_FILE,
  NS_N_ARGS_V3,
  /* NsParams.device: "auto" (the default), "cpu", "cuda:0", ... */
  NS_ARG_DEVICE = NS_N_ARGS_V3,
  NS_N_ARGS
};

/* CHOICE: one of the option's words (a string in 2.10, a GimpChoice in 3.0). DRAWABLE: an
 * item of the image, or none (-1 in 2.10, NULL in 3.0). */
typedef enum {
  NS_ARG_TYPE_STRING,
  NS_ARG_TYPE_INT,
  NS_ARG_TYPE_DOUBLE,
  NS_ARG_TYPE_CHOICE,
  NS_ARG_TYPE_DRAWABLE
} NsArgType;

typedef struct {
  const gchar *name;   /* the procedure argument, e.g. "content-weight" */
  const gchar *option; /* the engine option it sets, e.g. "content_weight"; NULL for the
                        * plug-in's own (style-file and the region arguments) */
  NsArgType type;
  const gchar *label;  /* with a mnemonic, no colon */
} NsArg;

extern const NsArg ns_args[NS_N_ARGS];

/* Range and default of a numeric argument: the engine option's (libnstyle's option table),
 * except that size also takes 0, the plug-in's "the layer's or selection's own size", and
 * region-mode (the plug-in's) is 0 or 1, default 0. */
void ns_ui_arg_range(guint arg, gdouble *lower, gdouble *upper, gdouble *default_value);
gdouble ns_ui_arg_default(guint arg);

/* The argument's description (procedure help, tooltip): the option's one-line doc, what it
 * accepts and its default, as the option table says them. Newly allocated. */
gchar *ns_ui_arg_help(guint arg);

/* The words a CHOICE argument takes (the option's, newly allocated, g_strfreev) and how the
 * dialogs name one ("Best (VGG-19)"; an unknown word as it is). */
gchar **ns_ui_arg_words(guint arg);
const gchar *ns_ui_word_label(const gchar *word);
/* A combo box of a CHOICE argument's words, `value` active; ns_ui_choice_get reads it (newly
 * allocated). */
GtkWidget *ns_ui_choice_combo(guint arg, const gchar *value);
gchar *ns_ui_choice_get(GtkWidget *combo);

/* Spin-button increments and digits for a numeric argument (see nstyle-ui.c for the rule). */
void ns_ui_arg_steps(guint arg, gdouble *step, gdouble *page, guint *digits);

/* A spin button for a numeric argument: its range, steps, digits and tooltip, set to value. */
GtkWidget *ns_ui_arg_spin(guint arg, gdouble value);

/* The device choice: a combo box of "Auto", then each device of the library's list
 * (nstyle_device_info) by name; a device the library cannot use is greyed out, its reason in
 * its row and in the tooltip. `device` (an id, or "auto"/NULL) is active; an id the list does
 * not have (a GPU gone since it was remembered) gets a row of its own, so the run says why it
 * fails rather than silently using another device. ns_ui_device_get: the active id (newly
 * allocated). The first call asks the library for its list, which looks for the GPU add-on
 * and the driver (a moment, once per process). */
GtkWidget *ns_ui_device_combo(const gchar *device);
gchar *ns_ui_device_get(GtkWidget *combo);
/* (With NSTYLE_GIMP_PREVIEW_TEST set, each device row is reported on stderr as "NSFACT
 * device-row ROW ID USABLE LABEL", and where the combo box lies in its window as "NSFACT
 * device-combo X Y W H".) */
/* A label saying that $NSTYLE_DEVICE overrides the choice, or NULL when it is not set. */
GtkWidget *ns_ui_device_override_note(void);

/* The dialogs' layout: the settings in one or more columns with the preview beside them, as
 * one widget (a preview under the settings makes the dialog taller than a laptop's screen).
 * NULL-terminated; the last column is the preview, which keeps its own width. */
GtkWidget *ns_ui_columns(GtkWidget *first, ...) G_GNUC_NULL_TERMINATED;

/* The style: a painting file or one of the open images. */
typedef struct {
  GtkWidget *frame; /* "Style", holding the rest */
  GtkWidget *file_radio, *file_chooser, *image_radio, *image_combo;
} NsStylePicker;

/* Fills *sp: file (may be NULL or empty) preselected, the file or the image source chosen,
 * image_id preselected in the list of open images. */
void ns_ui_style_picker_init(NsStylePicker *sp, const gchar *file, gboolean from_image,
                             gint image_id);
gboolean ns_ui_style_picker_from_image(const NsStylePicker *sp);
/* The chosen file (newly allocated, NULL when none) and open image (-1 when none). */
gchar *ns_ui_style_picker_file(const NsStylePicker *sp);
gint ns_ui_style_picker_image_id(const NsStylePicker *sp);
/* Whether a style is chosen from the source picked; if not, tells the user what to choose. */
gboolean ns_ui_style_picker_ready(const NsStylePicker *sp);

/* The dialog's preview: the core's preview worker (nstyle-core.h) shown in a frame, with a
 * line saying where it stands. The front end says how to read the dialog's settings
 * (`read`: FALSE when there is nothing to preview yet, e.g. no style chosen; strings it
 * allocates go into `keep`, freed after the start) and calls ns_ui_preview_changed whenever
 * one changes; the preview restarts a moment later. ns_ui_preview_free stops the worker, joins
 * it and frees its model: before the full run starts, and when the dialog closes. */
typedef gboolean (*NsUiReadParams)(gpointer data, NsParams *params, GPtrArray *keep);
typedef struct NsUiPreview NsUiPreview;
NsUiPreview *ns_ui_preview_new(NsImage image, NsDrawable drawable, NsUiReadParams read,
                               gpointer data);
GtkWidget *ns_ui_preview_widget(NsUiPreview *pv);
void ns_ui_preview_changed(NsUiPreview *pv);
void ns_ui_preview_free(NsUiPreview *pv);

/* For the tests (NSTYLE_GIMP_PREVIEW_TEST=DIR in the environment): every preview shown is
 * reported on stderr as "NSFACT preview-frame ...", each finished one saved as
 * DIR/preview-JOB.png and reported as "NSFACT preview-final ...". Then the dialog is used as
 * a user would: after the first, strength to its maximum (set_strength, the front end's
 * widget); after the second, the style file $NSTYLE_GIMP_PREVIEW_TEST_STYLE2 in the picker;
 * after the third, strength to its minimum and, while that preview runs, Cancel. */
typedef void (*NsUiSetStrength)(gpointer data, gdouble value);
void ns_ui_preview_set_test(NsUiPreview *pv, GtkWidget *dialog, NsStylePicker *picker,
                            NsUiSetStrength set_strength, gpointer data);

/* A "Diagnostics…" button: shows the library's self-check (nstyle_diagnostics(): versions,
 * libtorch, device, weights and their checksums) in a window the user can copy from. */
GtkWidget *ns_ui_diagnostics_button(void);

/* The region mode and its settings (NsParams.regions): a check button "Paint the style inside
 * the selection, blend the edge" (off: today's cut-out), where the region comes from (the
 * selection, a channel of the image, the layer's mask) and what happens outside it (keep the
 * photo, a painting file, an open image). The rest is greyed while the check button is off. */
typedef enum { NS_REGION_SELECTION, NS_REGION_CHANNEL, NS_REGION_LAYER_MASK } NsRegionSource;
typedef enum { NS_OUTSIDE_PHOTO, NS_OUTSIDE_FILE, NS_OUTSIDE_IMAGE } NsOutsideSource;

typedef struct {
  GtkWidget *frame; /* "Regions", holding the rest */
  GtkWidget *toggle, *details;
  GtkWidget *selection_radio, *channel_radio, *channel_combo, *mask_radio;
  GtkWidget *photo_radio, *file_radio, *file_chooser, *image_radio, *image_combo;
  NsImage image;
  NsDrawable layer_mask; /* the layer's mask, NS_NO_DRAWABLE when it has none */
} NsRegionPicker;

/* What the picker starts with (the remembered settings). channel_id and outside_image_id: -1
 * for none. */
typedef struct {
  gboolean on;
  NsRegionSource source;
  gint channel_id;
  NsOutsideSource outside;
  const gchar *outside_file;
  gint outside_image_id;
} NsRegionChoice;

void ns_ui_region_picker_init(NsRegionPicker *rp, NsImage image, NsDrawable drawable,
                              const NsRegionChoice *start);
/* The picker's state (outside_file newly allocated or NULL). */
void ns_ui_region_picker_get(const NsRegionPicker *rp, NsRegionChoice *choice,
                             gchar **outside_file);
/* Sets p's region fields (regions, region_source, outside_file, outside_image) from the
 * picker; a string it allocates goes into `keep` (freed with it). */
void ns_ui_region_picker_params(const NsRegionPicker *rp, NsParams *p, GPtrArray *keep);
/* Whether the region settings are complete (a channel, an outside painting chosen when asked
 * for); if not, tells the user what to choose. */
gboolean ns_ui_region_picker_ready(const NsRegionPicker *rp);
/* Calls `changed(data)` whenever a region setting changes (the preview restarts). */
void ns_ui_region_picker_connect(NsRegionPicker *rp, GCallback changed, gpointer data);

/* A progress bar that takes over this plug-in's gimp_progress_* calls, so the core's progress
 * shows in the dialog. */
GtkWidget *ns_ui_progress_bar_new(void);

/* Runs the filter (ns_core_run) with the dialog as its progress window: the widgets in
 * `insensitive` (NULL-terminated) and OK greyed, Cancel, Escape or closing the window stopping
 * the engine; then destroys the dialog. */
NsRunStatus ns_ui_run_in_dialog(GtkWidget *dialog, GtkWidget *const *insensitive, NsImage image,
                                NsDrawable drawable, const NsParams *params, NsLayer *out_layer,
                                GError **error);

#endif
