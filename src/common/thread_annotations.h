// Clang's thread-safety analysis (-Wthread-safety), written into the types: which mutex guards a
// field, which lock a function needs, takes or gives back. The compiler then checks every access at
// build time (`make thread-safety` builds the engine with clang-14 and the warning as an error).
//
// Under GCC, which has no such analysis, every macro expands to nothing: the release build is
// unchanged. The names are the usual ones (clang's documentation, leveldb, abseil):
//
//   CAPABILITY(name)           on a class: it is a lock (common/mutex.h's Mutex)
//   SCOPED_CAPABILITY          on a class: an RAII holder of a lock (MutexLock)
//   GUARDED_BY(mu)             on a field: read and written only with `mu` held
//   PT_GUARDED_BY(mu)          on a pointer field: what it points to is guarded by `mu`
//   ACQUIRED_BEFORE/AFTER(mu)  on a lock: the order locks are taken in
//   REQUIRES(mu)               on a function: the caller holds `mu` (exclusively)
//   REQUIRES_SHARED(mu)        ... holds `mu`, at least shared
//   EXCLUDES(mu)               the caller does not hold `mu` (the function takes it)
//   ACQUIRE(mu) / RELEASE(mu)  the function takes / gives back `mu` (no argument: `this`)
//   TRY_ACQUIRE(ok, mu)        takes `mu` when it returns `ok`
//   ASSERT_CAPABILITY(mu)      after the call, `mu` is known to be held (a check, not a lock)
//   RETURN_CAPABILITY(mu)      the function returns (a reference to) `mu`
//   NO_THREAD_SAFETY_ANALYSIS  the function is not checked: say why beside each use
#pragma once

#if defined(__clang__)
#define LH_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LH_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(name) LH_THREAD_ANNOTATION(capability(name))
#define SCOPED_CAPABILITY LH_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(mu) LH_THREAD_ANNOTATION(guarded_by(mu))
#define PT_GUARDED_BY(mu) LH_THREAD_ANNOTATION(pt_guarded_by(mu))
#define ACQUIRED_BEFORE(...) LH_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) LH_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) LH_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) LH_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) LH_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) LH_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) LH_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) LH_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(mu) LH_THREAD_ANNOTATION(assert_capability(mu))
#define RETURN_CAPABILITY(mu) LH_THREAD_ANNOTATION(lock_returned(mu))
#define NO_THREAD_SAFETY_ANALYSIS LH_THREAD_ANNOTATION(no_thread_safety_analysis)
