"""Build the Blender extension: ``dist/pose_factory-<version>.zip``.

Stages the add-on package, the headless scripts and the wheels Blender does not bundle
(boto3 and its pure-Python dependencies, PyYAML for each platform) into ``build/extension``,
then runs Blender's own extension builder and validator (``bl_pkg/cli/blender_ext.py``,
shipped inside the bpy package) and fails if either rejects the package.

Usage: ``python build.py [--output-dir dist] [--offline]`` (``--offline`` uses only wheels
already in ``build/wheels``).

``python build.py --blender-site`` (``make wheels``) instead installs boto3, PyYAML and Pillow for
Blender's Python (CPython 3.11) and this machine's platform into ``build/blender-site/python3.11``,
which ``headless/_bootstrap.py`` adds to ``sys.path``, so ``blender --background --python
headless/agent.py`` works from a plain checkout. It needs only pip (any Python 3 with pip) and PyPI.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "pose_factory_addon"
HEADLESS_DIR = ROOT / "headless"
MANIFEST = ROOT / "blender_manifest.toml"
WHEEL_CACHE = ROOT / "build" / "wheels"
STAGING = ROOT / "build" / "extension"
BLENDER_SITE = ROOT / "build" / "blender-site"
CONSTRAINTS = HEADLESS_DIR / "pod-constraints.txt"
BLENDER_PYTHON = "3.11"  # Blender 4.2 to 4.5
# What the agent needs that Blender does not bundle (Blender has numpy and requests); pip adds their dependencies.
BLENDER_SITE_PACKAGES = ("boto3", "PyYAML", "pillow")

# Pure-Python wheels, one for all platforms.
PURE_WHEELS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six")
# Compiled wheels (PyYAML for config files, Pillow for contact sheets and overlays): pip platform tags per
# Blender platform (CPython 3.11, Blender 4.2 to 4.5). PyYAML publishes no Intel macOS wheel for
# CPython 3.11, so macos-x64 is not a listed platform.
COMPILED_WHEELS = ("PyYAML", "pillow")
PIP_PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "macos-arm64": ("macosx_11_0_arm64",),
    "windows-x64": ("win_amd64",),
}


class BuildError(Exception):
    """The extension could not be built; the message says which step failed."""


def _blender_ext_cli() -> Path:
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the bpy module is not installed; run `make setup` first")
    for location in spec.submodule_search_locations:
        candidates = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if candidates:
            return candidates[-1]
    raise BuildError("Blender's extension builder (bl_pkg/cli/blender_ext.py) was not found in the bpy package")


def _check_versions() -> str:
    manifest_version = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["version"]
    project_version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    init_text = (PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', init_text, re.MULTILINE)
    package_version = match.group(1) if match else None
    if not manifest_version == project_version == package_version:
        raise BuildError(
            f"versions disagree: blender_manifest.toml {manifest_version}, pyproject.toml {project_version}, "
            f"pose_factory_addon/__init__.py {package_version}"
        )
    return str(manifest_version)


def _pip_download(requirement: str, platform_tags: tuple[str, ...] | None, offline: bool) -> Path:
    name = requirement.split("==")[0]
    pattern = re.compile(re.escape(name).replace("\\-", "[-_]") + r"-", re.IGNORECASE)

    def cached() -> list[Path]:
        version = requirement.split("==")[1]
        hits = [p for p in WHEEL_CACHE.glob("*.whl") if pattern.match(p.name) and f"-{version}-" in p.name]
        if platform_tags is None:
            return [p for p in hits if p.name.endswith("-none-any.whl")]
        return [p for p in hits if any(tag in p.name for tag in platform_tags)]

    if not cached():
        if offline:
            raise BuildError(f"no cached wheel for {requirement} {platform_tags or ''} in {WHEEL_CACHE} (--offline)")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(WHEEL_CACHE),
        ]
        if platform_tags is not None:
            command += ["--python-version", "3.11", "--implementation", "cp"]
            for tag in platform_tags:
                command += ["--platform", tag]
        result = subprocess.run([*command, requirement], capture_output=True, text=True, check=False)
        if result.returncode != 0 or not cached():
            raise BuildError(f"could not download a wheel for {requirement}: {result.stderr.strip()[-400:]}")
    return cached()[0]


def _collect_wheels(offline: bool) -> list[Path]:
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = [_pip_download(f"{name}=={importlib.metadata.version(name)}", None, offline) for name in PURE_WHEELS]
    for name in COMPILED_WHEELS:
        requirement = f"{name}=={importlib.metadata.version(name)}"
        wheels += [_pip_download(requirement, tags, offline) for tags in PIP_PLATFORMS.values()]
    return sorted(set(wheels))


def _stage(wheels: list[Path]) -> None:
    if STAGING.exists():
        shutil.rmtree(STAGING)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE_DIR, STAGING, ignore=ignore)
    shutil.copytree(HEADLESS_DIR, STAGING / "headless", ignore=ignore)
    (STAGING / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, STAGING / "wheels" / wheel.name)
    listed = ",\n".join(f'  "./wheels/{wheel.name}"' for wheel in wheels)
    manifest = MANIFEST.read_text(encoding="utf-8").replace("wheels = []", f"wheels = [\n{listed},\n]")
    (STAGING / "blender_manifest.toml").write_text(manifest, encoding="utf-8")


def _run_blender_ext(*arguments: str) -> None:
    result = subprocess.run([sys.executable, str(_blender_ext_cli()), *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise BuildError(f"Blender's extension tool refused `{arguments[0]}`:\n{output}")


def build(output_dir: Path, offline: bool = False) -> Path:
    """Build and validate the extension zip; returns its path."""
    version = _check_versions()
    wheels = _collect_wheels(offline)
    _stage(wheels)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"pose_factory-{version}.zip"
    target.unlink(missing_ok=True)
    _run_blender_ext("validate", str(STAGING))
    _run_blender_ext("build", "--source-dir", str(STAGING), "--output-filepath", str(target))
    _run_blender_ext("validate", str(target))
    return target


def current_platform() -> str:
    """This machine as a Blender platform name (a key of ``PIP_PLATFORMS``)."""
    machine = platform.machine().lower()
    names = {("linux", "x86_64"): "linux-x64", ("darwin", "arm64"): "macos-arm64", ("win32", "amd64"): "windows-x64"}
    name = names.get((sys.platform, machine))
    if name is None:
        raise BuildError(f"no wheels for {sys.platform} {machine}; Blender platforms: {', '.join(PIP_PLATFORMS)}")
    return name


def blender_site_command(target: Path, blender_platform: str) -> list[str]:
    """The pip command that installs ``BLENDER_SITE_PACKAGES`` for Blender's Python into ``target``."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target", str(target)]
    command += ["--only-binary=:all:", "--python-version", BLENDER_PYTHON, "--implementation", "cp"]
    for tag in PIP_PLATFORMS[blender_platform]:
        command += ["--platform", tag]
    return [*command, "--constraint", str(CONSTRAINTS), *BLENDER_SITE_PACKAGES]


def install_blender_site(site_root: Path = BLENDER_SITE, blender_platform: str | None = None) -> Path:
    """Install the agent's dependencies for Blender's Python into ``<site_root>/python3.11``; returns that folder."""
    target = site_root / f"python{BLENDER_PYTHON}"
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        blender_site_command(target, blender_platform or current_platform()), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BuildError(f"pip could not install {', '.join(BLENDER_SITE_PACKAGES)}: {result.stderr.strip()[-600:]}")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--offline", action="store_true", help="use only wheels already in build/wheels")
    parser.add_argument(
        "--blender-site",
        action="store_true",
        help="install boto3, PyYAML and Pillow for Blender's Python into build/blender-site",
    )
    parser.add_argument(
        "--site-dir", type=Path, default=BLENDER_SITE, help="where --blender-site installs (default build/blender-site)"
    )
    parser.add_argument(
        "--platform", choices=sorted(PIP_PLATFORMS), help="Blender platform for --blender-site (default: this one)"
    )
    args = parser.parse_args()
    if args.blender_site:
        try:
            target = install_blender_site(args.site_dir.resolve(), args.platform)
        except BuildError as error:
            print(f"build.py: {error}", file=sys.stderr)
            return 1
        print(f"installed {', '.join(BLENDER_SITE_PACKAGES)} for Blender's Python {BLENDER_PYTHON} into {target}")
        return 0
    try:
        target = build(args.output_dir.resolve(), offline=args.offline)
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    print(f"built {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
