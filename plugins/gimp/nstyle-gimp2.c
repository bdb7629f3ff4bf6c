/*
 * nstyle GIMP 2.10 front end (libgimp-2.0): registers plug-in-nstyle, reads its arguments or
 * shows the dialog, and hands the work to the shared core (nstyle-core.c).
 */

#include <string.h>

#include <gegl.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "nstyle-core.h"

#define NS_DATA_KEY NS_PROC_NAME

/* What is remembered between runs (gimp_set_data). */
typedef struct {
  gchar style_file[4096];
  gint32 size;
  gint32 iterations;
  gdouble content_weight;
  gdouble style_weight;
  gdouble tv_weight;
  gint32 preserve_colors;
  gint32 style_from_image; /* dialog only: the style is one of the open images */
} NsVals;

static const NsVals ns_defaults = {
    "", NS_DEFAULT_SIZE, NS_DEFAULT_ITERATIONS, NS_DEFAULT_CONTENT_WEIGHT,
    NS_DEFAULT_STYLE_WEIGHT, NS_DEFAULT_TV_WEIGHT, 0, 0,
};

static void query(void);
static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

MAIN()

static void query(void) {
  static const GimpParamDef args[] = {
      {GIMP_PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"},
      {GIMP_PDB_IMAGE, "image", "Input image"},
      {GIMP_PDB_DRAWABLE, "drawable", "Input layer (its pixels are only read)"},
      {GIMP_PDB_STRING, "style-file", "Path of the style image (a painting), any format GIMP opens"},
      {GIMP_PDB_INT32, "size", "Longest side worked on, 16..16384; 0 = the layer's own size"},
      {GIMP_PDB_INT32, "iterations", "Optimisation iterations (default 500)"},
      {GIMP_PDB_FLOAT, "content-weight", "Weight of the content loss (default 5)"},
      {GIMP_PDB_FLOAT, "style-weight", "Weight of the style loss (default 100)"},
      {GIMP_PDB_FLOAT, "tv-weight", "Weight of the total-variation smoothing (default 0.01)"},
      {GIMP_PDB_INT32, "preserve-colors", "Keep the layer's colours (0/1)"},
  };
  static const GimpParamDef return_vals[] = {
      {GIMP_PDB_LAYER, "layer", "The new stylised layer"},
  };

  gimp_install_procedure(
      NS_PROC_NAME, "Paint the layer in the style of a painting (neural style transfer)",
      "Adds a new layer above the drawable: its content redrawn with the textures and colours "
      "of the style image (Gatys et al., VGG-19). A selection limits the effect through a "
      "layer mask; alpha is kept. The source layer is never changed. Engine: libnstyle; "
      "NSTYLE_DEVICE and NSTYLE_OPTIONS (key=value;...) in the environment tune it.",
      "nstyle authors", "nstyle authors", "2025", "_Neural Style...", "RGB*, GRAY*",
      GIMP_PLUGIN, G_N_ELEMENTS(args), G_N_ELEMENTS(return_vals), args, return_vals);
  gimp_plugin_menu_register(NS_PROC_NAME, "<Image>/Filters/Artistic");
}

/* ---------------------------------------------------------------------------------------- */
/* The dialog: settings, then the run itself with a progress bar and a Cancel that stops it. */

typedef struct {
  GtkWidget *dialog;
  GtkWidget *settings;
  GtkWidget *file_radio, *file_chooser, *image_radio, *image_combo;
  GtkWidget *size, *iterations, *content_weight, *style_weight, *tv_weight, *preserve;
  gboolean running;
  volatile gboolean cancel;
} NsDialog;

static void ns_pump(gpointer data) {
  (void)data;
  while (gtk_events_pending()) gtk_main_iteration();
}

static void ns_dialog_response(GtkDialog *dialog, gint response, NsDialog *d) {
  (void)dialog;
  if (d->running && response != GTK_RESPONSE_OK) d->cancel = TRUE;
}

static void ns_style_toggled(GtkToggleButton *button, NsDialog *d) {
  (void)button;
  gboolean from_image = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->image_radio));
  gtk_widget_set_sensitive(d->file_chooser, !from_image);
  gtk_widget_set_sensitive(d->image_combo, from_image);
}

static GtkWidget *ns_spin(gdouble value, gdouble lo, gdouble hi, gdouble step, guint digits) {
  GtkWidget *spin = gimp_spin_button_new_with_range(lo, hi, step);
  gtk_spin_button_set_digits(GTK_SPIN_BUTTON(spin), digits);
  gtk_spin_button_set_value(GTK_SPIN_BUTTON(spin), value);
  gtk_entry_set_activates_default(GTK_ENTRY(spin), TRUE);
  return spin;
}

static void ns_dialog_build(NsDialog *d, const NsVals *v, gint32 image) {
  d->dialog = gimp_dialog_new("Neural Style", NS_BINARY_NAME, NULL, 0, gimp_standard_help_func,
                              NS_PROC_NAME, "_Cancel", GTK_RESPONSE_CANCEL, "_OK",
                              GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_alternative_button_order(GTK_DIALOG(d->dialog), GTK_RESPONSE_OK,
                                          GTK_RESPONSE_CANCEL, -1);
  gtk_dialog_set_default_response(GTK_DIALOG(d->dialog), GTK_RESPONSE_OK);
  gimp_window_set_transient(GTK_WINDOW(d->dialog));
  g_signal_connect(d->dialog, "response", G_CALLBACK(ns_dialog_response), d);

  GtkWidget *main_vbox = gtk_vbox_new(FALSE, 12);
  gtk_container_set_border_width(GTK_CONTAINER(main_vbox), 12);
  gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(d->dialog))), main_vbox,
                     TRUE, TRUE, 0);

  d->settings = gtk_vbox_new(FALSE, 12);
  gtk_box_pack_start(GTK_BOX(main_vbox), d->settings, TRUE, TRUE, 0);

  /* Style */
  GtkWidget *frame = gimp_frame_new("Style");
  gtk_box_pack_start(GTK_BOX(d->settings), frame, FALSE, FALSE, 0);
  GtkWidget *table = gtk_table_new(2, 2, FALSE);
  gtk_table_set_col_spacings(GTK_TABLE(table), 6);
  gtk_table_set_row_spacings(GTK_TABLE(table), 6);
  gtk_container_add(GTK_CONTAINER(frame), table);

  d->file_radio = gtk_radio_button_new_with_mnemonic(NULL, "Painting _file:");
  d->image_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(d->file_radio), "Open i_mage:");
  d->file_chooser = gtk_file_chooser_button_new("Choose the style (a painting)",
                                                GTK_FILE_CHOOSER_ACTION_OPEN);
  GtkFileFilter *filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, "Images");
  gtk_file_filter_add_pixbuf_formats(filter);
  gtk_file_filter_add_mime_type(filter, "image/*");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d->file_chooser), filter);
  filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, "All files");
  gtk_file_filter_add_pattern(filter, "*");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d->file_chooser), filter);
  if (v->style_file[0])
    gtk_file_chooser_set_filename(GTK_FILE_CHOOSER(d->file_chooser), v->style_file);
  gtk_widget_set_size_request(d->file_chooser, 260, -1);
  d->image_combo = gimp_image_combo_box_new(NULL, NULL);
  gimp_int_combo_box_set_active(GIMP_INT_COMBO_BOX(d->image_combo), image);

  gtk_table_attach(GTK_TABLE(table), d->file_radio, 0, 1, 0, 1, GTK_FILL, GTK_FILL, 0, 0);
  gtk_table_attach(GTK_TABLE(table), d->file_chooser, 1, 2, 0, 1, GTK_EXPAND | GTK_FILL,
                   GTK_FILL, 0, 0);
  gtk_table_attach(GTK_TABLE(table), d->image_radio, 0, 1, 1, 2, GTK_FILL, GTK_FILL, 0, 0);
  gtk_table_attach(GTK_TABLE(table), d->image_combo, 1, 2, 1, 2, GTK_EXPAND | GTK_FILL,
                   GTK_FILL, 0, 0);
  gtk_toggle_button_set_active(
      GTK_TOGGLE_BUTTON(v->style_from_image ? d->image_radio : d->file_radio), TRUE);
  g_signal_connect(d->file_radio, "toggled", G_CALLBACK(ns_style_toggled), d);
  ns_style_toggled(NULL, d);

  /* Settings */
  frame = gimp_frame_new("Settings");
  gtk_box_pack_start(GTK_BOX(d->settings), frame, FALSE, FALSE, 0);
  table = gtk_table_new(6, 3, FALSE);
  gtk_table_set_col_spacings(GTK_TABLE(table), 6);
  gtk_table_set_row_spacings(GTK_TABLE(table), 6);
  gtk_container_add(GTK_CONTAINER(frame), table);

  d->iterations = ns_spin(v->iterations, 1, NS_MAX_ITERATIONS, 10, 0);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 0, "_Iterations:", 0.0, 0.5, d->iterations, 1,
                            TRUE);
  d->size = ns_spin(v->size, 0, NS_MAX_SIZE, 16, 0);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 1, "Si_ze (px):", 0.0, 0.5, d->size, 1, TRUE);
  GtkWidget *hint = gtk_label_new("longest side; 0 = the layer's own size");
  gimp_label_set_attributes(GTK_LABEL(hint), PANGO_ATTR_STYLE, PANGO_STYLE_ITALIC, -1);
  gtk_misc_set_alignment(GTK_MISC(hint), 0.0, 0.5);
  gtk_table_attach(GTK_TABLE(table), hint, 2, 3, 1, 2, GTK_FILL, GTK_FILL, 0, 0);
  gtk_widget_show(hint);
  d->content_weight = ns_spin(v->content_weight, 0, 1e6, 0.5, 2);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 2, "Co_ntent weight:", 0.0, 0.5,
                            d->content_weight, 1, TRUE);
  d->style_weight = ns_spin(v->style_weight, 0, 1e6, 10, 1);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 3, "_Style weight:", 0.0, 0.5, d->style_weight,
                            1, TRUE);
  d->tv_weight = ns_spin(v->tv_weight, 0, 1e3, 0.005, 4);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 4, "Smoothness (_TV) weight:", 0.0, 0.5,
                            d->tv_weight, 1, TRUE);
  d->preserve = gtk_check_button_new_with_mnemonic("_Preserve the layer's colours");
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(d->preserve), v->preserve_colors != 0);
  gtk_table_attach(GTK_TABLE(table), d->preserve, 0, 3, 5, 6, GTK_FILL, GTK_FILL, 0, 0);

  /* Progress: GimpProgressBar takes over this plug-in's gimp_progress_* calls, so the core's
   * progress shows here, next to the Cancel button that stops the engine. */
  GtkWidget *progress = gimp_progress_bar_new();
  gtk_progress_bar_set_text(GTK_PROGRESS_BAR(progress), " ");
  gtk_box_pack_start(GTK_BOX(main_vbox), progress, FALSE, FALSE, 0);

  gtk_widget_show_all(d->dialog);
}

static void ns_dialog_read(NsDialog *d, NsVals *v, NsParams *p) {
  gchar *file = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(d->file_chooser));
  g_strlcpy(v->style_file, file ? file : "", sizeof v->style_file);
  g_free(file);
  v->style_from_image = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->image_radio));
  v->size = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->size));
  v->iterations = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->iterations));
  v->content_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->content_weight));
  v->style_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->style_weight));
  v->tv_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->tv_weight));
  v->preserve_colors = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->preserve));
  gint style_image = -1;
  if (v->style_from_image)
    gimp_int_combo_box_get_active(GIMP_INT_COMBO_BOX(d->image_combo), &style_image);
  p->style_file = v->style_file;
  p->style_image = v->style_from_image ? style_image : -1;
}

static void ns_fill_params(const NsVals *v, NsParams *p) {
  p->style_file = v->style_file;
  p->style_image = -1;
  p->size = v->size;
  p->iterations = v->iterations;
  p->content_weight = v->content_weight;
  p->style_weight = v->style_weight;
  p->tv_weight = v->tv_weight;
  p->preserve_colors = v->preserve_colors != 0;
}

/* Shows the dialog and, on OK, runs the filter with the dialog showing progress. */
static NsRunStatus ns_run_interactive(gint32 image, gint32 drawable, NsVals *v, gint32 *layer,
                                      GError **error) {
  NsDialog d;
  memset(&d, 0, sizeof d);
  gimp_ui_init(NS_BINARY_NAME, FALSE);
  ns_dialog_build(&d, v, image);

  NsParams p;
  for (;;) {
    if (gimp_dialog_run(GIMP_DIALOG(d.dialog)) != GTK_RESPONSE_OK) {
      gtk_widget_destroy(d.dialog);
      return NS_RUN_CANCELLED;
    }
    ns_fill_params(v, &p);
    ns_dialog_read(&d, v, &p);
    if (v->style_from_image ? p.style_image > 0 : v->style_file[0] != '\0') break;
    g_message(v->style_from_image ? "Choose an open image as the style."
                                  : "Choose a style file (a painting).");
  }
  ns_fill_params(v, &p);
  ns_dialog_read(&d, v, &p);
  gimp_set_data(NS_DATA_KEY, v, sizeof *v);

  gtk_widget_set_sensitive(d.settings, FALSE);
  gtk_dialog_set_response_sensitive(GTK_DIALOG(d.dialog), GTK_RESPONSE_OK, FALSE);
  d.running = TRUE;
  NsUi ui = {TRUE, ns_pump, &d, &d.cancel};
  NsRunStatus status = ns_core_run(image, drawable, &p, &ui, layer, error);
  d.running = FALSE;
  gtk_widget_destroy(d.dialog);
  return status;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals) {
  static GimpParam values[2];
  (void)name;
  *nreturn_vals = 1;
  *return_vals = values;
  values[0].type = GIMP_PDB_STATUS;
  values[0].data.d_status = GIMP_PDB_SUCCESS;

  gegl_init(NULL, NULL);

  if (nparams < 3) {
    values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
    return;
  }
  GimpRunMode run_mode = param[0].data.d_int32;
  gint32 image = param[1].data.d_image;
  gint32 drawable = param[2].data.d_drawable;

  NsVals v = ns_defaults;
  gimp_get_data(NS_DATA_KEY, &v);
  v.style_file[sizeof v.style_file - 1] = '\0';

  NsRunStatus status;
  GError *error = NULL;
  gint32 layer = -1;
  if (run_mode == GIMP_RUN_NONINTERACTIVE) {
    if (nparams != 10) {
      values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
      return;
    }
    g_strlcpy(v.style_file, param[3].data.d_string ? param[3].data.d_string : "",
              sizeof v.style_file);
    v.size = param[4].data.d_int32;
    v.iterations = param[5].data.d_int32;
    v.content_weight = param[6].data.d_float;
    v.style_weight = param[7].data.d_float;
    v.tv_weight = param[8].data.d_float;
    v.preserve_colors = param[9].data.d_int32 != 0;
    v.style_from_image = 0;
  }

  if (run_mode == GIMP_RUN_INTERACTIVE) {
    status = ns_run_interactive(image, drawable, &v, &layer, &error);
  } else {
    NsParams p;
    ns_fill_params(&v, &p);
    status = ns_core_run(image, drawable, &p, NULL, &layer, &error);
    if (status == NS_RUN_OK && run_mode == GIMP_RUN_NONINTERACTIVE)
      gimp_set_data(NS_DATA_KEY, &v, sizeof v);
  }

  if (status == NS_RUN_OK) {
    if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
    *nreturn_vals = 2;
    values[1].type = GIMP_PDB_LAYER;
    values[1].data.d_layer = layer;
  } else if (status == NS_RUN_CANCELLED) {
    values[0].data.d_status = GIMP_PDB_CANCEL;
  } else {
    static gchar *message = NULL;
    g_free(message);
    message = g_strdup(error ? error->message : "Neural Style failed");
    values[0].data.d_status = GIMP_PDB_EXECUTION_ERROR;
    *nreturn_vals = 2;
    values[1].type = GIMP_PDB_STRING;
    values[1].data.d_string = message;
  }
  g_clear_error(&error);
}
