/*
 * nstyle_cli: the "linking from C" example of libnstyle.
 *
 *   nstyle_cli CONTENT STYLE OUTPUT [size] [iterations]
 *
 * Images are binary Netpbm files, read and written here with no dependency: PPM (P6), PGM (P5)
 * and PAM (P7: GRAYSCALE, GRAYSCALE_ALPHA, RGB, RGB_ALPHA), 8 or 16 bits per sample. The output is
 * PAM (P7, keeping the content's alpha) when OUTPUT ends in ".pam", else PPM (P6); its bit depth
 * is the content's. Convert other formats with e.g. ImageMagick (`convert in.png out.pam`) or
 * netpbm (`pngtopam -alphapam`).
 *
 * Build: cc -std=c11 -O2 nstyle_cli.c $(pkg-config --cflags --libs nstyle) -o nstyle_cli
 * Env:   NSTYLE_DEVICE (auto, cpu, cuda, cuda:N), NSTYLE_WEIGHTS (weights file).
 * Ctrl-C stops after the current few iterations and writes the result so far (exit 130).
 */

#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nstyle.h>

static const char *program = "nstyle_cli";

/* The library's range and default of a whole-number option, for the usage text and checks. */
static bool int_option(const char *key, uint32_t *min, uint32_t *max, const char **fallback) {
    NstyleOptionInfo info;
    if (nstyle_option_find(key, &info) != NSTYLE_OK) return false;
    *min = (uint32_t)info.min;
    *max = info.max > UINT32_MAX ? UINT32_MAX : (uint32_t)info.max;
    *fallback = info.default_value;
    return true;
}

static void usage(FILE *to) {
    uint32_t size_min = 0, size_max = 0, it_min = 0, it_max = 0;
    const char *size_default = "?", *it_default = "?";
    int_option("size", &size_min, &size_max, &size_default);
    int_option("iterations", &it_min, &it_max, &it_default);
    fprintf(to,
            "usage: %s CONTENT STYLE OUTPUT [size] [iterations]\n"
            "\n"
            "Stylises CONTENT with STYLE and writes OUTPUT (neural style transfer, libnstyle).\n"
            "  size        longest side of the result in pixels, %u..%u (default %s)\n"
            "  iterations  optimisation iterations, %u..%u (default %s)\n"
            "(ranges and defaults are the library's own)\n"
            "\n"
            "Images are binary Netpbm files, handled without any image library: PPM (P6),\n"
            "PGM (P5) and PAM (P7, with or without alpha), 8 or 16 bits per sample. OUTPUT is\n"
            "PAM with the content's alpha if it ends in .pam, else PPM. Convert other formats\n"
            "with e.g. `convert photo.png photo.pam` (ImageMagick) or `pngtopam -alphapam`.\n"
            "Env: NSTYLE_DEVICE=auto|cpu|cuda|cuda:N, NSTYLE_WEIGHTS=path of the weights.\n",
            program, size_min, size_max, size_default, it_min, it_max, it_default);
}

/* ------------------------------------------------------------------ Netpbm */

/* An image as the library takes it: RGB8, RGBA8 or RGBA16 (native byte order), packed rows. */
struct image {
    uint32_t width, height;
    uint32_t format; /* NSTYLE_RGB8, NSTYLE_RGBA8 or NSTYLE_RGBA16 */
    bool has_alpha;
    void *pixels;
};

static size_t bytes_per_pixel(uint32_t format) {
    return format == NSTYLE_RGB8 ? 3 : format == NSTYLE_RGBA8 ? 4 : 8;
}

static size_t stride_of(const struct image *im) { return im->width * bytes_per_pixel(im->format); }

/* Reads one header token (skipping whitespace and # comments). */
static bool token(FILE *f, char *out, size_t size) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (!isspace(c)) {
            break;
        }
    }
    size_t n = 0;
    while (c != EOF && !isspace(c) && c != '#') {
        if (n + 1 >= size) return false;
        out[n++] = (char)c;
        c = fgetc(f);
    }
    out[n] = '\0';
    if (c == '#') ungetc(c, f);
    return n > 0;
}

static bool parse_u32(const char *text, unsigned long low, unsigned long high, uint32_t *out) {
    if (!*text || !isdigit((unsigned char)*text)) return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < low || v > high) return false;
    *out = (uint32_t)v;
    return true;
}

/* Reads a P5/P6/P7 file; on failure prints why and returns false. */
static bool read_netpbm(const char *path, struct image *im) {
    memset(im, 0, sizeof *im);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open '%s': %s\n", program, path, strerror(errno));
        return false;
    }
    char magic[3] = {0};
    uint32_t width = 0, height = 0, depth = 0, maxval = 0;
    bool ok = fread(magic, 1, 2, f) == 2 && magic[0] == 'P';
    const char *why = "not a binary PPM, PGM or PAM file (P5, P6 or P7)";
    char tok[64];
    if (ok && (magic[1] == '5' || magic[1] == '6')) {
        depth = magic[1] == '5' ? 1 : 3;
        ok = token(f, tok, sizeof tok) && parse_u32(tok, 1, UINT32_MAX, &width) &&
             token(f, tok, sizeof tok) && parse_u32(tok, 1, UINT32_MAX, &height) &&
             token(f, tok, sizeof tok) && parse_u32(tok, 1, 65535, &maxval);
        /* token() consumed exactly the one whitespace byte that ends the header. */
        if (!ok) why = "bad PPM/PGM header";
    } else if (ok && magic[1] == '7') {
        char tupltype[64] = "";
        for (;;) {
            if (!token(f, tok, sizeof tok)) {
                ok = false;
                break;
            }
            if (!strcmp(tok, "ENDHDR")) break;
            char value[64];
            if (!token(f, value, sizeof value)) {
                ok = false;
                break;
            }
            if (!strcmp(tok, "WIDTH")) ok &= parse_u32(value, 1, UINT32_MAX, &width);
            else if (!strcmp(tok, "HEIGHT")) ok &= parse_u32(value, 1, UINT32_MAX, &height);
            else if (!strcmp(tok, "DEPTH")) ok &= parse_u32(value, 1, 4, &depth);
            else if (!strcmp(tok, "MAXVAL")) ok &= parse_u32(value, 1, 65535, &maxval);
            else if (!strcmp(tok, "TUPLTYPE")) snprintf(tupltype, sizeof tupltype, "%s", value);
            else ok = false;
            if (!ok) break;
        }
        ok = ok && width && height && depth && maxval;
        if (!ok) why = "bad PAM header (need WIDTH, HEIGHT, DEPTH 1..4, MAXVAL, ENDHDR)";
        (void)tupltype; /* DEPTH decides: 1 gray, 2 gray+alpha, 3 RGB, 4 RGB+alpha */
    } else {
        ok = false;
    }
    if (ok && (width > 65536 || height > 65536)) {
        ok = false;
        why = "image too large";
    }
    size_t sample = maxval > 255 ? 2 : 1;
    size_t count = ok ? (size_t)width * height * depth : 0;
    uint8_t *raw = ok ? malloc(count * sample) : NULL;
    if (ok && !raw) {
        ok = false;
        why = "out of memory";
    }
    if (ok && fread(raw, sample, count, f) != count) {
        ok = false;
        why = "file is truncated (fewer samples than the header says)";
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: '%s': %s\n", program, path, why);
        free(raw);
        return false;
    }

    bool alpha = depth == 2 || depth == 4, gray = depth <= 2;
    im->width = width;
    im->height = height;
    im->has_alpha = alpha;
    im->format = sample == 2 ? NSTYLE_RGBA16 : alpha ? NSTYLE_RGBA8 : NSTYLE_RGB8;
    size_t channels = bytes_per_pixel(im->format) / (sample == 2 ? 2 : 1);
    im->pixels = malloc((size_t)width * height * bytes_per_pixel(im->format));
    if (!im->pixels) {
        fprintf(stderr, "%s: '%s': out of memory\n", program, path);
        free(raw);
        return false;
    }
    const uint32_t full = sample == 2 ? 65535 : 255;
    for (size_t p = 0; p < (size_t)width * height; p++) {
        uint32_t in[4] = {0, 0, 0, 0};
        for (size_t c = 0; c < depth; c++) {
            const uint8_t *s = raw + (p * depth + c) * sample;
            uint32_t v = sample == 2 ? (uint32_t)s[0] << 8 | s[1] : s[0]; /* big-endian */
            if (v > maxval) v = maxval;
            in[c] = (v * full + maxval / 2) / maxval;
        }
        uint32_t out[4] = {in[0], gray ? in[0] : in[1], gray ? in[0] : in[2],
                           alpha ? in[depth - 1] : full};
        for (size_t c = 0; c < channels; c++) {
            if (sample == 2)
                ((uint16_t *)im->pixels)[p * channels + c] = (uint16_t)out[c];
            else
                ((uint8_t *)im->pixels)[p * channels + c] = (uint8_t)out[c];
        }
    }
    free(raw);
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b) return false;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suffix[i]) return false;
    return true;
}

/* Writes `im` (RGBA8 or RGBA16) as P7 (with alpha if `alpha`) or P6, via a temporary file that is
 * renamed into place, so a failure leaves no partial OUTPUT. */
static bool write_netpbm(const char *path, const struct image *im, bool pam, bool alpha) {
    bool wide = im->format == NSTYLE_RGBA16;
    unsigned depth = pam && alpha ? 4 : 3;
    size_t tmp_len = strlen(path) + 16;
    char *tmp = malloc(tmp_len);
    if (!tmp) return false;
    snprintf(tmp, tmp_len, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot write '%s': %s\n", program, tmp, strerror(errno));
        free(tmp);
        return false;
    }
    unsigned maxval = wide ? 65535 : 255;
    if (pam)
        fprintf(f, "P7\nWIDTH %u\nHEIGHT %u\nDEPTH %u\nMAXVAL %u\nTUPLTYPE %s\nENDHDR\n",
                im->width, im->height, depth, maxval, depth == 4 ? "RGB_ALPHA" : "RGB");
    else
        fprintf(f, "P6\n%u %u\n%u\n", im->width, im->height, maxval);
    size_t sample = wide ? 2 : 1;
    uint8_t *row = malloc(im->width * depth * sample);
    bool ok = row != NULL;
    for (uint32_t y = 0; ok && y < im->height; y++) {
        uint8_t *o = row;
        for (uint32_t x = 0; x < im->width; x++) {
            size_t p = (size_t)y * im->width + x;
            for (unsigned c = 0; c < depth; c++) {
                if (wide) {
                    uint16_t v = ((const uint16_t *)im->pixels)[p * 4 + c];
                    *o++ = (uint8_t)(v >> 8);
                    *o++ = (uint8_t)v;
                } else {
                    *o++ = ((const uint8_t *)im->pixels)[p * 4 + c];
                }
            }
        }
        ok = fwrite(row, 1, (size_t)(o - row), f) == (size_t)(o - row);
    }
    free(row);
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "%s: cannot write '%s': %s\n", program, path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok;
}

/* ------------------------------------------------------------------ progress */

static volatile sig_atomic_t interrupted;

static void on_sigint(int signal) {
    (void)signal;
    interrupted = 1;
}

/* The last step's loss terms by name ("content 1.2e+06, style 3.4e+06, tv 12"): the library
 * names them (nstyle_progress_term), so a temporal or histogram term shows up here too. */
static void show_terms(NstyleModel *model) {
    uint32_t count = 0;
    if (nstyle_progress_term_count(model, &count) != NSTYLE_OK) return;
    for (uint32_t i = 0; i < count; i++) {
        const char *name = NULL;
        double value = 0.0;
        if (nstyle_progress_term(model, i, &name, &value) != NSTYLE_OK) return;
        fprintf(stderr, "%s%s %.3g", i ? ", " : " (", name, value);
        if (i + 1 == count) fputc(')', stderr);
    }
}

static void show_progress(NstyleModel *model, const NstyleProgress *p, bool tty) {
    enum { BAR = 30 };
    unsigned filled = p->total ? (unsigned)((uint64_t)p->iteration * BAR / p->total) : 0;
    char bar[BAR + 1];
    for (unsigned i = 0; i < BAR; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    if (filled >= BAR) bar[BAR - 1] = '=';
    bar[BAR] = '\0';
    fprintf(stderr, "%s[%s] %u/%u scale %u/%u loss %.3g", tty ? "\r" : "", bar, p->iteration,
            p->total, p->scale + 1, p->scales, p->loss);
    show_terms(model);
    fputs(tty ? "   " : "\n", stderr);
    fflush(stderr);
}

/* ------------------------------------------------------------------ main */

/* A failed call on `model`: its own message (nstyle_errmsg; NULL model, as after a failed
 * nstyle_model_create: the thread's nstyle_last_error). */
static int fail_call(const NstyleModel *model, const char *what) {
    fprintf(stderr, "%s: %s failed: %s\n", program, what, nstyle_errmsg(model));
    return 1;
}

/* An image as nstyle_set_input takes it. */
static NstyleImage image_of(const struct image *im) {
    NstyleImage out = {im->pixels, im->width, im->height, stride_of(im), im->format};
    return out;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 4 || argc > 6) {
        usage(stderr);
        return 2;
    }
    const char *content_path = argv[1], *style_path = argv[2], *output_path = argv[3];
    if (nstyle_abi_version() != NSTYLE_ABI_VERSION) {
        fprintf(stderr, "%s: libnstyle ABI %u, this program was built for %u\n", program,
                nstyle_abi_version(), NSTYLE_ABI_VERSION);
        return 1;
    }
    /* size and iterations: checked against the library's ranges now (a usage error, before the
     * weights load); when not given, the library's defaults apply. */
    const char *keys[2] = {"size", "iterations"};
    const char *values[2] = {argc > 4 ? argv[4] : NULL, argc > 5 ? argv[5] : NULL};
    for (int i = 0; i < 2; i++) {
        uint32_t min, max, value;
        const char *fallback;
        if (!values[i]) continue;
        if (!int_option(keys[i], &min, &max, &fallback)) {
            fprintf(stderr, "%s: %s\n", program, nstyle_last_error());
            return 1;
        }
        if (!parse_u32(values[i], min, max, &value)) {
            fprintf(stderr, "%s: %s '%s' is not a whole number in %u..%u\n", program, keys[i],
                    values[i], min, max);
            return 2;
        }
    }

    int rc = 1;
    struct image content = {0}, style = {0}, result = {0};
    NstyleModel *model = NULL;
    if (!read_netpbm(content_path, &content) || !read_netpbm(style_path, &style)) goto done;

    if (nstyle_model_create(NULL, getenv("NSTYLE_DEVICE"), &model) != NSTYLE_OK) {
        rc = fail_call(NULL, "loading the model");
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        if (values[i] && nstyle_set_option(model, keys[i], values[i]) != NSTYLE_OK) {
            rc = fail_call(model, i == 0 ? "setting the size" : "setting the iterations");
            goto done;
        }
    }
    /* One call for every input: the content, then style 0 (the index after the last adds one). */
    NstyleImage content_image = image_of(&content), style_image = image_of(&style);
    if (nstyle_set_input(model, NSTYLE_INPUT_CONTENT, 0, &content_image) != NSTYLE_OK) {
        rc = fail_call(model, "setting the content image");
        goto done;
    }
    if (nstyle_set_input(model, NSTYLE_INPUT_STYLE, 0, &style_image) != NSTYLE_OK) {
        rc = fail_call(model, "adding the style image");
        goto done;
    }

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);

    bool tty = isatty(fileno(stderr));
    NstyleProgress progress = {0};
    const uint32_t chunk = 5; /* iterations per progress update */
    unsigned last_decile = UINT_MAX;
    for (;;) {
        if (interrupted) {
            fprintf(stderr, "%sinterrupted: writing the result so far\n", tty ? "\n" : "");
            break;
        }
        /* NSTYLE_OK: iterations remain; NSTYLE_DONE: the run is complete. */
        NstyleStatus s = nstyle_step(model, chunk, &progress);
        if (s != NSTYLE_OK && s != NSTYLE_DONE) {
            if (tty) fputc('\n', stderr);
            rc = fail_call(model, "style transfer");
            goto done;
        }
        unsigned decile = progress.total ? progress.iteration * 10 / progress.total : 10;
        if (tty || decile != last_decile || s == NSTYLE_DONE) show_progress(model, &progress, tty);
        last_decile = decile;
        if (s == NSTYLE_DONE) break;
    }
    if (tty) fputc('\n', stderr);

    /* The result at the working size (the content's aspect with `size` as its longest side, as
     * the library rounds it), in the content's bit depth. */
    if (nstyle_result_size(model, &result.width, &result.height) != NSTYLE_OK) {
        rc = fail_call(model, "the result size");
        goto done;
    }
    result.format = content.format == NSTYLE_RGBA16 ? NSTYLE_RGBA16 : NSTYLE_RGBA8;
    result.pixels = malloc((size_t)result.width * result.height * bytes_per_pixel(result.format));
    if (!result.pixels) {
        fprintf(stderr, "%s: out of memory for the result\n", program);
        goto done;
    }
    if (nstyle_fetch_result(model, result.pixels, result.width, result.height, stride_of(&result),
                            result.format) != NSTYLE_OK) {
        rc = fail_call(model, "fetching the result");
        goto done;
    }
    bool pam = ends_with(output_path, ".pam");
    if (!write_netpbm(output_path, &result, pam, content.has_alpha)) goto done;
    fprintf(stderr, "%s: wrote %s (%ux%u, %s%s)\n", program, output_path, result.width,
            result.height, pam ? "PAM" : "PPM", pam && content.has_alpha ? " with alpha" : "");
    if (!pam && content.has_alpha)
        fprintf(stderr, "%s: note: the content's alpha was dropped (write .pam to keep it)\n",
                program);
    rc = interrupted ? 130 : 0;

done:
    nstyle_model_free(model);
    free(content.pixels);
    free(style.pixels);
    free(result.pixels);
    return rc;
}
