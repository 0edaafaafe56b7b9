from dataclasses import dataclass

import pytest

from kit.settings import ServiceSettings, Settings, SettingsError, setting


@dataclass(frozen=True, kw_only=True)
class Demo(Settings):
    port: int = setting("DEMO_PORT", 50051, "Port.")
    ratio: float = setting("DEMO_RATIO", 0.1, "Share.")
    enabled: bool = setting("DEMO_ENABLED", True, "On or off.")
    domains: tuple[str, ...] = setting("DEMO_DOMAINS", ("a.example",), "Domains.")
    name: str = setting("DEMO_NAME", "x", "Name.")


def test_defaults_apply_when_the_environment_is_empty():
    assert Demo.from_env({}) == Demo()


def test_values_are_parsed_by_field_type():
    s = Demo.from_env({"DEMO_PORT": "7", "DEMO_RATIO": "0.25", "DEMO_ENABLED": "off", "DEMO_DOMAINS": "a.x, b.y", "DEMO_NAME": "n"})
    assert (s.port, s.ratio, s.enabled, s.domains, s.name) == (7, 0.25, False, ("a.x", "b.y"), "n")


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingsError, match="DEMO_PORT"):
        Demo.from_env({"DEMO_PORT": "seven"})
    with pytest.raises(SettingsError, match="DEMO_ENABLED"):
        Demo.from_env({"DEMO_ENABLED": "maybe"})


def test_every_setting_is_documented_with_its_default():
    rows = Demo.documentation()
    assert ("DEMO_PORT", "50051", "Port.") in rows
    assert ("DEMO_ENABLED", "true", "On or off.") in rows
    assert all(doc for _, _, doc in ServiceSettings.documentation())


def test_overrides_win_over_the_environment():
    assert Demo.from_env({"DEMO_PORT": "7"}, port=9).port == 9
