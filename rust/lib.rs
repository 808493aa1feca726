//! fastric's native core: the Lambda Runtime API client, the invoke loop, the JSON codec that
//! reproduces awslambdaric's bytes, and the built-in Runtime Interface Emulator.
//!
//! Python imports this as `fastric._fastric`; only modules inside the `fastric` package use it.

use pyo3::prelude::*;

mod diagnostics;
mod errors;
mod event_loop;
mod headers;
mod http;
mod json_decode;
mod json_encode;
mod py_client;
mod rie;
mod runtime_api;

/// The native module `fastric._fastric`.
#[pymodule]
mod _fastric {
    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    #[pymodule_export]
    use crate::errors::{FastricError, RuntimeApiError};
    #[pymodule_export]
    use crate::event_loop::run_invoke_loop;
    #[pymodule_export]
    use crate::py_client::{set_diagnostic_fd, PyInvocation, PyRuntimeApiClient};
    #[pymodule_export]
    use crate::rie::rie_main;
}
