/*
 * Thread stress of libnstyle.so, meant for ThreadSanitizer (tests/fuzz/run-tsan.sh builds it with
 * clang -fsanitize=thread; it also runs plainly). What the header promises and this checks:
 *
 *   1. different models step concurrently (one thread each), with results identical to the same
 *      run done alone (CPU runs are deterministic per seed);
 *   2. nstyle_cancel from another thread, at any time, races a running step: the step returns
 *      OK or NSTYLE_ERR_CANCELLED, the model stays usable, and is freed after the cancelling
 *      thread has stopped (free concurrently with another call on the same model is documented
 *      misuse, so never done);
 *   3. a cancel made while no step runs stops nothing: the next step runs (ABI 6);
 *   4. concurrent calls on one model are serialised by the library (fetch_result, get_option and
 *      set_weights from a second thread while the first steps);
 *   5. nstyle_last_error is per thread: each thread provokes its own error on its own model, all
 *      wait at a barrier, and each still reads its own message afterwards, and its model's
 *      nstyle_errmsg holds it too.
 *
 * Usage: test_threads [THREADS] [STEPS]   (defaults 3 and 4; CPU only, 24 px images)
 * Exit status: the number of failed checks. Last line: "test_threads: N passed, N failed".
 */

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nstyle.h"

/* ThreadSanitizer cannot see the lock that serialises calls on one model (a Rust
 * std::sync::Mutex: a bare futex, not a pthread mutex), so under TSan the second thread of test 4
 * is ignored (see tests/c/tsan.supp); its functional checks still run. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#endif
#ifdef UNDER_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#else
static void __tsan_ignore_thread_begin(void) {}
static void __tsan_ignore_thread_end(void) {}
#endif

#define SIDE 24
#define MAX_THREADS 8

static atomic_int passed, failed;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (cond) {                                                                              \
            atomic_fetch_add(&passed, 1);                                                        \
        } else {                                                                                 \
            atomic_fetch_add(&failed, 1);                                                        \
            fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, " (last error: %s)\n", nstyle_last_error());                        \
        }                                                                                        \
    } while (0)

static uint8_t content[SIDE][SIDE][3], style[SIDE][SIDE][3];

static void make_images(void) {
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            content[y][x][0] = (uint8_t)(x * 10);
            content[y][x][1] = (uint8_t)(y * 10);
            content[y][x][2] = 128;
            int on = (x + y) / 4 % 2;
            style[y][x][0] = on ? 240 : 20;
            style[y][x][1] = on ? 170 : 60;
            style[y][x][2] = on ? 30 : 200;
        }
}

/* A CPU model with both images, size 24, many planned iterations, one scale. */
static NstyleModel *new_model(void) {
    NstyleModel *m = NULL;
    int st = nstyle_model_create(NULL, "cpu", &m);
    CHECK(st == NSTYLE_OK && m, "create: %d", st);
    if (!m) return NULL;
    int ok = nstyle_set_content(m, content, SIDE, SIDE, SIDE * 3, NSTYLE_RGB8) == NSTYLE_OK &&
             nstyle_add_style(m, style, SIDE, SIDE, SIDE * 3, NSTYLE_RGB8, 1.0f) == NSTYLE_OK &&
             nstyle_set_option(m, "size", "24") == NSTYLE_OK &&
             nstyle_set_option(m, "scales", "1") == NSTYLE_OK &&
             nstyle_set_option(m, "iterations", "1000") == NSTYLE_OK;
    CHECK(ok, "model set-up");
    return m;
}

static void sleep_us(long us) {
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

/* ---------------------------------------------------------------- 1. parallel models */

typedef struct {
    NstyleModel *model;
    int steps;
    uint8_t result[SIDE][SIDE][4];
    int status;
} StepJob;

static void *step_thread(void *arg) {
    StepJob *job = arg;
    job->status = NSTYLE_OK;
    for (int i = 0; i < job->steps && job->status == NSTYLE_OK; i++) {
        NstyleProgress p;
        job->status = nstyle_step(job->model, 1, &p);
        if (job->status == NSTYLE_OK && p.iteration != (uint32_t)i + 1) job->status = -1;
    }
    if (job->status == NSTYLE_OK)
        job->status = nstyle_fetch_result(job->model, job->result, SIDE, SIDE, SIDE * 4,
                                          NSTYLE_RGBA8);
    return NULL;
}

static void test_parallel_models(int threads, int steps) {
    StepJob alone = {0}, jobs[MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    /* The reference: one model stepped alone. */
    alone.model = new_model();
    alone.steps = steps;
    if (!alone.model) return;
    step_thread(&alone);
    CHECK(alone.status == NSTYLE_OK, "reference run: %d", alone.status);
    nstyle_model_free(alone.model);

    pthread_t tid[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        jobs[t].model = new_model();
        jobs[t].steps = steps;
    }
    for (int t = 0; t < threads; t++)
        if (jobs[t].model) pthread_create(&tid[t], NULL, step_thread, &jobs[t]);
    for (int t = 0; t < threads; t++) {
        if (!jobs[t].model) continue;
        pthread_join(tid[t], NULL);
        CHECK(jobs[t].status == NSTYLE_OK, "thread %d: status %d", t, jobs[t].status);
        CHECK(memcmp(jobs[t].result, alone.result, sizeof alone.result) == 0,
              "thread %d: result differs from the same run alone", t);
        nstyle_model_free(jobs[t].model);
    }
    printf("ok   %d models stepping in parallel, results equal to a lone run\n", threads);
}

/* ---------------------------------------------------------------- 2. cancel racing step */

typedef struct {
    NstyleModel *model;
    atomic_int stop;
    int cancels;
    unsigned seed;
} CancelJob;

static void *cancel_thread(void *arg) {
    CancelJob *job = arg;
    while (!atomic_load(&job->stop)) {
        sleep_us(rand_r(&job->seed) % 250000); /* 0..250 ms: some steps finish, some not */
        nstyle_cancel(job->model);
        nstyle_cancel(NULL); /* harmless */
        job->cancels++;
    }
    return NULL;
}

static void test_cancel_race(int rounds) {
    NstyleModel *m = new_model();
    if (!m) return;
    CancelJob job = {.model = m, .seed = 12345};
    atomic_init(&job.stop, 0);
    pthread_t tid;
    pthread_create(&tid, NULL, cancel_thread, &job);
    int ok = 0, cancelled = 0;
    uint32_t last = 0;
    for (int i = 0; i < rounds; i++) {
        NstyleProgress p;
        int st = nstyle_step(m, 1, &p);
        CHECK(st == NSTYLE_OK || st == NSTYLE_ERR_CANCELLED, "step under cancel: %d", st);
        if (st == NSTYLE_OK) {
            ok++;
            CHECK(p.iteration >= last, "progress went back: %u < %u", p.iteration, last);
            last = p.iteration;
        } else {
            cancelled++;
            const char *message = nstyle_last_error();
            CHECK(message && *message, "cancelled without a message");
        }
    }
    atomic_store(&job.stop, 1);
    pthread_join(tid, NULL);
    /* The model is still usable after any number of cancels: a cancel left over from the race
     * does not stop the next step (ABI 6), and a fetch works. */
    int st = nstyle_step(m, 1, NULL);
    CHECK(st == NSTYLE_OK, "step after the race: %d", st);
    uint8_t out[SIDE][SIDE][4];
    CHECK(nstyle_fetch_result(m, out, SIDE, SIDE, SIDE * 4, NSTYLE_RGBA8) == NSTYLE_OK,
          "fetch after the race");
    nstyle_model_free(m); /* the cancelling thread has been joined */
    printf("ok   cancel racing step: %d steps ok, %d cancelled, %d cancels\n", ok, cancelled,
           job.cancels);
}

/* ---------------------------------------------------------------- 3. cancel before a step */

static void *cancel_once(void *arg) {
    nstyle_cancel(arg);
    return NULL;
}

static void test_cancel_before_step(void) {
    NstyleModel *m = new_model();
    if (!m) return;
    CHECK(nstyle_step(m, 1, NULL) == NSTYLE_OK, "first step");
    pthread_t tid;
    pthread_create(&tid, NULL, cancel_once, m);
    pthread_join(tid, NULL);
    NstyleProgress p;
    int st = nstyle_step(m, 5, &p);
    CHECK(st == NSTYLE_OK, "step after a cancel made while no step ran: %d", st);
    CHECK(p.iteration == 6, "the step after a stale cancel ran %u iterations in all", p.iteration);
    nstyle_model_free(m);
    printf("ok   a cancel from another thread while no step runs does not stop the next step\n");
}

/* ---------------------------------------------------------------- 4. one model, two threads */

typedef struct {
    NstyleModel *model;
    atomic_int stop;
    int calls, bad;
} SideJob;

static void *side_thread(void *arg) {
    SideJob *job = arg;
    __tsan_ignore_thread_begin();
    uint8_t out[SIDE / 2][SIDE / 2][4];
    char value[64];
    size_t needed;
    NstyleWeights w = {5, 100, 0.01f};
    while (!atomic_load(&job->stop)) {
        if (nstyle_fetch_result(job->model, out, SIDE / 2, SIDE / 2, SIDE * 2, NSTYLE_RGBA8) !=
            NSTYLE_OK)
            job->bad++;
        if (nstyle_get_option(job->model, "size", value, sizeof value, &needed) != NSTYLE_OK ||
            strcmp(value, "24") != 0)
            job->bad++;
        if (nstyle_set_weights(job->model, &w) != NSTYLE_OK) job->bad++;
        uint32_t rw, rh;
        if (nstyle_result_size(job->model, &rw, &rh) != NSTYLE_OK || rw != SIDE || rh != SIDE)
            job->bad++;
        job->calls++;
        sleep_us(1000);
    }
    __tsan_ignore_thread_end();
    return NULL;
}

static void test_serialised_calls(int steps) {
    NstyleModel *m = new_model();
    if (!m) return;
    SideJob job = {.model = m};
    atomic_init(&job.stop, 0);
    pthread_t tid;
    pthread_create(&tid, NULL, side_thread, &job);
    for (int i = 0; i < steps; i++) {
        int st = nstyle_step(m, 1, NULL);
        CHECK(st == NSTYLE_OK, "step while another thread calls: %d", st);
    }
    atomic_store(&job.stop, 1);
    pthread_join(tid, NULL);
    CHECK(job.bad == 0, "%d of %d calls from the second thread failed", job.bad, job.calls);
    nstyle_model_free(m);
    printf("ok   calls on one model from two threads are serialised (%d side calls)\n",
           job.calls);
}

/* ---------------------------------------------------------------- 5. last_error per thread */

static pthread_barrier_t barrier;

typedef struct {
    int index;
    NstyleModel *model;
    int ok;
} ErrorJob;

static void *error_thread(void *arg) {
    ErrorJob *job = arg;
    char key[32];
    snprintf(key, sizeof key, "no_such_key_%d", job->index);
    job->ok = 1;
    for (int round = 0; round < 20; round++) {
        int st = job->index % 2 ? nstyle_set_option(job->model, key, "1")
                                : nstyle_option_find(key, &(NstyleOptionInfo){0});
        if (st != NSTYLE_ERR_ARGUMENT) job->ok = 0;
        pthread_barrier_wait(&barrier); /* every thread has set its own message */
        const char *message = nstyle_last_error();
        if (!message || !strstr(message, key)) {
            fprintf(stderr, "thread %d reads '%s'\n", job->index, message ? message : "(NULL)");
            job->ok = 0;
        }
        /* Its own model's message too (ABI 6), for the threads that failed on one. */
        const char *own = nstyle_errmsg(job->model);
        if (job->index % 2 && (!own || !strstr(own, key))) {
            fprintf(stderr, "thread %d's model reads '%s'\n", job->index, own ? own : "(NULL)");
            job->ok = 0;
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

/* Each thread has its own model: since ABI 6 a model keeps its last error too, and calls on one
 * model from two threads are test 4's case (a Rust mutex TSan cannot see, see tsan.supp). */
static void test_last_error_per_thread(int threads) {
    ErrorJob jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (ErrorJob){.index = t, .model = new_model()};
        if (!jobs[t].model) {
            for (int u = 0; u < t; u++) nstyle_model_free(jobs[u].model);
            return;
        }
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, error_thread, &jobs[t]);
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        CHECK(jobs[t].ok, "thread %d did not see its own last error", t);
    }
    pthread_barrier_destroy(&barrier);
    for (int t = 0; t < threads; t++) nstyle_model_free(jobs[t].model);
    printf("ok   nstyle_last_error is per thread (%d threads)\n", threads);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 3;
    int steps = argc > 2 ? atoi(argv[2]) : 4;
    if (threads < 2) threads = 2;
    if (threads > MAX_THREADS - 1) threads = MAX_THREADS - 1;
    make_images();
    test_parallel_models(threads, steps);
    test_cancel_race(3 * steps);
    test_cancel_before_step();
    test_serialised_calls(steps);
    test_last_error_per_thread(threads + 1);
    int f = atomic_load(&failed);
    printf("test_threads: %d passed, %d failed\n", atomic_load(&passed), f);
    return f > 255 ? 255 : f;
}
