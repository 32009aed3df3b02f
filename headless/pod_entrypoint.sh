#!/usr/bin/env bash
# Run the Pose Factory agent in the foreground: the pod image's entrypoint (headless/Dockerfile) and
# what setup_pod.sh starts. Arguments are passed on to the agent (e.g. --max-jobs 20 --poll 10).
#
# 1. Checks the environment and, when something is missing, prints one line naming all of it and exits 2
#    (values are never printed, only variable names).
# 2. Runs the agent in the foreground with its JSON log in $WORKSPACE_ROOT/logs/agent.log; the agent's
#    own console output (and Blender's) goes to this process's output, the container log.
# 3. Restarts the agent after a crash (exit status other than 0 and 2) after 5 s, doubling up to 5 min;
#    a run of 10 min or more counts as healthy and resets the delay. Exit 0 (the agent stopped its pod,
#    finished --max-jobs or --once) and exit 2 (bad options, which a restart cannot fix) end the script.
# 4. On SIGTERM/SIGINT (RunPod stopping the pod, `docker stop`) it passes SIGTERM to the agent, which
#    releases the job it holds, waits for it and exits with the agent's status (0).
#
# Environment:
#   POSE_FACTORY_STORE                 required: s3://bucket/prefix of the job store
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   required (values, or {{ RUNPOD_SECRET_... }} references)
#   POSE_FACTORY_S3_ENDPOINT           the S3 endpoint (R2: https://<account id>.r2.cloudflarestorage.com)
#   AWS_SESSION_TOKEN, STABILITY_API_KEY   optional: temporary S3 credentials, the key enhance jobs use
#   POSE_FACTORY_STOP_POD_WHEN_IDLE    minutes of empty queue before the agent stops this pod (0 = never);
#                                      above 0 it needs RUNPOD_POD_ID and RUNPOD_API_KEY, which RunPod sets
#   WORKSPACE_ROOT                     work folder and logs (default /workspace, the pod's volume)
#   POSE_FACTORY_RUNTIME               python (default: headless/agent.py in $POSE_FACTORY_PYTHON, which has bpy),
#                                      installed (`$POSE_FACTORY_PYTHON -m pose_factory_addon.cli agent`, the
#                                      package installed from a wheel) or blender (`blender --background --python
#                                      headless/agent.py`, blender on PATH, see `make wheels`)
#   POSE_FACTORY_PYTHON                the interpreter for the python runtime (default python3)
#   POSE_FACTORY_RESTART_DELAY         first restart delay in seconds (default 5)
set -uo pipefail

WORKSPACE_ROOT="${WORKSPACE_ROOT:-/workspace}"
LOG_DIR="$WORKSPACE_ROOT/logs"
AGENT_LOG="$LOG_DIR/agent.log"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNTIME="${POSE_FACTORY_RUNTIME:-python}"
PYTHON="${POSE_FACTORY_PYTHON:-python3}"
IDLE_MINUTES="${POSE_FACTORY_STOP_POD_WHEN_IDLE:-0}"
RESTART_DELAY_S="${POSE_FACTORY_RESTART_DELAY:-5}"
MAX_RESTART_DELAY_S=300
HEALTHY_RUN_S=600
SECRET_NAMES=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN STABILITY_API_KEY RUNPOD_API_KEY)

json_value() {
    if [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ || "$1" == true || "$1" == false || "$1" == null ]]; then
        printf '%s' "$1"
    else
        local text="${1//\\/\\\\}"
        text="${text//\"/\\\"}"
        printf '"%s"' "$text"
    fi
}

# log_event NAME [key=value ...]: one JSON line, like the agent's, in agent.log (EVENT_LINE keeps it).
# Only names, numbers and fixed sentences are passed here, never a variable's value.
log_event() {
    local key
    EVENT_LINE="{\"time\": $(date +%s.%3N), \"event\": \"$1\", \"worker\": null, \"job_id\": null, \"source\": \"entrypoint\""
    shift
    for pair in "$@"; do
        key="${pair%%=*}"
        EVENT_LINE+=", \"$key\": $(json_value "${pair#*=}")"
    done
    EVENT_LINE+="}"
    if [[ -d "$LOG_DIR" && -w "$LOG_DIR" ]]; then
        printf '%s\n' "$EVENT_LINE" >>"$AGENT_LOG"
    fi
}

# event NAME [key=value ...]: the same line in agent.log and on stderr (the container log).
event() {
    log_event "$@"
    printf '%s\n' "$EVENT_LINE" >&2
}

check_environment() {
    local problems=() name
    if [[ -z "${POSE_FACTORY_STORE:-}" ]]; then
        problems+=("POSE_FACTORY_STORE is not set (s3://bucket/prefix)")
    elif [[ "$POSE_FACTORY_STORE" != s3://* ]]; then
        problems+=("POSE_FACTORY_STORE must be an s3:// URL a pod can reach")
    fi
    for name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
        [[ -n "${!name:-}" ]] || problems+=("$name is not set")
    done
    for name in "${SECRET_NAMES[@]}"; do
        if [[ "${!name:-}" == *"{{"*"RUNPOD_SECRET_"* ]]; then
            problems+=("$name refers to a RunPod secret that does not exist (create it under Settings > Secrets)")
        fi
    done
    if [[ ! "$IDLE_MINUTES" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        problems+=("POSE_FACTORY_STOP_POD_WHEN_IDLE must be a number of minutes (0 = never)")
    elif [[ "$IDLE_MINUTES" =~ [1-9] ]]; then
        for name in RUNPOD_POD_ID RUNPOD_API_KEY; do
            [[ -n "${!name:-}" ]] || problems+=("$name is not set (needed to stop this pod when idle; POSE_FACTORY_STOP_POD_WHEN_IDLE=0 runs without)")
        done
    fi
    case "$RUNTIME" in
    python | installed) command -v "$PYTHON" >/dev/null 2>&1 || problems+=("POSE_FACTORY_PYTHON $PYTHON was not found") ;;
    blender) command -v blender >/dev/null 2>&1 || problems+=("blender is not on PATH (POSE_FACTORY_RUNTIME=blender)") ;;
    *) problems+=("POSE_FACTORY_RUNTIME must be python, installed or blender") ;;
    esac
    mkdir -p "$LOG_DIR" 2>/dev/null && [[ -w "$LOG_DIR" ]] || problems+=("WORKSPACE_ROOT $WORKSPACE_ROOT is not writable")
    if ((${#problems[@]} > 0)); then
        local joined
        joined="$(printf '%s; ' "${problems[@]}")"
        log_event entrypoint_refused "problems=${joined%; }"
        printf 'pod_entrypoint: cannot start the agent: %s\n' "${joined%; }" >&2
        exit 2
    fi
}

report_gpus() {
    local count=0
    if command -v nvidia-smi >/dev/null 2>&1; then
        count="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
    fi
    if ((count > 0)); then
        event gpus_visible "count=$count"
    else
        event no_gpu_visible "hint=nvidia-smi lists no GPU: rendering runs on the CPU (a CPU pod, or a pod without the NVIDIA runtime)"
    fi
}

agent_command() {
    case "$RUNTIME" in
    blender) AGENT=(blender --background --python-use-system-env --python-exit-code 1 --python "$SCRIPT_DIR/agent.py" -- --log-file "$AGENT_LOG" "$@") ;;
    installed) AGENT=("$PYTHON" -m pose_factory_addon.cli agent --log-file "$AGENT_LOG" "$@") ;;
    *) AGENT=("$PYTHON" "$SCRIPT_DIR/agent.py" --log-file "$AGENT_LOG" "$@") ;;
    esac
}

child=0
stopping=0
on_signal() {
    stopping=1
    if ((child > 0)); then
        kill -TERM "$child" 2>/dev/null
    fi
}

run_forever() {
    local delay="$RESTART_DELAY_S" started status sleeper
    while true; do
        started=$SECONDS
        "${AGENT[@]}" &
        child=$!
        wait "$child"
        status=$?
        while kill -0 "$child" 2>/dev/null; do # a trapped signal ends `wait` early; the agent is still releasing its job
            wait "$child"
            status=$?
        done
        child=0
        if ((stopping)); then
            event entrypoint_stopped "status=$status" reason=signal
            exit "$status"
        fi
        if ((status == 0 || status == 2)); then
            event entrypoint_stopped "status=$status" "reason=agent exited with $status"
            exit "$status"
        fi
        if ((SECONDS - started >= HEALTHY_RUN_S)); then
            delay="$RESTART_DELAY_S"
        fi
        event agent_exited "status=$status" "restart_in_s=$delay"
        sleep "$delay" &
        sleeper=$!
        wait "$sleeper"
        if ((stopping)); then
            kill "$sleeper" 2>/dev/null
            event entrypoint_stopped status=0 reason=signal
            exit 0
        fi
        delay="$(awk -v d="$delay" -v m="$MAX_RESTART_DELAY_S" 'BEGIN { d *= 2; print (d > m ? m : d) }')"
    done
}

trap on_signal TERM INT
check_environment
event entrypoint_started "runtime=$RUNTIME" "stop_pod_when_idle_min=$IDLE_MINUTES"
report_gpus
agent_command "$@"
run_forever
