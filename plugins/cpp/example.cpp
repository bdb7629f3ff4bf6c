// Using nstyle from C++ through the RAII wrapper nstyle.hpp, on synthetic images (no files).
//
//   g++ -std=c++17 -Wall -Wextra -Werror example.cpp $(pkg-config --cflags --libs nstyle)
//   ./a.out [size] [iterations] [device]        (defaults: 64, 20, auto)

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nstyle.hpp"

namespace {

// A smooth RGBA gradient with a left-to-right alpha ramp, and RGB diagonal stripes.
std::vector<std::uint8_t> gradient(std::uint32_t w, std::uint32_t h) {
    std::vector<std::uint8_t> rgba(std::size_t(w) * h * 4);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x) {
            std::uint8_t *p = &rgba[(std::size_t(y) * w + x) * 4];
            p[0] = std::uint8_t(255 * x / (w - 1));
            p[1] = std::uint8_t(255 * y / (h - 1));
            p[2] = 128;
            p[3] = std::uint8_t(255 * x / (w - 1));
        }
    return rgba;
}

std::vector<std::uint8_t> stripes(std::uint32_t w, std::uint32_t h) {
    std::vector<std::uint8_t> rgb(std::size_t(w) * h * 3);
    for (std::uint32_t y = 0; y < h; ++y)
        for (std::uint32_t x = 0; x < w; ++x) {
            bool on = ((x + y) / 6) % 2 == 0;
            std::uint8_t *p = &rgb[(std::size_t(y) * w + x) * 3];
            p[0] = on ? 240 : 20;
            p[1] = on ? 170 : 60;
            p[2] = on ? 30 : 200;
        }
    return rgb;
}

} // namespace

int main(int argc, char **argv) {
    const std::uint32_t size = argc > 1 ? std::uint32_t(std::strtoul(argv[1], nullptr, 10)) : 64;
    const std::uint32_t iterations =
        argc > 2 ? std::uint32_t(std::strtoul(argv[2], nullptr, 10)) : 20;
    const char *device = argc > 3 ? argv[3] : nullptr;
    const std::uint32_t w = 80, h = 60;

    if (!nstyle::abi_compatible()) {
        std::fprintf(stderr, "libnstyle %s has ABI %u, this program needs %u\n",
                     nstyle::version().c_str(), nstyle::abi_version(), nstyle::header_abi_version);
        return 1;
    }
    try {
        nstyle::Model model(nullptr, device);
        model.set_option("size", size);
        model.set_option("iterations", iterations);
        model.set_option("precision", "fp32");

        const auto content = gradient(w, h);
        const auto style = stripes(48, 48);
        // One call for every input: the content, then style 0 (the index after the last adds one).
        model.set_input(NSTYLE_INPUT_CONTENT, 0, content.data(), w, h, NSTYLE_RGBA8);
        model.set_input(NSTYLE_INPUT_STYLE, 0, style.data(), 48, 48, NSTYLE_RGB8);
        // A plane where a colour image goes is refused, with the model's own message.
        try {
            model.set_input(NSTYLE_INPUT_CONTENT, 0, content.data(), w, h, NSTYLE_GREY8);
        } catch (const nstyle::Error &e) {
            std::printf("expected error: %s (%s)\n", nstyle::status_name(e.status()), e.what());
            if (e.status() != NSTYLE_ERR_ARGUMENT) return 1;
        }

        // The option table: every option's default, range and help text, from the library.
        const nstyle::OptionInfo weight = nstyle::find_option("style_weight");
        std::printf("%zu options; style_weight: %s, default %s, %s\n", nstyle::options().size(),
                    weight.doc, weight.default_value, weight.accepts);
        model.set_option("style_weight", std::stod(weight.default_value) * 2);
        std::printf("style_weight now %s, iterations %s\n",
                    model.get_option("style_weight").c_str(),
                    model.get_option("iterations").c_str());

        // A bad option throws, with the status and the library's message; nothing changes.
        try {
            model.set_option("size", 8);  // under the 16 px minimum
        } catch (const nstyle::Error &e) {
            std::printf("expected error: %s (%s)\n", nstyle::status_name(e.status()), e.what());
            std::printf("errmsg: %s\n", model.errmsg().c_str());
        }

        // Regions: the style paints the left half only; the right half stays the photo.
        std::vector<std::uint8_t> left(std::size_t(w) * h);
        for (std::uint32_t y = 0; y < h; ++y)
            for (std::uint32_t x = 0; x < w; ++x) left[std::size_t(y) * w + x] = x < w / 2 ? 255 : 0;
        model.set_input(NSTYLE_INPUT_STYLE_REGION, 0, left.data(), w, h, NSTYLE_GREY8);
        try {
            model.set_style_mask(1, left.data(), w, h);  // there is only style 0
        } catch (const nstyle::Error &e) {
            std::printf("expected error: %s (%s)\n", nstyle::status_name(e.status()), e.what());
        }

        // Models are move-only.
        nstyle::Model moved = std::move(model);
        std::printf("moved: source %s, target %s\n", model ? "holds a model" : "empty",
                    moved ? "holds a model" : "empty");

        std::printf("estimate: about %.1f s on this machine\n", moved.estimate_seconds());
        // A cancel while no step runs is forgotten: the next step goes on.
        moved.cancel();
        for (;;) {
            const nstyle::Progress p = moved.step(5);
            std::printf("iteration %u/%u scale %u/%u loss %.4g (", p.iteration, p.total,
                        p.scale + 1, p.scales, p.loss);
            double sum = 0.0;
            for (std::size_t i = 0; i < p.terms.size(); ++i) {
                std::printf("%s%s %.3g", i ? ", " : "", p.terms[i].name.c_str(), p.terms[i].value);
                sum += p.terms[i].value;
            }
            std::printf(")\n");
            if (p.terms.size() < 3 || std::fabs(sum - p.loss) > 1e-4 * std::fabs(p.loss) + 1e-9) {
                std::fprintf(stderr, "the terms do not add up to the loss\n");
                return 1;
            }
            if (p.done) break;  // NSTYLE_DONE: the run is complete
        }
        if (!moved.step(1).done) return 1;  // a step after the end does nothing, still DONE

        // The result at the working size (no resampling), then at the content's size.
        const auto [rw, rh] = moved.result_size();
        const std::vector<std::uint8_t> work = moved.fetch_result(rw, rh, NSTYLE_RGBA8);
        std::printf("working size %ux%u (%zu bytes)\n", rw, rh, work.size());
        const std::vector<std::uint8_t> out = moved.fetch_result(w, h, NSTYLE_RGBA8);
        double mean[4] = {0, 0, 0, 0};
        for (std::size_t i = 0; i < out.size(); ++i) mean[i % 4] += out[i];
        for (double &m : mean) m /= double(w) * h;
        std::printf("result %ux%u RGBA8, mean R %.1f G %.1f B %.1f A %.1f\n", w, h, mean[0],
                    mean[1], mean[2], mean[3]);
        return 0;
    } catch (const nstyle::Error &e) {
        std::fprintf(stderr, "nstyle error %s: %s\n", nstyle::status_name(e.status()), e.what());
        return 1;
    }
}
