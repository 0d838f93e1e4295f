// LiveRelay web console: the admin API's streams and server summary (polled), a live preview
// of a stream from the relay's players' port (player.js: fMP4 over MSE; webrtc.js: WHEP), and
// a publish page (the browser's camera over WHIP). Plain JS, no build step, nothing loaded from
// elsewhere.
'use strict';

(() => {
  const TOKEN_KEY = 'liverelay.admin.token';
  const POLL_MS = 2000;
  const RETRY_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const { MSEPlayer, WSFeed, HTTPFeed, HLSFeed } = window.LiveRelayPlayer;
  const { WHEPPlayer, WHIPPublisher, canReceive } = window.LiveRelayWebRTC;
  const TRANSPORTS = ['ws', 'http', 'llhls', 'webrtc'];

  const state = {
    token: localStorage.getItem(TOKEN_KEY) || '',
    server: null,
    pollTimer: 0,
    // Each poll() call starts a new loop; an older loop's answers are dropped.
    generation: 0,
    preview: null,
    publish: null,
    // The last stream list, and the first one's promise (the WebRTC preview reads a stream's
    // video codec from it).
    streams: null,
    firstList: null,
  };

  // MARK: admin API

  class Unauthorized extends Error {}

  async function api(path) {
    const headers = state.token ? { Authorization: 'Bearer ' + state.token } : {};
    const answer = await fetch(path, { headers, cache: 'no-store' });
    if (answer.status === 401) throw new Unauthorized('the admin API wants a token');
    if (!answer.ok) throw new Error(`${path}: HTTP ${answer.status}`);
    return answer.json();
  }

  async function poll() {
    clearTimeout(state.pollTimer);
    const generation = ++state.generation;
    const current = () => generation === state.generation;
    try {
      // The preview starts as soon as the server's ports are known (its first frame sooner).
      const known = api('/api/v1/server').then((server) => {
        if (!current()) return server;
        state.server = server;
        showMain();
        applyRoute();
        return server;
      });
      const listed = api('/api/v1/streams');
      state.firstList ||= listed.then((l) => l.streams || [], () => []);
      const [server, stats, list] = await Promise.all([known, api('/api/v1/stats'), listed]);
      if (!current()) return;
      renderSummary(server, stats);
      renderStreams(list.streams || []);
      setStatus('updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      if (!current()) return;
      if (e instanceof Unauthorized) {
        askToken(state.token ? 'That token was refused.' : '');
        return;
      }
      setStatus(e.message, true);
    }
    state.pollTimer = setTimeout(poll, POLL_MS);
  }

  function showMain() {
    $('login').hidden = true;
    $('main').hidden = false;
    $('sign-out').hidden = !state.token;
  }

  function setStatus(text, bad = false) {
    $('status').textContent = text;
    $('status').classList.toggle('error', bad);
  }

  function askToken(message) {
    clearTimeout(state.pollTimer);
    stopPreview();  // restarted from the URL once the page is let in
    stopPublish();
    if (state.token) localStorage.removeItem(TOKEN_KEY);
    state.token = '';
    $('main').hidden = true;
    $('sign-out').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message;
    $('token').focus();
  }

  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = $('token').value.trim();
    $('token').value = '';
    if (state.token) localStorage.setItem(TOKEN_KEY, state.token);
    $('login-error').textContent = '';
    poll();
  });

  $('sign-out').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    state.token = '';
    poll();
  });

  // MARK: rendering (textContent only: nothing the API returns is parsed as HTML)

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function duration(seconds) {
    const s = Math.floor(seconds || 0);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }

  function bits(bps) {
    if (!bps) return '0';
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mb/s';
    return (bps / 1e3).toFixed(0) + ' kb/s';
  }

  function bytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + ' GiB';
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(0) + ' KiB';
    return String(n || 0);
  }

  function renderSummary(server, stats) {
    $('server-name').textContent = `${server.name} ${server.version} (${server.build.configuration}, ${server.build.os}/${server.build.arch})`;
    const rows = [
      ['uptime', duration(server.uptime_seconds)],
      ['listeners', server.listeners.map((l) => `${l.name} ${l.transport}/${l.port}`).join(', ')],
      ['streams', String(stats.streams)],
      ['players', String(stats.players)],
      ['connections', `${stats.connections.total} (publishers ${stats.connections.publishers}, players ${stats.connections.players})`],
      ['bytes in / out', `${bytes(stats.bytes_in.total)} / ${bytes(stats.bytes_out.total)}`],
      ['process', `CPU ${stats.process.cpu_seconds.toFixed(1)} s, RSS ${bytes(stats.process.rss_bytes)}, ${stats.process.threads} threads`],
      ['merge write', String(server.config.merge_write_ms) + (typeof server.config.merge_write_ms === 'number' ? ' ms' : '')],
    ];
    const list = $('summary-list');
    list.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  }

  function videoText(track) {
    if (!track) return '–';
    let text = track.codec;
    if (track.width && track.height) text += ` ${track.width}×${track.height}`;
    if (track.fps) text += ` ${Math.round(track.fps)} fps`;
    return text;
  }

  function audioText(track) {
    if (!track) return '–';
    let text = track.codec;
    if (track.sample_rate) text += ` ${(track.sample_rate / 1000).toFixed(1)} kHz`;
    if (track.channels) text += ` ${track.channels} ch`;
    return text;
  }

  function playersText(players) {
    const parts = Object.entries(players.by_protocol || {}).filter(([, n]) => n > 0).map(([p, n]) => `${p} ${n}`);
    return parts.length ? `${players.total} (${parts.join(', ')})` : String(players.total);
  }

  function renderStreams(streams) {
    state.streams = streams;
    $('stream-count').textContent = `(${streams.length})`;
    $('no-streams').hidden = streams.length > 0;
    const selected = route()?.stream;
    const rows = streams.map((s) => {
      const row = el('tr');
      row.dataset.stream = s.id;
      if (s.id === selected) row.className = 'selected';
      const video = s.tracks.find((t) => t.kind === 'video');
      const audio = s.tracks.find((t) => t.kind === 'audio');
      const publisher = s.publisher ? `${s.publisher.protocol} ${s.publisher.address}` : '–';
      row.append(el('td', s.id), el('td', videoText(video)), el('td', audioText(audio)), el('td', bits(s.bitrate_in_bps)),
        el('td', publisher), el('td', playersText(s.players)), el('td', duration(s.uptime_seconds)));
      const watch = el('button', 'Preview');
      watch.type = 'button';
      watch.disabled = !s.ready;
      watch.addEventListener('click', () => {
        const target = `#/play/${s.id}?via=${$('transport').value}`;
        if (location.hash !== target) {
          location.hash = target;
        } else {
          stopPreview();  // the same stream again: a fresh start
          applyRoute();
        }
      });
      const cell = el('td');
      cell.append(watch);
      row.append(cell);
      return row;
    });
    $('streams').tBodies[0].replaceChildren(...rows);
  }

  // MARK: routing: #/play/APP/STREAM[?via=ws|http|llhls|webrtc], #/publish/APP/STREAM

  function route() {
    const hash = location.hash.replace(/^#/, '');
    const q = hash.indexOf('?');
    const path = q < 0 ? hash : hash.slice(0, q);
    const match = path.match(/^\/(play|publish)\/(.+)$/);
    if (!match) return null;
    const via = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)).get('via');
    let stream;
    try {
      stream = decodeURIComponent(match[2]);
    } catch {
      return null;  // a malformed escape
    }
    return { page: match[1], stream, via: TRANSPORTS.includes(via) ? via : 'ws' };
  }

  function applyRoute() {
    const want = route();
    applyPublish(want?.page === 'publish' ? want : null);
    applyPreview(want?.page === 'play' ? want : null);
  }

  function applyPreview(want) {
    const now = state.preview;
    if (!want) {
      if (now) stopPreview();
      return;
    }
    if (now && now.stream === want.stream && now.via === want.via) return;
    if (!state.server) return;  // after the first poll
    if (now) stopPreview();
    startPreview(want.stream, want.via);
  }

  window.addEventListener('hashchange', applyRoute);
  $('transport').addEventListener('change', () => {
    const r = route();
    if (r?.page === 'play') location.hash = `#/play/${r.stream}?via=${$('transport').value}`;
  });
  $('preview-stop').addEventListener('click', () => { location.hash = ''; });
  $('publish-open').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('publish-stream').value.trim().replace(/^\/+|\/+$/g, '');
    if (id) location.hash = `#/publish/${id}`;
  });
  $('publish-toggle').addEventListener('click', () => state.publish?.toggle());
  $('publish-close').addEventListener('click', () => { location.hash = ''; });
  // Leaving the page ends its WebRTC sessions (DELETE with keepalive outlives the page).
  window.addEventListener('pagehide', () => {
    stopPreview();
    stopPublish();
  });

  // MARK: preview

  /// The players' port (the HTTP-FLV listener's) on the page's host.
  function mediaURL(scheme, stream, suffix) {
    const listener = (state.server.listeners || []).find((l) => l.name === 'http_flv');
    if (!listener) return null;
    const path = stream.split('/').map(encodeURIComponent).join('/');
    return `${scheme}://${location.hostname}:${listener.port}/${path}${suffix}`;
  }

  /// Why this browser cannot play `stream` over WebRTC, if it cannot: an H.265 stream where
  /// the browser's WebRTC receives no H.265 (the relay does not transcode).
  function webrtcUnplayable(stream, streams) {
    const video = streams.find((s) => s.id === stream)?.tracks.find((t) => t.kind === 'video');
    if (video?.codec === 'h265' && !canReceive('video/H265')) {
      return 'this browser offered no H.265 (its WebRTC does not receive it); the stream is H.265: try an fMP4 transport';
    }
    return null;
  }

  function startPreview(stream, via) {
    $('preview').hidden = false;
    $('preview-id').textContent = stream;
    $('transport').value = via;
    const preview = new Preview($('video'), stream, via);
    state.preview = preview;
    preview.start();
  }

  function stopPreview() {
    state.preview?.stop();
    state.preview = null;
    $('preview').hidden = true;
  }

  function previewStatus(text, bad = false) {
    $('preview-status').textContent = text;
    $('preview-status').classList.toggle('error', bad);
  }

  /// One preview: a transport feeding an MSE player, restarted (new connection, new player)
  /// when the connection ends, until stopped.
  class Preview {
    constructor(video, stream, via) {
      this.video = video;
      this.stream = stream;
      this.via = via;
      this.stopped = false;
      this.retry = 0;
      this.openedAt = performance.now();
    }

    start() {
      if (this.stopped) return;
      const tls = location.protocol === 'https:';
      let url;
      if (this.via === 'ws') url = mediaURL(tls ? 'wss' : 'ws', this.stream, '.mp4');
      else if (this.via === 'http') url = mediaURL(tls ? 'https' : 'http', this.stream, '.mp4');
      else if (this.via === 'webrtc') url = mediaURL(tls ? 'https' : 'http', this.stream, '/whep');
      else url = mediaURL(tls ? 'https' : 'http', this.stream, '.m3u8?format=fmp4');
      if (!url) {
        previewStatus('no preview: the relay has no http_flv listener (the players\' port)', true);
        return;
      }
      if (this.via === 'webrtc') {
        this.startWebRTC(url);
        return;
      }
      // A player that fails (a decode error, a codec this browser lacks) ends its connection too.
      this.player = new MSEPlayer(this.video, (text, bad) => previewStatus(text, bad), this.openedAt, (why, permanent) => {
        this.feed?.close();
        if (permanent) this.stopped = true;
        else this.ended(why);
      });
      window.relayConsole.player = this.player;
      const ended = (why) => this.ended(why);
      const push = (data) => this.player.push(data);
      if (this.via === 'ws') this.feed = new WSFeed(url, push, ended);
      else if (this.via === 'http') this.feed = new HTTPFeed(url, push, ended);
      else this.feed = new HLSFeed(url, push, ended);
      previewStatus(`connecting to ${url}`);
      console.info(`preview ${this.stream} via ${this.via}: ${url}`);
    }

    async startWebRTC(url) {
      const list = state.streams || await state.firstList || [];
      if (this.stopped) return;
      const unplayable = webrtcUnplayable(this.stream, list);
      if (unplayable) {
        this.giveUp(unplayable);
        return;
      }
      this.player = new WHEPPlayer(this.video, url, (text, bad) => previewStatus(text, bad), this.openedAt, (why, permanent) => {
        if (!permanent) this.ended(why);
        else this.giveUp(webrtcUnplayable(this.stream, state.streams || []) || why);
      });
      window.relayConsole.player = this.player;
      previewStatus(`WHEP offer to ${url}`);
      console.info(`preview ${this.stream} via webrtc: ${url}`);
    }

    /// Stops for good: trying again would fail the same way.
    giveUp(why) {
      this.stopped = true;
      if (this.player) this.player.stats.stopped = why;  // it stopped itself
      else window.relayConsole.player = { stats: { via: this.via, stopped: why } };
      previewStatus(why, true);
      console.error(`preview ${this.stream}: ${why}`);
    }

    ended(why) {
      if (this.stopped) return;
      this.player?.stop(why);
      previewStatus(`${why}; retrying`, true);
      console.warn(`preview ${this.stream}: ${why}`);
      this.retry = setTimeout(() => this.start(), RETRY_MS);
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.retry);
      this.feed?.close();
      this.player?.stop('stopped');
    }
  }

  // MARK: publish: #/publish/APP/STREAM, the browser's camera and microphone over WHIP

  function applyPublish(want) {
    const now = state.publish;
    if (now && (!want || now.stream !== want.stream)) stopPublish();
    if (!want || state.publish || !state.server) return;
    state.publish = new PublishPage(want.stream);
  }

  function stopPublish() {
    state.publish?.close();
    state.publish = null;
  }

  function publishStatus(text, bad = false) {
    $('publish-status').textContent = text;
    $('publish-status').classList.toggle('error', bad);
  }

  /// The camera's preview, and a WHIP publish of it while started.
  class PublishPage {
    constructor(stream) {
      this.stream = stream;
      this.closed = false;
      this.camera = 'opening';
      this.publisher = null;
      $('publish').hidden = false;
      $('publish-id').textContent = stream;
      $('publish-toggle').textContent = 'Start';
      $('publish-toggle').disabled = true;
      this.ticker = setInterval(() => this.show(), 500);
      this.open();
    }

    async open() {
      if (!navigator.mediaDevices?.getUserMedia) {
        this.camera = 'no camera: the page must be on https or localhost';
        publishStatus(this.camera, true);
        return;
      }
      publishStatus('asking for the camera');
      let media;
      try {
        media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      } catch (e) {
        // No microphone: the camera alone.
        try {
          if (e.name !== 'NotFoundError') throw e;
          media = await navigator.mediaDevices.getUserMedia({ video: true });
        } catch (e2) {
          this.camera = `camera: ${e2.name} ${e2.message}`;
          publishStatus(this.camera, true);
          return;
        }
      }
      if (this.closed) {
        media.getTracks().forEach((t) => t.stop());
        return;
      }
      this.media = media;
      this.camera = 'ready';
      $('camera').srcObject = media;
      $('publish-toggle').disabled = false;
      publishStatus(`camera ready (${media.getTracks().map((t) => t.label || t.kind).join(', ')})`);
    }

    toggle() {
      if (this.publisher && !this.publisher.stopped) this.stop();
      else this.start();
    }

    start() {
      if (!this.media || this.closed) return;
      const url = mediaURL(location.protocol === 'https:' ? 'https' : 'http', this.stream, '/whip');
      if (!url) {
        publishStatus('no publish: the relay has no http_flv listener (the players\' port)', true);
        return;
      }
      this.publisher = new WHIPPublisher(this.media, url, (why) => {
        $('publish-toggle').textContent = 'Start';
        publishStatus(why, true);
      });
      $('publish-toggle').textContent = 'Stop';
      publishStatus(`WHIP offer to ${url}`);
      console.info(`publish ${this.stream}: ${url}`);
    }

    stop() {
      this.publisher?.stop('stopped');
      $('publish-toggle').textContent = 'Start';
      publishStatus('stopped');
    }

    show() {
      const s = this.publisher?.stats;
      if (!s || this.publisher.stopped || !s.answerAt) return;
      publishStatus(`${s.state}: ${s.codecs || '…'} · ${s.framesEncoded} frames, ${s.packetsSent + s.audioPacketsSent} packets sent`);
    }

    close() {
      this.closed = true;
      clearInterval(this.ticker);
      this.publisher?.stop('closed');
      this.media?.getTracks().forEach((t) => t.stop());
      $('camera').srcObject = null;
      $('publish').hidden = true;
    }
  }

  // For tests and the curious: the preview's player and its timings (performance.now() ms),
  // and the publish page's state.
  window.relayConsole = {
    player: null,
    get stats() { return this.player ? this.player.stats : null; },
    get publish() {
      const p = state.publish;
      return p ? Object.assign({ stream: p.stream, camera: p.camera }, p.publisher?.stats) : null;
    },
  };

  poll();
})();
