"""A domain name: the entry matches the domain itself and every name under it.

Canonical form: lower case, internationalised labels as IDNA A-labels (``bücher.example`` ->
``xn--bcher-kva.example``), no trailing dot; a leading ``*.`` or ``.`` (blocklists' "and every
subdomain") is accepted and dropped, since a domain entry always covers its subdomains. Two labels
or more, the last one not all digits: IP addresses and bare top-level domains are refused (a URL
with an IP address is a ``url`` signal). Matching of parents is the scan's work
(:func:`~ncii_shield.signals.indicator.parents`): ``cdn.nudify.example`` matches an entry
``nudify.example``; ``other.example`` and ``nudify.example.org`` do not.
"""

from __future__ import annotations

from ncii_shield.signals.indicator import IndicatorSignal, canonical_host, domain_or_none


class DomainSignal(IndicatorSignal):
    name = "domain"
    accepted = "a domain name such as example.com (a URL is a url signal)"
    examples = ("nudify.example", "xn--bcher-kva.example", "cdn.undress-app.example")
    description = "a domain name; matches it and every subdomain (cdn.x.example matches x.example)"

    @classmethod
    def validate(cls, value: str) -> str:
        text = cls._text(value)
        if any(c in text for c in "/:@?#"):
            raise cls.refuse(text, "a domain has no scheme, port, path or user")
        host = text.removeprefix("*.").removeprefix(".")
        domain = domain_or_none(canonical_host(host))
        if domain is None:
            raise cls.refuse(text, "not two or more labels of letters, digits, '-' or '_' ending in a top-level domain")
        return domain
