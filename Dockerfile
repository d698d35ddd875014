# Image for the poller, scorer and trainer. CPU by default; build with
#   --build-arg PADDLE_GPU_INDEX=https://www.paddlepaddle.org.cn/packages/stable/cu126/
# to swap in paddlepaddle-gpu from Paddle's own index (the GPU 3.x wheels are not on PyPI).
FROM python:3.11-slim
ARG PADDLE_GPU_INDEX=""
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 LOVELORN_HOME=/data PPNLP_HOME=/data/ppnlp
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY monitor monitor
COPY trainer trainer
RUN pip install -c constraints.txt . \
 && if [ -n "$PADDLE_GPU_INDEX" ]; then \
      pip uninstall -y paddlepaddle && pip install "paddlepaddle-gpu==3.3.1" -i "$PADDLE_GPU_INDEX"; \
    fi
RUN useradd --create-home --uid 10001 lovelorn && mkdir -p /data && chown lovelorn /data
USER lovelorn
VOLUME ["/data"]
ENTRYPOINT ["lovelorn"]
CMD ["--help"]
