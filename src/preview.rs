//! The preview driver: what an editor's dialog shows while the user changes settings, decided
//! here once for every host (GIMP, Krita, the CLI, C programs). A host sets a model up as for
//! the full run, with the content read at [`Preview::side`], and calls [`Preview::start`] on each
//! change; a thread of the driver's own then
//!
//! 1. shows the feed-forward network's picture first ("quick", a fraction of a second: the
//!    answer a painter waits for), unless its weights are missing (a note says so);
//! 2. estimates the full run's time at the full picture's size on a session of its own, so that
//!    the preview's session never loads the full run's backbone;
//! 3. refines with the optimiser from the quick picture: on the CPU with the light backbone,
//!    100 iterations on one thread at 256 px (a busy machine slows many small operations on
//!    spinning threads many times over), on a GPU with the run's own backbone and iterations at
//!    512 px, publishing a frame when a scale ends, at most every second on the CPU (five a
//!    second on a GPU), and at the end.
//!
//! A new start supersedes the job that runs within about one iteration; the host polls
//! [`Preview::frame`] and [`Preview::estimate`] (numbered, so it shows each once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tch::Device;

use crate::engine::loss::LossParts;
use crate::engine::{self, Init, Method, Picture, Progress, Setup, Transfer};
use crate::error::{Error, Result};

/// The longest side the preview works at on the CPU and on a GPU.
const CPU_SIDE: u32 = 256;
const GPU_SIDE: u32 = 512;
/// Iterations of the CPU's refinement (the light backbone, one thread: about 2 s at 256 px).
const CPU_ITERATIONS: u32 = 100;
/// The longest wait between frames while a scale runs.
const CPU_FRAME_INTERVAL: Duration = Duration::from_secs(1);
const GPU_FRAME_INTERVAL: Duration = Duration::from_millis(200);

/// One published picture of a job (or why the job failed).
#[derive(Clone)]
pub struct Frame {
    /// The job it belongs to.
    pub job: u32,
    /// Grows with every frame the driver publishes: a host shows a frame whose serial changed.
    pub serial: u32,
    /// The picture (None when the job failed).
    pub picture: Option<Arc<Picture>>,
    pub width: u32,
    pub height: u32,
    /// The feed-forward network's picture, before the optimiser refines it.
    pub quick: bool,
    /// The job's last frame.
    pub done: bool,
    /// Why the job failed.
    pub error: Option<Error>,
    /// Something the user should know that did not stop the preview (no quick picture, why).
    pub note: Option<String>,
    /// Since the job started.
    pub seconds: f64,
    pub progress: Progress,
}

impl Frame {
    /// The loss terms in words, "content 1.2e+06 · style 3.4e+05 · tv 812".
    pub fn terms_text(&self) -> String {
        terms_text(&self.progress.losses)
    }
}

/// The full run's estimate for a job: the time, in seconds and in words, and the result's size.
#[derive(Clone)]
pub struct Estimate {
    pub job: u32,
    pub outcome: std::result::Result<EstimateValue, Error>,
}

#[derive(Clone, Debug)]
pub struct EstimateValue {
    pub seconds: f64,
    pub words: String,
    pub width: u32,
    pub height: u32,
}

/// The driver: a worker thread with two sessions of its own (the preview's and the estimate's).
pub struct Preview {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    side: u32,
}

struct Job {
    number: u32,
    setup: Setup,
    /// The size of the picture the full run works on (the content is a reduced copy of it).
    full_size: Option<(u32, u32)>,
    started: Instant,
}

#[derive(Default)]
struct State {
    /// The number of the newest job started (jobs count from 1).
    newest: u32,
    pending: Option<Job>,
    quit: bool,
    /// The newest frame published, of whichever job.
    frame: Option<Frame>,
    serial: u32,
    estimate: Option<Estimate>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The cancel flags of the worker's sessions, once they exist: raised to stop the step of a
    /// superseded job.
    cancels: Mutex<Vec<Arc<AtomicBool>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the worker cannot leave the state half-changed (every change is one
        // assignment), so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_newest(&self, job: u32) -> bool {
        let state = self.lock();
        !state.quit && state.newest == job
    }

    fn stop_running_step(&self) {
        for flag in self
            .cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

impl Preview {
    /// A driver for models on `device` ("auto", "cpu", "cuda", "cuda:N"), with the VGG-19
    /// weights found as `nstyle_model_create` finds them. The sessions open on the driver's
    /// thread at the first start (a missing weights file is that job's error).
    pub fn new(weights: Option<std::path::PathBuf>, device: &str) -> Result<Preview> {
        let device = engine::parse_device(device)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            cancels: Mutex::new(Vec::new()),
        });
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("nstyle-preview".into())
                .spawn(move || Worker::new(shared, weights, device).serve())
                .map_err(|e| Error::Internal(format!("cannot start the preview thread: {e}")))?
        };
        Ok(Preview {
            shared,
            worker: Some(worker),
            side: if device.is_cuda() { GPU_SIDE } else { CPU_SIDE },
        })
    }

    /// The longest side the preview works at: the size worth reading the content at.
    pub fn side(&self) -> u32 {
        self.side
    }

    /// Starts previewing `setup` (a host's model set up as for the full run, its content read at
    /// about [`Preview::side`]); `full_size` is the size of the picture the full run works on,
    /// for the estimate (None: the content's). The running job stops within about one
    /// iteration. Returns the new job's number.
    pub fn start(&self, setup: Setup, full_size: Option<(u32, u32)>) -> u32 {
        let mut state = self.shared.lock();
        state.newest += 1;
        let number = state.newest;
        state.pending = Some(Job {
            number,
            setup,
            full_size,
            started: Instant::now(),
        });
        self.shared.stop_running_step();
        self.shared.wake.notify_all();
        number
    }

    /// The newest frame of the newest job, if it has one yet.
    pub fn frame(&self) -> Option<Frame> {
        let state = self.shared.lock();
        state
            .frame
            .as_ref()
            .filter(|frame| frame.job == state.newest)
            .cloned()
    }

    /// The newest job's estimate, once made.
    pub fn estimate(&self) -> Option<Estimate> {
        let state = self.shared.lock();
        state
            .estimate
            .as_ref()
            .filter(|estimate| estimate.job == state.newest)
            .cloned()
    }
}

impl Drop for Preview {
    /// Stops the job (within about one iteration, or the load of weights under way) and the
    /// thread.
    fn drop(&mut self) {
        self.shared.lock().quit = true;
        self.shared.stop_running_step();
        self.shared.wake.notify_all();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The two sessions: the preview's (light backbone on the CPU) and the estimate's (the full
/// run's backbone, its threads).
struct Sessions {
    preview: Transfer,
    estimate: Transfer,
}

struct Worker {
    shared: Arc<Shared>,
    weights: Option<std::path::PathBuf>,
    device: Device,
    sessions: Option<Sessions>,
}

impl Worker {
    fn new(shared: Arc<Shared>, weights: Option<std::path::PathBuf>, device: Device) -> Self {
        Worker {
            shared,
            weights,
            device,
            sessions: None,
        }
    }

    fn serve(mut self) {
        while let Some(job) = self.next_job() {
            if let Err(error) = self.run(&job) {
                if !matches!(error, Error::Cancelled) {
                    self.publish(&job, Published::failure(error));
                }
            }
        }
    }

    fn next_job(&self) -> Option<Job> {
        let mut state = self.shared.lock();
        loop {
            if state.quit {
                return None;
            }
            if let Some(job) = state.pending.take() {
                return Some(job);
            }
            state = self
                .shared
                .wake
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn sessions(&mut self) -> Result<&mut Sessions> {
        if self.sessions.is_none() {
            let device = device_name(self.device);
            let open = || engine::open(self.weights.as_deref(), &device);
            let sessions = Sessions {
                preview: open()?,
                estimate: open()?,
            };
            *self
                .shared
                .cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = vec![
                sessions.preview.cancel_flag(),
                sessions.estimate.cancel_flag(),
            ];
            self.sessions = Some(sessions);
        }
        Ok(self.sessions.as_mut().expect("opened above"))
    }

    /// The job's three parts; Err(Cancelled) when a newer job superseded it.
    fn run(&mut self, job: &Job) -> Result<()> {
        let on_gpu = self.device.is_cuda();
        let content = job
            .setup
            .content
            .as_ref()
            .ok_or_else(|| Error::State("no content image set".into()))?;
        let (width, height) = frame_size(content.width(), content.height(), on_gpu);
        let full = &job.setup.settings;
        let preview = preview_setup(&job.setup, on_gpu)?;

        // 1. The feed-forward network's picture (with the run's backbone setting, which it
        // does not use: switching to the light one would load it before the first frame).
        let mut quick = job.setup.clone();
        quick.settings = preview.settings.clone();
        quick.settings.backbone = full.backbone;
        quick.settings.set_option("method", "fast")?;
        quick.settings.set_option("init", "content")?;
        quick.settings.set_option("threads", "0")?;
        let (quick_picture, note) = match self.quick(job, quick, width, height) {
            Ok(picture) => (Some(picture), None),
            Err(error @ Error::Cancelled) => return Err(error),
            Err(error) if full.method == Method::Fast => return Err(error),
            Err(error) => (None, Some(format!("no quick preview: {error}"))),
        };
        self.check_current(job)?;

        // 2. The full run's estimate, as soon as the user has a picture: the first one loads
        // the run's backbone and probes it (a few seconds, once per backbone and precision);
        // later ones take milliseconds (cached rates).
        let estimate = self.estimate(job);
        self.shared.lock().estimate = Some(Estimate {
            job: job.number,
            outcome: estimate,
        });
        if full.method == Method::Fast {
            return Ok(());
        }
        self.check_current(job)?;

        // 3. The optimiser, from the quick picture when there is one (the picture itself, not
        // `init=fast`, which would run the network a second time).
        let mut refine = preview;
        if let (Some(picture), Init::Content) = (quick_picture, &full.init) {
            refine.settings.init = Init::Image(picture);
        }
        self.refine(job, refine, width, height, note, on_gpu)
    }

    /// The network's picture, published as the quick frame; returned for the refinement to
    /// start from.
    fn quick(&mut self, job: &Job, setup: Setup, width: u32, height: u32) -> Result<Picture> {
        let session = &mut self.sessions()?.preview;
        session.use_setup(setup)?;
        let progress = session.step(1)?;
        let picture = session.result(width, height)?;
        let done = job.setup.settings.method == Method::Fast;
        self.publish(
            job,
            Published::picture(picture.clone(), width, height, progress, done, true, None),
        );
        Ok(picture)
    }

    fn estimate(&mut self, job: &Job) -> Result<EstimateValue> {
        let session = &mut self.sessions()?.estimate;
        session.use_setup(job.setup.clone())?;
        session.set_stands_for(job.full_size);
        let seconds = session.estimate()?.seconds;
        // Words from the same (cached) rates, with the load other programs put on the cores.
        let words = session.estimate_text()?;
        let (width, height) = session.result_size()?;
        Ok(EstimateValue {
            seconds,
            words,
            width,
            height,
        })
    }

    fn refine(
        &mut self,
        job: &Job,
        setup: Setup,
        width: u32,
        height: u32,
        note: Option<String>,
        on_gpu: bool,
    ) -> Result<()> {
        let interval = if on_gpu {
            GPU_FRAME_INTERVAL
        } else {
            CPU_FRAME_INTERVAL
        };
        self.sessions()?.preview.use_setup(setup)?;
        let mut last_frame = Instant::now();
        let mut last_scale = None;
        loop {
            self.check_current(job)?;
            let session = &mut self.sessions()?.preview;
            let progress = session.step(1)?;
            let done = progress.total > 0 && progress.iteration >= progress.total;
            if !done && last_scale == Some(progress.scale) && last_frame.elapsed() < interval {
                continue;
            }
            last_scale = Some(progress.scale);
            last_frame = Instant::now();
            let picture = session.result(width, height)?;
            self.publish(
                job,
                Published::picture(picture, width, height, progress, done, false, note.clone()),
            );
            if done {
                return Ok(());
            }
        }
    }

    fn check_current(&self, job: &Job) -> Result<()> {
        if self.shared.is_newest(job.number) {
            Ok(())
        } else {
            Err(Error::Cancelled)
        }
    }

    fn publish(&self, job: &Job, published: Published) {
        let mut state = self.shared.lock();
        state.serial += 1;
        state.frame = Some(Frame {
            job: job.number,
            serial: state.serial,
            picture: published.picture.map(Arc::new),
            width: published.width,
            height: published.height,
            quick: published.quick,
            done: published.done,
            error: published.error,
            note: published.note,
            seconds: job.started.elapsed().as_secs_f64(),
            progress: published.progress,
        });
    }
}

/// What a frame carries besides its job's facts.
struct Published {
    picture: Option<Picture>,
    width: u32,
    height: u32,
    progress: Progress,
    done: bool,
    quick: bool,
    error: Option<Error>,
    note: Option<String>,
}

impl Published {
    fn picture(
        picture: Picture,
        width: u32,
        height: u32,
        progress: Progress,
        done: bool,
        quick: bool,
        note: Option<String>,
    ) -> Self {
        Published {
            picture: Some(picture),
            width,
            height,
            progress,
            done,
            quick,
            error: None,
            note,
        }
    }

    fn failure(error: Error) -> Self {
        Published {
            picture: None,
            width: 0,
            height: 0,
            progress: Progress::default(),
            done: true,
            quick: false,
            error: Some(error),
            note: None,
        }
    }
}

/// "cpu" or "cuda:N": the parsed device as `engine::open` takes it.
fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".into(),
    }
}

/// The frames' size: the content's own when it is at most the preview's side (the host read a
/// reduced copy, as it should), else the content scaled down to it.
fn frame_size(width: u32, height: u32, on_gpu: bool) -> (u32, u32) {
    let side = if on_gpu { GPU_SIDE } else { CPU_SIDE };
    let long = width.max(height);
    if long <= side {
        return (width, height);
    }
    let scale = |v: u32| ((v as f64 * side as f64 / long as f64).round() as u32).max(1);
    (scale(width), scale(height))
}

/// The preview's set-up from the full run's: its size, and on the CPU the light backbone, its
/// iterations and one thread.
fn preview_setup(full: &Setup, on_gpu: bool) -> Result<Setup> {
    let mut setup = full.clone();
    let side = if on_gpu { GPU_SIDE } else { CPU_SIDE };
    let content = full
        .content
        .as_ref()
        .ok_or_else(|| Error::State("no content image set".into()))?;
    let long = content.width().max(content.height()).min(side);
    let settings = &mut setup.settings;
    settings.set_option("size", &long.to_string())?;
    if !on_gpu {
        settings.set_option("backbone", "lite")?;
        settings.set_option("iterations", &CPU_ITERATIONS.to_string())?;
        settings.set_option("threads", "1")?;
    }
    Ok(setup)
}

/// Loss terms as a dialog's detail line: each name and value with three significant digits,
/// "content 1.23e+06 · style 4.5e+05 · tv 812".
pub fn terms_text(losses: &LossParts) -> String {
    losses
        .terms
        .iter()
        .map(|(name, value)| format!("{name} {}", significant(*value, 3)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `value` with `digits` significant digits, as C's `%.3g` writes it.
fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor() as i32;
    if exponent < -4 || exponent >= digits {
        let text = format!("{:.*e}", (digits - 1) as usize, value);
        let (mantissa, power) = text.split_once('e').expect("exponent form");
        let power: i32 = power.parse().expect("an integer exponent");
        let sign = if power < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), power.abs())
    } else {
        trim_zeros(&format!(
            "{:.*}",
            (digits - 1 - exponent).max(0) as usize,
            value
        ))
    }
}

fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits_as_printf_writes_them() {
        assert_eq!(significant(1234567.0, 3), "1.23e+06");
        assert_eq!(significant(12.3456, 3), "12.3");
        assert_eq!(significant(812.0, 3), "812");
        assert_eq!(significant(0.5, 3), "0.5");
        assert_eq!(significant(0.000012, 3), "1.2e-05");
        assert_eq!(significant(0.0, 3), "0");
    }

    #[test]
    fn frames_are_the_contents_size_up_to_the_side() {
        assert_eq!(frame_size(200, 150, false), (200, 150));
        assert_eq!(frame_size(1024, 768, false), (256, 192));
        assert_eq!(frame_size(1024, 768, true), (512, 384));
    }
}
