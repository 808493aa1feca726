use pyo3::prelude::*;
pub(crate) fn encode(obj: &Bound<'_, PyAny>, ensure_ascii: bool, out: &mut Vec<u8>) -> PyResult<()> {
    let json = obj.py().import("json")?;
    let kw = pyo3::types::PyDict::new(obj.py());
    kw.set_item("ensure_ascii", ensure_ascii)?;
    kw.set_item("separators", (", ", ": "))?;
    let s: String = json.call_method("dumps", (obj,), Some(&kw))?.extract()?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}
