//! After `fork()`, a child that pools on a thread count the parent already used must not wait forever on the
//! parent's (absent) workers. Kept in its own test binary so that no other test runs while we fork.

#![cfg(unix)]

use std::time::{Duration, Instant};

use staticemb_core::{pool_bags, Kernel, PoolOptions, Table, Threads};

fn pool(threads: Threads) -> Vec<f32> {
    let data: Vec<f32> = (0..64 * 16).map(|i| (i % 13) as f32).collect();
    let table = Table::new(&data, 64, 16).unwrap();
    let ids: Vec<u32> = (0..20_000).map(|i| (i * 7 % 64) as u32).collect();
    let offsets: Vec<u32> = (0..2_000).map(|i| i * 10).collect();
    let opts = PoolOptions {
        dim: 16,
        normalize: true,
        threads,
        kernel: Kernel::detect(),
    };
    let mut out = vec![0.0; offsets.len() * 16];
    pool_bags(&table, &ids, &offsets, None, &opts, &mut out).unwrap();
    out
}

#[test]
fn pools_work_in_a_forked_child() {
    let want = pool(Threads::Fixed(2)); // the parent now holds a 2-worker pool
                                        // SAFETY: `fork` has no preconditions; the child only runs Rust code that allocates (glibc's malloc is
                                        // fork-safe) and leaves through `_exit`, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(|| {
            pool(Threads::Fixed(2)) == want && pool(Threads::Fixed(3)) == want
        })
        .unwrap_or(false);
        // SAFETY: ends the child immediately, without running the parent's atexit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        assert_eq!(r, 0, "waitpid failed");
        if Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung while pooling on a thread pool");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed, status {status}"
    );
    assert_eq!(
        pool(Threads::Fixed(2)),
        want,
        "the parent's pool still works"
    );
}
