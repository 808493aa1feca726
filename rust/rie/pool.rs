//! `--max-environments N`: up to N execution environments (each an [`Emulator`]: one runtime, its
//! own Runtime API address, its own output pipes), started on demand. As the service gives each
//! concurrent invocation an environment of its own, an invocation goes to an idle environment (a
//! warm one first, else one that starts cold); beyond N they wait in FIFO order (a fair
//! semaphore). N = 1 is one environment, invocations one at a time.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::sandbox::Emulator;

/// The execution environments behind the invoke endpoint.
pub(crate) struct Pool {
    pub(crate) envs: Vec<Arc<Emulator>>,
    permits: Arc<Semaphore>,
    busy: Mutex<Vec<bool>>,
}

/// One environment reserved for one invocation, until dropped (after its `REPORT`, and after a
/// failed runtime is stopped).
pub(crate) struct Lease {
    pool: Arc<Pool>,
    index: usize,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    pub(crate) fn env(&self) -> Arc<Emulator> {
        self.pool.envs[self.index].clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The environment is idle again before the permit (a field, dropped after this) lets the next
        // invocation choose.
        self.pool.busy.lock().unwrap_or_else(PoisonError::into_inner)[self.index] = false;
    }
}

impl Pool {
    /// A pool over `envs` (at least one).
    pub(crate) fn new(envs: Vec<Arc<Emulator>>) -> Arc<Self> {
        let n = envs.len();
        Arc::new(Self {
            envs,
            permits: Arc::new(Semaphore::new(n)),
            busy: Mutex::new(vec![false; n]),
        })
    }

    /// Waits (FIFO) for an idle environment and reserves it: one whose runtime is running if any,
    /// else the first idle one (its runtime starts with the invocation: a cold start).
    pub(crate) async fn acquire(self: &Arc<Self>) -> Lease {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = || (0..self.envs.len()).filter(|i| !busy[*i]);
        let index = idle()
            .find(|i| self.envs[*i].has_runtime())
            .or_else(|| idle().next())
            .expect("a permit means an idle environment");
        busy[index] = true;
        drop(busy);
        Lease {
            pool: self.clone(),
            index,
            _permit: permit,
        }
    }
}
