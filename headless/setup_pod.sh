#!/usr/bin/env bash
# Set up Pose Factory on a pod that does not use the pod image (headless/Dockerfile), then run the agent.
#
# Run on the pod, from a checkout of this repository (or with POSE_FACTORY_SOURCE naming a wheel):
#     bash headless/setup_pod.sh                # install, then start the agent in the background
#     bash headless/setup_pod.sh --foreground   # install, then run the agent in this process: a start command
# The agent runs under headless/pod_entrypoint.sh, which checks the environment, restarts the agent after a
# crash and, on SIGTERM, lets it release its job. Running this script again is safe: packages already present
# are kept, and a background agent that is already running is left alone (POSE_FACTORY_RESTART=1 restarts it).
#
# Environment (a RunPod template's environment variables; `pose-factory pods create` fills them):
#   POSE_FACTORY_STORE        required: s3://bucket/prefix of the job store
#   POSE_FACTORY_S3_ENDPOINT  S3 endpoint (R2: https://<account>.r2.cloudflarestorage.com)
#   POSE_FACTORY_S3_REGION    S3 region ("auto" for R2)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)   store credentials, never printed
#   POSE_FACTORY_STOP_POD_WHEN_IDLE   minutes of empty queue before the agent stops this pod; default 10 on
#                             RunPod (RUNPOD_POD_ID is set), else 0 = never
#   WORKSPACE_ROOT            agent workspace (default /workspace); logs go to $WORKSPACE_ROOT/logs
#   POSE_FACTORY_SOURCE       a repository checkout or a .whl file (default: the checkout holding this script)
#   POSE_FACTORY_RUNTIME      auto | blender | bpy. blender: the agent runs inside `blender` (4.5) found on PATH,
#                             with boto3, PyYAML and Pillow installed for Blender's own Python (build.py
#                             --blender-site, no other Python needed); bpy: a Python 3.11 venv with the bpy
#                             module. auto (default) picks blender when it is on PATH, else bpy.
#   POSE_FACTORY_PYTHON       Python 3.11 interpreter for the bpy venv (default: python3.11, else python3)
#   POSE_FACTORY_AGENT_ARGS   extra agent arguments, e.g. "--max-jobs 20 --poll 10"
#   POSE_FACTORY_DEVICE       auto (default) | cpu | gpu: the render device; gpu stops here when Blender sees no GPU
#   POSE_FACTORY_RESTART      1 = stop a running background agent and start a new one
set -euo pipefail

WORKSPACE_ROOT="${WORKSPACE_ROOT:-/workspace}"
export WORKSPACE_ROOT
LOG_DIR="$WORKSPACE_ROOT/logs"
VENV="$WORKSPACE_ROOT/pose-factory-venv"
PID_FILE="$LOG_DIR/agent.pid"
CONSOLE_LOG="$LOG_DIR/agent.out"
SETUP_LOG="$LOG_DIR/setup_pod.log"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENTRYPOINT="$SCRIPT_DIR/pod_entrypoint.sh"
SOURCE="${POSE_FACTORY_SOURCE:-$(dirname "$SCRIPT_DIR")}"
RUNTIME="${POSE_FACTORY_RUNTIME:-auto}"
STOP_TIMEOUT_S=120
SYSTEM_PACKAGES=(libegl1 libgl1 libgomp1 libxrender1 libxi6 libxkbcommon0 libxxf86vm1 libxfixes3 libsm6 tmux)
FOREGROUND=0

say() { printf 'setup_pod: %s\n' "$*"; }
die() {
    printf 'setup_pod: error: %s\n' "$*" >&2
    exit 1
}

resolve_runtime() {
    if [[ "$RUNTIME" == auto ]]; then
        if command -v blender >/dev/null 2>&1; then RUNTIME=blender; else RUNTIME=bpy; fi
    fi
}

check_environment() {
    [[ -n "${POSE_FACTORY_STORE:-}" ]] || die "POSE_FACTORY_STORE is not set (expected s3://bucket/prefix)"
    [[ "$POSE_FACTORY_STORE" == s3://* ]] || die "POSE_FACTORY_STORE must be an s3:// URL a pod can reach"
    [[ -e "$SOURCE" ]] || die "POSE_FACTORY_SOURCE $SOURCE does not exist"
    case "$RUNTIME" in
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
    die "Python 3.11 is needed for the bpy runtime (the bpy module is built for it); set POSE_FACTORY_PYTHON, or put Blender 4.5 on PATH"
}

# Blender's own interpreter, which the agent runs in: its pip installs the wheels build.py --blender-site picks.
blender_python() {
    blender --background --factory-startup --python-expr 'import sys; print("BLENDER_PYTHON=" + sys.executable)' 2>/dev/null |
        sed -n 's/^BLENDER_PYTHON=//p' | head -n 1
}

install_for_blender() {
    local python
    python="$(blender_python)"
    [[ -n "$python" && -x "$python" ]] || die "cannot find the Python inside blender ($(command -v blender))"
    "$python" -m pip --version >/dev/null 2>&1 || "$python" -m ensurepip --upgrade >/dev/null
    say "installing boto3, PyYAML and Pillow for Blender's Python into $SOURCE/build/blender-site"
    "$python" "$SOURCE/build.py" --blender-site
}

install_venv() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating $VENV"
        "$(find_python)" -m venv "$VENV"
    fi
    say "installing pose-factory from $SOURCE into $VENV (bpy runtime)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --upgrade "${SOURCE}[blender]"
}

prepare() {
    check_environment
    install_system_packages
    if [[ "$RUNTIME" == blender ]]; then install_for_blender; else install_venv; fi
    check_gpu
}

# The entrypoint's settings for this runtime, exported for it.
entrypoint_environment() {
    case "$RUNTIME" in
    blender) export POSE_FACTORY_RUNTIME=blender ;;
    *)
        export POSE_FACTORY_PYTHON="$VENV/bin/python"
        if [[ -d "$SOURCE" ]]; then export POSE_FACTORY_RUNTIME=python; else export POSE_FACTORY_RUNTIME=installed; fi
        ;;
    esac
    if [[ -z "${POSE_FACTORY_STOP_POD_WHEN_IDLE:-}" ]]; then
        if [[ -n "${RUNPOD_POD_ID:-}" ]]; then export POSE_FACTORY_STOP_POD_WHEN_IDLE=10; else export POSE_FACTORY_STOP_POD_WHEN_IDLE=0; fi
    fi
    EXTRA=()
    if [[ -n "${POSE_FACTORY_AGENT_ARGS:-}" ]]; then
        read -r -a EXTRA <<<"$POSE_FACTORY_AGENT_ARGS"
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

start_background() {
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
    say "starting the agent in the background: $ENTRYPOINT ${EXTRA[*]}"
    nohup "$ENTRYPOINT" "${EXTRA[@]}" >>"$CONSOLE_LOG" 2>&1 </dev/null &
    echo "$!" >"$PID_FILE"
    sleep 2
    agent_running || die "the agent exited at once; see $CONSOLE_LOG (the last line says why)"
    say "agent running (pid $(cat "$PID_FILE")); JSON log: $LOG_DIR/agent.log, console: $CONSOLE_LOG"
}

for argument in "$@"; do
    case "$argument" in
    --foreground) FOREGROUND=1 ;;
    *) die "unknown argument $argument (only --foreground)" ;;
    esac
done
mkdir -p "$LOG_DIR"
resolve_runtime
prepare 2>&1 | tee -a "$SETUP_LOG"
entrypoint_environment
if ((FOREGROUND)); then
    say "running the agent in the foreground: $ENTRYPOINT ${EXTRA[*]}" | tee -a "$SETUP_LOG"
    exec "$ENTRYPOINT" "${EXTRA[@]}"
fi
start_background 2>&1 | tee -a "$SETUP_LOG"
