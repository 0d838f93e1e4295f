#!/usr/bin/python3
"""An RTSP camera for tests: GStreamer's RTSP server serving a clip in a loop at rtsp://127.0.0.1:PORT/cam.

The clip (MKV, MP4 or MPEG-TS holding H.264 or H.265 and optionally AAC) is demuxed and re-payloaded without
re-encoding the video; `--audio pcma` transcodes the clip's audio to G.711 A-law. Clients choose TCP interleaved
or UDP. `--user/--password` require Digest authentication. Prints `READY <port>` once listening; exits on SIGTERM.
Run with /usr/bin/python3 (it needs python3-gi and gir1.2-gst-rtsp-server-1.0).
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

DEMUXERS = {"mkv": "matroskademux", "webm": "matroskademux", "mp4": "qtdemux", "mov": "qtdemux", "ts": "tsdemux"}
VIDEO = {
    "h264": "h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1",
}
AUDIO = {
    "aac": "aacparse ! rtpmp4gpay name=pay1 pt=97",
    "pcma": "decodebin ! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8",
}


def loop_clip(_factory, media):
    """Plays the clip with segment seeks so that, at its end, it starts again with running time going on."""
    pipeline = media.get_element().get_parent()

    def seek(flags):
        pipeline.seek(1.0, Gst.Format.TIME, flags | Gst.SeekFlags.SEGMENT, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
        return False

    def on_sync_message(_bus, message):
        if message.type == Gst.MessageType.SEGMENT_DONE:
            GLib.idle_add(seek, Gst.SeekFlags.NONE)  # not from the streaming thread that posted it

    bus = pipeline.get_bus()
    bus.enable_sync_message_emission()
    bus.connect("sync-message", on_sync_message)
    started = []

    def on_new_state(_media, state):
        if state == Gst.State.PLAYING and not started:  # the server seeks (flushing, no SEGMENT) while preparing
            started.append(True)
            GLib.idle_add(seek, Gst.SeekFlags.FLUSH)

    media.connect("new-state", on_new_state)


def launch_line(args):
    ext = args.clip.rsplit(".", 1)[-1].lower()
    demux = DEMUXERS.get(ext)
    if demux is None:
        sys.exit(f"unsupported clip extension .{ext}")
    parts = [f"filesrc location={args.clip} ! {demux} name=d", f"d.video_0 ! queue ! {VIDEO[args.video]}"]
    if args.audio != "none":
        parts.append(f"d.audio_0 ! queue ! {AUDIO[args.audio]}")
    return "( " + " ".join(parts) + " )"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clip", required=True)
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--video", choices=sorted(VIDEO), default="h264")
    p.add_argument("--audio", choices=["aac", "pcma", "none"], default="aac")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--path", default="/cam")
    args = p.parse_args()
    # A parent may start us with SIGTERM blocked (Foundation's Process does): unblock it before any thread starts.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args))
    factory.set_shared(True)
    factory.connect("media-configure", loop_clip)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera")
        auth.add_digest(args.user, args.password or "", token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("camera", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role("camera", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(permissions)

    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")

    def power_off():
        # At once, like a camera losing power: tearing the pipelines down takes GStreamer about 2 s.
        sys.stdout.flush()
        os._exit(0)

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, power_off)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, power_off)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
