// libnstyle_cudagraph.so: a C ABI over at::cuda::CUDAGraph and the CUDA session settings, for
// src/cuda_graph.rs (tch 0.24 has no CUDA-graph binding).
//
// Why a separate shared object: libnstyle.so links libtorch_cpu only and loads the CUDA half of
// torch at run time (src/cuda_loader.rs). This file needs libtorch_cuda and libc10_cuda, so it is
// its own library, dlopen()ed by src/cuda_graph.rs only after the loader has put those two in the
// process (RTLD_GLOBAL): its NEEDED entries then resolve by soname to the copies already loaded,
// and it shares their state (the thread's current stream, the caching allocator, the context).
//
// How a capture brackets ordinary tch calls: every ATen op enqueues its kernels on the calling
// thread's *current* CUDA stream. CUDAGraph::capture_begin refuses the default stream, so
// capture_begin below makes a side stream (one per graph, from torch's pool) current on this
// thread, and capture_end puts back the stream and device that were current before. Between the
// two, the Rust side runs the evaluation with plain tch calls; they land on the side stream and
// are recorded, not run. The warm-up pair does the same without recording, so that lazy state
// tied to the stream (cuDNN benchmark choices, cuBLAS workspaces, allocator blocks) exists before
// the capture. Replay launches on the then-current stream, so it is ordered with the eager work
// around it.
//
// Every entry point returns NULL on success or an error text (never throws across the C
// boundary: c10::Error and std::exception are caught). The text lives in a thread-local buffer,
// valid until the next failing call on the same thread; the caller copies it at once.

#include <ATen/Context.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>
#include <torch/headeronly/version.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#define NSTYLE_EXPORT extern "C" __attribute__((visibility("default")))

// Bumped whenever a signature below changes; src/cuda_graph.rs refuses any other value.
static constexpr uint32_t kAbiVersion = 1;

namespace {

thread_local std::string last_error;

const char* fail(const std::string& text) {
  last_error = text;
  return last_error.c_str();
}

// Runs `body`, turning any C++ exception into an error text. c10::Error's what() carries a C++
// backtrace; what_without_backtrace() is the one-line message a user can act on.
template <typename Body>
const char* guarded(const char* what, Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const c10::Error& error) {
    return fail(std::string(what) + ": " + error.what_without_backtrace());
  } catch (const std::exception& error) {
    return fail(std::string(what) + ": " + error.what());
  } catch (...) {
    return fail(std::string(what) + ": unknown C++ exception");
  }
}

enum class State { Empty, WarmingUp, Capturing, Captured, Broken };

const char* state_name(State state) {
  switch (state) {
    case State::Empty: return "empty";
    case State::WarmingUp: return "warming up";
    case State::Capturing: return "capturing";
    case State::Captured: return "captured";
    case State::Broken: return "broken by a failed capture";
  }
  return "?";
}

}  // namespace

struct NstyleCudaGraph {
  explicit NstyleCudaGraph(c10::DeviceIndex device_index)
      : device(device_index),
        capture_stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_index)) {}

  at::cuda::CUDAGraph graph;
  c10::DeviceIndex device;
  // The side stream the warm-up and the capture run on (never the default stream).
  c10::cuda::CUDAStream capture_stream;
  // What this thread had current before warm-up or capture began; put back when they end.
  std::optional<c10::cuda::CUDAStream> ambient_stream;
  c10::DeviceIndex ambient_device = -1;
  State state = State::Empty;

  // Makes the capture stream current on this thread. Waits for the device first, as
  // torch.cuda.graph does: the static inputs were written on the ambient stream, and the side
  // stream must not read them before those writes are done.
  void enter_capture_stream() {
    ambient_device = c10::cuda::ExchangeDevice(device);
    ambient_stream = c10::cuda::getCurrentCUDAStream(device);
    c10::cuda::device_synchronize();
    c10::cuda::setCurrentCUDAStream(capture_stream);
  }

  // Puts back the ambient stream and device. Never throws: it runs on error paths too.
  void leave_capture_stream() noexcept {
    if (ambient_stream) {
      try {
        c10::cuda::setCurrentCUDAStream(*ambient_stream);
      } catch (...) {
      }
      ambient_stream.reset();
    }
    if (ambient_device >= 0) {
      try {
        c10::cuda::ExchangeDevice(ambient_device);
      } catch (...) {
      }
      ambient_device = -1;
    }
  }
};

NSTYLE_EXPORT uint32_t nstyle_cuda_graph_abi_version(void) { return kAbiVersion; }

// The torch version these headers were (e.g. "2.11.0"): the shim must run on the same one.
NSTYLE_EXPORT const char* nstyle_cuda_graph_torch_version(void) {
#define NSTYLE_STR2(x) #x
#define NSTYLE_STR(x) NSTYLE_STR2(x)
  return NSTYLE_STR(TORCH_VERSION_MAJOR) "." NSTYLE_STR(TORCH_VERSION_MINOR) "." NSTYLE_STR(
      TORCH_VERSION_PATCH);
#undef NSTYLE_STR
#undef NSTYLE_STR2
}

// A new, empty graph for CUDA device `device`, with its own side stream. Initialises CUDA in
// torch if nothing has yet.
NSTYLE_EXPORT const char* nstyle_cuda_graph_create(int32_t device, NstyleCudaGraph** out) {
  if (out == nullptr) return fail("nstyle_cuda_graph_create: out is NULL");
  *out = nullptr;
  return guarded("creating a CUDA graph", [&] {
    TORCH_CHECK(device >= 0 && device < c10::cuda::device_count_ensure_non_zero(),
                "no CUDA device ", device, " (", static_cast<int>(c10::cuda::device_count()),
                " visible)");
    *out = new NstyleCudaGraph(static_cast<c10::DeviceIndex>(device));
  });
}

// Warm-up: the ops until warmup_end run eagerly on the capture stream.
NSTYLE_EXPORT const char* nstyle_cuda_graph_warmup_begin(NstyleCudaGraph* graph) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_warmup_begin: graph is NULL");
  if (graph->state != State::Empty)
    return fail(std::string("cannot warm up a CUDA graph that is ") + state_name(graph->state));
  return guarded("starting the warm-up", [&] {
    graph->enter_capture_stream();
    graph->state = State::WarmingUp;
  });
}

// Ends the warm-up: waits for its work (the caller reads its results on the ambient stream) and
// puts back the ambient stream. The stream is put back even when the wait fails.
NSTYLE_EXPORT const char* nstyle_cuda_graph_warmup_end(NstyleCudaGraph* graph) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_warmup_end: graph is NULL");
  if (graph->state != State::WarmingUp) return fail("the CUDA graph is not warming up");
  const char* error = guarded("finishing the warm-up", [] { c10::cuda::device_synchronize(); });
  graph->leave_capture_stream();
  graph->state = State::Empty;
  return error;
}

// Starts recording on the capture stream. The memory the recorded ops allocate comes from a pool
// private to the graph (pool {0, 0}) or from the pool `pool_id_a/b` shared with other graphs (from
// nstyle_cuda_graph_new_pool). Global capture mode, torch.cuda.graph's default: a CUDA call that
// would break the capture from any thread fails instead of corrupting it.
NSTYLE_EXPORT const char* nstyle_cuda_graph_capture_begin(NstyleCudaGraph* graph,
                                                          uint64_t pool_id_a, uint64_t pool_id_b) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_capture_begin: graph is NULL");
  if (graph->state != State::Empty)
    return fail(std::string("cannot capture into a CUDA graph that is ") +
                state_name(graph->state));
  const char* error = guarded("starting the capture", [&] {
    graph->enter_capture_stream();
    graph->graph.capture_begin(at::cuda::MempoolId_t{pool_id_a, pool_id_b},
                               cudaStreamCaptureModeGlobal);
    graph->state = State::Capturing;
  });
  if (error != nullptr) graph->leave_capture_stream();
  return error;
}

// Ends the recording and instantiates the graph (ready to replay), then puts back the ambient
// stream. On failure (an op in the region was not capturable, e.g. a read-back to the host) the
// graph is left broken: destroy it and capture anew.
NSTYLE_EXPORT const char* nstyle_cuda_graph_capture_end(NstyleCudaGraph* graph) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_capture_end: graph is NULL");
  if (graph->state != State::Capturing) return fail("the CUDA graph is not capturing");
  const char* error = guarded("ending the capture", [&] { graph->graph.capture_end(); });
  graph->leave_capture_stream();
  graph->state = error == nullptr ? State::Captured : State::Broken;
  return error;
}

// Abandons a capture in progress (the Rust side calls it when the evaluation panicked or failed):
// ends the stream capture whatever it holds, drops what was recorded and puts back the ambient
// stream, so that the thread can go on with eager work. Returns the first error met, if any.
NSTYLE_EXPORT const char* nstyle_cuda_graph_capture_abort(NstyleCudaGraph* graph) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_capture_abort: graph is NULL");
  if (graph->state != State::Capturing && graph->state != State::WarmingUp) return nullptr;
  std::string first;
  if (graph->state == State::Capturing) {
    if (const char* error = guarded("abandoning the capture", [&] { graph->graph.capture_end(); }))
      first = error;
    if (const char* error = guarded("dropping the capture", [&] { graph->graph.reset(); }))
      if (first.empty()) first = error;
  }
  graph->leave_capture_stream();
  graph->state = State::Broken;
  return first.empty() ? nullptr : fail(first);
}

// Launches the recorded work on this thread's current stream (ordered after the eager work
// already queued there, e.g. the copy of a new image into the static input).
NSTYLE_EXPORT const char* nstyle_cuda_graph_replay(NstyleCudaGraph* graph) {
  if (graph == nullptr) return fail("nstyle_cuda_graph_replay: graph is NULL");
  if (graph->state != State::Captured)
    return fail(std::string("cannot replay a CUDA graph that is ") + state_name(graph->state));
  return guarded("replaying the CUDA graph", [&] { graph->graph.replay(); });
}

// A new memory pool id for graphs that share one (see nstyle_cuda_graph_capture_begin).
NSTYLE_EXPORT const char* nstyle_cuda_graph_new_pool(uint64_t* pool_id_a, uint64_t* pool_id_b) {
  if (pool_id_a == nullptr || pool_id_b == nullptr)
    return fail("nstyle_cuda_graph_new_pool: NULL argument");
  return guarded("making a graph memory pool", [&] {
    at::cuda::MempoolId_t pool = at::cuda::graph_pool_handle();
    *pool_id_a = pool.first;
    *pool_id_b = pool.second;
  });
}

// Frees the graph (its executable graph; its pool once no tensor uses the memory any more). A
// capture in progress is abandoned first. NULL is ignored.
NSTYLE_EXPORT void nstyle_cuda_graph_destroy(NstyleCudaGraph* graph) {
  if (graph == nullptr) return;
  nstyle_cuda_graph_capture_abort(graph);
  try {
    delete graph;
  } catch (...) {
  }
}

// Session settings. cuDNN benchmark: the first convolution of each shape times the algorithms
// and keeps the fastest (worth it when shapes repeat, as they do within a stage and in a graph).
NSTYLE_EXPORT const char* nstyle_cuda_set_cudnn_benchmark(int32_t on) {
  return guarded("setting cuDNN benchmark", [&] { at::globalContext().setBenchmarkCuDNN(on != 0); });
}

// TF32 for fp32 matrix products (cuBLAS) and convolutions (cuDNN), through torch 2.9's
// per-backend precision settings (setAllowTF32CuBLAS/CuDNN are the deprecated spelling): "tf32"
// when on, "ieee" (full fp32) when off. bf16 work is not affected.
NSTYLE_EXPORT const char* nstyle_cuda_set_tf32(int32_t on) {
  return guarded("setting TF32", [&] {
    const auto precision = on != 0 ? at::Float32Precision::TF32 : at::Float32Precision::IEEE;
    auto& context = at::globalContext();
    context.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL, precision);
    context.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV, precision);
  });
}

// The settings as torch holds them now (1 or 0 each).
NSTYLE_EXPORT const char* nstyle_cuda_get_settings(int32_t* cudnn_benchmark, int32_t* tf32_matmul,
                                                   int32_t* tf32_conv) {
  if (cudnn_benchmark == nullptr || tf32_matmul == nullptr || tf32_conv == nullptr)
    return fail("nstyle_cuda_get_settings: NULL argument");
  return guarded("reading the CUDA settings", [&] {
    auto& context = at::globalContext();
    *cudnn_benchmark = context.benchmarkCuDNN() ? 1 : 0;
    *tf32_matmul = context.float32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL) ==
                           at::Float32Precision::TF32
                       ? 1
                       : 0;
    *tf32_conv = context.float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV) ==
                         at::Float32Precision::TF32
                     ? 1
                     : 0;
  });
}
