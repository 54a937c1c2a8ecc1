#!/usr/bin/env bash
# 运行测试：准备 .venv、ffmpeg、中文字体、chromium、PostgreSQL 与 Redis，然后 pytest（参数原样传给 pytest）。
# 用法: bash scripts/test.sh [pytest 参数…]      例: bash scripts/test.sh tests/test_auth.py -k login
# 默认两个 pytest-xdist 进程并行；LMS_TEST_WORKERS=0 时单进程（便于 -x、-s、调试）。
# 路径参数相对于仓库根目录。SeaweedFS (weed) 由测试自己启动。
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/bootstrap.sh --system --services --browser

export PATH="$ROOT/.venv/bin:$PATH"   # 让测试找到 .venv/bin/weed
# 两个进程：测试大量时间在等浏览器、服务进程和 ffmpeg，两核上两个进程能互相填满空闲。
# 同一文件的测试留在同一进程（--dist loadfile），模块级夹具（如防作弊测试的服务进程）只启动一次。
workers=${LMS_TEST_WORKERS:-2}
if [ "$workers" = 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
