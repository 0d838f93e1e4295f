// LiveRelay web console, WebRTC: WHEP play (the preview's fourth transport) and WHIP publish
// (the publish page) against the relay's players' port. Non-trickle offers: the relay is
// ICE-lite and learns the browser's address from its STUN checks, so the offer is sent at once.
// Loaded before app.js; plain JS.
'use strict';

window.LiveRelayWebRTC = (() => {
  const STATS_MS = 250;
  // No decoded frame for this long while connected: the stream went away; start again.
  const STALLED_MS = 5000;
  // A 'disconnected' connection that does not come back within this long has ended.
  const DISCONNECTED_MS = 3000;
  const RELEASE_WAIT_MS = 1000;

  /// An answer that trying again cannot change (a bad offer, no codec in common).
  class Refused extends Error {
    constructor(message, permanent) {
      super(message);
      this.permanent = permanent;
    }
  }

  const REASONS = {
    400: 'the relay could not read the offer',
    403: 'denied (on_play / on_publish)',
    404: 'no such stream',
    406: 'no codec in common',
    409: 'the stream is published already',
    503: 'the relay has too many WebRTC sessions',
  };

  /// POSTs the offer (WHEP or WHIP, RFC 9725): the answer's SDP and its session URL.
  async function exchange(url, sdp) {
    const answer = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp, cache: 'no-store' });
    if (answer.status !== 201) {
      const text = (await answer.text().catch(() => '')).trim().slice(0, 200);
      const reason = REASONS[answer.status] || 'unexpected answer';
      throw new Refused(`HTTP ${answer.status}: ${reason}${text ? ` (${text})` : ''}`, answer.status === 400 || answer.status === 406);
    }
    const location = answer.headers.get('Location');
    return { sdp: await answer.text(), session: location ? new URL(location, url).href : null };
  }

  /// Ends a session, then `close`s the peer connection: after the DELETE's answer (at most
  /// RELEASE_WAIT_MS), so the relay hears the DELETE rather than the DTLS close first.
  /// keepalive lets the DELETE outlive the page (sendBeacon cannot DELETE).
  function release(session, close) {
    if (!session) {
      close();
      return;
    }
    const deleted = fetch(session, { method: 'DELETE', keepalive: true }).catch(() => {});
    Promise.race([deleted, new Promise((resolve) => setTimeout(resolve, RELEASE_WAIT_MS))]).then(close);
  }

  /// "H264 42e01f" or "PCMA": a codec in use (with its H.264 profile-level-id), from the stats.
  function codecName(report, id) {
    const c = id && report.get(id);
    if (!c) return null;
    const fmtp = (c.sdpFmtpLine || '').match(/profile-level-id=([0-9a-fA-F]{6})/);
    return c.mimeType.replace(/^(video|audio)\//, '') + (fmtp ? ` ${fmtp[1]}` : '');
  }

  /// Puts the codecs `first` names (tests on a codec) ahead of the others in the offer. Chromium
  /// checks preferences against its receive capabilities; a browser that refuses keeps its order.
  function prefer(transceiver, first) {
    const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities(transceiver.sender.track.kind);
    if (!caps || !transceiver.setCodecPreferences) return;
    const rank = (c) => {
      const i = first.findIndex((f) => f(c));
      return i < 0 ? first.length : i;
    };
    try {
      transceiver.setCodecPreferences([...caps.codecs].sort((a, b) => rank(a) - rank(b)));
    } catch (e) {
      console.info(`publish (WHIP): the browser's own codec order (${e.message})`);
    }
  }

  const h264Mode1 = (c) => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || '');
  const pcma = (c) => c.mimeType === 'audio/PCMA';
  const pcmu = (c) => c.mimeType === 'audio/PCMU';

  /// Whether this browser's WebRTC receives `mime` (e.g. video/H265).
  function canReceive(mime) {
    const caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities('video');
    return !!caps && caps.codecs.some((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
  }

  /// Tracks a peer connection's state: `ended(why)` once when it fails, closes, or stays
  /// disconnected.
  function watchConnection(pc, stats, ended) {
    let timer = 0;
    pc.addEventListener('connectionstatechange', () => {
      stats.connectionState = pc.connectionState;
      clearTimeout(timer);
      if (pc.connectionState === 'failed') ended('the WebRTC connection failed');
      else if (pc.connectionState === 'disconnected') timer = setTimeout(() => ended('the WebRTC connection was lost'), DISCONNECTED_MS);
    });
    return () => clearTimeout(timer);
  }

  /// WHEP play into a <video>: recvonly video and audio, the relay's tracks as its srcObject.
  /// `failed(why, permanent)` once when it ends by itself.
  class WHEPPlayer {
    constructor(video, url, status, openedAt, failed) {
      this.video = video;
      this.status = status;
      this.failed = failed;
      this.stopped = false;
      this.stats = {
        via: 'webrtc', openedAt, answerAt: null, firstFrameAt: null, firstFrameMs: null,
        framesDecoded: 0, framesDropped: 0, videoPacketsReceived: 0, audioPacketsReceived: 0, packetsLost: 0,
        codecs: null, session: null, connectionState: 'new',
      };
      this.run(url);
    }

    async run(url) {
      try {
        const pc = new RTCPeerConnection();
        this.pc = pc;
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        const stream = new MediaStream();
        pc.addEventListener('track', (e) => {
          stream.addTrack(e.track);
          if (this.video.srcObject !== stream) this.video.srcObject = stream;
        });
        this.unwatch = watchConnection(pc, this.stats, (why) => this.fail(why));
        await pc.setLocalDescription(await pc.createOffer());
        const { sdp, session } = await exchange(url, pc.localDescription.sdp);
        this.stats.session = session;
        if (this.stopped) {
          release(session, () => pc.close());
          return;
        }
        await pc.setRemoteDescription({ type: 'answer', sdp });
        this.stats.answerAt = performance.now();
        this.status('WebRTC: connecting');
        const frame = () => this.firstFrame();
        if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(frame);
        this.video.play().catch((e) => { if (!this.stopped) this.status(`press play (${e.message})`, true); });
        this.lastFrames = 0;
        this.lastProgress = performance.now();
        this.poller = setInterval(() => this.poll().catch(() => {}), STATS_MS);
      } catch (e) {
        this.fail(e.message || String(e), e instanceof Refused && e.permanent);
      }
    }

    firstFrame() {
      if (this.stats.firstFrameAt !== null || this.stopped) return;
      this.stats.firstFrameAt = this.stats.firstFrameMs = performance.now();
    }

    async poll() {
      if (this.stopped || !this.pc) return;
      const report = await this.pc.getStats();
      if (this.stopped) return;
      const s = this.stats;
      const codecs = [];
      report.forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        if (r.kind === 'video') {
          s.framesDecoded = r.framesDecoded || 0;
          s.framesDropped = r.framesDropped || 0;
          s.videoPacketsReceived = r.packetsReceived || 0;
          s.videoCodec = codecName(report, r.codecId);
        } else if (r.kind === 'audio') {
          s.audioPacketsReceived = r.packetsReceived || 0;
          s.audioCodec = codecName(report, r.codecId);
        }
      });
      s.packetsLost = 0;
      report.forEach((r) => { if (r.type === 'inbound-rtp') s.packetsLost += r.packetsLost || 0; });
      for (const c of [s.videoCodec, s.audioCodec]) if (c) codecs.push(c);
      if (codecs.length) s.codecs = codecs.join(', ');
      if (s.framesDecoded > 0) {
        this.firstFrame();
        this.status(`WebRTC ${s.codecs || ''}: ${s.framesDecoded} frames, ${s.packetsLost} packets lost`);
      }
      const now = performance.now();
      if (s.framesDecoded !== this.lastFrames) {
        this.lastFrames = s.framesDecoded;
        this.lastProgress = now;
      } else if (now - this.lastProgress > STALLED_MS) {
        this.fail(`no video frame for ${STALLED_MS / 1000} s`);
      }
    }

    fail(why, permanent = false) {
      if (this.stopped) return;
      this.status(why, true);
      console.error(`preview (WebRTC): ${why}`);
      this.stop(why);
      this.failed(why, permanent);
    }

    stop(why) {
      if (this.stopped) return;
      this.stopped = true;
      this.stats.stopped = why;
      clearInterval(this.poller);
      this.unwatch?.();
      const pc = this.pc;
      release(this.stats.session, () => pc?.close());
      this.video.pause();
      this.video.srcObject = null;
    }
  }

  /// WHIP publish of a camera's MediaStream: sendonly tracks, H.264 (packetization-mode 1) and
  /// G.711 preferred, the relay's answer picks. `ended(why)` once when it ends by itself.
  class WHIPPublisher {
    constructor(media, url, ended) {
      this.ended = ended;
      this.stopped = false;
      this.stats = {
        state: 'connecting', startedAt: performance.now(), answerAt: null, framesEncoded: 0, packetsSent: 0,
        audioPacketsSent: 0, codecs: null, session: null, connectionState: 'new',
      };
      this.run(media, url);
    }

    async run(media, url) {
      try {
        const sends = RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities('video');
        if (sends && !sends.codecs.some(h264Mode1)) throw new Refused('this browser cannot send H.264 (packetization-mode 1)', true);
        const pc = new RTCPeerConnection();
        this.pc = pc;
        for (const track of media.getTracks()) {
          const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
          prefer(t, track.kind === 'video' ? [h264Mode1] : [pcma, pcmu]);
        }
        this.unwatch = watchConnection(pc, this.stats, (why) => this.fail(why));
        pc.addEventListener('connectionstatechange', () => {
          if (pc.connectionState === 'connected') this.stats.state = 'publishing';
        });
        await pc.setLocalDescription(await pc.createOffer());
        const { sdp, session } = await exchange(url, pc.localDescription.sdp);
        this.stats.session = session;
        if (this.stopped) {
          release(session, () => pc.close());
          return;
        }
        await pc.setRemoteDescription({ type: 'answer', sdp });
        this.stats.answerAt = performance.now();
        this.poller = setInterval(() => this.poll().catch(() => {}), STATS_MS);
      } catch (e) {
        this.fail(e.message || String(e));
      }
    }

    async poll() {
      if (this.stopped || !this.pc) return;
      const report = await this.pc.getStats();
      if (this.stopped) return;
      const s = this.stats;
      const codecs = [];
      report.forEach((r) => {
        if (r.type !== 'outbound-rtp') return;
        if (r.kind === 'video') {
          s.framesEncoded = r.framesEncoded || 0;
          s.packetsSent = r.packetsSent || 0;
          s.videoCodec = codecName(report, r.codecId);
        } else if (r.kind === 'audio') {
          s.audioPacketsSent = r.packetsSent || 0;
          s.audioCodec = codecName(report, r.codecId);
        }
      });
      for (const c of [s.videoCodec, s.audioCodec]) if (c) codecs.push(c);
      if (codecs.length) s.codecs = codecs.join(', ');
    }

    fail(why) {
      if (this.stopped) return;
      console.error(`publish (WHIP): ${why}`);
      this.stop(why);
      this.ended(why);
    }

    /// Ends the publish (DELETE): the relay ends the stream.
    stop(why) {
      if (this.stopped) return;
      this.stopped = true;
      this.stats.state = 'stopped';
      this.stats.stopped = why;
      clearInterval(this.poller);
      this.unwatch?.();
      const pc = this.pc;
      release(this.stats.session, () => pc?.close());
    }
  }

  return { WHEPPlayer, WHIPPublisher, canReceive };
})();
