//! A cache of freed `pymalloc` arenas, so a large event does not cost page faults every time.
//!
//! `CPython`'s small-object allocator takes memory from the OS in arenas (1 MiB on 64-bit
//! `CPython` 3.10+) and gives an arena back with `munmap` as soon as its last object is freed. A
//! handler that receives a 1 MB event builds several MB of `dict`/`str`/`int` objects; freeing them
//! after the response unmaps those arenas, and the next invocation maps them again and takes a page
//! fault (plus the kernel zeroing the page) on every 4 KiB of first touch. Measured on a 1 MB
//! DynamoDB-shaped echo: about a fifth of the round trip went to that churn.
//!
//! [`install`] puts an arena allocator in front of the current one (`PyObject_SetArenaAllocator`,
//! documented in the C API "Memory Management" page): freed arenas are kept, up to a byte limit,
//! and handed out again before new ones are mapped; beyond the limit, and for arenas of another
//! size, the previous allocator does the work as before. Kept arenas are marked `MADV_FREE`, so under
//! memory pressure the kernel may still reclaim their pages (a reclaimed page simply reads as zeros
//! on the next touch, which `pymalloc` does not care about: it initialises every pool it carves).
//! Installed only by the invoke loop, never on import, so a program that merely imports `fastric`
//! keeps its allocator.

// Raw FFI is the point of this module: the arena allocator is a C struct of function pointers.
// Each block carries a SAFETY comment.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

use pyo3::ffi;

/// Kept arenas, newest last, and the allocator that was installed before ours.
struct Cache {
    previous: ffi::PyObjectArenaAllocator,
    limit_bytes: usize,
    kept_bytes: usize,
    /// (address, size in bytes) of each kept arena.
    kept: Vec<(usize, usize)>,
}

// SAFETY: the raw `ctx` pointer inside `previous` is only passed back to the previous allocator's
// own functions, which `CPython` calls from any thread holding the GIL; the cache never dereferences it.
unsafe impl Send for Cache {}

static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();

/// Default limit when `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is not set (bytes).
const DEFAULT_LIMIT_BYTES: usize = 32 << 20;

/// The byte limit for kept arenas: `FASTRIC_ARENA_CACHE_MB` (MiB; 0 turns the cache off) when set to
/// a number, else an eighth of the function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB) between
/// 4 MiB and 128 MiB, else 32 MiB.
pub(crate) fn limit_from_env() -> usize {
    if let Some(mb) = std::env::var("FASTRIC_ARENA_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return mb.saturating_mul(1 << 20);
    }
    limit_for_memory_size(std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok().as_deref())
}

/// An eighth of `memory_size_mb` (MB) between 4 MiB and 128 MiB, in bytes; 32 MiB when absent or
/// not a number.
fn limit_for_memory_size(memory_size_mb: Option<&str>) -> usize {
    match memory_size_mb.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(mb) => (mb.saturating_mul(1 << 20) / 8).clamp(4 << 20, 128 << 20),
        None => DEFAULT_LIMIT_BYTES,
    }
}

/// Installs the caching arena allocator once per process (later calls do nothing). Must be called
/// with the GIL held. `limit_bytes` bounds the memory kept in freed arenas; 0 disables the cache.
pub(crate) fn install(limit_bytes: usize) {
    if limit_bytes == 0 {
        return;
    }
    let mut fresh = false;
    CACHE.get_or_init(|| {
        fresh = true;
        let mut previous = ffi::PyObjectArenaAllocator {
            ctx: std::ptr::null_mut(),
            alloc: None,
            free: None,
        };
        // SAFETY: `PyObject_GetArenaAllocator` fills the struct we pass (a valid, writable pointer).
        unsafe { ffi::PyObject_GetArenaAllocator(&raw mut previous) };
        Mutex::new(Cache {
            previous,
            limit_bytes,
            kept_bytes: 0,
            kept: Vec::with_capacity(64),
        })
    });
    if !fresh {
        return;
    }
    let mut ours = ffi::PyObjectArenaAllocator {
        ctx: std::ptr::null_mut(),
        alloc: Some(arena_alloc),
        free: Some(arena_free),
    };
    // SAFETY: the struct is valid for the call (CPython copies it). Our functions only use the
    // cache set up above; arenas allocated before this call are freed through `arena_free`, which
    // keeps them or passes them to the previous allocator that made them.
    unsafe { ffi::PyObject_SetArenaAllocator(&raw mut ours) };
}

fn lock() -> Option<std::sync::MutexGuard<'static, Cache>> {
    let cache = CACHE.get()?;
    Some(cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

extern "C" fn arena_alloc(_ctx: *mut c_void, size: usize) -> *mut c_void {
    let Some(mut cache) = lock() else {
        return std::ptr::null_mut();
    };
    if let Some(index) = cache.kept.iter().rposition(|&(_, kept_size)| kept_size == size) {
        let (address, _) = cache.kept.swap_remove(index);
        cache.kept_bytes -= size;
        return address as *mut c_void;
    }
    match cache.previous.alloc {
        // The previous allocator's own function with its own context, as CPython would call it.
        Some(alloc) => alloc(cache.previous.ctx, size),
        None => std::ptr::null_mut(),
    }
}

extern "C" fn arena_free(_ctx: *mut c_void, ptr: *mut c_void, size: usize) {
    let Some(mut cache) = lock() else {
        return;
    };
    let Some(address) = NonNull::new(ptr) else {
        return;
    };
    if cache.kept_bytes + size <= cache.limit_bytes {
        #[cfg(target_os = "linux")]
        // SAFETY: `ptr..ptr+size` is an arena pymalloc just released: a page-aligned anonymous
        // mapping of `size` bytes that nothing references any more. MADV_FREE only lets the kernel
        // drop its pages lazily; the mapping stays valid. A failure (e.g. an old kernel) is harmless.
        let _ = unsafe { nix::sys::mman::madvise(address, size, nix::sys::mman::MmapAdvise::MADV_FREE) };
        cache.kept.push((ptr as usize, size));
        cache.kept_bytes += size;
        return;
    }
    if let Some(free) = cache.previous.free {
        // Hands the arena back to the allocator that made it (see `install`).
        free(cache.previous.ctx, ptr, size);
    }
}

#[cfg(test)]
mod tests {
    use super::limit_for_memory_size;

    #[test]
    fn limit_follows_function_memory() {
        assert_eq!(limit_for_memory_size(None), 32 << 20);
        assert_eq!(limit_for_memory_size(Some("junk")), 32 << 20);
        assert_eq!(limit_for_memory_size(Some("128")), 16 << 20);
        assert_eq!(limit_for_memory_size(Some("1024")), 128 << 20);
        assert_eq!(limit_for_memory_size(Some("10240")), 128 << 20);
        assert_eq!(limit_for_memory_size(Some("16")), 4 << 20);
    }
}
