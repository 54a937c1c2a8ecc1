# Production image of lms: one image for the web processes, the media worker and migrations.
# Build from the repository root: docker compose build   (or: docker build -t lms .)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg (with ffprobe) for the media jobs; a TrueType CJK font for certificate PDFs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so code changes don't reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin lms \
    && install -d -o lms -g lms -m 0750 /var/lib/lms

# Only the application packages (lms/ includes its migrations): no .venv, instance/ or .git.
COPY lms ./lms
COPY media_worker ./media_worker

ENV LMS_DATA_DIR=/var/lib/lms \
    LMS_ASYNC_MODE=gevent

USER lms
EXPOSE 8000

CMD ["gunicorn", "-c", "python:lms.core.gunicorn_config", "-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker", "-w", "1", "--no-control-socket", "--worker-connections", "10000", "-b", "0.0.0.0:8000", "lms:create_app()"]
