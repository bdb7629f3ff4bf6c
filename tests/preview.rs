//! The preview driver (`nstyle::preview`, the `nstyle_preview_*` calls): the quick picture
//! first, the full run's estimate, the refined frames to the end; a new start supersedes the
//! job that runs; a failing job says why; dropping the driver stops it.

mod common;

use std::time::{Duration, Instant};

use common::{content_picture, style_picture};
use nstyle::engine::{self, Setup};
use nstyle::preview::{Frame, Preview};
use nstyle::Error;

/// A host's model, set up as for a full run, its content read at 96×72.
fn setup(options: &[(&str, &str)], with_style: bool) -> Setup {
    let mut transfer = engine::open(None, "cpu").unwrap();
    let mut settings = transfer.settings().clone();
    for (key, value) in options {
        settings.set_option(key, value).unwrap();
    }
    transfer.set_settings(settings).unwrap();
    transfer.set_content(content_picture(96, 72));
    if with_style {
        transfer.add_style(style_picture(64, 64), 1.0).unwrap();
    }
    transfer.setup()
}

/// Every distinct frame of the newest job until `done` (or `limit` passes).
fn frames_until_done(preview: &Preview, limit: Duration) -> Vec<Frame> {
    let started = Instant::now();
    let mut frames: Vec<Frame> = Vec::new();
    while started.elapsed() < limit {
        if let Some(frame) = preview.frame() {
            if frames.last().map(|f| f.serial) != Some(frame.serial) {
                let done = frame.done;
                frames.push(frame);
                if done {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    frames
}

#[test]
fn the_quick_picture_comes_first_then_the_estimate_then_refined_frames_to_the_end() {
    let preview = Preview::new(None, "cpu").unwrap();
    assert_eq!(preview.side(), 256);
    let job = preview.start(setup(&[("size", "0")], true), Some((960, 720)));
    let frames = frames_until_done(&preview, Duration::from_secs(120));
    assert!(frames.len() >= 2, "a quick frame and a refined one");
    let first = &frames[0];
    assert!(first.quick, "the first frame is the network's picture");
    assert!(first.error.is_none() && first.note.is_none());
    assert!(frames[1..].iter().all(|f| !f.quick && f.job == job));
    let last = frames.last().unwrap();
    assert!(last.done && last.error.is_none());
    // On the CPU: the light backbone's 100 iterations at the content's size.
    assert_eq!((last.progress.iteration, last.progress.total), (100, 100));
    assert_eq!((last.width, last.height), (96, 72));
    let picture = last.picture.as_ref().unwrap();
    assert_eq!((picture.width(), picture.height()), (96, 72));
    assert!(
        last.terms_text().starts_with("content "),
        "{}",
        last.terms_text()
    );
    println!(
        "quick frame after {:.2} s, last after {:.2} s ({} frames)",
        first.seconds,
        last.seconds,
        frames.len()
    );

    // The estimate, made before the refinement, is of the full run at the full picture's size
    // (size 0: the picture's own).
    let started = Instant::now();
    while preview.estimate().is_none() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let estimate = preview
        .estimate()
        .expect("an estimate after the last frame");
    assert_eq!(estimate.job, job);
    let value = estimate.outcome.expect("an estimate");
    assert_eq!((value.width, value.height), (960, 720));
    assert!(value.seconds > 0.0 && value.words.contains("on this machine"));
}

#[test]
fn a_new_start_supersedes_the_running_job() {
    let preview = Preview::new(None, "cpu").unwrap();
    let first = preview.start(setup(&[], true), None);
    // Let the first job get into its refinement, then change the settings.
    let started = Instant::now();
    while preview.frame().is_none() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = preview.start(setup(&[("strength", "0.9")], true), None);
    assert_eq!(second, first + 1);
    assert!(
        preview.frame().is_none(),
        "the first job's frames are not the newest job's"
    );
    let frames = frames_until_done(&preview, Duration::from_secs(120));
    assert!(frames.iter().all(|f| f.job == second));
    assert!(frames.last().unwrap().done);
    // The sessions and networks were ready: this is what a user waits for after a change.
    println!("second job: quick frame after {:.2} s", frames[0].seconds);
}

#[test]
fn a_job_that_cannot_run_says_why() {
    let preview = Preview::new(None, "cpu").unwrap();
    preview.start(setup(&[], false), None);
    let frames = frames_until_done(&preview, Duration::from_secs(60));
    let last = frames.last().expect("a frame with the error");
    assert!(last.done && last.picture.is_none());
    match &last.error {
        Some(Error::State(message)) => assert!(message.contains("no style"), "{message}"),
        other => panic!("expected a state error, got {other:?}"),
    }
}

#[test]
fn the_fast_method_previews_with_its_quick_frame_alone() {
    let preview = Preview::new(None, "cpu").unwrap();
    preview.start(setup(&[("method", "fast")], true), None);
    let frames = frames_until_done(&preview, Duration::from_secs(60));
    assert_eq!(frames.len(), 1);
    assert!(frames[0].quick && frames[0].done && frames[0].picture.is_some());
}

#[test]
fn dropping_the_driver_stops_its_job() {
    let preview = Preview::new(None, "cpu").unwrap();
    preview.start(setup(&[], true), None);
    let started = Instant::now();
    while preview.frame().is_none() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // It returns (a hang would stop the test binary); how soon is printed, not asserted.
    let dropping = Instant::now();
    drop(preview);
    println!("dropped in {:?}", dropping.elapsed());
}
