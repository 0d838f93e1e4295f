#!/usr/bin/env python3
"""Drives LiveRelay's web console in headless Chromium over the DevTools protocol (the real-browser
test, Tests/InteropTests/BrowserTests.swift, and bench/browser-first-frame.sh).

Starts `chromium --headless=new` with a fresh profile in a temporary directory and
--remote-debugging-port=0, reads the port from <profile>/DevToolsActivePort, opens URL (the console
with a stream preselected, e.g. http://127.0.0.1:8090/#/play/live/x) and watches the page:
the stream's row in the list, the login form, the <video>'s currentTime and decoded frames.
With --login TOKEN (repeatable) it types each token into the login form in turn: every one but
the last must be refused (the form comes back), the last must let the page in; then it reloads
and expects the page to come back without asking (the token kept in localStorage).

Prints one JSON line: listed, login_shown, refused (tokens the form refused), first_frame_ms
(performance.now() of the first decoded frame, from the page's navigation start), frames and
times ([at first frame, --seconds later]), codecs, lag_s (live edge minus playhead at the end),
dropped, reload_listed, preview_failed (why the page gave up the preview, e.g. a codec the browser
lacks) and retried (whether it started again anyway), errors (console errors and exceptions), timed_out.

A WebRTC preview (via=webrtc) counts the frames of getStats() (framesDecoded) and adds answer_ms
(when the WHEP answer was set), answer_to_first_frame_ms, audio_packets ([at first frame, later]),
packets_lost; then it stops the preview and waits for the session's DELETE to be answered.
`requests`: the WHEP/WHIP requests the page made (method, path, status; the DevTools Network domain).
With --publish the URL is the publish page (#/publish/APP/STREAM) and Chromium's fake camera
and microphone (--use-fake-device-for-media-stream) publish over WHIP: it presses Start, waits
for encoded frames and sent packets, for the stream in the list, then publishes until
--stop-file exists (or --seconds pass), presses Stop and waits for the DELETE's answer; it
reports `publish` (the page's stats at start and end) and `requests`.
Chromium is killed and the profile removed whatever happens. Python's stdlib plus websocket-client.
"""
import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websocket

PROBE = """(() => {
  const v = document.getElementById('video');
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  const stream = %s;
  const row = stream && document.querySelector(`#streams tbody tr[data-stream="${stream}"]`);
  const login = document.getElementById('login');
  const b = v && v.buffered;
  const stats = window.relayConsole && window.relayConsole.stats;
  return JSON.stringify({
    listed: !!row, row: row ? row.textContent : null,
    login_shown: !!login && !login.hidden,
    login_error: document.getElementById('login-error')?.textContent || '',
    current_time: v ? v.currentTime : 0,
    frames: stats && stats.via === 'webrtc' ? stats.framesDecoded || 0 : q ? q.totalVideoFrames : 0,
    dropped: stats && stats.via === 'webrtc' ? stats.framesDropped || 0 : q ? q.droppedVideoFrames : 0,
    lag_s: b && b.length ? b.end(b.length - 1) - v.currentTime : null,
    ready_state: v ? v.readyState : 0,
    stats: stats ? Object.assign({}, stats) : null,
    preview_status: document.getElementById('preview-status')?.textContent || '',
    publish: window.relayConsole ? window.relayConsole.publish : null,
    publish_status: document.getElementById('publish-status')?.textContent || '',
  });
})()"""


class DevTools:
    """One page target over the DevTools protocol: commands in order, events kept."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=10, suppress_origin=True)
        self.next_id = 0
        self.errors = []
        # WHEP/WHIP requests the page made: requestId -> {method, path, status}.
        self.requests = {}

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.event(message)

    def event(self, message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {text}"[:300])
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"exception: {text}"[:300])
        elif method == "Network.requestWillBeSent":
            request = params.get("request", {})
            path = urllib.parse.urlsplit(request.get("url", "")).path
            if request.get("method") != "OPTIONS" and ("/whep" in path or "/whip" in path):
                self.requests[params["requestId"]] = {"method": request.get("method"), "path": path, "status": None}
        elif method == "Network.responseReceived" and params.get("requestId") in self.requests:
            self.requests[params["requestId"]]["status"] = params.get("response", {}).get("status")
        elif method == "Network.loadingFailed" and params.get("requestId") in self.requests:
            self.requests[params["requestId"]]["error"] = params.get("errorText")

    def webrtc_requests(self):
        return list(self.requests.values())

    def answered(self, method):
        """The status of the last `method` WHEP/WHIP request, once answered (None before)."""
        found = [r for r in self.requests.values() if r["method"] == method and (r["status"] or r.get("error"))]
        return (found[-1]["status"] or found[-1]["error"]) if found else None

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def probe(self, stream):
        return json.loads(self.evaluate(PROBE % json.dumps(stream)))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def die_with_parent():
    """The browser goes when this script goes, even on SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass
    os.setsid()


def launch(chromium, profile, fake_camera=False):
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-dev-shm-usage", "--mute-audio", "about:blank"]
    if fake_camera:
        args[-1:-1] = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    log = open(os.path.join(profile, "chromium.log"), "wb")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)


def devtools_port(profile, browser, seconds=20):
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + seconds
    while time.time() < deadline:
        if browser.poll() is not None:
            raise RuntimeError(f"chromium exited with {browser.returncode}")
        try:
            with open(path) as f:
                lines = f.read().split("\n")
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise RuntimeError("chromium wrote no DevToolsActivePort")


def page_target(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        targets = json.load(answer)
    for t in targets:
        if t.get("type") == "page":
            return t["webSocketDebuggerUrl"]
    raise RuntimeError(f"no page target in {targets}")


def wait_for(dev, stream, predicate, seconds, what):
    deadline = time.time() + seconds
    state = dev.probe(stream)
    while not predicate(state):
        if time.time() > deadline:
            raise TimeoutError(f"{what}: last state {json.dumps(state)[:600]}")
        time.sleep(0.05)
        state = dev.probe(stream)
    return state


def run(a, dev, result):
    dev.call("Runtime.enable")
    dev.call("Page.enable")
    dev.call("Network.enable")
    dev.call("Page.navigate", url=a.url)
    if a.publish:
        publish(a, dev, result)
        return
    if a.login:
        for i, token in enumerate(a.login):
            wait_for(dev, a.stream, lambda s: s["login_shown"], a.timeout, "the login form")
            result["login_shown"] = True
            dev.evaluate(f"document.getElementById('token').value = {json.dumps(token)};"
                         "document.getElementById('login').requestSubmit(); true")
            if i < len(a.login) - 1:
                # Refused: the form comes back with its error.
                state = wait_for(dev, a.stream, lambda s: s["login_shown"] and s["login_error"], a.timeout, "the refusal")
                result.setdefault("refused", []).append(state["login_error"])
    state = wait_for(dev, a.stream, lambda s: s["listed"], a.timeout, "the stream in the list")
    result["listed"] = True
    result["row"] = state["row"]
    result["login_shown"] = result.get("login_shown", False) or state["login_shown"]
    if a.no_preview:
        return
    first = wait_for(dev, a.stream, lambda s: (s["frames"] > 0 and (s["stats"] or {}).get("firstFrameMs") is not None)
                     or "stopped" in (s["stats"] or {}), a.timeout, "the first decoded frame")
    stats = first["stats"]
    if "stopped" in stats:
        # The page gave up (a codec this browser lacks): what it said, with the codecs it read.
        result["preview_failed"] = stats["stopped"]
        result["codecs"] = stats.get("codecs")
        # Past the page's retry delay (2 s): a new player would have replaced the stopped one.
        time.sleep(2.5)
        later = dev.probe(a.stream)["stats"] or {}
        result["retried"] = "stopped" not in later or later.get("firstByteMs") != stats.get("firstByteMs")
        return
    result["first_frame_ms"] = round(stats["firstFrameMs"], 1)
    result["first_byte_ms"] = round(stats["firstByteMs"], 1) if stats.get("firstByteMs") is not None else None
    result["codecs"] = stats.get("codecs")
    time.sleep(a.seconds)
    last = dev.probe(a.stream)
    result["frames"] = [first["frames"], last["frames"]]
    result["times"] = [first["current_time"], last["current_time"]]
    result["dropped"] = last["dropped"]
    result["lag_s"] = last["lag_s"]
    result["jumps"] = (last["stats"] or {}).get("jumps")
    result["preview_status"] = last["preview_status"]
    if (last["stats"] or {}).get("via") == "webrtc":
        webrtc_preview(a, dev, first["stats"], last["stats"], result)
    if a.login:
        # The token stays in localStorage: a reload lists the stream without asking.
        dev.call("Page.reload")
        time.sleep(0.2)
        state = wait_for(dev, a.stream, lambda s: s["listed"] or s["login_shown"], a.timeout, "the page after a reload")
        result["reload_listed"] = state["listed"] and not state["login_shown"]


def webrtc_preview(a, dev, first, last, result):
    """The WHEP figures, then the preview stopped: its session's DELETE answered."""
    result["answer_ms"] = round(first["answerAt"], 1) if first.get("answerAt") is not None else None
    if result["answer_ms"] is not None:
        result["answer_to_first_frame_ms"] = round(first["firstFrameMs"] - first["answerAt"], 1)
    result["audio_packets"] = [first.get("audioPacketsReceived", 0), last.get("audioPacketsReceived", 0)]
    result["video_packets"] = [first.get("videoPacketsReceived", 0), last.get("videoPacketsReceived", 0)]
    result["packets_lost"] = last.get("packetsLost")
    result["session"] = last.get("session")
    dev.evaluate("location.hash = ''; true")
    deadline = time.time() + a.timeout
    while dev.answered("DELETE") is None and time.time() < deadline:
        time.sleep(0.05)
        dev.evaluate("true")  # takes the Network events in


def publish(a, dev, result):
    """The publish page: camera, Start, frames out, listed, --stop-file, Stop, DELETE answered."""
    def publishing(s):
        p = s["publish"] or {}
        if p.get("stopped") or (p.get("camera") not in (None, "opening", "ready")):
            raise RuntimeError(f"publish failed: {json.dumps(p)} {s['publish_status']}")
        return p.get("state") == "publishing" and p.get("framesEncoded", 0) > 0 and p.get("packetsSent", 0) > 0
    wait_for(dev, a.stream, lambda s: (s["publish"] or {}).get("camera") == "ready", a.timeout, "the camera")
    dev.evaluate("document.getElementById('publish-toggle').click(); true")
    first = wait_for(dev, a.stream, publishing, a.timeout, "WHIP publishing")["publish"]
    state = wait_for(dev, a.stream, lambda s: s["listed"], a.timeout, "the published stream in the list")
    result["listed"] = True
    result["row"] = state["row"]
    deadline = time.time() + a.seconds
    while time.time() < deadline and not (a.stop_file and os.path.exists(a.stop_file)):
        time.sleep(0.1)
    state = dev.probe(a.stream)
    last = state["publish"] or {}
    result["publish"] = {"first": first, "last": last, "status": state["publish_status"]}
    dev.evaluate("document.getElementById('publish-toggle').click(); true")
    deadline = time.time() + a.timeout
    while dev.answered("DELETE") is None and time.time() < deadline:
        time.sleep(0.05)
        dev.evaluate("true")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--stream", required=True, help="the stream id the list must show")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to watch playback after the first frame")
    ap.add_argument("--timeout", type=float, default=15.0, help="for each step")
    ap.add_argument("--login", action="append", default=[], help="a token to type into the login form (repeatable)")
    ap.add_argument("--no-preview", action="store_true", help="only the list")
    ap.add_argument("--publish", action="store_true", help="the URL is the publish page: publish the fake camera over WHIP")
    ap.add_argument("--stop-file", help="with --publish: stop publishing once this file exists (at most --seconds)")
    ap.add_argument("--fake-camera", action="store_true", help="Chromium's fake camera and microphone (implied by --publish)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    a = ap.parse_args()

    result = {"listed": False, "login_shown": False}
    profile = tempfile.mkdtemp(prefix="liverelay-chromium-")
    browser = None
    dev = None
    # A SIGTERM (the test's timeout) still cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    try:
        browser = launch(a.chromium, profile, fake_camera=a.fake_camera or a.publish)
        dev = DevTools(page_target(devtools_port(profile, browser)))
        run(a, dev, result)
    except TimeoutError as e:
        result["timed_out"] = str(e)
    except Exception as e:
        result["failure"] = f"{type(e).__name__}: {e}"
    finally:
        if dev:
            result["errors"] = dev.errors
            if dev.requests:
                result["requests"] = dev.webrtc_requests()
            dev.close()
        if browser:
            try:
                os.killpg(browser.pid, signal.SIGTERM)
                browser.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(browser.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                browser.wait()
        if "failure" in result or "timed_out" in result:
            try:
                with open(os.path.join(profile, "chromium.log"), "rb") as f:
                    result["chromium_log"] = f.read()[-1500:].decode("utf-8", "replace")
            except OSError:
                pass
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
