//! Builds the handler's `context` (a `fastric.lambda_context.LambdaContext`) for the common
//! invocation — no client-context and no Cognito header — without running its Python `__init__`.
//!
//! `LambdaContext.__init__` reads five variables through `os.environ.get` (as awslambdaric does);
//! those five lookups are most of its ~1.4 µs. Here the same values come from `os.environ._data`
//! (the bytes mapping behind `os.environ`) and `os.environ.decodevalue`, which is exactly what
//! `os.environ.get` does, with the decoded `str` reused while the underlying bytes object is the
//! same one. The instance gets the attributes `__init__` would set, in the same order.
//!
//! The fast path steps aside (the caller then calls the class as before) whenever it could differ:
//! the context class is not fastric's `LambdaContext`, its `__init__` was replaced, `os.environ`
//! was replaced or is not an `os._Environ`, or its `decodevalue` was replaced.
//! `tests/test_context_fast_path.py` and `tests/test_adversarial_environ.py` compare both ways.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};

use crate::environ::Environ;

/// The variables `LambdaContext.__init__` reads, in the order of its attributes.
const ENV_ATTRIBUTES: [(&str, &str); 5] = [
    ("log_group_name", "AWS_LAMBDA_LOG_GROUP_NAME"),
    ("log_stream_name", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ("function_name", "AWS_LAMBDA_FUNCTION_NAME"),
    ("memory_limit_in_mb", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
    ("function_version", "AWS_LAMBDA_FUNCTION_VERSION"),
];

/// One environment variable: its encoded key and the last (bytes, str) pair seen.
struct EnvSlot<'py> {
    attribute: Bound<'py, PyString>,
    key: Bound<'py, PyAny>,
    last: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
}

/// Builds `LambdaContext` instances for invocations without client-context or Cognito headers.
pub(crate) struct ContextBuilder<'py> {
    class: Bound<'py, PyType>,
    original_init: Bound<'py, PyAny>,
    identity_class: Bound<'py, PyType>,
    object_new: Bound<'py, PyAny>,
    env: Vec<EnvSlot<'py>>,
}

impl<'py> ContextBuilder<'py> {
    /// A builder for `context_class`, or `None` when the fast path does not apply (the class is
    /// not `fastric.lambda_context.LambdaContext`, or there is no direct `os.environ` access).
    pub(crate) fn new(
        py: Python<'py>,
        context_class: &Bound<'py, PyAny>,
        environ: Option<&Environ<'py>>,
    ) -> PyResult<Option<Self>> {
        let module = py.import("fastric.lambda_context")?;
        let class = module.getattr("LambdaContext")?;
        let Some(environ) = environ.filter(|_| class.is(context_class)) else {
            return Ok(None);
        };
        let mut env = Vec::with_capacity(ENV_ATTRIBUTES.len());
        for (attribute, name) in ENV_ATTRIBUTES {
            let key = environ.object().call_method1(intern!(py, "encodekey"), (name,))?;
            env.push(EnvSlot {
                attribute: PyString::intern(py, attribute),
                key,
                last: None,
            });
        }
        Ok(Some(ContextBuilder {
            original_init: class.getattr("__init__")?,
            class: class.cast_into::<PyType>()?,
            identity_class: module.getattr("CognitoIdentity")?.cast_into::<PyType>()?,
            object_new: py.get_type::<pyo3::types::PyAny>().getattr("__new__")?,
            env,
        }))
    }

    /// The context for one invocation, or `Ok(None)` when the fast path must step aside this time
    /// (see the module doc); the caller then calls the class itself. `environ_data` is
    /// `environ.current_data()` of this invocation (`None`: `os.environ` is not usable directly).
    pub(crate) fn build(
        &mut self,
        environ: &Environ<'py>,
        environ_data: Option<&Bound<'py, PyDict>>,
        request_id: &Bound<'py, PyAny>,
        deadline_ms: i64,
        invoked_function_arn: &str,
        tenant_id: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = self.class.py();
        if !self.class.getattr(intern!(py, "__init__"))?.is(&self.original_init) {
            return Ok(None);
        }
        let Some(data) = environ_data else {
            return Ok(None);
        };
        let decodevalue = environ.decodevalue();
        let context = self.object_new.call1((&self.class,))?;
        let attributes = context.getattr(intern!(py, "__dict__"))?.cast_into::<PyDict>()?;
        attributes.set_item(intern!(py, "aws_request_id"), request_id)?;
        for slot in &mut self.env {
            let value = match data.get_item(&slot.key)? {
                None => py.None().into_bound(py),
                Some(raw) => match &slot.last {
                    Some((last_raw, text)) if last_raw.is(&raw) => text.clone(),
                    _ => {
                        let text = decodevalue.call1((&raw,))?;
                        slot.last = Some((raw, text.clone()));
                        text
                    }
                },
            };
            attributes.set_item(&slot.attribute, value)?;
        }
        attributes.set_item(intern!(py, "invoked_function_arn"), invoked_function_arn)?;
        attributes.set_item(intern!(py, "tenant_id"), tenant_id)?;
        attributes.set_item(intern!(py, "_w3c_fields"), PyDict::new(py))?;
        attributes.set_item(intern!(py, "client_context"), py.None())?;
        let identity = self.object_new.call1((&self.identity_class,))?;
        identity.setattr(intern!(py, "cognito_identity_id"), py.None())?;
        identity.setattr(intern!(py, "cognito_identity_pool_id"), py.None())?;
        attributes.set_item(intern!(py, "identity"), identity)?;
        attributes.set_item(intern!(py, "_epoch_deadline_time_in_ms"), deadline_ms)?;
        Ok(Some(context))
    }
}
