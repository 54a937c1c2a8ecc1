/*
 * LmsPlayer: the learner's tracked courseware player, and the base's untracked preview.
 *
 *   <section id="player" data-courseware-id="12" data-master-url="/play/12/master.m3u8" data-tracked="true">
 *     (video, controls, status; see lms/player/templates/player/play.html)
 *   </section>
 *   <script src="/static/vendor/socket.io.min.js"></script> <script src="/static/vendor/hls.min.js"></script>
 *   <script src="/static/player.js"></script> <script>LmsPlayer.attach(document.getElementById("player"));</script>
 *
 * A tracked page talks to the "/tracking" Socket.IO namespace exactly as docs/tracking-protocol.md says: it opens
 * a playback first and only then starts hls.js (the AES key is handed out only during an open playback), sends a
 * heartbeat after each delay the server draws with the token of the previous acknowledgement, answers attention
 * checks in a modal dialog, resumes after a reconnect and closes on pagehide. The server alone judges time; what
 * the page refuses (seeking past the verified position, another playback rate, playing while hidden) it refuses
 * so that an honest learner does not lose time by accident, and reports as hints.
 */
(function (global) {
  "use strict";

  var NAMESPACE = "/tracking";
  var ACK_TIMEOUT_MS = 10000; // an acknowledgement later than this is taken as lost: reopen for a fresh token
  var RETRY_S = 5;
  var SEEK_SLACK_S = 1; // what the page itself played since the last heartbeat may be a second ahead of it
  // Said when a rate change is undone; the server's sentence for a stretch that did play faster is
  // "检测到倍速播放，本段不计时" (docs/tracking-protocol.md §4), listed with the other uncounted stretches.
  var RATE_NOTICE = "播放速度固定为 {rate} 倍速，已为您恢复；检测到倍速播放的时段不计学时。";
  var NOTICE_MS = 8000; // how long a notice about the learner's own action stays before "计时中。" replaces it
  var PLAYED_STEP_S = 3; // a timeupdate step at most this large is playing, not seeking
  var SEEK_STEP_S = 5;
  var BACK_STEP_S = 10;
  var VOLUME_STEP = 0.1;
  var MAX_LIST_ITEMS = 100;
  var DEVICE_KEY = "lms-device";
  var MPEGURL = "application/vnd.apple.mpegurl";

  /* ---------------------------------------------------------------------------------------------- formatting */

  // The same wording as the server's format_duration: "45 秒", "2 分 10 秒", "1 小时 5 分".
  function formatDuration(seconds) {
    var total = Math.round(seconds || 0);
    if (total < 1) return seconds > 0 ? "不到 1 秒" : "0 秒";
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    if (hours) return minutes ? hours + " 小时 " + minutes + " 分" : hours + " 小时";
    if (minutes) return secs ? minutes + " 分 " + secs + " 秒" : minutes + " 分钟";
    return secs + " 秒";
  }

  function clockTime(seconds) {
    var total = Math.max(0, Math.floor(seconds || 0));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
    return (hours ? hours + ":" : "") + mm + ":" + String(secs).padStart(2, "0");
  }

  function spokenTime(seconds) {
    var total = Math.max(0, Math.floor(seconds || 0));
    var minutes = Math.floor(total / 60);
    return (minutes ? minutes + " 分 " : "") + (total % 60) + " 秒";
  }

  function round3(value) {
    return Math.round((value || 0) * 1000) / 1000;
  }

  function now() {
    return global.performance && performance.now ? performance.now() : Date.now();
  }

  // A random id kept on this device (protocol: `device`); several accounts on one device are evidence.
  function deviceId() {
    try {
      var id = global.localStorage.getItem(DEVICE_KEY);
      if (id && /^[A-Za-z0-9_-]{8,64}$/.test(id)) return id;
      var bytes = new Uint8Array(16);
      global.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      global.localStorage.setItem(DEVICE_KEY, id);
      return id;
    } catch (e) {
      return null; // storage disabled: the device id is optional
    }
  }

  // Coarse properties of this browser (protocol: `device_traits`): never trusted alone, they only tell the server
  // that two device ids behind one address may be one machine whose storage was cleared.
  function deviceTraits() {
    try {
      var s = global.screen || {};
      var n = global.navigator || {};
      return {
        screen: (s.width || 0) + "x" + (s.height || 0) + "x" + (s.colorDepth || 0),
        tz: (global.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "",
        lang: n.language || "",
        platform: n.platform || "",
        cores: n.hardwareConcurrency || 0,
        memory: n.deviceMemory || 0,
        touch: n.maxTouchPoints || 0
      };
    } catch (e) {
      return null;
    }
  }

  /* ---------------------------------------------------------------------------------------------- the player */

  function attach(root) {
    if (!root) return null;
    var $ = function (selector) { return root.querySelector(selector); };
    var video = root.querySelector("video");
    var coursewareId = parseInt(root.dataset.coursewareId, 10);
    var masterUrl = root.dataset.masterUrl;
    var tracked = root.dataset.tracked === "true";
    var ui = {
      play: $("[data-action=play]"), back: $("[data-action=back]"), seek: $("[data-seek]"), time: $("[data-time]"),
      mute: $("[data-action=mute]"), volume: $("[data-volume]"), captions: $("[data-action=captions]"),
      fullscreen: $("[data-action=fullscreen]"), frame: $("[data-frame]"), status: $("[data-status]"),
      takeover: $("[data-takeover]"), takeoverMessage: $("[data-takeover-message]"),
      continueHere: $("[data-action=continue-here]"), held: $("[data-held]"), heldSummary: $("[data-held-summary]"),
      heldReasons: $("[data-held-reasons]"), rateNotice: $("[data-rate-notice]"),
    };
    var summary = document.querySelector("[data-summary]");
    var s = function (selector) { return summary ? summary.querySelector(selector) : null; };
    var totals = {
      watch: s("[data-watch-time]"), progress: s("[data-watch-progress]"), session: s("[data-session-time]"),
      pending: s("[data-pending]"), pendingTime: s("[data-pending-time]"), coverage: s("[data-coverage]"),
      pendingNote: s("[data-pending-note]"),
      completion: s("[data-completion]"), list: s("[data-uncounted]"), empty: s("[data-uncounted-empty]"),
    };
    var dialog = document.querySelector("[data-check]");
    var d = function (selector) { return dialog ? dialog.querySelector(selector) : null; };
    var checkUi = {
      form: d("[data-check-form]"), prompt: d("[data-check-prompt]"), code: d("[data-check-code]"),
      options: d("[data-check-options]"), field: d("[data-check-field]"), input: d("[data-check-input]"),
      remaining: d("[data-check-remaining]"), error: d("[data-check-error]"), submit: d("[data-check-submit]"),
      later: d("[data-action=check-later]"),
    };

    var hls = null;
    var started = false;
    var socket = null;
    var session = {
      sid: null, token: null, allowedRate: 1, intervalS: 5, minIntervalMs: 2000, lastAckAt: 0,
      furthestVerified: 0, busy: false, requestSeq: 0, timer: null, stopped: false, superseded: false,
      seekBlocked: 0, rateBlocked: 0, rateTried: null,
    };
    var local = { lastPosition: 0, watchedUntil: 0, pausedForHidden: false, pausedForCheck: false };
    var check = { current: null, dismissed: null, countdown: null, wasPlaying: false };

    var noticeUntil = 0;

    function setStatus(text) {
      if (ui.status.textContent !== text) ui.status.textContent = text; // unchanged text is not announced again
    }

    // A notice about something the learner just did stays readable; routine heartbeats do not overwrite it.
    function setNotice(text) {
      setStatus(text);
      noticeUntil = now() + NOTICE_MS;
    }

    /* ------------------------------------------------------------------------------------------ media */

    function startMedia(startAt) {
      if (started) return;
      started = true;
      local.lastPosition = local.watchedUntil = startAt || 0;
      if (global.Hls && global.Hls.isSupported()) {
        hls = new global.Hls({ startPosition: startAt || 0, maxBufferLength: 30, capLevelToPlayerSize: true });
        hls.on(global.Hls.Events.ERROR, onHlsError);
        hls.on(global.Hls.Events.SUBTITLE_TRACKS_UPDATED, updateCaptionsButton);
        hls.loadSource(masterUrl);
        hls.attachMedia(video);
      } else if (video.canPlayType(MPEGURL)) {
        video.src = masterUrl; // Safari and iOS play HLS themselves
        video.addEventListener("loadedmetadata", function () {
          if (startAt) video.currentTime = startAt;
        }, { once: true });
      } else {
        setStatus("您的浏览器不能播放该视频，请使用新版的 Chrome、Edge、Firefox 或 Safari 浏览器。");
        return;
      }
      video.preload = "auto";
      ui.play.disabled = ui.back.disabled = ui.seek.disabled = false;
      applyRate();
    }

    function onHlsError(_event, data) {
      if (!data.fatal) return;
      var Hls = global.Hls;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        var refused = data.response && (data.response.code === 403 || data.response.code === 401);
        setStatus(refused ? "视频暂时无法加载：计时会话已失效，正在重新连接…" : "视频加载失败，正在重试…");
        if (refused && tracked) openPlayback();
        setTimeout(function () { if (hls) hls.startLoad(); }, RETRY_S * 1000);
      } else {
        hls.destroy();
        hls = null;
        setStatus("视频无法播放，请刷新页面重试。");
      }
    }

    function applyRate() {
      video.defaultPlaybackRate = session.allowedRate;
      if (video.playbackRate !== session.allowedRate) video.playbackRate = session.allowedRate;
    }

    function togglePlay() {
      if (!started) return;
      if (video.paused || video.ended) {
        var attempt = video.play();
        if (attempt && attempt.catch) attempt.catch(function () {});
      } else {
        video.pause();
      }
    }

    function seekBy(seconds) {
      if (!started) return;
      var target = Math.max(0, (video.currentTime || 0) + seconds);
      if (isFinite(video.duration)) target = Math.min(target, video.duration);
      video.currentTime = target;
    }

    function setVolume(value) {
      video.volume = Math.min(1, Math.max(0, Math.round(value * 100) / 100));
      if (video.volume > 0) video.muted = false;
      setStatus("音量 " + Math.round(video.volume * 100) + "%" + (video.muted ? "（已静音）" : ""));
    }

    function captionTracks() {
      if (hls) return hls.subtitleTracks || [];
      return Array.prototype.filter.call(video.textTracks || [], function (t) {
        return t.kind === "subtitles" || t.kind === "captions";
      });
    }

    function updateCaptionsButton() {
      ui.captions.hidden = captionTracks().length === 0;
    }

    function toggleCaptions() {
      var tracks = captionTracks();
      if (!tracks.length) {
        setStatus("该视频没有字幕。");
        return;
      }
      var on;
      if (hls) {
        on = hls.subtitleTrack === -1;
        hls.subtitleTrack = on ? 0 : -1;
        hls.subtitleDisplay = on;
      } else {
        on = tracks[0].mode !== "showing";
        tracks.forEach(function (t, i) { t.mode = on && i === 0 ? "showing" : "disabled"; });
      }
      ui.captions.setAttribute("aria-pressed", String(on));
      setStatus(on ? "字幕已打开" : "字幕已关闭");
    }

    function toggleFullscreen() {
      if (document.fullscreenElement) {
        document.exitFullscreen();
      } else if (ui.frame.requestFullscreen) {
        ui.frame.requestFullscreen().catch(function () {});
      } else if (video.webkitEnterFullscreen) {
        video.webkitEnterFullscreen(); // iPhone: only the video itself goes full screen
      }
    }

    function renderTime() {
      var duration = isFinite(video.duration) ? video.duration : 0;
      var position = video.currentTime || 0;
      ui.time.textContent = clockTime(position) + " / " + clockTime(duration);
      ui.seek.max = String(Math.floor(duration));
      if (document.activeElement !== ui.seek) ui.seek.value = String(Math.floor(position));
      ui.seek.setAttribute("aria-valuetext", spokenTime(position) + "，共 " + spokenTime(duration));
    }

    function mayPlayNow() {
      if (!tracked) return true;
      if (session.superseded || session.stopped) return false;
      if (check.current && check.current.blocking) return false;
      return !document.hidden;
    }

    video.addEventListener("play", function () {
      if (!mayPlayNow()) {
        video.pause();
        if (check.current && check.current.blocking && !dialog.open) dialog.showModal();
        if (session.superseded) ui.continueHere.focus();
        return;
      }
      local.pausedForHidden = false;
    });

    video.addEventListener("playing", function () {
      ui.play.textContent = "暂停";
      ui.play.setAttribute("aria-label", "暂停");
    });

    video.addEventListener("pause", function () {
      ui.play.textContent = "播放";
      ui.play.setAttribute("aria-label", "播放");
    });

    video.addEventListener("timeupdate", function () {
      if (!video.seeking) {
        var position = video.currentTime;
        var step = position - local.lastPosition;
        if (step >= 0 && step <= PLAYED_STEP_S) local.watchedUntil = Math.max(local.watchedUntil, position);
        local.lastPosition = position;
      }
      renderTime();
    });

    video.addEventListener("durationchange", renderTime);

    // No seeking forward past the furthest verified position (SPEC §3 invariant 4): snap back, and say why.
    video.addEventListener("seeking", function () {
      if (!tracked) return;
      var limit = Math.max(session.furthestVerified, local.watchedUntil) + SEEK_SLACK_S;
      if (video.currentTime > limit) {
        session.seekBlocked += 1;
        video.currentTime = Math.min(local.lastPosition, limit);
        setNotice("只能拖动到已经观看过的位置（已观看到 " + clockTime(limit - SEEK_SLACK_S) + "），请继续播放观看后面的内容。");
      }
    });

    // The playback rate stays at the allowed rate (SPEC §3 invariant 3); faster playing would earn nothing anyway.
    // An attempt (the browser's menu, an extension, the console) is undone, said, and reported as a hint.
    video.addEventListener("ratechange", function () {
      if (!tracked || Math.abs(video.playbackRate - session.allowedRate) < 1e-6) return;
      session.rateBlocked += 1;
      session.rateTried = video.playbackRate;
      video.playbackRate = session.allowedRate;
      var text = RATE_NOTICE.replace("{rate}", String(session.allowedRate));
      if (ui.rateNotice) { // an alert that stays, rather than a status line the next heartbeat replaces
        ui.rateNotice.textContent = text;
        ui.rateNotice.hidden = false;
      } else {
        setNotice(text);
      }
    });

    video.addEventListener("volumechange", function () {
      ui.volume.value = String(video.muted ? 0 : video.volume);
      ui.mute.setAttribute("aria-pressed", String(video.muted));
      ui.mute.textContent = video.muted ? "取消静音" : "静音";
    });

    video.addEventListener("ended", function () {
      // Report the end now: the server offers a check for the time still pending.
      if (tracked && !session.busy && now() - session.lastAckAt >= session.minIntervalMs) sendHeartbeat();
    });

    if (video.textTracks && video.textTracks.addEventListener) {
      video.textTracks.addEventListener("addtrack", updateCaptionsButton);
    }

    document.addEventListener("visibilitychange", function () {
      if (!tracked) return;
      if (document.hidden) {
        if (!video.paused) {
          local.pausedForHidden = true;
          video.pause();
        }
        setStatus("页面已隐藏，视频已暂停；回到本页后继续播放。");
      } else if (local.pausedForHidden) {
        local.pausedForHidden = false;
        setStatus("计时中。");
        togglePlay();
      }
    });

    /* ------------------------------------------------------------------------------------------ controls */

    ui.play.addEventListener("click", togglePlay);
    ui.back.addEventListener("click", function () { seekBy(-BACK_STEP_S); });
    ui.seek.addEventListener("change", function () { if (started) video.currentTime = Number(ui.seek.value); });
    ui.mute.addEventListener("click", function () { video.muted = !video.muted; });
    ui.volume.addEventListener("input", function () { setVolume(Number(ui.volume.value)); });
    ui.captions.addEventListener("click", toggleCaptions);
    ui.fullscreen.addEventListener("click", toggleFullscreen);
    video.addEventListener("click", togglePlay);

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
      var target = event.target;
      if (dialog && dialog.contains(target)) return;
      if (target !== document.body && !root.contains(target)) return;
      var tag = target.tagName;
      var native = tag === "BUTTON" || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA";
      var range = tag === "INPUT" && target.type === "range";
      var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      var handled = true;
      if (key === "k" || (key === " " && !native)) togglePlay();
      else if (key === "ArrowUp" && !range) setVolume(video.volume + VOLUME_STEP);
      else if (key === "ArrowDown" && !range) setVolume(video.volume - VOLUME_STEP);
      else if (key === "ArrowLeft" && !range) seekBy(-SEEK_STEP_S);
      else if (key === "ArrowRight" && !range) seekBy(SEEK_STEP_S);
      else if (key === "m") video.muted = !video.muted;
      else if (key === "c") toggleCaptions();
      else if (key === "f") toggleFullscreen();
      else handled = false;
      if (handled) event.preventDefault();
    });

    if (!tracked) {
      startMedia(0); // the base's preview: nothing to open, nothing counted
      return { video: video };
    }

    /* ------------------------------------------------------------------------------------------ totals */

    function renderTotals(ack) {
      if (!summary) return;
      if (ack.session) {
        var counted = ack.session.credited_s + ack.session.pending_s;
        totals.session.textContent = formatDuration(counted);
        totals.pending.hidden = !(ack.session.pending_s > 0);
        if (totals.pendingNote) totals.pendingNote.hidden = totals.pending.hidden;
        totals.pendingTime.textContent = formatDuration(ack.session.pending_s);
      }
      var cw = ack.courseware;
      if (!cw) return;
      session.furthestVerified = Math.max(session.furthestVerified, cw.furthest_verified_s || 0);
      totals.watch.textContent = formatDuration(cw.watch_s);
      totals.progress.max = cw.required_watch_s || 1;
      totals.progress.value = Math.min(cw.watch_s, cw.required_watch_s || 1);
      totals.coverage.textContent = "已覆盖视频 " + cw.coverage_s + " 秒，需覆盖 " + cw.required_coverage_s + " 秒";
      // Time of a session held for review counts only once a reviewer releases it (docs/tracking-protocol.md §5).
      var done = Boolean(cw.completed) && !ack.held;
      totals.completion.textContent = done ? "已完成本课件的观看要求"
        : cw.completed ? "已达到观看要求，但本次学习记录正在人工审核，审核通过后确认完成" : "尚未完成本课件的观看要求";
      totals.completion.classList.toggle("done", done);
      root.dataset.completed = String(done);
      ui.held.hidden = !ack.held;
      renderHeldReasons(ack.held_reasons);
    }

    // The server's sentence for each kind of evidence that put the session under review (never its weight).
    function renderHeldReasons(reasons) {
      if (!ui.heldReasons || !Array.isArray(reasons)) return;
      if (ui.heldReasons.dataset.shown === reasons.join("\n")) return; // unchanged: not announced again
      ui.heldReasons.dataset.shown = reasons.join("\n");
      ui.heldReasons.replaceChildren.apply(ui.heldReasons, reasons.map(function (reason) {
        var item = document.createElement("li");
        item.textContent = reason;
        return item;
      }));
      ui.heldReasons.previousElementSibling.hidden = reasons.length === 0;
    }

    // Every interval that earned nothing, with the server's sentence; a run of the same reason is one entry.
    function addUncounted(reason, message, seconds) {
      if (!totals.list || !message) return;
      totals.empty.hidden = true;
      var last = totals.list.lastElementChild;
      if (last && last.dataset.reason === reason && reason !== "voided") {
        var count = Number(last.dataset.count) + 1;
        var lost = Number(last.dataset.seconds) + (seconds || 0);
        last.dataset.count = String(count);
        last.dataset.seconds = String(lost);
        last.querySelector("span").textContent = message + "（连续 " + count + " 段，共 " + formatDuration(lost) + "）";
        return;
      }
      var item = document.createElement("li");
      item.dataset.reason = reason;
      item.dataset.count = "1";
      item.dataset.seconds = String(seconds || 0);
      var at = document.createElement("time");
      at.textContent = new Date().toLocaleTimeString("zh-CN", { hour12: false });
      var text = document.createElement("span");
      text.textContent = message;
      item.append(at, " ", text);
      totals.list.append(item);
      while (totals.list.children.length > MAX_LIST_ITEMS) totals.list.firstElementChild.remove();
    }

    function showNotices(notices, alreadyShown) {
      (notices || []).forEach(function (notice) {
        if (notice === alreadyShown || notice === ui.heldSummary.textContent.trim()) return;
        addUncounted("voided", notice, 0);
      });
    }

    /* ------------------------------------------------------------------------------------------ the protocol */

    function clearTimer() {
      if (session.timer) clearTimeout(session.timer);
      session.timer = null;
    }

    function schedule(delayS, run) {
      clearTimer();
      session.timer = setTimeout(function () {
        session.timer = null;
        (run || sendHeartbeat)();
      }, Math.max(0, delayS) * 1000);
    }

    // One request at a time, never queued while disconnected (protocol §3.4); an acknowledgement that does not come
    // within the timeout, or that belongs to a connection since lost, is handled as lost.
    function request(event, payload, handle) {
      if (!socket.connected) {
        handle(null);
        return;
      }
      var mine = ++session.requestSeq;
      session.busy = true;
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, function (error, ack) {
        if (mine !== session.requestSeq) return;
        session.busy = false;
        handle(error ? null : ack);
      });
    }

    function stop(message) {
      session.stopped = true;
      clearTimer();
      video.pause();
      setStatus(message);
    }

    function openPlayback() {
      // A page another one took over opens again only when the learner asks ("在本页继续播放").
      if (session.stopped || session.superseded || !socket.connected) return;
      if (session.busy) {
        schedule(0.2, openPlayback);
        return;
      }
      clearTimer();
      var payload = { courseware_id: coursewareId };
      if (session.sid) payload.resume_sid = session.sid;
      var device = deviceId();
      if (device) payload.device = device;
      var traits = deviceTraits();
      if (traits) payload.device_traits = traits;
      request("open", payload, function (ack) {
        if (!ack) {
          if (socket.connected) schedule(RETRY_S, openPlayback);
          return;
        }
        if (!ack.ok) {
          openRefused(ack.error);
          return;
        }
        session.sid = ack.sid;
        session.token = ack.token;
        session.allowedRate = ack.allowed_rate;
        session.intervalS = ack.interval_s;
        session.minIntervalMs = ack.min_interval_s * 1000;
        session.lastAckAt = now();
        session.superseded = false;
        ui.takeover.hidden = true;
        renderTotals(ack);
        if (!started) {
          startMedia(ack.resume_s);
        } else if (!ack.resumed && video.currentTime > session.furthestVerified + SEEK_SLACK_S) {
          video.currentTime = ack.resume_s; // a new playback continues from the last verified position
        }
        applyRate();
        showNotices(ack.notices, null);
        setStatus(video.paused ? "计时服务已连接，按播放键（或空格键）开始学习。" : "计时中。");
        showCheck(ack.check);
        schedule(ack.next_heartbeat_s);
      });
    }

    function openRefused(error) {
      var code = error && error.code;
      if (code === "too_many_opens" || code === "unavailable") {
        setStatus(error.message);
        schedule(code === "unavailable" ? RETRY_S : 30, openPlayback);
      } else if (code === "invalid_input" && session.sid) {
        session.sid = null; // the old playback cannot be resumed: open a new one
        schedule(0, openPlayback);
      } else {
        stop((error && error.message) || "无法开始计时，请刷新页面重试。");
      }
    }

    function hints() {
      var result = { hidden: Boolean(document.hidden), rate: video.playbackRate, webdriver: Boolean(navigator.webdriver) };
      if (session.seekBlocked > 0) result.seek_blocked = Math.min(session.seekBlocked, 1000);
      if (session.rateBlocked > 0) {
        result.rate_blocked = Math.min(session.rateBlocked, 1000);
        if (isFinite(session.rateTried)) result.rate_tried = Math.min(Math.max(session.rateTried, 0), 100);
      }
      return result;
    }

    function heartbeatPayload() {
      return { sid: session.sid, token: session.token, position_s: round3(video.currentTime), playing: !video.paused,
               hints: hints() };
    }

    function sendHeartbeat() {
      if (session.stopped || session.superseded || !session.sid || !socket.connected) return;
      if (session.busy) {
        schedule(0.2);
        return;
      }
      clearTimer();
      var blocked = session.seekBlocked;
      var rateBlocked = session.rateBlocked;
      request("heartbeat", heartbeatPayload(), function (ack) {
        if (!ack) {
          // The acknowledgement (and its token) was lost: a resume gives a new token (protocol §2.2 bad_token).
          if (socket.connected) openPlayback();
          return;
        }
        if (ack.ok) {
          session.token = ack.token;
          session.lastAckAt = now();
          session.seekBlocked = Math.max(0, session.seekBlocked - blocked);
          session.rateBlocked = Math.max(0, session.rateBlocked - rateBlocked);
          heartbeatAccepted(ack);
          schedule(ack.next_heartbeat_s);
          return;
        }
        heartbeatRefused(ack.error);
      });
    }

    function heartbeatAccepted(ack) {
      renderTotals(ack);
      var interval = ack.interval || {};
      if (interval.reason) {
        addUncounted(interval.reason, interval.message, interval.seconds - interval.credited_s);
        if (interval.reason === "beyond_verified" || interval.reason === "seek_ahead") {
          // Back to where verified watching ended; from there on it counts again.
          video.currentTime = Math.min(video.currentTime, ack.courseware.furthest_verified_s);
        }
      }
      showNotices(ack.notices, interval.message);
      if (!ack.check && !check.current && !video.paused && now() >= noticeUntil) setStatus("计时中。");
      showCheck(ack.check);
    }

    function heartbeatRefused(error) {
      var code = error && error.code;
      var message = (error && error.message) || "";
      if (code === "too_soon") {
        schedule(error.retry_in_s || 0.5); // nothing changed: the same token stays valid
      } else if (code === "bad_token") {
        openPlayback();
      } else if (code === "superseded") {
        takenOver(message);
      } else if (code === "ended" || code === "no_session") {
        session.sid = null;
        setStatus(message);
        openPlayback();
      } else if (code === "unauthenticated") {
        stop(message);
      } else {
        setStatus(message || "计时服务暂时不可用，请稍后重试。");
        schedule(RETRY_S);
      }
    }

    // Another page or device of this person took over (one playback at a time, SPEC §3 invariant 2).
    function takenOver(message) {
      session.superseded = true;
      clearTimer();
      video.pause();
      closeCheck();
      ui.takeoverMessage.textContent = message || "已在其他页面/设备播放，本页停止计时";
      ui.takeover.hidden = false;
      setStatus("本页已停止计时。");
    }

    ui.continueHere.addEventListener("click", function () {
      session.superseded = false;
      ui.takeover.hidden = true;
      setStatus("正在恢复计时…");
      openPlayback();
    });

    /* ------------------------------------------------------------------------------------------ checks */

    function showCheck(next) {
      if (!dialog) return;
      if (!next) {
        if (check.current && !check.current.answering) closeCheck();
        return;
      }
      if ((check.current && check.current.id === next.id) || check.dismissed === next.id) return;
      check.current = { id: next.id, kind: next.kind, blocking: Boolean(next.blocking), answering: false,
                        sid: session.sid, deadline: now() + next.expires_in_s * 1000 };
      checkUi.prompt.textContent = next.prompt;
      checkUi.code.textContent = next.code || "";
      checkUi.code.hidden = !next.code;
      checkUi.error.textContent = "";
      checkUi.submit.disabled = false;
      checkUi.later.hidden = check.current.blocking;
      renderOptions(next.options);
      if (document.fullscreenElement) document.exitFullscreen(); // the dialog is not inside the full-screen frame
      if (check.current.blocking) {
        check.wasPlaying = !video.paused;
        local.pausedForCheck = true;
        video.pause();
      }
      if (!dialog.open) dialog.showModal();
      (Array.isArray(next.options) && next.options.length ? checkUi.options.querySelector("input") : checkUi.input)
        .focus();
      tickCountdown();
    }

    // A question from the course's bank comes with options; a displayed code is typed.
    function renderOptions(options) {
      var choices = Array.isArray(options) ? options : [];
      checkUi.options.querySelectorAll("label").forEach(function (label) { label.remove(); });
      checkUi.options.hidden = choices.length === 0;
      checkUi.field.hidden = choices.length > 0;
      checkUi.input.value = "";
      choices.forEach(function (choice, index) {
        var label = document.createElement("label");
        var input = document.createElement("input");
        input.type = "radio";
        input.name = "check-option";
        input.value = typeof choice === "object" && choice !== null ? String(choice.value) : String(choice);
        label.append(input, " ", typeof choice === "object" && choice !== null ? String(choice.label) : String(choice));
        checkUi.options.append(label);
      });
    }

    function tickCountdown() {
      if (check.countdown) clearTimeout(check.countdown);
      if (!check.current) return;
      var left = Math.ceil((check.current.deadline - now()) / 1000);
      if (left <= 0) {
        var blocking = check.current.blocking;
        closeCheck();
        setStatus(blocking ? "注意力验证已超时，上次验证以来的学习时间将不计入。" : "验证已过期，待确认的时间将在下次验证通过后计入。");
        return;
      }
      checkUi.remaining.textContent = "剩余 " + left + " 秒" + (check.current.blocking ? "，验证期间视频暂停、不计时。" : "。");
      check.countdown = setTimeout(tickCountdown, 1000);
    }

    function closeCheck() {
      if (check.countdown) clearTimeout(check.countdown);
      check.countdown = null;
      var closed = check.current;
      check.current = null;
      if (dialog && dialog.open) dialog.close();
      if (closed && closed.blocking && local.pausedForCheck) {
        local.pausedForCheck = false;
        if (check.wasPlaying && !video.ended && mayPlayNow()) togglePlay();
      }
      video.focus({ preventScroll: true });
    }

    function submitAnswer(event) {
      event.preventDefault();
      var current = check.current;
      if (!current || current.answering) return;
      var chosen = checkUi.options.hidden ? null : checkUi.options.querySelector("input:checked");
      var answer = chosen ? chosen.value : checkUi.input.value.trim();
      if (!checkUi.options.hidden && !chosen) {
        checkUi.error.textContent = "请选择一个答案。";
        checkUi.options.querySelector("input").focus();
        return;
      }
      if (!answer) {
        checkUi.error.textContent = "请输入验证码。";
        checkUi.input.focus();
        return;
      }
      if (!socket.connected) {
        checkUi.error.textContent = "网络连接中断，恢复后请再提交。";
        return;
      }
      if (session.busy) {
        setTimeout(function () { submitAnswer(event); }, 150);
        return;
      }
      current.answering = true;
      checkUi.submit.disabled = true;
      checkUi.error.textContent = "";
      request("check_answer", { sid: current.sid, check_id: current.id, answer: answer }, function (ack) {
        current.answering = false;
        checkUi.submit.disabled = false;
        if (!ack) {
          checkUi.error.textContent = "提交失败（网络问题），请再提交一次。";
          return;
        }
        if (!ack.ok) {
          if (ack.error && ack.error.code === "no_check") {
            closeCheck();
            setStatus(ack.error.message);
          } else {
            checkUi.error.textContent = (ack.error && ack.error.message) || "提交失败，请重试。";
          }
          return;
        }
        renderTotals(ack);
        if (ack.result !== "passed") addUncounted("voided", ack.message, ack.voided_s || 0);
        closeCheck();
        setStatus(ack.message);
      });
    }

    if (dialog) {
      checkUi.form.addEventListener("submit", submitAnswer);
      var putOff = function () {
        check.dismissed = check.current && check.current.id;
        closeCheck();
      };
      checkUi.later.addEventListener("click", putOff);
      // Escape may put off a check that does not block playing; a blocking one has to be answered.
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        if (check.current && !check.current.blocking) putOff();
      });
    }

    /* ------------------------------------------------------------------------------------------ connection */

    if (!global.io) {
      setStatus("计时组件加载失败，请刷新页面。");
      return null;
    }
    // WebSocket first: one connection that any web process can take, so a reconnect needs no stickiness.
    // Long-polling only where a WebSocket cannot be opened (a proxy that strips Upgrade); it needs the
    // load balancer's affinity cookie (deploy/nginx.conf).
    socket = global.io(NAMESPACE, {
      transports: ["websocket", "polling"], tryAllTransports: true, reconnectionDelayMax: 5000,
    });

    socket.on("connect", function () {
      setStatus(session.sid ? "网络已恢复，正在继续计时…" : "正在开始计时…");
      openPlayback();
    });

    socket.on("disconnect", function (reason) {
      clearTimer();
      session.requestSeq += 1; // acknowledgements of the lost connection will not come
      session.busy = false;
      if (check.current && check.current.answering) {
        check.current.answering = false;
        checkUi.submit.disabled = false;
        checkUi.error.textContent = "网络连接中断，恢复后请再提交。";
      }
      if (!session.stopped) setStatus("网络连接中断，正在重新连接…（中断期间视频可继续缓冲播放，短暂中断不影响计时）");
      if (reason === "io server disconnect") socket.connect();
    });

    socket.on("connect_error", function (error) {
      if (error && error.message === "unauthorized") {
        socket.disconnect();
        stop("登录状态已失效或账号无权学习，请刷新页面后重新登录。");
      } else if (!session.stopped) {
        setStatus("暂时连不上计时服务，正在重试…");
      }
    });

    // Leaving: a last heartbeat (when the server would accept one) and close; best effort, the page is going away.
    global.addEventListener("pagehide", function (event) {
      if (!session.sid || session.stopped || session.superseded || !socket.connected) return;
      clearTimer();
      if (!session.busy && now() - session.lastAckAt >= session.minIntervalMs) {
        socket.emit("heartbeat", heartbeatPayload());
      }
      socket.emit("close", { sid: session.sid });
      if (!event.persisted) session.stopped = true;
    });

    global.addEventListener("pageshow", function (event) {
      if (event.persisted && session.sid) openPlayback(); // back from the page cache: the playback was closed
    });

    return { video: video, socket: socket };
  }

  global.LmsPlayer = { attach: attach, formatDuration: formatDuration };
})(window);
