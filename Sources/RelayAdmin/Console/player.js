// LiveRelay web console, the preview's player: Media Source Extensions fed by the relay's fMP4
// outputs (WebSocket, HTTP, LL-HLS/HLS fMP4 playlists). Loaded before app.js; plain JS.
'use strict';

window.LiveRelayPlayer = (() => {
  // Playback seconds kept behind the playhead (more than a long GOP: a removal runs on to the
  // next key frame), and how far behind before trimming.
  const KEEP_BEHIND_S = 20;
  const TRIM_AFTER_S = 30;
  // Live edge: beyond CATCH_UP_S behind, play a little faster; beyond JUMP_S, seek.
  const CATCH_UP_S = 1.0;
  const SETTLED_S = 0.4;
  const JUMP_S = 3.0;
  const MAX_BOX_BYTES = 64 << 20;
  const MAX_QUEUED_BYTES = 32 << 20;

  /// fMP4 over WebSocket: one binary message per segment (any split works).
  class WSFeed {
    constructor(url, push, ended) {
      this.ws = new WebSocket(url);
      this.ws.binaryType = 'arraybuffer';
      this.ws.onmessage = (e) => { if (e.data instanceof ArrayBuffer) push(new Uint8Array(e.data)); };
      this.ws.onclose = (e) => ended(`WebSocket closed (${e.code}${e.reason ? ' ' + e.reason : ''})`);
    }

    close() {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close();
    }
  }

  /// fMP4 over HTTP (chunked): the body read as it arrives.
  class HTTPFeed {
    constructor(url, push, ended) {
      this.abort = new AbortController();
      this.run(url, push, ended);
    }

    async run(url, push, ended) {
      try {
        const answer = await fetch(url, { signal: this.abort.signal, cache: 'no-store' });
        if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
        const reader = answer.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          push(value);
        }
        ended('the stream ended');
      } catch (e) {
        if (e.name !== 'AbortError') ended(e.message);
      }
    }

    close() { this.abort.abort(); }
  }

  /// HLS / LL-HLS with fMP4 segments: the init section (EXT-X-MAP), then from the newest
  /// independent part (LL-HLS) or the newest segment on, part by part, with blocking playlist
  /// reloads (`_HLS_msn`/`_HLS_part`) when the server offers them.
  class HLSFeed {
    constructor(url, push, ended) {
      this.url = new URL(url);
      this.abort = new AbortController();
      this.run(push, ended);
    }

    close() { this.abort.abort(); }

    async get(url, kind) {
      const answer = await fetch(url, { signal: this.abort.signal, cache: 'no-store' });
      if (!answer.ok) throw new Error(`${url.pathname}: HTTP ${answer.status}`);
      return kind === 'text' ? answer.text() : new Uint8Array(await answer.arrayBuffer());
    }

    async playlist(msn, part) {
      const url = new URL(this.url);
      if (msn !== undefined && this.blocking) {
        url.searchParams.set('_HLS_msn', String(msn));
        if (part !== undefined && this.hasParts) url.searchParams.set('_HLS_part', String(part));
      }
      const text = await this.get(url, 'text');
      const list = parsePlaylist(text, url);
      this.blocking = list.canBlock;
      this.hasParts = list.segments.some((s) => s.parts.length);
      // A variant (multivariant) playlist: follow its first stream.
      if (list.variants.length && !list.segments.length) {
        if (this.followed) throw new Error('the variant playlist is a multivariant playlist again');
        this.followed = true;
        this.url = list.variants[0];
        return this.playlist();
      }
      return list;
    }

    async run(push, ended) {
      try {
        let list = await this.playlist();
        if (!list.map) throw new Error('the playlist has no EXT-X-MAP (not an fMP4 playlist)');
        let map = list.map.href;
        push(await this.get(list.map));
        let [msn, part] = startPoint(list);
        for (;;) {
          const seg = list.segments.find((s) => s.msn === msn);
          if (!seg && list.segments.length && msn < list.segments[0].msn) {
            [msn, part] = startPoint(list);  // fell behind the playlist's window
            continue;
          }
          if (seg && part < seg.parts.length) {
            push(await this.get(seg.parts[part].uri));
            part += 1;
            continue;
          }
          if (seg && seg.uri) {
            if (!seg.parts.length) push(await this.get(seg.uri));
            msn += 1;
            part = 0;
            continue;
          }
          // What comes next is not in this playlist yet.
          if (list.ended) break;
          if (!this.blocking) await sleep(Math.max(100, (list.partTarget || list.target / 2) * 1000));
          list = await this.playlist(msn, part);
          if (list.map && list.map.href !== map) {
            map = list.map.href;
            push(await this.get(list.map));
          }
        }
        ended('the playlist ended');
      } catch (e) {
        if (e.name !== 'AbortError') ended(e.message);
      }
    }
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  /// Where to join: the newest independent part (LL-HLS; else the first part of the newest
  /// segment that has parts: segments start on key frames), else the newest complete segment.
  function startPoint(list) {
    for (let i = list.segments.length - 1; i >= 0; i--) {
      const parts = list.segments[i].parts;
      for (let p = parts.length - 1; p >= 0; p--) {
        if (parts[p].independent) return [list.segments[i].msn, p];
      }
    }
    const withParts = list.segments.filter((s) => s.parts.length);
    if (withParts.length) return [withParts[withParts.length - 1].msn, 0];
    const complete = list.segments.filter((s) => s.uri);
    if (complete.length) return [complete[complete.length - 1].msn, 0];
    return [list.mediaSequence, 0];
  }

  function attributes(text) {
    const out = {};
    const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
    let m;
    while ((m = re.exec(text))) out[m[1]] = m[2].replace(/^"|"$/g, '');
    return out;
  }

  /// The tags of RFC 8216 (and its LL-HLS update) the preview needs.
  function parsePlaylist(text, base) {
    const list = { segments: [], variants: [], map: null, mediaSequence: 0, target: 2, partTarget: 0, canBlock: false, ended: false };
    let msn = 0;
    let parts = [];
    let nextIsVariant = false;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line) continue;
      if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
        list.mediaSequence = parseInt(line.slice(22), 10) || 0;
        msn = list.mediaSequence;
      } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
        list.target = parseFloat(line.slice(22)) || 2;
      } else if (line.startsWith('#EXT-X-PART-INF:')) {
        list.partTarget = parseFloat(attributes(line.slice(16))['PART-TARGET']) || 0;
      } else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
        list.canBlock = attributes(line.slice(22))['CAN-BLOCK-RELOAD'] === 'YES';
      } else if (line.startsWith('#EXT-X-MAP:')) {
        list.map = new URL(attributes(line.slice(11)).URI, base);
      } else if (line.startsWith('#EXT-X-PART:')) {
        const a = attributes(line.slice(12));
        parts.push({ uri: new URL(a.URI, base), independent: a.INDEPENDENT === 'YES' });
      } else if (line.startsWith('#EXT-X-ENDLIST')) {
        list.ended = true;
      } else if (line.startsWith('#EXT-X-STREAM-INF:')) {
        nextIsVariant = true;
      } else if (!line.startsWith('#')) {
        if (nextIsVariant) {
          list.variants.push(new URL(line, base));
          nextIsVariant = false;
        } else {
          list.segments.push({ msn, uri: new URL(line, base), parts });
          msn += 1;
          parts = [];
        }
      }
    }
    // The segment being made: its parts so far, no URI yet.
    if (parts.length) list.segments.push({ msn, uri: null, parts });
    return list;
  }

  // MARK: MSE player

  /// A stream this browser cannot play at all.
  class Unplayable extends Error {}

  /// Splits a byte stream into whole top-level ISO BMFF boxes, however it was chunked.
  class BoxSplitter {
    constructor() {
      this.chunks = [];
      this.total = 0;
      this.need = 0;
    }

    flatten() {
      if (this.chunks.length > 1) this.chunks = [concat(this.chunks)];
    }

    push(data) {
      const out = [];
      this.chunks.push(data);
      this.total += data.length;
      for (;;) {
        if (this.need === 0) {
          if (this.total < 8) break;
          this.flatten();
          const b = this.chunks[0];
          let size = u32(b, 0);
          if (size === 1) {
            if (this.total < 16) break;
            size = u32(b, 8) * 2 ** 32 + u32(b, 12);
          }
          if (size < 8 || size > MAX_BOX_BYTES) throw new Error(`bad MP4 box size ${size} (${fourcc(b, 4)})`);
          this.need = size;
        }
        if (this.total < this.need) break;
        this.flatten();
        const b = this.chunks[0];
        out.push(b.subarray(0, this.need));
        const rest = b.subarray(this.need);
        this.chunks = rest.length ? [rest] : [];
        this.total = rest.length;
        this.need = 0;
      }
      return out;
    }
  }

  /// Feeds fMP4 boxes into a SourceBuffer: the codecs from the init segment, media appended in
  /// batches, old ranges removed, the playhead kept near the live edge.
  class MSEPlayer {
    constructor(video, status, openedAt, failed) {
      this.video = video;
      this.status = status;
      this.failed = failed;
      this.splitter = new BoxSplitter();
      this.queue = [];
      this.queued = 0;
      this.ftyp = null;
      this.sb = null;
      this.mediaSource = null;
      this.stopped = false;
      this.started = false;
      this.stats = { openedAt, firstByteMs: null, initMs: null, firstFrameMs: null, codecs: null, bytes: 0, jumps: 0 };
      this.watchdog = setInterval(() => this.watch(), 250);
      this.lastTime = -1;
      this.stuckSince = 0;
      this.listening = new AbortController();  // the video element's listeners of this player
    }

    push(data) {
      if (this.stopped) return;
      if (this.stats.firstByteMs === null) this.stats.firstByteMs = performance.now();
      this.stats.bytes += data.length;
      try {
        for (const box of this.splitter.push(data)) this.box(box);
      } catch (e) {
        this.fail(e.message, e instanceof Unplayable);
      }
    }

    box(b) {
      const type = fourcc(b, 4);
      if (type === 'ftyp') {
        this.ftyp = b;
        return;
      }
      if (type === 'moov') {
        const init = this.ftyp ? concat([this.ftyp, b]) : b;
        this.ftyp = null;
        const codecs = codecsOf(b);
        const changed = codecs !== this.stats.codecs;
        this.stats.codecs = codecs;
        if (!this.mediaSource) {
          this.open(codecs);
        } else if (changed && this.sb && this.sb.changeType) {
          this.enqueue({ changeType: `video/mp4; codecs="${codecs}"` });
        }
        this.enqueue(init);
        return;
      }
      if (!this.mediaSource) return;  // media before any init segment
      if (type === 'moof' || type === 'mdat' || type === 'styp' || type === 'sidx' || type === 'prft' || type === 'emsg') {
        this.enqueue(b);
      }
    }

    open(codecs) {
      const MS = window.ManagedMediaSource || window.MediaSource;
      if (!MS) throw new Unplayable('this browser has no Media Source Extensions');
      const mime = `video/mp4; codecs="${codecs}"`;
      if (!MS.isTypeSupported(mime)) throw new Unplayable(`this browser cannot play ${mime}`);
      this.stats.initMs = performance.now();
      this.mediaSource = new MS();
      this.video.disableRemotePlayback = true;  // ManagedMediaSource (Safari) wants it
      this.video.src = URL.createObjectURL(this.mediaSource);
      this.mediaSource.addEventListener('sourceopen', () => {
        URL.revokeObjectURL(this.video.src);
        if (this.stopped) return;
        try {
          this.sb = this.mediaSource.addSourceBuffer(mime);
        } catch (e) {
          this.fail(`addSourceBuffer(${mime}): ${e.message}`);
          return;
        }
        this.sb.mode = 'segments';
        this.sb.addEventListener('updateend', () => this.updated());
        this.sb.addEventListener('error', () => this.fail('the browser could not decode the stream'));
        this.pump();
      }, { once: true });
      const signal = this.listening.signal;
      this.video.addEventListener('error', () => this.fail(`video error ${this.video.error?.code}: ${this.video.error?.message || ''}`),
        { once: true, signal });
      const frame = () => { if (this.stats.firstFrameMs === null && !this.stopped) this.stats.firstFrameMs = performance.now(); };
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(frame);
      else this.video.addEventListener('loadeddata', frame, { once: true, signal });
      this.status(`playing ${codecs}`);
    }

    enqueue(item) {
      this.queue.push(item);
      if (item.length) this.queued += item.length;
      if (this.queued > MAX_QUEUED_BYTES) {
        this.fail('the browser does not take the media as fast as it comes');
        return;
      }
      this.pump();
    }

    pump() {
      const sb = this.sb;
      if (!sb || sb.updating || this.stopped || this.mediaSource.readyState !== 'open') return;
      const buffered = sb.buffered;
      if (buffered.length && this.video.currentTime - buffered.start(0) > TRIM_AFTER_S) {
        sb.remove(0, this.video.currentTime - KEEP_BEHIND_S);
        return;
      }
      if (!this.queue.length) return;
      if (this.queue[0].changeType) {
        sb.changeType(this.queue.shift().changeType);
      }
      // One append for every queued box up to the next type change.
      let n = 0;
      while (n < this.queue.length && !this.queue[n].changeType) n += 1;
      if (n === 0) return this.pump();
      const data = n === 1 ? this.queue[0] : concat(this.queue.slice(0, n));
      this.queue.splice(0, n);
      this.queued -= data.length;
      try {
        sb.appendBuffer(data);
      } catch (e) {
        this.fail(`appendBuffer: ${e.name} ${e.message}`);
      }
    }

    updated() {
      if (this.stopped) return;
      const v = this.video;
      const b = v.buffered;
      if (b.length && !this.started) {
        this.started = true;
        if (v.currentTime < b.start(0) || v.currentTime > b.end(b.length - 1)) v.currentTime = b.start(0);
        v.play().catch((e) => this.status(`press play (${e.message})`, true));
      }
      this.pump();
    }

    /// Keeps the playhead near the live edge and steps over gaps the browser would wait on.
    watch() {
      const v = this.video;
      const b = v.buffered;
      if (!this.started || !b.length || v.paused) return;
      const end = b.end(b.length - 1);
      const lag = end - v.currentTime;
      if (lag > JUMP_S) {
        v.currentTime = end - SETTLED_S;
        this.stats.jumps += 1;
      } else if (lag > CATCH_UP_S) {
        v.playbackRate = lag > 2 * CATCH_UP_S ? 1.25 : 1.1;
      } else if (lag < SETTLED_S) {
        v.playbackRate = 1;
      }
      const now = performance.now();
      if (v.currentTime !== this.lastTime) {
        this.lastTime = v.currentTime;
        this.stuckSince = now;
      } else if (now - this.stuckSince > 1000) {
        for (let i = 0; i < b.length; i++) {
          if (b.start(i) > v.currentTime) {
            v.currentTime = b.start(i) + 0.01;
            this.stats.jumps += 1;
            break;
          }
        }
        this.stuckSince = now;
      }
    }

    /// `permanent`: trying again would fail the same way (a codec this browser lacks).
    fail(message, permanent = false) {
      if (this.stopped) return;
      this.status(message, true);
      console.error(`preview: ${message}`);
      this.stop(message);
      this.failed(message, permanent);
    }

    stop(why) {
      if (this.stopped) return;
      this.stopped = true;
      this.stats.stopped = why;
      clearInterval(this.watchdog);
      this.listening.abort();
      this.queue = [];
      this.video.pause();
      this.video.removeAttribute('src');
      this.video.load();
    }
  }

  // MARK: ISO BMFF: the codecs string of an init segment (ISO/IEC 14496-12 and -15, RFC 6381)

  function u32(b, o) { return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]; }
  function fourcc(b, o) { return String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]); }
  function hex2(n) { return n.toString(16).toUpperCase().padStart(2, '0'); }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /// The boxes in b[start..<end]: {type, start (of the payload), end}.
  function boxesIn(b, start, end) {
    const out = [];
    let o = start;
    while (o + 8 <= end) {
      let size = u32(b, o);
      let header = 8;
      if (size === 1) {
        if (o + 16 > end) break;
        size = u32(b, o + 8) * 2 ** 32 + u32(b, o + 12);
        header = 16;
      } else if (size === 0) {
        size = end - o;
      }
      if (size < header || o + size > end) break;
      out.push({ type: fourcc(b, o + 4), start: o + header, end: o + size });
      o += size;
    }
    return out;
  }

  function child(b, box, type, skip = 0) {
    return boxesIn(b, box.start + skip, box.end).find((c) => c.type === type) || null;
  }

  function codecsOf(moov) {
    const codecs = [];
    const top = boxesIn(moov, 0, moov.length)[0];
    for (const trak of boxesIn(moov, top.start, top.end).filter((c) => c.type === 'trak')) {
      let box = trak;
      for (const type of ['mdia', 'minf', 'stbl', 'stsd']) box = box && child(moov, box, type);
      if (!box) continue;
      const entry = boxesIn(moov, box.start + 8, box.end)[0];  // after version, flags, entry_count
      const codec = entry && sampleEntryCodec(moov, entry);
      if (codec) codecs.push(codec);
    }
    if (!codecs.length) throw new Unplayable('the init segment has no track the preview can play');
    return codecs.join(',');
  }

  function sampleEntryCodec(b, entry) {
    switch (entry.type) {
      case 'avc1': case 'avc3': {
        // VisualSampleEntry: 78 bytes before its boxes.
        const c = child(b, entry, 'avcC', 78);
        if (!c || c.end - c.start < 4) return `${entry.type}.42E01E`;
        return entry.type + '.' + hex2(b[c.start + 1]) + hex2(b[c.start + 2]) + hex2(b[c.start + 3]);
      }
      case 'hvc1': case 'hev1': {
        const c = child(b, entry, 'hvcC', 78);
        return c && c.end - c.start >= 13 ? hevcCodec(entry.type, b, c.start) : `${entry.type}.1.6.L93.B0`;
      }
      case 'mp4a': {
        // AudioSampleEntry: 28 bytes before its boxes.
        const c = child(b, entry, 'esds', 28);
        return (c && mp4aCodec(b, c)) || 'mp4a.40.2';
      }
      case 'Opus': return 'opus';
      case 'fLaC': return 'flac';
      default: return null;
    }
  }

  /// ISO/IEC 14496-15 Annex E: hvc1.<space><profile>.<compat, bit-reversed>.<tier><level>.<constraints>
  function hevcCodec(type, b, o) {
    const p = b[o + 1];
    const space = ['', 'A', 'B', 'C'][p >> 6];
    let compat = u32(b, o + 2);
    let reversed = 0;
    for (let i = 0; i < 32; i++) {
      reversed = (reversed << 1) | (compat & 1);
      compat >>>= 1;
    }
    const constraints = Array.from(b.subarray(o + 6, o + 12));
    while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop();
    return `${type}.${space}${p & 0x1f}.${(reversed >>> 0).toString(16).toUpperCase()}.${p & 0x20 ? 'H' : 'L'}${b[o + 12]}`
      + constraints.map((c) => '.' + c.toString(16).toUpperCase()).join('');
  }

  /// mp4a.<objectTypeIndication>[.<audio object type>] from the esds descriptors (ISO/IEC 14496-1).
  function mp4aCodec(b, esds) {
    const descriptor = (o, end) => {
      if (o >= end) return null;
      const tag = b[o];
      let len = 0;
      let i = o + 1;
      for (let n = 0; n < 4 && i < end; n++) {
        const c = b[i++];
        len = (len << 7) | (c & 0x7f);
        if (!(c & 0x80)) break;
      }
      return { tag, start: i, end: Math.min(i + len, end) };
    };
    const es = descriptor(esds.start + 4, esds.end);
    if (!es || es.tag !== 3) return null;
    let o = es.start + 2;
    const flags = b[o++];
    if (flags & 0x80) o += 2;
    if (flags & 0x40) o += 1 + b[o];
    if (flags & 0x20) o += 2;
    const config = descriptor(o, es.end);
    if (!config || config.tag !== 4) return null;
    const oti = b[config.start];
    if (oti !== 0x40) return 'mp4a.' + hex2(oti);
    const info = descriptor(config.start + 13, config.end);
    if (!info || info.tag !== 5 || info.end - info.start < 1) return 'mp4a.40.2';
    let aot = b[info.start] >> 3;
    if (aot === 31 && info.end - info.start >= 2) aot = 32 + (((b[info.start] & 7) << 3) | (b[info.start + 1] >> 5));
    return 'mp4a.40.' + aot;
  }

  return { MSEPlayer, WSFeed, HTTPFeed, HLSFeed };
})();
