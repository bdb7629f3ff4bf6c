/*
 * libFuzzer harness for the C ABI of libnstyle.so (include/nstyle.h).
 *
 * The input is decoded into a sequence of ABI calls (see `run_op`): model create/free (device
 * strings, weights files made of fuzz bytes), set_content/add_style over buffers of exactly the
 * size the header's contract requires (stride * (height - 1) + row bytes) in every format number
 * 0..7 and with invalid descriptions (zero, oversized, short stride, overflowing, NULL), options
 * (table keys, mutated keys, random bytes; values from the table, near the ranges, random),
 * get_option into guarded buffers, option_info/find, result_size, set_weights, small steps,
 * fetch_result into guarded buffers, cancel, clear_styles, and the guides: style region and
 * style-image masks, the content mask, the initial image and the temporal term (valid and
 * invalid descriptions, missing style indices, masks selecting nothing or holding NaN, weight
 * maps outside 0..1), set and cleared.
 *
 * Every call is checked against the header's contract, and a violation aborts (a libFuzzer
 * crash with a "CONTRACT:" line on stderr):
 *   - every status is a defined NstyleStatus; NSTYLE_ERR_INTERNAL (a caught panic or an
 *     unexpected libtorch error) is reported too: it is always a library bug;
 *   - the status is the documented one where the harness knows it (ARGUMENT for NULL pointers,
 *     zero/oversized sides, short strides, unknown formats, bad weights, unknown keys...);
 *   - nstyle_last_error() is never NULL, valid UTF-8, one printable line (no control character)
 *     of bounded length, and not empty after a failure;
 *   - fetched pixels are written only inside the rows (guard bytes before, between rows, after;
 *     the last byte of a fetch buffer sits right before a PROT_NONE page in one variant), and
 *     float results are in 0..1;
 *   - get_option writes only within buffer_len, NUL-terminates, reports `needed`, writes nothing
 *     when the buffer is short, and its text is accepted back by set_option unchanged;
 *   - a refused set_option changes nothing; option_info rows are complete and their defaults are
 *     accepted; result_size's long side is the `size` option (the content's own long side for
 *     size 0).
 *
 * Cost control: one CPU model per process, created lazily and reused (loading weights takes
 * 0.3-0.7 s under ASan); recreated only when the input asks for free/create, at most once per
 * input (an input that frees the model also pays for the new one at its end). Every input starts from the same
 * state (see `reset_model`): all options at their defaults except size=16, no style, a fixed 8x8
 * content, no pending cancel, so a crash reproduces from its input alone. Before a step the
 * harness caps `size` at 32 and `style_scale` at 2 and runs at most 2 iterations per input (an
 * iteration at 16-32 px is ~50 ms with its line search), so most inputs take a millisecond.
 *
 * Build and run: `make fuzz-test` / `make fuzz` (mk/fuzz.mk, tests/fuzz/run.sh).
 * Reproduce one input: OMP_NUM_THREADS=1 target/fuzz/fuzz_abi FILE (NSTYLE_FUZZ_TRACE=1 prints
 * each call and its status).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nstyle.h"

/* ---------------------------------------------------------------- contract violations */

static const char *g_op = "-"; /* the call being checked, for the report */

__attribute__((noreturn, format(printf, 1, 2))) static void violation(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "CONTRACT: [%s] ", g_op);
    vfprintf(stderr, fmt, args);
    va_end(args);
    const char *last = nstyle_last_error();
    fprintf(stderr, " (last error: %s)\n", last ? last : "(NULL)");
    abort();
}

#define REQUIRE(cond, ...)                                                                       \
    do {                                                                                         \
        if (!(cond)) violation(__VA_ARGS__);                                                     \
    } while (0)

/* Longest message: 400 characters of up to 4 bytes, the ellipsis, the NUL. */
#define MAX_ERROR_BYTES (400 * 4 + 3 + 1)

/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no control character (C0, DEL, C1).
 * Returns NULL or what is wrong. */
static const char *check_text(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return "control character";
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
        else return "invalid UTF-8 lead byte";
        if (i + n >= len) return "truncated UTF-8 sequence";
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return "invalid UTF-8 continuation";
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return "overlong UTF-8";
        if (cp >= 0xd800 && cp <= 0xdfff) return "UTF-8 surrogate";
        if (cp > 0x10ffff) return "UTF-8 beyond U+10FFFF";
        if (cp >= 0x80 && cp <= 0x9f) return "C1 control character";
        i += n + 1;
    }
    return NULL;
}

static void check_last_error(int status) {
    const char *message = nstyle_last_error();
    REQUIRE(message != NULL, "nstyle_last_error() is NULL");
    size_t len = strnlen(message, MAX_ERROR_BYTES + 1);
    REQUIRE(len <= MAX_ERROR_BYTES, "nstyle_last_error() is longer than %d bytes",
            MAX_ERROR_BYTES);
    const char *bad = check_text((const unsigned char *)message, len);
    REQUIRE(bad == NULL, "nstyle_last_error() is not one printable UTF-8 line: %s", bad);
    if (status != NSTYLE_OK) REQUIRE(len > 0, "failed with status %d and an empty message", status);
}

/* NSTYLE_FUZZ_TRACE=1: every checked call and its status on stderr (to read a reproduction). */
static bool g_trace;

static bool allow_internal(void) {
    static int allowed = -1;
    if (allowed < 0) {
        const char *env = getenv("NSTYLE_FUZZ_ALLOW_INTERNAL");
        allowed = env && *env == '1';
    }
    return allowed;
}

/* Library-side feedback. libnstyle.so is not instrumented, so libFuzzer's coverage only sees
 * this harness; these extra counters (a section libFuzzer reads like its own) add one feature per
 * (call, status, shape of the error message), the message with numbers and quoted text left out,
 * so inputs that reach new checks inside the library are kept in the corpus. */
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t g_feedback[1 << 13];

static void feedback(int status) {
    uint32_t h = 2166136261u;
    for (const char *p = g_op; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ (uint32_t)status) * 16777619u;
    if (status != NSTYLE_OK) {
        const char *m = nstyle_last_error();
        bool quoted = false;
        for (int i = 0; m && m[i] && i < 160; i++) {
            char c = m[i];
            if (c == '\'') quoted = !quoted;
            if (quoted || (c >= '0' && c <= '9') || c == '/' || c == '.') continue;
            h = (h ^ (uint8_t)c) * 16777619u;
        }
    }
    uint8_t *counter = &g_feedback[h & (sizeof g_feedback - 1)];
    if (*counter < 255) ++*counter;
}

/* Every status: defined, not INTERNAL, message well-formed. */
static int checked(int status) {
    /* NSTYLE_DONE (ABI 6) is a success: the step that completed the run, or one after it. */
    bool defined = (status >= NSTYLE_OK && status <= NSTYLE_ERR_INTERNAL) || status == NSTYLE_DONE;
    REQUIRE(defined, "undefined status %d", status);
    int failure = status == NSTYLE_DONE ? NSTYLE_OK : status; /* what the checks below see */
    REQUIRE(failure != NSTYLE_ERR_INTERNAL || allow_internal(),
            "NSTYLE_ERR_INTERNAL (a caught panic or unexpected libtorch error)");
    check_last_error(failure);
    feedback(status);
    if (g_trace) fprintf(stderr, "fuzz_abi: %s -> %d %s\n", g_op, status,
                         failure ? nstyle_last_error() : "");
    return status;
}

static void expect(int status, int wanted) {
    REQUIRE(status == wanted, "status %d, expected %d", status, wanted);
}

static void expect2(int status, int a, int b) {
    REQUIRE(status == a || status == b, "status %d, expected %d or %d", status, a, b);
}

/* ---------------------------------------------------------------- input reader */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} Reader;

static uint8_t u8(Reader *r) { return r->pos < r->len ? r->data[r->pos++] : 0; }
/* Little-endian; each byte read in its own statement (argument order is unspecified in C). */
static uint16_t u16(Reader *r) {
    uint16_t low = u8(r);
    return (uint16_t)(low | (u8(r) << 8));
}
static uint32_t u32(Reader *r) {
    uint32_t low = u16(r);
    return low | ((uint32_t)u16(r) << 16);
}
static bool more(const Reader *r) { return r->pos < r->len; }

/* A NUL-terminated string of up to `max` fuzz bytes in a malloc'd block of exactly its size (so
 * ASan sees a read past the NUL through the strlen interceptor). Embedded NULs just shorten it. */
static char *fuzz_string(Reader *r, size_t max) {
    size_t n = u8(r);
    if (n > max) n = max;
    if (n > r->len - r->pos) n = r->len - r->pos;
    char *s = malloc(n + 1);
    memcpy(s, r->data + r->pos, n);
    s[n] = 0;
    r->pos += n;
    return s;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    memcpy(copy, s, n + 1);
    return copy;
}

/* ---------------------------------------------------------------- guarded buffers */

/* A buffer of exactly `len` bytes. Variant 0: malloc (ASan's redzones around it, seen through
 * the memcpy/memset interceptors the uninstrumented library calls). Variant 1: the last byte sits
 * right before a PROT_NONE page (any write or read past the end faults, instrumented or not),
 * with GUARD sentinel bytes before the start. */
#define GUARD 64
#define SENTINEL 0xA5

typedef struct {
    uint8_t *ptr;
    size_t len;
    bool mapped;
    uint8_t *map;
    size_t map_len;
} Buffer;

static size_t page_size(void) {
    static size_t size;
    if (!size) size = (size_t)sysconf(_SC_PAGESIZE);
    return size;
}

static Buffer buffer_new(size_t len, bool mapped) {
    Buffer b = {0};
    b.len = len;
    if (!mapped) {
        b.ptr = malloc(len ? len : 1);
        REQUIRE(b.ptr != NULL, "harness: malloc(%zu) failed", len);
        return b;
    }
    size_t page = page_size();
    size_t body = (len + GUARD + page - 1) / page * page;
    b.map_len = body + page;
    b.map = mmap(NULL, b.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(b.map != MAP_FAILED, "harness: mmap failed");
    REQUIRE(mprotect(b.map + body, page, PROT_NONE) == 0, "harness: mprotect failed");
    b.ptr = b.map + body - len;
    memset(b.map, SENTINEL, body - len);
    b.mapped = true;
    return b;
}

static void buffer_free(Buffer *b) {
    if (b->mapped) {
        /* Nothing before the buffer was written. */
        size_t before = (size_t)(b->ptr - b->map);
        for (size_t i = 0; i < before; i++)
            REQUIRE(b->map[i] == SENTINEL, "byte %zu before the buffer was written",
                    before - i);
        munmap(b->map, b->map_len);
    } else {
        free(b->ptr);
    }
    b->ptr = NULL;
}

/* ---------------------------------------------------------------- pixel descriptions */

static size_t bytes_per_pixel(uint32_t format) {
    static const size_t bpp[] = {3, 4, 8, 16, 4, 8};
    return format < 6 ? bpp[format] : 0;
}

typedef struct {
    uint32_t width, height, format;
    size_t stride;
    size_t len;   /* bytes the contract requires; 0 when the description is invalid */
    bool invalid; /* the library must refuse it with NSTYLE_ERR_ARGUMENT before reading */
    bool null;    /* pass NULL pixels */
} Image;

/* A description: mostly valid and small (sides 1..64, the buffer really allocated), else one of
 * the invalid kinds, passed with NULL or a 1-byte buffer (never a valid description with a short
 * buffer: that is the caller's promise broken, not something the library can check). */
static Image describe(Reader *r, uint32_t formats, size_t (*bytes_per)(uint32_t)) {
    Image im = {0};
    uint8_t kind = u8(r);
    im.width = 1 + u8(r) % 64;
    im.height = 1 + u8(r) % 64;
    im.format = u8(r) % formats;
    uint8_t pad = u8(r);
    size_t row = im.width * bytes_per(im.format);
    im.stride = row + (pad < 160 ? 0 : pad % 17);
    switch (kind % 16) {
    case 10: im.width = 0, im.invalid = true; break;
    case 11: im.height = 0, im.invalid = true; break;
    case 12: /* unknown format numbers, and a huge one */
        im.format = (uint32_t[]){6, 7, 0xffffffffu, 0x80000000u}[pad % 4];
        im.invalid = true;
        break;
    case 13: /* short stride (also 0) */
        im.stride = pad % 2 ? row - 1 : 0;
        im.invalid = true;
        break;
    case 14: /* oversized sides: above 65536, or u32 max */
        if (pad % 2) im.width = 65537 + u16(r);
        else im.height = pad % 4 == 0 ? 0xffffffffu : 65537u + u16(r);
        im.invalid = true;
        break;
    case 15: /* stride * (height - 1) + row overflows size_t, or valid huge dims with NULL */
        if (pad % 2) {
            im.height = 65536;
            im.stride = SIZE_MAX / 2 + u16(r);
            im.invalid = true;
        } else {
            im.width = 1 + u16(r);
            im.height = 1 + u16(r);
            im.stride = (size_t)im.width * bytes_per(im.format);
            im.null = true;
            im.invalid = true;
        }
        break;
    default:
        break;
    }
    if (!im.invalid) im.len = im.stride * (im.height - 1) + row;
    if (kind % 16 >= 10 && kind % 16 != 15) im.null = u8(r) % 2 == 0;
    return im;
}

/* An image description (NstylePixelFormat 0..5). */
static Image image_desc(Reader *r) { return describe(r, 6, bytes_per_pixel); }

/* NstyleMaskFormat: GREY8, GREY16, GREY_F32. */
static size_t bytes_per_mask_sample(uint32_t format) {
    static const size_t bps[] = {1, 2, 4};
    return format < 3 ? bps[format] : 0;
}

/* A mask description (NstyleMaskFormat 0..2), valid or invalid as image_desc's. */
static Image mask_desc(Reader *r) { return describe(r, 3, bytes_per_mask_sample); }

/* Pixel content: fuzz bytes repeated, and for float formats a sprinkle of NaN, inf, denormals,
 * negatives and values above 1 (the library must clamp, never refuse). */
static void fill_pixels(Reader *r, uint8_t *p, size_t len, uint32_t format) {
    size_t n = u8(r) % 48 + 1;
    if (n > r->len - r->pos) n = r->len - r->pos;
    const uint8_t *src = r->data + r->pos;
    r->pos += n;
    for (size_t i = 0; i < len; i++) p[i] = n ? (uint8_t)(src[i % n] + i / n * 37) : (uint8_t)i;
    if (format == NSTYLE_RGBA_F32 && len >= 4) {
        static const float specials[] = {NAN, INFINITY, -INFINITY, -1.0f, 2.0f, 1e-40f, -0.0f, 1.0f};
        for (size_t i = 0; i + 4 <= len; i += 4 * 7) memcpy(p + i, &specials[(i / 4) % 8], 4);
    }
}

/* ---------------------------------------------------------------- the model */

static NstyleModel *g_model;
static uint32_t g_styles; /* styles the live model holds (masks need an existing index) */
static int g_steps_left;
static int g_loads_left; /* weight loads (model creations) this input may still make */
static NstyleOptionInfo g_options[64];
static uint32_t g_option_count;

static NstyleModel *create_cpu_model(void) {
    NstyleModel *m = (NstyleModel *)(uintptr_t)1;
    g_op = "nstyle_model_create(NULL, cpu)";
    int st = checked(nstyle_model_create(NULL, "cpu", &m));
    if (st != NSTYLE_OK) {
        fprintf(stderr, "fuzz_abi: cannot create a CPU model with the default weights: %s\n",
                nstyle_last_error());
        exit(2);
    }
    return m;
}

static const uint8_t CONTENT8[8 * 8 * 3] = {
#define P4(a) a, a + 40, 200 - a, a + 10, a + 60, 180 - a, a + 20, a + 80, 160 - a, a + 30, a + 100, 140 - a
    P4(0), P4(10), P4(20), P4(30), P4(40), P4(50), P4(60), P4(70),
    P4(5), P4(15), P4(25), P4(35), P4(45), P4(55), P4(65), P4(75),
#undef P4
};

static void set_option_or_die(const char *key, const char *value) {
    g_op = "reset: nstyle_set_option";
    int st = checked(nstyle_set_option(g_model, key, value));
    REQUIRE(st == NSTYLE_OK, "setting %s to %s failed with %d", key, value, st);
}

static bool g_content_set; /* tracked: a fresh model has none */
/* The last content accepted: `size` 0 means the content's own size. */
static uint32_t g_content_w = 8, g_content_h = 8;

/* The long side of the working image `size` asks for. */
static uint32_t long_side_for(const char *size) {
    uint32_t own = g_content_w > g_content_h ? g_content_w : g_content_h;
    long value = atol(size);
    return value == 0 ? own : (uint32_t)value;
}

/* Every input starts here: same options, no style, the fixed content (a cancel left from the
 * last input stops nothing: each step starts with the flag lowered). */
static void reset_model(void) {
    if (!g_model) g_model = create_cpu_model();
    for (uint32_t i = 0; i < g_option_count; i++)
        set_option_or_die(g_options[i].key, g_options[i].default_value);
    set_option_or_die("size", "16");
    g_op = "reset: clear_styles";
    expect(checked(nstyle_clear_styles(g_model)), NSTYLE_OK);
    g_op = "reset: clear_content_mask";
    expect(checked(nstyle_clear_content_mask(g_model)), NSTYLE_OK);
    g_op = "reset: clear_temporal";
    expect(checked(nstyle_clear_temporal(g_model)), NSTYLE_OK);
    g_styles = 0;
    g_op = "reset: set_content";
    expect(checked(nstyle_set_content(g_model, CONTENT8, 8, 8, 24, NSTYLE_RGB8)), NSTYLE_OK);
    g_content_w = g_content_h = 8;
    g_steps_left = 2;
    g_loads_left = 1;
}

/* The model the input addresses: usually the live one, sometimes NULL (must be ARGUMENT). */
static NstyleModel *pick_model(Reader *r, bool *is_null) {
    bool null = g_model == NULL || u8(r) % 16 == 0;
    *is_null = null;
    return null ? NULL : g_model;
}

/* ---------------------------------------------------------------- option keys and values */

static const char *const EXTRA_KEYS[] = {
    "", "Size", "size ", " size", "SIZE", "sizes", "iteration", "style-weight", "weights",
    "content_layer", "device", "relu4_2", "nstyle", "max_memory", "x", "\xff\xfe", "si\xc3\xa9",
};

/* A key: a table key (most often), a near miss, random bytes, a long one, or NULL. */
static char *pick_key(Reader *r, bool *known) {
    uint8_t kind = u8(r);
    *known = false;
    switch (kind % 8) {
    case 0: case 1: case 2: case 3: case 4:
        *known = true;
        return dup_string(g_options[u8(r) % g_option_count].key);
    case 5:
        return dup_string(EXTRA_KEYS[u8(r) % (sizeof EXTRA_KEYS / sizeof *EXTRA_KEYS)]);
    case 6: {
        char *s = fuzz_string(r, 200);
        for (uint32_t i = 0; i < g_option_count; i++)
            if (strcmp(s, g_options[i].key) == 0) *known = true;
        return s;
    }
    default:
        if (kind & 0x80) return NULL;
        {
            size_t n = 1000 + u16(r) % 100000; /* a huge key must be quoted short */
            char *s = malloc(n + 1);
            memset(s, 'k', n);
            s[n] = 0;
            return s;
        }
    }
}

static const char *const EXTRA_VALUES[] = {
    "", " ", "0", "1", "-1", "16", "15", "32", "16384", "16385", "4294967296",
    "18446744073709551615", "18446744073709551616", "auto", "AUTO", "nan", "NaN", "inf", "-inf",
    "1e308", "1e309", "-0", "0.05", "0.0499999", "8", "8.0000001", "1e9", "1000000001", "0x10",
    "+5", " 5 ", "5\t", "1_000", "lbfgs", "adam", "sgd", "content", "random", "fp32", "bf16",
    "fp16", "relu1_1", "relu5_4", "relu6_1", "relu4_2:1,relu5_2:0.5", "relu1_1:", ":1",
    "relu1_1:nan", "relu1_1:-1", "relu1_1:inf", "relu1_1,relu1_1", ",", "relu1_1,,relu2_1",
    "relu1_1:1:1", "conv1_1", "pool5", "relu1_1:1e400", "\xc3\xa9", "\xff", "1\n2",
};

/* A value: the row's default, one of its words, a number near its range, a list of values,
 * random bytes, a long one, or NULL. */
static char *pick_value(Reader *r, const char *key) {
    const NstyleOptionInfo *row = NULL;
    for (uint32_t i = 0; i < g_option_count; i++)
        if (key && strcmp(key, g_options[i].key) == 0) row = &g_options[i];
    uint8_t kind = u8(r);
    char text[128];
    switch (kind % 9) {
    case 0:
        return dup_string(row ? row->default_value : "1");
    case 1:
        if (row && *row->words) {
            /* the n-th comma-separated word */
            const char *w = row->words;
            for (uint8_t n = u8(r) % 4; n && strchr(w, ','); n--) w = strchr(w, ',') + 1;
            size_t len = strcspn(w, ",");
            char *s = malloc(len + 1);
            memcpy(s, w, len);
            s[len] = 0;
            return s;
        }
        /* fallthrough */
    case 2:
        if (row) {
            double v;
            switch (u8(r) % 6) {
            case 0: v = row->min; break;
            case 1: v = row->max; break;
            case 2: v = row->min - 1; break;
            case 3: v = row->max + 1; break;
            case 4: v = row->min + (row->max - row->min) * (u8(r) / 255.0); break;
            default: v = (double)(int16_t)u16(r); break;
            }
            if (row->value_type == NSTYLE_OPTION_INT) snprintf(text, sizeof text, "%.0f", v);
            else snprintf(text, sizeof text, "%.17g", v);
            return dup_string(text);
        }
        /* fallthrough */
    case 3: case 4:
        return dup_string(EXTRA_VALUES[u8(r) % (sizeof EXTRA_VALUES / sizeof *EXTRA_VALUES)]);
    case 5: case 6:
        return fuzz_string(r, 200);
    case 7: {
        size_t n = 1000 + u16(r) % 20000;
        char *s = malloc(n + 1);
        for (size_t i = 0; i < n; i++) s[i] = "relu1_1:1,"[i % 10];
        s[n] = 0;
        return s;
    }
    default:
        return kind & 0x80 ? NULL : dup_string("1");
    }
}

/* Current value of a table option as the library reports it (malloc'd, or NULL on failure). */
static char *current_value(const char *key) {
    size_t needed = 0;
    const char *saved = g_op;
    g_op = "nstyle_get_option (size query)";
    int st = checked(nstyle_get_option(g_model, key, NULL, 0, &needed));
    REQUIRE(st == NSTYLE_ERR_ARGUMENT, "size query returned %d, expected ARGUMENT", st);
    REQUIRE(needed >= 1 && needed < 1 << 20, "needed = %zu", needed);
    char *value = malloc(needed);
    g_op = "nstyle_get_option";
    st = checked(nstyle_get_option(g_model, key, value, needed, NULL));
    REQUIRE(st == NSTYLE_OK, "get_option with the needed size returned %d", st);
    REQUIRE(strlen(value) + 1 == needed, "value of %zu bytes, needed said %zu", strlen(value) + 1,
            needed);
    g_op = saved;
    return value;
}

/* ---------------------------------------------------------------- float helpers */

static float pick_float(Reader *r) {
    static const float table[] = {5.0f, 100.0f, 0.01f, 0.0f, -0.0f, 1.0f, -1.0f, NAN, INFINITY,
                                  -INFINITY, 1e9f, 1.0000001e9f, 2e9f, 1e-45f, 3.4e38f, 0.5f};
    uint8_t kind = u8(r);
    if (kind < 200) return table[kind % 16];
    uint32_t bits = u32(r);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static bool valid_weight(float f, double max) { return isfinite(f) && f >= 0 && f <= max; }

/* ---------------------------------------------------------------- operations */

enum {
    OP_CREATE, OP_FREE, OP_CREATE_WEIGHTS, OP_SET_CONTENT, OP_ADD_STYLE, OP_CLEAR_STYLES,
    OP_SET_WEIGHTS, OP_SET_OPTION, OP_GET_OPTION, OP_OPTION_INFO, OP_OPTION_FIND, OP_RESULT_SIZE,
    OP_STEP, OP_FETCH, OP_CANCEL, OP_MISC, OP_GUIDE, OP_INPUT, OP_TERMS, OP_COUNT
};

static void op_create(Reader *r) {
    static const char *const devices[] = {"cpu", NULL, "auto", "", " cpu ", "CPU", "cuda",
                                          "cuda:0", "cuda:1", "cuda:-1", "cuda:x", "gpu",
                                          "cpu\xff", "cuda:99999999999999999999"};
    uint8_t kind = u8(r);
    char *device = NULL;
    bool cpu_like;
    if (kind < 224) {
        const char *d = devices[kind % (sizeof devices / sizeof *devices)];
        device = d ? dup_string(d) : NULL;
    } else {
        device = fuzz_string(r, 32);
    }
    /* "cpu" and "auto" (no GPU here) must succeed; a GPU machine may accept "cuda*" too. */
    cpu_like = device == NULL || !strcmp(device, "cpu") || !strcmp(device, "auto") ||
               !strcmp(device, "") || !strcmp(device, " cpu ");
    /* Weight loading costs ~0.3-0.7 s: at most one per input, and only when it would replace the
     * model (a non-CPU device fails fast, before loading). */
    if (cpu_like && ((g_model && u8(r) % 4) || g_loads_left <= 0)) {
        free(device);
        return;
    }
    if (cpu_like) g_loads_left--;
    bool null_out = u8(r) % 16 == 0;
    NstyleModel *m = (NstyleModel *)(uintptr_t)0x1;
    g_op = "nstyle_model_create";
    int st = checked(nstyle_model_create(NULL, device, null_out ? NULL : &m));
    if (null_out) {
        expect(st, NSTYLE_ERR_ARGUMENT);
    } else if (st != NSTYLE_OK) {
        REQUIRE(m == NULL, "failed create (status %d) left *out = %p", st, (void *)m);
        REQUIRE(!cpu_like, "creating a model on '%s' failed with %d", device ? device : "NULL",
                st);
        expect2(st, NSTYLE_ERR_DEVICE, NSTYLE_ERR_ARGUMENT); /* ARGUMENT: not UTF-8 */
    } else {
        REQUIRE(m != NULL, "create returned OK with *out = NULL");
        if (cpu_like) {
            nstyle_model_free(g_model);
            g_model = m;
        } else {
            nstyle_model_free(m); /* a GPU model: not used here */
        }
    }
    free(device);
}

static void op_free(Reader *r) {
    (void)r;
    nstyle_model_free(g_model); /* NULL is harmless too */
    g_model = NULL;
}

/* A weights file made of fuzz bytes (the library's own safetensors parser), or odd paths. */
static void op_create_weights(Reader *r) {
    static char path[64];
    if (!*path) snprintf(path, sizeof path, "/tmp/nstyle-fuzz-%d.safetensors", (int)getpid());
    uint8_t kind = u8(r);
    const char *weights = path;
    int expected_io = 0;
    if (kind % 8 == 0) weights = "/nonexistent/nstyle.safetensors", expected_io = 1;
    else if (kind % 8 == 1) weights = "/", expected_io = 1;
    else if (kind % 8 == 2) weights = "/dev/null";
    else if (kind % 8 == 3) weights = "", expected_io = 1;
    else if (kind % 8 == 4) weights = "/tmp/\xff\xfe-no-such-file", expected_io = 1;
    else {
        size_t n = u16(r) % 4096;
        if (n > r->len - r->pos) n = r->len - r->pos;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        REQUIRE(fd >= 0, "harness: cannot write %s", path);
        REQUIRE(write(fd, r->data + r->pos, n) == (ssize_t)n, "harness: short write");
        close(fd);
        r->pos += n;
    }
    NstyleModel *m = (NstyleModel *)(uintptr_t)0x1;
    g_op = "nstyle_model_create(fuzzed weights)";
    int st = checked(nstyle_model_create(weights, "cpu", &m));
    if (st == NSTYLE_OK) {
        /* Only a well-formed file of the right shapes can get here (not from a few KB). */
        REQUIRE(m != NULL, "create returned OK with *out = NULL");
        nstyle_model_free(m);
        return;
    }
    REQUIRE(m == NULL, "failed create (status %d) left *out = %p", st, (void *)m);
    if (expected_io) expect(st, NSTYLE_ERR_IO);
    else expect2(st, NSTYLE_ERR_IO, NSTYLE_ERR_MODEL);
}

static void op_image(Reader *r, bool style) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    Image im = image_desc(r);
    float blend = 1.0f;
    if (style) blend = u8(r) % 4 ? 1.0f : pick_float(r);
    Buffer buf = {0};
    const void *pixels = NULL;
    if (!im.null) {
        size_t len = im.invalid ? 1 : im.len;
        buf = buffer_new(len, u8(r) % 2);
        fill_pixels(r, buf.ptr, len, im.format);
        pixels = buf.ptr;
    }
    int st;
    if (style) {
        g_op = "nstyle_add_style";
        st = checked(nstyle_add_style(m, pixels, im.width, im.height, im.stride, im.format, blend));
    } else {
        g_op = "nstyle_set_content";
        st = checked(nstyle_set_content(m, pixels, im.width, im.height, im.stride, im.format));
    }
    bool bad_blend = style && !(isfinite(blend) && blend >= 0);
    if (null_model || im.invalid || im.null || bad_blend)
        expect(st, NSTYLE_ERR_ARGUMENT);
    else
        expect2(st, NSTYLE_OK, NSTYLE_ERR_MEMORY); /* MEMORY: a tiny max_memory_mb */
    if (!style && st == NSTYLE_OK && m == g_model) g_content_w = im.width, g_content_h = im.height;
    if (style && st == NSTYLE_OK && m == g_model) g_styles++;
    if (buf.ptr) buffer_free(&buf);
}

static void op_clear_styles(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    g_op = "nstyle_clear_styles";
    expect(checked(nstyle_clear_styles(m)), null_model ? NSTYLE_ERR_ARGUMENT : NSTYLE_OK);
    if (!null_model) g_styles = 0;
}

static void op_set_weights(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    NstyleWeights w;
    w.content = pick_float(r);
    w.style = pick_float(r);
    w.tv = pick_float(r);
    bool null_weights = u8(r) % 16 == 0;
    g_op = "nstyle_set_weights";
    int st = checked(nstyle_set_weights(m, null_weights ? NULL : &w));
    if (null_model || null_weights) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        return;
    }
    bool valid = valid_weight(w.content, 1e9) && valid_weight(w.style, 1e9) &&
                 valid_weight(w.tv, 1e9);
    bool invalid = !isfinite(w.content) || !isfinite(w.style) || !isfinite(w.tv) ||
                   w.content < 0 || w.style < 0 || w.tv < 0;
    if (valid) expect(st, NSTYLE_OK);
    if (invalid) expect(st, NSTYLE_ERR_ARGUMENT);
    expect2(st, NSTYLE_OK, NSTYLE_ERR_ARGUMENT);
}

static void op_set_option(Reader *r) {
    bool null_model, known;
    NstyleModel *m = pick_model(r, &null_model);
    char *key = pick_key(r, &known);
    char *value = pick_value(r, key);
    char *before = !null_model && known ? current_value(key) : NULL;
    g_op = "nstyle_set_option";
    int st = checked(nstyle_set_option(m, key, value));
    if (null_model || !key || !value || !known) {
        expect(st, NSTYLE_ERR_ARGUMENT);
    } else {
        expect2(st, NSTYLE_OK, NSTYLE_ERR_ARGUMENT);
        char *after = current_value(key);
        if (st != NSTYLE_OK)
            REQUIRE(strcmp(before, after) == 0, "refused set_option(%s) changed it from '%s' to '%s'",
                    key, before, after);
        free(after);
    }
    free(before);
    free(key);
    free(value);
}

static void op_get_option(Reader *r) {
    bool null_model, known;
    NstyleModel *m = pick_model(r, &null_model);
    char *key = pick_key(r, &known);
    uint8_t kind = u8(r);
    size_t buffer_len = u8(r) % 48;
    bool null_buffer = kind % 8 == 0;
    bool null_needed = kind % 3 == 0;
    if (null_buffer && kind % 16 == 0) buffer_len = 0;
    /* GUARD sentinel bytes on both sides of the buffer_len bytes the library may write. */
    uint8_t *block = malloc(buffer_len + 2 * GUARD);
    memset(block, SENTINEL, buffer_len + 2 * GUARD);
    char *buffer = (char *)block + GUARD;
    size_t needed = 0xdeadbeef;
    g_op = "nstyle_get_option";
    int st = checked(nstyle_get_option(m, key, null_buffer ? NULL : buffer, buffer_len,
                                       null_needed ? NULL : &needed));
    for (size_t i = 0; i < GUARD; i++) {
        REQUIRE(block[i] == SENTINEL, "byte %zu before the buffer was written", GUARD - i);
        REQUIRE(block[GUARD + buffer_len + i] == SENTINEL,
                "byte %zu past buffer_len %zu was written", i, buffer_len);
    }
    if (null_model || !key || !known) {
        expect(st, NSTYLE_ERR_ARGUMENT);
    } else {
        char *value = current_value(key);
        size_t size = strlen(value) + 1;
        if (!null_needed) REQUIRE(needed == size, "needed = %zu, the value takes %zu", needed, size);
        if (null_buffer || buffer_len < size) {
            expect(st, NSTYLE_ERR_ARGUMENT);
            if (!null_buffer)
                for (size_t i = 0; i < buffer_len; i++)
                    REQUIRE(block[GUARD + i] == SENTINEL,
                            "short buffer (%zu < %zu) was written at %zu", buffer_len, size, i);
        } else {
            expect(st, NSTYLE_OK);
            REQUIRE(memcmp(buffer, value, size) == 0, "got '%.*s', expected '%s'",
                    (int)buffer_len, buffer, value);
            /* The text is accepted back and changes nothing. */
            g_op = "nstyle_set_option(value from get_option)";
            int back = checked(nstyle_set_option(g_model, key, value));
            REQUIRE(back == NSTYLE_OK, "set_option(%s, '%s') from get_option returned %d", key,
                    value, back);
            char *again = current_value(key);
            REQUIRE(strcmp(again, value) == 0, "%s round trip: '%s' became '%s'", key, value,
                    again);
            free(again);
        }
        free(value);
    }
    free(block);
    free(key);
}

static void check_info(const NstyleOptionInfo *info) {
    const char *fields[] = {info->key, info->words, info->default_value, info->unit, info->doc,
                            info->accepts};
    for (size_t i = 0; i < 6; i++) {
        REQUIRE(fields[i] != NULL, "option info string %zu is NULL", i);
        size_t len = strnlen(fields[i], 4096);
        REQUIRE(len < 4096, "option info string %zu is unterminated or huge", i);
        const char *bad = check_text((const unsigned char *)fields[i], len);
        REQUIRE(bad == NULL, "option info string %zu: %s", i, bad);
    }
    REQUIRE(*info->key, "empty key");
    REQUIRE(info->value_type <= NSTYLE_OPTION_LAYERS, "value_type %u", info->value_type);
    REQUIRE(info->effect <= NSTYLE_EFFECT_LIVE, "effect %u", info->effect);
    REQUIRE(info->min <= info->max, "min %g > max %g", info->min, info->max);
}

static void op_option_info(Reader *r) {
    uint8_t kind = u8(r);
    uint32_t index;
    switch (kind % 4) {
    case 0: index = g_option_count; break;
    case 1: index = g_option_count + u8(r); break;
    case 2: index = u32(r); break;
    default: index = u8(r) % g_option_count; break;
    }
    bool null_out = u8(r) % 8 == 0;
    NstyleOptionInfo info;
    memset(&info, SENTINEL, sizeof info);
    g_op = "nstyle_option_info";
    int st = checked(nstyle_option_info(index, null_out ? NULL : &info));
    if (null_out || index >= g_option_count) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        return;
    }
    expect(st, NSTYLE_OK);
    check_info(&info);
    REQUIRE(strcmp(info.key, g_options[index].key) == 0, "row %u changed its key", index);
}

static void op_option_find(Reader *r) {
    bool known;
    char *key = pick_key(r, &known);
    bool null_out = u8(r) % 8 == 0;
    NstyleOptionInfo info;
    g_op = "nstyle_option_find";
    int st = checked(nstyle_option_find(key, null_out ? NULL : &info));
    if (null_out || !key || !known) {
        expect(st, NSTYLE_ERR_ARGUMENT);
    } else {
        expect(st, NSTYLE_OK);
        check_info(&info);
        REQUIRE(strcmp(info.key, key) == 0, "found '%s' for '%s'", info.key, key);
    }
    free(key);
}


static void op_result_size(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    uint8_t kind = u8(r);
    uint32_t w = 0, h = 0;
    g_op = "nstyle_result_size";
    int st = checked(nstyle_result_size(m, kind % 8 == 0 ? NULL : &w, kind % 8 == 1 ? NULL : &h));
    if (null_model || kind % 8 <= 1) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        return;
    }
    if (!g_content_set) {
        expect(st, NSTYLE_ERR_STATE);
        return;
    }
    expect(st, NSTYLE_OK);
    char *size = current_value("size");
    REQUIRE(w >= 1 && h >= 1 && (w > h ? w : h) == long_side_for(size),
            "result size %ux%u for size %s", w, h, size);
    free(size);
}

/* Keeps a step cheap: a working image <= 32 px, style_scale <= 2. */
static void cap_cost(Reader *r) {
    char *size = current_value("size");
    if (long_side_for(size) > 32) {
        char text[8];
        snprintf(text, sizeof text, "%d", 16 + u8(r) % 17);
        set_option_or_die("size", text);
    }
    free(size);
    char *scale = current_value("style_scale");
    if (atof(scale) > 2) set_option_or_die("style_scale", "1");
    free(scale);
}

static void op_step(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    uint32_t iterations = u8(r) % 3;
    if ((int)iterations > g_steps_left) iterations = (uint32_t)g_steps_left;
    g_steps_left -= (int)iterations;
    bool null_progress = u8(r) % 4 == 0;
    if (!null_model) cap_cost(r);
    NstyleProgress p;
    memset(&p, SENTINEL, sizeof p);
    g_op = "nstyle_step";
    int st = checked(nstyle_step(m, iterations, null_progress ? NULL : &p));
    if (null_model) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        return;
    }
    REQUIRE(st == NSTYLE_OK || st == NSTYLE_DONE || st == NSTYLE_ERR_STATE ||
                st == NSTYLE_ERR_ARGUMENT || st == NSTYLE_ERR_CANCELLED ||
                st == NSTYLE_ERR_NUMERIC || st == NSTYLE_ERR_MEMORY,
            "step returned %d", st);
    if (st != NSTYLE_OK && st != NSTYLE_DONE) {
        const char *message = nstyle_errmsg(m);
        REQUIRE(message && *message, "step failed with %d and no model message", st);
    }
    if ((st == NSTYLE_OK || st == NSTYLE_DONE) && !null_progress) {
        REQUIRE(p.iteration <= p.total, "progress %u of %u", p.iteration, p.total);
        REQUIRE((st == NSTYLE_DONE) == (p.iteration == p.total), "status %d at %u of %u", st,
                p.iteration, p.total);
        REQUIRE(p.scales >= 1 && p.scale < p.scales, "scale %u of %u", p.scale, p.scales);
        char *its = current_value("iterations");
        REQUIRE(p.total == (uint32_t)atol(its), "total %u, iterations option %s", p.total, its);
        free(its);
    }
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void op_fetch(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    Image im = image_desc(r);
    if (!null_model) cap_cost(r); /* the first fetch makes the working image at `size` */
    if (!null_model && !im.invalid && u8(r) % 4 == 0 && g_content_set) {
        /* At the natural size (unresampled), when it fits the cap. */
        uint32_t w, h;
        g_op = "nstyle_result_size";
        if (checked(nstyle_result_size(m, &w, &h)) == NSTYLE_OK && w <= 64 && h <= 64) {
            im.width = w, im.height = h;
            size_t row = w * bytes_per_pixel(im.format);
            im.stride = row + im.stride % 7;
            im.len = im.stride * (h - 1) + row;
        }
    }
    size_t len = im.invalid ? 1 : im.len;
    Buffer buf = {0};
    if (!im.null) {
        buf = buffer_new(len, u8(r) % 2);
        memset(buf.ptr, SENTINEL, len);
    }
    g_op = "nstyle_fetch_result";
    int st = checked(nstyle_fetch_result(m, im.null ? NULL : buf.ptr, im.width, im.height,
                                         im.stride, im.format));
    if (null_model || im.invalid || im.null) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        if (buf.ptr)
            for (size_t i = 0; i < len; i++)
                REQUIRE(buf.ptr[i] == SENTINEL, "refused fetch wrote byte %zu", i);
    } else if (!g_content_set) {
        expect(st, NSTYLE_ERR_STATE);
    } else if (st == NSTYLE_ERR_ARGUMENT) {
        /* By design (tests/c/test_abi.c "thin image"): a content whose aspect gives a working
         * image under 16 px on the short side at `size` is refused as ARGUMENT, by the first
         * fetch (which makes the initial image) as by step. */
        REQUIRE(strstr(nstyle_last_error(), "on the short side") != NULL,
                "fetch of a valid buffer refused as ARGUMENT");
    } else {
        expect2(st, NSTYLE_OK, NSTYLE_ERR_MEMORY);
    }
    if (buf.ptr && !im.invalid) {
        size_t row = im.width * bytes_per_pixel(im.format);
        /* The padding between rows is never written. */
        for (uint32_t y = 0; y + 1 < im.height; y++)
            for (size_t i = row; i < im.stride; i++)
                REQUIRE(buf.ptr[y * im.stride + i] == SENTINEL,
                        "fetch %ux%u stride %zu format %u wrote padding byte %zu of row %u",
                        im.width, im.height, im.stride, im.format, i, y);
        if (st != NSTYLE_OK)
            for (size_t i = 0; i < len; i++)
                REQUIRE(buf.ptr[i] == SENTINEL, "failed fetch wrote byte %zu", i);
        if (st == NSTYLE_OK && (im.format == NSTYLE_RGBA_F32 || im.format == NSTYLE_RGBA_F16)) {
            for (uint32_t y = 0; y < im.height; y++)
                for (uint32_t x = 0; x < im.width * 4; x++) {
                    float v;
                    if (im.format == NSTYLE_RGBA_F32) {
                        memcpy(&v, buf.ptr + y * im.stride + x * 4, 4);
                    } else {
                        uint16_t h;
                        memcpy(&h, buf.ptr + y * im.stride + x * 2, 2);
                        v = half_to_float(h);
                    }
                    REQUIRE(v >= 0 && v <= 1, "float result %g at (%u, %u) is outside 0..1", v,
                            x / 4, y);
                }
        }
    }
    if (buf.ptr) buffer_free(&buf);
}

static void op_cancel(Reader *r) {
    nstyle_cancel(u8(r) % 8 == 0 ? NULL : g_model);
}

/* Whether a valid mask buffer is one the library must refuse: a float sample that is NaN or
 * infinite, or no sample above 0 (it selects nothing). */
static bool mask_refused(const Image *im, const uint8_t *p) {
    bool any_inside = false;
    size_t bps = bytes_per_mask_sample(im->format);
    for (uint32_t y = 0; y < im->height; y++) {
        for (uint32_t x = 0; x < im->width; x++) {
            const uint8_t *s = p + y * im->stride + x * bps;
            if (im->format == NSTYLE_MASK_GREY_F32) {
                float f;
                memcpy(&f, s, 4);
                if (!isfinite(f)) return true;
                any_inside |= f > 0;
            } else if (im->format == NSTYLE_MASK_GREY16) {
                uint16_t v;
                memcpy(&v, s, 2);
                any_inside |= v > 0;
            } else {
                any_inside |= *s > 0;
            }
        }
    }
    return !any_inside;
}

/* The masks, the initial image and the temporal term (ABI 4 and 5): set with valid and invalid
 * descriptions, style indices past the last style, masks that select nothing or hold NaN,
 * temporal weight maps with values outside 0..1, and cleared again. */
static void op_guide(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    uint8_t kind = u8(r) % 9;
    /* Mostly an existing style, sometimes one past the last. */
    uint32_t index = u8(r) % 4 == 0 ? g_styles + u8(r) : (g_styles ? u8(r) % g_styles : 0);
    bool no_such_style = index >= g_styles;
    if (kind == 1 || kind == 3 || kind == 5 || kind == 8) { /* the clears */
        int st;
        if (kind == 1) {
            g_op = "nstyle_clear_style_mask";
            st = checked(nstyle_clear_style_mask(m, index));
        } else if (kind == 3) {
            g_op = "nstyle_clear_style_source_mask";
            st = checked(nstyle_clear_style_source_mask(m, index));
        } else if (kind == 5) {
            g_op = "nstyle_clear_content_mask";
            st = checked(nstyle_clear_content_mask(m));
        } else {
            g_op = "nstyle_clear_temporal";
            st = checked(nstyle_clear_temporal(m));
        }
        bool by_style = kind == 1 || kind == 3;
        expect(st, null_model || (by_style && no_such_style) ? NSTYLE_ERR_ARGUMENT : NSTYLE_OK);
        return;
    }
    bool masked = kind == 0 || kind == 2 || kind == 4;
    Image im = masked ? mask_desc(r) : image_desc(r);
    Buffer buf = {0};
    const void *pixels = NULL;
    if (!im.null) {
        size_t len = im.invalid ? 1 : im.len;
        buf = buffer_new(len, u8(r) % 2);
        fill_pixels(r, buf.ptr, len, masked && im.format == NSTYLE_MASK_GREY_F32
                                         ? NSTYLE_RGBA_F32 /* NaN, inf, negatives, > 1 */
                                         : im.format);
        if (masked && u8(r) % 8 == 0) memset(buf.ptr, 0, len); /* selects nothing */
        pixels = buf.ptr;
    }
    bool refused = null_model || im.invalid || im.null;
    int st;
    if (masked) {
        if (!refused) refused = mask_refused(&im, buf.ptr);
        if (kind == 4) {
            g_op = "nstyle_set_content_mask";
            st = checked(nstyle_set_content_mask(m, pixels, im.width, im.height, im.stride,
                                                 im.format));
        } else {
            refused |= no_such_style;
            g_op = kind == 0 ? "nstyle_set_style_mask" : "nstyle_set_style_source_mask";
            st = checked(kind == 0 ? nstyle_set_style_mask(m, index, pixels, im.width, im.height,
                                                           im.stride, im.format)
                                   : nstyle_set_style_source_mask(m, index, pixels, im.width,
                                                                  im.height, im.stride,
                                                                  im.format));
        }
        if (refused) expect(st, NSTYLE_ERR_ARGUMENT);
        else expect2(st, NSTYLE_OK, NSTYLE_ERR_MEMORY); /* MEMORY: a tiny max_memory_mb */
    } else if (kind == 6) {
        g_op = "nstyle_set_init_image";
        st = checked(nstyle_set_init_image(m, pixels, im.width, im.height, im.stride, im.format));
        if (refused) expect(st, NSTYLE_ERR_ARGUMENT);
        else expect2(st, NSTYLE_OK, NSTYLE_ERR_MEMORY);
    } else {
        float weight = u8(r) % 4 ? (float)(u8(r) % 8) : pick_float(r);
        refused |= !(isfinite(weight) && weight >= 0);
        float *map = NULL;
        size_t samples = im.invalid ? 0 : (size_t)im.width * im.height;
        if (samples && u8(r) % 4) {
            map = malloc(samples * sizeof *map);
            for (size_t i = 0; i < samples; i++) map[i] = u8(r) / 255.0f;
            if (u8(r) % 4 == 0) {
                map[u8(r) % samples] = pick_float(r);
                for (size_t i = 0; i < samples; i++) refused |= !(map[i] >= 0 && map[i] <= 1);
            }
        }
        g_op = "nstyle_set_temporal";
        st = checked(nstyle_set_temporal(m, pixels, im.width, im.height, im.stride, im.format,
                                         map, weight));
        if (refused) expect(st, NSTYLE_ERR_ARGUMENT);
        else expect2(st, NSTYLE_OK, NSTYLE_ERR_MEMORY);
        free(map);
    }
    if (buf.ptr) buffer_free(&buf);
}

/* NstyleFormat for nstyle_set_input: the colours 0..5, then the grey planes 6..8. */
static size_t bytes_per_input_pixel(uint32_t format) {
    static const size_t bpp[] = {3, 4, 8, 16, 4, 8, 1, 2, 4};
    return format < 9 ? bpp[format] : 0;
}

/* ABI 6's one input call: every slot (and unknown ones), indices past the styles, colour images
 * and planes in either kind of slot, NULL to clear, and the descriptions' invalid kinds. */
static void op_input(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    uint32_t slot = u8(r) % 10; /* 8 and 9 are unknown */
    uint32_t index = u8(r) % 4 == 0 ? g_styles + u8(r) % 3 : (g_styles ? u8(r) % g_styles : 0);
    bool clear = u8(r) % 6 == 0;
    Image im = describe(r, 9, bytes_per_input_pixel);
    if (im.invalid && im.format >= 6 && im.format <= 8) im.format = 0xffffffffu; /* unknown */
    bool plane = im.format >= 6 && im.format <= 8;
    bool takes_plane = slot == 2 || slot == 3 || slot == 4 || slot == 7;
    Buffer buf = {0};
    NstyleImage image = {NULL, im.width, im.height, im.stride, im.format};
    if (!clear && !im.null) {
        size_t len = im.invalid ? 1 : im.len;
        buf = buffer_new(len, u8(r) % 2);
        fill_pixels(r, buf.ptr, len, im.format == 8 ? NSTYLE_RGBA_F32 : im.format);
        if (plane && u8(r) % 8 == 0) memset(buf.ptr, 0, len); /* selects nothing */
        image.pixels = buf.ptr;
    }
    bool refused = null_model || slot >= 8;
    bool indexed = slot == 1 || slot == 2 || slot == 3;
    if (!refused && clear) {
        refused = slot == 0 || (indexed && index >= g_styles) || (!indexed && index != 0);
    } else if (!refused) {
        refused = im.invalid || im.null || plane != takes_plane ||
                  (indexed && index > g_styles) || (slot != 1 && indexed && index == g_styles) ||
                  (!indexed && index != 0);
        if (!refused && plane) {
            Image as_mask = im;
            as_mask.format = im.format - 6; /* NstyleMaskFormat numbering */
            bool nan_or_empty = mask_refused(&as_mask, buf.ptr);
            bool empty_allowed = slot == 7; /* temporal weights may weigh nothing */
            if (nan_or_empty) {
                if (!empty_allowed) refused = true;
                else if (im.format == 8) {
                    for (size_t i = 0; i < (size_t)im.width * im.height && !refused; i++) {
                        float f;
                        memcpy(&f, buf.ptr + (i / im.width) * im.stride + (i % im.width) * 4, 4);
                        refused = !isfinite(f);
                    }
                }
            }
        }
    }
    g_op = "nstyle_set_input";
    int st = checked(nstyle_set_input(m, slot, index, clear ? NULL : &image));
    if (refused) {
        expect(st, NSTYLE_ERR_ARGUMENT);
    } else {
        REQUIRE(st == NSTYLE_OK || st == NSTYLE_ERR_MEMORY || (slot == 7 && st == NSTYLE_ERR_STATE),
                "set_input(%u, %u) returned %d", slot, index, st);
    }
    if (st != NSTYLE_OK && !null_model) {
        const char *message = nstyle_errmsg(m);
        REQUIRE(message && *message, "set_input failed with %d and no model message", st);
    }
    if (st == NSTYLE_OK && m == g_model) {
        if (slot == 1 && clear) g_styles--;
        else if (slot == 1 && index == g_styles) g_styles++;
        if (slot == 0) g_content_w = im.width, g_content_h = im.height;
    }
    if (buf.ptr) buffer_free(&buf);
}

/* The last step's loss terms by name: every index below the count answers with a name, the
 * one after is ARGUMENT, NULL outputs are ARGUMENT. */
static void op_terms(Reader *r) {
    bool null_model;
    NstyleModel *m = pick_model(r, &null_model);
    uint32_t count = 99;
    g_op = "nstyle_progress_term_count";
    int st = checked(nstyle_progress_term_count(m, u8(r) % 8 == 0 ? NULL : &count));
    if (null_model || count == 99) {
        expect(st, NSTYLE_ERR_ARGUMENT);
        return;
    }
    expect(st, NSTYLE_OK);
    REQUIRE(count <= 5, "%u loss terms", count);
    for (uint32_t i = 0; i <= count; i++) {
        const char *name = NULL;
        double value = NAN;
        g_op = "nstyle_progress_term";
        st = checked(nstyle_progress_term(m, i, &name, &value));
        if (i == count) {
            expect(st, NSTYLE_ERR_ARGUMENT);
        } else {
            expect(st, NSTYLE_OK);
            REQUIRE(name && *name, "term %u has no name", i);
        }
    }
}

/* ABI 7's calls that need no run: time words for odd numbers and buffers, the device list past
 * its end, the style side on the model (or NULL), and the preview driver's misuse and a create
 * and free with no job. The case comes from a counter, not from the input, so that the inputs
 * found before ABI 7 still take the paths they were found on. */
static void op_abi7(void) {
    static unsigned calls;
    static const double seconds[] = {0.0, -1.0, NAN, INFINITY, 1e300, 89.5, 5399.0};
    unsigned call = calls++;
    char text[128]; /* room for any time in words, 1e300 s included */
    size_t needed = 0;
    g_op = "nstyle_describe_seconds";
    int st = checked(nstyle_describe_seconds(seconds[call % 7], call % 3 ? text : NULL,
                                             call % 3 == 2 ? 3 : sizeof text, &needed));
    if (call % 3 == 1) {
        expect(st, NSTYLE_OK);
        REQUIRE(needed == strlen(text) + 1, "needed %zu for '%s'", needed, text);
    } else {
        expect(st, NSTYLE_ERR_ARGUMENT);
    }
    NstyleDeviceInfo device;
    g_op = "nstyle_device_info";
    uint32_t devices = nstyle_device_count();
    expect(checked(nstyle_device_info(devices + call % 2, &device)), NSTYLE_ERR_ARGUMENT);
    expect(checked(nstyle_device_info(0, &device)), NSTYLE_OK);
    REQUIRE(device.id && device.name && device.reason && device.usable == 1, "the CPU entry");
    uint32_t side = 0;
    g_op = "nstyle_style_side";
    st = checked(nstyle_style_side(g_model, call % 4 ? &side : NULL));
    if (!g_model || call % 4 == 0) expect(st, NSTYLE_ERR_ARGUMENT);
    else expect2(st, NSTYLE_OK, NSTYLE_ERR_STATE); /* ERR_STATE: no content yet */
    if (st == NSTYLE_OK) REQUIRE(side >= 16, "style side %u", side);
    NstylePreviewFrame frame;
    NstylePreviewEstimate estimate;
    g_op = "nstyle_preview_*";
    expect(checked(nstyle_preview_frame(NULL, &frame, NULL, 0, NSTYLE_RGBA8)), NSTYLE_ERR_ARGUMENT);
    expect(checked(nstyle_preview_estimate(NULL, &estimate)), NSTYLE_ERR_ARGUMENT);
    expect(checked(nstyle_preview_start(NULL, g_model, 0, 0, NULL)), NSTYLE_ERR_ARGUMENT);
    if (call % 8 == 0) {
        NstylePreview *preview = NULL;
        expect(checked(nstyle_preview_create(NULL, "cpu", &preview)), NSTYLE_OK);
        expect(checked(nstyle_preview_frame(preview, &frame, NULL, 0, NSTYLE_RGBA8)), NSTYLE_OK);
        REQUIRE(frame.job == 0, "a frame before any start");
        expect(checked(nstyle_preview_estimate(preview, &estimate)), NSTYLE_OK);
        expect(checked(nstyle_preview_text(preview, 3 + call, text, sizeof text, NULL)),
               NSTYLE_ERR_ARGUMENT);
        expect(checked(nstyle_preview_start(preview, NULL, 0, 0, NULL)), NSTYLE_ERR_ARGUMENT);
        expect(checked(nstyle_preview_start(preview, g_model, 0, 1 + call, NULL)),
               NSTYLE_ERR_ARGUMENT);
        nstyle_preview_free(preview);
    }
}

static void op_misc(Reader *r) {
    (void)r;
    g_op = "nstyle_abi_version";
    REQUIRE(nstyle_abi_version() == NSTYLE_ABI_VERSION, "ABI version %u", nstyle_abi_version());
    REQUIRE(nstyle_option_count() == g_option_count, "option count changed");
    check_last_error(NSTYLE_OK);
    op_abi7();
}

/* Op frequencies out of 36. Create and free cost a weights load (~0.3-0.7 s), so they are rare
 * and kept off the byte values fuzz data is full of (0x00, 0x01, 0xff). */
static const uint8_t OP_TABLE[36] = {
    OP_MISC, OP_OPTION_INFO, OP_CREATE_WEIGHTS, OP_CREATE_WEIGHTS,                  /*  0.. 3 */
    OP_SET_CONTENT, OP_SET_CONTENT, OP_SET_CONTENT, OP_ADD_STYLE,                    /*  4.. 7 */
    OP_ADD_STYLE, OP_ADD_STYLE, OP_CLEAR_STYLES, OP_SET_WEIGHTS,                     /*  8..11 */
    OP_SET_WEIGHTS, OP_SET_OPTION, OP_SET_OPTION, OP_SET_OPTION,                     /* 12..15 */
    OP_SET_OPTION, OP_GET_OPTION, OP_GET_OPTION, OP_GET_OPTION,                      /* 16..19 */
    OP_OPTION_FIND, OP_CREATE, OP_RESULT_SIZE, OP_STEP,                              /* 20..23 */
    OP_STEP, OP_FETCH, OP_FETCH, OP_FREE,                                            /* 24..27 */
    OP_FETCH, OP_CANCEL, OP_GUIDE, OP_GUIDE,                                         /* 28..31 */
    OP_INPUT, OP_INPUT, OP_INPUT, OP_TERMS,                                          /* 32..35 */
};

static void run_op(Reader *r) {
    uint8_t op = OP_TABLE[u8(r) % 36];
    if (g_trace) fprintf(stderr, "fuzz_abi: op %d at byte %zu\n", op, r->pos - 1);
    /* Ops that need a model create it again (the state a fresh model starts in). */
    if (!g_model && op != OP_FREE && op != OP_CREATE && op != OP_CREATE_WEIGHTS && op != OP_MISC &&
        op != OP_OPTION_INFO && op != OP_OPTION_FIND && u8(r) % 2 && g_loads_left > 0) {
        g_loads_left--;
        g_model = create_cpu_model();
        g_content_set = false;
        g_styles = 0;
    }
    switch (op) {
    case OP_CREATE: {
        NstyleModel *before = g_model;
        op_create(r);
        if (g_model != before) g_content_set = false, g_styles = 0;
        break;
    }
    case OP_FREE: op_free(r); break;
    case OP_CREATE_WEIGHTS: op_create_weights(r); break;
    case OP_SET_CONTENT: {
        NstyleModel *before = g_model;
        bool had = g_content_set;
        op_image(r, false);
        /* set when the call succeeded: detect through result_size */
        if (before) {
            uint32_t w, h;
            g_content_set = nstyle_result_size(before, &w, &h) == NSTYLE_OK;
            REQUIRE(g_content_set || !had, "content lost after set_content");
        }
        break;
    }
    case OP_ADD_STYLE: op_image(r, true); break;
    case OP_CLEAR_STYLES: op_clear_styles(r); break;
    case OP_SET_WEIGHTS: op_set_weights(r); break;
    case OP_SET_OPTION: op_set_option(r); break;
    case OP_GET_OPTION: op_get_option(r); break;
    case OP_OPTION_INFO: op_option_info(r); break;
    case OP_OPTION_FIND: op_option_find(r); break;
    case OP_RESULT_SIZE: op_result_size(r); break;
    case OP_STEP: op_step(r); break;
    case OP_FETCH: op_fetch(r); break;
    case OP_CANCEL: op_cancel(r); break;
    case OP_GUIDE: op_guide(r); break;
    case OP_INPUT: op_input(r); break;
    case OP_TERMS: op_terms(r); break;
    default: op_misc(r); break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *trace = getenv("NSTYLE_FUZZ_TRACE");
    g_trace = trace && *trace == '1';
    g_option_count = nstyle_option_count();
    if (g_option_count == 0 || g_option_count > 64) {
        fprintf(stderr, "fuzz_abi: option count %u\n", g_option_count);
        exit(2);
    }
    for (uint32_t i = 0; i < g_option_count; i++) {
        g_op = "nstyle_option_info (init)";
        expect(checked(nstyle_option_info(i, &g_options[i])), NSTYLE_OK);
        check_info(&g_options[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Reader r = {data, size, 0};
    reset_model();
    g_content_set = true;
    for (int ops = 0; ops < 48 && more(&r); ops++) run_op(&r);
    /* An input that freed the model pays for the next one here, not the next input. */
    if (!g_model) g_model = create_cpu_model();
    g_op = "-";
    return 0;
}
