//! fastric's native core: the Lambda Runtime API client, the invoke loop, the JSON codec that
//! reproduces awslambdaric's bytes, and the built-in Runtime Interface Emulator.
//!
//! Python imports this as `fastric._fastric`; only modules inside the `fastric` package use it.

use pyo3::prelude::*;

mod rie;

/// The native module `fastric._fastric`.
#[pymodule]
mod _fastric {
    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    #[pymodule_export]
    use crate::rie::rie_main;
}
