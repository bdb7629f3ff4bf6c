// nstyle.hpp: header-only C++17 RAII wrapper of the nstyle C ABI (nstyle.h).
//
//   nstyle::Model model;                          // weights found as nstyle_model_create does
//   model.set_option("size", 256);
//   model.set_content(rgba.data(), w, h, NSTYLE_RGBA8);
//   model.add_style(style.data(), sw, sh, NSTYLE_RGB8);
//   for (auto p = model.step(10); p.iteration < p.total; p = model.step(10)) { ... }
//   auto [rw, rh] = model.result_size();        // the working size, as the library rounds it
//   std::vector<uint8_t> out = model.fetch_result(rw, rh, NSTYLE_RGBA8);
//
// The option table: nstyle::options(), nstyle::find_option("size").default_value, ...;
// model.get_option("iterations") is the current value as text.
//
// Every failing call throws nstyle::Error, carrying the NstyleStatus and nstyle_last_error().
// A Model is move-only; a moved-from Model holds no model (calls on it throw ARGUMENT errors).
// Threads: as in nstyle.h, one thread uses a model at a time, and cancel() may be called from any
// thread while the Model object is alive.

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
using Progress = NstyleProgress;
using Weights = NstyleWeights;

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
    }
    return "NSTYLE_ERR_UNKNOWN";
}

// Bytes per pixel of a format (0 for an unknown one).
inline std::size_t bytes_per_pixel(NstyleFormat format) noexcept {
    switch (format) {
    case NSTYLE_RGB8: return 3;
    case NSTYLE_RGBA8: return 4;
    case NSTYLE_RGBA16: return 8;
    case NSTYLE_RGBA_F32: return 16;
    case NSTYLE_BGRA8: return 4;
    case NSTYLE_RGBA_F16: return 8;
    }
    return 0;
}

// A failed nstyle call: what() is "<call>: <message from nstyle_last_error()>".
class Error : public std::runtime_error {
public:
    Error(NstyleStatus status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    NstyleStatus status() const noexcept { return status_; }

private:
    NstyleStatus status_;
};

namespace detail {
inline void check(NstyleStatus status, const char *call) {
    if (status != NSTYLE_OK) {
        const char *message = nstyle_last_error();
        throw Error(status, std::string(call) + ": " + (message ? message : status_name(status)));
    }
}
} // namespace detail

// The option table (static strings; see NstyleOptionInfo): rows by index or by key.
using OptionInfo = NstyleOptionInfo;

inline std::uint32_t option_count() noexcept { return nstyle_option_count(); }

inline OptionInfo option_info(std::uint32_t index) {
    OptionInfo info{};
    detail::check(nstyle_option_info(index, &info), "nstyle_option_info");
    return info;
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

    // Images: `stride` is the distance between rows in bytes; 0 means packed rows.
    void set_content(const void *pixels, std::uint32_t width, std::uint32_t height,
                     NstyleFormat format, std::size_t stride = 0) {
        detail::check(nstyle_set_content(model_, pixels, width, height,
                                         stride_or_packed(width, format, stride), format),
                      "nstyle_set_content");
    }
    void add_style(const void *pixels, std::uint32_t width, std::uint32_t height,
                   NstyleFormat format, float blend_weight = 1.0f, std::size_t stride = 0) {
        detail::check(nstyle_add_style(model_, pixels, width, height,
                                       stride_or_packed(width, format, stride), format,
                                       blend_weight),
                      "nstyle_add_style");
    }
    void clear_styles() { detail::check(nstyle_clear_styles(model_), "nstyle_clear_styles"); }

    // Regions (since ABI 4): style `style_index` (0-based, in the order added) paints where a
    // grey mask over the content says (any size, stretched to it; soft edges kept); styles
    // without one share the rest, and where none reaches the photo stays. `stride` 0: packed.
    void set_style_mask(std::uint32_t style_index, const void *pixels, std::uint32_t width,
                        std::uint32_t height, NstyleMaskFormat format = NSTYLE_MASK_GREY8,
                        std::size_t stride = 0) {
        detail::check(nstyle_set_style_mask(model_, style_index, pixels, width, height,
                                            mask_stride_or_packed(width, format, stride),
                                            format),
                      "nstyle_set_style_mask");
    }
    void clear_style_mask(std::uint32_t style_index) {
        detail::check(nstyle_clear_style_mask(model_, style_index), "nstyle_clear_style_mask");
    }
    // The part of style `style_index`'s own image its style is taken from.
    void set_style_source_mask(std::uint32_t style_index, const void *pixels,
                               std::uint32_t width, std::uint32_t height,
                               NstyleMaskFormat format = NSTYLE_MASK_GREY8,
                               std::size_t stride = 0) {
        detail::check(nstyle_set_style_source_mask(model_, style_index, pixels, width, height,
                                                   mask_stride_or_packed(width, format, stride),
                                                   format),
                      "nstyle_set_style_source_mask");
    }
    void clear_style_source_mask(std::uint32_t style_index) {
        detail::check(nstyle_clear_style_source_mask(model_, style_index),
                      "nstyle_clear_style_source_mask");
    }

    // Content mask (since ABI 5): more photo where a grey mask over the content says (the
    // content term weighs the option content_mask_gain times as much inside).
    void set_content_mask(const void *pixels, std::uint32_t width, std::uint32_t height,
                          NstyleMaskFormat format = NSTYLE_MASK_GREY8, std::size_t stride = 0) {
        detail::check(nstyle_set_content_mask(model_, pixels, width, height,
                                              mask_stride_or_packed(width, format, stride),
                                              format),
                      "nstyle_set_content_mask");
    }
    void clear_content_mask() {
        detail::check(nstyle_clear_content_mask(model_), "nstyle_clear_content_mask");
    }

    void set_weights(const NstyleWeights &weights) {
        detail::check(nstyle_set_weights(model_, &weights), "nstyle_set_weights");
    }
    void set_weights(float content, float style, float tv) {
        set_weights(NstyleWeights{content, style, tv});
    }

    // Options by name (see nstyle_set_option); numbers and bools are formatted for you.
    void set_option(const char *key, const char *value) {
        detail::check(nstyle_set_option(model_, key, value), "nstyle_set_option");
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
        if (needed == 0) detail::check(status, "nstyle_get_option");
        std::string value(needed, '\0');
        detail::check(nstyle_get_option(model_, key, value.data(), value.size(), nullptr),
                      "nstyle_get_option");
        value.resize(needed - 1);  // drop the NUL
        return value;
    }
    std::string get_option(const std::string &key) const { return get_option(key.c_str()); }

    // The result's size for the current content and settings, as the library rounds it
    // (fetching at it returns the working image unresampled). Needs a content.
    Size result_size() const {
        Size size{0, 0};
        detail::check(nstyle_result_size(model_, &size.width, &size.height),
                      "nstyle_result_size");
        return size;
    }

    // Roughly how many seconds a run with the current content, styles and options takes on
    // this machine (nstyle_estimate_seconds: an upper bound when scales end early). Needs a
    // content and a style.
    double estimate_seconds() const {
        double seconds = 0.0;
        detail::check(nstyle_estimate_seconds(model_, &seconds), "nstyle_estimate_seconds");
        return seconds;
    }

    // Runs up to `iterations` more iterations; throws Error (e.g. NSTYLE_ERR_CANCELLED).
    NstyleProgress step(std::uint32_t iterations) {
        NstyleProgress progress{};
        detail::check(nstyle_step(model_, iterations, &progress), "nstyle_step");
        return progress;
    }

    // The current image at width×height in `format`, into the caller's buffer...
    void fetch_result(void *pixels, std::uint32_t width, std::uint32_t height,
                      NstyleFormat format, std::size_t stride = 0) {
        detail::check(nstyle_fetch_result(model_, pixels, width, height,
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

    // Stops a running step (from any thread); it then throws NSTYLE_ERR_CANCELLED.
    void cancel() const noexcept { nstyle_cancel(model_); }

    // The C handle, still owned by this Model (nullptr after a move).
    NstyleModel *native() const noexcept { return model_; }
    explicit operator bool() const noexcept { return model_ != nullptr; }

private:
    static std::size_t stride_or_packed(std::uint32_t width, NstyleFormat format,
                                        std::size_t stride) noexcept {
        return stride ? stride : std::size_t(width) * bytes_per_pixel(format);
    }

    static std::size_t mask_stride_or_packed(std::uint32_t width, NstyleMaskFormat format,
                                             std::size_t stride) noexcept {
        const std::size_t bytes = format == NSTYLE_MASK_GREY16    ? 2
                                  : format == NSTYLE_MASK_GREY_F32 ? 4
                                                                   : 1;
        return stride ? stride : std::size_t(width) * bytes;
    }

    NstyleModel *model_ = nullptr;
};

} // namespace nstyle

#endif // NSTYLE_HPP
