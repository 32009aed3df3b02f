#!/usr/bin/env bash
# Bootstrap a RunPod pod for Pose Factory: install the agent and start it in the background.
#
# Run on the pod, from a checkout of this repository (or with POSE_FACTORY_SOURCE naming a wheel):
#     bash headless/setup_pod.sh
# Running it again is safe: packages already present are kept, and an agent that is already
# running is left alone (set POSE_FACTORY_RESTART=1 to restart it).
#
# Environment (`pose-factory pods create` sets the store values as pod environment variables):
#   POSE_FACTORY_STORE        required: s3://bucket/prefix of the job store
#   POSE_FACTORY_S3_ENDPOINT  S3 endpoint (R2: https://<account>.r2.cloudflarestorage.com)
#   POSE_FACTORY_S3_REGION    S3 region ("auto" for R2)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   store credentials (read by the agent, never printed)
#   WORKSPACE_ROOT            agent workspace (default /workspace); logs go to $WORKSPACE_ROOT/logs
#   POSE_FACTORY_SOURCE       a repository checkout or a .whl file (default: the checkout holding this script)
#   POSE_FACTORY_RUNTIME      auto | blender | bpy. blender: run the agent inside `blender` (4.5) found on
#                             PATH; bpy: install the bpy module into the venv and run plain Python 3.11.
#                             auto (default) picks blender when it is on PATH, else bpy.
#   POSE_FACTORY_PYTHON       Python 3.11 interpreter for the venv (default: python3.11, else python3)
#   POSE_FACTORY_AGENT_ARGS   extra agent arguments, e.g. "--max-jobs 20 --poll 10"
#   POSE_FACTORY_DEVICE       auto (default) | cpu | gpu: the render device; gpu stops here when Blender sees no GPU
#   POSE_FACTORY_RESTART      1 = stop a running agent and start a new one
set -euo pipefail

WORKSPACE_ROOT="${WORKSPACE_ROOT:-/workspace}"
export WORKSPACE_ROOT
LOG_DIR="$WORKSPACE_ROOT/logs"
VENV="$WORKSPACE_ROOT/pose-factory-venv"
PID_FILE="$LOG_DIR/agent.pid"
AGENT_LOG="$LOG_DIR/agent.log"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="${POSE_FACTORY_SOURCE:-$(dirname "$SCRIPT_DIR")}"
RUNTIME="${POSE_FACTORY_RUNTIME:-auto}"
STOP_TIMEOUT_S=120
SYSTEM_PACKAGES=(libegl1 libgl1 libgomp1 libxrender1 libxi6 libxkbcommon0 libxxf86vm1 libxfixes3 libsm6 tmux)

say() { printf 'setup_pod: %s\n' "$*"; }
die() {
    printf 'setup_pod: error: %s\n' "$*" >&2
    exit 1
}

check_environment() {
    [[ -n "${POSE_FACTORY_STORE:-}" ]] || die "POSE_FACTORY_STORE is not set (expected s3://bucket/prefix)"
    [[ "$POSE_FACTORY_STORE" == s3://* ]] || die "POSE_FACTORY_STORE must be an s3:// URL a pod can reach"
    [[ -e "$SOURCE" ]] || die "POSE_FACTORY_SOURCE $SOURCE does not exist"
    case "$RUNTIME" in
    auto) if command -v blender >/dev/null 2>&1; then RUNTIME=blender; else RUNTIME=bpy; fi ;;
    blender | bpy) ;;
    *) die "POSE_FACTORY_RUNTIME must be auto, blender or bpy, not $RUNTIME" ;;
    esac
    if [[ "$RUNTIME" == blender && ! -d "$SOURCE" ]]; then
        die "the blender runtime runs headless/agent.py from a checkout; POSE_FACTORY_SOURCE is not a directory"
    fi
}

install_system_packages() {
    local missing=()
    local package
    for package in "${SYSTEM_PACKAGES[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return
    fi
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        say "cannot install ${missing[*]} (needs root and apt-get); continuing"
        return
    fi
    say "installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

find_python() {
    local candidate
    for candidate in "${POSE_FACTORY_PYTHON:-}" python3.11 python3; do
        if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$candidate"
            return
        fi
    done
    die "Python 3.11 is needed (Blender 4.5 and the bpy module use it); set POSE_FACTORY_PYTHON"
}

install_package() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating $VENV"
        "$(find_python)" -m venv "$VENV"
    fi
    local target="$SOURCE"
    if [[ "$RUNTIME" == bpy ]]; then
        target="${SOURCE}[blender]"
    fi
    say "installing pose-factory from $SOURCE into $VENV ($RUNTIME runtime)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --upgrade "$target"
}

agent_command() {
    local extra=()
    if [[ -n "${POSE_FACTORY_AGENT_ARGS:-}" ]]; then
        read -r -a extra <<<"$POSE_FACTORY_AGENT_ARGS"
    fi
    if [[ "$RUNTIME" == blender ]]; then
        AGENT=(blender --background --python-use-system-env --python-exit-code 1 --python "$SOURCE/headless/agent.py" -- "${extra[@]}")
    elif [[ -d "$SOURCE" ]]; then
        AGENT=("$VENV/bin/python" "$SOURCE/headless/agent.py" "${extra[@]}")
    else
        AGENT=("$VENV/bin/pose-factory" agent "${extra[@]}")
    fi
}

use_venv_in_blender() {
    # Blender imports pose_factory_addon and its dependencies from the venv (both Python 3.11);
    # --python-use-system-env makes it honour PYTHONPATH.
    if [[ "$RUNTIME" == blender ]]; then
        PYTHONPATH="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')${PYTHONPATH:+:$PYTHONPATH}"
        export PYTHONPATH
    fi
}

check_gpu() {
    # Ask Blender itself (Cycles' device list) which device the agent will render on, and say so.
    local probe=() report
    if command -v nvidia-smi >/dev/null 2>&1; then
        say "GPUs the driver reports: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | paste -sd, - || echo none)"
    fi
    if [[ "$RUNTIME" == blender ]]; then
        probe=(blender --background --python-use-system-env --python-exit-code 1 --python "$SOURCE/headless/cli.py" -- devices)
    elif [[ -d "$SOURCE" ]]; then
        probe=("$VENV/bin/python" "$SOURCE/headless/cli.py" devices)
    else
        probe=("$VENV/bin/pose-factory" devices)
    fi
    if ! report="$("${probe[@]}" 2>&1)"; then
        die "Blender could not list its render devices: $(printf '%s' "$report" | tail -n 1)"
    fi
    report="$(printf '%s\n' "$report" | grep '^render device:' | tail -n 1)"
    case "$report" in
    "render device: GPU"*) say "the GPU is visible to Blender: ${report#render device: }" ;;
    *)
        if [[ "${POSE_FACTORY_DEVICE:-auto}" == gpu ]]; then
            die "POSE_FACTORY_DEVICE=gpu but Blender sees no GPU (${report#render device: })"
        fi
        say "warning: Blender sees no GPU; jobs will render on the CPU (${report#render device: })"
        ;;
    esac
}

agent_running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

start_agent() {
    if agent_running; then
        if [[ "${POSE_FACTORY_RESTART:-0}" != 1 ]]; then
            say "agent already running (pid $(cat "$PID_FILE")); set POSE_FACTORY_RESTART=1 to restart it"
            return
        fi
        local pid waited=0
        pid="$(cat "$PID_FILE")"
        say "stopping agent $pid (it releases its job on SIGTERM)"
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do
            if ((waited >= STOP_TIMEOUT_S)); then
                say "agent $pid still running after ${STOP_TIMEOUT_S} s; killing it (its lease expires and another agent takes the job)"
                kill -KILL "$pid"
                break
            fi
            sleep 1
            waited=$((waited + 1))
        done
    fi
    agent_command
    say "starting agent: ${AGENT[*]}"
    printf '\n=== agent started %s ===\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$AGENT_LOG"
    nohup "${AGENT[@]}" >>"$AGENT_LOG" 2>&1 </dev/null &
    echo "$!" >"$PID_FILE"
    sleep 2
    agent_running || die "the agent exited at once; see $AGENT_LOG"
    say "agent running (pid $(cat "$PID_FILE")); logs: $AGENT_LOG"
}

main() {
    check_environment
    install_system_packages
    install_package
    use_venv_in_blender
    check_gpu
    start_agent
}

mkdir -p "$LOG_DIR"
main "$@" 2>&1 | tee -a "$LOG_DIR/setup_pod.log"
