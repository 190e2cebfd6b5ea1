#!/usr/bin/env bash
# Spindle's bdevperf against SPDK's, alternated in one window (issue 17's workloads), with a median table.
#
#   benchmarks/compare-spdk.sh [options] [SPDK]
#
# SPDK: SPDK's bdevperf binary, its build/ directory, or the SPDK source tree it was built in (build/examples/bdevperf,
# libraries in build/lib). Without it, Spindle's table alone. docs/performance.md says how to build SPDK's bdevperf.
#
# Options:
#   -N REPS        runs of each workload on each side (default 5); the table shows medians (min-max)
#   -T SECONDS     seconds per run (default 5)
#   -w LIST        comma-separated workloads (default: all):
#                    null-qd128   null 4 KiB randread QD128, 1 core
#                    null-qd1     null 4 KiB randread QD1, 1 core
#                    null-2c      null 4 KiB randread QD128, 2 cores, -C
#                    malloc-rr    malloc 4 KiB randread QD128, 1 core (huge pages on both sides)
#                    malloc-rw    malloc 4 KiB randwrite QD128, 1 core (huge pages on both sides)
#                    malloc-128k  malloc 128 KiB read QD32, 1 core (huge pages on both sides)
#                    copy-128k    the bare 128 KiB copy loop (Spindle's JVM only: benchmarks CopyLoop)
#   -k             keep the temp directory (configs and every run's output)
#   -h             this text
#
# Every run prints one line as it goes; SPDK and Spindle alternate (which one starts flips with each repetition).
# Spindle runs with --idle busy (SPDK's reactors always spin) and, for malloc, --huge; SPDK with -s 1024 -u (1 GiB of
# huge pages, no PCI). A ratio holds only for runs made in one window on one machine: compare nothing else.
# Needs: bash, awk, sort, timeout; SPDK's side needs 512 free 2 MiB huge pages and a hugetlbfs mount.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPS=5
SECS=5
LIST="null-qd128,null-qd1,null-2c,malloc-rr,malloc-rw,malloc-128k,copy-128k"
KEEP=0

usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while getopts ":N:T:w:kh" opt; do
  case "$opt" in
    N) REPS="$OPTARG" ;;
    T) SECS="$OPTARG" ;;
    w) LIST="$OPTARG" ;;
    k) KEEP=1 ;;
    h) usage; exit 0 ;;
    :) echo "compare-spdk: -$OPTARG needs a value (-h for help)" >&2; exit 2 ;;
    *) echo "compare-spdk: unknown option -$OPTARG (-h for help)" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
SPDK_ARG="${1:-}"
[ "$#" -le 1 ] || { echo "compare-spdk: one SPDK path at most, got: $*" >&2; exit 2; }
case "$REPS" in ''|*[!0-9]*) echo "compare-spdk: -N $REPS: must be a number >= 1" >&2; exit 2 ;; esac
case "$SECS" in ''|*[!0-9]*) echo "compare-spdk: -T $SECS: must be a number of seconds >= 1" >&2; exit 2 ;; esac
[ "$REPS" -ge 1 ] || { echo "compare-spdk: -N $REPS: must be >= 1" >&2; exit 2; }
[ "$SECS" -ge 1 ] || { echo "compare-spdk: -T $SECS: must be >= 1" >&2; exit 2; }

# workload table: name | bdev | spindle/spdk bdevperf args | label
declare -A BDEV ARGS LABEL
add() { BDEV[$1]="$2"; ARGS[$1]="$3"; LABEL[$1]="$4"; }
add null-qd128  null   "-q 128 -o 4096 -w randread -m 0x1"     "null 4 KiB randread QD128, 1 core"
add null-qd1    null   "-q 1 -o 4096 -w randread -m 0x1"       "null 4 KiB randread QD1, 1 core"
add null-2c     null   "-q 128 -o 4096 -w randread -m 0x3 -C"  "null 4 KiB randread QD128, 2 cores -C"
add malloc-rr   malloc "-q 128 -o 4096 -w randread -m 0x1"     "malloc 4 KiB randread QD128, 1 core"
add malloc-rw   malloc "-q 128 -o 4096 -w randwrite -m 0x1"    "malloc 4 KiB randwrite QD128, 1 core"
add malloc-128k malloc "-q 32 -o 131072 -w read -m 0x1"        "malloc 128 KiB read QD32, 1 core"
add copy-128k   copy   ""                                       "bare 128 KiB copy loop (stream)"

IFS=',' read -r -a WORKLOADS <<< "$LIST"
for w in "${WORKLOADS[@]}"; do
  [ -n "${BDEV[$w]:-}" ] || { echo "compare-spdk: -w $w: unknown workload; allowed: null-qd128, null-qd1, null-2c, malloc-rr, malloc-rw, malloc-128k, copy-128k" >&2; exit 2; }
done

# --- SPDK's binary and libraries -------------------------------------------------------------------------------
SPDK_BIN=""
SPDK_LIB=""
if [ -n "$SPDK_ARG" ]; then
  for c in "$SPDK_ARG" "$SPDK_ARG/examples/bdevperf" "$SPDK_ARG/build/examples/bdevperf"; do
    if [ -f "$c" ] && [ -x "$c" ]; then SPDK_BIN="$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"; break; fi
  done
  [ -n "$SPDK_BIN" ] || { echo "compare-spdk: $SPDK_ARG: no SPDK bdevperf there (tried it, examples/bdevperf, build/examples/bdevperf)" >&2; exit 2; }
  SPDK_LIB="$(cd "$(dirname "$SPDK_BIN")/.." && pwd)/lib"
  pages="$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)"
  if ! grep -qw hugetlbfs /proc/mounts || [ "$pages" -lt 512 ]; then
    echo "compare-spdk: SPDK's bdevperf -s 1024 needs a hugetlbfs mount and 512 free 2 MiB pages (free: $pages);" \
         "as root: sysctl -w vm.nr_hugepages=1024; mount -t hugetlbfs nodev /dev/hugepages" >&2
    exit 2
  fi
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/compare-spdk.XXXXXX")"
cleanup() { [ "$KEEP" = 1 ] && echo "compare-spdk: kept $TMP" >&2 || rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# SPDK-format JSON configs, read by both tools: Null0 (1 GiB) and Malloc0 (256 MiB), as SPDK's test setups
bdev_json() { # name method num_blocks
  cat <<EOF
{
  "subsystems": [
    {
      "subsystem": "bdev",
      "config": [
        { "method": "$2", "params": { "name": "$1", "num_blocks": $3, "block_size": 4096 } },
        { "method": "bdev_wait_for_examine" }
      ]
    }
  ]
}
EOF
}
bdev_json Null0 bdev_null_create 262144 > "$TMP/null.json"
bdev_json Malloc0 bdev_malloc_create 65536 > "$TMP/malloc.json"

# --- Spindle: build once (./spindle builds when sources changed), then run what is built --------------------------
echo "compare-spdk: building Spindle (if needed) ..." >&2
"$ROOT/spindle" bdevperf --help > /dev/null || { echo "compare-spdk: ./spindle bdevperf does not build" >&2; exit 1; }
JVM_FLAGS="$(sed -n 's:.*<spindle.jvm.flags>\(.*\)</spindle.jvm.flags>.*:\1:p' "$ROOT/pom.xml")"
BENCH_JAR="$ROOT/benchmarks/target/benchmarks.jar"
for w in "${WORKLOADS[@]}"; do
  if [ "$w" = copy-128k ] && { [ ! -f "$BENCH_JAR" ] || [ -n "$(find "$ROOT/benchmarks/src" "$ROOT/actors/src/main" -newer "$BENCH_JAR" -name '*.java' -print -quit)" ]; }; then
    echo "compare-spdk: building benchmarks/target/benchmarks.jar ..." >&2
    (cd "$ROOT" && mvn -B -ntp -q package -DskipTests -pl benchmarks -am) >&2 || { echo "compare-spdk: the benchmarks module does not build" >&2; exit 1; }
  fi
done

# The IOPS of a bdevperf output's last "Total" line (SPDK writes '\r' before it), or "" when there is none.
total_iops() { tr '\r' '\n' < "$1" | awk '$1 == "Total" && $2 == ":" { v = $3 } END { if (v != "") print v }'; }

run_spdk() { # workload out
  local extra=""
  # shellcheck disable=SC2086
  LD_LIBRARY_PATH="$SPDK_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout $((SECS + 120)) "$SPDK_BIN" -s 1024 -u \
      -r "$TMP/spdk.sock" --json "$TMP/${BDEV[$1]}.json" ${ARGS[$1]} -t "$SECS" $extra > "$2" 2>&1
  rm -f "$TMP/spdk.sock" "$TMP/spdk.sock.lock"
}

run_spindle() { # workload out
  if [ "$1" = copy-128k ]; then
    # shellcheck disable=SC2086
    timeout $((SECS * 2 + 120)) java $JVM_FLAGS -cp "$BENCH_JAR" io.spindle.benchmarks.CopyLoop -t "$SECS" stream > "$2" 2>&1
    return
  fi
  local huge=""
  [ "${BDEV[$1]}" = malloc ] && huge="--huge"
  # shellcheck disable=SC2086
  SPINDLE_SKIP_BUILD=1 timeout $((SECS + 120)) "$ROOT/spindle" bdevperf ${ARGS[$1]} -t "$SECS" --idle busy $huge \
      --json "$TMP/${BDEV[$1]}.json" > "$2" 2>&1
}

fmt() { # IOPS -> "10.57 M" / "118 K"
  awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1e6) printf "%.2f M\n", v / 1e6; else if (v >= 1e3) printf "%.1f K\n", v / 1e3; else printf "%.0f\n", v }'
}

echo "compare-spdk: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load:$(uptime | sed 's/.*load average://')"
echo "compare-spdk: $REPS rep(s) x ${SECS} s; SPDK: ${SPDK_BIN:-none (Spindle only)}; workloads: ${WORKLOADS[*]}"
echo

declare -A RES # "$w|spdk" / "$w|spindle" -> space-separated IOPS
for ((rep = 1; rep <= REPS; rep++)); do
  for w in "${WORKLOADS[@]}"; do
    sides="spindle"
    if [ -n "$SPDK_BIN" ] && [ "$w" != copy-128k ]; then
      if ((rep % 2)); then sides="spdk spindle"; else sides="spindle spdk"; fi
    fi
    for side in $sides; do
      out="$TMP/$w.$side.$rep.out"
      "run_$side" "$w" "$out"
      rc=$?
      if [ "$w" = copy-128k ]; then
        v="$(awk '$1 == "Total" && $2 == "stream" { print $4 }' "$out")"
      else
        v="$(total_iops "$out")"
      fi
      if [ "$rc" -ne 0 ] || [ -z "$v" ]; then
        printf 'rep %d/%d  %-12s %-8s FAILED (exit %d); last lines:\n' "$rep" "$REPS" "$w" "$side" "$rc"
        tr '\r' '\n' < "$out" | tail -n 5 | sed 's/^/    /'
        continue
      fi
      RES["$w|$side"]="${RES["$w|$side"]:-} $v"
      printf 'rep %d/%d  %-12s %-8s %12.2f %s\n' "$rep" "$REPS" "$w" "$side" "$v" "$([ "$w" = copy-128k ] && echo "copies/s" || echo IOPS)"
    done
  done
done

# median (min-max) of a list of numbers: "median min max" (the mean of the middle two for an even count)
stats() {
  printf '%s\n' $1 | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, a[1], a[NR] }'
}
cell() { # list -> "10.57 M (10.24-10.91)"
  local s; s="$(stats "$1")"
  [ -n "$s" ] || { echo "-"; return; }
  set -- $s
  echo "$(fmt "$1") ($(fmt "$2")-$(fmt "$3"))"
}

echo
echo "Medians of $REPS run(s) of ${SECS} s, min-max in brackets; IOPS (copies/s for the copy loop)."
echo "Ratios hold only for runs in this window on this machine. Load at the end:$(uptime | sed 's/.*load average://')"
echo
if [ -n "$SPDK_BIN" ]; then
  printf '| %-40s | %-26s | %-26s | %-15s |\n' "workload" "SPDK" "Spindle" "Spindle / SPDK"
  printf '|%s|%s|%s|%s|\n' "------------------------------------------" "----------------------------" "----------------------------" "-----------------"
else
  printf '| %-40s | %-26s |\n' "workload" "Spindle"
  printf '|%s|%s|\n' "------------------------------------------" "----------------------------"
fi
for w in "${WORKLOADS[@]}"; do
  sp="${RES["$w|spindle"]:-}"
  if [ -n "$SPDK_BIN" ]; then
    sd="${RES["$w|spdk"]:-}"
    ratio="-"
    if [ -n "$sp" ] && [ -n "$sd" ]; then
      ratio="$(awk -v a="$(stats "$sp" | cut -d' ' -f1)" -v b="$(stats "$sd" | cut -d' ' -f1)" 'BEGIN { printf "%.2f", a / b }')"
    fi
    printf '| %-40s | %-26s | %-26s | %-15s |\n' "${LABEL[$w]}" "$([ "$w" = copy-128k ] && echo "n/a" || cell "$sd")" "$(cell "$sp")" "$ratio"
  else
    printf '| %-40s | %-26s |\n' "${LABEL[$w]}" "$(cell "$sp")"
  fi
done
if [ -n "${RES["malloc-128k|spindle"]:-}" ] && [ -n "${RES["copy-128k|spindle"]:-}" ]; then
  echo
  awk -v a="$(stats "${RES["malloc-128k|spindle"]}" | cut -d' ' -f1)" -v b="$(stats "${RES["copy-128k|spindle"]}" | cut -d' ' -f1)" \
    'BEGIN { printf "Spindle malloc 128 KiB read QD32 / bare 128 KiB copy loop: %.2f (target >= 0.95)\n", a / b }'
fi
