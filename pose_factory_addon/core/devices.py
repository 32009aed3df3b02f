"""Which device renders: the choice of a Cycles GPU backend, written against the shape of Blender's objects.

Cycles lists its devices through its add-on preferences (``CyclesPreferences``):
``refresh_devices()`` (``get_devices()`` before Blender 4.2), ``get_devices_for_type(backend)``
returning entries with ``name``, ``type``, ``id`` and ``use``, and ``compute_device_type``, an enum
that only accepts the backends this Blender build has. The code here reads and sets exactly those
attributes and never imports bpy, so it is tested against a stub of that shape; the Blender layer
(``render/devices.py``) hands it the real object.

EEVEE and Workbench draw through OpenGL, which a headless Blender opens with EGL on the GPU whose
driver provides it (else Mesa's software rasteriser): they need no choice, only the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .errors import UsageError

DEVICE_CHOICES: Final = ("auto", "cpu", "gpu")
DEVICE_ENV: Final = "POSE_FACTORY_DEVICE"
BACKEND_ORDER: Final = ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI")  # fastest first, as the issue ranks them


class CyclesDevice(Protocol):
    """One entry of ``CyclesPreferences.devices``."""

    name: str
    type: str
    id: str
    use: bool


class CyclesPreferences(Protocol):
    """The part of ``bpy.context.preferences.addons['cycles'].preferences`` this module uses."""

    compute_device_type: str

    def get_devices_for_type(self, compute_device_type: str) -> Any: ...


@dataclass(frozen=True)
class FoundDevice:
    """A device Cycles reported: ``kind`` is ``CPU`` or a backend name; ``name`` as the driver says it."""

    name: str
    kind: str


@dataclass(frozen=True)
class DeviceChoice:
    """What renders: ``device`` ``GPU`` or ``CPU``; ``backend`` the Cycles backend (``NONE`` on CPU);
    ``gpus`` the names of the GPUs used; ``found`` every device Cycles listed."""

    requested: str
    device: str
    backend: str
    gpus: tuple[str, ...]
    found: tuple[FoundDevice, ...]

    def record(self, engine: str = "CYCLES") -> dict[str, Any]:
        """The ``device`` block of ``dataset.json`` (and of the agent's start log) for ``engine``."""
        record: dict[str, Any] = {
            "requested": self.requested,
            "device": self.device,
            "backend": self.backend if engine == "CYCLES" else ("EGL" if self.device == "GPU" else "SOFTWARE_GL"),
            "gpus": list(self.gpus),
            "found": [f"{item.kind}: {item.name}" for item in self.found],
        }
        if engine != "CYCLES":
            record["engine"] = engine
        return record

    def sentence(self) -> str:
        """One line for people: ``GPU (OPTIX: NVIDIA A40)`` or ``CPU (no GPU found; found CPU: AMD EPYC)``."""
        if self.device == "GPU":
            return f"GPU ({self.backend}: {', '.join(self.gpus)})"
        reason = "as asked" if self.requested == "cpu" else "no GPU found"
        return f"CPU ({reason}; found {_found_text(self.found)})"


def validate_device(value: str) -> str:
    """``auto``, ``cpu`` or ``gpu`` (any case), else a usage error."""
    text = str(value).strip().lower()
    if text not in DEVICE_CHOICES:
        raise UsageError(f"device {value!r} is unknown (choose from {', '.join(DEVICE_CHOICES)})")
    return text


def _found_text(found: tuple[FoundDevice, ...]) -> str:
    return ", ".join(f"{item.kind}: {item.name}" for item in found) or "no devices at all"


def _refresh(preferences: Any) -> None:
    """Make Cycles look for devices (it does not at startup, to avoid crashing on broken drivers)."""
    if hasattr(preferences, "refresh_devices"):
        preferences.refresh_devices()
    elif hasattr(preferences, "get_devices"):
        preferences.get_devices()


def _devices_of(preferences: CyclesPreferences, backend: str) -> list[Any]:
    try:
        return list(preferences.get_devices_for_type(backend))
    except (TypeError, ValueError, RuntimeError, KeyError):
        return []  # a backend this Blender build does not have


def find_devices(preferences: CyclesPreferences) -> tuple[dict[str, list[Any]], tuple[FoundDevice, ...]]:
    """Every backend's GPU entries (``{backend: [entry, ...]}``, empty backends left out) and every device found."""
    _refresh(preferences)
    gpus: dict[str, list[Any]] = {}
    found: dict[tuple[str, str], FoundDevice] = {}
    for backend in (*BACKEND_ORDER, "CPU"):
        for entry in _devices_of(preferences, backend):
            kind = str(entry.type)
            found.setdefault((kind, str(entry.id)), FoundDevice(str(entry.name), kind))
            if kind == backend:
                gpus.setdefault(backend, []).append(entry)
    cpus = [item for item in found.values() if item.kind == "CPU"]
    others = [item for item in found.values() if item.kind != "CPU"]
    return gpus, (*others, *cpus)


def choose_cycles_device(preferences: CyclesPreferences, requested: str) -> DeviceChoice:
    """Pick the device for ``requested`` (``auto``, ``cpu``, ``gpu``) and configure ``preferences`` for it.

    ``auto`` and ``gpu`` take the first backend of :data:`BACKEND_ORDER` with at least one GPU,
    select it as ``compute_device_type`` and enable every GPU of it (and no CPU, which would slow a
    GPU render down); ``cpu``, or ``auto`` without a GPU, sets ``compute_device_type`` to ``NONE``.

    Raises:
        UsageError: ``gpu`` was asked and no backend has a GPU (the message lists what was found).
    """
    requested = validate_device(requested)
    if requested == "cpu":
        _use_cpu(preferences)
        _, found = find_devices(preferences)
        return DeviceChoice(requested, "CPU", "NONE", (), found)
    gpus, found = find_devices(preferences)
    for backend in BACKEND_ORDER:
        entries = gpus.get(backend)
        if not entries:
            continue
        try:
            preferences.compute_device_type = backend
        except (TypeError, ValueError):
            continue
        for entry in _devices_of(preferences, backend):
            entry.use = str(entry.type) == backend
        return DeviceChoice(requested, "GPU", backend, tuple(str(entry.name) for entry in entries), found)
    if requested == "gpu":
        backends = ", ".join(BACKEND_ORDER)
        raise UsageError(f"--device gpu: Blender found no GPU for Cycles ({backends}); found {_found_text(found)}")
    _use_cpu(preferences)
    return DeviceChoice(requested, "CPU", "NONE", (), found)


def _use_cpu(preferences: CyclesPreferences) -> None:
    with contextlib.suppress(TypeError, ValueError):  # "NONE" is always an item; a stub may still refuse it
        preferences.compute_device_type = "NONE"


def apply_choice(preferences: CyclesPreferences, choice: DeviceChoice) -> None:
    """Configure ``preferences`` again for an earlier choice (Blender's factory reset between characters
    resets the preferences too); no device search when the choice is the CPU."""
    if choice.device != "GPU":
        _use_cpu(preferences)
        return
    _refresh(preferences)
    preferences.compute_device_type = choice.backend
    for entry in _devices_of(preferences, choice.backend):
        entry.use = str(entry.type) == choice.backend


def recorded_device(dataset: Mapping[str, Any]) -> str:
    """``GPU`` or ``CPU`` as a ``dataset.json`` records it; ``""`` when it records none (written before devices were recorded)."""
    device = dataset.get("device")
    if isinstance(device, Mapping) and device.get("device") in ("GPU", "CPU"):
        return str(device["device"])
    return ""
