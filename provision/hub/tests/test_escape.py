"""The address-to-name escape: dockerspawner's default for short names, a DNS label always,
never two addresses on one name."""

import re
import string

import pytest

import camphub_hub

NAME_MAX = 63 - len("jupyter") - 1  # provision.NameMax: "jupyter-" + name is a DNS label
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

ADDRESSES = [
    "ada@example.org",
    "Ada.Lovelace@Example.ORG",
    "grace-hopper@example.net",
    "o'brien+camp@school.example.edu",
    "zoë@example.org",
    "maria.fernandez-garcia@students.lincoln-high.org",
    "a" * 64 + "@" + "b" * 60 + ".example.org",
    "camphub-probe-1234",
]


def test_short_names_are_dockerspawners_default():
    escapism = pytest.importorskip("escapism")
    safe = set(string.ascii_lowercase + string.digits)
    for a in ADDRESSES:
        default = escapism.escape(a, safe, escape_char="-").lower()
        if len(default) <= NAME_MAX:
            assert camphub_hub.escape(a, NAME_MAX) == default


@pytest.mark.parametrize("address", ADDRESSES)
def test_service_name_is_a_dns_label(address):
    name = camphub_hub.escape(address, NAME_MAX)
    assert len(name) <= NAME_MAX
    assert LABEL.match("jupyter-" + name), name


def test_long_addresses_keep_a_hash_and_never_collide():
    # Addresses that share their first 100 characters and differ only at the end: without the
    # hash they would all shorten to the same name.
    stem = "student." * 12
    many = ["%s%d@example.org" % (stem, i) for i in range(200)]
    names = [camphub_hub.escape(a, NAME_MAX) for a in many]
    assert len(set(names)) == len(many)
    for n in names:
        assert re.search(r"--[0-9a-f]{12}$", n), n


def test_a_shortened_name_never_equals_a_short_one():
    # The default escape never writes "--": every "-" starts a "-XX" escape.
    for a in ADDRESSES:
        full = camphub_hub.escape(a, 10_000)
        assert "--" not in full
