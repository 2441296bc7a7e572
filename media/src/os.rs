//! The calls into the operating system that the media clock needs: prompt
//! wake-ups for its threads and no transparent huge pages for the process.
//!
//! This is the crate's one exception to the workspace's `unsafe_code = "deny"`:
//! each call is a plain `libc` function that takes integers or a value on the
//! stack, with its `// SAFETY:` reason beside it. Nothing else in the media
//! plane needs `unsafe`.

#![allow(unsafe_code)]

/// Asks for prompt wake-ups for the calling thread (see the module docs);
/// returns what was granted.
pub(crate) fn raise_priority() -> &'static str {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes a plain integer and only changes
    // the calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong);
    }
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: `pthread_self` is always valid for the calling thread and
    // `param` is a valid, initialised sched_param that outlives the call.
    if unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_RR, &param) } == 0 {
        return "real-time round-robin 10";
    }
    // SAFETY: setpriority with PRIO_PROCESS and 0 changes the nice value of the
    // calling thread only (Linux threads are tasks); no memory is passed.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) } == 0 {
        return "nice -10";
    }
    "normal"
}

/// Asks the kernel not to give this process transparent huge pages; returns
/// whether it agreed.
///
/// The allocator (mimalloc) advises huge pages for its arenas, and the
/// kernel's `khugepaged` then merges the process's pages in the background.
/// On a kernel built without preemption (`Dynamic Preempt: none` at boot, as
/// on many cloud images) it does so for milliseconds at a time without
/// letting a waiting real-time thread onto its core: `perf sched timehist`
/// showed a clock thread kept off its core for 5.7 ms while `khugepaged` ran
/// there. With the flag the kernel leaves the process's memory alone.
pub(crate) fn disable_huge_pages() -> bool {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) takes plain integers and
    // only sets a flag on the calling process's memory map.
    unsafe {
        libc::prctl(
            libc::PR_SET_THP_DISABLE,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) == 0
    }
}
