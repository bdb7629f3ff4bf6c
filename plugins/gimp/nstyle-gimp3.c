/*
 * nstyle GIMP 3.0 front end (libgimp-3.0): a GimpPlugIn subclass with one GimpImageProcedure,
 * plug-in-nstyle; its dialog (a GimpProcedureDialog) and the shared core (nstyle-core.c) do the
 * rest. The procedure's arguments carry the same names as GIMP 2.10's; GIMP remembers them
 * between runs (the procedure config).
 */

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "nstyle-core.h"

#define NSTYLE_TYPE_PLUG_IN (nstyle_plug_in_get_type())
G_DECLARE_FINAL_TYPE(NstylePlugIn, nstyle_plug_in, NSTYLE, PLUG_IN, GimpPlugIn)

struct _NstylePlugIn {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE(NstylePlugIn, nstyle_plug_in, GIMP_TYPE_PLUG_IN)

GIMP_MAIN(NSTYLE_TYPE_PLUG_IN)

static GimpValueArray *ns_run(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                              GimpDrawable **drawables, GimpProcedureConfig *config,
                              gpointer run_data);

static GList *ns_query_procedures(GimpPlugIn *plug_in) {
  (void)plug_in;
  return g_list_append(NULL, g_strdup(NS_PROC_NAME));
}

/* No translations: without this GIMP 3 looks for a locale folder next to the plug-in. */
static gboolean ns_set_i18n(GimpPlugIn *plug_in, const gchar *procedure_name,
                            gchar **gettext_domain, gchar **catalog_dir) {
  (void)plug_in;
  (void)procedure_name;
  (void)gettext_domain;
  (void)catalog_dir;
  return FALSE;
}

static GimpProcedure *ns_create_procedure(GimpPlugIn *plug_in, const gchar *name) {
  if (g_strcmp0(name, NS_PROC_NAME) != 0) return NULL;
  GimpProcedure *procedure =
      gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, ns_run, NULL, NULL);
  gimp_procedure_set_image_types(procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask(procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  gimp_procedure_set_menu_label(procedure, "_Neural Style...");
  gimp_procedure_add_menu_path(procedure, "<Image>/Filters/Artistic");
  gimp_procedure_set_documentation(
      procedure, "Paint the layer in the style of a painting (neural style transfer)",
      "Adds a new layer above the drawable: its content redrawn with the textures and colours "
      "of the style image (Gatys et al., VGG-19). A selection limits the effect through a "
      "layer mask; alpha is kept. The source layer is never changed. Engine: libnstyle; "
      "NSTYLE_DEVICE and NSTYLE_OPTIONS (key=value;...) in the environment tune it.",
      NS_PROC_NAME);
  gimp_procedure_set_attribution(procedure, "nstyle authors", "nstyle authors", "2025");

  gimp_procedure_add_string_argument(procedure, "style-file", "Style _file",
                                     "Path of the style image (a painting), any format GIMP opens",
                                     "", G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(procedure, "size", "Si_ze (px)",
                                  "Longest side worked on, 16..16384; 0 = the layer's own size",
                                  0, NS_MAX_SIZE, NS_DEFAULT_SIZE, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(procedure, "iterations", "_Iterations",
                                  "Optimisation iterations", 1, NS_MAX_ITERATIONS,
                                  NS_DEFAULT_ITERATIONS, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument(procedure, "content-weight", "Co_ntent weight",
                                     "Weight of the content loss", 0.0, NS_MAX_WEIGHT,
                                     NS_DEFAULT_CONTENT_WEIGHT, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument(procedure, "style-weight", "_Style weight",
                                     "Weight of the style loss", 0.0, NS_MAX_WEIGHT,
                                     NS_DEFAULT_STYLE_WEIGHT, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument(procedure, "tv-weight", "Smoothness (_TV) weight",
                                     "Weight of the total-variation smoothing", 0.0,
                                     NS_MAX_WEIGHT, NS_DEFAULT_TV_WEIGHT, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(procedure, "preserve-colors", "_Preserve the layer's colours",
                                  "Keep the layer's colours (0/1)", 0, 1, 0, G_PARAM_READWRITE);
  /* Dialog only: whether the style came from an open image last time. */
  gimp_procedure_add_boolean_aux_argument(procedure, "style-from-image", "Style from an open image",
                                          "Use one of the open images as the style", FALSE,
                                          G_PARAM_READWRITE);
  gimp_procedure_add_layer_return_value(procedure, "layer", "Layer", "The new stylised layer",
                                        FALSE, G_PARAM_READWRITE);
  return procedure;
}

static void nstyle_plug_in_class_init(NstylePlugInClass *klass) {
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS(klass);
  plug_in_class->query_procedures = ns_query_procedures;
  plug_in_class->create_procedure = ns_create_procedure;
  plug_in_class->set_i18n = ns_set_i18n;
}

static void nstyle_plug_in_init(NstylePlugIn *self) { (void)self; }

/* ---------------------------------------------------------------------------------------- */
/* The dialog: the procedure's settings plus the style chooser; after OK it stays open with a
 * progress bar and a Cancel that stops the engine. */

typedef struct {
  GtkWidget *dialog;
  GimpProcedureConfig *config;
  GtkWidget *file_radio, *image_radio, *file_chooser, *image_combo, *style_frame, *settings;
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

static gboolean ns_dialog_delete(GtkWidget *widget, GdkEvent *event, NsDialog *d) {
  (void)widget;
  (void)event;
  if (!d->running) return FALSE;
  d->cancel = TRUE;
  return TRUE; /* the dialog goes when the engine has stopped */
}

static void ns_style_toggled(GtkToggleButton *button, NsDialog *d) {
  (void)button;
  gboolean from_image = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->image_radio));
  gtk_widget_set_sensitive(d->file_chooser, !from_image);
  gtk_widget_set_sensitive(d->image_combo, from_image);
  g_object_set(d->config, "style-from-image", from_image, NULL);
}

static void ns_file_set(GtkFileChooserButton *button, NsDialog *d) {
  gchar *path = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(button));
  g_object_set(d->config, "style-file", path ? path : "", NULL);
  g_free(path);
}

static void ns_dialog_build(NsDialog *d, GimpProcedure *procedure, GimpImage *image) {
  gchar *style_file = NULL;
  gboolean from_image = FALSE;
  g_object_get(d->config, "style-file", &style_file, "style-from-image", &from_image, NULL);

  d->dialog = gimp_procedure_dialog_new(procedure, d->config, "Neural Style");
  g_signal_connect(d->dialog, "response", G_CALLBACK(ns_dialog_response), d);
  g_signal_connect(d->dialog, "delete-event", G_CALLBACK(ns_dialog_delete), d);
  GtkWidget *content = gtk_dialog_get_content_area(GTK_DIALOG(d->dialog));

  /* Style: a painting file, or one of the open images. */
  d->style_frame = gimp_frame_new("Style");
  GtkWidget *grid = gtk_grid_new();
  gtk_grid_set_row_spacing(GTK_GRID(grid), 6);
  gtk_grid_set_column_spacing(GTK_GRID(grid), 6);
  gtk_container_add(GTK_CONTAINER(d->style_frame), grid);
  d->file_radio = gtk_radio_button_new_with_mnemonic(NULL, "Painting _file:");
  d->image_radio =
      gtk_radio_button_new_with_mnemonic_from_widget(GTK_RADIO_BUTTON(d->file_radio), "Open i_mage:");
  d->file_chooser =
      gtk_file_chooser_button_new("Choose the style (a painting)", GTK_FILE_CHOOSER_ACTION_OPEN);
  GtkFileFilter *filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, "Images");
  gtk_file_filter_add_pixbuf_formats(filter);
  gtk_file_filter_add_mime_type(filter, "image/*");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d->file_chooser), filter);
  filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, "All files");
  gtk_file_filter_add_pattern(filter, "*");
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d->file_chooser), filter);
  if (style_file && *style_file)
    gtk_file_chooser_set_filename(GTK_FILE_CHOOSER(d->file_chooser), style_file);
  gtk_widget_set_hexpand(d->file_chooser, TRUE);
  g_signal_connect(d->file_chooser, "file-set", G_CALLBACK(ns_file_set), d);
  d->image_combo = gimp_image_combo_box_new(NULL, NULL, NULL);
  gimp_int_combo_box_set_active(GIMP_INT_COMBO_BOX(d->image_combo), gimp_image_get_id(image));
  gtk_grid_attach(GTK_GRID(grid), d->file_radio, 0, 0, 1, 1);
  gtk_grid_attach(GTK_GRID(grid), d->file_chooser, 1, 0, 1, 1);
  gtk_grid_attach(GTK_GRID(grid), d->image_radio, 0, 1, 1, 1);
  gtk_grid_attach(GTK_GRID(grid), d->image_combo, 1, 1, 1, 1);
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(from_image ? d->image_radio : d->file_radio), TRUE);
  g_signal_connect(d->file_radio, "toggled", G_CALLBACK(ns_style_toggled), d);
  ns_style_toggled(NULL, d);
  g_free(style_file);

  /* The settings: labelled spin buttons made by the procedure dialog from the arguments, in
   * the procedure's argument order. The weights get enough digits to show the TV default (0.01);
   * with one digit it would display, and could be saved, as 0.0. */
  static const struct { const char *name; gint digits; } fields[] = {
    {"size", 0}, {"iterations", 0}, {"content-weight", 2}, {"style-weight", 1}, {"tv-weight", 4},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
    GtkWidget *spin = gimp_procedure_dialog_get_widget(GIMP_PROCEDURE_DIALOG(d->dialog),
                                                       fields[i].name, GIMP_TYPE_LABEL_SPIN);
    if (spin && fields[i].digits > 0)
      gimp_label_spin_set_digits(GIMP_LABEL_SPIN(spin), fields[i].digits);
  }
  d->settings = gimp_procedure_dialog_fill_box(GIMP_PROCEDURE_DIALOG(d->dialog), "ns-settings",
                                               "size", "iterations", "content-weight",
                                               "style-weight", "tv-weight", NULL);
  gimp_procedure_dialog_fill(GIMP_PROCEDURE_DIALOG(d->dialog), "ns-settings", NULL);

  /* preserve-colors is an int 0/1 (as in GIMP 2.10): a check button bound to it. */
  GtkWidget *preserve = gtk_check_button_new_with_mnemonic("_Preserve the layer's colours");
  g_object_bind_property(d->config, "preserve-colors", preserve, "active",
                         G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_box_pack_start(GTK_BOX(d->settings), preserve, FALSE, FALSE, 0);

  gtk_box_pack_start(GTK_BOX(content), d->style_frame, FALSE, FALSE, 0);
  gtk_box_reorder_child(GTK_BOX(content), d->style_frame, 0);

  /* GimpProgressBar takes this plug-in's gimp_progress_* calls: the core's progress shows here. */
  GtkWidget *progress = gimp_progress_bar_new();
  gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(progress), TRUE);
  gtk_progress_bar_set_text(GTK_PROGRESS_BAR(progress), " ");
  gtk_box_pack_end(GTK_BOX(content), progress, FALSE, FALSE, 0);

  gtk_widget_show_all(d->dialog);
}

static NsRunStatus ns_run_interactive(GimpProcedure *procedure, GimpImage *image,
                                      GimpDrawable *drawable, GimpProcedureConfig *config,
                                      NsParams *p, GimpLayer **layer, GError **error) {
  NsDialog d = {0};
  d.config = config;
  gimp_ui_init(NS_BINARY_NAME);
  ns_dialog_build(&d, procedure, image);

  gchar *style_file = NULL;
  for (;;) {
    if (!gimp_procedure_dialog_run(GIMP_PROCEDURE_DIALOG(d.dialog))) {
      gtk_widget_destroy(d.dialog);
      return NS_RUN_CANCELLED;
    }
    gboolean from_image = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d.image_radio));
    p->style_image = NULL;
    if (from_image) {
      gint id = -1;
      if (gimp_int_combo_box_get_active(GIMP_INT_COMBO_BOX(d.image_combo), &id))
        p->style_image = gimp_image_get_by_id(id);
      if (p->style_image) break;
      g_message("Choose an open image as the style.");
    } else {
      g_free(style_file);
      g_object_get(config, "style-file", &style_file, NULL);
      if (style_file && *style_file) break;
      g_message("Choose a style file (a painting).");
    }
  }
  g_object_get(config, "size", &p->size, "iterations", &p->iterations, "content-weight",
               &p->content_weight, "style-weight", &p->style_weight, "tv-weight", &p->tv_weight,
               "preserve-colors", &p->preserve_colors, NULL);
  p->style_file = style_file;

  gtk_widget_set_sensitive(d.style_frame, FALSE);
  gtk_widget_set_sensitive(d.settings, FALSE);
  gtk_dialog_set_response_sensitive(GTK_DIALOG(d.dialog), GTK_RESPONSE_OK, FALSE);
  d.running = TRUE;
  NsUi ui = {TRUE, ns_pump, &d, &d.cancel};
  NsRunStatus status = ns_core_run(image, drawable, p, &ui, layer, error);
  d.running = FALSE;
  gtk_widget_destroy(d.dialog);
  g_free(style_file);
  p->style_file = NULL;
  return status;
}

static GimpValueArray *ns_run(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                              GimpDrawable **drawables, GimpProcedureConfig *config,
                              gpointer run_data) {
  (void)run_data;
  GError *error = NULL;
  if (!drawables || !drawables[0] || drawables[1]) {
    g_set_error(&error, GIMP_PLUG_IN_ERROR, 0, "Neural Style works on exactly one layer");
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CALLING_ERROR, error);
  }
  GimpDrawable *drawable = drawables[0];

  NsParams p = {0};
  GimpLayer *layer = NULL;
  NsRunStatus status;
  if (run_mode == GIMP_RUN_INTERACTIVE) {
    status = ns_run_interactive(procedure, image, drawable, config, &p, &layer, &error);
  } else {
    gchar *style_file = NULL;
    g_object_get(config, "style-file", &style_file, "size", &p.size, "iterations", &p.iterations,
                 "content-weight", &p.content_weight, "style-weight", &p.style_weight,
                 "tv-weight", &p.tv_weight, "preserve-colors", &p.preserve_colors, NULL);
    p.style_file = style_file;
    p.style_image = NULL;
    status = ns_core_run(image, drawable, &p, NULL, &layer, &error);
    g_free(style_file);
  }

  if (status == NS_RUN_CANCELLED)
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, NULL);
  if (status != NS_RUN_OK)
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_EXECUTION_ERROR, error);
  if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
  GimpValueArray *values = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_LAYER(values, 1, layer);
  return values;
}
