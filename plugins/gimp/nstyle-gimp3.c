/*
 * nstyle GIMP 3.0 front end (libgimp-3.0): a GimpPlugIn subclass with one GimpImageProcedure,
 * plug-in-nstyle; its dialog (a GimpProcedureDialog) and the shared core (nstyle-core.c) do the
 * rest. The procedure's arguments carry the same names as GIMP 2.10's and come from the same
 * table (nstyle-ui.c), with libnstyle's ranges and defaults; GIMP remembers them between runs
 * (the procedure config).
 */

#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "nstyle-core.h"
#include "nstyle-ui.h"

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

/* The settings arguments, from the shared table: ranges and defaults from libnstyle's option
 * table (this process has the library loaded), descriptions (the dialog's tooltips) too. */
static void ns_add_arguments(GimpProcedure *procedure) {
  for (guint i = 0; i < NS_N_ARGS; i++) {
    const NsArg *a = &ns_args[i];
    gchar *help = ns_ui_arg_help(i);
    gdouble lower = 0, upper = 0, value = 0;
    if (a->type == NS_ARG_TYPE_INT || a->type == NS_ARG_TYPE_DOUBLE)
      ns_ui_arg_range(i, &lower, &upper, &value);
    switch (a->type) {
    case NS_ARG_TYPE_STRING:
      gimp_procedure_add_string_argument(procedure, a->name, a->label, help,
                                         i == NS_ARG_DEVICE ? NS_DEVICE_AUTO : "",
                                         G_PARAM_READWRITE);
      break;
    case NS_ARG_TYPE_INT:
      gimp_procedure_add_int_argument(procedure, a->name, a->label, help, (gint)lower,
                                      (gint)upper, (gint)value, G_PARAM_READWRITE);
      break;
    case NS_ARG_TYPE_DOUBLE:
      gimp_procedure_add_double_argument(procedure, a->name, a->label, help, lower, upper, value,
                                         G_PARAM_READWRITE);
      break;
    case NS_ARG_TYPE_CHOICE: {
      /* The option's words, named for painters; the default is the library's. */
      GimpChoice *choice = gimp_choice_new();
      gchar **words = ns_ui_arg_words(i);
      for (gint w = 0; words[w]; w++)
        gimp_choice_add(choice, words[w], w, ns_ui_word_label(words[w]), NULL);
      g_strfreev(words);
      gimp_procedure_add_choice_argument(procedure, a->name, a->label, help, choice,
                                         ns_option_default_text(a->option), G_PARAM_READWRITE);
      break;
    }
    case NS_ARG_TYPE_DRAWABLE:
      gimp_procedure_add_drawable_argument(procedure, a->name, a->label, help, TRUE,
                                           G_PARAM_READWRITE);
      break;
    }
    g_free(help);
  }
}

static GimpProcedure *ns_create_procedure(GimpPlugIn *plug_in, const gchar *name) {
  if (g_strcmp0(name, NS_PROC_NAME) != 0) return NULL;
  GimpProcedure *procedure =
      gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, ns_run, NULL, NULL);
  gimp_procedure_set_image_types(procedure, NS_UI_IMAGE_TYPES);
  gimp_procedure_set_sensitivity_mask(procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  gimp_procedure_set_menu_label(procedure, NS_UI_MENU_LABEL);
  gimp_procedure_add_menu_path(procedure, NS_UI_MENU_PATH);
  gimp_procedure_set_documentation(procedure, NS_UI_BLURB, ns_ui_help, NS_PROC_NAME);
  gimp_procedure_set_attribution(procedure, NS_UI_AUTHOR, NS_UI_AUTHOR, NS_UI_DATE);
  ns_add_arguments(procedure);
  /* Dialog only: whether the style came from an open image last time. */
  gimp_procedure_add_boolean_aux_argument(procedure, "style-from-image", "Style from an open image",
                                          "Use one of the open images as the style", FALSE,
                                          G_PARAM_READWRITE);
  /* Dialog only: where the region came from and what was outside it last time. */
  gimp_procedure_add_int_aux_argument(procedure, "region-source", "Region source",
                                      "0 the selection, 1 a channel, 2 the layer's mask", 0, 2,
                                      NS_REGION_SELECTION, G_PARAM_READWRITE);
  gimp_procedure_add_int_aux_argument(procedure, "outside-from", "Outside the region",
                                      "0 keep the photo, 1 a painting file, 2 an open image", 0,
                                      2, NS_OUTSIDE_PHOTO, G_PARAM_READWRITE);
  gimp_procedure_add_layer_return_value(procedure, NS_UI_RESULT_NAME, "Layer", NS_UI_RESULT_HELP,
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

#define NS_SETTINGS_WIDTH 480 /* px, the settings column */

typedef struct {
  GtkWidget *dialog;
  GimpProcedureConfig *config;
  GtkWidget *settings;
  NsStylePicker style;
  NsRegionPicker regions;
  GimpDrawable *drawable;
  NsUiPreview *preview;
  GtkWidget *device;
} NsDialog;

/* The strings an NsParams from the config points to (g_free each). */
typedef struct {
  gchar *style_file, *backbone, *outside_file, *device;
} NsConfigStrings;

static void ns_params_from_config(GimpProcedureConfig *config, NsParams *p, NsConfigStrings *own);
static void ns_config_strings_free(NsConfigStrings *own);

/* The style choice lives in the config too, so GIMP remembers it (and Save Settings keeps it). */
static void ns_style_to_config(GtkWidget *widget, NsDialog *d) {
  (void)widget;
  gchar *file = ns_ui_style_picker_file(&d->style);
  g_object_set(d->config, "style-from-image", ns_ui_style_picker_from_image(&d->style), NULL);
  if (file) g_object_set(d->config, ns_args[NS_ARG_STYLE_FILE].name, file, NULL);
  g_free(file);
}

/* The region choice too (the channel and open image are not remembered: their IDs belong to
 * this session). */
static void ns_regions_to_config(NsDialog *d) {
  NsRegionChoice c;
  gchar *file = NULL;
  ns_ui_region_picker_get(&d->regions, &c, &file);
  g_object_set(d->config, ns_args[NS_ARG_REGION_MODE].name, c.on ? 1 : 0, "region-source",
               (gint)c.source, "outside-from", (gint)c.outside, NULL);
  g_object_set(d->config, ns_args[NS_ARG_OUTSIDE_STYLE_FILE].name,
               c.outside == NS_OUTSIDE_FILE && file ? file : "", NULL);
  g_free(file);
}

/* The spin buttons the procedure dialog makes from the arguments, with the shared increments
 * and digits (enough digits for the TV weight's default to show, and be saved, as it is). */
static void ns_tune_spins(GimpProcedureDialog *dialog) {
  for (guint i = NS_ARG_SIZE; i <= NS_ARG_STRENGTH; i++) {
    if (ns_args[i].type != NS_ARG_TYPE_INT && ns_args[i].type != NS_ARG_TYPE_DOUBLE) continue;
    if (i == NS_ARG_PRESERVE_COLORS) continue; /* a check button (ns_dialog_build) */
    GtkWidget *spin = i == NS_ARG_STRENGTH
                          ? gimp_procedure_dialog_get_scale_entry(dialog, ns_args[i].name, 1.0)
                          : gimp_procedure_dialog_get_widget(dialog, ns_args[i].name,
                                                             GIMP_TYPE_LABEL_SPIN);
    if (!spin) continue;
    gdouble step, page;
    guint digits;
    ns_ui_arg_steps(i, &step, &page, &digits);
    gimp_label_spin_set_increments(GIMP_LABEL_SPIN(spin), step, page);
    gimp_label_spin_set_digits(GIMP_LABEL_SPIN(spin), digits);
  }
}

/* The preview's view of the dialog (NsUiReadParams). */
static gboolean ns_preview_params(gpointer data, NsParams *p, GPtrArray *keep) {
  NsDialog *d = data;
  NsConfigStrings own = {0};
  ns_params_from_config(d->config, p, &own);
  g_ptr_array_add(keep, own.style_file);
  g_ptr_array_add(keep, own.backbone);
  g_ptr_array_add(keep, own.outside_file);
  g_ptr_array_add(keep, own.device);
  ns_ui_region_picker_params(&d->regions, p, keep);
  if (ns_ui_style_picker_from_image(&d->style)) {
    p->style_image = gimp_image_get_by_id(ns_ui_style_picker_image_id(&d->style));
    return p->style_image != NULL;
  }
  return own.style_file && *own.style_file;
}

/* The device choice lives in the config (GIMP remembers it; the preview restarts on its notify). */
static void ns_device_to_config(GtkWidget *combo, NsDialog *d) {
  gchar *device = ns_ui_device_get(combo);
  g_object_set(d->config, ns_args[NS_ARG_DEVICE].name, device, NULL);
  g_free(device);
}

static void ns_set_strength(gpointer data, gdouble value) {
  g_object_set(((NsDialog *)data)->config, ns_args[NS_ARG_STRENGTH].name, value, NULL);
}

static void ns_dialog_build(NsDialog *d, GimpProcedure *procedure, GimpImage *image) {
  gchar *style_file = NULL, *outside_file = NULL, *device = NULL;
  gboolean from_image = FALSE;
  gint region_mode = 0, region_source = 0, outside_from = 0;
  g_object_get(d->config, ns_args[NS_ARG_STYLE_FILE].name, &style_file, "style-from-image",
               &from_image, ns_args[NS_ARG_REGION_MODE].name, &region_mode, "region-source",
               &region_source, "outside-from", &outside_from,
               ns_args[NS_ARG_OUTSIDE_STYLE_FILE].name, &outside_file,
               ns_args[NS_ARG_DEVICE].name, &device, NULL);

  d->dialog = gimp_procedure_dialog_new(procedure, d->config, NS_UI_TITLE);
  GimpProcedureDialog *pd = GIMP_PROCEDURE_DIALOG(d->dialog);
  GtkWidget *content = gtk_dialog_get_content_area(GTK_DIALOG(d->dialog));

  ns_ui_style_picker_init(&d->style, style_file, from_image, gimp_image_get_id(image));
  g_free(style_file);
  g_signal_connect(d->style.file_chooser, "file-set", G_CALLBACK(ns_style_to_config), d);
  g_signal_connect(d->style.file_radio, "toggled", G_CALLBACK(ns_style_to_config), d);
  NsRegionChoice regions = {region_mode != 0, region_source, -1, outside_from, outside_file, -1};
  ns_ui_region_picker_init(&d->regions, image, d->drawable, &regions);
  g_free(outside_file);

  /* The settings: widgets made by the procedure dialog from the arguments: strength (a
   * slider), quality (the backbone's words), size, iterations; the raw loss weights under
   * Advanced. */
  ns_tune_spins(pd);
  gimp_procedure_dialog_get_label(pd, "ns-advanced-title", "Advanced: loss weights", FALSE,
                                  FALSE);
  gimp_procedure_dialog_fill_box(pd, "ns-advanced", ns_args[NS_ARG_CONTENT_WEIGHT].name,
                                 ns_args[NS_ARG_STYLE_WEIGHT].name,
                                 ns_args[NS_ARG_TV_WEIGHT].name, NULL);
  gimp_procedure_dialog_fill_expander(pd, "ns-advanced-expander", "ns-advanced-title", FALSE,
                                      "ns-advanced");
  d->settings = gimp_procedure_dialog_fill_box(pd, "ns-settings", ns_args[NS_ARG_STRENGTH].name,
                                               ns_args[NS_ARG_BACKBONE].name,
                                               ns_args[NS_ARG_SIZE].name,
                                               ns_args[NS_ARG_ITERATIONS].name,
                                               "ns-advanced-expander", NULL);

  /* preserve-colors is an int 0/1 (as in GIMP 2.10): a check button bound to it. */
  const NsArg *preserve_arg = &ns_args[NS_ARG_PRESERVE_COLORS];
  GtkWidget *preserve = gtk_check_button_new_with_mnemonic(preserve_arg->label);
  gchar *help = ns_ui_arg_help(NS_ARG_PRESERVE_COLORS);
  gtk_widget_set_tooltip_text(preserve, help);
  g_free(help);
  g_object_bind_property(d->config, preserve_arg->name, preserve, "active",
                         G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_box_pack_start(GTK_BOX(d->settings), preserve, FALSE, FALSE, 0);

  /* The device: the library's list, not a text field (the argument is a string so that a
   * script can name any device, and the list is read when the dialog opens, not when GIMP
   * registers the plug-in). */
  GtkWidget *device_row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *device_label = gtk_label_new_with_mnemonic(ns_args[NS_ARG_DEVICE].label);
  gtk_label_set_xalign(GTK_LABEL(device_label), 0.0);
  d->device = ns_ui_device_combo(device);
  g_free(device);
  gtk_widget_set_hexpand(d->device, TRUE);
  gtk_label_set_mnemonic_widget(GTK_LABEL(device_label), d->device);
  gtk_box_pack_start(GTK_BOX(device_row), device_label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(device_row), d->device, TRUE, TRUE, 0);
  gtk_box_pack_start(GTK_BOX(d->settings), device_row, FALSE, FALSE, 0);
  GtkWidget *note = ns_ui_device_override_note();
  if (note) gtk_box_pack_start(GTK_BOX(d->settings), note, FALSE, FALSE, 0);
  ns_device_to_config(d->device, d); /* an empty remembered device reads as auto */
  g_signal_connect(d->device, "changed", G_CALLBACK(ns_device_to_config), d);
  GtkWidget *diagnostics = ns_ui_diagnostics_button();
  gtk_widget_set_halign(diagnostics, GTK_ALIGN_START);
  gtk_box_pack_end(GTK_BOX(d->settings), diagnostics, FALSE, FALSE, 0);

  /* The preview: restarted whenever a setting or the style changes. */
  d->preview = ns_ui_preview_new(image, d->drawable, ns_preview_params, d);
  ns_ui_preview_set_test(d->preview, d->dialog, &d->style, ns_set_strength, d);
  g_signal_connect_swapped(d->config, "notify", G_CALLBACK(ns_ui_preview_changed), d->preview);
  g_signal_connect_swapped(d->style.file_radio, "toggled", G_CALLBACK(ns_ui_preview_changed),
                           d->preview);
  g_signal_connect_swapped(d->style.image_combo, "changed", G_CALLBACK(ns_ui_preview_changed),
                           d->preview);
  ns_ui_region_picker_connect(&d->regions, G_CALLBACK(ns_ui_preview_changed), d->preview);

  /* Side by side, as in GIMP 2.10: what paints where (the style and the regions), how (the
   * settings), the preview. Stacked, the dialog was taller than a laptop's screen (issue 26),
   * and GTK 3's rows are taller than GTK 2's, so the regions get a column of their own here.
   * The settings box is packed here rather than by gimp_procedure_dialog_fill, which can only
   * stack; the dialog keeps its own reference to it, hence the one taken here (as fill takes
   * one). */
  GtkWidget *what = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
  gtk_box_pack_start(GTK_BOX(what), d->style.frame, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(what), d->regions.frame, FALSE, FALSE, 0);
  GtkWidget *how = gimp_frame_new("Settings");
  gtk_container_add(GTK_CONTAINER(how), g_object_ref(d->settings));
  /* Wide enough for the strength slider to be one (its natural width is a knob's). */
  gtk_widget_set_size_request(how, NS_SETTINGS_WIDTH, -1);
  GtkWidget *columns = ns_ui_columns(what, how, ns_ui_preview_widget(d->preview), NULL);
  gtk_box_pack_start(GTK_BOX(content), columns, TRUE, TRUE, 0);
  gtk_box_reorder_child(GTK_BOX(content), columns, 0);
  gtk_box_pack_end(GTK_BOX(content), ns_ui_progress_bar_new(), FALSE, FALSE, 0);
  gtk_widget_show_all(d->dialog);
}

static void ns_config_strings_free(NsConfigStrings *own) {
  g_free(own->style_file);
  g_free(own->backbone);
  g_free(own->outside_file);
  g_free(own->device);
  memset(own, 0, sizeof *own);
}

/* The run's settings from the procedure config, pointing into *own. */
static void ns_params_from_config(GimpProcedureConfig *config, NsParams *p, NsConfigStrings *own) {
  g_object_get(config, ns_args[NS_ARG_STYLE_FILE].name, &own->style_file,
               ns_args[NS_ARG_SIZE].name, &p->size,
               ns_args[NS_ARG_ITERATIONS].name, &p->iterations,
               ns_args[NS_ARG_CONTENT_WEIGHT].name, &p->content_weight,
               ns_args[NS_ARG_STYLE_WEIGHT].name, &p->style_weight,
               ns_args[NS_ARG_TV_WEIGHT].name, &p->tv_weight,
               ns_args[NS_ARG_PRESERVE_COLORS].name, &p->preserve_colors,
               ns_args[NS_ARG_STRENGTH].name, &p->strength,
               ns_args[NS_ARG_BACKBONE].name, &own->backbone,
               ns_args[NS_ARG_DEVICE].name, &own->device, NULL);
  p->style_file = own->style_file;
  p->backbone = own->backbone;
  p->device = own->device;
  p->style_image = NULL;
  /* The region: the config keeps its own reference to the drawable while it lives. */
  gint region_mode = 0;
  GimpDrawable *region = NULL;
  g_object_get(config, ns_args[NS_ARG_REGION_MODE].name, &region_mode,
               ns_args[NS_ARG_REGION_DRAWABLE].name, &region,
               ns_args[NS_ARG_OUTSIDE_STYLE_FILE].name, &own->outside_file, NULL);
  if (region) g_object_unref(region);
  p->regions = region_mode != 0;
  p->region_source = region;
  p->outside_file = own->outside_file;
  p->outside_image = NULL;
}

static NsRunStatus ns_run_interactive(GimpProcedure *procedure, GimpImage *image,
                                      GimpDrawable *drawable, GimpProcedureConfig *config,
                                      GimpLayer **layer, GError **error) {
  NsDialog d = {0};
  d.config = config;
  d.drawable = drawable;
  gimp_ui_init(NS_BINARY_NAME);
  ns_dialog_build(&d, procedure, image);
  do {
    if (!gimp_procedure_dialog_run(GIMP_PROCEDURE_DIALOG(d.dialog))) {
      g_signal_handlers_disconnect_by_data(config, d.preview);
      ns_ui_preview_free(d.preview);
      gtk_widget_destroy(d.dialog);
      return NS_RUN_CANCELLED;
    }
  } while (!ns_ui_style_picker_ready(&d.style) || !ns_ui_region_picker_ready(&d.regions));
  /* The preview stops (thread joined, model freed) before the full run. */
  g_signal_handlers_disconnect_by_data(config, d.preview);
  ns_ui_preview_free(d.preview);
  d.preview = NULL;

  ns_style_to_config(NULL, &d);
  ns_regions_to_config(&d);

  NsParams p = {0};
  NsConfigStrings own = {0};
  ns_params_from_config(config, &p, &own);
  if (ns_ui_style_picker_from_image(&d.style))
    p.style_image = gimp_image_get_by_id(ns_ui_style_picker_image_id(&d.style));
  GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
  ns_ui_region_picker_params(&d.regions, &p, keep);
  GtkWidget *const insensitive[] = {d.style.frame, d.regions.frame, d.settings, NULL};
  NsRunStatus status = ns_ui_run_in_dialog(d.dialog, insensitive, image, drawable, &p, layer,
                                           error);
  g_ptr_array_free(keep, TRUE);
  ns_config_strings_free(&own);
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

  GimpLayer *layer = NULL;
  NsRunStatus status;
  if (run_mode == GIMP_RUN_INTERACTIVE) {
    status = ns_run_interactive(procedure, image, drawable, config, &layer, &error);
  } else {
    NsParams p = {0};
    NsConfigStrings own = {0};
    ns_params_from_config(config, &p, &own);
    status = ns_core_run(image, drawable, &p, NULL, &layer, &error);
    ns_config_strings_free(&own);
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
