//! How many CPU threads a step uses when the caller left it to the library (`threads=0` and no
//! `OMP_NUM_THREADS`): the cores other programs leave free, measured between steps.
//!
//! Why: libtorch's OpenMP threads spin while they wait for each other at every barrier. When
//! another program holds one of two cores, a thread of ours waits on a descheduled sibling for a
//! whole time slice, over and over: a 256 px run took 3.1× its idle time beside one busy core,
//! against 1.7× with one thread (issue 25). With as many threads as there are free cores, no
//! thread waits on a sibling that is not running.
//!
//! How: /proc/stat gives the whole machine's busy time, /proc/self/stat this process's; what the
//! machine spent beyond us over the last interval is the load of others, in cores. The count is
//! re-decided at most every [`DECIDE_EVERY`], from at least [`MIN_WINDOW`] of samples, with a
//! margin so that it does not flap around a half-busy core. Where /proc cannot be read, the
//! count stays libtorch's default.

use std::time::{Duration, Instant};

/// How often the count may change: often enough to follow an editor's bursts, rarely enough
/// that resizing libtorch's thread pool costs nothing measurable.
const DECIDE_EVERY: Duration = Duration::from_millis(500);
/// The shortest window whose load is trusted (jiffies are 10 ms).
pub const MIN_WINDOW: Duration = Duration::from_millis(200);
/// Load of others (in cores) under which a core still counts as free: a browser's or an
/// editor's idle ticks are not a busy core.
const FREE_BELOW: f64 = 0.35;

/// CPU time counters, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuTimes {
    /// Busy time of the whole machine (all but idle and iowait), summed over its cores.
    machine_busy: u64,
    /// This process's user and system time (all its threads).
    own: u64,
}

fn read_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let machine_busy = machine_busy_ticks(stat.lines().next()?)?;
    let own = own_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    Some(CpuTimes { machine_busy, own })
}

/// The busy ticks of `/proc/stat`'s first line: `cpu user nice system idle iowait irq softirq
/// steal …`, all but idle and iowait.
fn machine_busy_ticks(line: &str) -> Option<u64> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 8 {
        return None;
    }
    Some(values.iter().sum::<u64>() - values[3] - values[4])
}

/// utime + stime of `/proc/self/stat` (fields 14 and 15; the command name in parentheses may
/// hold spaces, so fields are counted after its closing parenthesis).
fn own_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (sysconf(_SC_CLK_TCK), 100 on Linux).
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The load of others, in cores, between two samples `elapsed` apart.
fn others_load(before: CpuTimes, after: CpuTimes, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64() * ticks_per_second();
    if seconds <= 0.0 {
        return 0.0;
    }
    let machine = after.machine_busy.saturating_sub(before.machine_busy) as f64;
    let own = after.own.saturating_sub(before.own) as f64;
    ((machine - own) / seconds).max(0.0)
}

/// Whole cores that `others` cores of load from other programs keep busy.
pub fn busy_cores(others: f64) -> i32 {
    (others - FREE_BELOW).max(0.0).ceil() as i32
}

/// The load of other programs over a stretch of work: started before it, read after it.
pub struct LoadWindow(Option<(Instant, CpuTimes)>);

impl LoadWindow {
    pub fn start() -> LoadWindow {
        LoadWindow(read_times().map(|t| (Instant::now(), t)))
    }

    /// Others' load in cores since the start (None where /proc cannot be read).
    pub fn others(&self) -> Option<f64> {
        let (at, before) = self.0?;
        Some(others_load(before, read_times()?, at.elapsed()))
    }
}

/// The threads for `cores` cores with `others` cores of load from other programs.
pub fn threads_for(cores: i32, others: f64) -> i32 {
    (cores - busy_cores(others)).clamp(1, cores.max(1))
}

/// The decision of one session, kept between its steps.
#[derive(Debug)]
pub struct ThreadGovernor {
    /// libtorch's default (one per physical core): the most the governor uses.
    cores: i32,
    sample: Option<(Instant, CpuTimes)>,
    decided: Option<Instant>,
    threads: i32,
    /// The load of others at the last decision, in cores (diagnostics, the estimate's note).
    pub others: f64,
}

impl ThreadGovernor {
    pub fn new(cores: i32) -> ThreadGovernor {
        ThreadGovernor {
            cores: cores.max(1),
            sample: None,
            decided: None,
            threads: cores.max(1),
            others: 0.0,
        }
    }

    /// The threads of the next step: re-decided from the load of others when the last decision
    /// is older than [`DECIDE_EVERY`] and the window at least [`MIN_WINDOW`]; else as before.
    pub fn threads(&mut self) -> i32 {
        let now = Instant::now();
        if self.decided.is_some_and(|at| now - at < DECIDE_EVERY) {
            return self.threads;
        }
        let Some(times) = read_times() else {
            return self.threads;
        };
        match self.sample {
            Some((at, before)) if now - at >= MIN_WINDOW => {
                self.others = others_load(before, times, now - at);
                self.threads = threads_for(self.cores, self.others);
                self.decided = Some(now);
                self.sample = Some((now, times));
            }
            Some(_) => {}
            None => self.sample = Some((now, times)),
        }
        self.threads
    }

    /// Starts a fresh window now (after a pause between runs the old window says nothing).
    pub fn restart_window(&mut self) {
        self.sample = read_times().map(|t| (Instant::now(), t));
        self.decided = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_follow_the_free_cores() {
        assert_eq!(threads_for(2, 0.0), 2);
        assert_eq!(
            threads_for(2, 0.2),
            2,
            "idle ticks of others are no busy core"
        );
        assert_eq!(threads_for(2, 0.9), 1);
        assert_eq!(threads_for(2, 1.0), 1);
        assert_eq!(threads_for(2, 2.0), 1, "never fewer than one");
        assert_eq!(threads_for(8, 3.0), 5);
        assert_eq!(threads_for(1, 0.0), 1);
    }

    #[test]
    fn proc_lines_parse() {
        let line = "cpu  100 5 50 1000 20 3 2 0 0 0";
        assert_eq!(machine_busy_ticks(line), Some(100 + 5 + 50 + 3 + 2));
        assert_eq!(machine_busy_ticks("cpu0 1 2 3 4 5 6 7 8"), None);
        let own = "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 70 30 0 0 20 0";
        assert_eq!(own_ticks(own), Some(100));
        assert!(read_times().is_some(), "this machine has /proc");
    }

    #[test]
    fn the_load_of_others_is_the_machine_beyond_this_process() {
        let before = CpuTimes {
            machine_busy: 1000,
            own: 400,
        };
        let after = CpuTimes {
            machine_busy: 1000 + 2 * 100,
            own: 400 + 100,
        };
        let load = others_load(before, after, Duration::from_secs(1));
        assert!((load - 100.0 / ticks_per_second()).abs() < 1e-9, "{load}");
    }
}
