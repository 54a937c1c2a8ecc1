#!/usr/bin/env bash
# 准备本机环境；可重复运行，已就绪的部分直接跳过。
#
# 用法: bash scripts/bootstrap.sh [--system] [--services] [--browser]
#   (无选项)    建 .venv；requirements.txt 变化后才重新 pip install
#   --system    安装缺少的 Debian 包：ffmpeg、证书 PDF 用的中文字体 fonts-wqy-zenhei
#               （系统 Python 缺 venv 时还有 python3-venv）
#   --services  确保 PostgreSQL (127.0.0.1:5432，postgres 用户 trust) 和 Redis (127.0.0.1:6379)
#               可以连接：连不上时安装（如缺）并启动
#   --browser   安装 Debian 的 chromium（浏览器测试用）
# 环境变量: PYTHON=解释器（默认 python3，需 3.11+）
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}

want_system=0 want_services=0 want_browser=0
for arg in "$@"; do
  case $arg in
    --system) want_system=1 ;;
    --services) want_services=1 ;;
    --browser) want_browser=1 ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "[bootstrap] 未知选项: $arg（可用: --system --services --browser）" >&2; exit 64 ;;
  esac
done

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] 错误: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# 同一份检出同时只跑一个 bootstrap（demo 和测试同时启动时不会一起 pip install / apt-get）。
# 锁在 fd 9 上：凡是可能留下常驻进程的命令（apt 的 postinst、pg_ctlcluster、redis-server）都以 9>&- 运行，
# 否则后台服务继承这个 fd，锁就永远不会释放。
TAG="${TMPDIR:-/tmp}/lms-bootstrap.$(id -u).$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
exec 9>"$TAG.lock"
flock -w 900 9 || die "等待另一个 bootstrap 超过 15 分钟"
LOG="$TAG.log"   # apt-get / pip 的完整输出（每次运行覆盖）
: >"$LOG"

# ---------- 可达性检查 ----------
tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
pg_up() {
  if command -v pg_isready >/dev/null; then pg_isready -q -h 127.0.0.1 -p 5432 -t 3; else tcp_open 5432; fi
}
redis_up() {
  if command -v redis-cli >/dev/null; then
    [ "$(timeout 5 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
  else
    tcp_open 6379
  fi
}
pg_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
wait_for() { # wait_for 秒数 命令...
  local n=$(($1 * 5)); shift
  while ! "$@"; do
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.2
  done
}

# ---------- 1. Debian 包 ----------
pkgs=()
if ((want_system)); then
  { command -v ffmpeg && command -v ffprobe; } >/dev/null || pkgs+=(ffmpeg)
  # 证书 PDF 要嵌入中文字体；ReportLab 只能嵌入 TrueType 轮廓，Noto CJK 是 CFF，所以用文泉驿正黑。
  [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || pkgs+=(fonts-wqy-zenhei)
  # nginx: the tests start one as the media edge (secure_link + proxy_cache) in front of the app.
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || pkgs+=(nginx)
  if [ ! -x "$VENV/bin/python" ] && command -v "$PY" >/dev/null && ! "$PY" -c 'import ensurepip, venv' 2>/dev/null \
    && [ "$(command -v "$PY")" = /usr/bin/python3 ]; then
    pkgs+=(python3-venv)
  fi
fi
pg_was_up=1 redis_was_up=1
if ((want_services)); then
  if ! pg_up; then
    pg_was_up=0
    pg_installed || pkgs+=(postgresql)
  fi
  if ! redis_up; then
    redis_was_up=0
    command -v redis-server >/dev/null || pkgs+=(redis-server)
  fi
  # PgBouncer: the tests start their own (transaction pooling) in front of the test PostgreSQL.
  [ -x /usr/sbin/pgbouncer ] || pkgs+=(pgbouncer)
fi
if ((want_browser)); then
  command -v chromium >/dev/null || pkgs+=(chromium)
fi

if ((${#pkgs[@]})); then
  if ! is_root; then
    die "缺少 Debian 包: ${pkgs[*]}。请以 root 重新运行本脚本，或先执行:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
  fi
  say "安装 Debian 包: ${pkgs[*]} …（日志: $LOG）"
  export DEBIAN_FRONTEND=noninteractive
  apt_get() { apt-get -q -o DPkg::Lock::Timeout=300 "$@" >>"$LOG" 2>&1 9>&- || { tail -n 25 "$LOG" >&2; die "apt-get $1 失败（完整日志: $LOG）"; }; }
  apt_get update
  apt_get install -y --no-install-recommends "${pkgs[@]}"
  # Debian starts the packaged nginx on port 80; the tests run their own on free ports.
  if [[ " ${pkgs[*]} " == *" nginx "* ]]; then nginx -s stop >/dev/null 2>&1 9>&- || true; fi
  say "Debian 包已安装"
else
  have=""
  if ((want_system)); then have+=" ffmpeg fonts-wqy-zenhei"; fi
  if ((want_browser)); then have+=" chromium"; fi
  if [ -n "$have" ]; then say "Debian 包齐全:$have"; fi
fi

# ---------- 2. 服务 ----------
if ((want_services)); then
  # PostgreSQL
  if ! pg_up; then
    is_root || die "PostgreSQL 未在 127.0.0.1:5432 运行。请以 root 执行:
  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    if [ -z "$ver" ] || [ ! -f "/etc/postgresql/$ver/main/postgresql.conf" ]; then
      ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
      say "创建 PostgreSQL $ver 集群 main"
      pg_createcluster "$ver" main >>"$LOG" 2>&1 9>&- || die "pg_createcluster 失败（日志: $LOG）"
    fi
    say "启动 PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >>"$LOG" 2>&1 9>&- || true
    wait_for 30 pg_up || die "PostgreSQL 30 秒内没有在 127.0.0.1:5432 就绪（日志: $LOG，/var/log/postgresql/）"
  elif ((!pg_was_up)); then
    say "PostgreSQL 已随安装启动"
  else
    say "PostgreSQL 已在运行 (127.0.0.1:5432)"
  fi
  # 测试以 postgres 用户经 TCP 免密连接；全新安装默认要密码，只在连不上时改 pg_hba.conf。
  pg_login() { PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -Atqc 'select 1' >/dev/null 2>&1; }
  if command -v psql >/dev/null && ! pg_login; then
    is_root || die "postgres 用户无法经 127.0.0.1 免密登录。请在 pg_hba.conf 最前面加一行:
  host all all 127.0.0.1/32 trust
然后重新加载 PostgreSQL。"
    hba=$(runuser -u postgres -- psql -Atqc 'show hba_file' 2>>"$LOG") || die "无法读取 hba_file（日志: $LOG）"
    say "在 $hba 中加入 127.0.0.1 trust 规则"
    sed -i '1i # added by lms scripts/bootstrap.sh: local TCP connections without password (test machine)\nhost all all 127.0.0.1/32 trust' "$hba"
    runuser -u postgres -- psql -Atqc 'select pg_reload_conf()' >>"$LOG" 2>&1
    wait_for 10 pg_login || die "修改 $hba 后仍无法以 postgres 用户连接 127.0.0.1:5432"
  fi

  # Redis
  if ! redis_up; then
    is_root || command -v redis-server >/dev/null || die "Redis 未运行且未安装（需要 root 安装 redis-server）"
    say "启动 Redis (127.0.0.1:6379，不落盘)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >>"$LOG" 2>&1 9>&- || true
    wait_for 10 redis_up || die "Redis 10 秒内没有在 127.0.0.1:6379 就绪（日志: $LOG）"
  elif ((!redis_was_up)); then
    say "Redis 已随安装启动"
  else
    say "Redis 已在运行 (127.0.0.1:6379)"
  fi
fi

# ---------- 3. Python 虚拟环境 ----------
venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
if ! venv_ok; then
  command -v "$PY" >/dev/null || die "找不到 $PY：需要 Python 3.11 或更新版本（可用 PYTHON=/path/to/python3.11 指定）"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PY" --version 2>&1) 太旧：需要 Python 3.11 或更新版本（可用 PYTHON=... 指定）"
  if [ -e "$VENV" ]; then say ".venv 不可用，重建"; rm -rf "$VENV"; fi
  say "创建 .venv（$("$PY" --version 2>&1)）"
  "$PY" -m venv "$VENV" || die "$PY -m venv 失败：Debian 系统 Python 需要 python3-venv 包（用 --system 以 root 运行可自动安装）"
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "安装 Python 依赖（requirements.txt 有变化）…"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -r requirements.txt >>"$LOG" 2>&1 9>&-; then
    tail -n 40 "$LOG" >&2
    die "pip install -r requirements.txt 失败（完整日志: $LOG）"
  fi
  echo "$want" >"$stamp"
  say "Python 依赖已安装"
else
  say "Python 依赖已是最新（requirements.txt 未变）"
fi
