FROM python:3.11-slim
# Production unless told otherwise: DEBUG off, and settings refuse to start without SECRET_KEY.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var DEBUG=false
WORKDIR /app
# Dependencies first, exactly as locked (hashes checked): this layer is rebuilt only when
# requirements.lock changes, not at every change of the code.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps .
# With DEBUG off, as served: hashed, compressed files and their manifest.
RUN DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput
# The processes run as an unprivileged user, who may write only under var/.
RUN useradd --system --uid 10001 --no-create-home --home-dir /app app && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "digest.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--logger-class", "digest.log_redaction.RedactingGunicornLogger"]
