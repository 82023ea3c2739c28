FROM python:3.11-slim
# Production unless told otherwise: DEBUG off, and settings refuse to start without SECRET_KEY.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var DEBUG=false
WORKDIR /app
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY subscriptions ./subscriptions
RUN pip install --no-cache-dir .
COPY . .
# With DEBUG off, as served: hashed, compressed files and their manifest.
RUN DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "digest.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--logger-class", "digest.log_redaction.RedactingGunicornLogger"]
