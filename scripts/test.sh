#!/usr/bin/env bash
# 运行测试：准备 .venv、ffmpeg、中文字体、chromium、PostgreSQL 与 Redis，然后 pytest（参数原样传给 pytest）。
# 用法: bash scripts/test.sh [pytest 参数…]      例: bash scripts/test.sh tests/test_auth.py -k login
# 路径参数相对于仓库根目录。SeaweedFS (weed) 由测试自己启动。
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/bootstrap.sh --system --services --browser

export PATH="$ROOT/.venv/bin:$PATH"   # 让测试找到 .venv/bin/weed
exec .venv/bin/python -m pytest "$@"
