/*
 * ABI test of libnstyle.so from C: statuses, argument checks, pixel formats, strides, alpha,
 * progress, determinism, memory budget and cancellation.
 *
 * Build: cc -std=c11 -Wall -Wextra -Werror -pthread -Iinclude tests/c/test_abi.c \
 *           -Ltarget/release -lnstyle -Wl,-rpath,$PWD/target/release -lm
 * Exit code: the number of failed checks (0 = pass). One line per check group on stdout; each
 * failing check on stderr with file:line and nstyle_last_error().
 *
 * Runs on the CPU in fp32 with 48-pixel images and a few iterations (seconds on two cores).
 * The weights are found as the library finds them ($NSTYLE_WEIGHTS, then the installed copy, then
 * ~/.cache/nstyle); the truncated-weights check needs the real file's path, taken from
 * $NSTYLE_WEIGHTS or ~/.cache/nstyle/vgg19-caffe-q8-v1.safetensors.
 */

#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "nstyle.h"

/* ---------------------------------------------------------------- checks */

static int failures;       /* all groups */
static int group_failures; /* current group */
static const char *group_name;

static void fail_at(const char *file, int line, const char *what) {
    const char *message = nstyle_last_error();
    failures++;
    group_failures++;
    fprintf(stderr, "%s:%d: FAIL [%s] %s (last error: %s)\n", file, line,
            group_name ? group_name : "-", what, message ? message : "(NULL)");
}

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) fail_at(__FILE__, __LINE__, #cond);                                         \
    } while (0)

static const char *status_name(int status) {
    static const char *names[] = {"OK",     "ARGUMENT", "STATE",     "IO",      "MODEL",
                                  "MEMORY", "DEVICE",   "CANCELLED", "NUMERIC", "INTERNAL"};
    if (status == NSTYLE_DONE) return "DONE";
    return status >= 0 && status < (int)(sizeof names / sizeof *names) ? names[status] : "?";
}

/* Evaluates `call` once and checks its status. */
#define CHECK_STATUS(call, expected)                                                             \
    do {                                                                                         \
        int got_ = (int)(call);                                                                  \
        if (got_ != (int)(expected)) {                                                           \
            char what_[512];                                                                     \
            snprintf(what_, sizeof what_, "%s returned %s, expected %s", #call,                  \
                     status_name(got_), status_name((int)(expected)));                           \
            fail_at(__FILE__, __LINE__, what_);                                                  \
        }                                                                                        \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, NSTYLE_OK)

/* A step that did its work: OK while iterations remain, DONE once the run is complete (tests
 * that care which say so with CHECK_STATUS). */
#define CHECK_STEPPED(call)                                                                      \
    do {                                                                                         \
        int got_ = (int)(call);                                                                  \
        if (got_ != NSTYLE_OK && got_ != NSTYLE_DONE) {                                          \
            char what_[512];                                                                     \
            snprintf(what_, sizeof what_, "%s returned %s, expected OK or DONE", #call,          \
                     status_name(got_));                                                         \
            fail_at(__FILE__, __LINE__, what_);                                                  \
        }                                                                                        \
    } while (0)

static void group_begin(const char *name) {
    group_name = name;
    group_failures = 0;
}

static void group_end(void) {
    printf("%-4s %s", group_failures ? "FAIL" : "ok", group_name);
    if (group_failures) printf(" (%d failed)", group_failures);
    printf("\n");
    fflush(stdout);
    group_name = NULL;
}

/* ---------------------------------------------------------------- images */

enum { CW = 48, CH = 40, SW = 40, SH = 40 };

/* RGBA8 content with a colour gradient and alpha = x / (w - 1). */
static uint8_t content_rgba[CH][CW][4];
/* RGB8 style: diagonal stripes. */
static uint8_t style_rgb[SH][SW][3];

static uint8_t ramp_alpha(int x) { return (uint8_t)lround(255.0 * x / (CW - 1)); }

static void make_images(void) {
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) {
            content_rgba[y][x][0] = (uint8_t)(40 + 4 * x);
            content_rgba[y][x][1] = (uint8_t)(30 + 5 * y);
            content_rgba[y][x][2] = (uint8_t)((x * y) % 200 + 20);
            content_rgba[y][x][3] = ramp_alpha(x);
        }
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            bool stripe = ((x + y) / 5) % 2 == 0;
            style_rgb[y][x][0] = stripe ? 230 : 20;
            style_rgb[y][x][1] = stripe ? 180 : 40;
            style_rgb[y][x][2] = stripe ? 30 : 160;
        }
}

static NstyleStatus set_content(NstyleModel *m) {
    return nstyle_set_content(m, content_rgba, CW, CH, sizeof content_rgba[0], NSTYLE_RGBA8);
}

static NstyleStatus add_style(NstyleModel *m) {
    return nstyle_add_style(m, style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8, 1.0f);
}

/* ---------------------------------------------------------------- models */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static NstyleStatus set_u(NstyleModel *m, const char *key, unsigned value) {
    char text[32];
    snprintf(text, sizeof text, "%u", value);
    return nstyle_set_option(m, key, text);
}

/* A CPU fp32 model with size 48, `iterations` and `scales` (0 = auto); NULL on failure. */
static NstyleModel *new_model(unsigned iterations, unsigned scales) {
    NstyleModel *m = NULL;
    NstyleStatus s = nstyle_model_create(NULL, "cpu", &m);
    if (s != NSTYLE_OK || !m) {
        fail_at(__FILE__, __LINE__, "nstyle_model_create(NULL, \"cpu\") failed");
        return NULL;
    }
    CHECK_OK(nstyle_set_option(m, "precision", "fp32"));
    CHECK_OK(set_u(m, "size", CW));
    CHECK_OK(set_u(m, "iterations", iterations));
    if (scales)
        CHECK_OK(set_u(m, "scales", scales));
    else
        CHECK_OK(nstyle_set_option(m, "scales", "auto"));
    return m;
}

static NstyleModel *ready_model(unsigned iterations, unsigned scales) {
    NstyleModel *m = new_model(iterations, scales);
    if (m) {
        CHECK_OK(set_content(m));
        CHECK_OK(add_style(m));
    }
    return m;
}

static char *weights_path(void) {
    const char *env = getenv("NSTYLE_WEIGHTS");
    if (env && *env) return strdup(env);
    const char *home = getenv("HOME");
    if (!home) return NULL;
    const char *tail = "/.cache/nstyle/vgg19-caffe-q8-v1.safetensors";
    char *path = malloc(strlen(home) + strlen(tail) + 1);
    if (path) {
        strcpy(path, home);
        strcat(path, tail);
    }
    return path;
}

static bool progress_sane(const NstyleProgress *p) {
    double sum = p->content_loss + p->style_loss + p->tv_loss;
    return p->scales >= 1 && p->scale < p->scales && p->iteration <= p->total &&
           isfinite(p->loss) && isfinite(p->content_loss) && isfinite(p->style_loss) &&
           isfinite(p->tv_loss) && p->content_loss >= 0 && p->style_loss >= 0 &&
           p->tv_loss >= 0 && fabs(p->loss - sum) <= 1e-4 * fabs(p->loss) + 1e-9;
}

/* ---------------------------------------------------------------- groups */

static void test_version(void) {
    group_begin("abi version and last_error never NULL");
    CHECK(nstyle_abi_version() == NSTYLE_ABI_VERSION);
    CHECK(nstyle_last_error() != NULL);
    NstyleModel *m = (NstyleModel *)0x1;
    CHECK_STATUS(nstyle_model_create(NULL, "tpu", &m), NSTYLE_ERR_DEVICE);
    CHECK(m == NULL);
    CHECK(nstyle_last_error() != NULL && strlen(nstyle_last_error()) > 0);
    const char *version = nstyle_version();
    CHECK(version != NULL && strchr(version, '.') != NULL);
    const char *report = nstyle_diagnostics();
    CHECK(report != NULL && strstr(report, "C ABI") != NULL && strstr(report, version) != NULL);
    /* The tests name the weights ($NSTYLE_WEIGHTS or the cache): the self-check finds them. */
    CHECK(strstr(report, "vgg19-caffe-q8-v1.safetensors") != NULL);
    group_end();
}

static void test_harmless_nulls(void) {
    group_begin("nstyle_model_free(NULL) and nstyle_cancel(NULL) are harmless");
    nstyle_model_free(NULL);
    nstyle_cancel(NULL);
    CHECK(nstyle_last_error() != NULL);
    group_end();
}

static void write_file(const char *path, const void *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(bytes, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

static void test_create_errors(void) {
    group_begin("model_create: ARGUMENT, IO, MODEL, DEVICE");
    CHECK_STATUS(nstyle_model_create(NULL, "cpu", NULL), NSTYLE_ERR_ARGUMENT);
    CHECK(nstyle_last_error() != NULL);

    NstyleModel *m = (NstyleModel *)0x1;
    CHECK_STATUS(nstyle_model_create("/nonexistent/nstyle/weights.safetensors", "cpu", &m),
                 NSTYLE_ERR_IO);
    CHECK(m == NULL);

    char garbage_path[64];
    snprintf(garbage_path, sizeof garbage_path, "/tmp/nstyle-garbage-%ld.safetensors",
             (long)getpid());
    const char garbage[] = "this is not a safetensors file at all\n\x01\x02\x03";
    write_file(garbage_path, garbage, sizeof garbage);
    m = (NstyleModel *)0x1;
    CHECK_STATUS(nstyle_model_create(garbage_path, "cpu", &m), NSTYLE_ERR_MODEL);
    CHECK(m == NULL);
    /* An empty file is malformed too. */
    write_file(garbage_path, "", 0);
    CHECK_STATUS(nstyle_model_create(garbage_path, "cpu", &m), NSTYLE_ERR_MODEL);
    remove(garbage_path);

    /* A truncated copy of the real weights file. */
    char *real = weights_path();
    FILE *in = real ? fopen(real, "rb") : NULL;
    CHECK(in != NULL);
    if (in) {
        fseek(in, 0, SEEK_END);
        long size = ftell(in);
        fseek(in, 0, SEEK_SET);
        CHECK(size > 1000);
        size_t half = (size_t)size / 2;
        char *bytes = malloc(half);
        CHECK(bytes && fread(bytes, 1, half, in) == half);
        fclose(in);
        char cut_path[64];
        snprintf(cut_path, sizeof cut_path, "/tmp/nstyle-truncated-%ld.safetensors",
                 (long)getpid());
        if (bytes) {
            write_file(cut_path, bytes, half);
            m = (NstyleModel *)0x1;
            CHECK_STATUS(nstyle_model_create(cut_path, "cpu", &m), NSTYLE_ERR_MODEL);
            CHECK(m == NULL);
            remove(cut_path);
        }
        free(bytes);
    }
    free(real);

    m = (NstyleModel *)0x1;
    CHECK_STATUS(nstyle_model_create(NULL, "tpu", &m), NSTYLE_ERR_DEVICE);
    CHECK(m == NULL);
    CHECK_STATUS(nstyle_model_create(NULL, "cuda:99", &m), NSTYLE_ERR_DEVICE);

    m = NULL;
    NstyleStatus cuda = nstyle_model_create(NULL, "cuda", &m);
    if (cuda == NSTYLE_OK) {
        CHECK(m != NULL);
        printf("     (cuda is available: 'cuda' created a model)\n");
        nstyle_model_free(m);
    } else {
        CHECK_STATUS(cuda, NSTYLE_ERR_DEVICE);
        CHECK(m == NULL);
        printf("     (no GPU: 'cuda' gives DEVICE: %s)\n", nstyle_last_error());
    }
    group_end();
}

static void test_null_model(void) {
    group_begin("NULL model to every function: ARGUMENT");
    NstyleWeights w = {5, 100, 0.01f};
    NstyleProgress p;
    uint8_t px[4 * 4 * 4] = {0};
    CHECK_STATUS(nstyle_set_content(NULL, px, 4, 4, 16, NSTYLE_RGBA8), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_add_style(NULL, px, 4, 4, 16, NSTYLE_RGBA8, 1), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_clear_styles(NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_weights(NULL, &w), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(NULL, "size", "64"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_step(NULL, 1, &p), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_step(NULL, 1, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_fetch_result(NULL, px, 4, 4, 16, NSTYLE_RGBA8), NSTYLE_ERR_ARGUMENT);
    double seconds = 0;
    CHECK_STATUS(nstyle_estimate_seconds(NULL, &seconds), NSTYLE_ERR_ARGUMENT);
    group_end();
}

/* Bad pixel arguments for set_content, add_style and fetch_result. */
static void test_pixel_arguments(NstyleModel *m) {
    group_begin("bad pixel arguments: ARGUMENT (set_content, add_style, fetch_result)");
    static uint8_t buf[64 * 64 * 16];
    const size_t row = CW * 4;
    struct {
        const char *what;
        void *pixels;
        uint32_t w, h;
        size_t stride;
        uint32_t format;
    } cases[] = {
        {"NULL pixels", NULL, CW, CH, row, NSTYLE_RGBA8},
        {"width 0", buf, 0, CH, row, NSTYLE_RGBA8},
        {"height 0", buf, CW, 0, row, NSTYLE_RGBA8},
        {"width 70000", buf, 70000, 1, 70000u * 4, NSTYLE_RGBA8},
        {"height 70000", buf, 1, 70000, 4, NSTYLE_RGBA8},
        {"short stride", buf, CW, CH, row - 1, NSTYLE_RGBA8},
        {"short stride RGB8", buf, CW, CH, CW * 3 - 1, NSTYLE_RGB8},
        {"short stride F32", buf, 4, 4, 4 * 16 - 4, NSTYLE_RGBA_F32},
        {"format 6", buf, CW, CH, row * 4, 6},
        {"format 0xFFFFFFFF", buf, CW, CH, row * 4, 0xFFFFFFFFu},
        {"stride overflow", buf, 2, 3, SIZE_MAX / 2, NSTYLE_RGB8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int a = nstyle_set_content(m, cases[i].pixels, cases[i].w, cases[i].h, cases[i].stride,
                                   cases[i].format);
        int b = nstyle_add_style(m, cases[i].pixels, cases[i].w, cases[i].h, cases[i].stride,
                                 cases[i].format, 1.0f);
        int c = nstyle_fetch_result(m, cases[i].pixels, cases[i].w, cases[i].h, cases[i].stride,
                                    cases[i].format);
        if (a != NSTYLE_ERR_ARGUMENT || b != NSTYLE_ERR_ARGUMENT || c != NSTYLE_ERR_ARGUMENT) {
            char what[200];
            snprintf(what, sizeof what, "%s: set_content %s, add_style %s, fetch_result %s",
                     cases[i].what, status_name(a), status_name(b), status_name(c));
            fail_at(__FILE__, __LINE__, what);
        }
    }
    group_end();

    /* Since ABI 2 non-finite float pixels are made safe by the library (hosts need not). */
    group_begin("non-finite float pixels: NaN reads as 0, infinities clamp to 0..1");
    float fpx[16][16][4];
    for (int i = 0; i < 16 * 16 * 4; i++) ((float *)fpx)[i] = 0.5f;
    for (int y = 0; y < 16; y++) {
        fpx[y][0][0] = NAN;
        fpx[y][0][1] = INFINITY;
        fpx[y][0][2] = -INFINITY;
    }
    CHECK_OK(nstyle_set_content(m, fpx, 16, 16, sizeof fpx[0], NSTYLE_RGBA_F32));
    CHECK_OK(set_u(m, "size", 16));
    float back[16][16][4];
    CHECK_OK(nstyle_fetch_result(m, back, 16, 16, sizeof back[0], NSTYLE_RGBA_F32));
    bool finite = true;
    for (int i = 0; i < 16 * 16 * 4; i++) finite = finite && isfinite(((float *)back)[i]);
    CHECK(finite);
    CHECK(back[5][0][0] < 0.2f && back[5][0][1] > 0.8f && back[5][0][2] < 0.2f);
    CHECK_OK(set_u(m, "size", CW));
    CHECK_OK(set_content(m));
    group_end();

    group_begin("bad blend weight: ARGUMENT (NaN, negative, infinite)");
    CHECK_STATUS(nstyle_add_style(m, style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8, NAN),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_add_style(m, style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8, -1.0f),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(
        nstyle_add_style(m, style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8, INFINITY),
        NSTYLE_ERR_ARGUMENT);
    group_end();

    group_begin("bad loss weights: ARGUMENT (NaN, negative, infinite, NULL struct)");
    const float bad[] = {NAN, -1.0f, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        for (int field = 0; field < 3; field++) {
            NstyleWeights w = {5, 100, 0.01f};
            if (field == 0) w.content = bad[i];
            if (field == 1) w.style = bad[i];
            if (field == 2) w.tv = bad[i];
            NstyleStatus s = nstyle_set_weights(m, &w);
            if (s != NSTYLE_ERR_ARGUMENT) {
                char what[120];
                snprintf(what, sizeof what, "set_weights field %d = %g returned %s", field,
                         (double)bad[i], status_name(s));
                fail_at(__FILE__, __LINE__, what);
            }
        }
    CHECK_STATUS(nstyle_set_weights(m, NULL), NSTYLE_ERR_ARGUMENT);
    NstyleWeights good = {5, 100, 0.01f};
    CHECK_OK(nstyle_set_weights(m, &good));
    NstyleWeights zero = {0, 0, 0};
    CHECK_OK(nstyle_set_weights(m, &zero)); /* 0 is allowed */
    CHECK_OK(nstyle_set_weights(m, &good));
    group_end();
}

static void test_options(NstyleModel *m) {
    group_begin("bad options: ARGUMENT and nothing changes");
    const char *bad[][2] = {
        {"no_such_option", "1"},  {"tile", "63"},        {"size", "abc"},
        {"size", "15"},           {"size", "16385"},     {"size", "-48"},
        {"preserve_colors", "2"}, {"scales", "0"},       {"scales", "9"},
        {"init", "noise"},        {"precision", "fp64"}, {"iterations", "2000000"},
        {"optimizer", "sgd"},     {"style_scale", "nan"}, {"seed", "-1"},
        {"content_layers", "relu9_9"}, {"style_layers", ""}, {"max_memory_mb", "lots"},
        {"lbfgs_history", "0"},   {"learning_rate", "inf"}, {"", "1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        NstyleStatus s = nstyle_set_option(m, bad[i][0], bad[i][1]);
        CHECK(nstyle_last_error() != NULL);
        if (s != NSTYLE_ERR_ARGUMENT) {
            char what[120];
            snprintf(what, sizeof what, "set_option(%s=%s) returned %s", bad[i][0], bad[i][1],
                     status_name(s));
            fail_at(__FILE__, __LINE__, what);
        }
    }
    CHECK_STATUS(nstyle_set_option(m, NULL, "1"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, "size", NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, NULL, NULL), NSTYLE_ERR_ARGUMENT);
    /* Every documented key accepts a good value. */
    const char *good[][2] = {
        {"optimizer", "lbfgs"}, {"init", "content"},         {"seed", "18446744073709551615"},
        {"seed", "0"},          {"preserve_colors", "0"},     {"style_scale", "1"},
        {"content_layers", "relu4_2"},
        {"style_layers", "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"},
        {"max_memory_mb", "auto"}, {"lbfgs_history", "100"}, {"learning_rate", "2"},
        {"precision", "fp32"},  {"size", "0"},  {"size", "full"},  {"size", "48"},
        {"tile", "64"},         {"tile", "auto"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        NstyleStatus s = nstyle_set_option(m, good[i][0], good[i][1]);
        if (s != NSTYLE_OK) {
            char what[120];
            snprintf(what, sizeof what, "set_option(%s=%s) returned %s", good[i][0],
                     good[i][1], status_name(s));
            fail_at(__FILE__, __LINE__, what);
        }
    }
    group_end();
}

static void test_state(void) {
    group_begin("STATE: step/fetch before content, step without style, after clear_styles");
    NstyleModel *m = new_model(2, 1);
    if (!m) {
        group_end();
        return;
    }
    NstyleProgress p;
    uint8_t out[CH][CW][4];
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_ERR_STATE);
    CHECK_STATUS(nstyle_fetch_result(m, out, CW, CH, sizeof out[0], NSTYLE_RGBA8),
                 NSTYLE_ERR_STATE);
    CHECK_OK(add_style(m));
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_ERR_STATE); /* style but no content */
    CHECK_OK(nstyle_clear_styles(m));
    CHECK_OK(set_content(m));
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_ERR_STATE); /* content but no style */
    CHECK_OK(add_style(m));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 1);
    CHECK_OK(nstyle_clear_styles(m));
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_ERR_STATE);
    CHECK_OK(nstyle_fetch_result(m, out, CW, CH, sizeof out[0], NSTYLE_RGBA8));
    CHECK_OK(add_style(m));
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_DONE);
    CHECK(p.iteration == 2 && p.total == 2);
    /* Only zero blend weights: an argument error, not a crash. */
    CHECK_OK(nstyle_clear_styles(m));
    CHECK_OK(nstyle_add_style(m, style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8, 0.0f));
    CHECK_OK(set_u(m, "iterations", 3));
    int s = nstyle_step(m, 1, &p);
    CHECK(s == NSTYLE_ERR_ARGUMENT || s == NSTYLE_ERR_STATE);
#ifndef NSTYLE_TEST_INJECT_LEAK /* self-check of run-sanitized.sh: leaking this model must fail it */
    nstyle_model_free(m);
#endif
    group_end();
}

/* Max |a - b| over the RGB (and alpha if `alpha`) channels of two RGBA8 images. */
static int max_diff_rgba8(const uint8_t *a, size_t stride_a, const uint8_t *b, size_t stride_b,
                          int w, int h, bool alpha) {
    int worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < (alpha ? 4 : 3); c++) {
                int d = abs((int)a[y * stride_a + 4 * x + c] - (int)b[y * stride_b + 4 * x + c]);
                if (d > worst) worst = d;
            }
    return worst;
}

static void test_initial_image_and_failed_calls(NstyleModel *m) {
    group_begin("fetch before any step = initial image (init content)");
    uint8_t out[CH][CW][4];
    CHECK_OK(set_content(m));
    CHECK_OK(nstyle_fetch_result(m, out, CW, CH, sizeof out[0], NSTYLE_RGBA8));
    int d = max_diff_rgba8(&content_rgba[0][0][0], sizeof content_rgba[0], &out[0][0][0],
                           sizeof out[0], CW, CH, true);
    CHECK(d <= 2);
    if (d > 2) fprintf(stderr, "     initial image differs from the content by %d/255\n", d);
    group_end();

    group_begin("a failed call leaves the state usable");
    /* A rejected content keeps the old one. */
    uint8_t other[8 * 8 * 4];
    memset(other, 255, sizeof other);
    CHECK_STATUS(nstyle_set_content(m, other, 8, 8, 8 * 4 - 1, NSTYLE_RGBA8), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_content(m, other, 8, 8, 8 * 4, 7), NSTYLE_ERR_ARGUMENT);
    uint8_t again[CH][CW][4];
    CHECK_OK(nstyle_fetch_result(m, again, CW, CH, sizeof again[0], NSTYLE_RGBA8));
    CHECK(memcmp(out, again, sizeof out) == 0);
    /* Rejected options keep the old settings: iterations stays 2, size stays 48. */
    CHECK_OK(set_u(m, "iterations", 2));
    CHECK_STATUS(nstyle_set_option(m, "iterations", "2000000"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, "size", "abc"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, "size", "15"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, "precision", "fp64"), NSTYLE_ERR_ARGUMENT);
    NstyleWeights nan_w = {NAN, 100, 0.01f};
    CHECK_STATUS(nstyle_set_weights(m, &nan_w), NSTYLE_ERR_ARGUMENT);
    /* The initial image is unchanged too (the bad options restarted nothing). */
    CHECK_OK(nstyle_fetch_result(m, again, CW, CH, sizeof again[0], NSTYLE_RGBA8));
    CHECK(memcmp(out, again, sizeof out) == 0);
    CHECK_OK(nstyle_clear_styles(m));
    CHECK_OK(add_style(m));
    NstyleProgress p;
    memset(&p, 0, sizeof p);
    CHECK_STATUS(nstyle_step(m, 10, &p), NSTYLE_DONE);
    CHECK(p.iteration == 2 && p.total == 2);
    CHECK(progress_sane(&p));
    group_end();
}

/* Reads channel c (0..3) of pixel x in a row of `format`, as 0..1 (RGB8 alpha = 1). */
enum { NFORMATS = 6 };

/* IEEE half float to double (normal, subnormal, zero; our values are in 0..1). */
static double half_to_double(uint16_t h) {
    int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    double value = exponent ? ldexp(1.0 + mantissa / 1024.0, exponent - 15)
                            : ldexp(mantissa / 1024.0, -14);
    return (h & 0x8000) ? -value : value;
}

static double channel(const uint8_t *row, int x, int c, uint32_t format) {
    switch (format) {
    case NSTYLE_BGRA8:
        return row[4 * x + (c == 3 ? 3 : 2 - c)] / 255.0;
    case NSTYLE_RGBA_F16: {
        uint16_t v;
        memcpy(&v, row + 8 * x + 2 * c, 2);
        return half_to_double(v);
    }
    case NSTYLE_RGB8:
        return c == 3 ? 1.0 : row[3 * x + c] / 255.0;
    case NSTYLE_RGBA8:
        return row[4 * x + c] / 255.0;
    case NSTYLE_RGBA16: {
        uint16_t v;
        memcpy(&v, row + 8 * x + 2 * c, 2);
        return v / 65535.0;
    }
    default: {
        float v;
        memcpy(&v, row + 16 * x + 4 * c, 4);
        return v;
    }
    }
}

static const char *format_name(uint32_t f) {
    static const char *n[] = {"RGB8", "RGBA8", "RGBA16", "RGBA_F32", "BGRA8", "RGBA_F16"};
    return f < NFORMATS ? n[f] : "?";
}

enum { SENTINEL = 0xA5, PAD = 13 };

/* Fetches into a sentinel-filled buffer with PAD bytes of padding per row plus a tail; checks
 * that only pixel bytes were written. Returns the buffer (caller frees) and its stride. */
static uint8_t *fetch_padded(NstyleModel *m, uint32_t w, uint32_t h, uint32_t format,
                             size_t *stride_out) {
    static const size_t bpp[] = {3, 4, 8, 16, 4, 8};
    size_t row = w * bpp[format], stride = row + PAD, len = stride * h + 64;
    uint8_t *buf = malloc(len);
    if (!buf) return NULL;
    memset(buf, SENTINEL, len);
    NstyleStatus s = nstyle_fetch_result(m, buf, w, h, stride, format);
    if (s != NSTYLE_OK) {
        char what[120];
        snprintf(what, sizeof what, "fetch_result %ux%u %s returned %s", w, h,
                 format_name(format), status_name(s));
        fail_at(__FILE__, __LINE__, what);
        free(buf);
        return NULL;
    }
    size_t touched = 0;
    for (uint32_t y = 0; y < h; y++)
        for (size_t i = row; i < stride; i++) touched += buf[y * stride + i] != SENTINEL;
    for (size_t i = stride * (h - 1) + row; i < len; i++) touched += buf[i] != SENTINEL;
    if (touched) {
        char what[120];
        snprintf(what, sizeof what, "fetch_result %s wrote %zu padding/tail bytes",
                 format_name(format), touched);
        fail_at(__FILE__, __LINE__, what);
    }
    *stride_out = stride;
    return buf;
}

static void test_fetch_formats(NstyleModel *m) {
    group_begin("fetch: every format, padded stride, resampled size, alpha carried");
    NstyleProgress p;
    CHECK_OK(set_u(m, "iterations", 2));
    CHECK_STEPPED(nstyle_step(m, 2, &p));
    const uint32_t formats[] = {NSTYLE_RGB8,     NSTYLE_RGBA8, NSTYLE_RGBA16,
                                NSTYLE_RGBA_F32, NSTYLE_BGRA8, NSTYLE_RGBA_F16};
    /* Reference at a resampled size in RGBA_F32; every other format must agree within 1/255
     * (quantisation), and the alpha must be a resampled ramp: rising from ~0 to ~1. */
    const uint32_t rw = 37, rh = 29;
    size_t ref_stride;
    uint8_t *ref = fetch_padded(m, rw, rh, NSTYLE_RGBA_F32, &ref_stride);
    for (size_t f = 0; f < NFORMATS && ref; f++) {
        size_t stride;
        uint8_t *buf = fetch_padded(m, rw, rh, formats[f], &stride);
        if (!buf) continue;
        double worst = 0, alpha_worst = 0;
        for (uint32_t y = 0; y < rh; y++)
            for (uint32_t x = 0; x < rw; x++) {
                for (int c = 0; c < 4; c++) {
                    double v = channel(buf + y * stride, (int)x, c, formats[f]);
                    double r = channel(ref + y * ref_stride, (int)x, c, NSTYLE_RGBA_F32);
                    if (c == 3 && formats[f] == NSTYLE_RGB8) continue;
                    if (fabs(v - r) > worst) worst = fabs(v - r);
                    if (!(v >= 0 && v <= 1)) worst = 1e9;
                }
                double a = channel(buf + y * stride, (int)x, 3, formats[f]);
                double ramp = (double)x / (rw - 1);
                if (formats[f] != NSTYLE_RGB8 && fabs(a - ramp) > alpha_worst)
                    alpha_worst = fabs(a - ramp);
            }
        if (worst > 0.5 / 255 + 1e-6 || alpha_worst > 0.06) {
            char what[160];
            snprintf(what, sizeof what,
                     "%s at %ux%u: max diff to float %.5f, alpha off the ramp by %.4f",
                     format_name(formats[f]), rw, rh, worst, alpha_worst);
            fail_at(__FILE__, __LINE__, what);
        }
        free(buf);
    }
    free(ref);
    /* Upsampled too (a different aspect), every format. */
    for (size_t f = 0; f < NFORMATS; f++) {
        size_t stride;
        uint8_t *buf = fetch_padded(m, 61, 17, formats[f], &stride);
        free(buf);
    }
    /* At the content's own size the alpha must match the content's within 1/255. */
    for (size_t f = 1; f < NFORMATS; f++) {
        size_t stride;
        uint8_t *buf = fetch_padded(m, CW, CH, formats[f], &stride);
        if (!buf) continue;
        double worst = 0;
        for (int y = 0; y < CH; y++)
            for (int x = 0; x < CW; x++) {
                double a = channel(buf + y * stride, x, 3, formats[f]);
                double want = content_rgba[y][x][3] / 255.0;
                if (fabs(a - want) > worst) worst = fabs(a - want);
            }
        if (worst > 1.0 / 255 + 1e-6) {
            char what[120];
            snprintf(what, sizeof what, "%s alpha differs from the content's by %.5f",
                     format_name(formats[f]), worst);
            fail_at(__FILE__, __LINE__, what);
        }
        free(buf);
    }
    /* A content without alpha (RGB8) gives opaque RGBA results. */
    static uint8_t rgb[CH][CW][3];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) memcpy(rgb[y][x], content_rgba[y][x], 3);
    CHECK_OK(nstyle_set_content(m, rgb, CW, CH, sizeof rgb[0], NSTYLE_RGB8));
    size_t stride;
    uint8_t *buf = fetch_padded(m, 20, 30, NSTYLE_RGBA16, &stride);
    bool opaque = buf != NULL;
    for (int y = 0; buf && y < 30; y++)
        for (int x = 0; x < 20; x++) opaque &= channel(buf + y * stride, x, 3, NSTYLE_RGBA16) == 1.0;
    CHECK(opaque);
    free(buf);
    /* Content given as RGBA16 and RGBA_F32 with padded strides is accepted, alpha kept. */
    static uint16_t c16[CH][CW + 3][4];
    static float cf[CH][CW + 1][4];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++)
            for (int c = 0; c < 4; c++) {
                c16[y][x][c] = (uint16_t)(content_rgba[y][x][c] * 257);
                cf[y][x][c] = content_rgba[y][x][c] / 255.0f;
            }
    CHECK_OK(nstyle_set_content(m, c16, CW, CH, sizeof c16[0], NSTYLE_RGBA16));
    buf = fetch_padded(m, CW, CH, NSTYLE_RGBA8, &stride);
    if (buf) CHECK(max_diff_rgba8(&content_rgba[0][0][0], sizeof content_rgba[0], buf, stride, CW, CH, true) <= 2);
    free(buf);
    CHECK_OK(nstyle_set_content(m, cf, CW, CH, sizeof cf[0], NSTYLE_RGBA_F32));
    buf = fetch_padded(m, CW, CH, NSTYLE_RGBA8, &stride);
    if (buf) CHECK(max_diff_rgba8(&content_rgba[0][0][0], sizeof content_rgba[0], buf, stride, CW, CH, true) <= 2);
    free(buf);
    CHECK_OK(set_content(m));
    group_end();
}

static void test_total(NstyleModel *m) {
    group_begin("step to the total: OK while iterations remain, DONE at the end, then nothing");
    NstyleProgress p;
    CHECK_OK(set_u(m, "iterations", 3));
    CHECK_STATUS(nstyle_step(m, 2, &p), NSTYLE_OK);
    CHECK(p.iteration == 2 && p.total == 3);
    CHECK_STATUS(nstyle_step(m, 100, &p), NSTYLE_DONE);
    CHECK(p.iteration == 3 && p.total == 3);
    CHECK(progress_sane(&p));
    static uint8_t a[CH][CW][4], b[CH][CW][4];
    CHECK_OK(nstyle_fetch_result(m, a, CW, CH, sizeof a[0], NSTYLE_RGBA8));
    NstyleProgress q;
    memset(&q, 0, sizeof q);
    CHECK_STATUS(nstyle_step(m, 5, &q), NSTYLE_DONE);
    CHECK(q.iteration == 3 && q.total == 3);
    CHECK(q.loss == p.loss);
    CHECK_STATUS(nstyle_step(m, 0, NULL), NSTYLE_DONE);
    CHECK_OK(nstyle_fetch_result(m, b, CW, CH, sizeof b[0], NSTYLE_RGBA8));
    CHECK(memcmp(a, b, sizeof a) == 0);
    group_end();
}

static void test_progress(void) {
    group_begin("progress: scale < scales, total as planned, losses finite, loss = sum");
    NstyleModel *m = ready_model(4, 2);
    if (!m) {
        group_end();
        return;
    }
    NstyleProgress p;
    unsigned last_iteration = 0, last_scale = 0, seen_scales = 0;
    for (int i = 0; i < 6; i++) {
        memset(&p, 0xFF, sizeof p);
        CHECK_STEPPED(nstyle_step(m, 1, &p));
        CHECK(p.total == 4);
        CHECK(p.scales == 2);
        CHECK(p.scale < p.scales);
        CHECK(p.scale >= last_scale);
        CHECK(p.iteration == (i < 4 ? (unsigned)i + 1 : 4u));
        CHECK(p.iteration >= last_iteration);
        CHECK(progress_sane(&p));
        CHECK(p.loss > 0);
        seen_scales |= 1u << p.scale;
        last_iteration = p.iteration;
        last_scale = p.scale;
    }
    CHECK(seen_scales == 3); /* both scales were run */
    /* scales=auto at size 48 plans one scale; total follows the iterations option. */
    CHECK_OK(nstyle_set_option(m, "scales", "auto"));
    CHECK_OK(set_u(m, "iterations", 7));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.total == 7 && p.iteration == 1 && p.scales >= 1 && p.scale < p.scales);
    CHECK(progress_sane(&p));
    /* Loss weights change the reported terms: zero content weight gives zero content loss. */
    NstyleWeights w = {0, 100, 0.01f};
    CHECK_OK(nstyle_set_weights(m, &w));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.content_loss == 0 && progress_sane(&p));
    nstyle_model_free(m);
    group_end();
}

static uint8_t *run_seeded(NstyleModel *m, const char *seed) {
    uint8_t *out = calloc(CH * CW * 4, 1);
    NstyleProgress p;
    CHECK_OK(nstyle_set_option(m, "init", "random"));
    CHECK_OK(nstyle_set_option(m, "seed", seed));
    CHECK_STEPPED(nstyle_step(m, 3, &p));
    CHECK(p.iteration == 3);
    if (out) CHECK_OK(nstyle_fetch_result(m, out, CW, CH, CW * 4, NSTYLE_RGBA8));
    return out;
}

static void test_determinism(void) {
    group_begin("determinism: init=random seed=7 twice identical, seed=8 differs");
    NstyleModel *a = ready_model(3, 1), *b = ready_model(3, 1);
    if (a && b) {
        uint8_t *ra = run_seeded(a, "7"), *rb = run_seeded(b, "7");
        CHECK(ra && rb && memcmp(ra, rb, CH * CW * 4) == 0);
        uint8_t *rc = run_seeded(b, "8");
        CHECK(ra && rc && memcmp(ra, rc, CH * CW * 4) != 0);
        /* And the same model re-run with seed 7 again gives the first result. */
        uint8_t *rd = run_seeded(b, "7");
        CHECK(ra && rd && memcmp(ra, rd, CH * CW * 4) == 0);
        free(ra);
        free(rb);
        free(rc);
        free(rd);
    }
    nstyle_model_free(a);
    nstyle_model_free(b);
    group_end();
}

static void test_memory(NstyleModel *m) {
    group_begin("MEMORY: max_memory_mb=64 with size=4096, then usable again");
    NstyleProgress p;
    CHECK_OK(nstyle_set_option(m, "max_memory_mb", "64"));
    CHECK_OK(nstyle_set_option(m, "size", "4096"));
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_ERR_MEMORY);
    CHECK(strstr(nstyle_last_error(), "MiB") != NULL);
    uint8_t out[4 * 4 * 4];
    CHECK_STATUS(nstyle_fetch_result(m, out, 4, 4, 16, NSTYLE_RGBA8), NSTYLE_ERR_MEMORY);
    CHECK_OK(nstyle_set_option(m, "max_memory_mb", "auto"));
    CHECK_OK(set_u(m, "size", CW));
    CHECK_OK(set_u(m, "iterations", 1));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 1);
    group_end();
}

struct canceller {
    NstyleModel *model;
    double delay_s;
    const char *thread_error; /* nstyle_last_error() as seen from the other thread */
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    c->thread_error = nstyle_last_error();
    struct timespec t = {0, (long)(c->delay_s * 1e9)};
    nanosleep(&t, NULL);
    nstyle_cancel(c->model);
    return NULL;
}

static void test_cancel(void) {
    group_begin("CANCELLED: nstyle_cancel from another thread, then steps work");
    NstyleModel *m = new_model(200, 1);
    if (!m) {
        group_end();
        return;
    }
    CHECK_OK(set_u(m, "size", 64));
    CHECK_OK(set_content(m));
    CHECK_OK(add_style(m));
    NstyleProgress p;
    CHECK_STEPPED(nstyle_step(m, 1, &p)); /* plan and targets built: the next step is pure work */
    struct canceller c = {m, 0.3, NULL};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, cancel_later, &c) == 0);
    double start = now_s();
    NstyleStatus s = nstyle_step(m, 200, &p);
    double took = now_s() - start;
    pthread_join(thread, NULL);
    CHECK_STATUS(s, NSTYLE_ERR_CANCELLED);
    CHECK(p.iteration < 200);
    CHECK(c.thread_error != NULL);
    printf("     (cancelled after %.2f s at iteration %u)\n", took, p.iteration);
    unsigned at = p.iteration;
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == at + 1);
    CHECK(progress_sane(&p));
    /* A cancel while no step runs stops nothing: each step starts with the flag lowered. */
    nstyle_cancel(m);
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == at + 2);
    /* The cancelled step's message is the model's, read from this thread. */
    CHECK(strstr(nstyle_errmsg(m), "cancel") != NULL);
    nstyle_model_free(m);
    group_end();
}

/* Two bugs this test found (both fixed): a too-thin working image and a zero gradient. */
static void test_edge_cases(void) {
    group_begin("edge cases: thin image, zero gradient");
    NstyleModel *m = new_model(2, 1);
    if (m) {
        /* 1. A working image with a short side under 16 px (size 48, content 48x15) cannot pass
         *    VGG's poolings: refused as ARGUMENT, not an INTERNAL libtorch error. */
        static uint8_t thin[15][CW][3];
        memset(thin, 90, sizeof thin);
        CHECK_OK(nstyle_set_content(m, thin, CW, 15, sizeof thin[0], NSTYLE_RGB8));
        CHECK_OK(add_style(m));
        int s = nstyle_step(m, 1, NULL);
        CHECK(s == NSTYLE_ERR_ARGUMENT);
        /* 2. L-BFGS at an exactly zero gradient (content = style = one flat colour at the working
         *    size, init content) is converged, not diverged. */
        static uint8_t flat[CW][CW][3];
        memset(flat, 120, sizeof flat);
        CHECK_OK(nstyle_set_content(m, flat, CW, CW, sizeof flat[0], NSTYLE_RGB8));
        CHECK_OK(nstyle_clear_styles(m));
        CHECK_OK(nstyle_add_style(m, flat, CW, CW, sizeof flat[0], NSTYLE_RGB8, 1.0f));
        CHECK_STEPPED(nstyle_step(m, 1, NULL));
    }
    nstyle_model_free(m);
    group_end();
}

/* ABI 2: the option table is the library's, and hosts read defaults and ranges from it. */
static void test_option_table(void) {
    group_begin("option table: every row's default accepted, ranges enforced, values read back");
    NstyleModel *m = new_model(2, 1);
    if (!m) { group_end(); return; }
    uint32_t count = nstyle_option_count();
    CHECK(count >= 17);
    NstyleOptionInfo info;
    for (uint32_t i = 0; i < count; i++) {
        CHECK_OK(nstyle_option_info(i, &info));
        CHECK(info.key && info.default_value && info.doc && info.unit && info.words &&
              info.accepts && *info.key && *info.doc);
        CHECK(info.value_type <= NSTYLE_OPTION_LAYERS && info.effect <= NSTYLE_EFFECT_LIVE);
        NstyleOptionInfo again = {0};
        CHECK_OK(nstyle_option_find(info.key, &again));
        CHECK(strcmp(again.key, info.key) == 0 && again.min == info.min);
        CHECK_OK(nstyle_set_option(m, info.key, info.default_value));
        char value[256];
        size_t needed = 0;
        CHECK_OK(nstyle_get_option(m, info.key, value, sizeof value, &needed));
        CHECK(needed == strlen(value) + 1);
        CHECK_OK(nstyle_set_option(m, info.key, value));
        if (info.value_type == NSTYLE_OPTION_INT && info.min > 0) {
            char below[32];
            snprintf(below, sizeof below, "%.0f", info.min - 1);
            CHECK_STATUS(nstyle_set_option(m, info.key, below), NSTYLE_ERR_ARGUMENT);
            char range[64];
            snprintf(range, sizeof range, "%.0f..=%.0f", info.min, info.max);
            CHECK(strstr(nstyle_last_error(), range) != NULL);
        }
    }
    CHECK_STATUS(nstyle_option_info(count, &info), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_option_info(0, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_option_find("no_such_option", &info), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_option_find("size", &info));
    CHECK(info.value_type == NSTYLE_OPTION_INT && info.min == 16 && info.max == 16384);
    CHECK(strcmp(info.default_value, "512") == 0 && info.effect == NSTYLE_EFFECT_RESTART);
    /* A short buffer: ARGUMENT, nothing written, the size needed reported. */
    char tiny[2] = {'x', 'y'};
    size_t needed = 0;
    CHECK_STATUS(nstyle_get_option(m, "style_layers", tiny, sizeof tiny, &needed),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(tiny[0] == 'x' && needed == sizeof "auto" /* "auto" and its NUL */);
    CHECK_STATUS(nstyle_get_option(m, "style_layers", NULL, 0, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_get_option(m, "nope", tiny, sizeof tiny, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_get_option(NULL, "size", tiny, sizeof tiny, NULL), NSTYLE_ERR_ARGUMENT);
    /* The result size as the library rounds it; STATE before a content. */
    uint32_t w = 0, h = 0;
    CHECK_STATUS(nstyle_result_size(m, &w, &h), NSTYLE_ERR_STATE);
    CHECK_OK(set_content(m));
    CHECK_OK(nstyle_set_option(m, "size", "100"));
    CHECK_OK(nstyle_result_size(m, &w, &h));
    CHECK(w == 100 && h == 83); /* 48×40 content: 40 * 100 / 48 = 83.3 */
    CHECK_STATUS(nstyle_result_size(m, NULL, &h), NSTYLE_ERR_ARGUMENT);
    nstyle_model_free(m);
    group_end();
}

/* Peak resident memory of this process so far, in MiB. */
static long peak_rss_mib(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;
}

/* A huge zero-filled buffer that costs no memory until written (reads map the shared zero page). */
static void *lazy_buffer(size_t bytes, bool writable) {
    void *p = mmap(NULL, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Issue 12: a 65536×65536 RGBA8 layer (within the header's limits) used to abort the host when
 * the library's float copy failed to allocate; 40000×40000 grew it past 8 GiB unchecked. Both
 * must be refused with MEMORY against the budget before anything is allocated, and the model
 * must stay usable. */
/* The run-time estimate (ABI 3): STATE before a content and a style, then positive, larger
 * for more iterations, and starting nothing. */
static void test_estimate(void) {
    group_begin("nstyle_estimate_seconds");
    NstyleModel *m = new_model(4, 1);
    if (!m) {
        group_end();
        return;
    }
    double seconds = -1, longer = -1;
    CHECK_STATUS(nstyle_estimate_seconds(m, &seconds), NSTYLE_ERR_STATE);
    CHECK(strstr(nstyle_last_error(), "content") != NULL);
    CHECK_OK(set_content(m));
    CHECK_STATUS(nstyle_estimate_seconds(m, &seconds), NSTYLE_ERR_STATE);
    CHECK_OK(add_style(m));
    CHECK_STATUS(nstyle_estimate_seconds(m, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_estimate_seconds(m, &seconds));
    CHECK(seconds > 0 && isfinite(seconds));
    CHECK_OK(set_u(m, "iterations", 40));
    CHECK_OK(nstyle_estimate_seconds(m, &longer));
    CHECK(longer > seconds);
    NstyleProgress p;
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 1);
    nstyle_model_free(m);
    group_end();
}

/* Style regions (ABI 4): misuse is ARGUMENT with a reason and changes nothing; a region set
 * in each mask format runs, and clearing it is accepted. */
static void test_style_masks(void) {
    group_begin("style masks: misuse ARGUMENT, every format runs");
    NstyleModel *m = new_model(2, 1);
    if (!m) {
        group_end();
        return;
    }
    static uint8_t grey8[CH][CW];
    static uint16_t grey16[CH][CW];
    static float greyf[CH][CW];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) {
            grey8[y][x] = x < CW / 2 ? 255 : 0;
            grey16[y][x] = x < CW / 2 ? 65535 : 0;
            greyf[y][x] = x < CW / 2 ? 1.0f : 0.0f;
        }
    CHECK_STATUS(nstyle_set_style_mask(NULL, 0, grey8, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_style_mask(m, 0, grey8, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT); /* no style yet */
    CHECK(strstr(nstyle_last_error(), "no style 0") != NULL);
    CHECK_OK(set_content(m));
    CHECK_OK(add_style(m));
    CHECK_STATUS(nstyle_set_style_mask(m, 1, grey8, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_style_mask(m, 0, NULL, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_style_mask(m, 0, grey8, 0, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_style_mask(m, 0, grey8, CW, CH, CW - 1, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_style_mask(m, 0, grey8, CW, CH, CW * 4, 3), NSTYLE_ERR_ARGUMENT);
    static uint8_t zeros[CH][CW];
    CHECK_STATUS(nstyle_set_style_mask(m, 0, zeros, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_last_error(), "0 everywhere") != NULL);
    greyf[0][0] = NAN;
    CHECK_STATUS(nstyle_set_style_mask(m, 0, greyf, CW, CH, CW * 4, NSTYLE_MASK_GREY_F32),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_last_error(), "finite") != NULL);
    greyf[0][0] = 1.0f;
    CHECK_STATUS(nstyle_clear_style_mask(NULL, 0), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_clear_style_source_mask(m, 7), NSTYLE_ERR_ARGUMENT);
    NstyleProgress p;
    CHECK_OK(nstyle_set_style_mask(m, 0, grey8, CW, CH, CW, NSTYLE_MASK_GREY8));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK_OK(nstyle_set_style_mask(m, 0, grey16, CW, CH, CW * 2, NSTYLE_MASK_GREY16));
    CHECK_OK(nstyle_set_style_source_mask(m, 0, greyf, CW, CH, CW * 4, NSTYLE_MASK_GREY_F32));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 2 && isfinite(p.loss));
    CHECK_OK(nstyle_clear_style_mask(m, 0));
    CHECK_OK(nstyle_clear_style_source_mask(m, 0));
    nstyle_model_free(m);
    group_end();
}

/* Since ABI 5: the content mask. Misuse is ARGUMENT and changes nothing; a mask with the gain
 * runs; clearing twice is fine. */
static void test_content_mask(void) {
    group_begin("content mask: misuse ARGUMENT, runs, clears");
    NstyleModel *m = new_model(2, 1);
    if (!m) {
        group_end();
        return;
    }
    static uint8_t grey8[CH][CW];
    static uint8_t zeros[CH][CW];
    static float greyf[CH][CW];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) {
            grey8[y][x] = x < CW / 2 ? 255 : 0;
            greyf[y][x] = x < CW / 2 ? 1.0f : 0.0f;
        }
    CHECK_STATUS(nstyle_set_content_mask(NULL, grey8, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_content_mask(m, NULL, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_content_mask(m, grey8, CW, 0, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_content_mask(m, grey8, CW, CH, CW, 9), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_content_mask(m, zeros, CW, CH, CW, NSTYLE_MASK_GREY8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_last_error(), "0 everywhere") != NULL);
    greyf[1][1] = INFINITY;
    CHECK_STATUS(nstyle_set_content_mask(m, greyf, CW, CH, CW * 4, NSTYLE_MASK_GREY_F32),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_last_error(), "finite") != NULL);
    greyf[1][1] = 1.0f;
    CHECK_STATUS(nstyle_set_option(m, "content_mask_gain", "-1"), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_option(m, "mask_softness", "26"), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_set_option(m, "content_mask_gain", "50"));
    CHECK_OK(nstyle_set_option(m, "mask_softness", "5"));
    CHECK_OK(set_content(m));
    CHECK_OK(add_style(m));
    NstyleProgress p;
    CHECK_OK(nstyle_set_content_mask(m, grey8, CW, CH, CW, NSTYLE_MASK_GREY8));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK_OK(nstyle_set_content_mask(m, greyf, CW, CH, CW * 4, NSTYLE_MASK_GREY_F32));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 2 && isfinite(p.loss));
    CHECK_STATUS(nstyle_clear_content_mask(NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_clear_content_mask(m));
    CHECK_OK(nstyle_clear_content_mask(m));
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    nstyle_model_free(m);
    group_end();
}

static void test_huge_images(void) {
    group_begin("MEMORY: 65536² and 40000² RGBA8 content/style/fetch refused, host memory bounded");
    NstyleModel *m = new_model(2, 1);
    if (!m) { group_end(); return; }
    CHECK_OK(nstyle_set_option(m, "max_memory_mb", "2048"));
    const uint32_t sides[] = {65536, 40000};
    const size_t biggest = (size_t)65536 * 65536 * 4;
    void *huge = lazy_buffer(biggest, true);
    CHECK(huge != NULL);
    long before = peak_rss_mib();
    for (size_t i = 0; huge && i < sizeof sides / sizeof *sides; i++) {
        uint32_t side = sides[i];
        char size_text[32];
        snprintf(size_text, sizeof size_text, "%u×%u", side, side);
        CHECK_STATUS(nstyle_set_content(m, huge, side, side, (size_t)side * 4, NSTYLE_RGBA8),
                     NSTYLE_ERR_MEMORY);
        CHECK(strstr(nstyle_last_error(), size_text) != NULL);
        CHECK(strstr(nstyle_last_error(), "2048 MiB") != NULL);
        CHECK_STATUS(nstyle_add_style(m, huge, side, side, (size_t)side * 4, NSTYLE_RGBA8, 1.0f),
                     NSTYLE_ERR_MEMORY);
    }
    /* A style under the budget but big (3000×2000) is accepted as its compact copy. */
    if (huge) CHECK_OK(nstyle_add_style(m, huge, 3000, 2000, 3000 * 4, NSTYLE_RGBA8, 1.0f));
    CHECK_OK(nstyle_clear_styles(m));
    CHECK(peak_rss_mib() - before < 512);
    /* Still usable: a normal run, then a fetch at the huge size is refused and writes nothing. */
    CHECK_OK(set_content(m));
    CHECK_OK(add_style(m));
    NstyleProgress p;
    CHECK_STEPPED(nstyle_step(m, 1, &p));
    CHECK(p.iteration == 1);
    if (huge) {
        CHECK_STATUS(nstyle_fetch_result(m, huge, 65536, 65536, (size_t)65536 * 4, NSTYLE_RGBA8),
                     NSTYLE_ERR_MEMORY);
        CHECK(((const uint8_t *)huge)[0] == 0);
        munmap(huge, biggest);
    }
    CHECK(peak_rss_mib() - before < 512);
    uint8_t out[CH][CW][4];
    CHECK_OK(nstyle_fetch_result(m, out, CW, CH, sizeof out[0], NSTYLE_RGBA8));
    nstyle_model_free(m);
    group_end();
}

/* Since ABI 4: an initial image and a temporal target with a weight map. */
static void test_video_calls(void) {
    group_begin("init image and temporal target (ABI 4)");
    static uint8_t magenta[CH][CW][3];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++)
            magenta[y][x][0] = 255, magenta[y][x][1] = 0, magenta[y][x][2] = 255;
    static float weights[CH * CW];
    for (int i = 0; i < CH * CW; i++) weights[i] = (i % CW) < CW / 2 ? 1.0f : 0.0f;
    size_t row = sizeof magenta[0];
    /* Bad arguments: NULL model or pixels, bad format, a bad term weight, bad weight values. */
    CHECK_STATUS(nstyle_set_init_image(NULL, magenta, CW, CH, row, NSTYLE_RGB8),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_temporal(NULL, magenta, CW, CH, row, NSTYLE_RGB8, NULL, 1.0f),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_clear_temporal(NULL), NSTYLE_ERR_ARGUMENT);
    NstyleModel *m = ready_model(3, 1);
    if (!m) {
        group_end();
        return;
    }
    CHECK_STATUS(nstyle_set_init_image(m, NULL, CW, CH, row, NSTYLE_RGB8), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_init_image(m, magenta, CW, CH, row, 99), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, weights, NAN),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, weights, -1.0f),
                 NSTYLE_ERR_ARGUMENT);
    weights[5] = NAN;
    CHECK_STATUS(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, weights, 1.0f),
                 NSTYLE_ERR_ARGUMENT);
    weights[5] = 1.5f;
    CHECK_STATUS(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, weights, 1.0f),
                 NSTYLE_ERR_ARGUMENT);
    weights[5] = 1.0f;
    /* The initial image is what a fetch before any step returns. */
    CHECK_OK(nstyle_set_init_image(m, magenta, CW, CH, row, NSTYLE_RGB8));
    uint8_t out[CH][CW][3];
    CHECK_OK(nstyle_fetch_result(m, out, CW, CH, sizeof out[0], NSTYLE_RGB8));
    CHECK(out[CH / 2][CW / 2][0] >= 250 && out[CH / 2][CW / 2][1] <= 5);
    char init[16];
    CHECK_OK(nstyle_get_option(m, "init", init, sizeof init, NULL));
    CHECK(strcmp(init, "image") == 0);
    /* A temporal target (NULL weights and a map) adds to the loss; clearing removes it. */
    CHECK_OK(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, NULL, 1.0f));
    CHECK_OK(nstyle_set_temporal(m, magenta, CW, CH, row, NSTYLE_RGB8, weights, 1e6f));
    NstyleProgress p;
    memset(&p, 0, sizeof p);
    CHECK_STATUS(nstyle_step(m, 10, &p), NSTYLE_DONE);
    /* The total includes the temporal term, which has no field of its own: it is named. */
    CHECK(p.iteration == 3 && isfinite(p.loss));
    CHECK(p.loss > p.content_loss + p.style_loss + p.tv_loss);
    uint32_t terms = 0;
    CHECK_OK(nstyle_progress_term_count(m, &terms));
    CHECK(terms == 4);
    const char *name = NULL;
    double value = 0;
    CHECK_OK(nstyle_progress_term(m, 3, &name, &value));
    CHECK(name && strcmp(name, "temporal") == 0 && value > 0);
    CHECK_OK(nstyle_clear_temporal(m));
    CHECK_OK(nstyle_clear_temporal(m));
    CHECK_OK(nstyle_set_option(m, "init", "content"));
    nstyle_model_free(m);
    group_end();
}

/* Since ABI 6: one input call, per-model errors, the loss terms by name. */
static void test_abi6(void) {
    group_begin("ABI 6: nstyle_set_input, nstyle_errmsg, nstyle_progress_term");
    NstyleModel *m = new_model(2, 1);
    if (!m) {
        group_end();
        return;
    }
    NstyleImage content = {content_rgba, CW, CH, sizeof content_rgba[0], NSTYLE_RGBA8};
    NstyleImage style = {style_rgb, SW, SH, sizeof style_rgb[0], NSTYLE_RGB8};
    static uint8_t left[CH][CW];
    for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++) left[y][x] = x < CW / 2 ? 255 : 0;
    NstyleImage plane = {left, CW, CH, sizeof left[0], NSTYLE_GREY8};
    static float holes[4] = {0.5f, NAN, 1.0f, 0.0f};
    NstyleImage nan_plane = {holes, 2, 2, 2 * sizeof(float), NSTYLE_GREY_F32};
    /* Misuse: a status and a message naming the argument; nothing applied. */
    CHECK_STATUS(nstyle_set_input(NULL, NSTYLE_INPUT_CONTENT, 0, &content), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_input(m, 99, 0, &content), NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_errmsg(m), "unknown input 99") != NULL);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, &plane), NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_errmsg(m), "colour image") != NULL);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 1, &content), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_STYLE, 1, &style), NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_errmsg(m), "no style 1") != NULL);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_STYLE_REGION, 0, &plane), NSTYLE_ERR_ARGUMENT);
    NstyleImage bad = content;
    bad.format = 42;
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, &bad), NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_errmsg(m), "format 42") != NULL);
    bad = content;
    bad.stride_bytes = 3;
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, &bad), NSTYLE_ERR_ARGUMENT);
    bad = content;
    bad.pixels = NULL;
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, &bad), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_TEMPORAL_WEIGHTS, 0, &plane), NSTYLE_ERR_STATE);
    /* Still nothing set: a step is a state error. */
    CHECK_STATUS(nstyle_step(m, 1, NULL), NSTYLE_ERR_STATE);
    /* The content and a style through the one call; a region on the style; run to DONE. */
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_CONTENT, 0, &content));
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_STYLE, 0, &style));
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_STYLE_REGION, 0, &nan_plane),
                 NSTYLE_ERR_ARGUMENT);
    CHECK(strstr(nstyle_errmsg(m), "finite") != NULL);
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_STYLE_REGION, 0, &plane));
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_CONTENT_MASK, 0, &plane));
    NstyleProgress p;
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_OK);
    CHECK_STATUS(nstyle_step(m, 1, &p), NSTYLE_DONE);
    /* Every term by name; they add up to the loss. */
    uint32_t count = 0;
    CHECK_OK(nstyle_progress_term_count(m, &count));
    CHECK(count == 3);
    double sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        const char *name = NULL;
        double value = -1;
        CHECK_OK(nstyle_progress_term(m, i, &name, &value));
        CHECK(name != NULL && value >= 0);
        sum += value;
    }
    CHECK(fabs(sum - p.loss) <= 1e-6 * fabs(p.loss));
    const char *name = NULL;
    double value = 0;
    CHECK_STATUS(nstyle_progress_term(m, count, &name, &value), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_progress_term(m, 0, NULL, &value), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_progress_term_count(m, NULL), NSTYLE_ERR_ARGUMENT);
    /* A temporal target and its weights through the one call; then cleared. */
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_TEMPORAL_TARGET, 0, &content));
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_TEMPORAL_WEIGHTS, 0, &plane));
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_TEMPORAL_WEIGHTS, 0, &content),
                 NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_TEMPORAL_TARGET, 0, NULL));
    /* Clearing a style removes it: a step then has none. */
    CHECK_OK(nstyle_set_input(m, NSTYLE_INPUT_STYLE, 0, NULL));
    CHECK_STATUS(nstyle_set_input(m, NSTYLE_INPUT_STYLE, 0, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_set_option(m, "iterations", "5"));
    CHECK_STATUS(nstyle_step(m, 1, NULL), NSTYLE_ERR_STATE);
    CHECK(strstr(nstyle_errmsg(m), "no style") != NULL);
    /* The message belongs to the model: another model's success does not clear it, and a
     * NULL model reads the thread's. */
    CHECK(nstyle_errmsg(NULL) != NULL);
    nstyle_model_free(m);
    group_end();
}

/* Since ABI 7: time words, the device list, the preview driver. */
static void test_abi7(void) {
    group_begin("ABI 7: nstyle_describe_seconds, nstyle_device_*, nstyle_style_side, nstyle_preview_*");
    char words[64];
    size_t needed = 0;
    CHECK_OK(nstyle_describe_seconds(185.0, words, sizeof words, &needed));
    CHECK(strcmp(words, "about 3 min") == 0 && needed == strlen(words) + 1);
    CHECK_STATUS(nstyle_describe_seconds(1.0, words, 3, &needed), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_describe_seconds(NAN, words, sizeof words, NULL));
    CHECK(strcmp(words, "under a second") == 0);

    uint32_t devices = nstyle_device_count();
    CHECK(devices >= 1);
    NstyleDeviceInfo device;
    CHECK_OK(nstyle_device_info(0, &device));
    CHECK(strcmp(device.id, "cpu") == 0 && device.usable == 1 && device.reason[0] == 0);
    CHECK(strncmp(device.name, "CPU (", 5) == 0 && device.memory_bytes > 0);
    CHECK_STATUS(nstyle_device_info(devices, &device), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_device_info(0, NULL), NSTYLE_ERR_ARGUMENT);

    /* Preview misuse: a status, never a crash. */
    NstylePreview *preview = NULL;
    CHECK_STATUS(nstyle_preview_create(NULL, "cpu", NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_preview_create(NULL, "tpu", &preview), NSTYLE_ERR_DEVICE);
    CHECK(preview == NULL);
    uint32_t side = 0, job = 0;
    CHECK_STATUS(nstyle_preview_side(NULL, &side), NSTYLE_ERR_ARGUMENT);
    NstylePreviewFrame frame;
    NstylePreviewEstimate estimate;
    CHECK_STATUS(nstyle_preview_frame(NULL, &frame, NULL, 0, NSTYLE_RGBA8), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_preview_estimate(NULL, &estimate), NSTYLE_ERR_ARGUMENT);
    nstyle_preview_free(NULL);

    CHECK_OK(nstyle_preview_create(NULL, "cpu", &preview));
    NstyleModel *m = ready_model(4, 1);
    if (!preview || !m) {
        nstyle_model_free(m);
        nstyle_preview_free(preview);
        group_end();
        return;
    }
    CHECK_OK(nstyle_preview_side(preview, &side));
    CHECK(side == 256);
    /* The side a style is used at: the result's (CW at size CW) times style_scale 1. */
    uint32_t style_side = 0;
    CHECK_OK(nstyle_style_side(m, &style_side));
    CHECK(style_side == CW);
    CHECK_STATUS(nstyle_style_side(NULL, &style_side), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_style_side(m, NULL), NSTYLE_ERR_ARGUMENT);
    CHECK_OK(nstyle_preview_frame(preview, &frame, NULL, 0, NSTYLE_RGBA8));
    CHECK(frame.job == 0);
    CHECK_STATUS(nstyle_preview_start(preview, NULL, 0, 0, &job), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_preview_start(preview, m, 0, 100, &job), NSTYLE_ERR_ARGUMENT);
    CHECK_STATUS(nstyle_preview_text(preview, 9, words, sizeof words, NULL), NSTYLE_ERR_ARGUMENT);

    /* A job: the quick frame first, refined frames, the last one done, then the estimate. */
    CHECK_OK(nstyle_preview_start(preview, m, CW * 10, CH * 10, &job));
    CHECK(job == 1);
    nstyle_model_free(m); /* the preview copied what it needs */
    uint8_t pixels[CH][CW][4];
    uint32_t shown = 0, frames = 0, quick_first = 0;
    for (int waited = 0; waited < 120000; waited += 10) {
        CHECK_OK(nstyle_preview_frame(preview, &frame, pixels, sizeof pixels[0], NSTYLE_RGBA8));
        if (frame.job != 0 && frame.serial != shown) {
            if (frames++ == 0) quick_first = frame.quick;
            shown = frame.serial;
            CHECK(frame.status == NSTYLE_OK && frame.width == CW && frame.height == CH);
            if (frame.done) break;
        }
        usleep(10000);
    }
    CHECK(frames >= 2 && quick_first == 1 && frame.done == 1);
    CHECK(frame.progress.iteration == frame.progress.total && frame.progress.total > 0);
    CHECK_OK(nstyle_preview_text(preview, NSTYLE_PREVIEW_TEXT_TERMS, words, sizeof words, NULL));
    CHECK(strncmp(words, "content ", 8) == 0);
    for (int waited = 0; waited < 120000; waited += 10) {
        CHECK_OK(nstyle_preview_estimate(preview, &estimate));
        if (estimate.job) break;
        usleep(10000);
    }
    CHECK(estimate.job == job && estimate.status == NSTYLE_OK && estimate.seconds > 0);
    /* The full run's size: the picture the content stands for, at the model's size (CW). */
    CHECK(estimate.width == CW && estimate.height == CH);
    char text[256];
    CHECK_OK(nstyle_preview_text(preview, NSTYLE_PREVIEW_TEXT_ESTIMATE, text, sizeof text, NULL));
    CHECK(strstr(text, "on this machine") != NULL);
    nstyle_preview_free(preview);
    group_end();
}

int main(void) {
    make_images();
    test_version();
    test_harmless_nulls();
    test_create_errors();
    test_null_model();

    NstyleModel *m = new_model(2, 1);
    if (m) {
        test_pixel_arguments(m);
        test_options(m);
        test_initial_image_and_failed_calls(m);
        test_fetch_formats(m);
        test_total(m);
        test_memory(m);
    }
    nstyle_model_free(m);
    test_state();
    test_progress();
    test_determinism();
    test_cancel();
    test_edge_cases();
    test_huge_images();
    test_option_table();
    test_estimate();
    test_video_calls();
    test_style_masks();
    test_content_mask();
    test_abi6();
    test_abi7();

    printf("%s: %d failed check(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures > 255 ? 255 : failures;
}
