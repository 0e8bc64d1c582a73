"""The `requests` plumbing the X and Reddit channels share.

tweepy sets no timeout at all and prawcore a fixed 16 s, and tweepy fixes
the API host; mounting this adapter on the library's session gives every
request our timeout and, for tweepy, sends it to the configured base URL.

prawcore also retries any request that timed out or got a 5xx, POSTs
included, which could post a reply twice. For the paths named in
`once`, such a failure is turned into `OutcomeUnknown`, which prawcore does
not retry: the outbox then looks for the reply (find_sent) before sending
again.
"""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


class OutcomeUnknown(requests.exceptions.RequestException):
    """A POST that must not be repeated failed after it may have arrived."""


class Transport(HTTPAdapter):
    def __init__(self, timeout: float, rewrite: tuple[str, str] | None = None, once: tuple[str, ...] = ()):
        super().__init__()
        self.timeout = timeout
        self.rewrite = rewrite if rewrite and rewrite[0] != rewrite[1].rstrip("/") else None
        self.once = once

    def send(self, request, **kwargs):  # type: ignore[override]
        if self.rewrite and request.url.startswith(self.rewrite[0]):
            request.url = self.rewrite[1].rstrip("/") + request.url[len(self.rewrite[0]):]
        kwargs["timeout"] = self.timeout
        if request.method != "POST" or not any(p in request.url for p in self.once):
            return super().send(request, **kwargs)
        try:
            response = super().send(request, **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise  # never reached the server: safe to retry
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as e:
            raise OutcomeUnknown(f"{type(e).__name__} after sending: {e}", request=request) from e
        if response.status_code >= 500:
            raise OutcomeUnknown(f"{response.status_code} answer to a post", request=request, response=response)
        return response


def session(timeout: float, rewrite: tuple[str, str] | None = None, once: tuple[str, ...] = ()) -> requests.Session:
    """A session whose every request has `timeout`; `rewrite` = (from base, to base);
    POSTs to paths containing one of `once` are never left to a library to retry."""
    s = requests.Session()
    adapter = Transport(timeout, rewrite, once)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
