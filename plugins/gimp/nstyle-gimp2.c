/*
 * nstyle GIMP 2.10 front end (libgimp-2.0): registers plug-in-nstyle, reads its arguments or
 * shows the dialog, and hands the work to the shared core (nstyle-core.c). The procedure's
 * text, argument table and GTK helpers are shared with GIMP 3.0's front end (nstyle-ui.c); the
 * defaults and ranges come from libnstyle's option table, which this process has loaded.
 */

#include <string.h>

#include <gegl.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "nstyle-core.h"
#include "nstyle-ui.h"

#define NS_DATA_KEY NS_PROC_NAME
/* plug-in-nstyle with more arguments: GIMP 2.10's Script-Fu wants all of a procedure's
 * arguments, so plug-in-nstyle keeps the ones it always had, plug-in-nstyle2 adds strength and
 * backbone (as it always did), plug-in-nstyle3 the regions (as it always did), plug-in-nstyle4
 * takes every argument (the device too). */
#define NS_PROC_NAME2 NS_PROC_NAME "2"
#define NS_PROC_NAME3 NS_PROC_NAME "3"
#define NS_PROC_NAME4 NS_PROC_NAME "4"

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
  gdouble strength;
  gchar backbone[32];
  /* Regions (NsRegionChoice); region_channel and outside_image are dialog only. */
  gint32 region_mode;
  gint32 region_source;  /* NsRegionSource */
  gint32 region_channel; /* channel ID, -1 none */
  gint32 region_drawable; /* non-interactive runs: -1 = the selection */
  gint32 outside;        /* NsOutsideSource */
  gchar outside_file[4096];
  gint32 outside_image;
  gchar device[64]; /* NsParams.device */
} NsVals;

/* The engine's defaults (no style chosen yet). */
static void ns_vals_defaults(NsVals *v) {
  memset(v, 0, sizeof *v);
  v->size = (gint32)ns_ui_arg_default(NS_ARG_SIZE);
  v->iterations = (gint32)ns_ui_arg_default(NS_ARG_ITERATIONS);
  v->content_weight = ns_ui_arg_default(NS_ARG_CONTENT_WEIGHT);
  v->style_weight = ns_ui_arg_default(NS_ARG_STYLE_WEIGHT);
  v->tv_weight = ns_ui_arg_default(NS_ARG_TV_WEIGHT);
  v->preserve_colors = (gint32)ns_ui_arg_default(NS_ARG_PRESERVE_COLORS);
  v->strength = ns_ui_arg_default(NS_ARG_STRENGTH);
  g_strlcpy(v->backbone, ns_option_default_text("backbone"), sizeof v->backbone);
  v->region_channel = v->region_drawable = v->outside_image = -1;
  g_strlcpy(v->device, NS_DEVICE_AUTO, sizeof v->device);
}

static void query(void);
static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = {NULL, NULL, query, run};

MAIN()

static GimpPDBArgType ns_pdb_type(NsArgType type) {
  switch (type) {
  case NS_ARG_TYPE_STRING:
  case NS_ARG_TYPE_CHOICE: return GIMP_PDB_STRING;
  case NS_ARG_TYPE_INT: return GIMP_PDB_INT32;
  case NS_ARG_TYPE_DOUBLE: return GIMP_PDB_FLOAT;
  case NS_ARG_TYPE_DRAWABLE: return GIMP_PDB_DRAWABLE;
  }
  return GIMP_PDB_STRING;
}

static void query(void) {
  /* GIMP 2.10's PDB keeps no defaults or ranges: the descriptions carry them. */
  GimpParamDef args[3 + NS_N_ARGS] = {
      {GIMP_PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"},
      {GIMP_PDB_IMAGE, "image", "Input image"},
      {GIMP_PDB_DRAWABLE, "drawable", "Input layer (its pixels are only read)"},
  };
  for (guint i = 0; i < NS_N_ARGS; i++) {
    args[3 + i].type = ns_pdb_type(ns_args[i].type);
    args[3 + i].name = (gchar *)ns_args[i].name;
    args[3 + i].description = ns_ui_arg_help(i);
  }
  static const GimpParamDef return_vals[] = {
      {GIMP_PDB_LAYER, NS_UI_RESULT_NAME, NS_UI_RESULT_HELP},
  };

  gimp_install_procedure(NS_PROC_NAME, NS_UI_BLURB, ns_ui_help, NS_UI_AUTHOR, NS_UI_AUTHOR,
                         NS_UI_DATE, NS_UI_MENU_LABEL, NS_UI_IMAGE_TYPES, GIMP_PLUGIN,
                         3 + NS_N_ARGS_V1, G_N_ELEMENTS(return_vals), args, return_vals);
  gimp_plugin_menu_register(NS_PROC_NAME, NS_UI_MENU_PATH);
  gimp_install_procedure(NS_PROC_NAME2, NS_UI_BLURB, ns_ui_help, NS_UI_AUTHOR, NS_UI_AUTHOR,
                         NS_UI_DATE, NULL, NS_UI_IMAGE_TYPES, GIMP_PLUGIN, 3 + NS_N_ARGS_V2,
                         G_N_ELEMENTS(return_vals), args, return_vals);
  gimp_install_procedure(NS_PROC_NAME3, NS_UI_BLURB, ns_ui_help, NS_UI_AUTHOR, NS_UI_AUTHOR,
                         NS_UI_DATE, NULL, NS_UI_IMAGE_TYPES, GIMP_PLUGIN, 3 + NS_N_ARGS_V3,
                         G_N_ELEMENTS(return_vals), args, return_vals);
  gimp_install_procedure(NS_PROC_NAME4, NS_UI_BLURB, ns_ui_help, NS_UI_AUTHOR, NS_UI_AUTHOR,
                         NS_UI_DATE, NULL, NS_UI_IMAGE_TYPES, GIMP_PLUGIN, G_N_ELEMENTS(args),
                         G_N_ELEMENTS(return_vals), args, return_vals);
  for (guint i = 0; i < NS_N_ARGS; i++) g_free(args[3 + i].description);
}

/* ---------------------------------------------------------------------------------------- */
/* The dialog: settings, then the run itself with a progress bar and a Cancel that stops it. */

typedef struct {
  GtkWidget *dialog;
  GtkWidget *settings;
  NsStylePicker style;
  NsRegionPicker regions;
  GtkWidget *spin[NS_N_ARGS]; /* the numeric arguments' spin buttons */
  GtkAdjustment *strength;
  GtkWidget *backbone;
  GtkWidget *preserve;
  GtkWidget *device;
  gint32 drawable;
  NsUiPreview *preview;
} NsDialog;

/* Row `row` of a settings table: the argument's label and spin button. */
static void ns_attach_spin(NsDialog *d, GtkWidget *table, gint row, guint arg, gdouble value) {
  d->spin[arg] = ns_ui_arg_spin(arg, value);
  gchar *label = g_strconcat(ns_args[arg].label, ":", NULL);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, row, label, 0.0, 0.5, d->spin[arg], 1, TRUE);
  g_free(label);
}

static GtkWidget *ns_settings_table(GtkWidget *parent, gint rows) {
  GtkWidget *table = gtk_table_new(rows, 3, FALSE);
  gtk_table_set_col_spacings(GTK_TABLE(table), 6);
  gtk_table_set_row_spacings(GTK_TABLE(table), 6);
  gtk_container_add(GTK_CONTAINER(parent), table);
  return table;
}

static void ns_changed(GtkWidget *widget, NsDialog *d) {
  (void)widget;
  ns_ui_preview_changed(d->preview);
}

static void ns_regions_changed(NsDialog *d) { ns_ui_preview_changed(d->preview); }

static void ns_dialog_read(NsDialog *d, NsVals *v, NsParams *p, GPtrArray *keep);

/* The preview's view of the dialog (NsUiReadParams). */
static gboolean ns_preview_params(gpointer data, NsParams *p, GPtrArray *keep) {
  NsDialog *d = data;
  NsVals *v = g_new0(NsVals, 1);
  g_ptr_array_add(keep, v);
  ns_dialog_read(d, v, p, keep);
  if (v->style_from_image) return p->style_image > 0;
  return v->style_file[0] != '\0';
}

static void ns_set_strength(gpointer data, gdouble value) {
  gtk_adjustment_set_value(((NsDialog *)data)->strength, value);
}

static void ns_dialog_build(NsDialog *d, const NsVals *v, gint32 image) {
  NsRegionChoice regions = {v->region_mode != 0, v->region_source, v->region_channel,
                            v->outside, v->outside_file, v->outside_image};
  d->dialog = gimp_dialog_new(NS_UI_TITLE, NS_BINARY_NAME, NULL, 0, gimp_standard_help_func,
                              NS_PROC_NAME, "_Cancel", GTK_RESPONSE_CANCEL, "_OK",
                              GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_alternative_button_order(GTK_DIALOG(d->dialog), GTK_RESPONSE_OK,
                                          GTK_RESPONSE_CANCEL, -1);
  gtk_dialog_set_default_response(GTK_DIALOG(d->dialog), GTK_RESPONSE_OK);
  gimp_window_set_transient(GTK_WINDOW(d->dialog));

  GtkWidget *main_vbox = gtk_vbox_new(FALSE, 12);
  gtk_container_set_border_width(GTK_CONTAINER(main_vbox), 12);
  gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(d->dialog))), main_vbox,
                     TRUE, TRUE, 0);
  d->settings = gtk_vbox_new(FALSE, 12);

  ns_ui_style_picker_init(&d->style, v->style_file, v->style_from_image, image);
  gtk_box_pack_start(GTK_BOX(d->settings), d->style.frame, FALSE, FALSE, 0);
  ns_ui_region_picker_init(&d->regions, image, d->drawable, &regions);
  gtk_box_pack_start(GTK_BOX(d->settings), d->regions.frame, FALSE, FALSE, 0);

  /* The painter's settings: strength, quality, size, iterations, colours. */
  GtkWidget *frame = gimp_frame_new("Settings");
  gtk_box_pack_start(GTK_BOX(d->settings), frame, FALSE, FALSE, 0);
  GtkWidget *table = ns_settings_table(frame, 5);
  gdouble lower, upper, def, step, page;
  guint digits;
  ns_ui_arg_range(NS_ARG_STRENGTH, &lower, &upper, &def);
  ns_ui_arg_steps(NS_ARG_STRENGTH, &step, &page, &digits);
  gchar *label = g_strconcat(ns_args[NS_ARG_STRENGTH].label, ":", NULL);
  gchar *help = ns_ui_arg_help(NS_ARG_STRENGTH);
  d->strength = GTK_ADJUSTMENT(gimp_scale_entry_new(GTK_TABLE(table), 0, 0, label, 160, 6,
                                                    v->strength, lower, upper, step, page,
                                                    digits, TRUE, 0, 0, help, NULL));
  g_free(label);
  g_free(help);
  d->backbone = ns_ui_choice_combo(NS_ARG_BACKBONE, v->backbone);
  gimp_table_attach_aligned(GTK_TABLE(table), 0, 1, "_Quality:", 0.0, 0.5, d->backbone, 2,
                            FALSE);
  ns_attach_spin(d, table, 2, NS_ARG_SIZE, v->size);
  GtkWidget *hint = gtk_label_new("longest side; 0 = the layer's own size (full resolution)");
  gimp_label_set_attributes(GTK_LABEL(hint), PANGO_ATTR_STYLE, PANGO_STYLE_ITALIC, -1);
  gtk_misc_set_alignment(GTK_MISC(hint), 0.0, 0.5);
  gtk_table_attach(GTK_TABLE(table), hint, 2, 3, 2, 3, GTK_FILL, GTK_FILL, 0, 0);
  ns_attach_spin(d, table, 3, NS_ARG_ITERATIONS, v->iterations);
  d->preserve = gtk_check_button_new_with_mnemonic(ns_args[NS_ARG_PRESERVE_COLORS].label);
  help = ns_ui_arg_help(NS_ARG_PRESERVE_COLORS);
  gtk_widget_set_tooltip_text(d->preserve, help);
  g_free(help);
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(d->preserve), v->preserve_colors != 0);
  gtk_table_attach(GTK_TABLE(table), d->preserve, 0, 3, 4, 5, GTK_FILL, GTK_FILL, 0, 0);

  /* The raw loss weights, for experts. */
  GtkWidget *advanced = gtk_expander_new_with_mnemonic("_Advanced: loss weights");
  gtk_box_pack_start(GTK_BOX(d->settings), advanced, FALSE, FALSE, 0);
  table = ns_settings_table(advanced, 3);
  ns_attach_spin(d, table, 0, NS_ARG_CONTENT_WEIGHT, v->content_weight);
  ns_attach_spin(d, table, 1, NS_ARG_STYLE_WEIGHT, v->style_weight);
  ns_attach_spin(d, table, 2, NS_ARG_TV_WEIGHT, v->tv_weight);
  GtkWidget *diagnostics_row = gtk_hbox_new(FALSE, 0);
  gtk_box_pack_start(GTK_BOX(diagnostics_row), ns_ui_diagnostics_button(), FALSE, FALSE, 0);
  gtk_box_pack_end(GTK_BOX(d->settings), diagnostics_row, FALSE, FALSE, 0);

  d->preview = ns_ui_preview_new(image, d->drawable, ns_preview_params, d);
  /* The device under the preview and the full run's estimate, which it decides (the settings
   * column is as tall as a laptop's screen allows already). */
  GtkWidget *right = gtk_vbox_new(FALSE, 12);
  gtk_box_pack_start(GTK_BOX(right), ns_ui_preview_widget(d->preview), FALSE, FALSE, 0);
  GtkWidget *device_box = gtk_vbox_new(FALSE, 6);
  GtkWidget *device_label = gtk_label_new_with_mnemonic("_Device:");
  gtk_misc_set_alignment(GTK_MISC(device_label), 0.0, 0.5);
  d->device = ns_ui_device_combo(v->device);
  gtk_label_set_mnemonic_widget(GTK_LABEL(device_label), d->device);
  gtk_box_pack_start(GTK_BOX(device_box), device_label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(device_box), d->device, FALSE, FALSE, 0);
  GtkWidget *note = ns_ui_device_override_note();
  if (note) {
    gtk_label_set_line_wrap(GTK_LABEL(note), TRUE);
    gtk_box_pack_start(GTK_BOX(device_box), note, FALSE, FALSE, 0);
  }
  gtk_box_pack_start(GTK_BOX(right), device_box, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(main_vbox), ns_ui_columns(d->settings, right, NULL), TRUE, TRUE, 0);
  ns_ui_preview_set_test(d->preview, d->dialog, &d->style, ns_set_strength, d);
  /* Whatever changes what the preview shows, or what the full run costs (size, iterations,
   * quality: the estimate under the preview), restarts it. */
  g_signal_connect(d->strength, "value-changed", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->backbone, "changed", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->spin[NS_ARG_SIZE], "value-changed", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->spin[NS_ARG_ITERATIONS], "value-changed", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->style.file_chooser, "file-set", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->style.file_radio, "toggled", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->style.image_combo, "changed", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->preserve, "toggled", G_CALLBACK(ns_changed), d);
  g_signal_connect(d->device, "changed", G_CALLBACK(ns_changed), d);
  ns_ui_region_picker_connect(&d->regions, G_CALLBACK(ns_regions_changed), d);
  for (guint i = NS_ARG_CONTENT_WEIGHT; i <= NS_ARG_TV_WEIGHT; i++)
    g_signal_connect(d->spin[i], "value-changed", G_CALLBACK(ns_changed), d);

  gtk_box_pack_start(GTK_BOX(main_vbox), ns_ui_progress_bar_new(), FALSE, FALSE, 0);
  gtk_widget_show_all(d->dialog);
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
  p->strength = v->strength;
  p->backbone = v->backbone;
  p->regions = v->region_mode != 0;
  p->region_source = v->region_drawable;
  p->outside_file = v->outside == NS_OUTSIDE_FILE ? v->outside_file : NULL;
  p->outside_image = -1; /* an open image: the dialog's (ns_ui_region_picker_params) */
  p->device = v->device;
}

/* The dialog's settings into *v (remembered) and *p (the run's, pointing into *v and into
 * strings added to `keep`). */
static void ns_dialog_read(NsDialog *d, NsVals *v, NsParams *p, GPtrArray *keep) {
  gchar *file = ns_ui_style_picker_file(&d->style);
  g_strlcpy(v->style_file, file ? file : "", sizeof v->style_file);
  g_free(file);
  v->style_from_image = ns_ui_style_picker_from_image(&d->style);
  v->size = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->spin[NS_ARG_SIZE]));
  v->iterations = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(d->spin[NS_ARG_ITERATIONS]));
  v->content_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->spin[NS_ARG_CONTENT_WEIGHT]));
  v->style_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->spin[NS_ARG_STYLE_WEIGHT]));
  v->tv_weight = gtk_spin_button_get_value(GTK_SPIN_BUTTON(d->spin[NS_ARG_TV_WEIGHT]));
  v->preserve_colors = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->preserve));
  v->strength = gtk_adjustment_get_value(d->strength);
  gchar *backbone = ns_ui_choice_get(d->backbone);
  g_strlcpy(v->backbone, backbone, sizeof v->backbone);
  g_free(backbone);
  gchar *device = ns_ui_device_get(d->device);
  g_strlcpy(v->device, device, sizeof v->device);
  g_free(device);
  NsRegionChoice regions;
  gchar *outside_file = NULL;
  ns_ui_region_picker_get(&d->regions, &regions, &outside_file);
  v->region_mode = regions.on;
  v->region_source = regions.source;
  v->region_channel = regions.channel_id;
  v->outside = regions.outside;
  g_strlcpy(v->outside_file, outside_file ? outside_file : "", sizeof v->outside_file);
  v->outside_image = regions.outside_image_id;
  g_free(outside_file);
  ns_fill_params(v, p);
  if (v->style_from_image) p->style_image = ns_ui_style_picker_image_id(&d->style);
  ns_ui_region_picker_params(&d->regions, p, keep);
}

/* Shows the dialog and, on OK, runs the filter with the dialog showing progress. The preview
 * is stopped (its thread joined, its model freed) before the run or when the dialog closes. */
static NsRunStatus ns_run_interactive(gint32 image, gint32 drawable, NsVals *v, gint32 *layer,
                                      GError **error) {
  NsDialog d;
  memset(&d, 0, sizeof d);
  d.drawable = drawable;
  gimp_ui_init(NS_BINARY_NAME, FALSE);
  ns_dialog_build(&d, v, image);
  do {
    if (gimp_dialog_run(GIMP_DIALOG(d.dialog)) != GTK_RESPONSE_OK) {
      ns_ui_preview_free(d.preview);
      gtk_widget_destroy(d.dialog);
      return NS_RUN_CANCELLED;
    }
  } while (!ns_ui_style_picker_ready(&d.style) || !ns_ui_region_picker_ready(&d.regions));
  ns_ui_preview_free(d.preview);
  d.preview = NULL;
  NsParams p;
  GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
  ns_dialog_read(&d, v, &p, keep);
  gimp_set_data(NS_DATA_KEY, v, sizeof *v);
  GtkWidget *const insensitive[] = {d.settings, d.device, NULL};
  NsRunStatus status =
      ns_ui_run_in_dialog(d.dialog, insensitive, image, drawable, &p, layer, error);
  g_ptr_array_free(keep, TRUE);
  return status;
}

/* The remembered values, or the engine's defaults when there are none (or they are from a
 * build with another layout). */
static void ns_vals_load(NsVals *v) {
  ns_vals_defaults(v);
  if (gimp_get_data_size(NS_DATA_KEY) == sizeof *v) gimp_get_data(NS_DATA_KEY, v);
  v->style_file[sizeof v->style_file - 1] = '\0';
  v->outside_file[sizeof v->outside_file - 1] = '\0';
  /* Non-interactive only: a remembered item ID means nothing in another session. */
  v->region_drawable = -1;
}

static void run(const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                GimpParam **return_vals) {
  static GimpParam values[2];
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

  NsVals v;
  ns_vals_load(&v);

  NsRunStatus status;
  GError *error = NULL;
  gint32 layer = -1;
  if (run_mode == GIMP_RUN_NONINTERACTIVE) {
    guint nargs = g_strcmp0(name, NS_PROC_NAME4) == 0   ? NS_N_ARGS
                  : g_strcmp0(name, NS_PROC_NAME3) == 0 ? NS_N_ARGS_V3
                  : g_strcmp0(name, NS_PROC_NAME2) == 0 ? NS_N_ARGS_V2
                                                        : NS_N_ARGS_V1;
    gboolean all = nargs > NS_N_ARGS_V1;
    if ((guint)nparams != 3 + nargs) {
      values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
      return;
    }
    const GimpParam *a = param + 3; /* after run-mode, image and drawable */
    const gchar *style_file = a[NS_ARG_STYLE_FILE].data.d_string;
    g_strlcpy(v.style_file, style_file ? style_file : "", sizeof v.style_file);
    v.size = a[NS_ARG_SIZE].data.d_int32;
    v.iterations = a[NS_ARG_ITERATIONS].data.d_int32;
    v.content_weight = a[NS_ARG_CONTENT_WEIGHT].data.d_float;
    v.style_weight = a[NS_ARG_STYLE_WEIGHT].data.d_float;
    v.tv_weight = a[NS_ARG_TV_WEIGHT].data.d_float;
    v.preserve_colors = a[NS_ARG_PRESERVE_COLORS].data.d_int32 != 0;
    v.style_from_image = 0;
    /* plug-in-nstyle: strength and backbone are the library's defaults. */
    v.strength = all ? a[NS_ARG_STRENGTH].data.d_float : ns_ui_arg_default(NS_ARG_STRENGTH);
    const gchar *backbone = all ? a[NS_ARG_BACKBONE].data.d_string : NULL;
    g_strlcpy(v.backbone, backbone && *backbone ? backbone : ns_option_default_text("backbone"),
              sizeof v.backbone);
    /* plug-in-nstyle and plug-in-nstyle2: cut-out, as they always did. */
    gboolean regions = nargs >= NS_N_ARGS_V3;
    v.region_mode = regions ? a[NS_ARG_REGION_MODE].data.d_int32 : 0;
    if (v.region_mode != 0 && v.region_mode != 1) {
      static gchar message[] = "Invalid region-mode: 0 (cut-out) or 1 (regions)";
      values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
      *nreturn_vals = 2;
      values[1].type = GIMP_PDB_STRING;
      values[1].data.d_string = message;
      return;
    }
    v.region_drawable = regions ? a[NS_ARG_REGION_DRAWABLE].data.d_drawable : -1;
    const gchar *outside = regions ? a[NS_ARG_OUTSIDE_STYLE_FILE].data.d_string : NULL;
    g_strlcpy(v.outside_file, outside ? outside : "", sizeof v.outside_file);
    v.outside = *v.outside_file ? NS_OUTSIDE_FILE : NS_OUTSIDE_PHOTO;
    v.region_source = NS_IS_DRAWABLE(v.region_drawable) ? NS_REGION_CHANNEL : NS_REGION_SELECTION;
    /* Before plug-in-nstyle4: the library picks (or $NSTYLE_DEVICE), as they always did. */
    const gchar *device = nargs == NS_N_ARGS ? a[NS_ARG_DEVICE].data.d_string : NULL;
    g_strlcpy(v.device, device && *device ? device : NS_DEVICE_AUTO, sizeof v.device);
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
