"""Every default Pose Factory uses, defined once.

Values marked *seed* are the documented values of the system we replace
(``3d-pose-factory-spec.md``); config files, the environment and arguments override them
(see :mod:`pose_factory_addon.core.config`).
"""

from __future__ import annotations

from typing import Final

# Rendering (seed §3.3, §3.4)
RESOLUTION: Final = (512, 512)  # seed: pixels, width x height
ANGLES: Final = 8  # seed: 45 degree steps
ELEVATIONS_DEG: Final = (0.0,)
FRAMES: Final = "1"
PRESET: Final = "standard"
FRAMING: Final = "auto"
LABEL_SETS: Final = ("mediapipe33", "coco17")
PADDING_FACTOR: Final = 1.2  # seed: 20 % margin around the body
CAMERA_FOV_DEG: Final = 50.0  # seed: horizontal and vertical field of view of the orbit camera
SEED_CAMERA_DISTANCE_M: Final = 3.5  # seed fixed camera: metres from the origin
SEED_CAMERA_HEIGHT_M: Final = 1.6  # seed fixed camera: metres above the ground
SEED_EEVEE_TAA_SAMPLES: Final = 64  # seed
SEED_SUN_ENERGY: Final = 3.0  # seed: SUN light strength
RANDOM_SEED: Final = 0
ASSUMED_ANIMATION_FRAMES: Final = 60  # clip length assumed by estimates made before import
SAME_POSE_M: Final = 0.01  # two frames whose joints move less than this on average (metres) show the same pose
RENDER_DEVICE: Final = "auto"  # a GPU when Blender sees one, else the CPU (core/devices.py)
SURFACE_OCCLUSION_TOLERANCE_M: Final = 0.02  # a ray hit this close before a skin landmark is the landmark itself
# A joint's skin depth (core.visibility): this percentile of its rest-mesh probe depths, times the scale, plus the margin
# (metres for a body of the reference height, scaled with the body), at most the maximum.
SKIN_DEPTH_PERCENTILE: Final = 75.0
SKIN_DEPTH_SCALE: Final = 1.15
SKIN_DEPTH_MARGIN_M: Final = 0.02
MAX_SKIN_DEPTH_M: Final = 0.25
REFERENCE_BODY_HEIGHT_M: Final = 1.75
FACING_AWAY_COS: Final = -0.1  # a face landmark whose skin normal is more than ~96 degrees from the camera is hidden
VIEW_NAMES_8: Final = (
    "front",
    "front_right",
    "right",
    "back_right",
    "back",
    "back_left",
    "left",
    "front_left",
)  # seed output names for 8 angles from the front; "right" shows the character's right side (clockwise seen from above)

# Manifest bounds (DESIGN.md §8)
MIN_ANGLES: Final = 1
MAX_ANGLES: Final = 72
MIN_RESOLUTION: Final = 64
MAX_RESOLUTION: Final = 4096
MIN_ELEVATION_DEG: Final = -89.0
MAX_ELEVATION_DEG: Final = 89.0
MAX_ELEVATIONS: Final = 16
MAX_FRAMES_PER_CHARACTER: Final = 10000
MAX_CHARACTERS_PER_JOB: Final = 1000

# Queue and agent (seed §3.1, §3.6)
POLL_INTERVAL_S: Final = 30.0  # seed
WAIT_POLL_CAP_S: Final = 2.0  # `wait` re-reads a job's status at least this often, whatever the poll interval
JOBS_AUTO_REFRESH_S: Final = 30.0  # the panel re-reads active jobs this often while the Jobs panel is shown
S3_RETRY_S: Final = 60.0  # transient S3 errors (5xx, throttling, dropped connections) are retried this long
S3_CONNECT_RETRY_S: Final = 6.0  # an endpoint that has not answered yet (wrong or down) is given up after this long
S3_CONNECT_TIMEOUT_S: Final = 2.5  # one attempt to open a connection to the S3 endpoint
S3_READ_TIMEOUT_S: Final = 60.0  # the longest silence of a connected S3 endpoint within one request
S3_RETRY_FIRST_DELAY_S: Final = 0.2  # the first wait between S3 retries; doubles per attempt
S3_RETRY_MAX_DELAY_S: Final = 5.0  # no wait between S3 retries is longer
OUTPUT_NAME: Final = "dataset"  # a dataset's name when none is given
CONTACT_SHEET_NAME: Final = "contact_sheet.png"  # the sheet the panel draws into a results folder
WAIT_TIMEOUT_S: Final = 3600.0  # seed
LEASE_SECONDS: Final = 300.0
MAX_ATTEMPTS: Final = 3
WORKSPACE_ROOT: Final = "/workspace"  # seed pod workspace; overridable by WORKSPACE_ROOT
WORKSPACE_MAX_AGE_S: Final = 24 * 3600.0  # seed: finished job folders older than 24 h are removed
DOWNLOAD_ROOT: Final = "data/working"  # seed: downloaded job results land in data/working/<job_id>/
S3_REGION: Final = "auto"  # Cloudflare R2 expects "auto"
STOP_POD_WHEN_IDLE_MIN: Final = 0.0  # minutes of empty queue before an agent stops its own pod; 0 = never (off-pod)
POD_IMAGE_STOP_POD_WHEN_IDLE_MIN: Final = 10.0  # the pod image's default (headless/Dockerfile sets it)

# Cost safety limits (seed §3.5)
MAX_COST_PER_JOB_USD: Final = 100.0
WARNING_THRESHOLD_USD: Final = 50.0
MAX_BATCH_SIZE: Final = 1000
COST_PROVIDER: Final = "local"
COST_RESOLUTION: Final = "512x512"  # seed estimate default
COST_STEPS: Final = 30  # seed estimate default: diffusion steps
COST_MODEL: Final = "sd_1_5"  # seed estimate default
MIN_DIFFUSION_STEPS: Final = 1
MAX_DIFFUSION_STEPS: Final = 500
MAX_ESTIMATE_IMAGES: Final = 10_000_000  # estimates above this are input errors, not jobs

# RunPod
RUNPOD_API_BASE_URL: Final = "https://api.runpod.io"
RUNPOD_TIMEOUT_S: Final = 30.0  # the runpod SDK's request timeout
RUNPOD_CLOUD_TYPE: Final = "ALL"  # SECURE, COMMUNITY or ALL
RUNPOD_GPU_COUNT: Final = 1
RUNPOD_VOLUME_GB: Final = 20
RUNPOD_CONTAINER_DISK_GB: Final = 20
RUNPOD_SERVERLESS_API_BASE_URL: Final = "https://api.runpod.ai/v2"  # /<endpoint id>/run, /status/<id>, /cancel/<id>
SUBMIT_BACKEND: Final = "queue"

# Enhancement with Stability AI (docs/enhancement.md)
STABILITY_API_BASE_URL: Final = "https://api.stability.ai"
STABILITY_TIMEOUT_S: Final = 120.0  # one control generation takes seconds; a slow one must not hang a worker forever
STABILITY_RATE_LIMIT: Final = 150  # seed Appendix B: requests per window, per API key
STABILITY_RATE_WINDOW_S: Final = 10.0  # seed Appendix B
STABILITY_RATE_BURST: Final = 10  # requests sent at once before the steady rate; burst + rate x window = the limit
STABILITY_RATE_SLACK_S: Final = 1.0  # requests reach Stability late by different amounts; the limit holds for this much jitter
STABILITY_RATE_LIMIT_TIMEOUT_S: Final = 60.0  # Stability blocks a key that exceeded the limit this long
ENHANCE_PROVIDER: Final = "stability_control"  # the cost_config.yaml entry that prices the control endpoints
ENHANCE_MODE: Final = "structure"
ENHANCE_CONTROL_STRENGTH: Final = 0.7  # Stability's default for the control endpoints
ENHANCE_VARIATIONS: Final = 1
ENHANCE_MAX_VARIATIONS: Final = 8
ENHANCE_MAX_ERROR: Final = 0.04  # body heights: the label QA's median threshold, applied to each enhanced image
ENHANCE_WORKERS: Final = 4  # requests in flight at once
ENHANCE_MAX_ATTEMPTS: Final = 5  # per image, for 429, 5xx and network errors
ENHANCE_RETRY_BASE_S: Final = 2.0  # first backoff; doubles per attempt
ENHANCE_RETRY_MAX_S: Final = 120.0  # no single wait is longer, whatever Retry-After says
