//! Catching a panic without its message on stderr.
//!
//! Some code paths run third-party parsers on a model's own files (a `Precompiled` charsmap, a tokenizer
//! definition) that may panic on malformed input. Those panics are caught and returned as errors, which name
//! the problem; Rust's default hook would still print "thread panicked at ..." to stderr first, a second,
//! confusing report of the same error. [`catch_quietly`] silences the hook for the panics it catches, on its
//! own thread only: every other panic, here or in the host program, is reported by the hook that was in place.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::thread::LocalKey;

thread_local! {
    /// How many [`catch_quietly`] calls are running on this thread.
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Install, once per process, a hook that stays silent inside [`catch_quietly`] and hands every other panic to
/// the hook that was in place before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// Restores the thread's depth when the call ends, even by an unwind the catch did not stop.
struct Depth(&'static LocalKey<Cell<usize>>);

impl Drop for Depth {
    fn drop(&mut self) {
        self.0.with(|d| d.set(d.get() - 1));
    }
}

/// `f()`, with a panic caught and returned as its payload's message, and not printed.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install_hook();
    QUIET.with(|d| d.set(d.get() + 1));
    let _depth = Depth(&QUIET);
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_or_the_panic_message_and_restores_the_depth() {
        assert_eq!(catch_quietly(|| 7), Ok(7));
        assert_eq!(
            catch_quietly(|| -> u8 { panic!("bad charsmap {}", 3) }),
            Err("bad charsmap 3".into())
        );
        let nested = catch_quietly(|| {
            assert_eq!(QUIET.with(Cell::get), 1);
            catch_quietly(|| -> u8 { panic!("inner") })
        });
        assert_eq!(nested, Ok(Err("inner".into())));
        assert_eq!(QUIET.with(Cell::get), 0);
    }
}
