# The gateway's image: one image, any of the Procfile's processes.
#   docker run --env-file ijwi.env IMAGE release   # migrations, once per deploy
#   docker run --env-file ijwi.env -p 5000:5000 IMAGE web
#   docker run --env-file ijwi.env IMAGE worker
# The entrypoint runs the Procfile's line of that name, so the image and the Procfile cannot drift.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=5000

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --no-create-home --home-dir /app ijwi && chmod 0755 docker-entrypoint.sh
USER ijwi

EXPOSE 5000
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["web"]
