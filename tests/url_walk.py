"""Helpers to walk the URL configuration with sample arguments."""

from django.urls import URLPattern, URLResolver, get_resolver

SAMPLES = {
    "int": 1,
    "str": "sample",
    "slug": "sample",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def sample_kwargs(pattern: URLPattern) -> dict:
    """Return keyword arguments that satisfy ``pattern``'s converters."""
    converters = getattr(pattern.pattern, "converters", {})
    kwargs = {}
    for name, converter in converters.items():
        kind = type(converter).__name__.replace("Converter", "").lower()
        kwargs[name] = SAMPLES.get(kind, "sample")
    if "uidb64" in kwargs:
        kwargs.update(uidb64="MQ", token="set-password")
    return kwargs


def named_patterns(resolver=None, namespace=""):
    """Yield ``(name, pattern)`` for every named URL of the project, the admin's aside."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_patterns(pattern, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern
