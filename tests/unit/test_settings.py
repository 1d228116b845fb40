"""Settings from the environment, and the queue routing read from the policy file."""

from __future__ import annotations

from pathlib import Path

import pytest

from casemgmt.bootstrap import routing_rules
from casemgmt.settings import Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_with_nothing_set_casemgmt_runs_embedded_under_var() -> None:
    settings = Settings.from_env({})
    assert (settings.database_url, settings.redis_url) == (None, None)
    assert settings.data_dir == Path("var")
    assert settings.redis_key_prefix == "casemgmt"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CASEMGMT_DATABASE_URL", "mysql://db/x", "postgresql://"),
        ("CASEMGMT_REDIS_URL", "http://cache", "redis://"),
        ("CASEMGMT_POOL_SIZE", "many", "whole number"),
        ("CASEMGMT_POOL_SIZE", "0", "at least 1"),
        ("CASEMGMT_REDIS_PREFIX", "a b", "may not contain"),
    ],
)
def test_an_unusable_setting_is_refused_naming_it(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=name) as refused:
        Settings.from_env({name: value})
    assert says in str(refused.value)


def test_the_readme_routing_example_routes_as_it_says(tmp_path: Path) -> None:
    example = README.read_text().split("```toml\n[queues]", 1)[1].split("```", 1)[0]
    policy = tmp_path / "policy.toml"
    policy.write_text("[queues]" + example)
    rules = routing_rules(Settings(sla_policy_path=policy))
    assert rules.default_queue == "general"
    assert rules.queue_names == ["complaints", "hanoi-health", "general"]


def test_a_missing_policy_file_is_refused_saying_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read"):
        routing_rules(Settings(sla_policy_path=tmp_path / "nowhere.toml"))


def test_a_routing_rule_with_an_unknown_field_is_refused_naming_it(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[queues]\nrules = [{ queue = "x", province = "hue" }]\n')
    with pytest.raises(SettingsError, match=r"queues.rules\[1\]: unknown field\(s\) province"):
        routing_rules(Settings(sla_policy_path=policy))


OWN_TAXONOMY = """
[taxonomy]
kinds = ["pension-transfer", "complaint"]
units = ["hanoi", "mobile-team-1"]

[[queues.rules]]
queue = "pensions"
kind = "pension-transfer"
unit = "mobile-team-1"
"""


def test_routing_rules_may_name_the_kinds_and_units_of_the_same_files_taxonomy(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(OWN_TAXONOMY)
    rules = routing_rules(Settings(sla_policy_path=policy))
    (rule,) = rules.rules
    assert (rule.queue, rule.kinds, rule.units) == (
        "pensions",
        frozenset({"pension-transfer"}),
        frozenset({"mobile-team-1"}),
    )


def test_a_routing_rule_naming_a_kind_the_files_taxonomy_lacks_stops_start_up_in_one_line(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(OWN_TAXONOMY + '\n[[queues.rules]]\nqueue = "x"\nkind = "procedure"\n')
    with pytest.raises(SettingsError) as refused:
        routing_rules(Settings(sla_policy_path=policy))
    assert str(refused.value) == (
        f"CASEMGMT_SLA_POLICY={policy}: queues.rules[2].kind: 'procedure' is not one of: "
        "pension-transfer, complaint"
    )


def test_without_a_taxonomy_section_routing_rules_name_the_default_units(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[queues.rules]]\nqueue = "mobile"\nunit = "mobile-team-1"\n')
    with pytest.raises(SettingsError) as refused:
        routing_rules(Settings(sla_policy_path=policy))
    message = str(refused.value)
    assert message.startswith(
        f"CASEMGMT_SLA_POLICY={policy}: queues.rules[1].unit: 'mobile-team-1' is not one of: "
        "central, angiang,"
    )
    assert "\n" not in message
