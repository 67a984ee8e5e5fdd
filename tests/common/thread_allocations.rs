//! A global allocator that counts, per thread, the allocations made (`alloc`, `alloc_zeroed`
//! and `realloc` calls), for the tests that check what a code path allocates. A test binary
//! installs it with
//! `#[global_allocator] static GLOBAL: CountingAllocator = CountingAllocator;`
//! (included with `#[path = "common/thread_allocations.rs"] mod thread_allocations;`, as the
//! rest of `common` brings dependencies these tests do not need).
//!
//! The counter is per thread: the test harness runs each test on a thread of its own, and a
//! client on another thread is not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator may run while this thread's locals are being torn down
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// The allocations this thread has made so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}
