"""The dashboard's web server without a browser, started as a user starts it: who may read it (a non-loopback bind
needs the token, the loopback only loopback host names), its headers, Plotly.js from the wheel, and that the
page's scripts never turn data into HTML."""

from __future__ import annotations

import re

import httpx

from localsweep.dashboard.app import STATIC, plotly_js
from localsweep.dashboard.serve import choose_token, is_loopback
from tests.dashboard_server import dashboard, stop


def test_token_is_generated_off_the_loopback_only_and_a_given_one_always_wins(monkeypatch):
    monkeypatch.delenv("LOCALSWEEP_DASHBOARD_TOKEN", raising=False)
    assert choose_token("127.0.0.1", None) == (None, False)
    token, generated = choose_token("0.0.0.0", None)
    assert generated
    assert len(token or "") >= 32
    assert choose_token("0.0.0.0", "mine") == ("mine", False)
    monkeypatch.setenv("LOCALSWEEP_DASHBOARD_TOKEN", "from-env")
    assert choose_token("0.0.0.0", None) == ("from-env", False)
    assert choose_token("127.0.0.1", None) == ("from-env", False)  # given: required on the loopback too
    assert [is_loopback(h) for h in ("localhost", "::1", "127.0.0.2", "10.0.0.1", "sweeps.example")] == [
        True, True, True, False, False,
    ]  # fmt: skip


def test_a_non_loopback_bind_refuses_requests_without_the_token(tmp_path, subprocess_env):
    subprocess_env.pop("LOCALSWEEP_DASHBOARD_TOKEN", None)
    with dashboard(subprocess_env, "--host", "0.0.0.0", "--root", str(tmp_path)) as served:
        printed = re.search(r"\?token=(\S+)", served.lines[1])
        assert printed is not None, served.lines  # generated, and printed once
        token = printed.group(1)
        url = served.url
        assert httpx.get(url + "api/sweeps").status_code == 401
        assert httpx.get(url).status_code == 401
        assert httpx.get(url + "api/sweeps", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url + "api/sweeps", headers={"Authorization": f"Bearer {token}"}).json() == []
        entered = httpx.get(f"{url}?token={token}")
        assert entered.status_code == 303
        assert entered.headers["location"] == "/"  # the token leaves the address bar
        cookie = entered.headers["set-cookie"]
        assert f"={token}" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        with httpx.Client(cookies=entered.cookies) as browser:
            assert browser.get(url + "api/sweeps").status_code == 200
        assert sum(token in line for line in served.lines) == 1
        assert stop(served.process) == 143  # SIGTERM (docker stop): it stops at once, as the engine's commands


def test_on_the_loopback_it_serves_loopback_host_names_only_with_its_headers_and_plotly(tmp_path, subprocess_env):
    subprocess_env.pop("LOCALSWEEP_DASHBOARD_TOKEN", None)
    with dashboard(subprocess_env, "--root", str(tmp_path)) as served:
        assert served.url.startswith("http://127.0.0.1:")
        page = httpx.get(served.url)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        # A page elsewhere whose domain name points at 127.0.0.1 (DNS rebinding) sends its own host name.
        assert httpx.get(served.url + "api/sweeps", headers={"Host": "evil.example"}).status_code == 400
        assert httpx.get(served.url + "api/sweeps/nope/trials/x").status_code == 404
        plotly = httpx.get(served.url + "vendor/plotly.min.js")
        assert plotly.status_code == 200
        assert plotly.content == plotly_js().read_bytes()
    assert plotly_js().stat().st_size > 1_000_000  # the wheel's bundle, not a stub
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN: it works air-gapped


def test_the_page_scripts_build_dom_from_text_never_from_html():
    for script in sorted((STATIC / "js").glob("*.js")):
        code = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, f"{script.name} uses {sink}"
