//! Per-thread reuse of the large temporary buffers of key switching. Fresh
//! multi-megabyte allocations are returned to the kernel on free and page-faulted
//! back (zeroed) on the next operation; keeping them in a small per-thread pool
//! removes that cost (ENGINE-NOTES: "allocation in an inner loop shows up directly
//! in the ratios"). Buffers only ever hold public, ciphertext-derived data.

use std::cell::RefCell;

/// Most buffers kept per thread.
const MAX_POOLED: usize = 48;

thread_local! {
    static POOL: RefCell<Vec<Vec<u64>>> = const { RefCell::new(Vec::new()) };
}

/// An empty vector with capacity at least `cap`, reused when possible.
pub(crate) fn take(cap: usize) -> Vec<u64> {
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return Vec::with_capacity(cap);
        };
        match pool.iter().position(|v| v.capacity() >= cap) {
            Some(i) => {
                let mut v = pool.swap_remove(i);
                v.clear();
                v
            }
            None => Vec::with_capacity(cap),
        }
    })
}

/// A vector of `len` zeros, reused when possible.
pub(crate) fn zeroed(len: usize) -> Vec<u64> {
    let mut v = take(len);
    v.resize(len, 0);
    v
}

/// Hands a buffer back to this thread's pool.
pub(crate) fn give(v: Vec<u64>) {
    POOL.with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut()
            && pool.len() < MAX_POOLED
        {
            pool.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_cleared() {
        let mut v = zeroed(1000);
        v.iter_mut().for_each(|x| *x = 7);
        let ptr = v.as_ptr();
        give(v);
        let w = take(500);
        assert!(w.is_empty() && w.capacity() >= 1000);
        assert_eq!(w.as_ptr(), ptr);
        let z = zeroed(10);
        assert!(z.iter().all(|&x| x == 0));
    }
}
