"""A domain name: the entry matches the domain itself and every name under it.

Canonical form: lower case, internationalised labels as IDNA A-labels (``bücher.example`` ->
``xn--bcher-kva.example``), no trailing dot; a leading ``*.`` or ``.`` (blocklists' "and every
subdomain") is accepted and dropped, since a domain entry always covers its subdomains. Two labels
or more, the last one not all digits: IP addresses and bare top-level domains are refused (a URL
with an IP address is a ``url`` signal). Matching of parents is the scan's work
(:func:`~ncii_shield.signals.indicator.parents`): ``cdn.nudify.example`` matches an entry
``nudify.example``; ``other.example`` and ``nudify.example.org`` do not.

A public suffix (``co.uk``, and the private ones such as ``github.io`` or ``blogspot.com``, from the
Public Suffix List that the ``publicsuffixlist`` package ships) is refused: one such entry would match
every site registered under it, millions of unrelated people's pages. Bank the registrable domain
(``nudify.github.io``) instead. The list is read from the installed package, never fetched.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList

from ncii_shield.signals.indicator import IndicatorSignal, canonical_host, domain_or_none


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list inside the package (about 0.1 s, once per process)


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` (canonical form) is a public suffix, under which anyone can register names."""
    return _suffixes().is_public(domain)


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
        if is_public_suffix(domain):
            raise cls.refuse(text, f"a registrable domain, not a public suffix: anyone can register names under "
                                   f"{domain}, so an entry for it would match every one of their sites")
        return domain
