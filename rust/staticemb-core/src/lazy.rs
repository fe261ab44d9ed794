//! Parts built on first use that a `fork()` never leaves half-built.
//!
//! A `OnceLock` that one thread is filling when another thread forks stays "being filled" in the child
//! forever: the child has no copy of the filling thread, so its first use of that part waits without end. The
//! same holds for a lock held at the fork: Oniguruma's process-wide lock around every regex compile.
//! Every lazily built part of the core (the `tokenizers` fallback parsed from its JSON, the character pages of
//! the native tokenizers, the kernel choice) goes through [`init_once`], and every call into code that builds
//! such parts of its own (a tokenizer's construction, which compiles its regexes; each call into the
//! `tokenizers` crate, whose own lazy statics are built on first use) runs inside a [`Building`] guard. A
//! `pthread_atfork` prepare handler holds new builds back and waits for those under way to end before the
//! process forks, so the child finds each part either built or not begun. A fork waits at most as long as the
//! longest such call under way (a 250k-piece Unigram parsed by the crate: about a second; the crate's pipeline
//! on a text of many megabytes: seconds).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Once, OnceLock};
use std::time::Duration;

/// Forks in progress (their prepare handler has run, their parent handler not yet).
static FORKING: AtomicUsize = AtomicUsize::new(0);
/// Threads inside a build.
static BUILDING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// How deep this thread is in nested builds (a page built with a regex built on first use): only the
    /// outermost counts in [`BUILDING`] and waits for a fork to end.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

const PAUSE: Duration = Duration::from_micros(100);

/// The value in `cell`, built by `build` on first use, never while the process forks.
#[inline]
pub fn init_once<T>(cell: &OnceLock<T>, build: impl FnOnce() -> T) -> &T {
    if let Some(value) = cell.get() {
        return value;
    }
    let _building = Building::enter();
    cell.get_or_init(build)
}

/// One thread's build, counted in [`BUILDING`] from [`Building::enter`] until dropped (also on unwinding): a
/// fork waits for it to end.
pub(crate) struct Building;

impl Building {
    pub(crate) fn enter() -> Building {
        install_fork_handlers();
        let depth = DEPTH.get();
        if depth == 0 {
            loop {
                while FORKING.load(SeqCst) != 0 {
                    std::thread::sleep(PAUSE);
                }
                BUILDING.fetch_add(1, SeqCst);
                // A fork that began between the check and the count waits for this build; one that began
                // before the count sees it only if it reads BUILDING after this re-check says "no fork".
                if FORKING.load(SeqCst) == 0 {
                    break;
                }
                BUILDING.fetch_sub(1, SeqCst);
            }
        }
        DEPTH.set(depth + 1);
        Building
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        let depth = DEPTH.get() - 1;
        DEPTH.set(depth);
        if depth == 0 {
            BUILDING.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(unix)]
extern "C" fn before_fork() {
    FORKING.fetch_add(1, SeqCst);
    // A thread that forks from inside a build of its own (nothing in the core does) waits for the others.
    let own = usize::from(DEPTH.get() > 0);
    while BUILDING.load(SeqCst) > own {
        std::thread::sleep(PAUSE);
    }
}

#[cfg(unix)]
extern "C" fn after_fork_in_parent() {
    FORKING.fetch_sub(1, SeqCst);
}

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    // The child's one thread: no fork is in progress here, whatever other parent threads were doing, and no build
    // but its own. A thread that counted itself in BUILDING just after the prepare handler's last look (it
    // checks FORKING again and leaves, but the fork may copy the memory before it does) is not in the child.
    // Atomic stores only, as a child handler must.
    FORKING.store(0, SeqCst);
    BUILDING.store(usize::from(DEPTH.get() > 0), SeqCst);
}

fn install_fork_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registering plain `extern "C"` functions with no captured state. The prepare handler runs in
        // the forking parent before the fork (sleeping there is allowed); the child handler makes one atomic
        // store, which is async-signal-safe.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_in_parent),
                Some(after_fork_in_child),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_once_and_nests() {
        static OUTER: OnceLock<usize> = OnceLock::new();
        static INNER: OnceLock<usize> = OnceLock::new();
        let value = init_once(&OUTER, || *init_once(&INNER, || 2) + 1);
        assert_eq!(*value, 3);
        assert_eq!(*init_once(&OUTER, || unreachable!()), 3);
        assert_eq!(DEPTH.get(), 0);
    }

    #[test]
    fn a_panicking_build_is_uncounted() {
        static CELL: OnceLock<usize> = OnceLock::new();
        let result = std::panic::catch_unwind(|| init_once(&CELL, || panic!("build failed")));
        assert!(result.is_err());
        assert_eq!(DEPTH.get(), 0);
        assert_eq!(*init_once(&CELL, || 7), 7);
    }
}
