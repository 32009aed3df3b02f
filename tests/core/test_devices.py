"""GPU selection against a stub with the shape of Cycles' add-on preferences (the real one: tests/render/test_devices_bpy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pose_factory_addon.core.devices import (
    BACKEND_ORDER,
    apply_choice,
    choose_cycles_device,
    recorded_device,
    validate_device,
)
from pose_factory_addon.core.errors import UsageError


@dataclass
class Entry:
    """A ``CyclesDeviceSettings`` item: ``use`` defaults to True for GPUs, False for the CPU, as in Blender."""

    name: str
    type: str
    id: str
    use: bool = True


@dataclass
class StubPreferences:
    """``CyclesPreferences`` as Blender 4.5 has it: the backends this build has, the devices its drivers report.

    ``compute_device_type`` refuses a backend the build lacks with the TypeError bpy raises; devices appear only
    after ``refresh_devices()`` (Cycles does not look for them at startup); ``get_devices_for_type`` returns that
    backend's devices followed by the CPU when there are any, else nothing.
    """

    built: tuple[str, ...]
    hardware: list[Entry]
    _compute_device_type: str = "NONE"
    devices: list[Entry] = field(default_factory=list)
    refreshed: int = 0

    @property
    def compute_device_type(self) -> str:
        return self._compute_device_type

    @compute_device_type.setter
    def compute_device_type(self, value: str) -> None:
        if value != "NONE" and value not in self.built:
            raise TypeError(f'bpy_struct: item.attr = val: enum "{value}" not found in {("NONE", *self.built)}')
        self._compute_device_type = value

    def refresh_devices(self) -> None:
        self.refreshed += 1
        for entry in self.hardware:
            if entry.type in (*self.built, "CPU") and entry not in self.devices:
                entry.use = entry.type != "CPU"
                self.devices.append(entry)

    def get_devices_for_type(self, compute_device_type: str) -> list[Entry]:
        matching = [entry for entry in self.devices if entry.type == compute_device_type]
        cpus = [entry for entry in self.devices if entry.type == "CPU"]
        return matching + cpus if matching and compute_device_type != "CPU" else matching


CPU = Entry("AMD EPYC 7763", "CPU", "CPU")
ALL_BUILT = ("CUDA", "OPTIX", "HIP", "ONEAPI")  # Linux builds have no Metal


def _a40s() -> list[Entry]:
    return [
        Entry("NVIDIA A40", "CUDA", "CUDA_NVIDIA A40_0000:01:00"),
        Entry("NVIDIA A40", "CUDA", "CUDA_NVIDIA A40_0000:02:00"),
        Entry("NVIDIA A40", "OPTIX", "CUDA_NVIDIA A40_0000:01:00_OptiX"),
        Entry("NVIDIA A40", "OPTIX", "CUDA_NVIDIA A40_0000:02:00_OptiX"),
        Entry("AMD EPYC 7763", "CPU", "CPU"),
    ]


def test_auto_prefers_optix_and_enables_every_gpu_but_not_the_cpu() -> None:
    preferences = StubPreferences(ALL_BUILT, _a40s())
    choice = choose_cycles_device(preferences, "auto")
    assert (choice.device, choice.backend, choice.gpus) == ("GPU", "OPTIX", ("NVIDIA A40", "NVIDIA A40"))
    assert preferences.compute_device_type == "OPTIX" and preferences.refreshed >= 1
    used = sorted((entry.type, entry.use) for entry in preferences.devices)
    assert used == [("CPU", False), ("CUDA", True), ("CUDA", True), ("OPTIX", True), ("OPTIX", True)]
    record = choice.record()
    assert record["device"] == "GPU" and record["backend"] == "OPTIX" and record["gpus"] == ["NVIDIA A40", "NVIDIA A40"]
    assert "CPU: AMD EPYC 7763" in record["found"]


@pytest.mark.parametrize(
    ("built", "hardware", "backend"),
    [
        (("CUDA", "HIP", "ONEAPI"), [Entry("NVIDIA T4", "CUDA", "c0"), CPU], "CUDA"),  # a build without OptiX
        (ALL_BUILT, [Entry("AMD Radeon PRO W7900", "HIP", "h0"), CPU], "HIP"),
        (("METAL",), [Entry("Apple M2 Max (GPU - 38 cores)", "METAL", "m0"), CPU], "METAL"),
        (ALL_BUILT, [Entry("Intel Arc A770", "ONEAPI", "o0"), CPU], "ONEAPI"),
    ],
)
def test_the_best_backend_with_a_gpu_is_chosen(built: tuple[str, ...], hardware: list[Entry], backend: str) -> None:
    preferences = StubPreferences(built, hardware)
    choice = choose_cycles_device(preferences, "gpu")
    assert choice.backend == backend and preferences.compute_device_type == backend and choice.gpus == (hardware[0].name,)
    assert hardware[0].use and not CPU.use


def test_a_backend_the_build_lacks_is_skipped() -> None:
    """The driver reports an OptiX device, but this Blender cannot select OptiX: CUDA is next."""
    preferences = StubPreferences(("CUDA",), [Entry("NVIDIA L4", "OPTIX", "x"), Entry("NVIDIA L4", "CUDA", "c"), CPU])
    preferences.devices = [preferences.hardware[0]]  # listed by the driver, refused by the enum
    choice = choose_cycles_device(preferences, "auto")
    assert choice.backend == "CUDA" and preferences.compute_device_type == "CUDA"


def test_no_gpu_means_cpu_for_auto_and_a_one_line_error_for_gpu() -> None:
    preferences = StubPreferences(ALL_BUILT, [Entry("AMD EPYC", "CPU", "CPU")])
    choice = choose_cycles_device(preferences, "auto")
    assert (choice.device, choice.backend, choice.gpus) == ("CPU", "NONE", ())
    assert choice.sentence() == "CPU (no GPU found; found CPU: AMD EPYC)"
    with pytest.raises(UsageError) as error:
        choose_cycles_device(preferences, "gpu")
    message = str(error.value)
    assert "\n" not in message and "found CPU: AMD EPYC" in message and all(name in message for name in BACKEND_ORDER)


def test_cpu_when_asked_even_with_a_gpu_and_records_for_other_engines() -> None:
    preferences = StubPreferences(ALL_BUILT, _a40s())
    choice = choose_cycles_device(preferences, "cpu")
    assert choice.device == "CPU" and preferences.compute_device_type == "NONE"
    assert choice.sentence().startswith("CPU (as asked")
    gpu = choose_cycles_device(StubPreferences(ALL_BUILT, _a40s()), "auto")
    eevee = gpu.record("BLENDER_EEVEE_NEXT")
    assert eevee["backend"] == "EGL" and eevee["engine"] == "BLENDER_EEVEE_NEXT" and eevee["device"] == "GPU"
    assert choice.record("BLENDER_WORKBENCH")["backend"] == "SOFTWARE_GL"


def test_apply_choice_after_a_factory_reset() -> None:
    gpu = choose_cycles_device(StubPreferences(ALL_BUILT, _a40s()), "auto")
    fresh = StubPreferences(ALL_BUILT, _a40s())  # read_factory_settings resets the preferences
    apply_choice(fresh, gpu)
    assert fresh.compute_device_type == "OPTIX"
    assert all(entry.use == (entry.type == "OPTIX") for entry in fresh.devices if entry.type in ("OPTIX", "CPU"))


def test_device_names_and_records() -> None:
    assert validate_device(" GPU ") == "gpu"
    with pytest.raises(UsageError, match="choose from auto, cpu, gpu"):
        validate_device("cuda")
    assert recorded_device({"device": {"device": "GPU"}}) == "GPU"
    assert recorded_device({"preset": {}}) == ""
