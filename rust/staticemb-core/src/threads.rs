//! Thread control: run on the caller's thread, or on a cached rayon pool of a given size.
//!
//! Pools are created lazily, one per size, and shared by every caller, so many Python threads calling at
//! once queue their work on the same workers instead of oversubscribing the cores. At most
//! [`CACHED_POOLS`] pools are kept (least recently used first out); an evicted pool's threads exit once its
//! last running job ends. This module reads no environment variable: the caller (the Python binding) turns
//! `RAYON_NUM_THREADS` into a [`Threads`] value. After `fork()` the
//! child has none of the parent's worker threads; a `pthread_atfork` child handler drops the (now dead)
//! pools so the child builds fresh ones on first use instead of waiting forever on threads that do not exist.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, Once};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// How many threads a call may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Every core: [`std::thread::available_parallelism`].
    Auto,
    /// Run on the calling thread only.
    Current,
    /// A pool of exactly this many workers (1 means the calling thread).
    Fixed(usize),
}

impl Threads {
    /// From the Python convention: `None` → all cores, `n` → n threads.
    pub fn from_option(n: Option<usize>) -> Threads {
        match n {
            None => Threads::Auto,
            Some(0) | Some(1) => Threads::Current,
            Some(n) => Threads::Fixed(n),
        }
    }

    /// The number of threads this setting resolves to.
    pub fn count(self) -> usize {
        match self {
            Threads::Current => 1,
            Threads::Fixed(n) => n.max(1),
            Threads::Auto => available_threads(),
        }
    }

    fn pool(self) -> Result<Option<Arc<ThreadPool>>> {
        match self.count() {
            1 => Ok(None),
            n => registry().get(n).map(Some),
        }
    }
}

/// The number of CPUs this process may run on (`std::thread::available_parallelism`, 1 if unknown).
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many pools (of distinct sizes) are kept alive at once.
pub const CACHED_POOLS: usize = 4;

/// Pools by size, most recently used last.
#[derive(Default)]
struct Registry {
    pools: Mutex<Vec<(usize, Arc<ThreadPool>)>>,
}

impl Registry {
    fn get(&self, n: usize) -> Result<Arc<ThreadPool>> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = pools.iter().position(|(size, _)| *size == n) {
            let entry = pools.remove(i);
            let pool = entry.1.clone();
            pools.push(entry);
            return Ok(pool);
        }
        let pool = ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("staticemb-{i}"))
            .build()
            .map_err(|e| Error::ThreadPool {
                threads: n,
                reason: e.to_string(),
            })?;
        let pool = Arc::new(pool);
        if pools.len() >= CACHED_POOLS {
            // Dropping the registry's handle lets the pool's threads exit once no caller holds it.
            pools.remove(0);
        }
        pools.push((n, pool.clone()));
        Ok(pool)
    }

    fn len(&self) -> usize {
        self.pools.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// How many thread pools are cached now (at most [`CACHED_POOLS`]).
pub fn cached_pools() -> usize {
    registry().len()
}

static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(std::ptr::null_mut());

fn registry() -> &'static Registry {
    install_fork_handler();
    let current = REGISTRY.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: a non-null pointer in REGISTRY always comes from `Box::into_raw` below and is never freed
        // (registries are leaked on fork, never dropped), so it is valid for 'static.
        return unsafe { &*current };
    }
    let fresh = Box::into_raw(Box::<Registry>::default());
    match REGISTRY.compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        // SAFETY: we just published `fresh`, a valid leaked box.
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            // SAFETY: `fresh` came from `Box::into_raw` just above and was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as for `current` above.
            unsafe { &*existing }
        }
    }
}

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    // The child has a single thread: the workers of every pool are gone. Forget (leak) the old registry —
    // dropping its pools would try to signal threads that do not exist — and let the next call build anew.
    // Its mutex may even have been held by another parent thread at fork time, so it must not be touched.
    REGISTRY.store(std::ptr::null_mut(), Ordering::Release);
}

fn install_fork_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registering a plain `extern "C"` function with no captured state; it only performs an
        // atomic store, which is async-signal-safe as a fork child handler requires.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// Split `out` into chunks of `rows_per_chunk` rows of `row_len` values and run `job(first_row, chunk)` on
/// each, serially or on the pool. The first error is returned.
pub fn for_each_chunk<T, F>(
    threads: Threads,
    out: &mut [T],
    row_len: usize,
    rows_per_chunk: usize,
    job: F,
) -> Result<()>
where
    T: Send,
    F: Fn(usize, &mut [T]) -> Result<()> + Sync + Send,
{
    if out.is_empty() {
        return Ok(());
    }
    let chunk = row_len.max(1) * rows_per_chunk.max(1);
    let rows_per_chunk = rows_per_chunk.max(1);
    match threads.pool()? {
        None => out
            .chunks_mut(chunk)
            .enumerate()
            .try_for_each(|(i, c)| job(i * rows_per_chunk, c)),
        Some(pool) => pool.install(|| {
            out.par_chunks_mut(chunk)
                .enumerate()
                .try_for_each(|(i, c)| job(i * rows_per_chunk, c))
        }),
    }
}

/// Run `job(start..end)` over consecutive ranges of `0..n` (`per_chunk` items each), serially or on the
/// pool, and return the results in order. The first error is returned.
pub fn map_ranges<T, F>(threads: Threads, n: usize, per_chunk: usize, job: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(std::ops::Range<usize>) -> Result<T> + Sync + Send,
{
    let per_chunk = per_chunk.max(1);
    let ranges: Vec<_> = (0..n)
        .step_by(per_chunk)
        .map(|s| s..(s + per_chunk).min(n))
        .collect();
    match threads.pool()? {
        None => ranges.into_iter().map(job).collect(),
        Some(pool) => pool.install(|| ranges.into_par_iter().map(job).collect()),
    }
}
