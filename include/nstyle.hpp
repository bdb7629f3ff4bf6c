// nstyle.hpp: header-only C++17 RAII wrapper of the nstyle C ABI (nstyle.h), covering every
// function, struct field and constant of it.
//
//   nstyle::Model model;                          // weights found as nstyle_model_create does
//   model.set_option("size", 256);
//   model.set_input(NSTYLE_INPUT_CONTENT, 0, rgba.data(), w, h, NSTYLE_RGBA8);
//   model.set_input(NSTYLE_INPUT_STYLE, 0, style.data(), sw, sh, NSTYLE_RGB8);  // adds style 0
//   for (;;) { auto p = model.step(10); /* p.terms, p.loss ... */ if (p.done) break; }
//   auto [rw, rh] = model.result_size();        // the working size, as the library rounds it
//   std::vector<uint8_t> out = model.fetch_result(rw, rh, NSTYLE_RGBA8);
//
// step() returns an nstyle::Progress: the NstyleProgress fields, `done` (the step returned
// NSTYLE_DONE: the run is complete) and `terms` (the last step's loss terms by name, which add
// up to `loss`). The option table: nstyle::options(), nstyle::find_option("size").default_value,
// ...; model.get_option("iterations") is the current value as text.
//
// Every failing call throws nstyle::Error, carrying the NstyleStatus and the library's message
// (a model's calls: nstyle_errmsg(model), also Model::errmsg(); the others nstyle_last_error()).
// A Model is move-only; a moved-from Model holds no model (calls on it throw ARGUMENT errors).
// Threads: as in nstyle.h, one thread uses a model at a time, and cancel() may be called from any
// thread while the Model object is alive; it stops only the step that is running (a host that
// stops between steps keeps its own flag).

#ifndef NSTYLE_HPP
#define NSTYLE_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nstyle.h"

namespace nstyle {

using Status = NstyleStatus;
using Format = NstyleFormat;
using MaskFormat = NstyleMaskFormat;
using Input = NstyleInput;
using Weights = NstyleWeights;
using Image = NstyleImage;

// Name of a status, e.g. "NSTYLE_ERR_ARGUMENT".
inline const char *status_name(NstyleStatus status) noexcept {
    switch (status) {
    case NSTYLE_OK: return "NSTYLE_OK";
    case NSTYLE_ERR_ARGUMENT: return "NSTYLE_ERR_ARGUMENT";
    case NSTYLE_ERR_STATE: return "NSTYLE_ERR_STATE";
    case NSTYLE_ERR_IO: return "NSTYLE_ERR_IO";
    case NSTYLE_ERR_MODEL: return "NSTYLE_ERR_MODEL";
    case NSTYLE_ERR_MEMORY: return "NSTYLE_ERR_MEMORY";
    case NSTYLE_ERR_DEVICE: return "NSTYLE_ERR_DEVICE";
    case NSTYLE_ERR_CANCELLED: return "NSTYLE_ERR_CANCELLED";
    case NSTYLE_ERR_NUMERIC: return "NSTYLE_ERR_NUMERIC";
    case NSTYLE_ERR_INTERNAL: return "NSTYLE_ERR_INTERNAL";
    case NSTYLE_DONE: return "NSTYLE_DONE";
    }
    return "NSTYLE_ERR_UNKNOWN";
}

// Bytes per pixel of a format, colours and planes (0 for an unknown one).
inline std::size_t bytes_per_pixel(NstyleFormat format) noexcept {
    switch (format) {
    case NSTYLE_RGB8: return 3;
    case NSTYLE_RGBA8: return 4;
    case NSTYLE_RGBA16: return 8;
    case NSTYLE_RGBA_F32: return 16;
    case NSTYLE_BGRA8: return 4;
    case NSTYLE_RGBA_F16: return 8;
    case NSTYLE_GREY8: return 1;
    case NSTYLE_GREY16: return 2;
    case NSTYLE_GREY_F32: return 4;
    }
    return 0;
}

// Whether a format is a plane (one grey sample per pixel: regions, masks, temporal weights).
inline bool is_plane(NstyleFormat format) noexcept {
    return format == NSTYLE_GREY8 || format == NSTYLE_GREY16 || format == NSTYLE_GREY_F32;
}

// Bytes per sample of a mask format (the per-input mask calls; 0 for an unknown one).
inline std::size_t bytes_per_sample(NstyleMaskFormat format) noexcept {
    switch (format) {
    case NSTYLE_MASK_GREY8: return 1;
    case NSTYLE_MASK_GREY16: return 2;
    case NSTYLE_MASK_GREY_F32: return 4;
    }
    return 0;
}

// Name of an input of nstyle_set_input, e.g. "NSTYLE_INPUT_STYLE_REGION".
inline const char *input_name(NstyleInput input) noexcept {
    switch (input) {
    case NSTYLE_INPUT_CONTENT: return "NSTYLE_INPUT_CONTENT";
    case NSTYLE_INPUT_STYLE: return "NSTYLE_INPUT_STYLE";
    case NSTYLE_INPUT_STYLE_REGION: return "NSTYLE_INPUT_STYLE_REGION";
    case NSTYLE_INPUT_STYLE_SOURCE_REGION: return "NSTYLE_INPUT_STYLE_SOURCE_REGION";
    case NSTYLE_INPUT_CONTENT_MASK: return "NSTYLE_INPUT_CONTENT_MASK";
    case NSTYLE_INPUT_INIT_IMAGE: return "NSTYLE_INPUT_INIT_IMAGE";
    case NSTYLE_INPUT_TEMPORAL_TARGET: return "NSTYLE_INPUT_TEMPORAL_TARGET";
    case NSTYLE_INPUT_TEMPORAL_WEIGHTS: return "NSTYLE_INPUT_TEMPORAL_WEIGHTS";
    }
    return "NSTYLE_INPUT_UNKNOWN";
}

// Names of an option's kind and effect (NstyleOptionInfo.value_type, .effect).
inline const char *option_type_name(std::uint32_t value_type) noexcept {
    switch (NstyleOptionType(value_type)) {
    case NSTYLE_OPTION_INT: return "NSTYLE_OPTION_INT";
    case NSTYLE_OPTION_FLOAT: return "NSTYLE_OPTION_FLOAT";
    case NSTYLE_OPTION_CHOICE: return "NSTYLE_OPTION_CHOICE";
    case NSTYLE_OPTION_BOOL: return "NSTYLE_OPTION_BOOL";
    case NSTYLE_OPTION_LAYERS: return "NSTYLE_OPTION_LAYERS";
    }
    return "NSTYLE_OPTION_UNKNOWN";
}
inline const char *option_effect_name(std::uint32_t effect) noexcept {
    switch (NstyleOptionEffect(effect)) {
    case NSTYLE_EFFECT_RESTART: return "NSTYLE_EFFECT_RESTART";
    case NSTYLE_EFFECT_RETARGET: return "NSTYLE_EFFECT_RETARGET";
    case NSTYLE_EFFECT_LIVE: return "NSTYLE_EFFECT_LIVE";
    }
    return "NSTYLE_EFFECT_UNKNOWN";
}

// Every field of the C structs by name and type: a field renamed, retyped or removed in nstyle.h
// fails to compile here.
namespace detail {
template <typename T, typename U> constexpr bool field = std::is_same_v<T, U>;
static_assert(field<decltype(NstyleWeights::content), float>);
static_assert(field<decltype(NstyleWeights::style), float>);
static_assert(field<decltype(NstyleWeights::tv), float>);
static_assert(field<decltype(NstyleProgress::iteration), std::uint32_t>);
static_assert(field<decltype(NstyleProgress::total), std::uint32_t>);
static_assert(field<decltype(NstyleProgress::scale), std::uint32_t>);
static_assert(field<decltype(NstyleProgress::scales), std::uint32_t>);
static_assert(field<decltype(NstyleProgress::loss), double>);
static_assert(field<decltype(NstyleProgress::content_loss), double>);
static_assert(field<decltype(NstyleProgress::style_loss), double>);
static_assert(field<decltype(NstyleProgress::tv_loss), double>);
static_assert(field<decltype(NstyleOptionInfo::key), const char *>);
static_assert(field<decltype(NstyleOptionInfo::value_type), std::uint32_t>);
static_assert(field<decltype(NstyleOptionInfo::effect), std::uint32_t>);
static_assert(field<decltype(NstyleOptionInfo::min), double>);
static_assert(field<decltype(NstyleOptionInfo::max), double>);
static_assert(field<decltype(NstyleOptionInfo::words), const char *>);
static_assert(field<decltype(NstyleOptionInfo::default_value), const char *>);
static_assert(field<decltype(NstyleOptionInfo::unit), const char *>);
static_assert(field<decltype(NstyleOptionInfo::doc), const char *>);
static_assert(field<decltype(NstyleOptionInfo::accepts), const char *>);
static_assert(field<decltype(NstyleImage::pixels), const void *>);
static_assert(field<decltype(NstyleImage::width), std::uint32_t>);
static_assert(field<decltype(NstyleImage::height), std::uint32_t>);
static_assert(field<decltype(NstyleImage::stride_bytes), std::size_t>);
static_assert(field<decltype(NstyleImage::format), std::uint32_t>);
} // namespace detail

// A failed nstyle call: what() is "<call>: <the library's message>".
class Error : public std::runtime_error {
public:
    Error(NstyleStatus status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    NstyleStatus status() const noexcept { return status_; }

private:
    NstyleStatus status_;
};

// ABI and versions: the loaded library's (nstyle_abi_version, nstyle_version) and this header's.
inline std::uint32_t abi_version() noexcept { return nstyle_abi_version(); }
constexpr std::uint32_t header_abi_version = NSTYLE_ABI_VERSION;
inline bool abi_compatible() noexcept { return nstyle_abi_version() >= NSTYLE_ABI_VERSION; }
inline std::string version() { return nstyle_version(); }
// The library's self-check for bug reports (nstyle_diagnostics): versions, libtorch, device,
// weights and their checksums, ending in "status: ok" or PROBLEM lines.
inline std::string diagnostics() { return nstyle_diagnostics(); }
// The calling thread's last failure (nstyle_last_error); for a model, Model::errmsg().
inline std::string last_error() { return nstyle_last_error(); }

namespace detail {
// Throws for a failed status; NSTYLE_OK and NSTYLE_DONE are successes. `model`: the model the
// call was on (its message is nstyle_errmsg(model)); nullptr: the thread's nstyle_last_error().
inline NstyleStatus check(NstyleStatus status, const char *call,
                          const NstyleModel *model = nullptr) {
    if (status != NSTYLE_OK && status != NSTYLE_DONE) {
        const char *message = model ? nstyle_errmsg(model) : nstyle_last_error();
        throw Error(status, std::string(call) + ": " + (message ? message : status_name(status)));
    }
    return status;
}
} // namespace detail

// A time in the library's words (nstyle_describe_seconds): "about 40 s", "about 3 min".
inline std::string describe_seconds(double seconds) {
    std::size_t needed = 0;
    nstyle_describe_seconds(seconds, nullptr, 0, &needed);
    std::string text(needed, '\0');
    detail::check(nstyle_describe_seconds(seconds, text.data(), text.size(), nullptr),
                  "nstyle_describe_seconds");
    text.resize(needed - 1);  // drop the NUL
    return text;
}

// One loss term of the last step (nstyle_progress_term): "content", "style", "tv", "temporal",
// "histogram", and its weighted value.
struct Term {
    std::string name;
    double value;
};

// Where a model stands after a step: NstyleProgress, whether the run is done (the step returned
// NSTYLE_DONE) and the last step's loss terms by name (they add up to `loss`).
struct Progress : NstyleProgress {
    bool done = false;
    std::vector<Term> terms;
};

// The option table (static strings; see NstyleOptionInfo): rows by index or by key.
using OptionInfo = NstyleOptionInfo;

inline std::uint32_t option_count() noexcept { return nstyle_option_count(); }

inline OptionInfo option_info(std::uint32_t index) {
    OptionInfo info{};
    detail::check(nstyle_option_info(index, &info), "nstyle_option_info");
    return info;
}

// The CPU, then each GPU the NVIDIA driver reports (nstyle_device_info): `id` for Model's
// device, `name` for a menu, `usable` and, when not, `reason`. Static strings.
using DeviceInfo = NstyleDeviceInfo;

inline double memory_gib(const DeviceInfo &device) noexcept {
    return double(device.memory_bytes) / double(1ull << 30);
}

inline std::vector<DeviceInfo> devices() {
    std::vector<DeviceInfo> found(nstyle_device_count());
    for (std::uint32_t i = 0; i < found.size(); ++i)
        detail::check(nstyle_device_info(i, &found[i]), "nstyle_device_info");
    return found;
}

inline OptionInfo find_option(const char *key) {
    OptionInfo info{};
    detail::check(nstyle_option_find(key, &info), "nstyle_option_find");
    return info;
}
inline OptionInfo find_option(const std::string &key) { return find_option(key.c_str()); }

inline std::vector<OptionInfo> options() {
    std::vector<OptionInfo> rows;
    const std::uint32_t count = option_count();
    rows.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) rows.push_back(option_info(i));
    return rows;
}

// A width and height in pixels.
struct Size {
    std::uint32_t width;
    std::uint32_t height;
};

class Model {
public:
    // Loads the weights (nullptr: $NSTYLE_WEIGHTS, the installed copy, the per-user cache) onto
    // `device` (nullptr or "auto", "cpu", "cuda", "cuda:N").
    explicit Model(const char *weights = nullptr, const char *device = nullptr) {
        NstyleModel *model = nullptr;
        detail::check(nstyle_model_create(weights, device, &model), "nstyle_model_create");
        model_ = model;
    }
    ~Model() { nstyle_model_free(model_); }

    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    Model(Model &&other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
    Model &operator=(Model &&other) noexcept {
        if (this != &other) {
            nstyle_model_free(model_);
            model_ = std::exchange(other.model_, nullptr);
        }
        return *this;
    }

    // The message of the last call on this model that failed, from whichever thread made it
    // (nstyle_errmsg; "no error" before any).
    std::string errmsg() const { return nstyle_errmsg(model_); }

    // The one input call (nstyle_set_input, since ABI 6): sets `input` to `image` (copied), or
    // clears it when `image` is nullptr. `index`: the style's number for the style inputs (for
    // NSTYLE_INPUT_STYLE the number after the last adds a style), 0 for the others. Colour
    // inputs take NSTYLE_RGB8 ... NSTYLE_RGBA_F16, planes NSTYLE_GREY8/GREY16/GREY_F32.
    void set_input(NstyleInput input, std::uint32_t index, const NstyleImage *image) {
        check(nstyle_set_input(model_, std::uint32_t(input), index, image), "nstyle_set_input");
    }
    // The same from pixels (`stride` 0: packed rows).
    void set_input(NstyleInput input, std::uint32_t index, const void *pixels,
                   std::uint32_t width, std::uint32_t height, NstyleFormat format,
                   std::size_t stride = 0) {
        NstyleImage image{};
        image.pixels = pixels;
        image.width = width;
        image.height = height;
        image.stride_bytes = stride_or_packed(width, format, stride);
        image.format = std::uint32_t(format);
        set_input(input, index, &image);
    }
    void clear_input(NstyleInput input, std::uint32_t index = 0) {
        set_input(input, index, nullptr);
    }

    // Images: `stride` is the distance between rows in bytes; 0 means packed rows.
    void set_content(const void *pixels, std::uint32_t width, std::uint32_t height,
                     NstyleFormat format, std::size_t stride = 0) {
        check(nstyle_set_content(model_, pixels, width, height,
                                 stride_or_packed(width, format, stride), format),
              "nstyle_set_content");
    }
    void add_style(const void *pixels, std::uint32_t width, std::uint32_t height,
                   NstyleFormat format, float blend_weight = 1.0f, std::size_t stride = 0) {
        check(nstyle_add_style(model_, pixels, width, height,
                               stride_or_packed(width, format, stride), format, blend_weight),
              "nstyle_add_style");
    }
    void clear_styles() { check(nstyle_clear_styles(model_), "nstyle_clear_styles"); }

    // Video (since ABI 4): start from an image instead of the content (restarts the run) ...
    void set_init_image(const void *pixels, std::uint32_t width, std::uint32_t height,
                        NstyleFormat format, std::size_t stride = 0) {
        check(nstyle_set_init_image(model_, pixels, width, height,
                                    stride_or_packed(width, format, stride), format),
              "nstyle_set_init_image");
    }
    // ... and pull the result towards a target where `weights` (nullptr: 1 everywhere, else
    // width × height floats in 0..1, packed) is high; `temporal_weight` weighs the term.
    void set_temporal(const void *pixels, std::uint32_t width, std::uint32_t height,
                      NstyleFormat format, const float *weights = nullptr,
                      float temporal_weight = 1.0f, std::size_t stride = 0) {
        check(nstyle_set_temporal(model_, pixels, width, height,
                                  stride_or_packed(width, format, stride), format, weights,
                                  temporal_weight),
              "nstyle_set_temporal");
    }
    void clear_temporal() { check(nstyle_clear_temporal(model_), "nstyle_clear_temporal"); }

    // Regions (since ABI 4): style `style_index` (0-based, in the order added) paints where a
    // grey mask over the content says (any size, stretched to it; soft edges kept); styles
    // without one share the rest, and where none reaches the photo stays. `stride` 0: packed.
    void set_style_mask(std::uint32_t style_index, const void *pixels, std::uint32_t width,
                        std::uint32_t height, NstyleMaskFormat format = NSTYLE_MASK_GREY8,
                        std::size_t stride = 0) {
        check(nstyle_set_style_mask(model_, style_index, pixels, width, height,
                                    mask_stride_or_packed(width, format, stride), format),
              "nstyle_set_style_mask");
    }
    void clear_style_mask(std::uint32_t style_index) {
        check(nstyle_clear_style_mask(model_, style_index), "nstyle_clear_style_mask");
    }
    // The part of style `style_index`'s own image its style is taken from.
    void set_style_source_mask(std::uint32_t style_index, const void *pixels,
                               std::uint32_t width, std::uint32_t height,
                               NstyleMaskFormat format = NSTYLE_MASK_GREY8,
                               std::size_t stride = 0) {
        check(nstyle_set_style_source_mask(model_, style_index, pixels, width, height,
                                           mask_stride_or_packed(width, format, stride), format),
              "nstyle_set_style_source_mask");
    }
    void clear_style_source_mask(std::uint32_t style_index) {
        check(nstyle_clear_style_source_mask(model_, style_index),
              "nstyle_clear_style_source_mask");
    }

    // Content mask (since ABI 5): more photo where a grey mask over the content says (the
    // content term weighs the option content_mask_gain times as much inside).
    void set_content_mask(const void *pixels, std::uint32_t width, std::uint32_t height,
                          NstyleMaskFormat format = NSTYLE_MASK_GREY8, std::size_t stride = 0) {
        check(nstyle_set_content_mask(model_, pixels, width, height,
                                      mask_stride_or_packed(width, format, stride), format),
              "nstyle_set_content_mask");
    }
    void clear_content_mask() {
        check(nstyle_clear_content_mask(model_), "nstyle_clear_content_mask");
    }

    void set_weights(const NstyleWeights &weights) {
        check(nstyle_set_weights(model_, &weights), "nstyle_set_weights");
    }
    void set_weights(float content, float style, float tv) {
        NstyleWeights weights{};
        weights.content = content;
        weights.style = style;
        weights.tv = tv;
        set_weights(weights);
    }

    // Options by name (see nstyle_set_option); numbers and bools are formatted for you.
    void set_option(const char *key, const char *value) {
        check(nstyle_set_option(model_, key, value), "nstyle_set_option");
    }
    void set_option(const std::string &key, const std::string &value) {
        set_option(key.c_str(), value.c_str());
    }
    template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
    void set_option(const char *key, T value) {
        if constexpr (std::is_same_v<T, bool>)
            set_option(key, value ? "1" : "0");
        else
            set_option(key, std::to_string(value).c_str());
    }
    template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
    void set_option(const std::string &key, T value) {
        set_option(key.c_str(), value);
    }

    // The current value of an option, as text nstyle_set_option accepts.
    std::string get_option(const char *key) const {
        std::size_t needed = 0;
        const NstyleStatus status = nstyle_get_option(model_, key, nullptr, 0, &needed);
        if (needed == 0) check(status, "nstyle_get_option");
        std::string value(needed, '\0');
        check(nstyle_get_option(model_, key, value.data(), value.size(), nullptr),
              "nstyle_get_option");
        value.resize(needed - 1);  // drop the NUL
        return value;
    }
    std::string get_option(const std::string &key) const { return get_option(key.c_str()); }

    // The result's size for the current content and settings, as the library rounds it
    // (fetching at it returns the working image unresampled). Needs a content.
    Size result_size() const {
        Size size{0, 0};
        check(nstyle_result_size(model_, &size.width, &size.height), "nstyle_result_size");
        return size;
    }

    // Roughly how many seconds a run with the current content, styles and options takes on
    // this machine (nstyle_estimate_seconds: an upper bound when scales end early). Needs a
    // content and a style.
    double estimate_seconds() const {
        double seconds = 0.0;
        check(nstyle_estimate_seconds(model_, &seconds), "nstyle_estimate_seconds");
        return seconds;
    }

    // The longest side a style image is used at (nstyle_style_side): no need to read more.
    std::uint32_t style_side() const {
        std::uint32_t side = 0;
        check(nstyle_style_side(model_, &side), "nstyle_style_side");
        return side;
    }

    // The estimate as a dialog says it (nstyle_estimate_text): "about 40 s on this machine",
    // and whether other programs kept cores busy while it was measured.
    std::string estimate_text() const {
        std::size_t needed = 0;
        const NstyleStatus status = nstyle_estimate_text(model_, nullptr, 0, &needed);
        if (needed == 0) check(status, "nstyle_estimate_text");
        std::string text(needed, '\0');
        check(nstyle_estimate_text(model_, text.data(), text.size(), nullptr),
              "nstyle_estimate_text");
        text.resize(needed - 1);  // drop the NUL
        return text;
    }

    // Runs up to `iterations` more iterations; `done` in the result says the step returned
    // NSTYLE_DONE (the run is complete; later steps do nothing). Throws Error (e.g.
    // NSTYLE_ERR_CANCELLED when cancel() stopped this step).
    Progress step(std::uint32_t iterations) {
        Progress progress{};
        NstyleProgress &raw = progress;
        const NstyleStatus status = check(nstyle_step(model_, iterations, &raw), "nstyle_step");
        progress.done = status == NSTYLE_DONE;
        progress.terms = terms();
        return progress;
    }

    // The last step's loss terms by name (nstyle_progress_term_count, nstyle_progress_term):
    // content, style, tv, then temporal / histogram when present; empty before the first step.
    std::vector<Term> terms() const {
        std::uint32_t count = 0;
        check(nstyle_progress_term_count(model_, &count), "nstyle_progress_term_count");
        std::vector<Term> out;
        out.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            const char *name = nullptr;
            double value = 0.0;
            check(nstyle_progress_term(model_, i, &name, &value), "nstyle_progress_term");
            out.push_back(Term{name, value});
        }
        return out;
    }

    // The current image at width×height in `format`, into the caller's buffer...
    void fetch_result(void *pixels, std::uint32_t width, std::uint32_t height,
                      NstyleFormat format, std::size_t stride = 0) {
        check(nstyle_fetch_result(model_, pixels, width, height,
                                  stride_or_packed(width, format, stride), format),
              "nstyle_fetch_result");
    }
    // ...or as a new packed buffer.
    std::vector<std::uint8_t> fetch_result(std::uint32_t width, std::uint32_t height,
                                           NstyleFormat format = NSTYLE_RGBA8) {
        std::vector<std::uint8_t> pixels(std::size_t(width) * height * bytes_per_pixel(format));
        fetch_result(pixels.empty() ? nullptr : pixels.data(), width, height, format);
        return pixels;
    }

    // Stops the step that is running (from any thread); it then throws NSTYLE_ERR_CANCELLED.
    // A cancel while no step runs is forgotten when the next step starts: a loop that wants to
    // stop between steps checks its own flag.
    void cancel() const noexcept { nstyle_cancel(model_); }

    // The C handle, still owned by this Model (nullptr after a move).
    NstyleModel *native() const noexcept { return model_; }
    explicit operator bool() const noexcept { return model_ != nullptr; }

private:
    NstyleStatus check(NstyleStatus status, const char *call) const {
        return detail::check(status, call, model_);
    }

    static std::size_t stride_or_packed(std::uint32_t width, NstyleFormat format,
                                        std::size_t stride) noexcept {
        return stride ? stride : std::size_t(width) * bytes_per_pixel(format);
    }

    static std::size_t mask_stride_or_packed(std::uint32_t width, NstyleMaskFormat format,
                                             std::size_t stride) noexcept {
        const std::size_t bytes = bytes_per_sample(format);
        return stride ? stride : std::size_t(width) * (bytes ? bytes : 1);
    }

    NstyleModel *model_ = nullptr;
    friend class Preview;
};

inline const char *preview_text_name(NstylePreviewText which) noexcept {
    switch (which) {
    case NSTYLE_PREVIEW_TEXT_MESSAGE: return "message";
    case NSTYLE_PREVIEW_TEXT_TERMS: return "terms";
    case NSTYLE_PREVIEW_TEXT_ESTIMATE: return "estimate";
    }
    return "unknown";
}

// Whether `frame` is one to show: of a job, and not the one shown last (its serial).
inline bool is_new_frame(const NstylePreviewFrame &frame, std::uint32_t shown_serial) noexcept {
    return frame.job != 0 && frame.serial != shown_serial;
}

// Whether `frame` is the feed-forward network's picture, before the optimiser refines it.
inline bool is_quick_frame(const NstylePreviewFrame &frame) noexcept { return frame.quick != 0; }

// The library's preview driver (nstyle_preview_*, since ABI 7): a thread of its own shows the
// feed-forward network's picture first, refines it with the optimiser, then estimates the full
// run; each start() supersedes the job that runs. Poll frame() and estimate() from a timer.
class Preview {
public:
    explicit Preview(const char *weights = nullptr, const char *device = nullptr) {
        NstylePreview *preview = nullptr;
        detail::check(nstyle_preview_create(weights, device, &preview), "nstyle_preview_create");
        preview_ = preview;
    }
    ~Preview() { nstyle_preview_free(preview_); }
    Preview(const Preview &) = delete;
    Preview &operator=(const Preview &) = delete;

    // The longest side the preview works at: read the content at about this size.
    std::uint32_t side() const {
        std::uint32_t side = 0;
        detail::check(nstyle_preview_side(preview_, &side), "nstyle_preview_side");
        return side;
    }

    // Starts previewing the run `model` is set up for (copied now); `full`: the size of the
    // picture the full run works on ({0, 0}: the content's). Returns the job's number.
    std::uint32_t start(const Model &model, Size full = {0, 0}) {
        std::uint32_t job = 0;
        detail::check(nstyle_preview_start(preview_, model.model_, full.width, full.height, &job),
                      "nstyle_preview_start");
        return job;
    }

    // The newest frame's facts (job 0: none yet); with `pixels`, its picture written there in
    // `format` (`stride` 0: packed rows at the frame's width).
    NstylePreviewFrame frame(void *pixels = nullptr, NstyleFormat format = NSTYLE_RGBA8,
                             std::size_t stride = 0) {
        NstylePreviewFrame info{};
        if (pixels) {
            detail::check(nstyle_preview_frame(preview_, &info, nullptr, 0, format),
                          "nstyle_preview_frame");
            if (!stride) stride = std::size_t(info.width) * bytes_per_pixel(format);
        }
        detail::check(nstyle_preview_frame(preview_, &info, pixels, stride, format),
                      "nstyle_preview_frame");
        return info;
    }

    // The newest job's estimate of the full run (job 0: not made yet).
    NstylePreviewEstimate estimate() {
        NstylePreviewEstimate info{};
        detail::check(nstyle_preview_estimate(preview_, &info), "nstyle_preview_estimate");
        return info;
    }

    // One of the texts: NSTYLE_PREVIEW_TEXT_MESSAGE, _TERMS or _ESTIMATE.
    std::string text(NstylePreviewText which) {
        std::size_t needed = 0;
        nstyle_preview_text(preview_, std::uint32_t(which), nullptr, 0, &needed);
        std::string text(needed ? needed : 1, '\0');
        detail::check(nstyle_preview_text(preview_, std::uint32_t(which), text.data(),
                                          text.size(), nullptr),
                      "nstyle_preview_text");
        text.resize(text.size() - 1);  // drop the NUL
        return text;
    }

private:
    NstylePreview *preview_ = nullptr;
};

} // namespace nstyle

#endif // NSTYLE_HPP
