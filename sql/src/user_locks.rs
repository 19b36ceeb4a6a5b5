//! Named user locks: GET_LOCK, RELEASE_LOCK, IS_FREE_LOCK, IS_USED_LOCK,
//! RELEASE_ALL_LOCKS. They are held by a session (its connection id),
//! re-entrant (a session may take a lock it holds again and must release
//! it as often), and released when the session ends. Names compare
//! exactly ('m' and 'M' are two locks), as in MariaDB 10.11.
//!
//! They are local to the node, as in Galera: a lock taken on one node does
//! not exclude a session on another (they are not replicated). Rails and
//! Alembic use them to keep two migrations on the same server apart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

#[derive(Default)]
pub struct UserLocks {
    /// Lock name -> (holder's connection id, how many times it took the
    /// lock).
    held: Mutex<HashMap<String, (u32, u32)>>,
    released: Condvar,
}

impl UserLocks {
    /// Takes `name` for `conn`, waiting up to `timeout` (None: no limit)
    /// while another session holds it. True when taken.
    pub fn get(&self, name: &str, conn: u32, timeout: Option<Duration>) -> bool {
        let key = name.to_string();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut held = self.held.lock();
        loop {
            match held.get_mut(&key) {
                None => {
                    held.insert(key, (conn, 1));
                    return true;
                }
                Some((holder, count)) if *holder == conn => {
                    *count += 1;
                    return true;
                }
                Some(_) => match deadline {
                    None => self.released.wait(&mut held),
                    Some(d) => {
                        if Instant::now() >= d || self.released.wait_until(&mut held, d).timed_out()
                        {
                            // One last look: the lock may have been freed
                            // just as the wait ran out.
                            if held.contains_key(&key) {
                                return false;
                            }
                        }
                    }
                },
            }
        }
    }

    /// RELEASE_LOCK: Some(true) released once, Some(false) held by another
    /// session, None when nobody holds it.
    pub fn release(&self, name: &str, conn: u32) -> Option<bool> {
        let mut held = self.held.lock();
        let (holder, count) = held.get_mut(name)?;
        if *holder != conn {
            return Some(false);
        }
        *count -= 1;
        if *count == 0 {
            held.remove(name);
            self.released.notify_all();
        }
        Some(true)
    }

    /// RELEASE_ALL_LOCKS, and the end of a session: frees every lock
    /// `conn` holds; the number of times they had been taken.
    pub fn release_all(&self, conn: u32) -> u64 {
        let mut held = self.held.lock();
        let mut n = 0u64;
        held.retain(|_, (holder, count)| {
            if *holder == conn {
                n += u64::from(*count);
                false
            } else {
                true
            }
        });
        if n > 0 {
            self.released.notify_all();
        }
        n
    }

    /// IS_USED_LOCK: the holder's connection id.
    pub fn holder(&self, name: &str) -> Option<u32> {
        self.held.lock().get(name).map(|(h, _)| *h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_is_reentrant_for_its_holder_and_excludes_others() {
        let l = UserLocks::default();
        assert!(l.get("m", 1, Some(Duration::ZERO)));
        assert!(l.get("m", 1, Some(Duration::ZERO)), "re-entrant");
        assert!(l.get("M", 2, Some(Duration::ZERO)), "another name");
        assert!(!l.get("m", 2, Some(Duration::from_millis(20))));
        assert_eq!(l.holder("m"), Some(1));
        assert_eq!(l.release("m", 2), Some(false));
        assert_eq!(l.release("m", 1), Some(true));
        assert_eq!(l.holder("m"), Some(1), "taken twice, released once");
        assert_eq!(l.release("m", 1), Some(true));
        assert_eq!(l.release("m", 1), None);
        assert!(l.get("m", 2, Some(Duration::ZERO)));
    }

    #[test]
    fn release_all_counts_and_wakes_a_waiter() {
        let l = Arc::new(UserLocks::default());
        assert!(l.get("a", 1, None));
        assert!(l.get("a", 1, None));
        assert!(l.get("b", 1, None));
        let waiter = {
            let l = Arc::clone(&l);
            std::thread::spawn(move || l.get("a", 2, Some(Duration::from_secs(60))))
        };
        assert_eq!(l.release_all(1), 3);
        assert!(waiter.join().expect("waiter"));
        assert_eq!(l.holder("a"), Some(2));
        assert_eq!(l.holder("b"), None);
    }
}
