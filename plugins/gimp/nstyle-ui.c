/*
 * nstyle GIMP plug-in: the procedure text, argument table and GTK helpers shared by the GIMP
 * 2.10 (GTK 2) and GIMP 3.0 (GTK 3) front ends (see nstyle-ui.h).
 */

#include "nstyle-ui.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

const gchar ns_ui_help[] =
    "Adds a new layer above the drawable: its content redrawn with the textures and colours of "
    "the style image (Gatys et al., VGG-19). With a selection, the engine works on the "
    "selection's bounding box and the new layer shows only inside the selection, through a "
    "layer mask made from it (soft edges kept; the mask can be edited); without one, the whole "
    "layer. With region-mode 1 the selection (or region-drawable, a channel or layer mask) is "
    "instead the style's region: the whole layer is worked on, the style paints inside the "
    "region and across its soft edge, and outside the photo stays (or outside-style-file "
    "paints); the new layer covers the whole layer, with no mask. Alpha is kept. The source "
    "layer is never changed. device picks where the engine runs (auto, cpu, cuda:N). Engine: "
    "libnstyle; NSTYLE_DEVICE (overriding device) and NSTYLE_OPTIONS (key=value;...) in the "
    "environment tune it.";

const NsArg ns_args[NS_N_ARGS] = {
    [NS_ARG_STYLE_FILE] = {"style-file", NULL, NS_ARG_TYPE_STRING, "Style _file"},
    [NS_ARG_SIZE] = {"size", "size", NS_ARG_TYPE_INT, "Si_ze (px)"},
    [NS_ARG_ITERATIONS] = {"iterations", "iterations", NS_ARG_TYPE_INT, "_Iterations"},
    [NS_ARG_CONTENT_WEIGHT] = {"content-weight", "content_weight", NS_ARG_TYPE_DOUBLE,
                               "Co_ntent weight"},
    [NS_ARG_STYLE_WEIGHT] = {"style-weight", "style_weight", NS_ARG_TYPE_DOUBLE,
                             "_Style weight"},
    [NS_ARG_TV_WEIGHT] = {"tv-weight", "tv_weight", NS_ARG_TYPE_DOUBLE,
                          "Smoothness (_TV) weight"},
    [NS_ARG_PRESERVE_COLORS] = {"preserve-colors", "preserve_colors", NS_ARG_TYPE_INT,
                                "_Preserve the layer's colours"},
    [NS_ARG_STRENGTH] = {"strength", "strength", NS_ARG_TYPE_DOUBLE,
                         "Stren_gth: photo \xe2\x97\x82\xe2\x96\xb8 painting"},
    [NS_ARG_BACKBONE] = {"backbone", "backbone", NS_ARG_TYPE_CHOICE, "_Quality"},
    [NS_ARG_REGION_MODE] = {"region-mode", NULL, NS_ARG_TYPE_INT,
                            "Paint the style inside the selection, blend the edge"},
    [NS_ARG_REGION_DRAWABLE] = {"region-drawable", NULL, NS_ARG_TYPE_DRAWABLE, "Region"},
    [NS_ARG_OUTSIDE_STYLE_FILE] = {"outside-style-file", NULL, NS_ARG_TYPE_STRING,
                                   "Outside style file"},
    [NS_ARG_DEVICE] = {"device", NULL, NS_ARG_TYPE_STRING, "_Device"},
};

/* How the dialogs name the backbone option's words; a word not listed here shows as it is. */
static const struct {
  const gchar *word, *label;
} ns_word_labels[] = {
    {"vgg19", "Best (VGG-19)"},
    {"lite", "Fast (Lite)"},
};

const gchar *ns_ui_word_label(const gchar *word) {
  for (guint i = 0; i < G_N_ELEMENTS(ns_word_labels); i++)
    if (strcmp(ns_word_labels[i].word, word) == 0) return ns_word_labels[i].label;
  return word;
}

#define NS_STYLE_FILE_HELP "Path of the style image (a painting), any format GIMP opens"
#define NS_REGION_MODE_HELP                                                                     \
  "Regions: 0 = cut-out (the selection's bounding box is worked on and the new layer is cut "  \
  "to the selection by a layer mask); 1 = the selection (or region-drawable) is the style's "  \
  "region: the whole layer is worked on, the style paints inside the region (soft edges "      \
  "kept) and the optimisation paints across its edge, outside the photo stays (or "            \
  "outside-style-file paints); the new layer covers the whole layer, no mask. "                \
  "An empty selection or region is an error: 0 or 1 (default 0)"
#define NS_REGION_DRAWABLE_HELP                                                                 \
  "With region-mode 1: the style's region, a channel or layer mask of the image (white "       \
  "paints, grey blends); none (-1) = the selection"
#define NS_OUTSIDE_STYLE_FILE_HELP                                                              \
  "With region-mode 1: a second style image (any format GIMP opens) painted outside the "      \
  "region; empty = keep the photo there (default empty)"
#define NS_DEVICE_HELP                                                                          \
  "Where the engine runs: auto (the library picks a CUDA GPU when one can be used, else the "  \
  "CPU), cpu, cuda or cuda:N (the ids of the dialog's device list); NSTYLE_DEVICE in the "     \
  "environment overrides it (default auto)"
/* What size 0 means: the plug-in's own value, outside the engine's range. */
#define NS_SIZE_ZERO_HELP "or 0 for the layer's (or selection's) own size"

/* ---------------------------------------------------------------------------------------- */
/* Arguments, from the engine's option table.                                                */

static const NstyleOptionInfo *ns_arg_option(guint arg) {
  g_return_val_if_fail(arg < NS_N_ARGS && ns_args[arg].option, NULL);
  return ns_option(ns_args[arg].option);
}

void ns_ui_arg_range(guint arg, gdouble *lower, gdouble *upper, gdouble *default_value) {
  if (arg == NS_ARG_REGION_MODE) { /* the plug-in's own: off (cut-out) or on */
    *lower = 0.0;
    *upper = 1.0;
    *default_value = 0.0;
    return;
  }
  const NstyleOptionInfo *o = ns_arg_option(arg);
  *lower = arg == NS_ARG_SIZE ? 0.0 : o->min;
  *upper = o->max;
  /* Size defaults to 0, the layer's own size: the new layer is never a small result stretched
   * unless the user asks for one; the dialog shows what that costs before OK (the estimate). */
  *default_value = arg == NS_ARG_SIZE ? 0.0 : ns_option_default(o->key);
}

gdouble ns_ui_arg_default(guint arg) {
  gdouble lower, upper, value;
  ns_ui_arg_range(arg, &lower, &upper, &value);
  return value;
}

gchar **ns_ui_arg_words(guint arg) {
  return g_strsplit(ns_arg_option(arg)->words, ",", -1);
}

/* GTK 2's combo box has no ids: the words ride on the widget, in the order of its entries. */
#define NS_WORDS_KEY "ns-words"

GtkWidget *ns_ui_choice_combo(guint arg, const gchar *value) {
  GtkWidget *combo = gtk_combo_box_text_new();
  gchar **words = ns_ui_arg_words(arg);
  for (gint i = 0; words[i]; i++) {
    gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(combo), ns_ui_word_label(words[i]));
    if (g_strcmp0(words[i], value) == 0 || i == 0)
      gtk_combo_box_set_active(GTK_COMBO_BOX(combo), i);
  }
  g_object_set_data_full(G_OBJECT(combo), NS_WORDS_KEY, words, (GDestroyNotify)g_strfreev);
  gchar *help = ns_ui_arg_help(arg);
  gtk_widget_set_tooltip_text(combo, help);
  g_free(help);
  return combo;
}

gchar *ns_ui_choice_get(GtkWidget *combo) {
  gchar **words = g_object_get_data(G_OBJECT(combo), NS_WORDS_KEY);
  gint i = gtk_combo_box_get_active(GTK_COMBO_BOX(combo));
  return g_strdup(words && i >= 0 && (guint)i < g_strv_length(words) ? words[i] : "");
}

gchar *ns_ui_arg_help(guint arg) {
  if (arg == NS_ARG_STYLE_FILE) return g_strdup(NS_STYLE_FILE_HELP);
  if (arg == NS_ARG_REGION_MODE) return g_strdup(NS_REGION_MODE_HELP);
  if (arg == NS_ARG_REGION_DRAWABLE) return g_strdup(NS_REGION_DRAWABLE_HELP);
  if (arg == NS_ARG_OUTSIDE_STYLE_FILE) return g_strdup(NS_OUTSIDE_STYLE_FILE_HELP);
  if (arg == NS_ARG_DEVICE) return g_strdup(NS_DEVICE_HELP);
  const NstyleOptionInfo *o = ns_arg_option(arg);
  /* "<Doc> (<unit>): <accepts>[, or 0 for ... own size] (default <default>)", every part but
   * the size-0 note from the table. */
  gchar *doc = g_strdup(o->doc);
  doc[0] = g_ascii_toupper(doc[0]);
  gchar *help = g_strdup_printf("%s%s%s%s: %s%s%s (default %s)", doc, *o->unit ? " (" : "",
                                o->unit, *o->unit ? ")" : "", o->accepts,
                                arg == NS_ARG_SIZE ? ", " : "",
                                arg == NS_ARG_SIZE ? NS_SIZE_ZERO_HELP : "",
                                arg == NS_ARG_SIZE ? "0" : o->default_value);
  g_free(doc);
  return help;
}

/* One spin-button click changes a value by about a tenth of its default, rounded down to 1, 2
 * or 5 times a power of ten (whole for whole-number arguments): a default of 5 steps by 0.5, a
 * default of 2000 by 200. A page is ten clicks. A float shows one digit more than its step has,
 * so the values between steps (and the default) show: with a step of 0.001, 4 digits. */
#define NS_UI_STEPS_PER_PAGE 10.0
/* The step for a float whose default is 0 (no scale to take a tenth of). */
#define NS_UI_STEP_WITHOUT_DEFAULT 0.1

void ns_ui_arg_steps(guint arg, gdouble *step, gdouble *page, guint *digits) {
  gboolean whole = ns_args[arg].type == NS_ARG_TYPE_INT;
  /* The engine's default sets the scale (size's own default, 0, has none). */
  gdouble tenth = ns_option_default(ns_arg_option(arg)->key) / 10.0;
  gdouble s = NS_UI_STEP_WITHOUT_DEFAULT;
  if (tenth > 0.0) {
    gdouble power = pow(10.0, floor(log10(tenth)));
    gdouble mantissa = tenth / power;
    s = (mantissa >= 5.0 ? 5.0 : mantissa >= 2.0 ? 2.0 : 1.0) * power;
  }
  if (whole) s = MAX(1.0, floor(s));
  *step = s;
  *page = NS_UI_STEPS_PER_PAGE * s;
  *digits = whole ? 0 : (guint)MAX(0.0, -floor(log10(s))) + 1;
}

GtkWidget *ns_ui_arg_spin(guint arg, gdouble value) {
  gdouble lower, upper, def, step, page;
  guint digits;
  ns_ui_arg_range(arg, &lower, &upper, &def);
  ns_ui_arg_steps(arg, &step, &page, &digits);
  GtkWidget *spin = gtk_spin_button_new_with_range(lower, upper, step);
  gtk_spin_button_set_increments(GTK_SPIN_BUTTON(spin), step, page);
  gtk_spin_button_set_digits(GTK_SPIN_BUTTON(spin), digits);
  gtk_spin_button_set_value(GTK_SPIN_BUTTON(spin), value);
  gtk_entry_set_activates_default(GTK_ENTRY(spin), TRUE);
  gchar *help = ns_ui_arg_help(arg);
  gtk_widget_set_tooltip_text(spin, help);
  g_free(help);
  return spin;
}

/* ---------------------------------------------------------------------------------------- */
/* The device choice.                                                                         */

enum { NS_DEVICE_COL_ID, NS_DEVICE_COL_LABEL, NS_DEVICE_COL_USABLE, NS_DEVICE_N_COLS };

#define NS_DEVICE_ROW_CHARS 40

#define NS_DEVICE_AUTO_HELP                                                                     \
  "Auto: the library picks, a CUDA GPU when one can be used, else the CPU"

/* For the tests (NSTYLE_GIMP_PREVIEW_TEST): where the combo box is in its window, to click;
 * after each allocation, once the window is realized (translating needs it). */
static gboolean ns_device_test_report(gpointer data) {
  GtkWidget *combo = data;
  GtkAllocation a;
  gint x = 0, y = 0;
  gtk_widget_get_allocation(combo, &a);
  if (gtk_widget_translate_coordinates(combo, gtk_widget_get_toplevel(combo), 0, 0, &x, &y))
    g_printerr("NSFACT device-combo %d %d %d %d\n", x, y, a.width, a.height);
  g_object_unref(combo);
  return G_SOURCE_REMOVE;
}

static void ns_device_test_allocated(GtkWidget *combo, GtkAllocation *allocation, gpointer data) {
  (void)allocation;
  (void)data;
  g_idle_add(ns_device_test_report, g_object_ref(combo));
}

GtkWidget *ns_ui_device_combo(const gchar *device) {
  if (!device || !*device) device = NS_DEVICE_AUTO;
  GtkListStore *store =
      gtk_list_store_new(NS_DEVICE_N_COLS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
  GtkTreeIter iter;
  gtk_list_store_insert_with_values(store, &iter, -1, NS_DEVICE_COL_ID, NS_DEVICE_AUTO,
                                    NS_DEVICE_COL_LABEL, "Auto", NS_DEVICE_COL_USABLE, TRUE, -1);
  gint active = 0, rows = 1;
  GString *help = g_string_new("Where the style transfer runs (the preview and its estimate "
                               "too). " NS_DEVICE_AUTO_HELP ".");
  for (uint32_t i = 0, n = nstyle_device_count(); i < n; i++) {
    NstyleDeviceInfo info;
    if (nstyle_device_info(i, &info) != NSTYLE_OK) continue;
    /* The reason in the row itself: a combo box's rows have no tooltips of their own. */
    gchar *label = info.usable ? g_strdup(info.name)
                               : g_strdup_printf("%s \xe2\x80\x94 cannot be used: %s", info.name,
                                                 info.reason);
    gtk_list_store_insert_with_values(store, &iter, -1, NS_DEVICE_COL_ID, info.id,
                                      NS_DEVICE_COL_LABEL, label, NS_DEVICE_COL_USABLE,
                                      (gboolean)(info.usable != 0), -1);
    if (!info.usable)
      g_string_append_printf(help, "\n%s cannot be used: %s", info.name, info.reason);
    if (g_getenv("NSTYLE_GIMP_PREVIEW_TEST"))
      g_printerr("NSFACT device-row %d %s %u %s\n", rows, info.id, info.usable, label);
    if (g_strcmp0(info.id, device) == 0) active = rows;
    rows++;
    g_free(label);
  }
  if (active == 0 && g_strcmp0(device, NS_DEVICE_AUTO) != 0) {
    gchar *label = g_strdup_printf("%s (not found on this machine)", device);
    gtk_list_store_insert_with_values(store, &iter, -1, NS_DEVICE_COL_ID, device,
                                      NS_DEVICE_COL_LABEL, label, NS_DEVICE_COL_USABLE, TRUE, -1);
    g_free(label);
    active = rows;
  }
  GtkWidget *combo = gtk_combo_box_new_with_model(GTK_TREE_MODEL(store));
  g_object_unref(store);
  GtkCellRenderer *cell = gtk_cell_renderer_text_new();
  /* A long reason must not widen the dialog past a laptop's screen: the rows are cut with an
   * ellipsis at about NS_DEVICE_ROW_CHARS, and the tooltip has every reason in full. */
#if GTK_CHECK_VERSION(3, 0, 0)
  g_object_set(cell, "ellipsize", PANGO_ELLIPSIZE_END, "max-width-chars", NS_DEVICE_ROW_CHARS,
               NULL);
#else
  g_object_set(cell, "ellipsize", PANGO_ELLIPSIZE_END, "width-chars", NS_DEVICE_ROW_CHARS, NULL);
#endif
  gtk_cell_layout_pack_start(GTK_CELL_LAYOUT(combo), cell, TRUE);
  /* An unusable device is greyed out and cannot be chosen. */
  gtk_cell_layout_set_attributes(GTK_CELL_LAYOUT(combo), cell, "text", NS_DEVICE_COL_LABEL,
                                 "sensitive", NS_DEVICE_COL_USABLE, NULL);
  gtk_combo_box_set_active(GTK_COMBO_BOX(combo), active);
  gtk_widget_set_tooltip_text(combo, help->str);
  if (g_getenv("NSTYLE_GIMP_PREVIEW_TEST"))
    g_signal_connect(combo, "size-allocate", G_CALLBACK(ns_device_test_allocated), NULL);
  g_string_free(help, TRUE);
  return combo;
}

gchar *ns_ui_device_get(GtkWidget *combo) {
  GtkTreeIter iter;
  gchar *id = NULL;
  if (gtk_combo_box_get_active_iter(GTK_COMBO_BOX(combo), &iter))
    gtk_tree_model_get(gtk_combo_box_get_model(GTK_COMBO_BOX(combo)), &iter, NS_DEVICE_COL_ID,
                       &id, -1);
  return id ? id : g_strdup(NS_DEVICE_AUTO);
}

GtkWidget *ns_ui_device_override_note(void) {
  const gchar *env = g_getenv("NSTYLE_DEVICE");
  if (!env || !*env) return NULL;
  gchar *text = g_strdup_printf("NSTYLE_DEVICE=%s in the environment overrides this", env);
  GtkWidget *note = gtk_label_new(text);
  g_free(text);
  gimp_label_set_attributes(GTK_LABEL(note), PANGO_ATTR_STYLE, PANGO_STYLE_ITALIC, -1);
  gtk_misc_set_alignment(GTK_MISC(note), 0.0, 0.5);
  return note;
}

/* ---------------------------------------------------------------------------------------- */
/* Layout.                                                                                    */

#define NS_UI_COLUMN_SPACING 12

GtkWidget *ns_ui_columns(GtkWidget *first, ...) {
#if GTK_CHECK_VERSION(3, 0, 0)
  GtkWidget *columns = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, NS_UI_COLUMN_SPACING);
#else
  GtkWidget *columns = gtk_hbox_new(FALSE, NS_UI_COLUMN_SPACING);
#endif
  va_list args;
  va_start(args, first);
  for (GtkWidget *column = first, *next; column; column = next) {
    next = va_arg(args, GtkWidget *);
    /* The settings share the width the dialog gets; the preview (last) keeps its own. */
    gtk_box_pack_start(GTK_BOX(columns), column, next != NULL, next != NULL, 0);
  }
  va_end(args);
  return columns;
}

/* ---------------------------------------------------------------------------------------- */
/* The style picker.                                                                          */

static void ns_style_toggled(GtkToggleButton *button, NsStylePicker *sp) {
  (void)button;
  gboolean from_image = ns_ui_style_picker_from_image(sp);
  gtk_widget_set_sensitive(sp->file_chooser, !from_image);
  gtk_widget_set_sensitive(sp->image_combo, from_image);
}

static void ns_add_file_filter(GtkWidget *chooser, const gchar *name, gboolean images) {
  GtkFileFilter *filter = gtk_file_filter_new();
  gtk_file_filter_set_name(filter, name);
  if (images) {
    /* GIMP opens more than GdkPixbuf does: the MIME type catches the rest. */
    gtk_file_filter_add_pixbuf_formats(filter);
    gtk_file_filter_add_mime_type(filter, "image/*");
  } else {
    gtk_file_filter_add_pattern(filter, "*");
  }
  gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(chooser), filter);
}

/* Row `row` of the picker: the radio button, then the chooser filling the rest of the width. */
static void ns_picker_attach(GtkWidget *layout, gint row, GtkWidget *radio, GtkWidget *chooser) {
#if GTK_CHECK_VERSION(3, 0, 0)
  gtk_widget_set_hexpand(chooser, TRUE);
  gtk_grid_attach(GTK_GRID(layout), radio, 0, row, 1, 1);
  gtk_grid_attach(GTK_GRID(layout), chooser, 1, row, 1, 1);
#else
  gtk_table_attach(GTK_TABLE(layout), radio, 0, 1, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
  gtk_table_attach(GTK_TABLE(layout), chooser, 1, 2, row, row + 1, GTK_EXPAND | GTK_FILL,
                   GTK_FILL, 0, 0);
#endif
}

void ns_ui_style_picker_init(NsStylePicker *sp, const gchar *file, gboolean from_image,
                             gint image_id) {
  sp->frame = gimp_frame_new("Style");
#if GTK_CHECK_VERSION(3, 0, 0)
  GtkWidget *layout = gtk_grid_new();
  gtk_grid_set_row_spacing(GTK_GRID(layout), 6);
  gtk_grid_set_column_spacing(GTK_GRID(layout), 6);
#else
  GtkWidget *layout = gtk_table_new(2, 2, FALSE);
  gtk_table_set_col_spacings(GTK_TABLE(layout), 6);
  gtk_table_set_row_spacings(GTK_TABLE(layout), 6);
#endif
  gtk_container_add(GTK_CONTAINER(sp->frame), layout);

  sp->file_radio = gtk_radio_button_new_with_mnemonic(NULL, "Painting _file:");
  sp->image_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(sp->file_radio), "Open i_mage:");
  sp->file_chooser = gtk_file_chooser_button_new("Choose the style (a painting)",
                                                 GTK_FILE_CHOOSER_ACTION_OPEN);
  ns_add_file_filter(sp->file_chooser, "Images", TRUE);
  ns_add_file_filter(sp->file_chooser, "All files", FALSE);
  if (file && *file) gtk_file_chooser_set_filename(GTK_FILE_CHOOSER(sp->file_chooser), file);
  /* Wide enough for a file name next to the radio button. */
  gtk_widget_set_size_request(sp->file_chooser, 260, -1);
#if GIMP_MAJOR_VERSION >= 3
  sp->image_combo = gimp_image_combo_box_new(NULL, NULL, NULL);
#else
  sp->image_combo = gimp_image_combo_box_new(NULL, NULL);
#endif
  gimp_int_combo_box_set_active(GIMP_INT_COMBO_BOX(sp->image_combo), image_id);

  ns_picker_attach(layout, 0, sp->file_radio, sp->file_chooser);
  ns_picker_attach(layout, 1, sp->image_radio, sp->image_combo);
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(from_image ? sp->image_radio : sp->file_radio),
                               TRUE);
  g_signal_connect(sp->file_radio, "toggled", G_CALLBACK(ns_style_toggled), sp);
  ns_style_toggled(NULL, sp);
}

gboolean ns_ui_style_picker_from_image(const NsStylePicker *sp) {
  return gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(sp->image_radio));
}

gchar *ns_ui_style_picker_file(const NsStylePicker *sp) {
  return gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(sp->file_chooser));
}

gint ns_ui_style_picker_image_id(const NsStylePicker *sp) {
  gint id = -1;
  if (!gimp_int_combo_box_get_active(GIMP_INT_COMBO_BOX(sp->image_combo), &id)) return -1;
  return id;
}

gboolean ns_ui_style_picker_ready(const NsStylePicker *sp) {
  if (ns_ui_style_picker_from_image(sp)) {
    if (ns_ui_style_picker_image_id(sp) > 0) return TRUE;
    g_message("Choose an open image as the style.");
    return FALSE;
  }
  gchar *file = ns_ui_style_picker_file(sp);
  gboolean ready = file && *file;
  g_free(file);
  if (!ready) g_message("Choose a style file (a painting).");
  return ready;
}

/* ---------------------------------------------------------------------------------------- */
/* The region picker.                                                                         */

#if GIMP_MAJOR_VERSION >= 3
static gboolean ns_channel_of_image(GimpImage *image, GimpItem *item, gpointer data) {
  (void)item;
  return gimp_image_get_id(image) == GPOINTER_TO_INT(data);
}
#else
static gboolean ns_channel_of_image(gint32 image, gint32 item, gpointer data) {
  (void)item;
  return image == GPOINTER_TO_INT(data);
}
#endif

/* A row of the picker holding one widget across both columns. */
static void ns_picker_attach_wide(GtkWidget *layout, gint row, GtkWidget *widget) {
#if GTK_CHECK_VERSION(3, 0, 0)
  gtk_grid_attach(GTK_GRID(layout), widget, 0, row, 2, 1);
#else
  gtk_table_attach(GTK_TABLE(layout), widget, 0, 2, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
#endif
}

static gboolean ns_active(GtkWidget *toggle) {
  return gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(toggle));
}

static gint ns_combo_id(GtkWidget *combo) {
  gint id = -1;
  if (!gimp_int_combo_box_get_active(GIMP_INT_COMBO_BOX(combo), &id)) return -1;
  return id;
}

static void ns_region_sensitivity(GtkWidget *widget, NsRegionPicker *rp) {
  (void)widget;
  gtk_widget_set_sensitive(rp->details, ns_active(rp->toggle));
  gtk_widget_set_sensitive(rp->channel_combo, ns_active(rp->channel_radio));
  gtk_widget_set_sensitive(rp->mask_radio, NS_IS_DRAWABLE(rp->layer_mask));
  gtk_widget_set_sensitive(rp->file_chooser, ns_active(rp->file_radio));
  gtk_widget_set_sensitive(rp->image_combo, ns_active(rp->image_radio));
}

void ns_ui_region_picker_init(NsRegionPicker *rp, NsImage image, NsDrawable drawable,
                              const NsRegionChoice *start) {
  memset(rp, 0, sizeof *rp);
  rp->image = image;
#if GIMP_MAJOR_VERSION >= 3
  GimpLayerMask *mask = GIMP_IS_LAYER(drawable) ? gimp_layer_get_mask(GIMP_LAYER(drawable)) : NULL;
  rp->layer_mask = mask ? GIMP_DRAWABLE(mask) : NULL;
  gint image_id = gimp_image_get_id(image);
#else
  rp->layer_mask = gimp_item_is_layer(drawable) ? gimp_layer_get_mask(drawable) : -1;
  gint image_id = image;
#endif
  rp->frame = gimp_frame_new("Regions");
#if GTK_CHECK_VERSION(3, 0, 0)
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *layout = gtk_grid_new();
  gtk_grid_set_row_spacing(GTK_GRID(layout), 4);
  gtk_grid_set_column_spacing(GTK_GRID(layout), 6);
#else
  GtkWidget *box = gtk_vbox_new(FALSE, 6);
  GtkWidget *layout = gtk_table_new(8, 2, FALSE);
  gtk_table_set_col_spacings(GTK_TABLE(layout), 6);
  gtk_table_set_row_spacings(GTK_TABLE(layout), 4);
#endif
  gtk_container_add(GTK_CONTAINER(rp->frame), box);
  rp->toggle = gtk_check_button_new_with_mnemonic(ns_args[NS_ARG_REGION_MODE].label);
  gtk_widget_set_tooltip_text(
      rp->toggle,
      "On: the whole layer is worked on; the style paints inside the region (the selection, "
      "or a channel or the layer's mask; soft edges kept) and the optimisation paints across "
      "its edge; outside, the photo stays or a second style paints. The new layer covers the "
      "whole layer. Off: the selection's bounding box is worked on and the new layer is cut to "
      "the selection.");
  gtk_box_pack_start(GTK_BOX(box), rp->toggle, FALSE, FALSE, 0);
  rp->details = layout;
  gtk_box_pack_start(GTK_BOX(box), layout, FALSE, FALSE, 0);

  GtkWidget *label = gtk_label_new("Region:");
  gtk_misc_set_alignment(GTK_MISC(label), 0.0, 0.5);
  ns_picker_attach_wide(layout, 0, label);
  rp->selection_radio = gtk_radio_button_new_with_mnemonic(NULL, "The s_election");
  rp->channel_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(rp->selection_radio), "C_hannel:");
  rp->mask_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(rp->selection_radio), "The _layer's mask");
#if GIMP_MAJOR_VERSION >= 3
  rp->channel_combo =
      gimp_channel_combo_box_new(ns_channel_of_image, GINT_TO_POINTER(image_id), NULL);
#else
  rp->channel_combo = gimp_channel_combo_box_new(ns_channel_of_image, GINT_TO_POINTER(image_id));
#endif
  if (start->channel_id > 0)
    gimp_int_combo_box_set_active(GIMP_INT_COMBO_BOX(rp->channel_combo), start->channel_id);
  ns_picker_attach_wide(layout, 1, rp->selection_radio);
  ns_picker_attach(layout, 2, rp->channel_radio, rp->channel_combo);
  ns_picker_attach_wide(layout, 3, rp->mask_radio);

  label = gtk_label_new("Outside the region:");
  gtk_misc_set_alignment(GTK_MISC(label), 0.0, 0.5);
  ns_picker_attach_wide(layout, 4, label);
  rp->photo_radio = gtk_radio_button_new_with_mnemonic(NULL, "_Keep the photo");
  rp->file_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(rp->photo_radio), "Style _B from a file:");
  rp->image_radio = gtk_radio_button_new_with_mnemonic_from_widget(
      GTK_RADIO_BUTTON(rp->photo_radio), "Style B f_rom an open image:");
  rp->file_chooser = gtk_file_chooser_button_new("Choose the style outside the region",
                                                 GTK_FILE_CHOOSER_ACTION_OPEN);
  ns_add_file_filter(rp->file_chooser, "Images", TRUE);
  ns_add_file_filter(rp->file_chooser, "All files", FALSE);
  if (start->outside_file && *start->outside_file)
    gtk_file_chooser_set_filename(GTK_FILE_CHOOSER(rp->file_chooser), start->outside_file);
#if GIMP_MAJOR_VERSION >= 3
  rp->image_combo = gimp_image_combo_box_new(NULL, NULL, NULL);
#else
  rp->image_combo = gimp_image_combo_box_new(NULL, NULL);
#endif
  if (start->outside_image_id > 0)
    gimp_int_combo_box_set_active(GIMP_INT_COMBO_BOX(rp->image_combo), start->outside_image_id);
  ns_picker_attach_wide(layout, 5, rp->photo_radio);
  ns_picker_attach(layout, 6, rp->file_radio, rp->file_chooser);
  ns_picker_attach(layout, 7, rp->image_radio, rp->image_combo);

  GtkWidget *source = start->source == NS_REGION_CHANNEL ? rp->channel_radio
                      : start->source == NS_REGION_LAYER_MASK && NS_IS_DRAWABLE(rp->layer_mask)
                          ? rp->mask_radio
                          : rp->selection_radio;
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(source), TRUE);
  GtkWidget *outside = start->outside == NS_OUTSIDE_FILE    ? rp->file_radio
                       : start->outside == NS_OUTSIDE_IMAGE ? rp->image_radio
                                                            : rp->photo_radio;
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(outside), TRUE);
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(rp->toggle), start->on);
  GtkWidget *const toggles[] = {rp->toggle, rp->selection_radio, rp->channel_radio,
                                rp->mask_radio, rp->photo_radio, rp->file_radio,
                                rp->image_radio};
  for (guint i = 0; i < G_N_ELEMENTS(toggles); i++)
    g_signal_connect(toggles[i], "toggled", G_CALLBACK(ns_region_sensitivity), rp);
  ns_region_sensitivity(NULL, rp);
}

void ns_ui_region_picker_get(const NsRegionPicker *rp, NsRegionChoice *choice,
                             gchar **outside_file) {
  choice->on = ns_active(rp->toggle);
  choice->source = ns_active(rp->channel_radio) ? NS_REGION_CHANNEL
                   : ns_active(rp->mask_radio)  ? NS_REGION_LAYER_MASK
                                                : NS_REGION_SELECTION;
  choice->channel_id = ns_combo_id(rp->channel_combo);
  choice->outside = ns_active(rp->file_radio)    ? NS_OUTSIDE_FILE
                    : ns_active(rp->image_radio) ? NS_OUTSIDE_IMAGE
                                                 : NS_OUTSIDE_PHOTO;
  choice->outside_image_id = ns_combo_id(rp->image_combo);
  *outside_file = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(rp->file_chooser));
  choice->outside_file = *outside_file;
}

void ns_ui_region_picker_params(const NsRegionPicker *rp, NsParams *p, GPtrArray *keep) {
  NsRegionChoice c;
  gchar *file = NULL;
  ns_ui_region_picker_get(rp, &c, &file);
  g_ptr_array_add(keep, file);
  p->regions = c.on;
  p->region_source = NS_NO_DRAWABLE;
  p->outside_file = NULL;
  p->outside_image = NS_NO_IMAGE;
  if (!c.on) return;
  if (c.source == NS_REGION_LAYER_MASK) p->region_source = rp->layer_mask;
#if GIMP_MAJOR_VERSION >= 3
  if (c.source == NS_REGION_CHANNEL && c.channel_id > 0)
    p->region_source = GIMP_DRAWABLE(gimp_channel_get_by_id(c.channel_id));
  if (c.outside == NS_OUTSIDE_IMAGE && c.outside_image_id > 0)
    p->outside_image = gimp_image_get_by_id(c.outside_image_id);
#else
  if (c.source == NS_REGION_CHANNEL) p->region_source = c.channel_id;
  if (c.outside == NS_OUTSIDE_IMAGE) p->outside_image = c.outside_image_id;
#endif
  if (c.outside == NS_OUTSIDE_FILE) p->outside_file = file;
}

gboolean ns_ui_region_picker_ready(const NsRegionPicker *rp) {
  NsRegionChoice c;
  gchar *file = NULL;
  ns_ui_region_picker_get(rp, &c, &file);
  const gchar *missing = NULL;
  if (!c.on)
    missing = NULL;
  else if (c.source == NS_REGION_CHANNEL && c.channel_id <= 0)
    missing = "Choose the channel that is the style's region.";
  else if (c.outside == NS_OUTSIDE_FILE && !(file && *file))
    missing = "Choose the painting for outside the region, or keep the photo there.";
  else if (c.outside == NS_OUTSIDE_IMAGE && c.outside_image_id <= 0)
    missing = "Choose the open image for outside the region, or keep the photo there.";
  g_free(file);
  if (missing) g_message("%s", missing);
  return missing == NULL;
}

void ns_ui_region_picker_connect(NsRegionPicker *rp, GCallback changed, gpointer data) {
  GtkWidget *const toggles[] = {rp->toggle, rp->selection_radio, rp->channel_radio,
                                rp->mask_radio, rp->photo_radio, rp->file_radio,
                                rp->image_radio};
  for (guint i = 0; i < G_N_ELEMENTS(toggles); i++)
    g_signal_connect_swapped(toggles[i], "toggled", changed, data);
  g_signal_connect_swapped(rp->channel_combo, "changed", changed, data);
  g_signal_connect_swapped(rp->image_combo, "changed", changed, data);
  g_signal_connect_swapped(rp->file_chooser, "file-set", changed, data);
}

/* ---------------------------------------------------------------------------------------- */
/* The preview.                                                                               */

#define NS_UI_PREVIEW_SIDE 256       /* the preview area (the core's small copy fits in it) */
#define NS_UI_PREVIEW_POLL_MS 100    /* how often the dialog looks for a new frame */
#define NS_UI_PREVIEW_SETTLE_MS 300  /* a restart waits this long for the settings to settle */

struct NsUiPreview {
  NsImage image;
  NsDrawable drawable;
  NsUiReadParams read;
  gpointer data;
  NsPreviewWorker *worker; /* made at the first start */
  GtkWidget *frame, *picture, *status, *estimate;
  guint poll_id, restart_id;
  guint job;              /* the job shown */
  gint64 changed_at;      /* the first change since the last start (0: none) */
  gint64 start_delay_us;  /* from that change to the start of `job` */
  gdouble first_seconds;  /* when `job` showed its first frame (from the change), or -1 */
  const gchar *test_dir;  /* NSTYLE_GIMP_PREVIEW_TEST */
  GtkWidget *test_dialog;
  NsStylePicker *test_picker;
  NsUiSetStrength test_set_strength;
  gpointer test_data;
  gboolean test_closing; /* the dialog's close is queued (once) */
};

static void ns_ui_preview_status(NsUiPreview *pv, const gchar *text) {
  gtk_label_set_text(GTK_LABEL(pv->status), text);
}

static gboolean ns_ui_preview_restart(gpointer data) {
  NsUiPreview *pv = data;
  pv->restart_id = 0;
  NsParams p;
  memset(&p, 0, sizeof p);
  GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
  if (pv->read(pv->data, &p, keep)) {
    if (!pv->worker) pv->worker = ns_preview_worker_new();
    GError *error = NULL;
    gint64 now = g_get_monotonic_time();
    guint job = ns_preview_worker_start(pv->worker, pv->image, pv->drawable, &p, &error);
    if (job) {
      pv->job = job;
      pv->start_delay_us = now - (pv->changed_at ? pv->changed_at : now);
      pv->first_seconds = -1;
      ns_ui_preview_status(pv, "Preview: starting\xe2\x80\xa6");
    } else {
      ns_ui_preview_status(pv, error ? error->message : "No preview");
    }
    g_clear_error(&error);
  } else {
    ns_ui_preview_status(pv, "Choose a style to see a preview.");
  }
  pv->changed_at = 0;
  g_ptr_array_free(keep, TRUE);
  return G_SOURCE_REMOVE;
}

void ns_ui_preview_changed(NsUiPreview *pv) {
  if (!pv) return;
  if (!pv->changed_at) pv->changed_at = g_get_monotonic_time();
  if (pv->restart_id) g_source_remove(pv->restart_id);
  pv->restart_id = g_timeout_add(NS_UI_PREVIEW_SETTLE_MS, ns_ui_preview_restart, pv);
}

static gboolean ns_ui_preview_test_close(gpointer data) {
  gtk_dialog_response(GTK_DIALOG(data), GTK_RESPONSE_CANCEL);
  return G_SOURCE_REMOVE;
}

/* What the tests' user does after preview `job` finished (see ns_ui_preview_set_test). */
static void ns_ui_preview_test_act(NsUiPreview *pv, guint job) {
  gdouble lower, upper, def;
  ns_ui_arg_range(NS_ARG_STRENGTH, &lower, &upper, &def);
  const gchar *style2 = g_getenv("NSTYLE_GIMP_PREVIEW_TEST_STYLE2");
  if (job == 1) {
    pv->test_set_strength(pv->test_data, upper);
  } else if (job == 2 && style2) {
    gtk_file_chooser_set_filename(GTK_FILE_CHOOSER(pv->test_picker->file_chooser), style2);
    g_signal_emit_by_name(pv->test_picker->file_chooser, "file-set");
  } else if (job == 3) {
    pv->test_set_strength(pv->test_data, lower);
  }
}

static void ns_ui_preview_test_frame(NsUiPreview *pv, const NsPreviewFrame *f, GdkPixbuf *pb,
                                     gdouble seconds) {
  const NstyleProgress *p = &f->progress;
  g_printerr("NSFACT preview-frame %u %u %u %d %d %.2f %s\n", f->job, p->iteration, p->total,
             f->width, f->height, seconds, f->quick ? "quick" : "refined");
  if (f->job == 4 && !f->done && !pv->test_closing) {
    /* Close while preview 4 is still running, on its first frame: a fixed delay raced the
     * preview on an idle machine, where 100 lite iterations finish in about a second. */
    pv->test_closing = TRUE;
    g_idle_add_full(G_PRIORITY_HIGH, ns_ui_preview_test_close, pv->test_dialog, NULL);
  }
  if (!f->done) return;
  gchar *name = g_strdup_printf("%s/preview-%u.png", pv->test_dir, f->job);
  gdk_pixbuf_save(pb, name, "png", NULL, NULL);
  g_free(name);
  g_printerr("NSFACT preview-final %u %d %d %.2f %.2f\n", f->job, f->width, f->height, seconds,
             pv->first_seconds);
  if (pv->test_set_strength) ns_ui_preview_test_act(pv, f->job);
}

static void ns_ui_free_pixels(guchar *pixels, gpointer data) {
  (void)data;
  g_free(pixels);
}

/* The full run's size and estimate, under the preview: what OK will cost on this machine. */
static void ns_ui_show_estimate(NsUiPreview *pv, const NsEstimate *e) {
  gchar *text;
  if (e->error) {
    text = g_strdup_printf("Full run: %s", e->error);
  } else {
    const gchar *when = e->words ? e->words : "";
    gboolean full = e->width == e->region_width && e->height == e->region_height;
    text = full ? g_strdup_printf("Full run: %d \xc3\x97 %d px (the layer's own size), %s",
                                  e->width, e->height, when)
                : g_strdup_printf("Full run: %d \xc3\x97 %d px, scaled to the layer's %d \xc3\x97 "
                                  "%d; %s",
                                  e->width, e->height, e->region_width, e->region_height, when);
  }
  gtk_label_set_text(GTK_LABEL(pv->estimate), text);
  if (pv->test_dir)
    g_printerr("NSFACT estimate %u %.3f %d %d %d %d %s\n", e->job, e->error ? -1.0 : e->seconds,
               e->width, e->height, e->region_width, e->region_height, text);
  g_free(text);
}

static gboolean ns_ui_preview_poll(gpointer data) {
  NsUiPreview *pv = data;
  NsPreviewFrame f;
  NsEstimate e;
  if (pv->worker && ns_preview_worker_take_estimate(pv->worker, &e)) {
    ns_ui_show_estimate(pv, &e);
    g_free(e.error);
    g_free(e.words);
  }
  if (!pv->worker || !ns_preview_worker_take(pv->worker, &f)) return G_SOURCE_CONTINUE;
  if (f.error) {
    ns_ui_preview_status(pv, f.error);
    g_free(f.error);
    g_free(f.pixels);
    g_free(f.terms);
    g_free(f.note);
    return G_SOURCE_CONTINUE;
  }
  gdouble seconds = f.seconds + pv->start_delay_us / (gdouble)G_TIME_SPAN_SECOND;
  if (pv->first_seconds < 0) pv->first_seconds = seconds;
  GdkPixbuf *pb = gdk_pixbuf_new_from_data(f.pixels, GDK_COLORSPACE_RGB, TRUE, 8, f.width,
                                           f.height, f.width * 4,
                                           ns_ui_free_pixels, NULL);
  gtk_image_set_from_pixbuf(GTK_IMAGE(pv->picture), pb);
  /* The state (quick: the feed-forward network's picture; done: the last frame), then the
   * loss terms by name, then what the library noted (e.g. why there is no quick picture). */
  gchar *state = f.quick ? (f.done ? g_strdup_printf("Preview (quick, %d \xc3\x97 %d)", f.width,
                                                     f.height)
                                   : g_strdup("Quick preview; refining\xe2\x80\xa6"))
                 : f.done ? g_strdup_printf("Preview (fast, %d \xc3\x97 %d)", f.width, f.height)
                          : g_strdup_printf("Preview: %u of %u\xe2\x80\xa6",
                                            f.progress.iteration, f.progress.total);
  gchar *text = g_strdup_printf("%s%s%s%s%s", state, f.terms ? "\n" : "",
                                f.terms ? f.terms : "", f.note ? "\n" : "",
                                f.note ? f.note : "");
  g_free(f.note);
  ns_ui_preview_status(pv, text);
  if (pv->test_dir && f.terms) g_printerr("NSFACT preview-terms %u %s\n", f.job, f.terms);
  g_free(text);
  g_free(state);
  g_free(f.terms);
  if (pv->test_dir) ns_ui_preview_test_frame(pv, &f, pb, seconds);
  g_object_unref(pb);
  return G_SOURCE_CONTINUE;
}

NsUiPreview *ns_ui_preview_new(NsImage image, NsDrawable drawable, NsUiReadParams read,
                               gpointer data) {
  NsUiPreview *pv = g_new0(NsUiPreview, 1);
  pv->image = image;
  pv->drawable = drawable;
  pv->read = read;
  pv->data = data;
  pv->test_dir = g_getenv("NSTYLE_GIMP_PREVIEW_TEST");
  pv->frame = gimp_frame_new("Preview");
#if GTK_CHECK_VERSION(3, 0, 0)
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
#else
  GtkWidget *box = gtk_vbox_new(FALSE, 6);
#endif
  gtk_container_add(GTK_CONTAINER(pv->frame), box);
  pv->picture = gtk_image_new();
  gtk_widget_set_size_request(pv->picture, NS_UI_PREVIEW_SIDE, NS_UI_PREVIEW_SIDE);
  gtk_widget_set_tooltip_text(pv->picture,
                              "The current settings on a small copy of the layer: first the "
                              "feed-forward network's quick picture, then refined with the "
                              "light network and few iterations; the image is not changed. OK "
                              "runs the full job with the chosen quality.");
  pv->status = gtk_label_new(" ");
  /* The status holds the library's words (the terms, a note, an error naming a file): wrapped,
   * even inside a long path, so that no message widens the dialog past the screen. */
  gtk_label_set_line_wrap(GTK_LABEL(pv->status), TRUE);
  gtk_label_set_line_wrap_mode(GTK_LABEL(pv->status), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_max_width_chars(GTK_LABEL(pv->status), 40);
  gtk_widget_set_size_request(pv->status, NS_UI_PREVIEW_SIDE, -1);
  pv->estimate = gtk_label_new("Full run: estimating\xe2\x80\xa6");
  gtk_label_set_line_wrap(GTK_LABEL(pv->estimate), TRUE);
  gtk_widget_set_size_request(pv->estimate, NS_UI_PREVIEW_SIDE, -1);
  gtk_widget_set_tooltip_text(pv->estimate,
                              "What OK starts: the result's size and roughly how long it takes "
                              "here (measured on this machine, updated as the settings change; "
                              "often less, since scales end early once they settle). Size 0 is "
                              "the layer's own size; a smaller size is faster and is scaled up.");
  gtk_box_pack_start(GTK_BOX(box), pv->picture, TRUE, TRUE, 0);
  gtk_box_pack_start(GTK_BOX(box), pv->status, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), pv->estimate, FALSE, FALSE, 0);
  pv->poll_id = g_timeout_add(NS_UI_PREVIEW_POLL_MS, ns_ui_preview_poll, pv);
  ns_ui_preview_changed(pv);
  return pv;
}

GtkWidget *ns_ui_preview_widget(NsUiPreview *pv) { return pv->frame; }

void ns_ui_preview_set_test(NsUiPreview *pv, GtkWidget *dialog, NsStylePicker *picker,
                            NsUiSetStrength set_strength, gpointer data) {
  if (!pv->test_dir) return;
  pv->test_dialog = dialog;
  pv->test_picker = picker;
  pv->test_set_strength = set_strength;
  pv->test_data = data;
}

void ns_ui_preview_free(NsUiPreview *pv) {
  if (!pv) return;
  gint64 start = g_get_monotonic_time();
  if (pv->poll_id) g_source_remove(pv->poll_id);
  if (pv->restart_id) g_source_remove(pv->restart_id);
  ns_preview_worker_free(pv->worker);
  if (pv->test_dir)
    g_printerr("NSFACT preview-freed %.2f\n",
               (g_get_monotonic_time() - start) / (gdouble)G_TIME_SPAN_SECOND);
  g_free(pv);
}

/* ---------------------------------------------------------------------------------------- */
/* Diagnostics.                                                                               */

static void ns_show_diagnostics(GtkWidget *button, gpointer data) {
  (void)data;
  GtkWidget *parent = gtk_widget_get_toplevel(button);
  GtkWidget *window = gtk_dialog_new_with_buttons(
      "Neural Style: diagnostics", GTK_IS_WINDOW(parent) ? GTK_WINDOW(parent) : NULL,
      GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, "_Close", GTK_RESPONSE_CLOSE, NULL);
  GtkWidget *intro = gtk_label_new("Paste this into a bug report:");
  gtk_misc_set_alignment(GTK_MISC(intro), 0.0, 0.5);
  GtkWidget *text = gtk_text_view_new();
  gtk_text_view_set_editable(GTK_TEXT_VIEW(text), FALSE);
  gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(text), GTK_WRAP_CHAR);
  /* Takes a moment: it hashes the weights files. */
  gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(text)), nstyle_diagnostics(), -1);
  GtkWidget *scrolled = gtk_scrolled_window_new(NULL, NULL);
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_AUTOMATIC,
                                 GTK_POLICY_AUTOMATIC);
  gtk_widget_set_size_request(scrolled, 640, 320);
  gtk_container_add(GTK_CONTAINER(scrolled), text);
  GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(window));
  gtk_container_set_border_width(GTK_CONTAINER(window), 8);
  gtk_box_pack_start(GTK_BOX(box), intro, FALSE, FALSE, 4);
  gtk_box_pack_start(GTK_BOX(box), scrolled, TRUE, TRUE, 0);
  gtk_widget_show_all(window);
  gtk_dialog_run(GTK_DIALOG(window));
  gtk_widget_destroy(window);
}

GtkWidget *ns_ui_diagnostics_button(void) {
  GtkWidget *button = gtk_button_new_with_mnemonic("_Diagnostics…");
  gtk_widget_set_tooltip_text(button, "What Neural Style found on this machine: versions, "
                                      "libraries, device and weights. For bug reports.");
  g_signal_connect(button, "clicked", G_CALLBACK(ns_show_diagnostics), NULL);
  return button;
}

/* ---------------------------------------------------------------------------------------- */
/* The run with the dialog as its progress window.                                            */

GtkWidget *ns_ui_progress_bar_new(void) {
  GtkWidget *progress = gimp_progress_bar_new();
#if GTK_CHECK_VERSION(3, 0, 0)
  gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(progress), TRUE);
#endif
  /* A blank text keeps the bar's height when the text comes. */
  gtk_progress_bar_set_text(GTK_PROGRESS_BAR(progress), " ");
  return progress;
}

/* The core calls this about every 30 ms from the main thread while the engine runs. */
static void ns_pump(gpointer data) {
  (void)data;
  while (gtk_events_pending()) gtk_main_iteration();
}

/* While the engine runs, any response but OK (Cancel, Escape) stops it. */
static void ns_run_response(GtkDialog *dialog, gint response, volatile gboolean *cancel) {
  (void)dialog;
  if (response != GTK_RESPONSE_OK) *cancel = TRUE;
}

/* Closing the window stops the engine too; the dialog stays until the engine has stopped. */
static gboolean ns_run_delete(GtkWidget *widget, GdkEvent *event, volatile gboolean *cancel) {
  (void)widget;
  (void)event;
  *cancel = TRUE;
  return TRUE;
}

NsRunStatus ns_ui_run_in_dialog(GtkWidget *dialog, GtkWidget *const *insensitive, NsImage image,
                                NsDrawable drawable, const NsParams *params, NsLayer *out_layer,
                                GError **error) {
  volatile gboolean cancel = FALSE;
  for (GtkWidget *const *w = insensitive; w && *w; w++) gtk_widget_set_sensitive(*w, FALSE);
  gtk_dialog_set_response_sensitive(GTK_DIALOG(dialog), GTK_RESPONSE_OK, FALSE);
  g_signal_connect(dialog, "response", G_CALLBACK(ns_run_response), (gpointer)&cancel);
  g_signal_connect(dialog, "delete-event", G_CALLBACK(ns_run_delete), (gpointer)&cancel);
  NsUi ui = {TRUE, ns_pump, NULL, &cancel};
  NsRunStatus status = ns_core_run(image, drawable, params, &ui, out_layer, error);
  /* The handlers point at `cancel` on this stack: the dialog goes before it does. */
  gtk_widget_destroy(dialog);
  return status;
}
