/*
 * LmsUploader: resumable multipart upload of a courseware video, straight from the browser to storage.
 *
 *   <meta name="csrf-token" content="{{ csrf_token() }}">
 *   <form data-courseware-id="12">
 *     <input type="file" accept="video/*"> <button type="submit">上传</button>
 *     <button type="button" data-action="cancel" hidden>取消上传</button>
 *     <progress value="0" max="1"></progress> <p data-upload-status></p>
 *   </form>
 *   <script src="/static/uploader.js"></script>
 *   <script>LmsUploader.attach(document.querySelector("form[data-courseware-id]"));</script>
 *
 * The file is cut into the parts the server asks for; two go at a time, each PUT to the URL the server
 * gives for it (a presigned object-storage URL, or the application itself). A failed part is retried with
 * growing pauses; after a dropped connection or a page reload, choosing the same file again asks the
 * server which parts it already has and sends only the others. No dependencies.
 */
(function (global) {
  "use strict";

  var API = "/api/v1/uploads";
  var PARALLEL_PARTS = 2;
  var MAX_ATTEMPTS = 8;
  var BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  var STALL_MS = 60000; // a part with no progress for this long is abandoned and sent again
  var RESUME_PREFIX = "lms-upload:";

  function UploadError(message, options) {
    this.name = "UploadError";
    this.message = message;
    this.status = (options && options.status) || 0;
    this.retry = Boolean(options && options.retry);
    this.fields = (options && options.fields) || {};
  }
  UploadError.prototype = Object.create(Error.prototype);

  function retryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function formatBytes(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  function resumeKey(coursewareId, file) {
    return RESUME_PREFIX + [coursewareId, file.name, file.size, file.lastModified].join(":");
  }

  function readResume(key) {
    try {
      var saved = JSON.parse(global.localStorage.getItem(key) || "null");
      return saved && typeof saved.assetId === "number" ? saved : null;
    } catch (ignored) {
      return null; // storage disabled or a value we did not write
    }
  }

  function writeResume(key, assetId) {
    try {
      global.localStorage.setItem(key, JSON.stringify({ assetId: assetId, savedAt: Date.now() }));
    } catch (ignored) {
      // Private mode or a full quota: the upload works, it just cannot resume after a reload.
    }
  }

  function forgetResume(key) {
    try {
      global.localStorage.removeItem(key);
    } catch (ignored) {
      // nothing to forget
    }
  }

  function Uploader(form) {
    this.form = form;
    this.coursewareId = Number(form.getAttribute("data-courseware-id"));
    this.input = form.querySelector('input[type="file"]');
    this.progress = form.querySelector("progress");
    this.statusLine = form.querySelector("[data-upload-status]") || form.querySelector("p");
    this.submitButton = form.querySelector('button[type="submit"], input[type="submit"]');
    this.cancelButton = form.querySelector('[data-action="cancel"]');
    var meta = document.querySelector('meta[name="csrf-token"]');
    this.csrfToken = meta ? meta.getAttribute("content") : "";
    this.busy = false;
    this.requests = new Set();
    this.warnOnLeave = function (event) {
      event.preventDefault();
      event.returnValue = "";
    };
    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.start();
    });
    if (this.cancelButton) {
      this.cancelButton.addEventListener("click", function () { self.cancel(); });
    }
  }

  Uploader.prototype.start = function () {
    var self = this;
    if (this.busy) {
      return Promise.resolve();
    }
    var file = this.input && this.input.files && this.input.files[0];
    if (!file) {
      this.say("请先选择要上传的视频文件。", "error");
      return Promise.resolve();
    }
    if (!this.coursewareId) {
      this.say("页面缺少课件编号，无法上传。", "error");
      return Promise.resolve();
    }
    this.setBusy(true);
    return this.upload(file).catch(function (error) {
      if (!self.cancelled) {
        self.say((error && error.message) || "上传失败，请稍后重试。", "error");
      }
    }).then(function () {
      self.setBusy(false);
    });
  };

  Uploader.prototype.upload = async function (file) {
    this.file = file;
    this.cancelled = false;
    this.failed = false;
    this.key = resumeKey(this.coursewareId, file);
    var state = await this.resume(file);
    if (!state) {
      state = await this.begin(file);
    }
    this.state = state;
    if (state.status !== "uploading") {
      this.finish();
      return;
    }
    for (var round = 0; round < 3; round += 1) {
      this.countStored(state.parts);
      await this.sendParts(this.missingParts(state.parts));
      var outcome = await this.complete();
      if (outcome.done) {
        this.finish();
        return;
      }
      state = outcome.state; // the server still misses parts: send those and try again
    }
    throw new UploadError("部分分片多次上传失败，请稍后重新选择该文件继续上传。");
  };

  Uploader.prototype.resume = async function (file) {
    var saved = readResume(this.key);
    if (!saved) {
      return null;
    }
    var state;
    try {
      state = await this.api("GET", API + "/" + saved.assetId);
    } catch (error) {
      if (error.retry) {
        throw error; // the server is unreachable: keep the saved upload for the next try
      }
      forgetResume(this.key); // cancelled, expired or not ours any more: start afresh
      return null;
    }
    if (state.size !== file.size) {
      forgetResume(this.key);
      return null;
    }
    if (state.status === "uploading") {
      this.say("检测到未完成的上传，从断点继续（已上传 " + formatBytes(state.received_bytes) + "）…");
    }
    return state;
  };

  Uploader.prototype.begin = async function (file) {
    this.say("正在准备上传…");
    var started = await this.api("POST", API, {
      courseware_id: this.coursewareId,
      filename: file.name,
      size: file.size,
      content_type: file.type || "",
    });
    writeResume(this.key, started.asset_id);
    return {
      asset_id: started.asset_id,
      status: started.status,
      size: file.size,
      part_size: started.part_size,
      part_count: started.part_count,
      parts: [],
    };
  };

  Uploader.prototype.partLength = function (number) {
    var start = (number - 1) * this.state.part_size;
    return Math.min(this.state.part_size, this.file.size - start);
  };

  Uploader.prototype.missingParts = function (stored) {
    var have = new Set(stored);
    var missing = [];
    for (var number = 1; number <= this.state.part_count; number += 1) {
      if (!have.has(number)) {
        missing.push(number);
      }
    }
    return missing;
  };

  Uploader.prototype.countStored = function (stored) {
    var self = this;
    this.storedBytes = stored.reduce(function (sum, number) { return sum + self.partLength(number); }, 0);
    this.inFlight = new Map();
    this.render();
  };

  Uploader.prototype.sendParts = function (numbers) {
    var self = this;
    var queue = numbers.slice();
    function worker() {
      if (!queue.length || self.failed || self.cancelled) {
        return Promise.resolve();
      }
      var number = queue.shift();
      return self.sendPart(number).then(worker, function (error) {
        self.failed = true; // the other worker stops after its current part
        throw error;
      });
    }
    var workers = [];
    for (var i = 0; i < Math.min(PARALLEL_PARTS, queue.length); i += 1) {
      workers.push(worker());
    }
    return Promise.all(workers);
  };

  Uploader.prototype.sendPart = async function (number) {
    for (var attempt = 1; ; attempt += 1) {
      try {
        var target = await this.api("GET", API + "/" + this.state.asset_id + "/parts/" + number);
        await this.put(number, target);
        this.inFlight.delete(number);
        this.storedBytes += this.partLength(number);
        this.render();
        return;
      } catch (error) {
        this.inFlight.delete(number);
        this.render();
        if (this.cancelled || !error.retry || attempt >= MAX_ATTEMPTS) {
          throw error;
        }
        var pause = BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)] * (0.75 + Math.random() / 2);
        this.say("第 " + number + " 个分片上传中断，" + Math.ceil(pause / 1000) + " 秒后重试（第 " + attempt + " 次）…");
        await this.waitForNetwork();
        await sleep(pause);
      }
    }
  };

  Uploader.prototype.put = function (number, target) {
    var self = this;
    var start = (number - 1) * this.state.part_size;
    var body = this.file.slice(start, start + target.size);
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var stallTimer = null;
      function watchStall() {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(function () { xhr.abort(); }, STALL_MS);
      }
      function settle() {
        clearTimeout(stallTimer);
        self.requests.delete(xhr);
      }
      xhr.open(target.method || "PUT", target.url);
      if (target.same_origin) {
        // Only the application gets the CSRF token; the storage server must never see it.
        xhr.setRequestHeader("X-CSRFToken", self.csrfToken);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
      }
      xhr.upload.onprogress = function (event) {
        self.inFlight.set(number, event.loaded);
        self.render();
        watchStall();
      };
      xhr.onload = function () {
        settle();
        if (target.same_origin) {
          self.takeToken(xhr.getResponseHeader("X-CSRFToken"));
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve();
          return;
        }
        reject(self.partError(xhr, target));
      };
      xhr.onerror = function () {
        settle();
        reject(new UploadError("网络连接中断。", { retry: true }));
      };
      xhr.onabort = function () {
        settle();
        reject(new UploadError(self.cancelled ? "已取消上传。" : "上传长时间没有进展，正在重试。",
          { retry: !self.cancelled }));
      };
      self.requests.add(xhr);
      watchStall();
      xhr.send(body);
    });
  };

  Uploader.prototype.partError = function (xhr, target) {
    if (target.same_origin) {
      return this.errorFrom(xhr.status, xhr.responseText);
    }
    // The storage server refuses an expired URL with 403; the next attempt asks for a fresh one.
    if (xhr.status === 403) {
      return new UploadError("上传地址已过期，正在重新获取。", { retry: true, status: 403 });
    }
    if (xhr.status === 404) {
      return new UploadError("这次上传已失效，请重新选择文件上传。", { status: 404 });
    }
    return new UploadError("对象存储拒绝了分片（HTTP " + xhr.status + "）。",
      { retry: retryable(xhr.status), status: xhr.status });
  };

  Uploader.prototype.complete = async function () {
    this.say("正在合并分片…");
    try {
      await this.api("POST", API + "/" + this.state.asset_id + "/complete");
      return { done: true };
    } catch (error) {
      if (error.status !== 409) {
        throw error;
      }
      var state = await this.api("GET", API + "/" + this.state.asset_id);
      if (state.status !== "uploading") {
        return { done: true }; // completed earlier, from this page or another one
      }
      if (this.missingParts(state.parts).length === 0) {
        throw error;
      }
      return { done: false, state: state };
    }
  };

  Uploader.prototype.finish = function () {
    forgetResume(this.key);
    this.storedBytes = this.file.size;
    this.inFlight = new Map();
    this.render();
    this.say("上传完成，正在排队转码…", "done");
    this.form.dispatchEvent(new CustomEvent("lms-upload-complete", {
      bubbles: true,
      detail: { assetId: this.state.asset_id, coursewareId: this.coursewareId },
    }));
  };

  Uploader.prototype.cancel = async function () {
    if (!this.busy || !this.state) {
      return;
    }
    this.cancelled = true;
    this.requests.forEach(function (xhr) { xhr.abort(); });
    try {
      await this.api("DELETE", API + "/" + this.state.asset_id);
    } catch (error) {
      this.say(error.message, "error");
      return;
    }
    forgetResume(this.key);
    this.storedBytes = 0;
    this.inFlight = new Map();
    this.render();
    this.say("已取消上传。");
  };

  Uploader.prototype.waitForNetwork = function () {
    if (global.navigator.onLine !== false) {
      return Promise.resolve();
    }
    this.say("网络已断开，恢复连接后将自动继续上传…");
    return new Promise(function (resolve) {
      global.addEventListener("online", function () { resolve(); }, { once: true });
    });
  };

  Uploader.prototype.api = async function (method, url, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": this.csrfToken };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    var response;
    try {
      response = await fetch(url, {
        method: method,
        headers: headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (networkError) {
      throw new UploadError("网络连接中断，请检查网络。", { retry: true });
    }
    this.takeToken(response.headers.get("X-CSRFToken"));
    if (response.status === 204) {
      return null;
    }
    var text = await response.text();
    if (!response.ok) {
      throw this.errorFrom(response.status, text);
    }
    return JSON.parse(text);
  };

  Uploader.prototype.errorFrom = function (status, text) {
    var error = null;
    try {
      error = JSON.parse(text).error;
    } catch (ignored) {
      error = null; // a proxy's HTML error page, or nothing at all
    }
    var message = (error && error.message) || (status === 0 ? "网络连接中断。" : "服务器暂时无法处理（HTTP " + status + "）。");
    if (status === 401) {
      message = "登录已过期，请重新登录后再次选择该文件，上传会从断点继续。";
    }
    return new UploadError(message, { status: status, retry: retryable(status), fields: error && error.fields });
  };

  Uploader.prototype.takeToken = function (token) {
    if (token) {
      this.csrfToken = token; // the server sends a fresh one so that an hours-long upload keeps working
    }
  };

  Uploader.prototype.render = function () {
    if (!this.progress || !this.file) {
      return;
    }
    var sent = this.storedBytes || 0;
    this.inFlight.forEach(function (loaded) { sent += loaded; });
    sent = Math.min(sent, this.file.size);
    this.progress.max = this.file.size || 1;
    this.progress.value = sent;
    var percent = this.file.size ? Math.floor((sent / this.file.size) * 100) : 100;
    if (this.busy && this.state && this.state.status === "uploading") {
      this.say("已上传 " + formatBytes(sent) + " / " + formatBytes(this.file.size) + "（" + percent + "%）");
    }
  };

  Uploader.prototype.say = function (message, kind) {
    if (!this.statusLine) {
      return;
    }
    this.statusLine.textContent = message;
    this.statusLine.setAttribute("data-state", kind || "info");
  };

  Uploader.prototype.setBusy = function (busy) {
    this.busy = busy;
    if (this.submitButton) {
      this.submitButton.disabled = busy;
    }
    if (this.input) {
      this.input.disabled = busy;
    }
    if (this.cancelButton) {
      this.cancelButton.hidden = !busy;
    }
    if (busy && this.progress) {
      this.progress.hidden = false; // pages may keep the bar hidden until there is something to show
    }
    if (busy) {
      global.addEventListener("beforeunload", this.warnOnLeave);
    } else {
      global.removeEventListener("beforeunload", this.warnOnLeave);
    }
  };

  global.LmsUploader = {
    attach: function (form) {
      if (!form) {
        throw new Error("LmsUploader.attach 需要一个 <form> 元素");
      }
      if (!form.lmsUploader) {
        form.lmsUploader = new Uploader(form);
      }
      return form.lmsUploader;
    },
  };
})(window);
