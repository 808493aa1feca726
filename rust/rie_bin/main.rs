//! The native `fastric-rie` executable: the emulator of `../rie/` without an interpreter.
//!
//! It starts no Python and links no libpython (nothing here depends on pyo3), so it listens within
//! a few milliseconds of its spawn. The wheel installs it as a script next to the environment's
//! interpreter; `python -m fastric.rie` runs it too.

#[allow(dead_code)] // the extension module uses the rest of it
#[path = "../b64.rs"]
mod b64;
#[path = "../rie/mod.rs"]
mod rie;

use std::path::{Path, PathBuf};

/// The interpreter for the `python -m fastric HANDLER` fallback: the one of the environment this
/// executable is installed in (`python3`, else `python`, in the executable's own directory, as
/// pip puts scripts beside the interpreter), else `python3` from `PATH`.
fn python_next_to(exe: Option<&Path>) -> String {
    let is_executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    exe.and_then(Path::parent)
        .into_iter()
        .flat_map(|dir| ["python3", "python"].map(|name| dir.join(name)))
        .find(|candidate| is_executable(candidate))
        .map_or_else(|| "python3".to_owned(), |p: PathBuf| p.to_string_lossy().into_owned())
}

fn main() {
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let exe = std::env::current_exe().ok();
    std::process::exit(rie::run(&argv, &python_next_to(exe.as_deref())));
}
