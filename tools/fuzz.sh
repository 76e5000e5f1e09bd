#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz: clang, ASan + UBSan, build-fuzz/) and runs each for a bounded time.
#   tools/fuzz.sh                      # every target, 60 s each
#   tools/fuzz.sh --time 300 fuzz_data_h5   # one target, longer
#   FUZZ_TIME=45 tools/fuzz.sh         # CI (.ci/run)
# Exit 1 on a finding: a crash, an ASan/UBSan report, a leak, a timeout (a hang), an out-of-memory, or an
# exception other than msrom's own (tests/fuzz/fuzz_common.hpp). The reproducer is kept in
# build-fuzz/artifacts/<target>/; rerun it with `build-fuzz/tests/fuzz/<target> <file>`.
#
# Known HDF5-internal crashes and hangs on malformed files (docs/hardening.md) are not msrom's: they are listed, their
# inputs kept in build-fuzz/artifacts/<target>/hdf5-known/, and the target resumes for the rest of its time.
# Only the exact signatures in KNOWN_HDF5 below count as known; any other crash fails the run.
#
# Corpora: the committed seeds (tests/fuzz/corpus/<target>, inputs/ for the options) are read-only; what the
# fuzzer learns goes to build-fuzz/corpus/<target>, kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

TIME=${FUZZ_TIME:-60}
targets=()
while (($#)); do
  case "$1" in
    --time) TIME=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_options fuzz_data_h5 fuzz_model_h5 fuzz_h5_struct)

# HDF5 1.10.8 (Debian 12) crashes or hangs inside the library on some corrupt files, while it loads or decodes
# the file's own metadata (msrom passes no buffer into these): reading a variable-length string from a corrupt
# global heap (H5HG_read: an overflowing copy), decoding an object-header message (H5O__msg_iterate_real: an
# overflowing copy), and loading a metadata object through the metadata cache (H5C_protect: a copy into the NULL
# of a failed huge malloc; a loop on a corrupt heap). See docs/hardening.md.
KNOWN_HDF5=(H5HG_read H5O__msg_iterate_real H5C_protect)

EXTRA_PACKAGES="clang libclang-rt-14-dev libyaml-dev" SETUP_BUILD=0 tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j "$(nproc)"
build_seconds=$(( $(date +%s) - start ))

# malloc beyond 2 GB returns NULL, as it would in production (HDF5 then reports a corrupt file: a header of a
# malformed file can ask for 2^63 bytes); operator new of that size is still reported (msrom sized a buffer by an
# unchecked number). libFuzzer's own limits sit above it.
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1:allocator_may_return_null=1:max_allocation_size_mb=2048"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp:print_suppressions=0"
work=$PWD/build-fuzz
export TMPDIR=$work/tmp
mkdir -p "$TMPDIR"

# "known <function>" if the log's report is a KNOWN_HDF5 signature, else "finding": after dropping the sanitizer's,
# libFuzzer's and libc's frames, the innermost frames lie in libhdf5 and one of those (before the first frame
# outside libhdf5, i.e. before msrom called in) is a KNOWN_HDF5 function. Crash and timeout stacks alike.
classify() {
  local log=$1 chain
  chain=$(sed -n '/ERROR: \(AddressSanitizer\|libFuzzer\|UndefinedBehaviorSanitizer\|LeakSanitizer\)/,$p' "$log" |
          grep -E '^ +#[0-9]+ 0x[0-9a-f]+ ' |
          grep -vE ' in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|__mem|__str)|libc\.so|sysdeps/|libstdc\+\+' |
          awk '/libhdf5/ {print; next} {exit}' || true)
  for k in "${KNOWN_HDF5[@]}"; do
    if grep -qE " in $k " <<< "$chain"; then echo "known $k"; return; fi
  done
  echo finding
}

status=0
summary=()
for t in "${targets[@]}"; do
  bin=$work/tests/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz: no target $t"; exit 2; }
  name=${t#fuzz_}
  seeds=(tests/fuzz/corpus/$name)
  args=()
  case $t in
    fuzz_options) seeds+=(inputs); args+=(-max_len=4096 -dict=tests/fuzz/options.dict) ;;
    fuzz_h5_struct) args+=(-max_len=256) ;;
    *) args+=(-max_len=65536) ;;
  esac
  corpus=$work/corpus/$name
  artifacts=$work/artifacts/$t
  mkdir -p "$corpus" "$artifacts/hdf5-known"
  deadline=$(( $(date +%s) + TIME ))
  runs=0 execs=0 known=0 result=ok cov=0 ft=0 corp=0
  while :; do
    left=$(( deadline - $(date +%s) ))
    ((left >= 3)) || break
    log=$work/$t.log
    set +e
    "$bin" -max_total_time="$left" -timeout=15 -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "${args[@]}" "$corpus" "${seeds[@]}" > "$log" 2>&1
    rc=$?
    set -e
    runs=$((runs + 1))
    n=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
    [ -n "$n" ] || n=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    execs=$((execs + n))
    last=$(grep -E '^#[0-9]+[[:space:]]+(pulse|NEW|REDUCE|DONE|INITED)' "$log" | tail -1 || true)
    [ -z "$last" ] || {
      cov=$(grep -oE 'cov: [0-9]+' <<< "$last" | grep -oE '[0-9]+' || echo "$cov")
      ft=$(grep -oE 'ft: [0-9]+' <<< "$last" | grep -oE '[0-9]+' || echo "$ft")
      corp=$(grep -oE 'corp: [0-9]+' <<< "$last" | grep -oE '[0-9]+' || echo "$corp")
    }
    ((rc != 0)) || break
    artifact=$(grep -oE "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1 || true)
    kind=$(classify "$log")
    if [[ $kind == known* ]] && [ -n "$artifact" ]; then
      known=$((known + 1))
      mv "$artifact" "$artifacts/hdf5-known/"
      echo "fuzz: $t: known HDF5-internal failure ($(grep -m1 -oE 'ERROR: (AddressSanitizer|libFuzzer): [a-z0-9 -]+' "$log" || echo crash)" \
           "in ${kind#known }); input kept in $artifacts/hdf5-known/, resuming"
      continue
    fi
    result=FINDING
    status=1
    echo "fuzz: $t: FINDING (exit $rc); reproducer: ${artifact:-see $log}"
    grep -E 'ERROR|runtime error|FINDING|SUMMARY|^ +#[0-9]+ ' "$log" | grep -v 'fuzzer::' | head -40
    break
  done
  line=$(printf '%-15s %-8s %4ss %9s execs %6s cov %6s ft %5s corpus  %2s known-HDF5  %s run(s)' \
         "$t" "$result" "$TIME" "$execs" "$cov" "$ft" "$corp" "$known" "$runs")
  echo "fuzz: $line"
  summary+=("$line")
done
echo
echo "fuzz: build ${build_seconds}s; per target (time, executions, coverage: edges, features, corpus size):"
printf '  %s\n' "${summary[@]}"
exit $status
