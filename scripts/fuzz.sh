#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (docs/RELIABILITY.md): the libFuzzer targets in fuzz/
# (Runtime API response reader, response head, /next header decoding) and the Python differential
# fuzzer of the JSON decoder against simplejson 4.3.0 (fuzz/json_differential.py).
#
#   scripts/fuzz.sh [SECONDS_PER_RUST_TARGET (default 15)] [JSON_SECONDS (default 15)]
#
# Toolchain: the stable one (rustup's default), RUSTC_BOOTSTRAP=1 for -Zsanitizer=address, with the
# coverage flags cargo-fuzz passes (no cargo-fuzz install needed). Build cache: $FASTRIC_FUZZ_TARGET
# (default ~/.cache/fastric/fuzz-target, outside the clone). Seed corpora: fuzz/corpus/<target>/ (read
# only; new inputs go to a temporary directory). Exits non-zero on the first crash, leak or timeout;
# the crashing input is left in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
rust_seconds=${1:-15}
json_seconds=${2:-15}
py=${PYTHON:-$PWD/.venv/bin/python}
ref_py=${FASTRIC_REF_PYTHON:-$PWD/.venv-ref/bin/python}
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${FASTRIC_FUZZ_TARGET:-$HOME/.cache/fastric/fuzz-target}
export PYO3_PYTHON=$py
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address -Cdebug-assertions \
-Coverflow-checks"
start=$(date +%s)
(cd fuzz && cargo build --locked --release --target "$host" --bins)
echo "fuzz: built in $(( $(date +%s) - start )) s"
libdir=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
mkdir -p fuzz/artifacts
for target in response_reader response_head next_headers; do
    work=$(mktemp -d)
    LD_LIBRARY_PATH=$libdir ASAN_OPTIONS=detect_leaks=1 \
        LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-suppressions.txt \
        "$CARGO_TARGET_DIR/$host/release/$target" "$work" "fuzz/corpus/$target" \
        -max_total_time="$rust_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 2> "$work.log" || {
        tail -40 "$work.log"
        echo "fuzz: $target FAILED (input in fuzz/artifacts/)"
        exit 1
    }
    echo "fuzz: $target ran $rust_seconds s: $(grep -E '^stat::number_of_executed_units' "$work.log" | awk '{print $2}') runs," \
        "$(grep -oE 'cov: [0-9]+' "$work.log" | tail -1), corpus $(ls "$work" | wc -l) new inputs, no crash"
    rm -rf "$work" "$work.log"
done
"$py" fuzz/json_differential.py --seconds "$json_seconds" --ref-python "$ref_py"
