"""The live pages' isolation step (``_static/tinylm/live/isolation.js``) under Node, with a window
made of plain objects: when it registers the service worker, when it reloads (once, never in a
loop), and what it says when threads cannot be had. The real thing (Chromium, a plain static
server, the page isolated after one reload): tests/browser/test_isolation.py."""

from __future__ import annotations

import json

from tests.widget.node import node

WINDOW = """
function fakeWindow({ protocol = "http:", isolated = false, controller = null, sw = true, secure = true, storage = {},
                      takesControl = true, registerFails = false } = {}) {
  const log = { registered: [], reloads: 0 }, listeners = [];
  const serviceWorker = sw && {
    controller,
    async register(url, opts) {
      if (registerFails) throw new Error("SecurityError: the script is not allowed");
      log.registered.push([url, opts.scope]);
      if (takesControl) setTimeout(() => { serviceWorker.controller = {}; listeners.forEach((f) => f()); }, 5);
      return {};
    },
    addEventListener(type, f) { if (type === "controllerchange") listeners.push(f); },
  };
  const win = {
    crossOriginIsolated: isolated, isSecureContext: secure, navigator: { serviceWorker },
    location: { protocol, reload() { log.reloads++; } },
    sessionStorage: storage === null ? undefined : {
      getItem: (k) => (k in storage ? storage[k] : null), setItem: (k, v) => { storage[k] = v; }, removeItem: (k) => { delete storage[k]; },
    },
  };
  return { win, log, storage };
}
"""


def _isolate(cases: dict) -> dict:
    return node(f"""
        const {{ isolate }} = await import(tinylm + "/live/isolation.js");
        {WINDOW}
        result = {{}};
        for (const [name, opts] of Object.entries({json.dumps(cases)})) {{
          const f = fakeWindow(opts);
          const out = await isolate(opts.url === undefined ? "../isolation-sw.js" : opts.url, {{ win: f.win, wait: 200 }});
          result[name] = {{ out, log: f.log, storage: f.storage }};
        }}""")


def test_first_visit_registers_for_the_pages_folder_and_reloads_once_then_never_again():
    got = _isolate({"first": {}, "after_reload_not_isolated": {"controller": {}, "storage": {"llmbook-isolation-reloaded": "1"}},
                    "reloaded_flag_but_uncontrolled": {"storage": {"llmbook-isolation-reloaded": "1"}},
                    "isolated": {"isolated": True, "controller": {}, "storage": {"llmbook-isolation-reloaded": "1"}}})
    first = got["first"]
    assert first["out"]["reloading"] is True and first["log"]["reloads"] == 1
    assert first["log"]["registered"] == [["../isolation-sw.js", "./"]]
    assert "llmbook-isolation-reloaded" in first["storage"]
    for name in ("after_reload_not_isolated", "reloaded_flag_but_uncontrolled"):     # no second reload: no loop
        assert got[name]["log"]["reloads"] == 0 and got[name]["out"] == {"isolated": False, "why": "page not cross-origin isolated"}
    iso = got["isolated"]
    assert iso["out"] == {"isolated": True, "why": None} and iso["log"]["registered"] == [] and iso["storage"] == {}


def test_where_no_service_worker_can_help_the_page_stays_on_one_thread_and_says_why():
    got = _isolate({"disk": {"protocol": "file:"}, "no_sw": {"sw": False}, "insecure": {"secure": False},
                    "refused": {"registerFails": True}, "no_storage": {"storage": None},
                    "never_takes_control": {"takesControl": False}, "no_url": {"url": ""}})
    for name, want in [("disk", "opened from disk"), ("no_sw", "no service workers here"), ("insecure", "no service workers here"),
                       ("refused", "could not start (SecurityError"), ("never_takes_control", "did not take control"),
                       ("no_storage", "page not cross-origin isolated"), ("no_url", "page not cross-origin isolated")]:
        out = got[name]["out"]
        assert out["isolated"] is False and want in out["why"], (name, out)
        assert got[name]["log"]["reloads"] == 0, name
    assert got["disk"]["log"]["registered"] == [] and got["no_storage"]["log"]["registered"] == [["../isolation-sw.js", "./"]]
