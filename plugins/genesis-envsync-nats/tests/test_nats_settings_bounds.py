"""``[bus]`` numbers NATS keeps as int64 (issue 19, item 6): out of range is a ConfigError, not an OverflowError."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis_core.api import ConfigError, load_config
from genesis_nats.settings import NatsSettings


@pytest.mark.parametrize(("line", "key"), [
    ('max_age = "' + "9" * 400 + 's"', "bus.max_age"),
    ("max_age = 1e300", "bus.max_age"),
    ("max_msgs = 9223372036854775808", "bus.max_msgs"),
    ('request_timeout = "100000d"', "bus.request_timeout"),
    ("[bus.worker]\nmax_ack_pending = 9223372036854775807", "bus.worker.max_ack_pending"),
])
def test_numbers_out_of_range_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    path = tmp_path / "genesis.toml"
    path.write_text(f'[bus]\ntransport = "nats"\n{line}\n')
    with pytest.raises(ConfigError) as err:
        NatsSettings.from_table(load_config(path).section("bus"))
    assert f"{key}: must be at most" in str(err.value)
    assert "\n" not in str(err.value)
