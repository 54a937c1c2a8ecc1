#!/usr/bin/env bash
# 一条命令启动演示：全新 Debian（Python 3.11 + pip，root）→ 带演示数据的嵌入式服务器。
# 可重复运行。用法: bash scripts/demo.sh      （换端口: PORT=5001 bash scripts/demo.sh）
# 嵌入式默认: SQLite + 本地文件夹存储 + 进程内 Redis 兼容存储 + 线程跑媒体任务，数据在 ./instance。
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-5000}

bash scripts/bootstrap.sh --system

export PATH="$ROOT/.venv/bin:$PATH"
export LMS_DATA_DIR="${LMS_DATA_DIR:-$ROOT/instance}"
# 演示服务器只在 127.0.0.1 上以明文 http 提供服务：Secure cookie 在这里无法登录，所以固定为 false。
export LMS_COOKIE_SECURE=false

if ! python -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$PORT" 2>/dev/null; then
  echo "[demo] 错误: 127.0.0.1:$PORT 已被占用（可能上一次的演示服务器还在运行）。" >&2
  echo "[demo] 停掉它，或换个端口: PORT=5001 bash scripts/demo.sh" >&2
  exit 1
fi

echo "[demo] 数据目录: $LMS_DATA_DIR"
echo "[demo] 数据库迁移 …"
python -m flask --app lms db upgrade
echo "[demo] 演示数据 …"
python -m flask --app lms demo-data --url "http://127.0.0.1:$PORT/"
echo
echo "[demo] 服务器地址: http://127.0.0.1:$PORT/   （Ctrl+C 停止；再次运行本脚本即可重启，数据保留）"
exec python -m flask --app lms run --host 127.0.0.1 --port "$PORT"
