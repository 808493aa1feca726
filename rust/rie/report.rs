//! The emulator's log lines (`START`, `END`, `REPORT` as Lambda prints them), its own
//! `[fastric-rie]` diagnostics, ids and clock helpers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cli::LogLevel;

static LOG_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static RNG: AtomicU64 = AtomicU64::new(0);

/// Sets the level below which [`diag`] prints nothing.
pub(crate) fn set_log_level(level: LogLevel) {
    LOG_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether [`diag`] prints at `level` (to skip formatting a message nobody will see).
pub(crate) fn enabled(level: LogLevel) -> bool {
    level as u8 <= LOG_LEVEL.load(Ordering::Relaxed)
}

/// Prints one `[fastric-rie] <level>: <message>` line on stderr when `level` is enabled.
pub(crate) fn diag(level: LogLevel, message: &str) {
    if enabled(level) {
        let name = match level {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        };
        let _ = writeln!(std::io::stderr().lock(), "[fastric-rie] {name}: {message}");
    }
}

/// Writes `text` (whole lines) to stdout in one call, then flushes.
pub(crate) fn stdout_lines(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Prints `START RequestId: <id> Version: <version>` and returns the line.
pub(crate) fn start_line(request_id: &str, version: &str) -> String {
    let line = format!("START RequestId: {request_id} Version: {version}\n");
    stdout_lines(&line);
    line
}

/// What ended an invocation, for the `Status:` field Lambda adds to `REPORT` on failures.
pub(crate) enum ReportStatus<'a> {
    Success,
    Timeout,
    Error(&'a str),
}

/// Figures of one `REPORT` line. Durations in ms; memory in MB.
pub(crate) struct ReportFigures<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) duration: Duration,
    pub(crate) init_duration: Option<Duration>,
    pub(crate) memory_size_mb: u64,
    pub(crate) max_memory_used_mb: u64,
    pub(crate) status: ReportStatus<'a>,
}

/// `END RequestId: <id>` and the tab-separated `REPORT` line.
///
/// Billed Duration is the duration plus the Init Duration (billed for custom runtimes), rounded
/// up to whole ms, as the service bills since 2020-12 (1 ms granularity).
pub(crate) fn end_and_report_lines(f: &ReportFigures<'_>) -> String {
    let duration_ms = f.duration.as_secs_f64() * 1000.0;
    let init_ms = f.init_duration.map(|d| d.as_secs_f64() * 1000.0);
    let billed = (duration_ms + init_ms.unwrap_or(0.0)).ceil().max(1.0) as u64;
    let mut text = format!(
        "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: {mem} MB\tMax Memory Used: {used} MB",
        id = f.request_id,
        mem = f.memory_size_mb,
        used = f.max_memory_used_mb,
    );
    if let Some(init_ms) = init_ms {
        let _ = write!(text, "\tInit Duration: {init_ms:.2} ms");
    }
    match f.status {
        ReportStatus::Success => {}
        ReportStatus::Timeout => text.push_str("\tStatus: timeout"),
        ReportStatus::Error(error_type) => {
            let _ = write!(text, "\tStatus: error\tError Type: {error_type}");
        }
    }
    text.push('\n');
    text
}

/// `n` pseudo-random bytes: `SplitMix64` seeded once from `/dev/urandom` (and the clock).
/// Good enough for request ids of a local emulator; not for secrets.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    if RNG.load(Ordering::Relaxed) == 0 {
        let mut seed = [0u8; 8];
        if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
            let _ = std::io::Read::read_exact(&mut file, &mut seed);
        }
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let _ = RNG.compare_exchange(
            0,
            u64::from_le_bytes(seed) ^ clock | 1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let mut z = RNG
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// A random (version 4, RFC 9562 variant) UUID in its 36-character text form.
pub(crate) fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// An X-Ray trace header as Lambda generates one when the caller sent none:
/// `Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub(crate) fn new_trace_id() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut s = format!("Root=1-{:08x}-", secs as u32);
    for byte in random_bytes::<12>() {
        let _ = write!(s, "{byte:02x}");
    }
    s.push_str(";Parent=");
    for byte in random_bytes::<8>() {
        let _ = write!(s, "{byte:02x}");
    }
    s.push_str(";Sampled=0");
    s
}

/// Milliseconds since the Unix epoch.
pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Today's UTC date as `YYYY/MM/DD` (the prefix of Lambda log stream names).
pub(crate) fn utc_date_slashes() -> String {
    let ms = epoch_ms() as i64;
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}/{m:02}/{d:02}")
}

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the timestamp Lambda puts on platform lines.
pub(crate) fn utc_timestamp() -> String {
    let ms = epoch_ms() as i64;
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uuid_v4(), id);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn report_line() {
        let text = end_and_report_lines(&ReportFigures {
            request_id: "id",
            duration: Duration::from_micros(1500),
            init_duration: Some(Duration::from_micros(80_250)),
            memory_size_mb: 3008,
            max_memory_used_mb: 20,
            status: ReportStatus::Success,
        });
        assert_eq!(
            text,
            "END RequestId: id\nREPORT RequestId: id\tDuration: 1.50 ms\tBilled Duration: 82 ms\t\
             Memory Size: 3008 MB\tMax Memory Used: 20 MB\tInit Duration: 80.25 ms\n"
        );
    }
}
