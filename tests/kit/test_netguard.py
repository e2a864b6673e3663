"""Where a user may point the server: cloud metadata never, internal hosts only when the operator allows them."""

from __future__ import annotations

import ipaddress

import pytest

from artboard.kit.netguard import Allowlist, BlockedDestination, check_address, check_url

NOTHING = Allowlist()
# Everything internal an operator could open, and attempts to open link-local and metadata ranges too.
OPERATOR = Allowlist.parse(
    [
        "127.0.0.0/8",
        "::1",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.1.20",
        "fc00::/7",
        "0.0.0.0",  # noqa: S104 (an allowlist entry, nothing is bound)
        "::",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fe80::/10",
    ]
)
ACCEPTED, REFUSED = True, False


def accepted(url: str, allow: Allowlist) -> bool:
    try:
        check_url(url, allow)
    except BlockedDestination:
        return False
    return True


@pytest.mark.parametrize(
    ("url", "without_allowlist", "with_allowlist"),
    [
        # Public servers, and names: a name is judged by the addresses it resolves to, when it is called.
        ("https://gpu.example.com/v1", ACCEPTED, ACCEPTED),
        ("http://gpu.lan:7860/", ACCEPTED, ACCEPTED),
        ("http://8.8.8.8:7860/", ACCEPTED, ACCEPTED),
        ("http://[2606:4700:4700::1111]/", ACCEPTED, ACCEPTED),
        ("http://[2002:808:808::1]/", ACCEPTED, ACCEPTED),
        # Cloud metadata and link-local, however they are written.
        ("http://169.254.169.254/latest/meta-data/", REFUSED, REFUSED),
        ("http://[fd00:ec2::254]/latest/meta-data/", REFUSED, REFUSED),
        ("http://metadata.google.internal/computeMetadata/v1/", REFUSED, REFUSED),
        ("http://METADATA.Google.Internal./", REFUSED, REFUSED),
        ("http://metadata/", REFUSED, REFUSED),
        ("http://100.100.100.200/latest/meta-data/", REFUSED, REFUSED),
        ("http://2852039166/", REFUSED, REFUSED),
        ("http://0xa9.0xfe.0xa9.0xfe/", REFUSED, REFUSED),
        ("http://0251.0376.0251.0376/", REFUSED, REFUSED),
        ("http://169.254.43518/", REFUSED, REFUSED),
        ("http://good@169.254.169.254/", REFUSED, REFUSED),
        ("http://gpu.example.com:80@169.254.169.254/", REFUSED, REFUSED),
        ("http://169.254.169.254\\@gpu.example.com/", REFUSED, REFUSED),
        ("http://[::ffff:169.254.169.254]/", REFUSED, REFUSED),
        ("http://[64:ff9b::a9fe:a9fe]/", REFUSED, REFUSED),
        ("http://[2002:a9fe:a9fe::1]/", REFUSED, REFUSED),
        ("http://169.254.1.1:8080/", REFUSED, REFUSED),
        ("http://[fe80::1]/", REFUSED, REFUSED),
        # Internal: only when the operator allows it.
        ("http://127.0.0.1:7860/", REFUSED, ACCEPTED),
        ("http://127.1/", REFUSED, ACCEPTED),
        ("http://2130706433/", REFUSED, ACCEPTED),
        ("http://localhost:7860/", REFUSED, ACCEPTED),
        ("http://LOCALHOST./", REFUSED, ACCEPTED),
        ("http://gpu.localhost/", REFUSED, ACCEPTED),
        ("http://[::1]:7860/", REFUSED, ACCEPTED),
        ("http://10.0.0.5:7860/", REFUSED, ACCEPTED),
        ("http://[::ffff:10.0.0.5]/", REFUSED, ACCEPTED),
        ("http://172.16.0.1/", REFUSED, ACCEPTED),
        ("http://192.168.1.20/", REFUSED, ACCEPTED),
        ("http://192.168.1.21/", REFUSED, REFUSED),
        ("http://[fd12:3456::1]/", REFUSED, ACCEPTED),
        ("http://0.0.0.0:7860/", REFUSED, ACCEPTED),
        ("http://0/", REFUSED, ACCEPTED),
        ("http://[::]/", REFUSED, ACCEPTED),
        ("http://224.0.0.1/", REFUSED, ACCEPTED),
        ("http://240.0.0.1/", REFUSED, ACCEPTED),
        ("http://100.64.0.1/", REFUSED, ACCEPTED),
        # Not an http(s) URL with a host.
        ("ftp://gpu.example.com/", REFUSED, REFUSED),
        ("gpu.example.com", REFUSED, REFUSED),
    ],
)
def test_a_url_is_judged_by_the_host_it_really_reaches(url: str, without_allowlist: bool, with_allowlist: bool) -> None:
    assert accepted(url, NOTHING) is without_allowlist
    assert accepted(url, OPERATOR) is with_allowlist


@pytest.mark.parametrize(
    ("url", "reason", "allowable"),
    [
        ("http://2852039166/", "169.254.169.254 is a cloud metadata address", False),
        ("http://[fe80::1]/", "fe80::1 is a link-local address", False),
        ("http://metadata.google.internal./", "metadata.google.internal is a cloud metadata host", False),
        ("http://[::ffff:10.0.0.5]/", "::ffff:a00:5 (10.0.0.5) is a private address", True),
        ("http://localhost:7860/", "localhost is a loopback address", True),
        ("http://0/", "0.0.0.0 is an unspecified address", True),
    ],
)
def test_a_refusal_names_the_address_reached_and_whether_an_allowlist_could_open_it(
    url: str, reason: str, allowable: bool
) -> None:
    with pytest.raises(BlockedDestination) as refused:
        check_url(url, NOTHING)
    assert (refused.value.reason, refused.value.allowable) == (reason, allowable)


@pytest.mark.parametrize(
    ("address", "without_allowlist", "with_allowlist"),
    [
        ("93.184.216.34", ACCEPTED, ACCEPTED),
        ("169.254.169.254", REFUSED, REFUSED),
        ("fd00:ec2::254", REFUSED, REFUSED),
        ("fe80::1%eth0", REFUSED, REFUSED),
        ("10.1.2.3", REFUSED, ACCEPTED),
        ("::ffff:127.0.0.1", REFUSED, ACCEPTED),
        (ipaddress.ip_address("192.168.1.20"), REFUSED, ACCEPTED),
    ],
)
def test_an_address_a_name_resolved_to_is_judged_by_the_same_rules(
    address: str | ipaddress.IPv4Address, without_allowlist: bool, with_allowlist: bool
) -> None:
    for allow, expected in ((NOTHING, without_allowlist), (OPERATOR, with_allowlist)):
        try:
            check_address(address, allow)
        except BlockedDestination:
            assert expected is REFUSED
        else:
            assert expected is ACCEPTED


@pytest.mark.parametrize(
    ("entries", "hosts", "networks"),
    [
        (["gpu.lan", "GPU-2.Lan."], {"gpu.lan", "gpu-2.lan"}, []),
        (["10.0.0.0/8", "10.1.2.3", "[::1]"], set(), ["10.0.0.0/8", "10.1.2.3/32", "::1/128"]),
        (["10.1.2.3/8"], set(), ["10.0.0.0/8"]),
    ],
)
def test_an_allowlist_holds_host_names_addresses_and_networks(
    entries: list[str], hosts: set[str], networks: list[str]
) -> None:
    allow = Allowlist.parse(entries)
    assert allow.hosts == hosts
    assert [str(network) for network in allow.networks] == networks


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "http://gpu.lan", "gpu lan", "-gpu.lan", ""])
def test_an_allowlist_entry_that_is_no_host_address_or_network_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name, an IP address or a CIDR network"):
        Allowlist.parse([entry])
