"""Every verb's --help says what it does and shows defaults and the bounds the manifest enforces (from core.defaults)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from pose_factory_addon import cli
from pose_factory_addon.core import defaults
from pose_factory_addon.core.characters import MAX_PEOPLE_PER_RUN
from pose_factory_addon.core.skeletons import KEYPOINT_SETS

PLAIN_FLAGS = (argparse._HelpAction, argparse._VersionAction, argparse._StoreTrueAction, argparse._SubParsersAction)


def _parsers(parser: argparse.ArgumentParser, name: str = "pose-factory") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


PARSERS = dict(_parsers(cli.build_parser()))


def _help(command: str, option: str) -> str:
    parser = PARSERS[command]
    [action] = [action for action in parser._actions if option in action.option_strings]
    return parser._get_formatter()._expand_help(action)


def test_every_verb_and_action_has_a_description() -> None:
    assert set(cli.COMMAND_MODULES) <= {name.split()[1] for name in PARSERS if " " in name}
    missing = [name for name, parser in PARSERS.items() if not parser.description]
    assert not missing, missing


def test_every_option_with_a_default_shows_it() -> None:
    missing = [
        f"{name} {action.option_strings[0]}"
        for name, parser in PARSERS.items()
        for action in parser._actions
        if action.option_strings
        and action.help != argparse.SUPPRESS  # internal options (a render worker's share) are not shown at all
        and not isinstance(action, PLAIN_FLAGS)
        and action.default not in (None, argparse.SUPPRESS)
        and "default" not in parser._get_formatter()._expand_help(action)
    ]
    assert not missing, missing


@pytest.mark.parametrize("command", ["pose-factory render", "pose-factory submit", "pose-factory characters submit"])
def test_render_options_show_the_manifest_bounds(command: str) -> None:
    assert f"{defaults.MIN_ANGLES}-{defaults.MAX_ANGLES} (default {defaults.ANGLES})" in _help(command, "--angles")
    assert f"{defaults.MIN_RESOLUTION}-{defaults.MAX_RESOLUTION} (default 512x512)" in _help(command, "--resolution")
    labels = _help(command, "--labels")
    assert all(name in labels for name in KEYPOINT_SETS) and f"(default {','.join(defaults.LABEL_SETS)})" in labels
    assert f"{defaults.MIN_ELEVATION_DEG:g} to {defaults.MAX_ELEVATION_DEG:g}" in _help(command, "--elevations")
    assert f"at most {defaults.MAX_FRAMES_PER_CHARACTER} frames" in _help(command, "--frames")


def test_other_bounds_are_shown() -> None:
    assert f"1-{MAX_PEOPLE_PER_RUN}" in _help("pose-factory characters generate", "--count")
    assert f"1-{defaults.MAX_ESTIMATE_IMAGES:,}" in _help("pose-factory cost", "--count")
    assert f"{defaults.MIN_DIFFUSION_STEPS}-{defaults.MAX_DIFFUSION_STEPS}" in _help("pose-factory cost", "--steps")
    assert f"1-{defaults.ENHANCE_MAX_VARIATIONS}" in _help("pose-factory enhance", "--variations")


@pytest.mark.parametrize("verb", cli.COMMAND_MODULES)
def test_help_prints_usage_and_exits_0(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([verb, "--help"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: pose-factory {verb} ")
